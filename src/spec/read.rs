//! Walks the parsed TOML document into `Spec`, checking types and keys as it goes and
//! collecting every problem instead of stopping at the first (serde would stop).

use std::collections::BTreeSet;
use toml_edit::{Document, Item, TableLike, Value};

use super::{
    AutoscaleSpec, BlueprintsSpec, Choice, EnvironmentSpec, GatewaySpec, GitBlueprintsSpec,
    HealthSpec, PlatformSpec, ReleaseSpec, ResilienceSpec, ResourcesSpec, ServiceEnvSpec,
    ServiceSpec, SloSpec, Spanned, Spec, StepSpec, TlsSpec,
};
use crate::diagnostic::{Diagnostic, Source, Span, did_you_mean};

pub(crate) const TOP_KEYS: &[&str] = &["platform", "environments", "services"];
pub(crate) const PLATFORM_KEYS: &[&str] = &[
    "name",
    "registry",
    "repository",
    "revision",
    "domain",
    "mesh",
    "deploy",
    "ci",
    "blueprints",
    "external_topics",
    "gateway",
    "tls",
    "vars",
];
/// The keys of `platform.blueprints` in its Git form. The key is a string or this table,
/// so it is not a table of `TABLES`.
pub const BLUEPRINTS_GIT_KEYS: &[&str] = &["git", "rev", "path"];
pub(crate) const GATEWAY_KEYS: &[&str] = &["namespace", "labels", "service_account"];
pub(crate) const TLS_KEYS: &[&str] = &["mode", "issuer", "issuer_kind"];
pub(crate) const ENVIRONMENT_KEYS: &[&str] = &[
    "namespace",
    "cluster",
    "host",
    "replicas",
    "auto_sync",
    "tls_secret",
];
pub(crate) const SERVICE_KEYS: &[&str] = &[
    "description",
    "runtime",
    "port",
    "owns",
    "datastore",
    "apis",
    "calls",
    "egress",
    "publishes",
    "consumes",
    "health",
    "resources",
    "autoscale",
    "release",
    "resilience",
    "slo",
    "env",
    "secrets",
    "environments",
];
pub(crate) const SERVICE_ENV_KEYS: &[&str] =
    &["replicas", "resources", "autoscale", "env", "release"];
pub(crate) const HEALTH_KEYS: &[&str] = &["liveness", "readiness"];
pub(crate) const RESOURCES_KEYS: &[&str] = &["cpu", "memory", "cpu_limit", "memory_limit"];
pub(crate) const AUTOSCALE_KEYS: &[&str] = &["min", "max", "cpu", "memory", "backlog"];
pub(crate) const RELEASE_KEYS: &[&str] = &["strategy", "weight", "steps"];
/// The keys of one entry of `release.steps` (each entry holds exactly one of them). An
/// array's entries are not a table of `TABLES`.
pub(crate) const STEP_KEYS: &[&str] = &["weight", "pause", "analysis"];
pub(crate) const RESILIENCE_KEYS: &[&str] = &[
    "timeout",
    "retries",
    "consecutive_errors",
    "ejection",
    "max_connections",
    "idempotent",
];
pub(crate) const SLO_KEYS: &[&str] = &["availability", "latency_p95_ms"];

/// Every table of service.toml with the keys read here, by dotted path (`*` stands for a
/// name: an environment, a service). The JSON Schema (`schema.rs`) is tested against it.
pub const TABLES: &[(&str, &[&str])] = &[
    ("", TOP_KEYS),
    ("platform", PLATFORM_KEYS),
    ("platform.gateway", GATEWAY_KEYS),
    ("platform.tls", TLS_KEYS),
    ("environments.*", ENVIRONMENT_KEYS),
    ("services.*", SERVICE_KEYS),
    ("services.*.health", HEALTH_KEYS),
    ("services.*.resources", RESOURCES_KEYS),
    ("services.*.autoscale", AUTOSCALE_KEYS),
    ("services.*.release", RELEASE_KEYS),
    ("services.*.resilience", RESILIENCE_KEYS),
    ("services.*.slo", SLO_KEYS),
    ("services.*.environments.*", SERVICE_ENV_KEYS),
    ("services.*.environments.*.resources", RESOURCES_KEYS),
    ("services.*.environments.*.autoscale", AUTOSCALE_KEYS),
    ("services.*.environments.*.release", RELEASE_KEYS),
];

