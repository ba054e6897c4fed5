//! `bulkhead add service NAME`: a new `[services.NAME]` table in an existing service.toml,
//! edited with toml_edit so that every comment, blank line and table order stays as it
//! was. The result passes the same parse and rules as `bulkhead validate` before it is
//! written (atomically); otherwise nothing is written. Also home of what `init` shares:
//! a service being drafted, its table, and the questions that fill it in.

use std::path::Path;

use dialoguer::theme::Theme;
use dialoguer::{Confirm, Input, MultiSelect, Select};
use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::init::{answer, diagnose, interactive, new_errors, print_problems, set_colors, theme};
use crate::cli::{AddArgs, AddCommand, AddServiceArgs, GlobalArgs};
use crate::diagnostic::{Diagnostic, Source};
use crate::error::{Error, ExitStatus};
use crate::spec::{Choice, Datastore, Runtime};

pub fn run(global: &GlobalArgs, args: &AddArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        AddCommand::Service(args) => service(global, args),
    }
}

/// A service as `init` and `add` build it: the keys they can set, defaults left out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ServiceDraft {
    pub name: String,
    pub description: Option<String>,
    pub runtime: Runtime,
    pub port: Option<u16>,
    pub owns: Vec<String>,
    pub datastore: Datastore,
    pub apis: Vec<String>,
    pub calls: Vec<String>,
    pub publishes: Vec<String>,
    pub consumes: Vec<String>,
}

impl ServiceDraft {
    pub fn new(name: impl Into<String>, runtime: Runtime) -> Self {
        Self {
            name: name.into(),
            description: None,
            runtime,
            port: None,
            owns: Vec::new(),
            datastore: Datastore::None,
            apis: Vec::new(),
            calls: Vec::new(),
            publishes: Vec::new(),
            consumes: Vec::new(),
        }
    }

    /// The body of `[services.NAME]`, keys in the order of docs/service-toml.md. toml_edit
    /// writes every string, so quotes, backslashes and newlines are escaped correctly.
    pub fn table(&self) -> Table {
        let mut t = Table::new();
        if let Some(d) = &self.description {
            t["description"] = value(d.as_str());
        }
        t["runtime"] = value(self.runtime.as_str());
        if let Some(port) = self.port {
            t["port"] = value(i64::from(port));
        }
        list(&mut t, "owns", &self.owns);
        if self.datastore != Datastore::None {
            t["datastore"] = value(self.datastore.as_str());
        }
        list(&mut t, "apis", &self.apis);
        list(&mut t, "calls", &self.calls);
        list(&mut t, "publishes", &self.publishes);
        list(&mut t, "consumes", &self.consumes);
        t
    }

    /// `go · owns trips, routes (postgres) · apis /trips · calls users`: one summary line.
    pub fn summary(&self) -> String {
        let mut parts = vec![self.runtime.as_str().to_string()];
        if !self.owns.is_empty() || self.datastore != Datastore::None {
            let owns = if self.owns.is_empty() {
                "nothing".to_string()
            } else {
                self.owns.join(", ")
            };
            parts.push(format!("owns {owns} ({})", self.datastore));
        }
        if !self.apis.is_empty() {
            parts.push(format!("apis {}", self.apis.join(", ")));
        }
        if !self.calls.is_empty() {
            parts.push(format!("calls {}", self.calls.join(", ")));
        }
        parts.join(" · ")
    }
}

fn list(t: &mut Table, key: &str, items: &[String]) {
    if !items.is_empty() {
        t[key] = value(items.iter().map(String::as_str).collect::<Array>());
    }
}

