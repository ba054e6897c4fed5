//! `bulkhead plan`: what apply would do, for a person (paged on a terminal) or as JSON;
//! writes nothing.

use crate::cli::{Format, Options, PlanArgs, ShowPlanArgs};
use crate::error::{Error, ExitStatus};
use crate::plan::{Detail, Plan};

pub fn run(global: &Options, args: &PlanArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let plan = loaded.plan(&loaded.out_dir(), |renderer, files| {
        loaded.service_scope(renderer, files, &args.services)
    })?;
    match args.format {
        Format::Text => show(&plan, global, &args.show)?,
        Format::Json => {
            let mut json = Vec::new();
            crate::plan::print_json(&plan, &mut json)
                .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
            super::write_stdout(&json)?;
        }
    }
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

/// Shows `plan` as text, the way plan and apply both do: through the pager on a
/// terminal unless `--no-pager` or `-q`; `-q` lists the files only, `--diff` adds the
/// contents of new files. Returns when the reader has quit the pager.
pub(super) fn show(plan: &Plan, global: &Options, args: &ShowPlanArgs) -> Result<(), Error> {
    let detail = if global.quiet {
        Detail::Quiet
    } else if args.diff {
        Detail::Everything
    } else {
        Detail::Changes
    };
    let mut text = crate::pager::buffer();
    crate::plan::print_text(plan, &mut text, detail, global.verbose)
        .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
    let text = text.into_inner();
    let page = !args.no_pager && !global.quiet;
    if page && crate::pager::show(&text) {
        return Ok(());
    }
    super::write_stdout(&text)
}