/// Parses service.toml. `None` when the syntax is broken (nothing else can be read);
/// otherwise the spec as far as it could be read, plus every type and key problem.
pub fn parse(source: &Source) -> (Option<Spec>, Vec<Diagnostic>) {
    let doc = match Document::parse(source.text.clone()) {
        Ok(doc) => doc,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            let message = err.message().trim().to_string();
            return (
                None,
                vec![Diagnostic::error(span, format!("invalid TOML: {message}"))],
            );
        }
    };
    let mut reader = Reader::default();
    let spec = reader.spec(source, doc.as_table());
    (Some(spec), reader.diagnostics)
}

/// A table being read: its entries, and the span to point at when a key is missing.
struct Table<'a> {
    table: &'a dyn TableLike,
    span: Span,
    /// Dotted path for messages, e.g. `services.api.autoscale`.
    path: String,
}

#[derive(Default)]
struct Reader {
    diagnostics: Vec<Diagnostic>,
    refused: BTreeSet<String>,
}

fn item_span(key_span: Option<Span>, item: &Item) -> Span {
    // Header tables span their whole body; the key is a better place for a caret.
    match item {
        Item::Value(v) => v.span().or(key_span).unwrap_or(0..0),
        _ => key_span.or_else(|| item.span()).unwrap_or(0..0),
    }
}

fn article(type_name: &str) -> &'static str {
    match type_name {
        "integer" | "inline table" | "array" | "array of tables" => "an",
        _ => "a",
    }
}

impl Reader {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    /// Reports keys of `t` that are not in `known`, with a suggestion.
    fn check_keys(&mut self, t: &Table<'_>, known: &[&str]) {
        for (key, item) in t.table.iter() {
            if known.contains(&key) {
                continue;
            }
            let span = t
                .table
                .key(key)
                .and_then(toml_edit::Key::span)
                .unwrap_or_else(|| item_span(None, item));
            let within = if t.path.is_empty() {
                "at the top level".to_string()
            } else {
                format!("in `[{}]`", t.path)
            };
            let help = did_you_mean(key, known.iter().copied())
                .unwrap_or_else(|| format!("known keys here: {}", known.join(", ")));
            self.error(
                Diagnostic::error(span, format!("unknown key `{key}` {within}"))
                    .label("not a known key")
                    .help(help),
            );
        }
    }