/// `a, b c,,d` → `[a, b, c, d]`: how lists are typed at a prompt or in a flag.
pub(crate) fn split_list<S: AsRef<str>>(items: &[S]) -> Vec<String> {
    items
        .iter()
        .flat_map(|s| {
            s.as_ref()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Appends `[services.NAME]` to `doc` right after the last table under `services` (its
/// per-environment sub-tables included) and before whatever follows them; nothing else in
/// the document changes.
pub(crate) fn append_service(doc: &mut DocumentMut, svc: &ServiceDraft) -> Result<(), Error> {
    let root = doc.as_table_mut();
    let last_service = root.get("services").and_then(|item| match item {
        Item::Table(t) => max_position(t),
        _ => None,
    });
    let position = match last_service {
        Some(last) => {
            // Make room: every table after the last service moves one place down.
            each_table(root, &mut |t| {
                if let Some(p) = t.position().filter(|p| *p > last) {
                    t.set_position(Some(p + 1));
                }
            });
            Some(last + 1)
        }
        None => max_position(root).map(|p| p + 1),
    };
    let services = root.entry("services").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Item::Table(services) = services else {
        return Err(Error::Message(
            "`services` in service.toml is not a table of [services.NAME] tables; add the service by hand"
                .into(),
        ));
    };
    if services.contains_key(&svc.name) {
        return Err(Error::Message(format!(
            "service `{}` already exists",
            svc.name
        )));
    }
    let mut table = svc.table();
    table.set_position(position);
    if position.is_some() || !services.is_empty() {
        table.decor_mut().set_prefix("\n");
    }
    services.insert(&svc.name, Item::Table(table));
    if let Some(last) = last_service {
        keep_comments_with_the_last_service(doc, &svc.name, last);
    }
    Ok(())
}

/// Comment lines right under the last service (`# end of services`, before a blank line)
/// are stored by toml_edit as the start of the next table's prefix (or of the trailing
/// text): they move into the new table's prefix so that they stay where they were, above
/// the new table, and the text after them is untouched.
fn keep_comments_with_the_last_service(doc: &mut DocumentMut, name: &str, last: isize) {
    let mut next: Option<(isize, String)> = None;
    each_table(doc.as_table_mut(), &mut |t| {
        if let (Some(p), false, false) = (t.position(), t.is_implicit(), t.is_dotted())
            && p > last + 1
            && next.as_ref().is_none_or(|(n, _)| p < *n)
        {
            let prefix = t.decor().prefix().and_then(|r| r.as_str()).unwrap_or("");
            next = Some((p, prefix.to_string()));
        }
    });
    let (text, next_position) = match next {
        Some((p, prefix)) => (prefix, Some(p)),
        None => (doc.trailing().as_str().unwrap_or("").to_string(), None),
    };
    let Some(split) = blank_line_start(&text) else {
        return;
    };
    let (above, rest) = text.split_at(split);
    let (above, rest) = (above.to_string(), rest.to_string());
    match next_position {
        Some(p) => each_table(doc.as_table_mut(), &mut |t| {
            if t.position() == Some(p) && !t.is_implicit() && !t.is_dotted() {
                t.decor_mut().set_prefix(rest.clone());
            }
        }),
        None => doc.set_trailing(rest),
    }
    if let Some(Item::Table(t)) = doc
        .get_mut("services")
        .and_then(|s| s.as_table_mut())
        .and_then(|s| s.get_mut(name))
    {
        t.decor_mut().set_prefix(format!("{above}\n"));
    }
}

/// Where the first blank line of `text` starts, when something comes before it.
fn blank_line_start(text: &str) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            return (at > 0).then_some(at);
        }
        at += line.len();
    }
    None
}

fn max_position(t: &Table) -> Option<isize> {
    let mut max = t.position();
    for (_, item) in t.iter() {
        let child = match item {
            Item::Table(c) => max_position(c),
            Item::ArrayOfTables(a) => a.iter().filter_map(max_position).max(),
            _ => None,
        };
        max = max.max(child);
    }
    max
}

fn each_table(t: &mut Table, f: &mut dyn FnMut(&mut Table)) {
    f(t);
    for (_, item) in t.iter_mut() {
        match item {
            Item::Table(c) => each_table(c, f),
            Item::ArrayOfTables(a) => {
                for c in a.iter_mut() {
                    each_table(c, f);
                }
            }
            _ => {}
        }
    }
}

/// Which values of a service are already known (from flags); the others are asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct Known {
    pub runtime: Option<Runtime>,
    pub owns: Option<Vec<String>>,
    pub datastore: Option<Datastore>,
    pub apis: Option<Vec<String>>,
    pub calls: Option<Vec<String>>,
}

