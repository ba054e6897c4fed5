//! `bulkhead plan`: what apply would do, as diffs or JSON; writes nothing.

use crate::cli::{Format, GlobalArgs, PlanArgs};
use crate::error::{Error, ExitStatus};

pub fn run(global: &GlobalArgs, args: &PlanArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let plan = loaded.plan(&loaded.out_dir(global))?;
    let mut stdout = anstream::stdout().lock();
    let printed = match args.format {
        Format::Text => crate::plan::print_text(&plan, &mut stdout, !global.quiet, global.verbose),
        Format::Json => crate::plan::print_json(&plan, &mut stdout),
    };
    printed.map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
    // A file holding conflict markers (or one apply would write with them) is never a
    // success: not for a person reading the plan, not for `--check` in CI.
    let conflicts = plan.conflict_report(false);
    for line in &conflicts {
        anstream::eprintln!("{line}");
    }
    Ok(if !conflicts.is_empty() {
        ExitStatus::Conflicts
    } else if args.check && plan.has_drift() {
        ExitStatus::Drift
    } else {
        ExitStatus::Success
    })
}
