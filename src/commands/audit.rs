//! `bulkhead audit`: the operations checklist evaluated on service.toml and the files on
//! disk in the output folder; exit 1 when an item fails. It composes: the blueprints say
//! where the files are (the same render `plan` does, kept in memory), `crate::audit` reads
//! and judges them.

use crate::audit::Layout;
use crate::cli::{AuditArgs, Format, Options};
use crate::error::{Error, ExitStatus};

pub fn run(global: &Options, args: &AuditArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    // One load of the blueprints: the render and the layout read the same ones.
    let renderer = loaded.renderer()?;
    let files = renderer.render(&loaded.model)?;
    let layout = Layout::new(&loaded.model, renderer.blueprints(), &files);
    let spec = super::display_path(&loaded.path);
    let report = crate::audit::audit(
        &loaded.model,
        &spec,
        &loaded.out_dir(),
        &layout,
        args.helm.as_deref(),
    )?;
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