/// The questions for one service: runtime, owned data, datastore, APIs, calls. Every answer
/// is checked at once by the real rules on the whole file with the answer in it
/// (`render`), so a datum another service owns or a colliding API prefix is refused at
/// the prompt, with the reason, and asked again.
pub(crate) fn ask_service(
    theme: &dyn Theme,
    mut svc: ServiceDraft,
    known: &Known,
    others: &[String],
    render: &dyn Fn(Option<&ServiceDraft>) -> String,
) -> Result<ServiceDraft, Error> {
    let check = |svc: &ServiceDraft, change: &dyn Fn(&mut ServiceDraft)| {
        let mut candidate = svc.clone();
        change(&mut candidate);
        let problems = new_errors(&render(Some(svc)), &render(Some(&candidate)));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    };
    match known.runtime {
        Some(r) => svc.runtime = r,
        None => {
            let names: Vec<&str> = Runtime::ALL.iter().map(|(n, _)| *n).collect();
            let i = answer(
                Select::with_theme(theme)
                    .with_prompt(format!("Runtime of {}", svc.name))
                    .items(&names)
                    .default(index_of(svc.runtime))
                    .interact(),
            )?;
            svc.runtime = Runtime::ALL[i].1;
        }
    }
    match &known.owns {
        Some(o) => svc.owns.clone_from(o),
        None => {
            let typed: String = answer(
                Input::with_theme(theme)
                    .with_prompt("Data it owns (comma-separated, e.g. trips, routes; empty: none)")
                    .with_initial_text(svc.owns.join(", "))
                    .allow_empty(true)
                    .validate_with(|v: &String| {
                        check(&svc, &|c| c.owns = split_list(&[v.as_str()]))
                    })
                    .interact_text(),
            )?;
            svc.owns = split_list(&[typed]);
        }
    }
    match known.datastore {
        Some(d) => svc.datastore = d,
        None => {
            let names: Vec<&str> = Datastore::ALL.iter().map(|(n, _)| *n).collect();
            let default = if svc.owns.is_empty() {
                Datastore::None
            } else {
                Datastore::Postgres
            };
            loop {
                let i = answer(
                    Select::with_theme(theme)
                        .with_prompt("Its own datastore (database per service)")
                        .items(&names)
                        .default(index_of(default))
                        .interact(),
                )?;
                let chosen = Datastore::ALL[i].1;
                match check(&svc, &|c| c.datastore = chosen) {
                    Ok(()) => {
                        svc.datastore = chosen;
                        break;
                    }
                    Err(problem) => print_problems(&[problem]),
                }
            }
        }
    }
    match &known.apis {
        Some(a) => svc.apis.clone_from(a),
        None => {
            let typed: String = answer(
                Input::with_theme(theme)
                    .with_prompt(
                        "Public API prefixes (comma-separated, e.g. /trips; empty: internal only)",
                    )
                    .with_initial_text(svc.apis.join(", "))
                    .allow_empty(true)
                    .validate_with(|v: &String| {
                        check(&svc, &|c| c.apis = split_list(&[v.as_str()]))
                    })
                    .interact_text(),
            )?;
            svc.apis = split_list(&[typed]);
        }
    }
    match &known.calls {
        Some(c) => svc.calls.clone_from(c),
        None if others.is_empty() => {}
        None => {
            let checked: Vec<bool> = others.iter().map(|o| svc.calls.contains(o)).collect();
            let picked = answer(
                MultiSelect::with_theme(theme)
                    .with_prompt("Services it calls (space selects, enter confirms)")
                    .items(others)
                    .defaults(&checked)
                    .interact(),
            )?;
            svc.calls = picked.into_iter().map(|i| others[i].clone()).collect();
        }
    }
    Ok(svc)
}

fn index_of<T: Choice + PartialEq>(v: T) -> usize {
    T::ALL.iter().position(|(_, x)| *x == v).unwrap_or(0)
}

