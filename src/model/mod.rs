//! The resolved platform: defaults applied, per-environment overrides merged, relations
//! derived (owner of each datum, publisher of each topic, callers of each service).
//! Blueprints see only this model, never raw TOML. Built only from a spec that passed
//! validation, so construction cannot fail.

pub mod cluster;
mod derived;
pub mod egress;
pub mod events;
pub mod graph;
pub mod observability;
pub mod release;
pub mod tls;
pub mod traffic;
pub mod units;

pub use derived::{
    Clash, claims, default_host, default_namespace, default_tls_secret, replicas, store_name,
};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::spec::defaults;
use crate::spec::{
    AutoscaleSpec, Ci, Datastore, Deploy, Mesh, ReleaseSpec, ResourcesSpec, Runtime, Spec, Strategy,
};

/// Environment variables the built-in blueprints set on every container; service.toml
/// cannot declare them again (a callee's `<NAME>_URL` is reserved the same way).
pub const RESERVED_ENV: &[&str] = &[
    "PORT",
    "LOG_FORMAT",
    "POD_NAME",
    "POD_NAMESPACE",
    "OTEL_SERVICE_NAME",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_RESOURCE_ATTRIBUTES",
    // A service's own datastore (see `datastore.yaml`): host, port and credentials.
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    "DATABASE_USER",
    "DATABASE_PASSWORD",
    // The event broker (see `events::VARIABLES`): URL, identity and credentials.
    "NATS_URL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_INBOX_PREFIX",
    "NATS_DURABLE",
];

/// The variable holding a callee's URL: `trip-management` → `TRIP_MANAGEMENT_URL`.
pub fn callee_url_var(callee: &str) -> String {
    format!("{}_URL", heck::AsShoutySnakeCase(callee))
}

/// The tag every image starts at; CI replaces it per environment with the commit SHA.
pub const INITIAL_TAG: &str = "0.1.0";

/// Everything a blueprint can see, as the context `platform`, `environments`, `services`
/// and `vars`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Model {
    /// The platform: `[platform]` with defaults applied and relations derived.
    pub platform: Platform,
    /// The environments in promotion order; the last one is production.
    pub environments: Vec<Environment>,
    /// The services in file order.
    pub services: Vec<Service>,
    /// `[platform.vars]` as written: free-form values for custom blueprints (TOML dates
    /// become strings).
    pub vars: serde_json::Map<String, serde_json::Value>,
}

/// `platform`: the platform as a whole, with relations derived from all services.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Platform {
    /// The platform's name: a DNS label, prefix of namespaces, the Argo CD project and
    /// dashboard uids.
    pub name: String,
    /// Image registry prefix; a service's image is `{registry}/{service}`.
    pub registry: String,
    /// Git URL Argo CD syncs from.
    pub repository: String,
    /// Git revision Argo CD tracks (default `main`).
    pub revision: String,
    /// Public host base, if any; the environments' hosts derive from it.
    pub domain: Option<String>,
    /// The service mesh.
    pub mesh: Mesh,
    /// Which tree the Argo CD Applications point at.
    pub deploy: Deploy,
    /// Which CI system gets workflows.
    pub ci: Ci,
    /// The platform's own blueprints folder as written in service.toml (relative to it), if any.
    pub blueprints: Option<String>,
    /// Topics consumed here but published outside the platform.
    pub external_topics: Vec<String>,
    /// Datum → the one service that owns it.
    pub owners: IndexMap<String, String>,
    /// Topic → the one service that publishes it (external topics are absent).
    pub publishers: IndexMap<String, String>,
    /// Topic → the services that consume it.
    pub subscribers: IndexMap<String, Vec<String>>,
    /// The namespaces of all environments, in promotion order.
    pub namespaces: Vec<String>,
    /// The tag images start at before CI sets real ones.
    pub initial_tag: &'static str,
    /// Where the cluster's shared add-ons run, for network policies and telemetry.
    pub addons: Addons,
    /// The addresses a service's declared `egress` ports are opened to: public IPv4.
    pub internet: egress::Internet,
    /// The domain graph drawn as Mermaid and DOT (one builder: `graph::Graph`).
    pub graph: graph::Drawings,
    /// Grafana uid of the overview dashboard (see `dashboard_uid`).
    pub overview_dashboard_uid: String,
    /// The overview dashboard's queries: every service at once, by its service label.
    pub overview: observability::Overview,
    /// What a service gets for every key it leaves out.
    pub service_defaults: ServiceDefaults,
    /// `OTEL_RESOURCE_ATTRIBUTES` of every service: the platform, the pod's namespace and
    /// name (expanded by Kubernetes from `POD_NAMESPACE` and `POD_NAME`).
    pub otel_resource_attributes: String,
    /// The event broker of every environment, when any service publishes or consumes.
    pub broker: Option<events::Broker>,
    /// Whether some service scales on its backlog somewhere (KEDA is then required).
    pub scales_on_backlog: bool,
    /// The UID and GID datastores and the broker run as.
    pub data_uid: i64,
    /// What the cluster must provide for the output to run.
    pub capabilities: Vec<cluster::Capability>,
    /// The GitHub Actions workflows use, `owner/repo[/path]` → `owner/repo[/path]@<commit> #
    /// <release>`: the value of `uses:`, pinned to a commit, with its release as a comment.
    pub actions: IndexMap<String, String>,
    /// How the environments' certificates are made (`[platform] tls`).
    pub tls: tls::Tls,
}

/// `uses:` of every pinned action, by action.
pub fn action_pins() -> IndexMap<String, String> {
    defaults::actions::PINS
        .iter()
        .map(|p| {
            (
                p.action.to_string(),
                format!("{}@{} # {}", p.action, p.commit, p.release),
            )
        })
        .collect()
}

