//! The service.toml format as written: every value keeps the byte span it came from, so
//! later stages can point at it. This module only reads and type-checks (syntax, types,
//! unknown keys), and `edit` writes the format back; the rules between values live in
//! `validate`, defaults are applied in `model`, and every default and bound is stated in
//! `defaults`.

pub mod defaults;
pub mod edit;
mod read;
pub mod schema;

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Source, Span};

pub use read::{BLUEPRINTS_GIT_KEYS, check_git_path, check_git_rev, check_git_url};
pub(crate) use read::{STEP_EXAMPLES, STEP_KEYS};
pub use read::{TABLES, parse};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

/// A string-valued setting with a fixed set of choices.
pub trait Choice: Sized + Copy + 'static {
    /// What the choice is called in messages ("runtime").
    const WHAT: &'static str;
    const ALL: &'static [(&'static str, Self)];

    fn as_str(self) -> &'static str;
}

macro_rules! choice {
    ($(#[$doc:meta])* $name:ident, $what:literal, { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, JsonSchema)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl Choice for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [(&'static str, Self)] = &[$(($text, Self::$variant)),+];

            fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice!(
    /// The service mesh the platform runs.
    Mesh, "mesh", { Istio = "istio", None = "none" }
);
choice!(
    /// Which tree the Argo CD Applications point at.
    Deploy, "deploy", { Kustomize = "kustomize", Helm = "helm" }
);
choice!(
    /// Which CI system gets workflows.
    Ci, "ci", { GithubActions = "github-actions", None = "none" }
);
choice!(
    /// How each environment's gateway gets its TLS certificate.
    TlsMode, "TLS mode", { Secret = "secret", CertManager = "cert-manager" }
);
choice!(
    /// The kind of cert-manager issuer a Certificate names.
    IssuerKind, "issuer kind", { ClusterIssuer = "ClusterIssuer", Issuer = "Issuer" }
);
choice!(
    /// The language toolchain of a service: picks its Dockerfile and CI steps.
    Runtime, "runtime", { Rust = "rust", Go = "go", Node = "node", Python = "python", Java = "java" }
);
choice!(
    /// The database a service owns.
    Datastore, "datastore", { None = "none", Postgres = "postgres", Mysql = "mysql", Mongodb = "mongodb", Redis = "redis" }
);
choice!(
    /// How a new version replaces the old one.
    Strategy, "release strategy", { Rolling = "rolling", Canary = "canary", BlueGreen = "blue-green" }
);

/// The whole file as written.
#[derive(Debug, Clone)]
pub struct Spec {
    pub source: Source,
    pub platform: PlatformSpec,
    /// In file order: the promotion order.
    pub environments: Vec<EnvironmentSpec>,
    /// In file order.
    pub services: Vec<ServiceSpec>,
    /// Where `[environments]` / `[services]` are (or the file start): for "none declared".
    pub environments_span: Span,
    pub services_span: Span,
    /// Dotted keys whose value was refused (and reported): other rules treat them as given,
    /// so one mistake yields one diagnostic.
    pub refused: BTreeSet<String>,
}

#[derive(Debug, Clone, Default)]
pub struct PlatformSpec {
    pub span: Span,
    pub name: Option<Spanned<String>>,
    pub registry: Option<Spanned<String>>,
    pub repository: Option<Spanned<String>>,
    pub revision: Option<Spanned<String>>,
    pub domain: Option<Spanned<String>>,
    pub mesh: Option<Spanned<Mesh>>,
    pub deploy: Option<Spanned<Deploy>>,
    pub ci: Option<Spanned<Ci>>,
    pub blueprints: Option<BlueprintsSpec>,
    pub external_topics: Vec<Spanned<String>>,
    pub gateway: Option<GatewaySpec>,
    pub tls: Option<TlsSpec>,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

/// `[platform] blueprints`: the platform's own blueprints.
#[derive(Debug, Clone)]
pub enum BlueprintsSpec {
    /// `blueprints = "folder"`, relative to service.toml.
    Folder(Spanned<String>),
    /// `blueprints = { git = "...", rev = "...", path = "..." }`: a folder of a Git
    /// repository at a pinned revision.
    Git(GitBlueprintsSpec),
}

/// A pinned folder of a Git repository. `None` where the key is missing or invalid (the
/// reader reported it).
#[derive(Debug, Clone)]
pub struct GitBlueprintsSpec {
    pub span: Span,
    pub git: Option<Spanned<String>>,
    pub rev: Option<Spanned<String>>,
    /// The folder inside the repository [default: its root].
    pub path: Option<Spanned<String>>,
}

impl BlueprintsSpec {
    /// The local folder as written, for the folder form.
    pub fn folder(&self) -> Option<&Spanned<String>> {
        match self {
            Self::Folder(f) => Some(f),
            Self::Git(_) => None,
        }
    }
}

/// `[platform] gateway`: where the ingress gateway runs and who it is.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    pub span: Span,
    pub namespace: Option<Spanned<String>>,
    /// None when not written (the default's labels).
    pub labels: Option<Vec<(Spanned<String>, Spanned<String>)>>,
    pub service_account: Option<Spanned<String>>,
}

/// `[platform] tls`: how the environments' gateways get their certificates.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    pub span: Span,
    /// `mode` is in the table, even when its value was not a known mode.
    pub mode_written: bool,
    pub mode: Option<Spanned<TlsMode>>,
    pub issuer: Option<Spanned<String>>,
    pub issuer_kind: Option<Spanned<IssuerKind>>,
}

#[derive(Debug, Clone)]
pub struct EnvironmentSpec {
    pub name: Spanned<String>,
    pub namespace: Option<Spanned<String>>,
    pub cluster: Option<Spanned<String>>,
    pub host: Option<Spanned<String>>,
    pub replicas: Option<Spanned<i64>>,
    pub auto_sync: Option<Spanned<bool>>,
    pub tls_secret: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct ServiceSpec {
    pub name: Spanned<String>,
    pub description: Option<Spanned<String>>,
    pub runtime: Option<Spanned<Runtime>>,
    pub port: Option<Spanned<i64>>,
    pub owns: Vec<Spanned<String>>,
    pub datastore: Option<Spanned<Datastore>>,
    pub apis: Vec<Spanned<String>>,
    pub calls: Vec<Spanned<String>>,
    /// `host:port` entries outside the cluster, as written.
    pub egress: Vec<Spanned<String>>,
    pub publishes: Vec<Spanned<String>>,
    pub consumes: Vec<Spanned<String>>,
    pub health: HealthSpec,
    pub resources: ResourcesSpec,
    pub autoscale: Option<AutoscaleSpec>,
    pub release: Option<ReleaseSpec>,
    pub resilience: ResilienceSpec,
    pub slo: SloSpec,
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    pub secrets: Vec<Spanned<String>>,
    pub environments: Vec<ServiceEnvSpec>,
}

#[derive(Debug, Clone, Default)]
pub struct HealthSpec {
    pub liveness: Option<Spanned<String>>,
    pub readiness: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ResourcesSpec {
    pub cpu: Option<Spanned<String>>,
    pub memory: Option<Spanned<String>>,
    pub cpu_limit: Option<Spanned<String>>,
    pub memory_limit: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct AutoscaleSpec {
    pub span: Span,
    /// Keys present in the table, even when their value had the wrong type.
    pub written: Vec<String>,
    pub min: Option<Spanned<i64>>,
    pub max: Option<Spanned<i64>>,
    pub cpu: Option<Spanned<i64>>,
    pub memory: Option<Spanned<i64>>,
    pub backlog: Option<Spanned<i64>>,
}

#[derive(Debug, Clone, Default)]
pub struct ReleaseSpec {
    pub span: Span,
    pub strategy: Option<Spanned<Strategy>>,
    pub weight: Option<Spanned<i64>>,
    /// `steps = [...]`: the array's span and its entries that are tables.
    pub steps: Option<Spanned<Vec<StepSpec>>>,
}

/// One entry of `release.steps`: an inline table that should hold exactly one key.
#[derive(Debug, Clone, Default)]
pub struct StepSpec {
    pub span: Span,
    /// Keys present in the table, even unknown ones or those whose value had the wrong type.
    pub written: Vec<String>,
    pub weight: Option<Spanned<i64>>,
    pub pause: Option<Spanned<String>>,
    pub analysis: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Default)]
pub struct ResilienceSpec {
    pub timeout: Option<Spanned<String>>,
    pub retries: Option<Spanned<i64>>,
    pub consecutive_errors: Option<Spanned<i64>>,
    pub ejection: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<i64>>,
    pub idempotent: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Default)]
pub struct SloSpec {
    pub availability: Option<Spanned<f64>>,
    pub latency_p95_ms: Option<Spanned<i64>>,
}

/// `[services.<name>.environments.<env>]`: what changes for one service in one environment.
#[derive(Debug, Clone)]
pub struct ServiceEnvSpec {
    pub name: Spanned<String>,
    pub replicas: Option<Spanned<i64>>,
    pub resources: Option<ResourcesSpec>,
    pub autoscale: Option<AutoscaleSpec>,
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    pub release: Option<ReleaseSpec>,
}

/// Reading failed before any rule could run, or rules found errors: all diagnostics.
#[derive(Debug)]
pub struct Invalid {
    pub source: Source,
    pub diagnostics: Vec<Diagnostic>,
}
