//! bulkhead: from one service.toml describing a microservice platform (domain boundaries,
//! owned data, APIs, calls, events) to everything that builds, ships, secures and watches
//! it — always showing the diff before writing.
//!
//! The pipeline, one module per stage:
//! `spec` (read service.toml) → `validate` (rules) → `model` (resolved platform) →
//! `render` (blueprints → files) → `plan` (diff against disk) → `apply` (safe writes).
//!
//! Around it, one owner for each job:
//! - `load`: the front of the pipeline, service.toml text → validated model with its
//!   diagnostics; commands, tests and the benchmark all call it.
//! - `state`: `.bulkhead/` (lock, bases, journal); `plan` and `audit` read it, `apply`
//!   writes it.
//! - `spec::edit`: writing service.toml (a new commented file, a service added), keeping
//!   every comment.
//! - `prompts`: the questions `init` and `add` ask on a terminal.
//! - `commands`: one file per command, composing the above; `cli` parses the arguments,
//!   `diagnostic` and `error` are what gets reported, `audit` checks a generated tree.

pub mod apply;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod error;
pub mod load;
pub mod model;
pub mod pager;
pub mod plan;
pub mod prompts;
pub mod render;
pub mod spec;
pub mod state;
pub mod validate;

use std::ffi::OsString;

use clap::Parser;

use crate::cli::{Cli, ColorWhen, Command};
use crate::error::{Error, ExitStatus};

/// Runs the command line and returns the process exit code. Errors are printed here and
/// nowhere else.
pub fn run(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitStatus::Usage as i32
            } else {
                0
            };
        }
    };
    anstream::ColorChoice::write_global(match cli.global.color {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    });
    crate::prompts::set_colors(cli.global.color);
    let options = cli.command.options();
    let result = match &cli.command {
        Command::Validate(_) => commands::validate::run(&options),
        Command::Plan(args) => commands::plan::run(&options, args),
        Command::Apply(args) => commands::apply::run(&options, args),
        Command::Restore(args) => commands::restore::run(&options, args),
        Command::Graph(args) => commands::graph::run(&options, args),
        Command::Audit(args) => commands::audit::run(&options, args),
        Command::Init(args) => commands::init::run(&options, args),
        Command::Add(args) => commands::add::run(&options, args),
        Command::Remove(args) => commands::remove::run(&options, args),
        Command::Blueprints(args) => commands::blueprints::run(&options, args),
        Command::Schema => commands::schema::run(&options),
        Command::Completions(args) => commands::completions::run(&options, args),
    };
    match result {
        Ok(status) => status as i32,
        Err(err) => {
            report(&err);
            err.exit_status() as i32
        }
    }
}

fn report(err: &Error) {
    let red = anstyle::AnsiColor::Red.on_default().bold();
    if let Error::Invalid { rendered, .. } = err {
        anstream::eprint!("{rendered}");
    }
    anstream::eprintln!("{red}error{red:#}: {err}");
}
