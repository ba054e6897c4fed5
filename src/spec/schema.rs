//! The JSON Schema of service.toml, for editors (`bulkhead schema`). The reader (`read.rs`)
//! is hand-written so that it can report every problem at once; these types exist only to
//! describe the same format as a schema. A test holds their keys equal to the reader's
//! (`TABLES`), and the examples must validate against the result. The schema checks the
//! shape of single values; the rules between values (one owner per datum, calls to known
//! services, …) stay with `bulkhead validate`.

#![allow(dead_code)] // The fields are read by the schema derive only.

use indexmap::IndexMap;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;

use super::defaults::{
    self, AUTOSCALE_BACKLOG, AUTOSCALE_REPLICAS, AUTOSCALE_TARGET, AVAILABILITY,
    CONSECUTIVE_ERRORS, EGRESS_MAX, HOST_MAX, LABEL_MAX, LATENCY_P95_MS, MAX_CONNECTIONS,
    PLATFORM_NAME_MAX, PORT, REPLICAS, RETRIES, SERVICE_NAME_MAX, STEP_WEIGHT, STEPS_MAX,
    TOPIC_MAX, WEIGHT,
};
use super::{Ci, Datastore, Deploy, IssuerKind, Mesh, Runtime, Strategy, TlsMode};

/// A DNS-1123 label starting with a letter (the length is checked separately).
const DNS_LABEL: &str = "^[a-z]([-a-z0-9]*[a-z0-9])?$";
/// `[a-z][a-z0-9_]*`: a datum a service owns.
const IDENTIFIER: &str = "^[a-z][a-z0-9_]*$";
/// An environment variable name.
const ENV_VAR: &str = "^[A-Za-z_][A-Za-z0-9_]*$";
/// An event topic.
const TOPIC: &str = "^[a-z0-9][a-z0-9._-]*$";
/// An HTTP path or path prefix.
const HTTP_PATH: &str = "^/[A-Za-z0-9/._~%-]*$";
/// `host:port` outside the cluster: a lowercase DNS name of two labels or more, the last
/// starting with a letter (no IP address), and a port 1–65535 without a leading zero.
const EGRESS: &str = concat!(
    "^([a-z0-9]([-a-z0-9]*[a-z0-9])?\\.)+[a-z]([-a-z0-9]*[a-z0-9])?:",
    "([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$"
);
/// `500ms`, `3s`, `1m30s`, `2h`.
const DURATION: &str = "^([0-9]+(ms|s|m|h))+$";
/// A CPU quantity: cores (`1`, `0.5`) or millicores (`250m`).
const CPU: &str = "^[0-9]+(\\.[0-9]+)?m?$";
/// A memory quantity: `128Mi`, `1Gi`, `500M`, or bytes.
const MEMORY: &str = "^[0-9]+(\\.[0-9]+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$";

/// service.toml: one platform, its environments in promotion order, and its services (one
/// per domain boundary). Reference: docs/service-toml.md.
#[derive(JsonSchema)]
#[schemars(title = "service.toml", deny_unknown_fields)]
pub struct ServiceToml {
    /// The platform as a whole.
    pub platform: PlatformTable,
    /// The environments, in promotion order (dev → staging → prod); the last one is
    /// production. The table key is the environment's name, a DNS-1123 label.
    #[schemars(extend(
        "minProperties" = 1,
        "propertyNames" = { "pattern": DNS_LABEL, "maxLength": LABEL_MAX }
    ))]
    pub environments: IndexMap<String, EnvironmentTable>,
    /// The services, one per domain boundary. The table key is the service's name: a
    /// DNS-1123 label of at most 50 characters.
    #[schemars(extend(
        "minProperties" = 1,
        "propertyNames" = { "pattern": DNS_LABEL, "maxLength": SERVICE_NAME_MAX }
    ))]
    pub services: IndexMap<String, ServiceTable>,
}

