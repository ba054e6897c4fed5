//! `bulkhead apply`: the plan, shown (paged on a terminal); a confirmation; then the writes.

use std::io::IsTerminal;

use crate::cli::{ApplyArgs, Options, ShowPlanArgs};
use crate::error::{Error, ExitStatus};
use crate::plan::Plan;

pub fn run(global: &Options, args: &ApplyArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let plan = loaded.plan(&loaded.out_dir(), |renderer, files| {
        loaded.service_scope(renderer, files, &args.services)
    })?;
    show_and_write(
        global,
        &plan,
        &args.show,
        args.yes,
        "Write these changes to",
    )
}

/// Shows the plan, asks `question` (followed by the output folder) unless `yes`, then
/// writes it; the exit status tells whether conflicts are left.
pub fn show_and_write(
    global: &Options,
    plan: &Plan,
    show: &ShowPlanArgs,
    yes: bool,
    question: &str,
) -> Result<ExitStatus, Error> {
    // On a terminal the plan goes through the pager and the question comes after the
    // reader quits it: a long plan can be read at one's own pace, from its summary on,
    // and the answer is given with the plan just read, instead of after pages scrolled
    // by. A plan that fits the screen stays there (`less -FRX`), the question below it.
    // With --yes nothing waits for a person: the plan is printed straight.
    let show = ShowPlanArgs {
        diff: show.diff,
        no_pager: show.no_pager || yes,
    };
    super::plan::show(plan, global, &show)?;

    crate::apply::remove_stray_state_temp_files(&plan.out_dir);
    if !plan.writes_anything() {
        anstream::println!(
            "Nothing to write: {} is up to date.",
            plan.out_dir.display()
        );
        return Ok(conflict_status(plan));
    }
    if !yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Error::Message(
                "refusing to write without confirmation: no terminal to ask on (pass --yes)".into(),
            ));
        }
        let go = dialoguer::Confirm::new()
            .with_prompt(format!("{question} {}?", plan.out_dir.display()))
            .default(false)
            .interact()
            .map_err(|e| Error::Message(format!("could not read the answer: {e}")))?;
        if !go {
            anstream::println!("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }
    let written = crate::apply::apply(plan)?;
    anstream::println!(
        "Wrote {} file{}, deleted {} in {}.",
        written.files,
        if written.files == 1 { "" } else { "s" },
        written.deleted,
        plan.out_dir.display()
    );
    Ok(conflict_status(plan))
}

fn conflict_status(plan: &Plan) -> ExitStatus {
    let conflicts = plan.conflict_report(true);
    for line in &conflicts {
        anstream::eprintln!("{line}");
    }
    if conflicts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Conflicts
    }
}
