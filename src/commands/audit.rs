//! `bulkhead audit`: the operations checklist evaluated on service.toml and the files on
//! disk in the output folder; exit 1 when an item fails.

use crate::cli::{AuditArgs, Format, GlobalArgs};
use crate::error::{Error, ExitStatus};

pub fn run(global: &GlobalArgs, args: &AuditArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let spec = super::display_path(&loaded.path);
    let report = crate::audit::audit(&loaded.model, &spec, &loaded.out_dir(global))?;
    let mut stdout = anstream::stdout().lock();
    let printed = match args.format {
        Format::Text => crate::audit::print_text(&report, &mut stdout, global.quiet),
        Format::Json => crate::audit::print_json(&report, &mut stdout),
    };
    match printed {
        // `bulkhead audit | head`: the reader has seen enough.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?,
    }
    Ok(if report.failed() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