/// `[platform]`: names, where images go and where Argo CD syncs from.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct PlatformTable {
    /// DNS-1123 label, at most 40 characters; prefix of namespaces and the Argo CD project.
    #[schemars(regex(pattern = DNS_LABEL), length(max = PLATFORM_NAME_MAX))]
    pub name: String,
    /// Image repository prefix; a service's image is `{registry}/{service}`.
    #[schemars(
        regex(pattern = "^[a-z0-9._:-]+(/[a-z0-9._:-]+)*$"),
        example = "ghcr.io/acme"
    )]
    pub registry: String,
    /// Git URL Argo CD syncs from.
    #[schemars(
        regex(pattern = "^(https://|http://|ssh://|git@|git://|file://)"),
        example = "https://github.com/acme/fleet.git"
    )]
    pub repository: String,
    /// Git revision Argo CD tracks.
    #[schemars(
        regex(pattern = "^[A-Za-z0-9._/][A-Za-z0-9._/-]*$"),
        extend("default" = defaults::REVISION)
    )]
    pub revision: Option<String>,
    /// Public host base; an environment's host defaults to `{env}.{domain}`, the last
    /// environment's to `{domain}`.
    #[schemars(length(max = HOST_MAX), example = "fleet.example.com")]
    pub domain: Option<String>,
    /// The service mesh. With `none`, no Istio objects; resilience falls back to what
    /// Kubernetes offers.
    #[schemars(extend("default" = defaults::MESH))]
    pub mesh: Option<Mesh>,
    /// Which tree the Argo CD Applications point at (both trees are always generated).
    #[schemars(extend("default" = defaults::DEPLOY))]
    pub deploy: Option<Deploy>,
    /// Which CI system gets workflows.
    #[schemars(extend("default" = defaults::CI))]
    pub ci: Option<Ci>,
    /// The platform's own blueprints, overriding or adding to the built-in ones: a folder
    /// (relative to service.toml), or a folder of a Git repository pinned at a revision;
    /// `--blueprints DIR` takes precedence.
    pub blueprints: Option<BlueprintsValue>,
    /// Topics consumed here but published outside the platform.
    #[schemars(inner(regex(pattern = TOPIC), length(max = TOPIC_MAX)))]
    pub external_topics: Option<Vec<String>>,
    /// The ingress gateway public traffic arrives through, as the cluster installed it
    /// [default: Istio's `istio-system`, `istio: ingressgateway`,
    /// `istio-ingressgateway-service-account`; without a mesh ingress-nginx's].
    pub gateway: Option<GatewayTable>,
    /// How each environment's gateway gets its certificate (the Secret `tls_secret`)
    /// [default: made by hand].
    pub tls: Option<TlsTable>,
    /// Free-form values handed to blueprints as `vars` (for custom blueprints).
    pub vars: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `platform.blueprints`: a local folder, or a folder of a Git repository at a revision.
#[derive(JsonSchema)]
#[schemars(untagged)]
pub enum BlueprintsValue {
    /// A folder relative to service.toml.
    Folder(String),
    /// A folder of a Git repository at a pinned revision.
    Git(GitBlueprintsTable),
}

/// `blueprints = { git = "...", rev = "...", path = "..." }`: fetched with `git` into a
/// cache; the commit `rev` resolves to is recorded in `.bulkhead/lock.json` and used until
/// `rev` changes (`bulkhead blueprints upgrade REV`).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GitBlueprintsTable {
    /// The repository's URL (https://, ssh://, git@host:path, file://) or a local path
    /// (relative to service.toml).
    #[schemars(regex(pattern = "^[^-\\s][^\\s]*$"), example = &"https://github.com/acme/platform-blueprints.git")]
    pub git: String,
    /// The tag, branch or commit to use.
    #[schemars(
        regex(pattern = "^[A-Za-z0-9_+][A-Za-z0-9._/+-]*$"),
        example = &"v1.4.0"
    )]
    pub rev: String,
    /// The folder of the repository holding the blueprints, relative to its root
    /// [default: the root].
    #[schemars(regex(pattern = "^[^/\\\\-][^\\\\]*$"), example = &"blueprints")]
    pub path: Option<String>,
}

/// `[platform] gateway`: the gateway's namespace, the labels of its pods and (with Istio)
/// its ServiceAccount, used by the Gateway, the AuthorizationPolicies and the
/// NetworkPolicies.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct GatewayTable {
    /// The namespace its pods run in.
    #[schemars(regex(pattern = DNS_LABEL), length(max = LABEL_MAX))]
    pub namespace: Option<String>,
    /// Labels that select its pods (the Gateway's selector).
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Its ServiceAccount: its mesh identity (the Helm chart `istio/gateway` names it after
    /// the release).
    #[schemars(regex(pattern = DNS_LABEL), length(max = LABEL_MAX))]
    pub service_account: Option<String>,
}

