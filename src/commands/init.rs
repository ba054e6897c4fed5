//! `bulkhead init [DIR]`: writes a new, commented service.toml. On a terminal it asks a
//! newcomer for the platform, its environments and its services (`prompts`); with
//! `--no-input` it takes flags and defaults. The file is drafted with `spec::edit`, loaded
//! exactly like `bulkhead validate` does, and written atomically only when it has no
//! errors.

use std::path::{Path, PathBuf};

use super::{SPEC_FILE, plural};
use crate::cli::{InitArgs, Options};
use crate::diagnostic::{Diagnostic, Source};
use crate::error::{Error, ExitStatus};
use crate::prompts::{self, DEFAULT_ENVIRONMENTS, Guess, listed_twice, split_list};
use crate::spec::edit::{PlatformDraft, ServiceDraft};
use crate::spec::{Mesh, Runtime};

pub fn run(global: &Options, args: &InitArgs) -> Result<ExitStatus, Error> {
    let target = match (&args.dir, &global.file) {
        (Some(_), Some(_)) => {
            return Err(Error::Message(
                "pass the folder (DIR) or the file (-f), not both".into(),
            ));
        }
        (None, Some(file)) => file.clone(),
        (Some(dir), None) => dir.join(SPEC_FILE),
        (None, None) => PathBuf::from(SPEC_FILE),
    };
    let shown = super::display_path(&target);
    refuse_overwrite(&target, &shown, args.force)?;
    if !args.no_input && !prompts::interactive() {
        return Err(Error::Message(
            "no terminal to ask questions on: pass --no-input to write service.toml from flags and defaults (see `bulkhead init --help`)".into(),
        ));
    }
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let guess = Guess::new(&dir);

    let draft = if args.no_input {
        from_flags(args, &guess)?
    } else {
        match prompts::ask_platform(args, &guess, &shown)? {
            Some(draft) => draft,
            None => {
                anstream::println!("Nothing written.");
                return Ok(ExitStatus::Success);
            }
        }
    };

    let text = draft.text();
    let source = Source {
        name: shown.clone(),
        text: text.clone(),
    };
    let checked = crate::load::load(&source);
    let errors: Vec<Diagnostic> = checked.errors().cloned().collect();
    let warnings: Vec<Diagnostic> = checked.warnings().cloned().collect();
    if !errors.is_empty() || (global.deny_warnings && !warnings.is_empty()) {
        let shown_problems = if errors.is_empty() {
            &warnings
        } else {
            &errors
        };
        return Err(Error::Invalid {
            rendered: source.render(shown_problems, true),
            summary: format!(
                "{shown} would be invalid ({}{}); nothing written",
                plural(shown_problems.len(), "problem"),
                if errors.is_empty() {
                    ", warnings denied"
                } else {
                    ""
                }
            ),
        });
    }
    if args.no_input && !warnings.is_empty() {
        anstream::eprint!("{}", source.render(&warnings, true));
    }
    refuse_overwrite(&target, &shown, args.force)?;
    let file = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Message(format!("{shown} is not a file name")))?;
    crate::apply::write_atomic(&dir, &file, text.as_bytes())?;

    anstream::println!(
        "Wrote {shown}: {} in {}.",
        plural(draft.services.len(), "service"),
        plural(draft.environments.len(), "environment")
    );
    // The commands find service.toml in the current folder; anything else needs -f.
    let (place, f) = if file != SPEC_FILE {
        (String::new(), format!(" -f {shown}"))
    } else if dir == Path::new(".") {
        (String::new(), String::new())
    } else {
        (format!(", in {}", super::display_path(&dir)), String::new())
    };
    let steps = [
        (
            format!("bulkhead plan{f}"),
            "the files it generates, as diffs",
        ),
        (format!("bulkhead apply{f}"), "write them"),
        (
            format!("bulkhead add service NAME --runtime go{f}"),
            "one more service, any time",
        ),
    ];
    let width = steps.iter().map(|(c, _)| c.len()).max().unwrap_or(0);
    let mut next = format!("Next{place}:");
    for (command, why) in steps {
        next.push_str(&format!("\n  {command:<width$}   # {why}"));
    }
    anstream::println!("{next}");
    Ok(ExitStatus::Success)
}

fn refuse_overwrite(target: &Path, shown: &str, force: bool) -> Result<(), Error> {
    if !force && std::fs::symlink_metadata(target).is_ok() {
        return Err(Error::Message(format!(
            "{shown} already exists; pass --force to replace it, or add to it with `bulkhead add service NAME`"
        )));
    }
    Ok(())
}

/// A service from flags: it serves its own route prefix, so that it has a role from the
/// start (a service with none is no domain boundary, and `bulkhead audit` fails it).
fn scaffold(name: &str, runtime: Runtime) -> ServiceDraft {
    let mut draft = ServiceDraft::new(name, runtime);
    draft.apis = vec![format!("/{name}")];
    draft
}

fn from_flags(args: &InitArgs, guess: &Guess) -> Result<PlatformDraft, Error> {
    let name = args.name.clone().unwrap_or_else(|| guess.name.clone());
    let registry = args
        .registry
        .clone()
        .unwrap_or_else(|| guess.registry(&name));
    let repository = args
        .repository
        .clone()
        .unwrap_or_else(|| guess.repository(&name, &registry));
    let environments = if args.envs.is_empty() {
        DEFAULT_ENVIRONMENTS.map(String::from).to_vec()
    } else {
        split_list(&args.envs)
    };
    if let Some(twice) = listed_twice(&environments) {
        return Err(Error::Message(format!(
            "environment `{twice}` is given twice"
        )));
    }
    let mut services: Vec<ServiceDraft> = args
        .services
        .iter()
        .map(|s| scaffold(&s.name, s.runtime))
        .collect();
    let names: Vec<String> = services.iter().map(|s| s.name.clone()).collect();
    if let Some(twice) = listed_twice(&names) {
        return Err(Error::Message(format!("service `{twice}` is given twice")));
    }
    if services.is_empty() {
        services.push(scaffold("api", Runtime::Rust));
    }
    Ok(PlatformDraft {
        name: Some(name),
        registry: Some(registry),
        repository: Some(repository),
        domain: args.domain.clone().filter(|d| !d.is_empty()),
        mesh: args.mesh.unwrap_or(Mesh::Istio),
        environments,
        services,
    })
}
