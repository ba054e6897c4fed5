//! `bulkhead apply`: the plan, shown; a confirmation; then the writes.

use std::io::IsTerminal;

use crate::cli::{ApplyArgs, GlobalArgs};
use crate::error::{Error, ExitStatus};

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let plan = loaded.plan(&loaded.out_dir(global))?;
    let mut stdout = anstream::stdout().lock();
    crate::plan::print_text(&plan, &mut stdout, !global.quiet, global.verbose)
        .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
    drop(stdout);

    crate::apply::remove_stray_state_temp_files(&plan.out_dir);
    if !plan.writes_anything() {
        anstream::println!(
            "Nothing to write: {} is up to date.",
            plan.out_dir.display()
        );
        return Ok(conflict_status(&plan));
    }
    if !args.yes {
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Error::Message(
                "refusing to write without confirmation: no terminal to ask on (pass --yes)".into(),
            ));
        }
        let go = dialoguer::Confirm::new()
            .with_prompt(format!(
                "Write these changes to {}?",
                plan.out_dir.display()
            ))
            .default(false)
            .interact()
            .map_err(|e| Error::Message(format!("could not read the answer: {e}")))?;
        if !go {
            anstream::println!("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }
    let written = crate::apply::apply(&plan)?;
    anstream::println!(
        "Wrote {} file{}, deleted {} in {}.",
        written.files,
        if written.files == 1 { "" } else { "s" },
        written.deleted,
        plan.out_dir.display()
    );
    Ok(conflict_status(&plan))
}

fn conflict_status(plan: &crate::plan::Plan) -> ExitStatus {
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
