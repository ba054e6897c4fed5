//! `bulkhead add service NAME` and `bulkhead add environment NAME`: a new table in an
//! existing service.toml, added by `spec::edit` so that every comment, blank line and table
//! order stays as it was; what the flags leave out of a service is asked (`prompts`) on a
//! terminal. The result is loaded exactly like `bulkhead validate` does before it is
//! written (atomically); otherwise nothing is written, and the problems are shown where
//! they are in the file on disk, or in the new table.

use std::path::Path;

use crate::cli::{AddArgs, AddCommand, AddEnvironmentArgs, AddServiceArgs, Options};
use crate::diagnostic::{Diagnostic, Source, did_you_mean};
use crate::error::{Error, ExitStatus};
use crate::load::Checked;
use crate::prompts::{self, Known, split_list};
use crate::spec::edit::{EnvironmentDraft, Origins, Place, Section, ServiceDraft, SpecMut};
use crate::spec::{Choice, Datastore, Runtime, Spec};

pub fn run(global: &Options, args: &AddArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        AddCommand::Service(args) => service(global, args),
        AddCommand::Environment(args) => environment(global, args),
    }
}

/// service.toml as an edit finds it: located, read, checked, and parsed for editing.
pub(super) struct Opened {
    pub path: std::path::PathBuf,
    /// How messages name it.
    pub name: String,
    pub source: Source,
    pub before: Checked,
    pub doc: SpecMut,
}

/// Opens service.toml for an edit; broken TOML refuses it (`doing`: "adding to it").
pub(super) fn open(global: &Options, doing: &str) -> Result<Opened, Error> {
    let path = super::locate(global)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let name = super::display_path(&path);
    let source = Source {
        name: name.clone(),
        text,
    };
    let before = crate::load::load(&source);
    let doc = match (SpecMut::parse(&source.text), &before.spec) {
        (Ok(doc), Some(_)) => doc,
        _ => {
            return Err(invalid(
                &source,
                &before.diagnostics,
                format!("{name} is not valid TOML; fix it before {doing}"),
            ));
        }
    };
    Ok(Opened {
        path,
        name,
        source,
        before,
        doc,
    })
}