/// A set of pods elsewhere in the cluster: its namespace and pod labels.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PodGroup {
    /// The namespace the pods run in.
    pub namespace: String,
    /// Labels that select the pods.
    pub labels: IndexMap<String, String>,
    /// The ports services reach them on (empty for groups that only send traffic, like the
    /// gateway and Prometheus).
    pub ports: Vec<u16>,
}

impl PodGroup {
    fn new(namespace: &str, label: (&str, &str), ports: &[u16]) -> Self {
        Self {
            namespace: namespace.to_owned(),
            labels: IndexMap::from([(label.0.to_owned(), label.1.to_owned())]),
            ports: ports.to_vec(),
        }
    }
}

/// The conventional locations of the cluster add-ons a platform relies on.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Addons {
    /// Cluster DNS (egress on port 53).
    pub dns: PodGroup,
    /// The ingress gateway public traffic arrives from (Istio's, or ingress-nginx without a mesh).
    pub gateway: PodGroup,
    /// The mesh control plane sidecars talk to (istiod); absent without a mesh.
    pub mesh_control_plane: Option<PodGroup>,
    /// Prometheus, which scrapes every service.
    pub prometheus: PodGroup,
    /// The OpenTelemetry collector traces and logs go to.
    pub otel_collector: PodGroup,
    /// The OTLP endpoint services export to.
    pub otlp_endpoint: &'static str,
    /// The gateway's mesh identity (what AuthorizationPolicies admit on public paths);
    /// none without a mesh.
    pub gateway_principal: Option<String>,
    /// KEDA's operator, which reads the broker's monitoring port for consumer backlogs.
    pub keda: PodGroup,
    /// NATS's JetStream controller (NACK), which declares streams and consumers.
    pub jetstream_controller: PodGroup,
    /// The controller's ServiceAccount (its mesh identity's last part).
    pub jetstream_controller_service_account: &'static str,
}

impl Addons {
    /// The add-ons' conventional places, the gateway's as `[platform] gateway` says.
    pub fn new(mesh: Mesh, gateway: Option<&crate::spec::GatewaySpec>) -> Self {
        use defaults::gateway as g;
        let istio = mesh == Mesh::Istio;
        let (namespace, label) = if istio {
            (g::ISTIO_NAMESPACE, g::ISTIO_LABEL)
        } else {
            (g::NGINX_NAMESPACE, g::NGINX_LABEL)
        };
        let mut group = PodGroup::new(namespace, label, &[]);
        if let Some(ns) = gateway.and_then(|g| value(g.namespace.as_ref())) {
            group.namespace = ns;
        }
        if let Some(labels) = gateway.and_then(|g| g.labels.as_ref()) {
            group.labels = labels
                .iter()
                .map(|(k, v)| (k.value.clone(), v.value.clone()))
                .collect();
        }
        let account = gateway
            .and_then(|g| value(g.service_account.as_ref()))
            .unwrap_or_else(|| g::ISTIO_SERVICE_ACCOUNT.to_owned());
        Self {
            dns: PodGroup::new("kube-system", ("k8s-app", "kube-dns"), &[53]),
            gateway_principal: istio.then(|| traffic::principal(&group.namespace, &account)),
            gateway: group,
            mesh_control_plane: istio
                .then(|| PodGroup::new("istio-system", ("app", "istiod"), &[15012])),
            prometheus: PodGroup::new("monitoring", ("app.kubernetes.io/name", "prometheus"), &[]),
            otel_collector: PodGroup::new(
                "monitoring",
                ("app.kubernetes.io/name", "opentelemetry-collector"),
                &[4317, 4318],
            ),
            otlp_endpoint: "http://opentelemetry-collector.monitoring.svc.cluster.local:4317",
            keda: PodGroup::new("keda", ("app.kubernetes.io/name", "keda-operator"), &[]),
            jetstream_controller: PodGroup::new("nack", ("app.kubernetes.io/name", "nack"), &[]),
            jetstream_controller_service_account: "jetstream-controller",
        }
    }
}

/// One environment: `env` in `__env__` blueprints, an item of `environments`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Environment {
    /// The environment's name (its table key in service.toml).
    pub name: String,
    /// Kubernetes namespace (default `{platform}-{env}`).
    pub namespace: String,
    /// Argo CD destination server.
    pub cluster: String,
    /// Public host of the gateway; none when neither `host` nor `platform.domain` is set.
    pub host: Option<String>,
    /// Default replica count of every service here.
    pub replicas: i64,
    /// Argo CD automated sync with prune and self-heal; false: manual sync.
    pub auto_sync: bool,
    /// Secret holding the gateway's TLS certificate (default `{platform}-{env}-tls`).
    pub tls_secret: String,
    /// The namespace `tls_secret` must be in: the gateway's with Istio (it reads
    /// `credentialName` from its own namespace), the environment's without a mesh.
    pub tls_namespace: String,
    /// The cert-manager Certificate filling `tls_secret`, with `tls.mode = "cert-manager"`
    /// when the environment serves a public host.
    pub certificate: Option<tls::Certificate>,
    /// Position in the promotion order, from 0.
    pub index: usize,
    /// The first environment: CI deploys new images here.
    pub first: bool,
    /// The last environment is production.
    pub production: bool,
    /// The event broker here, when the platform has one.
    pub broker: Option<events::BrokerHere>,
    /// With the mesh and a host: the public route table, the longest prefix first.
    pub routes: Vec<traffic::GatewayRoute>,
}