/// `[platform] tls`: who makes the environments' TLS Secrets.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TlsTable {
    /// `secret`: each environment's Secret is made by hand; `cert-manager`: a Certificate
    /// per environment, in the namespace the gateway reads the Secret from.
    #[schemars(extend("default" = defaults::TLS_MODE))]
    pub mode: Option<TlsMode>,
    /// The cert-manager issuer that signs the certificates (required with `cert-manager`).
    #[schemars(
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        length(max = HOST_MAX),
        example = &"letsencrypt"
    )]
    pub issuer: Option<String>,
    /// The issuer's kind: `Issuer` must be in the Certificates' namespace.
    #[schemars(extend("default" = defaults::ISSUER_KIND))]
    pub issuer_kind: Option<IssuerKind>,
}

/// `[environments.<name>]`: one stage of the promotion order.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct EnvironmentTable {
    /// Kubernetes namespace, a DNS-1123 label [default: `{platform}-{env}`].
    #[schemars(regex(pattern = DNS_LABEL), length(max = LABEL_MAX))]
    pub namespace: Option<String>,
    /// Argo CD destination server.
    #[schemars(
        regex(pattern = "^https?://"),
        extend("default" = defaults::CLUSTER)
    )]
    pub cluster: Option<String>,
    /// Public host of the gateway in this environment [default: from `platform.domain`].
    #[schemars(length(max = HOST_MAX))]
    pub host: Option<String>,
    /// Default replica count of every service here.
    #[schemars(
        range(min = REPLICAS.min, max = REPLICAS.max),
        extend("default" = REPLICAS.default)
    )]
    pub replicas: Option<i64>,
    /// Argo CD automated sync with prune and self-heal; false = manual sync.
    #[schemars(extend("default" = defaults::AUTO_SYNC))]
    pub auto_sync: Option<bool>,
    /// TLS credential of the gateway: a Secret in the gateway's namespace with Istio, in
    /// this environment's without a mesh [default: `{platform}-{env}-tls`].
    #[schemars(regex(pattern = DNS_LABEL), length(max = LABEL_MAX))]
    pub tls_secret: Option<String>,
}

/// `[services.<name>]`: one deployable service, one domain boundary.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceTable {
    /// Free text; lands in annotations and docs (always escaped).
    pub description: Option<String>,
    /// Language toolchain: picks the Dockerfile and CI build steps.
    pub runtime: Runtime,
    /// Container port.
    #[schemars(range(min = PORT.min, max = PORT.max), extend("default" = PORT.default))]
    pub port: Option<i64>,
    /// Data this service owns (tables, aggregates, collections); no other service may own
    /// them.
    #[schemars(inner(regex(pattern = IDENTIFIER)))]
    pub owns: Option<Vec<String>>,
    /// The service's own database (database per service).
    #[schemars(extend("default" = defaults::DATASTORE))]
    pub datastore: Option<Datastore>,
    /// Public route prefixes through the gateway, each starting with `/`; empty = internal
    /// only.
    #[schemars(inner(regex(pattern = HTTP_PATH)))]
    pub apis: Option<Vec<String>>,
    /// Services this one calls synchronously.
    #[schemars(inner(regex(pattern = DNS_LABEL), length(max = SERVICE_NAME_MAX)))]
    pub calls: Option<Vec<String>>,
    /// Hosts outside the cluster this service connects to, as `host:port`
    /// (`smtp.example.com:587`): a NetworkPolicy rule per port to public addresses and,
    /// with Istio, a ServiceEntry naming the hosts. Without it, nothing outside the
    /// cluster is reachable.
    #[schemars(
        inner(regex(pattern = EGRESS), length(max = EGRESS_MAX)),
        example = ["smtp.example.com:587", "api.payments.example:443"]
    )]
    pub egress: Option<Vec<String>>,
    /// Event topics this service publishes (and owns).
    #[schemars(inner(regex(pattern = TOPIC), length(max = TOPIC_MAX)))]
    pub publishes: Option<Vec<String>>,
    /// Event topics it subscribes to.
    #[schemars(inner(regex(pattern = TOPIC), length(max = TOPIC_MAX)))]
    pub consumes: Option<Vec<String>>,
    /// Probe paths; the startup probe uses the liveness path.
    pub health: Option<HealthTable>,
    /// Kubernetes resource requests and limits.
    pub resources: Option<ResourcesTable>,
    /// Horizontal autoscaling [default: none, no HorizontalPodAutoscaler].
    pub autoscale: Option<AutoscaleTable>,
    /// How a new version replaces the old one [default: rolling].
    pub release: Option<ReleaseTable>,
    /// Timeouts, retries, outlier detection and connection pools.
    pub resilience: Option<ResilienceTable>,
    /// Service level objectives: drive alert rules and dashboard thresholds.
    pub slo: Option<SloTable>,
    /// Plain configuration (→ ConfigMap): environment variable name → value.
    #[schemars(extend("propertyNames" = { "pattern": ENV_VAR }))]
    pub env: Option<IndexMap<String, String>>,
    /// Names of secret environment variables, never values (→ references into the Secret
    /// `{service}-secrets`).
    #[schemars(inner(regex(pattern = ENV_VAR)))]
    pub secrets: Option<Vec<String>>,
    /// Per-environment overrides, keyed by the name of an environment of `[environments]`.
    #[schemars(extend("propertyNames" = { "pattern": DNS_LABEL, "maxLength": LABEL_MAX }))]
    pub environments: Option<IndexMap<String, ServiceEnvironmentTable>>,
}