    fn entry<'a>(&self, t: &Table<'a>, key: &str) -> Option<(&'a Item, Span)> {
        let (k, item) = t.table.get_key_value(key)?;
        Some((item, item_span(k.span(), item)))
    }

    fn type_error(&mut self, t: &Table<'_>, key: &str, expected: &str, item: &Item, span: Span) {
        let found = item.type_name();
        self.error(
            Diagnostic::error(
                span,
                format!("`{}` must be {expected}", join_path(&t.path, key)),
            )
            .label(format!("found {} {found}", article(found))),
        );
    }

    fn string(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<String>> {
        let (item, span) = self.entry(t, key)?;
        match item.as_str() {
            Some(s) => Some(Spanned::new(s.to_string(), span)),
            None => {
                self.type_error(t, key, "a string", item, span);
                None
            }
        }
    }

    fn required_string(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<String>> {
        if t.table.get(key).is_none() {
            self.missing(t, key, "a string");
        }
        self.string(t, key)
    }

    fn missing(&mut self, t: &Table<'_>, key: &str, what: &str) {
        // A misspelt key is reported once, as unknown with its suggestion: not also missing.
        if t.table
            .iter()
            .any(|(k, _)| did_you_mean(k, [key]).is_some())
        {
            return;
        }
        self.error(
            Diagnostic::error(
                t.span.clone(),
                format!("`[{}]` is missing the required key `{key}`", t.path),
            )
            .help(format!("add `{key} = ...` ({what})")),
        );
    }

    fn integer(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<i64>> {
        let (item, span) = self.entry(t, key)?;
        match item.as_integer() {
            Some(i) => Some(Spanned::new(i, span)),
            None => {
                self.type_error(t, key, "an integer", item, span);
                None
            }
        }
    }

    fn number(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<f64>> {
        let (item, span) = self.entry(t, key)?;
        #[allow(clippy::cast_precision_loss)] // small integers like 99
        let number = item
            .as_float()
            .or_else(|| item.as_integer().map(|i| i as f64));
        match number {
            Some(f) => Some(Spanned::new(f, span)),
            None => {
                self.type_error(t, key, "a number", item, span);
                None
            }
        }
    }

    fn boolean(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<bool>> {
        let (item, span) = self.entry(t, key)?;
        match item.as_bool() {
            Some(b) => Some(Spanned::new(b, span)),
            None => {
                self.type_error(t, key, "true or false", item, span);
                None
            }
        }
    }

    fn choice<C: Choice>(&mut self, t: &Table<'_>, key: &str) -> Option<Spanned<C>> {
        let s = self.string(t, key)?;
        if let Some((_, c)) = C::ALL.iter().find(|(name, _)| *name == s.value) {
            return Some(Spanned::new(*c, s.span));
        }
        self.refused.insert(join_path(&t.path, key));
        let names: Vec<&str> = C::ALL.iter().map(|(n, _)| *n).collect();
        let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
        self.error(
            Diagnostic::error(s.span, format!("unknown {} `{}`", C::WHAT, s.value))
                .label(format!("expected one of {}", quoted.join(", ")))
                .help_opt(did_you_mean(&s.value, names)),
        );
        None
    }

    fn strings(&mut self, t: &Table<'_>, key: &str) -> Vec<Spanned<String>> {
        let Some((item, span)) = self.entry(t, key) else {
            return Vec::new();
        };
        let Some(array) = item.as_array() else {
            self.type_error(t, key, "an array of strings", item, span);
            return Vec::new();
        };
        let mut out = Vec::new();
        for value in array {
            let vspan = value.span().unwrap_or_else(|| span.clone());
            match value.as_str() {
                Some(s) => out.push(Spanned::new(s.to_string(), vspan)),
                None => self.error(
                    Diagnostic::error(
                        vspan,
                        format!(
                            "every entry of `{}` must be a string",
                            join_path(&t.path, key)
                        ),
                    )
                    .label(format!(
                        "found {} {}",
                        article(value.type_name()),
                        value.type_name()
                    )),
                ),
            }
        }
        out
    }

    fn subtable<'a>(&mut self, t: &Table<'a>, key: &str) -> Option<Table<'a>> {
        let (item, span) = self.entry(t, key)?;
        match item.as_table_like() {
            Some(table) => Some(Table {
                table,
                span,
                path: join_path(&t.path, key),
            }),
            None => {
                self.type_error(t, key, "a table", item, span);
                None
            }
        }
    }

    /// `key = { NAME = "value", ... }`: a table of strings, in file order.
    fn string_map(&mut self, t: &Table<'_>, key: &str) -> Vec<(Spanned<String>, Spanned<String>)> {
        let Some(sub) = self.subtable(t, key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, item) in sub.table.iter() {
            let kspan = sub
                .table
                .key(name)
                .and_then(toml_edit::Key::span)
                .unwrap_or_else(|| sub.span.clone());
            let span = item_span(Some(kspan.clone()), item);
            match item.as_str() {
                Some(v) => out.push((
                    Spanned::new(name.to_string(), kspan),
                    Spanned::new(v.to_string(), span),
                )),
                None => self.type_error(&sub, name, "a string", item, span),
            }
        }
        out
    }

    /// Child tables of a table keyed by name (`[services.<name>]`), in file order.
    fn named_tables<'a>(&mut self, t: &Table<'a>, what: &str) -> Vec<(Spanned<String>, Table<'a>)> {
        let mut out = Vec::new();
        for (name, item) in t.table.iter() {
            let kspan = t
                .table
                .key(name)
                .and_then(toml_edit::Key::span)
                .unwrap_or_else(|| t.span.clone());
            match item.as_table_like() {
                Some(table) => out.push((
                    Spanned::new(name.to_string(), kspan.clone()),
                    Table {
                        table,
                        span: kspan,
                        path: join_path(&t.path, name),
                    },
                )),
                None => {
                    let span = item_span(Some(kspan), item);
                    self.type_error(t, name, &format!("a table ({what})"), item, span);
                }
            }
        }
        out
    }

    fn spec(&mut self, source: &Source, root: &toml_edit::Table) -> Spec {
        let root = Table {
            table: root,
            span: 0..0,
            path: String::new(),
        };
        self.check_keys(&root, TOP_KEYS);

        let platform = match self.subtable(&root, "platform") {
            Some(t) => self.platform(&t),
            None => {
                if root.table.get("platform").is_none() {
                    self.error(
                        Diagnostic::error(0..0, "service.toml has no `[platform]` table")
                            .help("add `[platform]` with `name`, `registry` and `repository`"),
                    );
                }
                PlatformSpec::default()
            }
        };

        let mut environments = Vec::new();
        let mut environments_span = 0..0;
        if let Some(t) = self.subtable(&root, "environments") {
            environments_span = t.span.clone();
            for (name, env) in self.named_tables(&t, "an environment") {
                environments.push(self.environment(name, &env));
            }
        }

        let mut services = Vec::new();
        let mut services_span = 0..0;
        if let Some(t) = self.subtable(&root, "services") {
            services_span = t.span.clone();
            for (name, svc) in self.named_tables(&t, "a service") {
                services.push(self.service(name, &svc));
            }
        }

        Spec {
            source: source.clone(),
            platform,
            environments,
            services,
            environments_span,
            services_span,
            refused: std::mem::take(&mut self.refused),
        }
    }

    fn platform(&mut self, t: &Table<'_>) -> PlatformSpec {
        self.check_keys(t, PLATFORM_KEYS);
        let vars = match self.subtable(t, "vars") {
            Some(v) => table_to_json(v.table),
            None => serde_json::Map::new(),
        };
        PlatformSpec {
            span: t.span.clone(),
            name: self.required_string(t, "name"),
            registry: self.required_string(t, "registry"),
            repository: self.required_string(t, "repository"),
            revision: self.string(t, "revision"),
            domain: self.string(t, "domain"),
            mesh: self.choice(t, "mesh"),
            deploy: self.choice(t, "deploy"),
            ci: self.choice(t, "ci"),
            blueprints: self.blueprints(t),
            external_topics: self.strings(t, "external_topics"),
            gateway: self.gateway(t),
            tls: self.tls(t),
            vars,
        }
    }

    /// `blueprints = "folder"` or `blueprints = { git = "...", rev = "...", path = "..." }`.
    fn blueprints(&mut self, t: &Table<'_>) -> Option<BlueprintsSpec> {
        let (item, span) = self.entry(t, "blueprints")?;
        if let Some(folder) = item.as_str() {
            return Some(BlueprintsSpec::Folder(Spanned::new(
                folder.to_string(),
                span,
            )));
        }
        let Some(table) = item.as_table_like() else {
            self.type_error(
                t,
                "blueprints",
                "a folder path or a table `{ git = \"<url>\", rev = \"<tag>\", path = \"<folder>\" }`",
                item,
                span,
            );
            return None;
        };
        let b = Table {
            table,
            span: span.clone(),
            path: join_path(&t.path, "blueprints"),
        };
        self.check_keys(&b, BLUEPRINTS_GIT_KEYS);
        let folder_only = !table.contains_key("git")
            && self
                .entry(&b, "path")
                .is_some_and(|(path, _)| path.as_str().is_some());
        if folder_only {
            // A local folder written as a table: the string form is the local one.
            let (path, pspan) = self.entry(&b, "path").expect("checked above");
            let folder = path.as_value().map(ToString::to_string).unwrap_or_default();
            self.error(
                Diagnostic::error(pspan, "`path` without `git` in `platform.blueprints`")
                    .label("a folder of which repository?")
                    .help(format!(
                        "a local folder is written as a string: `blueprints = {}`; a folder of a \
                         Git repository needs `git = \"<url>\"` and `rev` beside `path`",
                        folder.trim()
                    )),
            );
        } else {
            if !table.contains_key("git") {
                self.missing(
                    &b,
                    "git",
                    "the URL of the repository holding the blueprints",
                );
            }
            if !table.contains_key("rev") {
                self.missing(
                    &b,
                    "rev",
                    "the tag, branch or commit to use, e.g. \"v1.4.0\"",
                );
            }
        }
        let git = self.string(&b, "git");
        let rev = self.string(&b, "rev");
        let path = self.string(&b, "path");
        let mut checked =
            |key: &str, value: Option<Spanned<String>>, check: fn(&str) -> Result<(), String>| {
                let value = value?;
                match check(&value.value) {
                    Ok(()) => Some(value),
                    Err(reason) => {
                        self.error(
                            Diagnostic::error(
                                value.span.clone(),
                                format!("`platform.blueprints.{key}` cannot be `{}`", value.value),
                            )
                            .label(reason),
                        );
                        None
                    }
                }
            };
        Some(BlueprintsSpec::Git(GitBlueprintsSpec {
            span,
            git: checked("git", git, check_git_url),
            rev: checked("rev", rev, check_git_rev),
            path: checked("path", path, check_git_path),
        }))
    }

    fn gateway(&mut self, t: &Table<'_>) -> Option<GatewaySpec> {
        let g = self.subtable(t, "gateway")?;
        self.check_keys(&g, GATEWAY_KEYS);
        Some(GatewaySpec {
            span: g.span.clone(),
            namespace: self.string(&g, "namespace"),
            labels: g
                .table
                .contains_key("labels")
                .then(|| self.string_map(&g, "labels")),
            service_account: self.string(&g, "service_account"),
        })
    }

    fn tls(&mut self, t: &Table<'_>) -> Option<TlsSpec> {
        // `tls = "cert-manager"`: the mode alone, where a table is expected.
        if let Some((item, span)) = self.entry(t, "tls")
            && let Some(mode) = item.as_str()
        {
            self.error(
                Diagnostic::error(span, "`platform.tls` must be a table")
                    .label("found a string")
                    .help(format!(
                        "write `tls = {{ mode = \"{mode}\", issuer = \"...\" }}` (modes: \"secret\", \"cert-manager\")"
                    )),
            );
            return None;
        }
        let tls = self.subtable(t, "tls")?;
        self.check_keys(&tls, TLS_KEYS);
        Some(TlsSpec {
            span: tls.span.clone(),
            mode_written: tls.table.contains_key("mode"),
            mode: self.choice(&tls, "mode"),
            issuer: self.string(&tls, "issuer"),
            issuer_kind: self.choice(&tls, "issuer_kind"),
        })
    }

    fn environment(&mut self, name: Spanned<String>, t: &Table<'_>) -> EnvironmentSpec {
        self.check_keys(t, ENVIRONMENT_KEYS);
        EnvironmentSpec {
            name,
            namespace: self.string(t, "namespace"),
            cluster: self.string(t, "cluster"),
            host: self.string(t, "host"),
            replicas: self.integer(t, "replicas"),
            auto_sync: self.boolean(t, "auto_sync"),
            tls_secret: self.string(t, "tls_secret"),
        }
    }

    fn service(&mut self, name: Spanned<String>, t: &Table<'_>) -> ServiceSpec {
        self.check_keys(t, SERVICE_KEYS);
        if t.table.get("runtime").is_none() {
            self.missing(
                t,
                "runtime",
                "one of \"rust\", \"go\", \"node\", \"python\", \"java\"",
            );
        }
        let health = match self.subtable(t, "health") {
            Some(h) => {
                self.check_keys(&h, HEALTH_KEYS);
                HealthSpec {
                    liveness: self.string(&h, "liveness"),
                    readiness: self.string(&h, "readiness"),
                }
            }
            None => HealthSpec::default(),
        };
        let resilience = match self.subtable(t, "resilience") {
            Some(r) => {
                self.check_keys(&r, RESILIENCE_KEYS);
                ResilienceSpec {
                    timeout: self.string(&r, "timeout"),
                    retries: self.integer(&r, "retries"),
                    consecutive_errors: self.integer(&r, "consecutive_errors"),
                    ejection: self.string(&r, "ejection"),
                    max_connections: self.integer(&r, "max_connections"),
                    idempotent: self.boolean(&r, "idempotent"),
                }
            }
            None => ResilienceSpec::default(),
        };
        let slo = match self.subtable(t, "slo") {
            Some(s) => {
                self.check_keys(&s, SLO_KEYS);
                SloSpec {
                    availability: self.number(&s, "availability"),
                    latency_p95_ms: self.integer(&s, "latency_p95_ms"),
                }
            }
            None => SloSpec::default(),
        };
        let mut environments = Vec::new();
        if let Some(envs) = self.subtable(t, "environments") {
            for (env_name, e) in self.named_tables(&envs, "per-environment overrides") {
                self.check_keys(&e, SERVICE_ENV_KEYS);
                environments.push(ServiceEnvSpec {
                    name: env_name,
                    replicas: self.integer(&e, "replicas"),
                    resources: self.resources(&e),
                    autoscale: self.autoscale(&e),
                    env: self.string_map(&e, "env"),
                    release: self.release(&e),
                });
            }
        }
        ServiceSpec {
            name,
            description: self.string(t, "description"),
            runtime: self.choice(t, "runtime"),
            port: self.integer(t, "port"),
            owns: self.strings(t, "owns"),
            datastore: self.choice(t, "datastore"),
            apis: self.strings(t, "apis"),
            calls: self.strings(t, "calls"),
            egress: self.strings(t, "egress"),
            publishes: self.strings(t, "publishes"),
            consumes: self.strings(t, "consumes"),
            health,
            resources: self.resources(t).unwrap_or_default(),
            autoscale: self.autoscale(t),
            release: self.release(t),
            resilience,
            slo,
            env: self.string_map(t, "env"),
            secrets: self.strings(t, "secrets"),
            environments,
        }
    }

    fn resources(&mut self, t: &Table<'_>) -> Option<ResourcesSpec> {
        let r = self.subtable(t, "resources")?;
        self.check_keys(&r, RESOURCES_KEYS);
        Some(ResourcesSpec {
            cpu: self.string(&r, "cpu"),
            memory: self.string(&r, "memory"),
            cpu_limit: self.string(&r, "cpu_limit"),
            memory_limit: self.string(&r, "memory_limit"),
        })
    }

    fn autoscale(&mut self, t: &Table<'_>) -> Option<AutoscaleSpec> {
        let a = self.subtable(t, "autoscale")?;
        self.check_keys(&a, AUTOSCALE_KEYS);
        Some(AutoscaleSpec {
            span: a.span.clone(),
            written: a.table.iter().map(|(k, _)| k.to_string()).collect(),
            min: self.integer(&a, "min"),
            max: self.integer(&a, "max"),
            cpu: self.integer(&a, "cpu"),
            memory: self.integer(&a, "memory"),
            backlog: self.integer(&a, "backlog"),
        })
    }

    fn release(&mut self, t: &Table<'_>) -> Option<ReleaseSpec> {
        let r = self.subtable(t, "release")?;
        self.check_keys(&r, RELEASE_KEYS);
        Some(ReleaseSpec {
            span: r.span.clone(),
            strategy: self.choice(&r, "strategy"),
            weight: self.integer(&r, "weight"),
            steps: self.steps(&r),
        })
    }

    /// `steps = [{ weight = 10 }, { pause = "5m" }, …]`, or the same written as
    /// `[[….release.steps]]` tables (TOML's other spelling of an array of tables).
    fn steps(&mut self, t: &Table<'_>) -> Option<Spanned<Vec<StepSpec>>> {
        let (item, span) = self.entry(t, "steps")?;
        let path = join_path(&t.path, "steps");
        let tables: Vec<(&dyn TableLike, Span)> = if let Some(array) = item.as_array() {
            let mut tables = Vec::new();
            for value in array {
                let vspan = value.span().unwrap_or_else(|| span.clone());
                match value.as_inline_table() {
                    Some(table) => tables.push((table as &dyn TableLike, vspan)),
                    None => self.error(
                        Diagnostic::error(
                            vspan,
                            format!("every entry of `{path}` must be an inline table"),
                        )
                        .label(format!(
                            "found {} {}",
                            article(value.type_name()),
                            value.type_name()
                        ))
                        .help(STEP_EXAMPLES),
                    ),
                }
            }
            tables
        } else if let Some(array) = item.as_array_of_tables() {
            array
                .iter()
                .map(|table| {
                    let tspan = table.span().unwrap_or_else(|| span.clone());
                    (table as &dyn TableLike, tspan)
                })
                .collect()
        } else {
            self.type_error(t, "steps", "an array of steps", item, span);
            return None;
        };
        let steps = tables
            .into_iter()
            .map(|(table, tspan)| {
                let step = Table {
                    table,
                    span: tspan.clone(),
                    path: path.clone(),
                };
                self.check_keys(&step, STEP_KEYS);
                StepSpec {
                    span: tspan,
                    written: table.iter().map(|(k, _)| k.to_string()).collect(),
                    weight: self.integer(&step, "weight"),
                    pause: self.string(&step, "pause"),
                    analysis: self.boolean(&step, "analysis"),
                }
            })
            .collect();
        Some(Spanned::new(steps, span))
    }
}

/// What a step looks like, for messages about steps.
pub(crate) const STEP_EXAMPLES: &str =
    "a step is `{ weight = 20 }`, `{ pause = \"5m\" }` or `{ analysis = true }`";

/// A Git URL of `platform.blueprints`: any URL or path Git accepts, but never one Git could
/// take for an option, nor a transport helper's (`ext::…` runs commands).
pub fn check_git_url(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("the URL is empty".into());
    }
    if url.starts_with('-') {
        return Err("a URL cannot start with `-`".into());
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a URL cannot hold spaces or control characters".into());
    }
    if let Some((helper, _)) = url.split_once("::")
        && !helper.contains(['/', ':', '@'])
    {
        return Err(format!(
            "`{helper}::` asks Git to run a transport helper; use an https://, ssh:// or file:// URL or a path"
        ));
    }
    Ok(())
}