fn service(global: &GlobalArgs, args: &AddServiceArgs) -> Result<ExitStatus, Error> {
    set_colors(global);
    let path = super::locate(global)?;
    let old = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let name = super::display_path(&path);
    let (source, diagnostics) = diagnose(&name, old.clone());
    let Ok(doc) = old.parse::<DocumentMut>() else {
        return Err(invalid(
            &source,
            &diagnostics,
            format!("{name} is not valid TOML; fix it before adding to it"),
        ));
    };
    // toml_edit would replace a table of the same name: refuse first, pointing at it.
    let (spec, _) = crate::spec::parse(&source);
    if let Some(existing) = spec
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
    append_service(&mut doc.clone(), &draft)?;
    let render = |svc: Option<&ServiceDraft>| -> String {
        let mut d = doc.clone();
        if let Some(svc) = svc {
            let _ = append_service(&mut d, svc);
        }
        d.to_string()
    };

    let ask = args.runtime.is_none() && !args.no_input && interactive();
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
    check_or_refuse(&name, &args.name, &old, &render(Some(&draft)))?;
    if ask {
        let theme = theme();
        let others: Vec<String> = spec
            .as_ref()
            .map(|s| s.services.iter().map(|s| s.name.value.clone()).collect())
            .unwrap_or_default();
        draft = ask_service(&*theme, draft, &known, &others, &render)?;
        anstream::eprintln!("\n{}", table_text(&draft));
        let go = answer(
            Confirm::with_theme(&*theme)
                .with_prompt(format!("Add this to {name}?"))
                .default(true)
                .interact(),
        )?;
        if !go {
            anstream::println!("Nothing written.");
            return Ok(ExitStatus::Success);
        }
    }

    let new = render(Some(&draft));
    let (after, diagnostics) = check_or_refuse(&name, &args.name, &old, &new)?;
    let (_, before) = diagnose(&name, old);
    let warnings = fresh_warnings(&before, &diagnostics);
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
            table_text(&draft)
        );
    }
    anstream::println!(
        "Next: `bulkhead plan` shows the files it brings, `bulkhead apply` writes them."
    );
    Ok(ExitStatus::Success)
}

/// The table as it lands in the file.
fn table_text(svc: &ServiceDraft) -> String {
    let mut doc = DocumentMut::new();
    let mut services = Table::new();
    services.set_implicit(true);
    services.insert(&svc.name, Item::Table(svc.table()));
    doc.insert("services", Item::Table(services));
    doc.to_string()
}

/// `text` (the file `old` with the service added) parsed and checked; its errors, if
/// any, refuse the addition.
fn check_or_refuse(
    name: &str,
    service: &str,
    old: &str,
    text: &str,
) -> Result<(Source, Vec<Diagnostic>), Error> {
    let (source, diagnostics) = diagnose(name, text.to_string());
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let (spec, _) = crate::spec::parse(&source);
    let present = spec.is_some_and(|s| s.services.iter().any(|s| s.name.value == service));
    if errors == 0 && !present {
        return Err(Error::Message(format!(
            "could not add service `{service}` to the layout of {name}; add it by hand"
        )));
    }
    if errors > 0 {
        let errors_only: Vec<Diagnostic> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect();
        let count = if errors == 1 {
            "1 error".to_string()
        } else {
            format!("{errors} errors")
        };
        let summary = if new_errors(old, text).is_empty() {
            format!(
                "not added: {name} is invalid already ({count}); fix it first (`bulkhead validate`)"
            )
        } else {
            format!(
                "not added: with service `{service}`, {name} would be invalid ({count}); nothing written"
            )
        };
        return Err(invalid(&source, &errors_only, summary));
    }
    Ok((source, diagnostics))
}

/// Warnings of `after` that `before` did not have (the ones the new service brings).
fn fresh_warnings(before: &[Diagnostic], after: &[Diagnostic]) -> Vec<Diagnostic> {
    let mut old: Vec<(&str, Option<&str>)> = before
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| (d.message.as_str(), d.label.as_deref()))
        .collect();
    after
        .iter()
        .filter(|d| !d.is_error())
        .filter(|d| {
            let key = (d.message.as_str(), d.label.as_deref());
            match old.iter().position(|k| *k == key) {
                Some(i) => {
                    old.remove(i);
                    false
                }
                None => true,
            }
        })
        .cloned()
        .collect()
}

fn invalid(source: &Source, diagnostics: &[Diagnostic], summary: String) -> Error {
    Error::Invalid {
        rendered: source.render(diagnostics, true),
        summary,
    }
}