/// One service: `service` in `__service__` blueprints, an item of `services`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Service {
    /// The service's name (its table key): a DNS label that names every object of the
    /// service.
    pub name: String,
    /// Free text from service.toml, if any (arbitrary characters: let the escaping handle
    /// it).
    pub description: Option<String>,
    /// Language toolchain: picks `_runtimes/<runtime>/Dockerfile` and the CI steps.
    pub runtime: Runtime,
    /// The runtime's toolchain: its version in CI and its build image.
    pub toolchain: defaults::toolchain::Toolchain,
    /// Container port (default 8080).
    pub port: i64,
    /// `{registry}/{name}`, without a tag.
    pub image: String,
    /// Data this service owns, in file order; no other service owns them.
    pub owns: Vec<String>,
    /// The kind of its own database (`none` without one); details in `store`.
    pub datastore: Datastore,
    /// The service's own database, when it has one.
    pub store: Option<Store>,
    /// Public route prefixes through the gateway; empty: internal only.
    pub apis: Vec<String>,
    /// Services it calls synchronously, in file order.
    pub calls: Vec<String>,
    /// Services that declare a call to this one (derived), in file order.
    pub callers: Vec<String>,
    /// The services in `calls`, resolved: name and container port, in `calls` order.
    pub callees: Vec<Callee>,
    /// Hosts outside the cluster it connects to (`egress`), by destination, host and port.
    pub egress: egress::Egress,
    /// Services that depend on this one through calls, directly or through other services
    /// (derived: callers, their callers, …), in file order: who suffers when it is down.
    pub dependents: Vec<String>,
    /// Event topics it publishes.
    pub publishes: Vec<String>,
    /// Event topics it consumes.
    pub consumes: Vec<String>,
    /// How it connects to the event broker, when it publishes or consumes.
    pub events: Option<events::Connection>,
    /// Probe paths.
    pub health: Health,
    /// Requests and limits (the service's base; per environment in `environments`).
    pub resources: Resources,
    /// Autoscaling (the base), or none when the service does not autoscale.
    pub autoscale: Option<Autoscale>,
    /// Release strategy (the base; per environment in `environments`).
    pub release: Release,
    /// Timeouts, retries, outlier detection and connection pool of calls to it.
    pub resilience: Resilience,
    /// Service level objectives.
    pub slo: Slo,
    /// Plain configuration, variable → value (the base; merged per environment in
    /// `environments`).
    pub env: IndexMap<String, String>,
    /// Names of secret variables, read from the Secret `{service}-secrets`.
    pub secrets: Vec<String>,
    /// Grafana uid of the service's dashboard (see `dashboard_uid`).
    pub dashboard_uid: String,
    /// Its runbook: the service's section of docs/architecture.md (a browsable URL when the
    /// repository has one).
    pub runbook_url: String,
    /// Its request metrics as PromQL in the dashboards' `$namespace`.
    pub metrics: observability::Metrics,
    /// The paths the ingress gateway may request (`apis` as AuthorizationPolicy paths).
    pub authorized_paths: Vec<String>,
    /// Whether the workload lives in the Kustomize base: it runs as a Deployment (rolling
    /// updates) in every environment. Otherwise each environment's overlay holds its own
    /// workload, a Deployment or a Rollout.
    pub workload_in_base: bool,
    /// Whether its HorizontalPodAutoscaler lives in the Kustomize base: it autoscales on
    /// CPU or memory alone, with the workload in the base. Otherwise each environment's
    /// overlay holds its autoscaler, an HPA or (on a `backlog`) a KEDA ScaledObject.
    pub autoscaler_in_base: bool,
    /// Settings resolved for every environment (keyed by environment name, promotion order).
    pub environments: IndexMap<String, ServiceEnvironment>,
}

/// A service another one calls.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Callee {
    /// The callee's service name.
    pub name: String,
    /// The callee's container port (what a NetworkPolicy must open).
    pub port: i64,
    /// The variable holding its URL (`callee_url_var`).
    pub url_var: String,
    /// Its URL: the Service's cluster DNS name in the caller's namespace, never a Pod IP.
    pub url: String,
}

/// A service's own database.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Store {
    /// The database.
    pub kind: Datastore,
    /// Object name: `{service}-{kind}`.
    pub name: String,
    /// The port the database listens on.
    pub port: u16,
    /// The Secret holding its credentials.
    pub secret: String,
    /// Its host name as the service reaches it (cluster DNS in the pod's namespace).
    pub host: String,
    /// The database created for the service (`{service}` in snake case); none for redis.
    pub database: Option<String>,
    /// The pinned official image.
    pub image: &'static str,
    /// The UID and GID it runs as (`fsGroup` makes the volume writable for it).
    pub uid: i64,
    /// The container's arguments, when the image's default command will not do (MySQL's
    /// data folder; Redis's configuration, password included, read from standard input so
    /// that no password is on a command line).
    pub args: Vec<String>,
    /// Where the data lives (the volume claim's mount).
    pub data_path: &'static str,
    /// Writable scratch folders a read-only root filesystem needs: volume name → path.
    pub scratch: IndexMap<&'static str, &'static str>,
    /// Resource requests.
    pub requests: Quantities,
    /// Resource limits.
    pub limits: Quantities,
    /// The volume claim's size.
    pub storage: &'static str,
    /// A readiness/liveness command that needs no network peer.
    pub probe: Vec<&'static str>,
}

/// A CPU and a memory quantity.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Quantities {
    /// CPU (`250m`).
    pub cpu: &'static str,
    /// Memory (`256Mi`).
    pub memory: &'static str,
}

/// Probe paths of a service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Health {
    /// Liveness (and startup) probe path.
    pub liveness: String,
    /// Readiness probe path.
    pub readiness: String,
}

/// Kubernetes resource requests and limits.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Resources {
    /// CPU request, a Kubernetes quantity (`100m`).
    pub cpu: String,
    /// Memory request (`128Mi`).
    pub memory: String,
    /// CPU limit, if any.
    pub cpu_limit: Option<String>,
    /// Memory limit, if any.
    pub memory_limit: Option<String>,
}

/// HorizontalPodAutoscaler bounds and targets.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Autoscale {
    /// Fewest replicas.
    pub min: i64,
    /// Most replicas.
    pub max: i64,
    /// Target average CPU utilisation in percent.
    pub cpu: Option<i64>,
    /// Target average memory utilisation in percent.
    pub memory: Option<i64>,
    /// Pending messages per replica on each consumed stream (a KEDA ScaledObject scales
    /// the workload instead of a plain HPA).
    pub backlog: Option<i64>,
}