fn service(global: &Options, args: &AddServiceArgs) -> Result<ExitStatus, Error> {
    let Opened {
        path,
        name,
        source,
        before,
        doc,
    } = open(global, "adding to it")?;
    // toml_edit would replace a table of the same name: refuse first, pointing at it.
    if let Some(existing) = before
        .spec
        .as_ref()
        .and_then(|s| s.services.iter().find(|s| s.name.value == args.name))
    {
        return Err(taken(
            &source,
            existing.name.span.clone(),
            "a service",
            &args.name,
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

    let flags = |key: Option<&str>| -> Option<String> {
        let given = match key {
            None => return Some("the NAME argument".into()),
            Some("description") => args.description.is_some(),
            Some("runtime") => args.runtime.is_some(),
            Some("port") => args.port.is_some(),
            Some("owns") => args.owns.is_some(),
            Some("datastore") => args.datastore.is_some(),
            Some("apis") => args.apis.is_some(),
            Some("calls") => args.calls.is_some(),
            Some("publishes") => args.publishes.is_some(),
            Some("consumes") => args.consumes.is_some(),
            Some(_) => false,
        };
        key.filter(|_| given).map(|k| format!("--{k}"))
    };
    let edit = Edit {
        disk: &source,
        before: &before,
        verb: "added",
        change: format!("with service `{}`", args.name),
        table: format!("[services.{}]", args.name),
        flags: &flags,
        done: &|spec: &Spec| spec.services.iter().any(|s| s.name.value == args.name),
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
    edit.check(&render(Some(&draft)))?;
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
    let (after, warnings) = edit.check(&new)?;
    edit.deny_warnings(global, &new, &warnings)?;
    write(&path, &new)?;
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

fn environment(global: &Options, args: &AddEnvironmentArgs) -> Result<ExitStatus, Error> {
    let Opened {
        path,
        name,
        source,
        before,
        doc,
    } = open(global, "adding to it")?;
    if let Some(existing) = before
        .spec
        .as_ref()
        .and_then(|s| s.environments.iter().find(|e| e.name.value == args.name))
    {
        return Err(taken(
            &source,
            existing.name.span.clone(),
            "an environment",
            &args.name,
        ));
    }
    let order = doc.names(Section::Environments);
    let known = |anchor: &str| -> Result<(), Error> {
        if order.iter().any(|e| e == anchor) {
            return Ok(());
        }
        let hint = did_you_mean(anchor, order.iter().map(String::as_str))
            .unwrap_or_else(|| format!("environments, in order: {}", order.join(", ")));
        Err(Error::Message(format!(
            "there is no environment `{anchor}` in {name}; {hint}"
        )))
    };
    let place = match (&args.after, &args.before) {
        (Some(after), _) => {
            known(after)?;
            Place::After(after.clone())
        }
        (None, Some(before)) => {
            known(before)?;
            let i = order.iter().position(|e| e == before).unwrap_or(0);
            match i.checked_sub(1) {
                Some(prev) => Place::After(order[prev].clone()),
                None => Place::First,
            }
        }
        (None, None) => Place::Last,
    };
    let draft = EnvironmentDraft {
        name: args.name.clone(),
        namespace: args.namespace.clone(),
        cluster: args.cluster.clone(),
        host: args.host.clone(),
        replicas: args.replicas,
        auto_sync: args.manual_sync.then_some(false),
        tls_secret: args.tls_secret.clone(),
    };
    let mut edited = doc.clone();
    edited.insert_environment(&draft, &place)?;
    let new = edited.to_string();

    let flags = |key: Option<&str>| -> Option<String> {
        match key {
            None => Some("the NAME argument".into()),
            Some("auto_sync") => Some("--manual-sync".into()),
            Some(k) => Some(format!("--{}", k.replace('_', "-"))),
        }
    };
    let edit = Edit {
        disk: &source,
        before: &before,
        verb: "added",
        change: format!("with environment `{}`", args.name),
        table: format!("[environments.{}]", args.name),
        flags: &flags,
        done: &|spec: &Spec| spec.environments.iter().any(|e| e.name.value == args.name),
    };
    let (after, warnings) = edit.check(&new)?;
    edit.deny_warnings(global, &new, &warnings)?;
    write(&path, &new)?;
    if !warnings.is_empty() {
        anstream::eprint!("{}", after.render(&warnings, true));
    }
    let position = match &place {
        Place::Last => match order.last() {
            Some(prod) => format!(
                "last, after `{prod}`: it is now the production environment (the last one is; pass --before {prod} to place it earlier)"
            ),
            None => "the first and only environment".into(),
        },
        Place::After(e) => format!("after `{e}`"),
        Place::First => format!(
            "first, before `{}`",
            order.first().map_or("", String::as_str)
        ),
    };
    if global.quiet {
        anstream::println!("Added environment `{}` to {name}.", args.name);
    } else {
        anstream::println!(
            "Added environment `{}` to {name}, {position}:\n\n{}",
            args.name,
            draft.text()
        );
    }
    anstream::println!(
        "Next: `bulkhead plan` shows the files it brings (an overlay, values and an Argo CD application per service), `bulkhead apply` writes them."
    );
    Ok(ExitStatus::Success)
}

/// Writes service.toml atomically.
pub(super) fn write(path: &Path, text: &str) -> Result<(), Error> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Message(format!("{} is not a file", path.display())))?;
    crate::apply::write_atomic(dir, &file, text.as_bytes())
}

/// One change to service.toml, checked before it is written; what it finds is shown at
/// its place in the file on disk, or in the new table.
pub(super) struct Edit<'a> {
    /// The file as it is on disk.
    pub disk: &'a Source,
    pub before: &'a Checked,
    /// "added", "removed": for "not added: …".
    pub verb: &'static str,
    /// "with service `billing`", "without service `users`".
    pub change: String,
    /// The table the change adds, `[services.billing]`; problems in it are shown as the new
    /// table's.
    pub table: String,
    /// The flag that set a key of the new table (`None`: its header, the name).
    pub flags: &'a dyn Fn(Option<&str>) -> Option<String>,
    /// Whether the change is there in the loaded result.
    pub done: &'a dyn Fn(&Spec) -> bool,
}

impl Edit<'_> {
    /// `text` (the file on disk with the change) loaded and checked; its errors, if any,
    /// refuse the change. Returns it with the warnings the change brought.
    pub fn check(&self, text: &str) -> Result<(Source, Vec<Diagnostic>), Error> {
        let name = &self.disk.name;
        let source = Source {
            name: name.clone(),
            text: text.to_string(),
        };
        let after = crate::load::load(&source);
        let errors = after.errors().count();
        if errors == 0 && !after.spec.as_ref().is_some_and(|s| (self.done)(s)) {
            return Err(Error::Message(format!(
                "could not change {name} {} in its layout; edit it by hand",
                self.change
            )));
        }
        if errors > 0 {
            let errors_only: Vec<Diagnostic> = after.errors().cloned().collect();
            let count = super::plural(errors, "error");
            let brought =
                crate::diagnostic::new_since(&self.before.diagnostics, &after.diagnostics)
                    .into_iter()
                    .any(Diagnostic::is_error);
            let summary = if brought {
                format!(
                    "not {}: {}, {name} would be invalid ({count}); nothing written",
                    self.verb, self.change
                )
            } else {
                format!(
                    "not {}: {name} is invalid already ({count}); fix it first (`bulkhead validate`)",
                    self.verb
                )
            };
            return Err(Error::Invalid {
                rendered: self.render(text, &errors_only),
                summary,
            });
        }
        let warnings = crate::diagnostic::new_since(&self.before.diagnostics, &after.diagnostics)
            .into_iter()
            .filter(|d| !d.is_error())
            .cloned()
            .collect();
        Ok((source, warnings))
    }

    /// With `--deny-warnings`, the change's warnings refuse it.
    pub fn deny_warnings(
        &self,
        global: &Options,
        text: &str,
        warnings: &[Diagnostic],
    ) -> Result<(), Error> {
        if global.deny_warnings && !warnings.is_empty() {
            return Err(Error::Invalid {
                rendered: self.render(text, warnings),
                summary: format!(
                    "not {}: {} brings warnings (denied); nothing written",
                    self.verb,
                    self.change
                        .trim_start_matches("with ")
                        .trim_start_matches("without ")
                ),
            });
        }
        Ok(())
    }

    /// Diagnostics about `text` (the edited file, not written), each shown where it is: on
    /// a line of the file on disk, or in the new table, named as such with the flag that
    /// set the value.
    pub fn render(&self, text: &str, diagnostics: &[Diagnostic]) -> String {
        let origins = Origins::new(&self.disk.text, text);
        let mut block = String::new();
        let mut block_at: Vec<(usize, usize)> = Vec::new();
        for line in origins.added() {
            if block.is_empty() && text[line.clone()].trim().is_empty() {
                continue;
            }
            block_at.push((line.start, block.len()));
            block.push_str(&text[line.clone()]);
        }
        let new_table = Source {
            name: format!("the new {} (not written)", self.table),
            text: block,
        };
        let mut on_disk = Vec::new();
        let mut in_new = Vec::new();
        let mut elsewhere = Vec::new();
        for d in diagnostics {
            if let Some(span) = origins.original(&d.span) {
                on_disk.push(Diagnostic { span, ..d.clone() });
            } else if origins.is_added(&d.span) {
                let (line_start, at) = block_at
                    .iter()
                    .rev()
                    .find(|(start, _)| *start <= d.span.start)
                    .copied()
                    .unwrap_or((0, 0));
                let start = at + d.span.start - line_start;
                let line = &text[line_start..];
                let line = &line[..line.find('\n').unwrap_or(line.len())];
                let key = (!line.trim_start().starts_with('['))
                    .then(|| line.split('=').next().unwrap_or("").trim());
                let rest = line.len().saturating_sub(d.span.start - line_start);
                let mut d = Diagnostic {
                    span: start..start + d.span.len().min(rest),
                    message: format!("the new {}: {}", self.table, d.message),
                    ..d.clone()
                };
                if let Some(flag) = (self.flags)(key) {
                    d.label = Some(match d.label {
                        Some(l) => format!("{l} (set by {flag})"),
                        None => format!("set by {flag}"),
                    });
                }
                in_new.push(d);
            } else {
                elsewhere.push(d.clone());
            }
        }
        let mut out = self.disk.render(&on_disk, true);
        out.push_str(&new_table.render(&in_new, true));
        if !elsewhere.is_empty() {
            let whole = Source {
                name: format!("{} as it would be", self.disk.name),
                text: text.to_string(),
            };
            out.push_str(&whole.render(&elsewhere, true));
        }
        out
    }
}

/// A name already declared: toml_edit would replace its table, so the edit is refused,
/// pointing at it. `what`: "a service", "an environment".
fn taken(source: &Source, span: std::ops::Range<usize>, what: &str, new: &str) -> Error {
    let kind = what.split_once(' ').map_or(what, |(_, k)| k);
    let d = Diagnostic::error(span, format!("{kind} `{new}` already exists"))
        .label("declared here")
        .help("choose another name, or edit this table");
    invalid(
        source,
        &[d],
        format!("not added: {} already has {what} `{new}`", source.name),
    )
}

fn invalid(source: &Source, diagnostics: &[Diagnostic], summary: String) -> Error {
    Error::Invalid {
        rendered: source.render(diagnostics, true),
        summary,
    }
}
