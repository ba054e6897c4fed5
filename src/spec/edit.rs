//! Writing service.toml: a new, commented file, or an existing one changed (a service
//! added) with every comment, blank line and table order kept. Built on toml_edit, so every
//! value is escaped by the TOML writer, never pasted into text. It sits beside the reader
//! because it writes the same format; like the reader it knows no rule (`validate` judges
//! the result) and never asks anything (`prompts` does).

use std::fmt;

use toml_edit::{Array, DocumentMut, Item, Table, value};

use crate::diagnostic::Span;
use crate::error::Error;
use crate::spec::{Choice, Datastore, Mesh, Runtime};

const HEADER: &str = "\
# service.toml: the one file bulkhead generates this platform from.
#
# It describes the platform, its environments (in promotion order) and its services, one
# per domain boundary: the data each owns, its public APIs, whom it calls. From it bulkhead
# generates Dockerfiles, Kubernetes manifests (Kustomize and Helm), mesh policies, CI
# workflows, Argo CD applications, dashboards and alerts.
#
#   bulkhead validate                        check this file against every rule
#   bulkhead plan                            show what would be generated, as diffs
#   bulkhead apply                           write it
#   bulkhead add service NAME --runtime go   add a service, keeping these comments
#
# Every key and its default: docs/service-toml.md in the bulkhead repository.
";

const PLATFORM_COMMENT: &str = "
# The platform: `name` prefixes every namespace and the Argo CD project, images are pushed
# to `{registry}/{service}`, Argo CD syncs from `repository`. More keys (revision, deploy,
# ci, blueprints, external_topics, vars): docs/service-toml.md#platform-required
";

const ENVIRONMENTS_COMMENT: &str = "
# Environments, in promotion order; the last one is production. Each may set namespace,
# cluster, host, replicas, auto_sync and tls_secret:
# docs/service-toml.md#environmentsname-at-least-one
";

const SERVICES_COMMENT: &str = "
# Services, one per domain boundary. `owns` lists the data only this service keeps (database
# per service), `apis` its public route prefixes, `calls` the services it calls. More keys
# (port, publishes, consumes, health, resources, autoscale, release, resilience, slo, env,
# secrets, per-environment overrides): docs/service-toml.md#servicesname-at-least-one
";

/// A service.toml being edited.
#[derive(Debug, Clone)]
pub struct SpecMut {
    doc: DocumentMut,
    /// Written from scratch: the first table of each section gets the comment that
    /// introduces the section. An existing file keeps its own comments.
    new_file: bool,
}

impl SpecMut {
    /// A new file: the header comment and an empty `[platform]`, introduced by a comment
    /// pointing at the docs.
    pub fn new() -> Self {
        let mut doc = DocumentMut::new();
        doc.decor_mut().set_prefix(HEADER);
        let mut platform = Table::new();
        platform.decor_mut().set_prefix(PLATFORM_COMMENT);
        doc.insert("platform", Item::Table(platform));
        Self {
            doc,
            new_file: true,
        }
    }

    /// An existing file, to be changed where asked and nowhere else.
    pub fn parse(text: &str) -> Result<Self, toml_edit::TomlError> {
        Ok(Self {
            doc: text.parse()?,
            new_file: false,
        })
    }

