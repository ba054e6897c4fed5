//! `bulkhead add service NAME`: a new `[services.NAME]` table in an existing service.toml,
//! added by `spec::edit` so that every comment, blank line and table order stays as it
//! was; what the flags leave out is asked (`prompts`) on a terminal. The result is loaded
//! exactly like `bulkhead validate` does before it is written (atomically); otherwise
//! nothing is written.

use std::path::Path;

use crate::cli::{AddArgs, AddCommand, AddServiceArgs, Options};
use crate::diagnostic::{Diagnostic, Source};
use crate::error::{Error, ExitStatus};
use crate::load::Checked;
use crate::prompts::{self, Known, split_list};
use crate::spec::edit::{ServiceDraft, SpecMut};
use crate::spec::{Choice, Datastore, Runtime};

pub fn run(global: &Options, args: &AddArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        AddCommand::Service(args) => service(global, args),
    }
}

fn service(global: &Options, args: &AddServiceArgs) -> Result<ExitStatus, Error> {
    let path = super::locate(global)?;
    let old = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let name = super::display_path(&path);
    let source = Source {
        name: name.clone(),
        text: old.clone(),
    };
    let before = crate::load::load(&source);
    let Ok(doc) = SpecMut::parse(&old) else {
        return Err(invalid(
            &source,
            &before.diagnostics,
            format!("{name} is not valid TOML; fix it before adding to it"),
        ));
    };
    // toml_edit would replace a table of the same name: refuse first, pointing at it.
    if let Some(existing) = before
        .spec
        .as_ref()
        .and_then(|s| s.services.iter().find(|s| s.name.value == args.name))
    {
        let d = Diagnostic::error(
            existing.name.span.clone(),
            format!("service `{}` already exists", args.name),
        )
        .label("declared here")
        .help("choose another name, or edit this table");
        return Err(invalid(
            &source,
            &[d],
            format!("not added: {name} already has a service `{}`", args.name),
        ));
    }

    let owned = |v: &Option<Vec<String>>| v.as_ref().map(|v| split_list(v));
    let known = Known {
        runtime: args.runtime,
        owns: owned(&args.owns),
        datastore: args.datastore,
        apis: owned(&args.apis),
        calls: owned(&args.calls),
    };
    let mut draft = ServiceDraft::new(&args.name, args.runtime.unwrap_or(Runtime::Rust));
    draft.description.clone_from(&args.description);
    draft.port = args.port;
    draft.owns = known.owns.clone().unwrap_or_default();
    draft.datastore = known.datastore.unwrap_or(if draft.owns.is_empty() {
        Datastore::None
    } else {
        Datastore::Postgres
    });
    draft.apis = known.apis.clone().unwrap_or_default();
    draft.calls = known.calls.clone().unwrap_or_default();
    draft.publishes = owned(&args.publishes).unwrap_or_default();
    draft.consumes = owned(&args.consumes).unwrap_or_default();

    // Where the table goes does not depend on its values: if it can go in, it always can.
    doc.clone().add_service(&draft)?;
    let render = |svc: Option<&ServiceDraft>| -> String {
        let mut d = doc.clone();
        if let Some(svc) = svc {
            let _ = d.add_service(svc);
        }
        d.to_string()
    };

    let ask = args.runtime.is_none() && !args.no_input && prompts::interactive();
    if args.runtime.is_none() && !ask {
        let why = if args.no_input {
            "with --no-input nothing is asked"
        } else {
            "there is no terminal to ask on"
        };
        return Err(Error::Message(format!(
            "missing --runtime for service `{}` ({why}); one of: {}",
            args.name,
            Runtime::ALL
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // The name and the values given as flags first: no questions about a service that
    // cannot be added anyway.
    check_or_refuse(&name, &args.name, &before, &render(Some(&draft)))?;
    if ask {
        let others: Vec<String> = before
            .spec
            .as_ref()
            .map(|s| s.services.iter().map(|s| s.name.value.clone()).collect())
            .unwrap_or_default();
        draft = prompts::ask_service(draft, &known, &others, &render)?;
        anstream::eprintln!("\n{}", draft.text());
        if !prompts::confirm(&format!("Add this to {name}?"), true)? {
            anstream::println!("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }

    let new = render(Some(&draft));
    let (after, diagnostics) = check_or_refuse(&name, &args.name, &before, &new)?;
    let warnings: Vec<Diagnostic> = crate::diagnostic::new_since(&before.diagnostics, &diagnostics)
        .into_iter()
        .filter(|d| !d.is_error())
        .cloned()
        .collect();
    if global.deny_warnings && !warnings.is_empty() {
        return Err(invalid(
            &after,
            &warnings,
            format!(
                "not added: service `{}` brings warnings (denied); nothing written",
                args.name
            ),
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Message(format!("{} is not a file", path.display())))?;
    crate::apply::write_atomic(dir, &file, new.as_bytes())?;
    if !warnings.is_empty() {
        anstream::eprint!("{}", after.render(&warnings, true));
    }
    if global.quiet {
        anstream::println!("Added service `{}` to {name}.", args.name);
    } else {
        anstream::println!(
            "Added service `{}` to {name}:\n\n{}",
            args.name,
            draft.text()
        );
    }
    anstream::println!(
        "Next: `bulkhead plan` shows the files it brings, `bulkhead apply` writes them."
    );
    Ok(ExitStatus::Success)
}

/// `text` (the file loaded as `before`, with the service added) loaded and checked; its
/// errors, if any, refuse the addition.
fn check_or_refuse(
    name: &str,
    service: &str,
    before: &Checked,
    text: &str,
) -> Result<(Source, Vec<Diagnostic>), Error> {
    let source = Source {
        name: name.to_string(),
        text: text.to_string(),
    };
    let after = crate::load::load(&source);
    let errors = after.errors().count();
    let present = after
        .spec
        .as_ref()
        .is_some_and(|s| s.services.iter().any(|s| s.name.value == service));
    if errors == 0 && !present {
        return Err(Error::Message(format!(
            "could not add service `{service}` to the layout of {name}; add it by hand"
        )));
    }
    if errors > 0 {
        let errors_only: Vec<Diagnostic> = after.errors().cloned().collect();
        let count = super::plural(errors, "error");
        let brought = crate::diagnostic::new_since(&before.diagnostics, &after.diagnostics)
            .into_iter()
            .any(Diagnostic::is_error);
        let summary = if brought {
            format!(
                "not added: with service `{service}`, {name} would be invalid ({count}); nothing written"
            )
        } else {
            format!(
                "not added: {name} is invalid already ({count}); fix it first (`bulkhead validate`)"
            )
        };
        return Err(invalid(&source, &errors_only, summary));
    }
    Ok((source, after.diagnostics))
}

fn invalid(source: &Source, diagnostics: &[Diagnostic], summary: String) -> Error {
    Error::Invalid {
        rendered: source.render(diagnostics, true),
        summary,
    }
}
