//! Writing service.toml: a new, commented file, or an existing one changed (a service
//! added) with every comment, blank line and table order kept. Built on toml_edit, so every
//! value is escaped by the TOML writer, never pasted into text. It sits beside the reader
//! because it writes the same format; like the reader it knows no rule (`validate` judges
//! the result) and never asks anything (`prompts` does).

use std::fmt;

use toml_edit::{Array, DocumentMut, Item, Table, value};

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

    /// Appends `[services.NAME]` right after the last table under `services` (its
    /// per-environment sub-tables included) and before whatever follows them.
    pub fn add_service(&mut self, svc: &ServiceDraft) -> Result<(), Error> {
        self.append(Section::Services, &svc.name, svc.table())
    }

    /// Inserts `table` as `[SECTION.NAME]` after the section's last table; nothing else in
    /// the document changes.
    fn append(&mut self, section: Section, name: &str, mut table: Table) -> Result<(), Error> {
        let key = section.key();
        let root = self.doc.as_table_mut();
        let last = root.get(key).and_then(|item| match item {
            Item::Table(t) => max_position(t),
            _ => None,
        });
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

/// The sections of `[NAME]` tables the editor adds to.
#[derive(Debug, Clone, Copy)]
enum Section {
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
        let mut doc = DocumentMut::new();
        let mut services = Table::new();
        services.set_implicit(true);
        services.insert(&self.name, Item::Table(self.table()));
        doc.insert("services", Item::Table(services));
        doc.to_string()
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