/// How a new version of a service replaces the old one.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Release {
    /// How the new version replaces the old one.
    pub strategy: Strategy,
    /// Percent of traffic to the canary (canary only).
    pub weight: Option<i64>,
    /// The canary's steps in order: `release.steps`, or by default its weight, a pause and
    /// the analysis. Empty when the strategy is not canary.
    pub steps: Vec<release::Step>,
}

/// Timeouts, retries, outlier detection and connection pool of calls to a service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Resilience {
    /// Protobuf-style duration, e.g. `"3s"`.
    pub timeout: String,
    /// `timeout` in milliseconds.
    pub timeout_ms: u64,
    /// Retries of a failed request.
    pub retries: i64,
    /// Consecutive errors before an instance is ejected.
    pub consecutive_errors: i64,
    /// How long an ejected instance stays out, protobuf-style like `timeout`.
    pub ejection: String,
    /// `ejection` in milliseconds.
    pub ejection_ms: u64,
    /// Connection pool size towards the service.
    pub max_connections: i64,
    /// Each attempt's share of `timeout` (`timeout / (retries + 1)`), so every retry fits
    /// inside the overall budget; protobuf-style like `timeout`.
    pub per_try_timeout: String,
    /// `timeout` in whole seconds, rounded up (ingress-nginx takes only seconds).
    pub timeout_seconds: u64,
    /// Tries in all, `retries + 1` (ingress-nginx counts the first one).
    pub attempts: i64,
    /// Whether its routes may be repeated safely (`resilience.idempotent`).
    pub idempotent: bool,
    /// What the mesh retries: only what never reached the application (connect failure,
    /// refused stream, `unavailable`, `cancelled`, a 503 from the proxy), for all methods;
    /// 5xx answers and resets too when the routes are idempotent.
    pub retry_on: &'static str,
    /// What ingress-nginx retries on the next pod (`proxy-next-upstream`), on the same
    /// rule; nginx never repeats a non-idempotent method unless told to.
    pub next_upstream: &'static str,
    /// How often outlier detection looks at the pods, protobuf-style.
    pub interval: &'static str,
    /// The most pods outlier detection ejects at once, in percent.
    pub max_ejection_percent: i64,
}

/// Service level objectives of a service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Slo {
    /// Percent, e.g. 99.9.
    pub availability: f64,
    /// Allowed error ratio, e.g. 0.001 for 99.9 %.
    pub error_budget: f64,
    /// 95th percentile latency objective in milliseconds.
    pub latency_p95_ms: i64,
}

impl Resources {
    /// What a service that sets no `resources` gets.
    pub fn defaults() -> Self {
        Self {
            cpu: defaults::CPU.into(),
            memory: defaults::MEMORY.into(),
            cpu_limit: defaults::CPU_LIMIT.map(Into::into),
            memory_limit: defaults::MEMORY_LIMIT.map(Into::into),
        }
    }
}

impl Resilience {
    pub fn new(
        timeout_ms: u64,
        retries: i64,
        consecutive_errors: i64,
        ejection_ms: u64,
        max_connections: i64,
        idempotent: bool,
    ) -> Self {
        Self {
            idempotent,
            retry_on: if idempotent {
                "5xx,reset,connect-failure,refused-stream,unavailable,cancelled"
            } else {
                "connect-failure,refused-stream,unavailable,cancelled,503"
            },
            next_upstream: if idempotent {
                "error timeout http_502 http_503 http_504 non_idempotent"
            } else {
                "error http_503"
            },
            timeout: units::proto_duration(timeout_ms),
            timeout_ms,
            retries,
            consecutive_errors,
            ejection: units::proto_duration(ejection_ms),
            ejection_ms,
            max_connections,
            per_try_timeout: units::proto_duration(
                (timeout_ms / (retries.max(0).unsigned_abs() + 1)).max(1),
            ),
            timeout_seconds: timeout_ms.div_ceil(1000),
            attempts: retries + 1,
            interval: "10s",
            max_ejection_percent: 50,
        }
    }

    /// What a service that sets no `resilience` gets.
    pub fn defaults() -> Self {
        Self::new(
            units::parse_duration_ms(defaults::TIMEOUT).unwrap_or_default(),
            defaults::RETRIES.default,
            defaults::CONSECUTIVE_ERRORS.default,
            units::parse_duration_ms(defaults::EJECTION).unwrap_or_default(),
            defaults::MAX_CONNECTIONS.default,
            defaults::IDEMPOTENT,
        )
    }
}

impl Slo {
    pub fn new(availability: f64, latency_p95_ms: i64) -> Self {
        Self {
            availability,
            // Rounded away from float noise (0.0009999999999999432 → 0.001), finely enough
            // that six nines keep a non-zero budget.
            error_budget: ((100.0 - availability) / 100.0 * 1e12).round() / 1e12,
            latency_p95_ms,
        }
    }
}

/// What a service gets for every key it leaves out: the chart's `values.yaml` documents
/// these, so a platform team overriding a template sees the same defaults as the model.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceDefaults {
    /// Container port.
    pub port: i64,
    /// Replicas in an environment that sets none.
    pub replicas: i64,
    /// Probe paths.
    pub health: Health,
    /// Requests and limits.
    pub resources: Resources,
    /// Calls to the service.
    pub resilience: Resilience,
    /// Service level objectives.
    pub slo: Slo,
}

impl Default for ServiceDefaults {
    fn default() -> Self {
        Self {
            port: defaults::PORT.default,
            replicas: defaults::REPLICAS.default,
            health: Health {
                liveness: defaults::LIVENESS.into(),
                readiness: defaults::READINESS.into(),
            },
            resources: Resources::defaults(),
            resilience: Resilience::defaults(),
            slo: Slo::new(
                defaults::AVAILABILITY.default,
                defaults::LATENCY_P95_MS.default,
            ),
        }
    }
}