    /// Sets the string `platform.KEY`: in place when it is there (its comments stay), else
    /// after the keys already set.
    pub fn set_platform(&mut self, key: &str, text: &str) -> Result<(), Error> {
        let Some(platform) = self
            .doc
            .entry("platform")
            .or_insert_with(|| Item::Table(Table::new()))
            .as_table_like_mut()
        else {
            return Err(Error::Message(
                "`platform` in service.toml is not a table; set the key by hand".into(),
            ));
        };
        match platform.get_mut(key) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = text.into();
                *old.decor_mut() = decor;
            }
            _ => {
                platform.insert(key, value(text));
            }
        }
        Ok(())
    }

    /// Sets `rev` of `platform.blueprints = { git = ..., rev = ... }` in place: the table's
    /// layout and every comment stay.
    pub fn set_blueprints_rev(&mut self, rev: &str) -> Result<(), Error> {
        let Some(pin) = self
            .doc
            .get_mut("platform")
            .and_then(Item::as_table_like_mut)
            .and_then(|p| p.get_mut("blueprints"))
            .and_then(Item::as_table_like_mut)
        else {
            return Err(Error::Message(
                "`platform.blueprints` in service.toml is not a table; set `rev` by hand".into(),
            ));
        };
        match pin.get_mut("rev") {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = rev.into();
                *old.decor_mut() = decor;
            }
            _ => {
                pin.insert("rev", value(rev));
            }
        }
        Ok(())
    }

    /// Appends an empty `[environments.NAME]`, after the environments already there.
    pub fn add_environment(&mut self, name: &str) -> Result<(), Error> {
        self.append(Section::Environments, name, Table::new())
    }

    /// Inserts `[environments.NAME]` where `place` says: the file order of the
    /// environments is their promotion order.
    pub fn insert_environment(
        &mut self,
        env: &EnvironmentDraft,
        place: &Place,
    ) -> Result<(), Error> {
        let section = Section::Environments;
        match place {
            Place::Last => self.append(section, &env.name, env.table()),
            Place::After(anchor) => {
                let last = self.named(section, anchor)?.and_then(max_position);
                self.insert_after(section, &env.name, env.table(), last)
            }
            Place::First => self.insert_first(section, &env.name, env.table()),
        }
    }

    /// The names under `[SECTION]`, in file order.
    pub fn names(&self, section: Section) -> Vec<String> {
        let Some(Item::Table(tables)) = self.doc.get(section.key()) else {
            return Vec::new();
        };
        let mut named: Vec<(Option<isize>, usize, String)> = tables
            .iter()
            .enumerate()
            .map(|(i, (k, item))| {
                let at = match item {
                    Item::Table(t) => first_position(t),
                    _ => None,
                };
                (at, i, k.to_string())
            })
            .collect();
        named.sort();
        named.into_iter().map(|(_, _, k)| k).collect()
    }

    /// `[SECTION.NAME]` as a table, `None` when it is written another way (inline).
    fn named(&self, section: Section, name: &str) -> Result<Option<&Table>, Error> {
        let tables = self.doc.get(section.key()).and_then(Item::as_table_like);
        match tables.and_then(|t| t.get(name)) {
            None => Err(Error::Message(format!(
                "there is no {} `{name}`",
                section.what()
            ))),
            Some(item) => Ok(item.as_table()),
        }
    }

    /// Removes `[services.NAME]` with everything under it (its per-environment
    /// overrides). The comment that introduces the service (the lines right above its
    /// tables) goes with it; comments above that, separated by a blank line, stay where
    /// they were, above whatever now follows.
    pub fn remove_service(&mut self, name: &str) -> Result<(), Error> {
        let section = Section::Services;
        let Some(tables) = self
            .doc
            .get_mut(section.key())
            .and_then(Item::as_table_like_mut)
        else {
            return Err(Error::Message(format!("there is no service `{name}`")));
        };
        let Some(removed) = tables.remove(name) else {
            return Err(Error::Message(format!("there is no service `{name}`")));
        };
        // What the removed tables leave behind, by position: the text above each one's own
        // comment.
        let mut left: Vec<(isize, String)> = Vec::new();
        if let Item::Table(mut t) = removed {
            each_table(&mut t, &mut |t| {
                if let (Some(p), false, false) = (t.position(), t.is_implicit(), t.is_dotted()) {
                    let prefix = t.decor().prefix().and_then(|r| r.as_str()).unwrap_or("");
                    let (above, _own) = split_prefix(prefix, section.comment());
                    left.push((p, above.to_string()));
                }
            });
        }
        left.sort();
        for (p, above) in left {
            // Only the blank line that set the removed table apart: it goes with it.
            if above.trim().is_empty() {
                continue;
            }
            let mut next: Option<isize> = None;
            each_table(self.doc.as_table_mut(), &mut |t| {
                if let (Some(q), false, false) = (t.position(), t.is_implicit(), t.is_dotted())
                    && q > p
                    && next.is_none_or(|n| q < n)
                {
                    next = Some(q);
                }
            });
            let join = |rest: &str| format!("{above}{}", rest.strip_prefix('\n').unwrap_or(rest));
            match next {
                Some(q) => each_table(self.doc.as_table_mut(), &mut |t| {
                    if t.position() == Some(q) && !t.is_implicit() && !t.is_dotted() {
                        let prefix = t.decor().prefix().and_then(|r| r.as_str()).unwrap_or("");
                        let joined = join(prefix);
                        t.decor_mut().set_prefix(joined);
                    }
                }),
                None => {
                    let trailing = self.doc.trailing().as_str().unwrap_or("").to_string();
                    self.doc.set_trailing(join(&trailing));
                }
            }
        }
        Ok(())
    }

    /// Appends `[services.NAME]` right after the last table under `services` (its
    /// per-environment sub-tables included) and before whatever follows them.
    pub fn add_service(&mut self, svc: &ServiceDraft) -> Result<(), Error> {
        self.append(Section::Services, &svc.name, svc.table())
    }

    /// Inserts `table` as `[SECTION.NAME]` after the section's last table; nothing else in
    /// the document changes.
    fn append(&mut self, section: Section, name: &str, table: Table) -> Result<(), Error> {
        let last = self.doc.get(section.key()).and_then(|item| match item {
            Item::Table(t) => max_position(t),
            _ => None,
        });
        self.insert_after(section, name, table, last)
    }

    /// Inserts `table` as `[SECTION.NAME]` right after the table at position `last` (with
    /// the comment lines right under it), or at the end of the file.
    fn insert_after(
        &mut self,
        section: Section,
        name: &str,
        mut table: Table,
        last: Option<isize>,
    ) -> Result<(), Error> {
        let key = section.key();
        let root = self.doc.as_table_mut();
        let position = match last {
            Some(last) => {
                // Make room: every table after the section's last moves one place down.
                each_table(root, &mut |t| {
                    if let Some(p) = t.position().filter(|p| *p > last) {
                        t.set_position(Some(p + 1));
                    }
                });
                Some(last + 1)
            }
            None => max_position(root).map(|p| p + 1),
        };
        let tables = root.entry(key).or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        });
        let Item::Table(tables) = tables else {
            return Err(Error::Message(format!(
                "`{key}` in service.toml is not a table of [{key}.NAME] tables; add the {} by hand",
                section.what()
            )));
        };
        if tables.contains_key(name) {
            return Err(Error::Message(format!(
                "{} `{name}` already exists",
                section.what()
            )));
        }
        table.set_position(position);
        if self.new_file && tables.is_empty() {
            table.decor_mut().set_prefix(section.comment());
        } else if position.is_some() || !tables.is_empty() {
            table.decor_mut().set_prefix("\n");
        }
        tables.insert(name, Item::Table(table));
        if let Some(last) = last {
            keep_comments_with_the_last_table(&mut self.doc, key, name, last);
        }
        Ok(())
    }
}