/// A revision of `platform.blueprints`: a tag, branch or commit name, never an option or a
/// revision expression (`..`, `^`, `~`, `@{`, `:`).
pub fn check_git_rev(rev: &str) -> Result<(), String> {
    if rev.is_empty() {
        return Err("the revision is empty".into());
    }
    if rev.starts_with('-') {
        return Err("a revision cannot start with `-`".into());
    }
    let plain = rev
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '+' | '-'));
    if !plain
        || rev.starts_with(['/', '.'])
        || rev.ends_with(['/', '.'])
        || rev.ends_with(".lock")
        || rev.contains("..")
        || rev.contains("//")
    {
        return Err(
            "expected a tag, branch or commit, e.g. `v1.4.0`, `main` or a commit hash".into(),
        );
    }
    Ok(())
}

/// The folder inside the repository: relative, and never out of it.
pub fn check_git_path(path: &str) -> Result<(), String> {
    if path.chars().any(char::is_control) || path.contains('\\') {
        return Err("expected a folder like `blueprints`, with `/` between segments".into());
    }
    if path.starts_with('/') || path.as_bytes().get(1) == Some(&b':') {
        return Err("the folder is relative to the repository's root, not absolute".into());
    }
    if path.starts_with('-') {
        return Err("a folder cannot start with `-`".into());
    }
    if path.split('/').any(|seg| seg == "..") {
        return Err("`..` would leave the repository".into());
    }
    Ok(())
}

fn join_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Free-form `vars` become JSON-like data for the blueprints (dates become strings).
fn table_to_json(t: &dyn TableLike) -> serde_json::Map<String, serde_json::Value> {
    t.iter()
        .filter_map(|(k, item)| item_to_json(item).map(|v| (k.to_string(), v)))
        .collect()
}

fn item_to_json(item: &Item) -> Option<serde_json::Value> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(value_to_json(v)),
        Item::Table(t) => Some(serde_json::Value::Object(table_to_json(t))),
        Item::ArrayOfTables(a) => Some(serde_json::Value::Array(
            a.iter()
                .map(|t| serde_json::Value::Object(table_to_json(t)))
                .collect(),
        )),
    }
}

fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::String(s) => serde_json::Value::String(s.value().clone()),
        Value::Integer(i) => serde_json::Value::from(*i.value()),
        Value::Float(f) => serde_json::Number::from_f64(*f.value())
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Boolean(b) => serde_json::Value::Bool(*b.value()),
        Value::Datetime(d) => serde_json::Value::String(d.value().to_string()),
        Value::Array(a) => serde_json::Value::Array(a.iter().map(value_to_json).collect()),
        Value::InlineTable(t) => serde_json::Value::Object(table_to_json(t)),
    }
}