/// One service in one environment.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ServiceEnvironment {
    /// Replica count here.
    pub replicas: i64,
    /// Requests and limits here.
    pub resources: Resources,
    /// Autoscaling here, or none.
    pub autoscale: Option<Autoscale>,
    /// Service `env` with this environment's values merged over it.
    pub env: IndexMap<String, String>,
    /// Only the keys this environment adds or changes.
    pub env_overrides: IndexMap<String, String>,
    /// Release strategy here.
    pub release: Release,
    /// Which settings differ from the service's base (what an overlay must patch).
    pub changed: Changed,
    /// Release tracks, mesh routes and who may call it here.
    pub traffic: traffic::Traffic,
    /// Severity of the fast error-budget burns: `critical` pages (production only),
    /// `warning` is a ticket.
    pub page_severity: &'static str,
    /// The PrometheusRule groups of its SLO here.
    pub alerts: Vec<observability::RuleGroup>,
    /// The AnalysisTemplate that judges a new version here, when a Rollout runs it.
    pub analysis: Option<observability::Analysis>,
    /// With `autoscale.backlog`: the KEDA ScaledObject's triggers here (the backlog of
    /// each consumed stream, then CPU and memory), which replace the HPA.
    pub scaler: Option<Vec<events::Trigger>>,
}

/// Which settings of one service in one environment differ from the service's base.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Changed {
    /// `resources` differ from the service's.
    pub resources: bool,
    /// `autoscale` differs from the service's.
    pub autoscale: bool,
    /// `env` differs from the service's.
    pub env: bool,
    /// `release` differs from the service's.
    pub release: bool,
}

fn value<T: Clone>(s: Option<&crate::spec::Spanned<T>>) -> Option<T> {
    s.map(|s| s.value.clone())
}