impl SpecMut {
    /// Inserts `table` as the first `[SECTION.NAME]`, before the section's first table: the
    /// comments above that table, except its own paragraph, now introduce the new one.
    fn insert_first(
        &mut self,
        section: Section,
        name: &str,
        mut table: Table,
    ) -> Result<(), Error> {
        let key = section.key();
        let first = match self.doc.get(key) {
            Some(Item::Table(t)) => {
                if t.contains_key(name) {
                    return Err(Error::Message(format!(
                        "{} `{name}` already exists",
                        section.what()
                    )));
                }
                t.iter()
                    .filter_map(|(_, item)| item.as_table().and_then(first_position))
                    .min()
            }
            _ => None,
        };
        let Some(first) = first else {
            return self.append(section, name, table);
        };
        let mut above = String::new();
        each_table(self.doc.as_table_mut(), &mut |t| {
            if let Some(p) = t.position().filter(|p| *p >= first) {
                if p == first && !t.is_implicit() && !t.is_dotted() {
                    let prefix = t.decor().prefix().and_then(|r| r.as_str()).unwrap_or("");
                    let (a, own) = split_prefix(prefix, section.comment());
                    above = a.to_string();
                    let own = format!("\n{own}");
                    t.decor_mut().set_prefix(own);
                }
                t.set_position(Some(p + 1));
            }
        });
        if above.is_empty() {
            above.push('\n');
        }
        table.set_position(Some(first));
        table.decor_mut().set_prefix(above);
        match self.doc.get_mut(key) {
            Some(Item::Table(tables)) => {
                tables.insert(name, Item::Table(table));
                Ok(())
            }
            _ => Err(Error::Message(format!(
                "`{key}` in service.toml is not a table"
            ))),
        }
    }
}

impl Default for SpecMut {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SpecMut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.doc.fmt(f)
    }
}

/// Where a new environment goes in the promotion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// After the environments already there: it becomes the last one (production).
    Last,
    /// Right after this environment.
    After(String),
    /// Before every other environment.
    First,
}

