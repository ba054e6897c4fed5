//! `bulkhead validate`: every rule, every problem, nothing rendered.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};

pub fn run(global: &Options) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let m = &loaded.model;
    anstream::println!(
        "{} is valid: {} service{}, {} environment{}{}",
        loaded.spec.source.name,
        m.services.len(),
        if m.services.len() == 1 { "" } else { "s" },
        m.environments.len(),
        if m.environments.len() == 1 { "" } else { "s" },
        match loaded.warnings.len() {
            0 => String::new(),
            1 => ", 1 warning".into(),
            n => format!(", {n} warnings"),
        }
    );
    Ok(ExitStatus::Success)
}