impl Model {
    /// Resolves a validated spec.
    pub fn build(spec: &Spec) -> Self {
        let p = &spec.platform;
        let name = value(p.name.as_ref()).unwrap_or_default();
        let domain = value(p.domain.as_ref());
        let last = spec.environments.len().saturating_sub(1);
        let mut environments: Vec<Environment> = spec
            .environments
            .iter()
            .enumerate()
            .map(|(index, e)| {
                let env_name = e.name.value.clone();
                let default_host = domain
                    .as_ref()
                    .map(|d| default_host(d, &env_name, index == last));
                Environment {
                    namespace: value(e.namespace.as_ref())
                        .unwrap_or_else(|| default_namespace(&name, &env_name)),
                    cluster: value(e.cluster.as_ref()).unwrap_or_else(|| defaults::CLUSTER.into()),
                    host: value(e.host.as_ref()).or(default_host),
                    replicas: replicas(None, value(e.replicas.as_ref())),
                    auto_sync: value(e.auto_sync.as_ref()).unwrap_or(defaults::AUTO_SYNC),
                    tls_secret: value(e.tls_secret.as_ref())
                        .unwrap_or_else(|| default_tls_secret(&name, &env_name)),
                    tls_namespace: String::new(),
                    certificate: None,
                    index,
                    first: index == 0,
                    production: index == last,
                    broker: None,
                    routes: Vec::new(),
                    name: env_name,
                }
            })
            .collect();

        let registry = value(p.registry.as_ref()).unwrap_or_default();
        let mut services: Vec<Service> = spec
            .services
            .iter()
            .map(|s| Service::build(s, &registry, &environments))
            .collect();

        // Derived relations, in one pass over the calls (platforms have thousands of
        // services: no service-by-service scans).
        let index: std::collections::HashMap<String, usize> = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let mut callers: Vec<Vec<String>> = vec![Vec::new(); services.len()];
        let mut callees: Vec<Vec<Callee>> = vec![Vec::new(); services.len()];
        for (i, s) in services.iter().enumerate() {
            for name in &s.calls {
                if let Some(&j) = index.get(name) {
                    callers[j].push(s.name.clone());
                    callees[i].push(Callee {
                        url_var: callee_url_var(name),
                        url: format!("http://{name}.$(POD_NAMESPACE).svc.cluster.local"),
                        name: name.clone(),
                        port: services[j].port,
                    });
                }
            }
        }
        for ((service, callers), callees) in services.iter_mut().zip(callers).zip(callees) {
            service.callers = callers;
            service.callees = callees;
        }
        let dependents: Vec<Vec<String>> = services
            .iter()
            .map(|s| graph::dependents(&services, &s.name))
            .collect();
        for (service, dependents) in services.iter_mut().zip(dependents) {
            service.dependents = dependents;
        }
        let claimed = |list: fn(&Service) -> &[String]| -> IndexMap<String, String> {
            let services = services.iter().map(|s| (s.name.as_str(), list(s)));
            let (first, _) = claims(services, String::as_str);
            first
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        };
        let owners = claimed(|s| &s.owns);
        let publishers = claimed(|s| &s.publishes);
        let mut subscribers: IndexMap<String, Vec<String>> = IndexMap::new();
        for s in &services {
            for t in &s.consumes {
                subscribers
                    .entry(t.clone())
                    .or_default()
                    .push(s.name.clone());
            }
        }

        let mesh = value(p.mesh.as_ref()).unwrap_or(defaults::MESH);
        let repository = value(p.repository.as_ref()).unwrap_or_default();
        let revision = value(p.revision.as_ref()).unwrap_or_else(|| defaults::REVISION.into());
        let external_topics: Vec<String> =
            p.external_topics.iter().map(|t| t.value.clone()).collect();
        let addons = Addons::new(mesh, p.gateway.as_ref());
        let mut tls = tls::Tls::new(
            value(p.tls.as_ref().and_then(|t| t.mode.as_ref())).unwrap_or(defaults::TLS_MODE),
            value(p.tls.as_ref().and_then(|t| t.issuer.as_ref())),
            value(p.tls.as_ref().and_then(|t| t.issuer_kind.as_ref()))
                .unwrap_or(defaults::ISSUER_KIND),
        );
        // The entrance of an environment: Istio's Gateway whenever it has a host; without
        // a mesh, the Ingresses of the services with public paths.
        let entrance = mesh == Mesh::Istio || services.iter().any(|s| !s.apis.is_empty());
        for e in &mut environments {
            e.tls_namespace = tls::secret_namespace(mesh, &addons.gateway.namespace, &e.namespace);
            let hosts = e.host.iter().filter(|_| entrance).cloned().collect();
            e.certificate = tls::certificate(&tls, &e.tls_secret, &e.tls_namespace, hosts);
            if let Some(c) = &e.certificate {
                tls.add_destination(&e.cluster, &c.namespace);
            }
        }
        let broker = events::broker(&services, &publishers, &subscribers, &external_topics);
        if let Some(b) = &broker {
            let runbook = observability::runbook_url(&repository, &revision, b.name);
            for e in &mut environments {
                let at = events::Place {
                    env: &e.name,
                    namespace: &e.namespace,
                    production: e.production,
                    mesh: mesh == Mesh::Istio,
                    runbook_url: &runbook,
                };
                e.broker = Some(events::here(b, &at, &addons));
            }
        }
        for s in &mut services {
            s.events = events::connection(s);
            s.autoscaler_in_base = s.workload_in_base
                && s.autoscale.is_some()
                && s.environments
                    .values()
                    .all(|e| e.autoscale.as_ref().is_none_or(|a| a.backlog.is_none()));
            s.dashboard_uid = dashboard_uid(&name, &s.name);
            s.runbook_url = observability::runbook_url(&repository, &revision, &s.name);
            s.metrics =
                observability::Metrics::new(mesh, "$namespace", &s.name, s.slo.latency_p95_ms);
            for (e, here) in environments.iter().zip(s.environments.values_mut()) {
                here.traffic = traffic::Traffic::new(&traffic::TrafficInput {
                    mesh,
                    service: &s.name,
                    namespace: &e.namespace,
                    host: e.host.as_deref(),
                    apis: &s.apis,
                    callers: &s.callers,
                    strategy: here.release.strategy,
                    steps: &here.release.steps,
                });
                here.page_severity = if e.production { "critical" } else { "warning" };
                here.scaler = here
                    .autoscale
                    .as_ref()
                    .and_then(|a| events::triggers(&s.name, &s.consumes, &e.namespace, a));
                here.analysis = here.traffic.rollout.is_some().then(|| {
                    observability::analysis(
                        mesh,
                        &e.namespace,
                        &s.name,
                        s.slo.availability,
                        s.slo.latency_p95_ms,
                    )
                });
                here.alerts = observability::alert_rules(&observability::AlertInput {
                    mesh,
                    service: &s.name,
                    env: &e.name,
                    namespace: &e.namespace,
                    availability: s.slo.availability,
                    error_budget: s.slo.error_budget,
                    latency_p95_ms: s.slo.latency_p95_ms,
                    page_severity: here.page_severity,
                    runbook_url: &s.runbook_url,
                    workload_kind: here.traffic.workload.kind,
                });
            }
        }
        if mesh == Mesh::Istio {
            for e in environments.iter_mut().filter(|e| e.host.is_some()) {
                e.routes = traffic::gateway_routes(
                    services
                        .iter()
                        .map(|s| (s.name.as_str(), s.apis.as_slice())),
                );
            }
        }
        let scales_on_backlog = services
            .iter()
            .any(|s| s.environments.values().any(|e| e.scaler.is_some()));
        let capabilities = cluster::capabilities(
            mesh,
            &addons,
            &services,
            broker.is_some(),
            scales_on_backlog,
            &tls,
        );
        let graph = graph::Graph::build(&name, &services, &external_topics).drawings();
        Model {
            platform: Platform {
                addons,
                broker,
                data_uid: defaults::DATA_UID,
                actions: action_pins(),
                capabilities,
                tls,
                scales_on_backlog,
                internet: egress::Internet::default(),
                repository,
                revision,
                domain,
                mesh,
                deploy: value(p.deploy.as_ref()).unwrap_or(defaults::DEPLOY),
                ci: value(p.ci.as_ref()).unwrap_or(defaults::CI),
                blueprints: value(
                    p.blueprints
                        .as_ref()
                        .and_then(crate::spec::BlueprintsSpec::folder),
                ),
                external_topics,
                graph,
                overview_dashboard_uid: dashboard_uid(&name, "overview"),
                overview: observability::Overview::new(
                    mesh,
                    &name,
                    services.iter().map(|s| s.name.as_str()),
                ),
                service_defaults: ServiceDefaults::default(),
                otel_resource_attributes: format!(
                    "service.namespace={name},k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)"
                ),
                owners,
                publishers,
                subscribers,
                namespaces: environments.iter().map(|e| e.namespace.clone()).collect(),
                initial_tag: INITIAL_TAG,
                registry,
                name,
            },
            environments,
            services,
            vars: p.vars.clone(),
        }
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }
}

fn strings(list: &[crate::spec::Spanned<String>]) -> Vec<String> {
    list.iter().map(|s| s.value.clone()).collect()
}

fn resources(over: Option<&ResourcesSpec>, base: &Resources) -> Resources {
    let Some(r) = over else { return base.clone() };
    Resources {
        cpu: value(r.cpu.as_ref()).unwrap_or_else(|| base.cpu.clone()),
        memory: value(r.memory.as_ref()).unwrap_or_else(|| base.memory.clone()),
        cpu_limit: value(r.cpu_limit.as_ref()).or_else(|| base.cpu_limit.clone()),
        memory_limit: value(r.memory_limit.as_ref()).or_else(|| base.memory_limit.clone()),
    }
}