/// The sections of `[NAME]` tables the editor adds to.
#[derive(Debug, Clone, Copy)]
pub enum Section {
    Environments,
    Services,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Self::Environments => "environments",
            Self::Services => "services",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Environments => "environment",
            Self::Services => "service",
        }
    }

    fn comment(self) -> &'static str {
        match self {
            Self::Environments => ENVIRONMENTS_COMMENT,
            Self::Services => SERVICES_COMMENT,
        }
    }
}

/// Comment lines right under a section's last table (`# end of services`, before a blank
/// line) are stored by toml_edit as the start of the next table's prefix (or of the
/// trailing text): they move into the new table's prefix so that they stay where they
/// were, above the new table, and the text after them is untouched.
fn keep_comments_with_the_last_table(
    doc: &mut DocumentMut,
    section: &str,
    name: &str,
    last: isize,
) {
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
        .get_mut(section)
        .and_then(|s| s.as_table_mut())
        .and_then(|s| s.get_mut(name))
    {
        t.decor_mut().set_prefix(format!("{above}\n"));
    }
}

/// A table's prefix split into the text above its own comment (up to and including the
/// last blank line; the whole prefix when it ends with the section's introduction, which
/// `init` writes right above the first table) and its own comment: the paragraph right
/// above the header.
fn split_prefix<'a>(prefix: &'a str, section_comment: &str) -> (&'a str, &'a str) {
    let intro = section_comment.trim_start_matches('\n');
    if prefix.ends_with(intro) {
        return (prefix, "");
    }
    let mut at = 0;
    let mut split = 0;
    for line in prefix.split_inclusive('\n') {
        at += line.len();
        if line.trim().is_empty() {
            split = at;
        }
    }
    prefix.split_at(split)
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

fn first_position(t: &Table) -> Option<isize> {
    let mut min = t.position().filter(|_| !t.is_implicit());
    for (_, item) in t.iter() {
        if let Item::Table(c) = item {
            let child = first_position(c);
            min = match (min, child) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    min
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

/// Where each line of an edited text was in the text it was made from, so that what is
/// found in the edited text can be shown at its place in the file on disk.
#[derive(Debug, Clone)]
pub struct Origins {
    /// Each line of the edited text (its span there) and where it starts in the original,
    /// `None` for a line the edit added.
    lines: Vec<(Span, Option<usize>)>,
    /// The original's lines that the edit removed (1-based).
    removed: Vec<usize>,
}

impl Origins {
    pub fn new(old: &str, new: &str) -> Self {
        use similar::{Algorithm, ChangeTag, TextDiff};
        let diff = TextDiff::configure()
            .algorithm(Algorithm::Patience)
            .diff_lines(old, new);
        let (mut at_old, mut at_new) = (0, 0);
        let mut lines = Vec::new();
        let mut removed = Vec::new();
        for change in diff.iter_all_changes() {
            let len = change.value().len();
            match change.tag() {
                ChangeTag::Equal => {
                    lines.push((at_new..at_new + len, Some(at_old)));
                    at_old += len;
                    at_new += len;
                }
                ChangeTag::Insert => {
                    lines.push((at_new..at_new + len, None));
                    at_new += len;
                }
                ChangeTag::Delete => {
                    removed.push(change.old_index().map_or(0, |i| i + 1));
                    at_old += len;
                }
            }
        }
        Self { lines, removed }
    }

    fn line(&self, offset: usize) -> Option<&(Span, Option<usize>)> {
        // The end of the text belongs to the last line.
        self.lines
            .iter()
            .find(|(s, _)| s.contains(&offset))
            .or_else(|| self.lines.last().filter(|(s, _)| s.end == offset))
    }

    /// `span` of the edited text in the original, when it starts on a kept line (an end on
    /// another line is cut at the end of the first).
    pub fn original(&self, span: &Span) -> Option<Span> {
        let (line, from) = self.line(span.start)?;
        let from = (*from)?;
        let start = from + (span.start - line.start);
        let end = from + (span.end.min(line.end).max(span.start) - line.start);
        Some(start..end)
    }

    /// Whether `span` starts on a line the edit added.
    pub fn is_added(&self, span: &Span) -> bool {
        self.line(span.start)
            .is_some_and(|(_, from)| from.is_none())
    }

    /// The added lines, in order.
    pub fn added(&self) -> impl Iterator<Item = &Span> {
        self.lines
            .iter()
            .filter(|(_, from)| from.is_none())
            .map(|(s, _)| s)
    }

    /// The original's removed lines as ranges of line numbers (1-based, inclusive).
    pub fn removed_lines(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for &n in &self.removed {
            match out.last_mut() {
                Some((_, end)) if *end + 1 == n => *end = n,
                _ => out.push((n, n)),
            }
        }
        out
    }
}

/// A platform as `init` writes it; `None` for what is not answered yet.
#[derive(Debug, Clone)]
pub struct PlatformDraft {
    pub name: Option<String>,
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub domain: Option<String>,
    pub mesh: Mesh,
    pub environments: Vec<String>,
    pub services: Vec<ServiceDraft>,
}

impl PlatformDraft {
    pub fn empty() -> Self {
        Self {
            name: None,
            registry: None,
            repository: None,
            domain: None,
            mesh: Mesh::Istio,
            environments: Vec::new(),
            services: Vec::new(),
        }
    }

    /// The new, commented file: a header, then `[platform]`, the environments and the
    /// services, each section introduced by a comment pointing at the docs. A name given
    /// twice keeps its first table (whoever fills a draft refuses duplicates first).
    pub fn document(&self) -> SpecMut {
        let mut doc = SpecMut::new();
        let keys = [
            ("name", &self.name),
            ("registry", &self.registry),
            ("repository", &self.repository),
            ("domain", &self.domain),
            ("mesh", &Some(self.mesh.as_str().to_string())),
        ];
        for (key, v) in keys {
            if let Some(v) = v {
                doc.set_platform(key, v)
                    .expect("a new file's `platform` is a table");
            }
        }
        for env in &self.environments {
            let _ = doc.add_environment(env);
        }
        for svc in &self.services {
            let _ = doc.add_service(svc);
        }
        doc
    }

    pub fn text(&self) -> String {
        self.document().to_string()
    }
}

/// A service as `init` and `add` write it: the keys they can set, defaults left out.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDraft {
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

    /// `[services.NAME]` and its keys, as the table lands in a file.
    pub fn text(&self) -> String {
        section_text(Section::Services, &self.name, self.table())
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

/// An environment as `add environment` writes it: the keys given, defaults left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentDraft {
    pub name: String,
    pub namespace: Option<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    pub replicas: Option<u32>,
    pub auto_sync: Option<bool>,
    pub tls_secret: Option<String>,
}

impl EnvironmentDraft {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The body of `[environments.NAME]`, keys in the order of docs/service-toml.md.
    pub fn table(&self) -> Table {
        let mut t = Table::new();
        for (key, v) in [
            ("namespace", &self.namespace),
            ("cluster", &self.cluster),
            ("host", &self.host),
        ] {
            if let Some(v) = v {
                t[key] = value(v.as_str());
            }
        }
        if let Some(n) = self.replicas {
            t["replicas"] = value(i64::from(n));
        }
        if let Some(b) = self.auto_sync {
            t["auto_sync"] = value(b);
        }
        if let Some(s) = &self.tls_secret {
            t["tls_secret"] = value(s.as_str());
        }
        t
    }

    /// `[environments.NAME]` and its keys, as the table lands in a file.
    pub fn text(&self) -> String {
        section_text(Section::Environments, &self.name, self.table())
    }
}

fn section_text(section: Section, name: &str, table: Table) -> String {
    let mut doc = DocumentMut::new();
    let mut tables = Table::new();
    tables.set_implicit(true);
    tables.insert(name, Item::Table(table));
    doc.insert(section.key(), Item::Table(tables));
    doc.to_string()
}

fn list(t: &mut Table, key: &str, items: &[String]) {
    if !items.is_empty() {
        t[key] = value(items.iter().map(String::as_str).collect::<Array>());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> PlatformDraft {
        PlatformDraft {
            name: Some("demo".into()),
            registry: Some("ghcr.io/acme".into()),
            repository: Some("https://github.com/acme/demo.git".into()),
            domain: None,
            mesh: Mesh::Istio,
            environments: vec!["dev".into(), "prod".into()],
            services: vec![
                ServiceDraft::new("api", Runtime::Go),
                ServiceDraft::new("worker", Runtime::Python),
            ],
        }
    }

    #[test]
    fn a_new_file_introduces_each_section_once() {
        let text = draft().text();
        let body = text.strip_prefix(HEADER).expect("the header comes first");
        let expected = format!(
            "{PLATFORM_COMMENT}[platform]\nname = \"demo\"\nregistry = \"ghcr.io/acme\"\n\
             repository = \"https://github.com/acme/demo.git\"\nmesh = \"istio\"\n\
             {ENVIRONMENTS_COMMENT}[environments.dev]\n\n[environments.prod]\n\
             {SERVICES_COMMENT}[services.api]\nruntime = \"go\"\n\n\
             [services.worker]\nruntime = \"python\"\n"
        );
        assert_eq!(body, expected);
    }

    #[test]
    fn a_draft_escapes_what_it_writes() {
        let mut draft = draft();
        draft.services = vec![ServiceDraft::new("a \"quoted\"\nname", Runtime::Go)];
        let source = crate::diagnostic::Source {
            name: "t".into(),
            text: draft.text(),
        };
        // toml_edit escapes the key; the rules reject the name, nothing else breaks.
        let checked = crate::load::load(&source);
        assert!(checked.spec.is_some());
        assert!(
            checked.errors().count() > 0
                && checked.errors().all(|d| d.message.contains("DNS-1123")),
            "{:?}",
            checked.diagnostics
        );
    }

    #[test]
    fn setting_a_platform_key_keeps_its_comments_and_place() {
        let text = "# top\n[platform]  # here\nname = \"a\"   # the name\nmesh = \"none\"\n";
        let mut doc = SpecMut::parse(text).unwrap();
        doc.set_platform("name", "b").unwrap();
        doc.set_platform("domain", "x.example.com").unwrap();
        assert_eq!(
            doc.to_string(),
            "# top\n[platform]  # here\nname = \"b\"   # the name\nmesh = \"none\"\n\
             domain = \"x.example.com\"\n"
        );
    }

    #[test]
    fn removing_the_first_service_of_a_new_file_keeps_the_section_comment() {
        let text = draft().text();
        let mut doc = SpecMut::parse(&text).unwrap();
        doc.remove_service("api").unwrap();
        let expected = text.replace("[services.api]\nruntime = \"go\"\n\n", "");
        assert_eq!(doc.to_string(), expected);
        assert!(expected.contains(&format!("{SERVICES_COMMENT}[services.worker]")));
        let err = doc.remove_service("api").unwrap_err();
        assert_eq!(err.to_string(), "there is no service `api`");
    }

    #[test]
    fn an_environment_goes_first_under_the_section_comment() {
        let text = draft().text();
        let mut doc = SpecMut::parse(&text).unwrap();
        doc.insert_environment(&EnvironmentDraft::new("local"), &Place::First)
            .unwrap();
        assert!(
            doc.to_string().contains(&format!(
                "{ENVIRONMENTS_COMMENT}[environments.local]\n\n[environments.dev]\n\n[environments.prod]\n"
            )),
            "{doc}"
        );
        assert_eq!(doc.names(Section::Environments), ["local", "dev", "prod"]);
    }

    #[test]
    fn origins_map_kept_lines_and_tell_added_ones() {
        let old = "a\nb\nc\n";
        let new = "a\nb\nx = 1\nc\n";
        let o = Origins::new(old, new);
        assert_eq!(o.original(&(10..11)), Some(4..5)); // `c`
        assert!(o.is_added(&(4..5)));
        assert_eq!(o.original(&(4..5)), None);
        let o = Origins::new(new, old);
        assert_eq!(o.removed_lines(), [(3, 3)]);
    }

    #[test]
    fn an_environment_goes_after_the_last_one_and_a_name_only_once() {
        let text = "[platform]\nname = \"a\"\n\n[environments.dev]\nreplicas = 1\n\n\
                    [services.api]\nruntime = \"go\"\n";
        let mut doc = SpecMut::parse(text).unwrap();
        doc.add_environment("prod").unwrap();
        assert_eq!(
            doc.to_string(),
            "[platform]\nname = \"a\"\n\n[environments.dev]\nreplicas = 1\n\n\
             [environments.prod]\n\n[services.api]\nruntime = \"go\"\n"
        );
        let err = doc.add_environment("dev").unwrap_err();
        assert_eq!(err.to_string(), "environment `dev` already exists");
        let err = doc
            .add_service(&ServiceDraft::new("api", Runtime::Go))
            .unwrap_err();
        assert_eq!(err.to_string(), "service `api` already exists");
    }
}
