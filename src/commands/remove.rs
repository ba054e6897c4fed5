//! `bulkhead remove service NAME…`: the `[services.NAME]` tables (per-environment overrides
//! included) taken out of service.toml by `spec::edit`, every other comment and line kept.
//! A service that the rest of the platform still depends on by name (calls, topics only it
//! publishes) is not removed: each dependent is named at its line. The result is checked
//! like `bulkhead validate` does, shown with the generated files it drops, confirmed on a
//! terminal and written atomically; otherwise nothing is written.

use std::collections::BTreeSet;

use crate::cli::{Options, RemoveArgs, RemoveCommand, RemoveServiceArgs};
use crate::diagnostic::{Diagnostic, Source, did_you_mean};
use crate::error::{Error, ExitStatus};
use crate::render::Files;
use crate::spec::edit::Origins;
use crate::spec::{Datastore, Spec};

use super::add::{Edit, Opened, open, write};

pub fn run(global: &Options, args: &RemoveArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        RemoveCommand::Service(args) => service(global, args),
    }
}

fn service(global: &Options, args: &RemoveServiceArgs) -> Result<ExitStatus, Error> {
    let Opened {
        path,
        name,
        source,
        before,
        mut doc,
    } = open(global, "removing from it")?;
    let old = &source.text;
    let spec = before
        .spec
        .as_ref()
        .expect("open refuses a file without a spec");
    let mut removing: Vec<&str> = Vec::new();
    for n in &args.names {
        if !spec.services.iter().any(|s| s.name.value == *n) {
            let names = spec.services.iter().map(|s| s.name.value.as_str());
            let hint = did_you_mean(n, names.clone())
                .unwrap_or_else(|| format!("services: {}", names.collect::<Vec<_>>().join(", ")));
            return Err(Error::Message(format!(
                "there is no service `{n}` in {name}; {hint}"
            )));
        }
        if !removing.contains(&n.as_str()) {
            removing.push(n);
        }
    }
    let listed = removing
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let what = format!(
        "{} {listed}",
        if removing.len() == 1 {
            "service"
        } else {
            "services"
        }
    );

    let dependents = dependents(spec, &removing);
    if !dependents.is_empty() {
        let places: Vec<String> = dependents
            .iter()
            .map(|d| {
                let (line, _) = source.line_col(d.span.start);
                format!("{name}:{line} {}", d.message)
            })
            .collect();
        return Err(Error::Invalid {
            rendered: source.render(&dependents, true),
            summary: format!(
                "not removed: {what} {} still depended on:\n  {}\nnothing written",
                if removing.len() == 1 { "is" } else { "are" },
                places.join("\n  ")
            ),
        });
    }

    for n in &removing {
        doc.remove_service(n)?;
    }
    let new = doc.to_string();
    let no_flags = |_: Option<&str>| None;
    let edit = Edit {
        disk: &source,
        before: &before,
        verb: "removed",
        change: format!("without {what}"),
        table: String::new(),
        flags: &no_flags,
        done: &|spec: &Spec| {
            !spec
                .services
                .iter()
                .any(|s| removing.contains(&s.name.value.as_str()))
        },
    };
    let (after, warnings) = edit.check(&new)?;
    edit.deny_warnings(global, &new, &warnings)?;

    let lines = Origins::new(old, &new)
        .removed_lines()
        .iter()
        .map(|(a, b)| {
            if a == b {
                format!("{a}")
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let files = files_note(global, &path, &source, &after, spec, &removing);
    if !args.yes {
        if !crate::prompts::interactive() {
            return Err(Error::Message(format!(
                "refusing to remove {what} without confirmation: no terminal to ask on (pass --yes)"
            )));
        }
        anstream::eprintln!("Removes {what} from {name} (lines {lines}).\n{files}");
        if !crate::prompts::confirm(&format!("Remove {what} from {name}?"), false)? {
            anstream::println!("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }
    write(&path, &new)?;
    if !warnings.is_empty() {
        anstream::eprint!("{}", after.render(&warnings, true));
    }
    anstream::println!("Removed {what} from {name} (lines {lines} of the file as it was).");
    if args.yes {
        anstream::println!("{files}");
    }
    Ok(ExitStatus::Success)
}

/// Every place outside the removed services that names one of them: a call, or a consumed
/// topic that only a removed service publishes (and the platform does not list as
/// external). Positions are in the file on disk.
fn dependents(spec: &Spec, removing: &[&str]) -> Vec<Diagnostic> {
    let gone = |n: &str| removing.contains(&n);
    let external: BTreeSet<&str> = spec
        .platform
        .external_topics
        .iter()
        .map(|t| t.value.as_str())
        .collect();
    let kept_topics: BTreeSet<&str> = spec
        .services
        .iter()
        .filter(|s| !gone(&s.name.value))
        .flat_map(|s| s.publishes.iter().map(|t| t.value.as_str()))
        .collect();
    let only_by = |topic: &str| -> Option<&str> {
        if external.contains(topic) || kept_topics.contains(topic) {
            return None;
        }
        spec.services
            .iter()
            .filter(|s| gone(&s.name.value))
            .find(|s| s.publishes.iter().any(|t| t.value == topic))
            .map(|s| s.name.value.as_str())
    };
    let mut out = Vec::new();
    for s in spec.services.iter().filter(|s| !gone(&s.name.value)) {
        let who = &s.name.value;
        for c in s.calls.iter().filter(|c| gone(&c.value)) {
            out.push(
                Diagnostic::error(c.span.clone(), format!("`{who}` calls `{}`", c.value))
                    .label(format!("`{who}` depends on `{}`", c.value))
                    .help(format!(
                        "remove `{}` from the calls of `{who}` first, or remove `{who}` too",
                        c.value
                    )),
            );
        }
        for t in &s.consumes {
            if let Some(publisher) = only_by(&t.value) {
                out.push(
                    Diagnostic::error(
                        t.span.clone(),
                        format!(
                            "`{who}` consumes \"{}\", which only `{publisher}` publishes",
                            t.value
                        ),
                    )
                    .label(format!("nobody would publish \"{}\"", t.value))
                    .help(format!(
                        "remove it from the consumes of `{who}`, publish it from another service, or list it in `platform.external_topics`"
                    )),
                );
            }
        }
    }
    out
}

/// What happens to the generated files: the ones only the removed services had (the next
/// plan shows them as deleted) and the ones that change.
fn files_note(
    global: &Options,
    path: &std::path::Path,
    before: &Source,
    after: &Source,
    spec: &Spec,
    removing: &[&str],
) -> String {
    let datastores: Vec<String> = spec
        .services
        .iter()
        .filter(|s| removing.contains(&s.name.value.as_str()))
        .filter_map(|s| {
            s.datastore
                .as_ref()
                .filter(|d| d.value != Datastore::None)
                .map(|d| format!("`{}` ({})", s.name.value, d.value))
        })
        .collect();
    let data = if datastores.is_empty() {
        String::new()
    } else {
        format!(
            "\nIts database objects are among them: {}; back the data up before Argo CD prunes them.",
            datastores.join(", ")
        )
    };
    let (Some(old), Some(new)) = (
        generated(global, path, before),
        generated(global, path, after),
    ) else {
        return format!(
            "The next `bulkhead plan` shows its generated files as deleted; `bulkhead apply` deletes them.{data}"
        );
    };
    let deleted: Vec<&String> = old.keys().filter(|p| !new.contains_key(*p)).collect();
    let changed = old
        .iter()
        .filter(|(p, text)| new.get(*p).is_some_and(|n| n != *text))
        .count();
    let mut dirs: Vec<&str> = Vec::new();
    for p in &deleted {
        let dir = p.rsplit_once('/').map_or("", |(d, _)| d);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let shown = dirs
        .iter()
        .take(4)
        .map(|d| format!("{d}/"))
        .chain((dirs.len() > 4).then(|| "…".to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "The next `bulkhead plan` shows {} as deleted (in {shown}) and {} as changed; `bulkhead apply` deletes them.{data}",
        super::plural(deleted.len(), "generated file"),
        super::plural(changed, "file"),
    )
}

/// The files `text` generates, when it is valid and its blueprints render.
fn generated(global: &Options, path: &std::path::Path, source: &Source) -> Option<Files> {
    let checked = crate::load::load(source);
    let (Some(spec), Some(model)) = (checked.spec, checked.model) else {
        return None;
    };
    let loaded = super::Loaded {
        path: path.to_path_buf(),
        spec,
        model,
        warnings: Vec::new(),
        blueprints_flag: global.blueprints.clone(),
        out_flag: global.out.clone(),
    };
    loaded.render().ok()
}