fn autoscale(over: Option<&AutoscaleSpec>, base: Option<&Autoscale>) -> Option<Autoscale> {
    let Some(a) = over else { return base.cloned() };
    Some(Autoscale {
        min: value(a.min.as_ref()).or(base.map(|b| b.min))?,
        max: value(a.max.as_ref()).or(base.map(|b| b.max))?,
        cpu: value(a.cpu.as_ref()).or(base.and_then(|b| b.cpu)),
        memory: value(a.memory.as_ref()).or(base.and_then(|b| b.memory)),
        backlog: value(a.backlog.as_ref()).or(base.and_then(|b| b.backlog)),
    })
}

/// `over` merged over `base`. A key `over` leaves out is `base`'s while the strategy stays
/// the same, else its default; `base_steps` are the steps `base` declared, if any (inherited
/// like its weight, while default steps follow the weight in effect).
fn release(
    over: Option<&ReleaseSpec>,
    base: &Release,
    base_steps: Option<&[crate::spec::StepSpec]>,
) -> Release {
    let Some(r) = over else { return base.clone() };
    let strategy = value(r.strategy.as_ref()).unwrap_or(base.strategy);
    let same = strategy == base.strategy;
    let weight = value(r.weight.as_ref()).or(if same { base.weight } else { None });
    let weight = (strategy == Strategy::Canary).then(|| weight.unwrap_or(defaults::WEIGHT.default));
    let declared = match &r.steps {
        Some(steps) => Some(steps.value.as_slice()),
        None if same => base_steps,
        None => None,
    };
    let steps = match (weight, declared) {
        (None, _) => Vec::new(),
        (Some(_), Some(declared)) => release::declared(declared),
        (Some(w), None) => release::default_steps(w),
    };
    Release {
        weight,
        strategy,
        steps,
    }
}

