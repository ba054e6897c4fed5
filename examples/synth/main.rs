//! A synthetic platform generator for benchmarks and scale tests: prints a valid
//! service.toml of N services and E environments, the same for the same seed.
//!
//! ```sh
//! cargo run --release --example synth -- --services 1000 --environments 3 --seed 1 > service.toml
//! bulkhead validate --deny-warnings -f service.toml
//! ```
//!
//! The platform mixes every runtime and datastore; services own data (one owner per
//! item), call a few lower-numbered services (so calls never form a cycle), publish and
//! consume events (every consumed topic has exactly one publisher), expose APIs under
//! unique prefixes, and some autoscale, release by canary or blue-green, set plain
//! settings and secret names, and override replicas, resources, autoscaling, settings or
//! the release strategy per environment. The last environment is production and keeps at
//! least 2 replicas of everything, so the file passes `validate --deny-warnings`.

mod platform;

use std::process::ExitCode;

use platform::Options;

const USAGE: &str = "\
usage: synth [--services N] [--environments E] [--seed S] [--name NAME]

Prints a valid service.toml of N services (default 10) and E environments (default 3;
the last one is production) to stdout, deterministically for a seed (default 1).";

fn parse_args() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (arg.clone(), None),
        };
        if key == "-h" || key == "--help" {
            return Err(String::new());
        }
        let value = match inline {
            Some(v) => v,
            None => args.next().ok_or(format!("{key} needs a value"))?,
        };
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key}: not a number: {v}"))
        };
        match key.as_str() {
            "--services" | "-n" => opts.services = number(&value)? as usize,
            "--environments" | "-e" => opts.environments = number(&value)? as usize,
            "--seed" | "-s" => opts.seed = number(&value)?,
            "--name" => opts.name = value,
            _ => return Err(format!("unknown option {key}")),
        }
    }
    if opts.services == 0 || opts.environments == 0 {
        return Err("--services and --environments must be at least 1".into());
    }
    Ok(opts)
}

fn main() -> ExitCode {
    match parse_args() {
        Ok(opts) => {
            print!("{}", platform::generate(&opts));
            ExitCode::SUCCESS
        }
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("synth: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