/// `health`: probe paths.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HealthTable {
    /// Liveness (and startup) probe path; must not check dependencies.
    #[schemars(regex(pattern = HTTP_PATH), extend("default" = defaults::LIVENESS))]
    pub liveness: Option<String>,
    /// Readiness probe path; may check dependencies.
    #[schemars(regex(pattern = HTTP_PATH), extend("default" = defaults::READINESS))]
    pub readiness: Option<String>,
}

/// `resources`: Kubernetes quantities.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResourcesTable {
    /// CPU request, e.g. `100m` or `1`.
    #[schemars(regex(pattern = CPU), extend("default" = defaults::CPU))]
    pub cpu: Option<String>,
    /// Memory request, e.g. `128Mi`.
    #[schemars(regex(pattern = MEMORY), extend("default" = defaults::MEMORY))]
    pub memory: Option<String>,
    /// CPU limit [default: none].
    #[schemars(regex(pattern = CPU))]
    pub cpu_limit: Option<String>,
    /// Memory limit.
    #[schemars(regex(pattern = MEMORY), extend("default" = defaults::MEMORY_LIMIT))]
    pub memory_limit: Option<String>,
}

/// `autoscale`: replica bounds and target utilisation.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct AutoscaleTable {
    /// Fewest replicas.
    #[schemars(range(min = AUTOSCALE_REPLICAS.min, max = AUTOSCALE_REPLICAS.max))]
    pub min: Option<i64>,
    /// Most replicas (at least `min`).
    #[schemars(range(min = AUTOSCALE_REPLICAS.min, max = AUTOSCALE_REPLICAS.max))]
    pub max: Option<i64>,
    /// Target average CPU utilisation in percent.
    #[schemars(range(min = AUTOSCALE_TARGET.min, max = AUTOSCALE_TARGET.max))]
    pub cpu: Option<i64>,
    /// Target average memory utilisation in percent.
    #[schemars(range(min = AUTOSCALE_TARGET.min, max = AUTOSCALE_TARGET.max))]
    pub memory: Option<i64>,
    /// Pending messages per replica, for a service that consumes topics: scales on the
    /// backlog of its durable consumers (a KEDA ScaledObject) as well as on `cpu`/`memory`.
    #[schemars(range(min = AUTOSCALE_BACKLOG.min, max = AUTOSCALE_BACKLOG.max))]
    pub backlog: Option<i64>,
}

/// `release`: how a new version replaces the old one.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ReleaseTable {
    /// `rolling`, `canary` (a share of traffic to the new version) or `blue-green`.
    #[schemars(extend("default" = defaults::STRATEGY))]
    pub strategy: Option<Strategy>,
    /// Percent of traffic to the canary (canary only).
    #[schemars(
        range(min = WEIGHT.min, max = WEIGHT.max),
        extend("default" = WEIGHT.default)
    )]
    pub weight: Option<i64>,
    /// The canary's steps in order, at most 20 (canary only). Without them: `{ weight =
    /// <weight> }`, `{ pause = "5m" }`, `{ analysis = true }`, then full promotion.
    #[schemars(length(min = 1, max = STEPS_MAX))]
    pub steps: Option<Vec<StepTable>>,
}

