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
//!
//! `--every-key` prints instead a small platform (at least 8 services × 3 environments)
//! that writes every key service.toml knows, with varied values: every runtime, datastore
//! and release strategy, per-environment overrides of each, Istio with a domain (or, with
//! `--no-mesh`, no mesh and no domain). Its `platform.blueprints` names `blueprints/`, a
//! folder to create next to the file (it may be empty).

mod platform;

use std::process::ExitCode;

use platform::Options;

const USAGE: &str = "\
usage: synth [--services N] [--environments E] [--seed S] [--name NAME] [--every-key [--no-mesh]]

Prints a valid service.toml of N services (default 10) and E environments (default 3;
the last one is production) to stdout, deterministically for a seed (default 1).
--every-key writes every key of service.toml (at least 8 services and 3 environments);
--no-mesh makes that platform's mesh \"none\", without a domain.";

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
        match (key.as_str(), &inline) {
            ("--every-key", None) => {
                opts.every_key = true;
                continue;
            }
            ("--no-mesh", None) => {
                opts.mesh = false;
                continue;
            }
            _ => {}
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
    if !opts.mesh && !opts.every_key {
        return Err("--no-mesh only applies to --every-key".into());
    }
    if opts.every_key
        && (opts.services < platform::EVERY_KEY_MIN_SERVICES
            || opts.environments < platform::EVERY_KEY_MIN_ENVIRONMENTS)
    {
        return Err(format!(
            "--every-key needs at least {} services and {} environments",
            platform::EVERY_KEY_MIN_SERVICES,
            platform::EVERY_KEY_MIN_ENVIRONMENTS
        ));
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