impl Service {
    fn build(s: &crate::spec::ServiceSpec, registry: &str, environments: &[Environment]) -> Self {
        let name = s.name.value.clone();
        let datastore = value(s.datastore.as_ref()).unwrap_or(defaults::DATASTORE);
        let runtime = value(s.runtime.as_ref()).unwrap_or(Runtime::Go);
        let base_resources = resources(Some(&s.resources), &Resources::defaults());
        let base_autoscale = s.autoscale.as_ref().and_then(|a| autoscale(Some(a), None));
        let base_release = release(
            s.release.as_ref(),
            &Release {
                strategy: defaults::STRATEGY,
                weight: None,
                steps: Vec::new(),
            },
            None,
        );
        let base_steps = s
            .release
            .as_ref()
            .and_then(|r| r.steps.as_ref())
            .map(|s| s.value.as_slice());
        let env: IndexMap<String, String> = s
            .env
            .iter()
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
        let r = &s.resilience;
        // Validation rejected any other text; a test of `defaults` parses the defaults.
        let timeout_ms = units::parse_duration_ms(
            r.timeout
                .as_ref()
                .map_or(defaults::TIMEOUT, |t| t.value.as_str()),
        )
        .unwrap_or_default();
        let ejection_ms = units::parse_duration_ms(
            r.ejection
                .as_ref()
                .map_or(defaults::EJECTION, |t| t.value.as_str()),
        )
        .unwrap_or_default();
        let availability =
            value(s.slo.availability.as_ref()).unwrap_or(defaults::AVAILABILITY.default);
        let retries = value(r.retries.as_ref()).unwrap_or(defaults::RETRIES.default);

        let per_env: IndexMap<String, ServiceEnvironment> = environments
            .iter()
            .map(|e| {
                let over = s.environments.iter().find(|o| o.name.value == e.name);
                let res = resources(over.and_then(|o| o.resources.as_ref()), &base_resources);
                let auto = autoscale(
                    over.and_then(|o| o.autoscale.as_ref()),
                    base_autoscale.as_ref(),
                );
                let rel = release(
                    over.and_then(|o| o.release.as_ref()),
                    &base_release,
                    base_steps,
                );
                let env_overrides: IndexMap<String, String> = over
                    .map(|o| {
                        o.env
                            .iter()
                            .map(|(k, v)| (k.value.clone(), v.value.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut merged = env.clone();
                merged.extend(env_overrides.clone());
                let changed = Changed {
                    resources: res != base_resources,
                    autoscale: auto != base_autoscale,
                    env: merged != env,
                    release: rel != base_release,
                };
                let se = ServiceEnvironment {
                    replicas: replicas(
                        value(over.and_then(|o| o.replicas.as_ref())),
                        Some(e.replicas),
                    ),
                    resources: res,
                    autoscale: auto,
                    env: merged,
                    env_overrides,
                    release: rel,
                    changed,
                    // Filled in by `Model::build` once callers are known.
                    traffic: traffic::Traffic::default(),
                    page_severity: "",
                    alerts: Vec::new(),
                    analysis: None,
                    scaler: None,
                };
                (e.name.clone(), se)
            })
            .collect();

        Service {
            image: format!("{registry}/{name}"),
            description: value(s.description.as_ref()),
            runtime,
            toolchain: defaults::toolchain::of(runtime),
            port: value(s.port.as_ref()).unwrap_or(defaults::PORT.default),
            owns: strings(&s.owns),
            store: store(&name, datastore),
            datastore,
            apis: strings(&s.apis),
            calls: strings(&s.calls),
            callers: Vec::new(),
            callees: Vec::new(),
            egress: egress::Egress::new(s.egress.iter().map(|e| e.value.as_str())),
            dependents: Vec::new(),
            publishes: strings(&s.publishes),
            consumes: strings(&s.consumes),
            events: None,
            health: Health {
                liveness: value(s.health.liveness.as_ref())
                    .unwrap_or_else(|| defaults::LIVENESS.into()),
                readiness: value(s.health.readiness.as_ref())
                    .unwrap_or_else(|| defaults::READINESS.into()),
            },
            resources: base_resources,
            autoscale: base_autoscale,
            release: base_release,
            resilience: Resilience::new(
                timeout_ms,
                retries,
                value(r.consecutive_errors.as_ref())
                    .unwrap_or(defaults::CONSECUTIVE_ERRORS.default),
                ejection_ms,
                value(r.max_connections.as_ref()).unwrap_or(defaults::MAX_CONNECTIONS.default),
                value(r.idempotent.as_ref()).unwrap_or(defaults::IDEMPOTENT),
            ),
            slo: Slo::new(
                availability,
                value(s.slo.latency_p95_ms.as_ref()).unwrap_or(defaults::LATENCY_P95_MS.default),
            ),
            env,
            secrets: strings(&s.secrets),
            dashboard_uid: String::new(),
            runbook_url: String::new(),
            metrics: observability::Metrics::new(Mesh::Istio, "", "", 0),
            authorized_paths: traffic::authorized_paths(&strings(&s.apis)),
            workload_in_base: per_env
                .values()
                .all(|e: &ServiceEnvironment| e.release.strategy == Strategy::Rolling),
            autoscaler_in_base: false,
            environments: per_env,
            name,
        }
    }
}

/// A Grafana dashboard uid: `{platform}-{name}`, stable across runs. Grafana allows 40
/// characters; a longer one keeps its first 31 and ends in 8 hex digits of a SHA-256 of
/// the whole, so two long names with a common prefix still differ.
pub fn dashboard_uid(platform: &str, name: &str) -> String {
    use sha2::Digest;
    let full = format!("{platform}-{name}");
    if full.len() <= 40 {
        return full;
    }
    let hash = sha2::Sha256::digest(full.as_bytes());
    let hex: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", full[..31].trim_end_matches('-'))
}

/// A datastore's container arguments (see `Store::args`).
fn store_args(kind: Datastore, memory_limit: &str) -> Vec<String> {
    match kind {
        // A sub-folder: MySQL refuses to initialise a folder holding lost+found.
        Datastore::Mysql => vec!["mysqld".into(), "--datadir=/var/lib/mysql/data".into()],
        Datastore::Redis => {
            let limit = units::parse_quantity(memory_limit).unwrap_or_default();
            let maxmemory = (limit * defaults::REDIS_MAXMEMORY_PERCENT as f64 / 100.0) as u64;
            // The password reaches Redis only through its configuration on standard input
            // (a here-document of the shell, which runs no other program with it), quoted
            // for Redis's configuration syntax by `sed` reading it on its standard input.
            // `noeviction`: data a service owns is refused when memory is full, never
            // silently dropped.
            let script = format!(
                "password=$(printf '%s' \"$REDIS_PASSWORD\" | sed 's/[\\\\\"]/\\\\&/g')\n\
                 exec redis-server - <<EOF\n\
                 requirepass \"$password\"\n\
                 maxmemory {maxmemory}\n\
                 maxmemory-policy noeviction\n\
                 appendonly yes\n\
                 dir /data\n\
                 EOF\n"
            );
            vec!["sh".into(), "-c".into(), script]
        }
        _ => Vec::new(),
    }
}

/// A service's own database: per kind a pinned official image, where data lives, the
/// scratch folders a read-only root filesystem needs, sizes and a probe that needs no
/// network peer.
fn store(service: &str, kind: Datastore) -> Option<Store> {
    let q = |cpu, memory| Quantities { cpu, memory };
    let (port, image, data_path, scratch, requests, limits, storage, probe): (
        u16,
        _,
        _,
        &[(&str, &str)],
        _,
        _,
        _,
        &[&str],
    ) = match kind {
        Datastore::None => return None,
        Datastore::Postgres => (
            5432,
            "postgres:17.9-bookworm",
            "/var/lib/postgresql/data",
            &[("run", "/var/run/postgresql"), ("tmp", "/tmp")],
            q("250m", "256Mi"),
            q("1", "1Gi"),
            "5Gi",
            &[
                "sh",
                "-c",
                "exec pg_isready --host=127.0.0.1 --port=5432 --username=\"$POSTGRES_USER\" --dbname=\"$POSTGRES_DB\"",
            ],
        ),
        Datastore::Mysql => (
            3306,
            "mysql:8.4.7-oraclelinux9",
            "/var/lib/mysql",
            &[("run", "/var/run/mysqld"), ("tmp", "/tmp")],
            q("250m", "512Mi"),
            q("1", "1Gi"),
            "5Gi",
            &[
                "mysqladmin",
                "ping",
                "--host=127.0.0.1",
                "--port=3306",
                "--silent",
            ],
        ),
        Datastore::Mongodb => (
            27017,
            "mongo:8.0.4-noble",
            "/data/db",
            &[("configdb", "/data/configdb"), ("tmp", "/tmp")],
            q("250m", "512Mi"),
            q("1", "1Gi"),
            "5Gi",
            &[
                "mongosh",
                "--quiet",
                "--norc",
                "--eval",
                "db.adminCommand('ping').ok",
            ],
        ),
        Datastore::Redis => (
            6379,
            "redis:7.4.4-bookworm",
            "/data",
            &[("tmp", "/tmp")],
            q("100m", "128Mi"),
            q("500m", "512Mi"),
            "1Gi",
            &[
                "sh",
                "-c",
                "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG",
            ],
        ),
    };
    let name = store_name(service, kind);
    Some(Store {
        kind,
        secret: format!("{name}-credentials"),
        host: format!("{name}.$(POD_NAMESPACE).svc.cluster.local"),
        database: (kind != Datastore::Redis).then(|| heck::AsSnakeCase(service).to_string()),
        image,
        uid: defaults::DATA_UID,
        args: store_args(kind, limits.memory),
        data_path,
        scratch: scratch.iter().copied().collect(),
        requests,
        limits,
        storage,
        probe: probe.to_vec(),
        name,
        port,
    })
}