/// One step of a canary: a table with exactly one key.
#[derive(JsonSchema)]
#[schemars(rename_all = "snake_case")]
pub enum StepTable {
    /// Percent of traffic to the new version; never below an earlier step's.
    Weight(#[schemars(range(min = STEP_WEIGHT.min, max = STEP_WEIGHT.max))] i64),
    /// Wait this long before the next step, e.g. `30s`, `5m`, `1h`.
    Pause(#[schemars(regex(pattern = DURATION))] String),
    /// Run the service's SLO analysis; a failing analysis aborts the rollout.
    Analysis(#[schemars(extend("const" = true))] bool),
}

/// `resilience`: becomes timeouts, retries, outlier detection and connection pools.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ResilienceTable {
    /// Overall request timeout, e.g. `3s`, `500ms`, `1m30s`.
    #[schemars(regex(pattern = DURATION), extend("default" = defaults::TIMEOUT))]
    pub timeout: Option<String>,
    /// Retries of a failed request (each attempt gets a share of `timeout`).
    #[schemars(
        range(min = RETRIES.min, max = RETRIES.max),
        extend("default" = RETRIES.default)
    )]
    pub retries: Option<i64>,
    /// Consecutive 5xx errors before an instance is ejected.
    #[schemars(
        range(min = CONSECUTIVE_ERRORS.min, max = CONSECUTIVE_ERRORS.max),
        extend("default" = CONSECUTIVE_ERRORS.default)
    )]
    pub consecutive_errors: Option<i64>,
    /// How long an ejected instance stays out, e.g. `30s`.
    #[schemars(regex(pattern = DURATION), extend("default" = defaults::EJECTION))]
    pub ejection: Option<String>,
    /// Connection pool size towards this service.
    #[schemars(
        range(min = MAX_CONNECTIONS.min, max = MAX_CONNECTIONS.max),
        extend("default" = MAX_CONNECTIONS.default)
    )]
    pub max_connections: Option<i64>,
    /// Whether every route of the service may be repeated safely (GET-like): then the mesh
    /// also retries 5xx answers and reset connections, which may have reached the
    /// application; otherwise only what never reached it.
    #[schemars(extend("default" = defaults::IDEMPOTENT))]
    pub idempotent: Option<bool>,
}

/// `slo`: service level objectives.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SloTable {
    /// Availability in percent, e.g. `99.9`.
    #[schemars(extend(
        "exclusiveMinimum" = AVAILABILITY.above,
        "maximum" = AVAILABILITY.max,
        "default" = AVAILABILITY.default
    ))]
    pub availability: Option<f64>,
    /// 95th percentile latency objective in milliseconds.
    #[schemars(
        range(min = LATENCY_P95_MS.min, max = LATENCY_P95_MS.max),
        extend("default" = LATENCY_P95_MS.default)
    )]
    pub latency_p95_ms: Option<i64>,
}

/// `[services.<name>.environments.<env>]`: what changes for one service in one environment.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceEnvironmentTable {
    /// Replica count in this environment [default: the environment's `replicas`].
    #[schemars(range(min = REPLICAS.min, max = REPLICAS.max))]
    pub replicas: Option<i64>,
    /// Resources merged over the service's.
    pub resources: Option<ResourcesTable>,
    /// Autoscaling merged over the service's.
    pub autoscale: Option<AutoscaleTable>,
    /// Configuration merged over the service's `env`.
    #[schemars(extend("propertyNames" = { "pattern": ENV_VAR }))]
    pub env: Option<IndexMap<String, String>>,
    /// Release strategy in this environment.
    pub release: Option<ReleaseTable>,
}

/// The JSON Schema (draft 2020-12) of service.toml.
pub fn json_schema() -> serde_json::Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<ServiceToml>();
    let mut value = schema.to_value();
    tidy(&mut value);
    value
}

/// TOML has no null: an optional key is one that may be left out, never `null`. And doc
/// comments' line breaks are not the description's: editors wrap it themselves.
fn tidy(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            if let Some(Value::String(d)) = map.get_mut("description") {
                *d = d
                    .split("\n\n")
                    .map(|p| p.replace('\n', " "))
                    .collect::<Vec<_>>()
                    .join("\n\n");
            }
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    map.insert("type".into(), only);
                }
            }
            if let Some(Value::Array(any)) = map.get("anyOf") {
                let rest: Vec<Value> = any
                    .iter()
                    .filter(|s| s.get("type").is_none_or(|t| t != "null"))
                    .cloned()
                    .collect();
                if rest.len() == 1 {
                    map.remove("anyOf");
                    if let Value::Object(only) = &rest[0] {
                        for (k, v) in only {
                            map.entry(k.clone()).or_insert_with(|| v.clone());
                        }
                    }
                } else {
                    map.insert("anyOf".into(), Value::Array(rest));
                }
            }
            for v in map.values_mut() {
                tidy(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}
