//! `bulkhead completions <SHELL>`: shell completions generated from the clap definition,
//! so they always know every command and option.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, Options};
use crate::error::{Error, ExitStatus};

pub fn run(_global: &Options, args: &CompletionsArgs) -> Result<ExitStatus, Error> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "bulkhead", &mut out);
    super::write_stdout(&out)?;
    Ok(ExitStatus::Success)
}
