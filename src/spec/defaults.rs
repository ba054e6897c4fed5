//! Every default and bound of service.toml, stated once: the JSON Schema (`schema.rs`),
//! `validate`, the model and docs/service-toml.md read them from here. Values only: what a
//! default derives from other keys (`{platform}-{env}`, …) is a function of the model.
//!
//! `tests/defaults.rs` holds the schema, the model, validate and the docs to these values.

use super::{Ci, Datastore, Deploy, IssuerKind, Mesh, Strategy, TlsMode};

/// Inclusive bounds of an integer key without a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: i64,
    pub max: i64,
}

impl Range {
    pub const fn contains(self, value: i64) -> bool {
        self.min <= value && value <= self.max
    }
}

/// An integer key: its default and inclusive bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int {
    pub default: i64,
    pub min: i64,
    pub max: i64,
}

impl Int {
    pub const fn bounds(self) -> Range {
        Range {
            min: self.min,
            max: self.max,
        }
    }
}

/// A percentage key: its default, the value it must stay above and its maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent {
    pub default: f64,
    pub above: f64,
    pub max: f64,
}

impl Percent {
    pub fn contains(self, value: f64) -> bool {
        value > self.above && value <= self.max
    }
}

// ── Name lengths ───────────────────────────────────────────────────────────────────────

/// `platform.name`: it prefixes namespaces (`{platform}-{env}`) and the Argo CD project.
pub const PLATFORM_NAME_MAX: usize = 40;
/// A service's name: it prefixes its objects (`{service}-canary`, `{service}-secrets`).
pub const SERVICE_NAME_MAX: usize = 50;
/// A DNS-1123 label: environment names, namespaces, TLS secret names, host name labels.
pub const LABEL_MAX: usize = 63;
/// A datastore's StatefulSet, `{service}-{datastore}`: the controller appends an
/// 11-character hash and the whole must fit a label.
pub const STATEFULSET_NAME_MAX: usize = 52;
/// An event topic (Kafka's limit).
pub const TOPIC_MAX: usize = 249;
/// A host name (`platform.domain`, `environments.<env>.host`).
pub const HOST_MAX: usize = 253;

// ── [platform] ─────────────────────────────────────────────────────────────────────────

/// `platform.revision`: the Git revision Argo CD tracks.
pub const REVISION: &str = "main";
/// `platform.mesh`.
pub const MESH: Mesh = Mesh::Istio;
/// `platform.deploy`.
pub const DEPLOY: Deploy = Deploy::Kustomize;
/// `platform.ci`.
pub const CI: Ci = Ci::GithubActions;
/// `platform.tls.mode`: the Secrets are made by hand (or by something outside the platform).
pub const TLS_MODE: TlsMode = TlsMode::Secret;
/// `platform.tls.issuer_kind`: a cluster-wide issuer, usable from the gateway's namespace.
pub const ISSUER_KIND: IssuerKind = IssuerKind::ClusterIssuer;

// ── [environments.<env>] ───────────────────────────────────────────────────────────────
// `namespace`, `host` and `tls_secret` derive from other keys: `model::default_namespace`,
// `model::default_host`, `model::default_tls_secret`.

/// `environments.<env>.cluster`: the cluster Argo CD runs in.
pub const CLUSTER: &str = "https://kubernetes.default.svc";
/// `environments.<env>.replicas`, also the bounds of `services.<name>.environments.<env>.replicas`.
pub const REPLICAS: Int = Int {
    default: 2,
    min: 1,
    max: 1000,
};
/// `environments.<env>.auto_sync`.
pub const AUTO_SYNC: bool = true;
/// The fewest replicas production should run (a warning below): one replica cannot
/// survive a node failure or a rolling update.
pub const PRODUCTION_MIN_REPLICAS: i64 = 2;

// ── [services.<name>] ──────────────────────────────────────────────────────────────────

/// `port`: the container port.
pub const PORT: Int = Int {
    default: 8080,
    min: 1,
    max: 65535,
};
/// The port of an `egress` entry (`host:port`): a TCP port.
pub const EGRESS_PORT: Range = Range { min: 1, max: 65535 };
/// An `egress` entry: a host name, `:` and a port.
pub const EGRESS_MAX: usize = HOST_MAX + ":65535".len();
/// `datastore`.
pub const DATASTORE: Datastore = Datastore::None;
/// `health.liveness` (and the startup probe).
pub const LIVENESS: &str = "/livez";
/// `health.readiness`.
pub const READINESS: &str = "/readyz";
/// `resources.cpu`.
pub const CPU: &str = "100m";
/// `resources.memory`.
pub const MEMORY: &str = "128Mi";
/// `resources.cpu_limit`: none, so a busy service may use idle cores.
pub const CPU_LIMIT: Option<&str> = None;
/// `resources.memory_limit`.
pub const MEMORY_LIMIT: Option<&str> = Some("256Mi");
/// `autoscale.min` and `autoscale.max` (no default: without `autoscale`, no autoscaler).
pub const AUTOSCALE_REPLICAS: Range = REPLICAS.bounds();
/// `autoscale.cpu` and `autoscale.memory`: target utilisation in percent.
pub const AUTOSCALE_TARGET: Range = Range { min: 1, max: 100 };
/// `autoscale.backlog`: pending messages per replica a consumer scales on (KEDA).
pub const AUTOSCALE_BACKLOG: Range = Range {
    min: 1,
    max: 1_000_000,
};
/// `release.strategy`.
pub const STRATEGY: Strategy = Strategy::Rolling;
/// `release.weight`: percent of traffic to the canary (canary only).
pub const WEIGHT: Int = Int {
    default: 10,
    min: 1,
    max: 99,
};
/// The pause of a canary's default steps (`release.steps` left out): `{ weight =
/// <release.weight> }`, `{ pause = "5m" }`, `{ analysis = true }`, then the controller
/// promotes fully. The new version serves its share for a while before it is judged.
pub const STEP_PAUSE: &str = "5m";
/// `weight` of a step: percent of traffic to the new version (100 is full promotion).
pub const STEP_WEIGHT: Range = Range { min: 1, max: 100 };
/// The most steps a canary may have: every step is written into the Rollout, and a longer
/// plan is one nobody reviews.
pub const STEPS_MAX: usize = 20;
/// `resilience.timeout`.
pub const TIMEOUT: &str = "5s";
/// `resilience.retries`.
pub const RETRIES: Int = Int {
    default: 2,
    min: 0,
    max: 10,
};
/// `resilience.consecutive_errors`.
pub const CONSECUTIVE_ERRORS: Int = Int {
    default: 5,
    min: 1,
    max: 1000,
};
/// `resilience.ejection`.
pub const EJECTION: &str = "30s";
/// `resilience.max_connections`.
pub const MAX_CONNECTIONS: Int = Int {
    default: 1024,
    min: 1,
    max: 1_000_000,
};
/// `slo.availability`. Six nines at most: beyond it the error budget is too small to
/// alert on (burn-rate rules divide by it).
pub const AVAILABILITY: Percent = Percent {
    default: 99.9,
    above: 0.0,
    max: 99.9999,
};
/// `slo.latency_p95_ms`.
pub const LATENCY_P95_MS: Int = Int {
    default: 500,
    min: 1,
    max: 600_000,
};

// Checked by the compiler: every default lies within its own bounds, production's minimum
// is a valid count, and the names derived from a valid service name fit a label. Names
// derived from the platform's and an environment's (namespace, TLS secret) can be too long
// together: validate reports them.
const _: () = {
    assert!(REPLICAS.bounds().contains(REPLICAS.default));
    assert!(REPLICAS.bounds().contains(PRODUCTION_MIN_REPLICAS));
    assert!(PORT.bounds().contains(PORT.default));
    assert!(WEIGHT.bounds().contains(WEIGHT.default));
    // The default steps start at `release.weight`, which must be a valid step weight.
    assert!(STEP_WEIGHT.contains(WEIGHT.min) && STEP_WEIGHT.contains(WEIGHT.max));
    assert!(RETRIES.bounds().contains(RETRIES.default));
    assert!(
        CONSECUTIVE_ERRORS
            .bounds()
            .contains(CONSECUTIVE_ERRORS.default)
    );
    assert!(MAX_CONNECTIONS.bounds().contains(MAX_CONNECTIONS.default));
    assert!(LATENCY_P95_MS.bounds().contains(LATENCY_P95_MS.default));
    assert!(SERVICE_NAME_MAX <= LABEL_MAX);
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::units;

    #[test]
    fn the_availability_default_is_within_its_bounds() {
        assert!(AVAILABILITY.contains(AVAILABILITY.default));
        assert!(!AVAILABILITY.contains(AVAILABILITY.above));
        assert!(AVAILABILITY.contains(AVAILABILITY.max));
    }

    #[test]
    fn the_default_durations_and_quantities_parse() {
        for d in [TIMEOUT, EJECTION, STEP_PAUSE] {
            assert!(units::parse_duration_ms(d).is_some(), "{d}");
        }
        let memory = units::parse_quantity(MEMORY).unwrap();
        let limit = units::parse_quantity(MEMORY_LIMIT.unwrap()).unwrap();
        assert!(
            limit >= memory,
            "the default memory limit is below the request"
        );
        assert!(units::parse_quantity(CPU).is_some());
    }
}

/// The UID and GID the datastores and the event broker run as: unprivileged, above 10000
/// so that it is no user of the node (checkov CKV_K8S_40), and not the images' own 999.
pub const DATA_UID: i64 = 10001;
/// Share of a Redis container's memory limit its `maxmemory` may use: the rest is for
/// copy-on-write during persistence and the allocator's overhead.
pub const REDIS_MAXMEMORY_PERCENT: u64 = 75;

/// The event broker (NATS with JetStream), present when any service publishes or consumes.
pub mod broker {
    /// Name of its objects, and the host services reach it at.
    pub const NAME: &str = "nats";
    /// Servers: three, so JetStream keeps a quorum while a node drains.
    pub const REPLICAS: i64 = 3;
    pub const IMAGE: &str = "nats:2.14.2-alpine";
    pub const EXPORTER_IMAGE: &str = "natsio/prometheus-nats-exporter:0.20.1";
    pub const CLIENT_PORT: u16 = 4222;
    pub const CLUSTER_PORT: u16 = 6222;
    pub const MONITOR_PORT: u16 = 8222;
    pub const METRICS_PORT: u16 = 7777;
    /// (cpu, memory) requests and limits of a server.
    pub const REQUESTS: (&str, &str) = ("100m", "256Mi");
    pub const LIMITS: (&str, &str) = ("1", "1Gi");
    /// Each server's volume claim, and JetStream's limits within it and within memory
    /// (NATS sizes: `G` and `M` are powers of 1024).
    pub const STORAGE: &str = "10Gi";
    pub const MAX_FILE_STORE: &str = "8G";
    pub const MAX_MEMORY_STORE: &str = "256M";
    /// The global account: no accounts block, one place for every stream.
    pub const ACCOUNT: &str = "$G";
    /// The JetStream controller's broker identity.
    pub const CONTROLLER_USER: &str = "jetstream-controller";
}

/// `resilience.idempotent`: requests are not assumed safe to repeat.
pub const IDEMPOTENT: bool = false;

/// `[platform] gateway`: where the ingress gateway runs when service.toml does not say
/// (istioctl's default install with Istio; ingress-nginx's chart without a mesh).
pub mod gateway {
    pub const ISTIO_NAMESPACE: &str = "istio-system";
    pub const ISTIO_LABEL: (&str, &str) = ("istio", "ingressgateway");
    pub const ISTIO_SERVICE_ACCOUNT: &str = "istio-ingressgateway-service-account";
    pub const NGINX_NAMESPACE: &str = "ingress-nginx";
    pub const NGINX_LABEL: (&str, &str) = ("app.kubernetes.io/name", "ingress-nginx");
}

/// Each runtime's toolchain, one version for both places that build the service: the
/// build stage of its Dockerfile and the test job of its workflow. Images are Debian 12
/// (bookworm), like the distroless runtime images the binaries run on.
pub mod toolchain {
    use schemars::JsonSchema;
    use serde::Serialize;

    use crate::spec::Runtime;

    /// A language toolchain: the version CI sets up and the image the Dockerfile builds in.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
    pub struct Toolchain {
        /// What the workflow's setup action installs (`go-version`, `toolchain`, …).
        pub version: &'static str,
        /// The Dockerfile's build stage, tagged with that same version.
        pub image: &'static str,
    }

    /// Rust: `rust-toolchain` in CI, the same release in the image.
    pub const RUST: Toolchain = Toolchain {
        version: "1.95",
        image: "rust:1.95-slim-bookworm",
    };
    /// Go: a module whose `go` line is at most this version builds (GOTOOLCHAIN=local in
    /// both: no toolchain download behind the build's back).
    pub const GO: Toolchain = Toolchain {
        version: "1.25",
        image: "golang:1.25-bookworm",
    };
    /// Node.js: a major version, as the distroless runtime `nodejs22` is.
    pub const NODE: Toolchain = Toolchain {
        version: "22",
        image: "node:22-bookworm-slim",
    };
    /// Python: Debian 12's 3.11, the interpreter of the distroless runtime.
    pub const PYTHON: Toolchain = Toolchain {
        version: "3.11",
        image: "python:3.11-slim-bookworm",
    };
    /// Java: Temurin 21 with Maven 3.9, as the distroless `java21` runtime.
    pub const JAVA: Toolchain = Toolchain {
        version: "21",
        image: "maven:3.9-eclipse-temurin-21",
    };

    /// The toolchain of `runtime`.
    pub fn of(runtime: Runtime) -> Toolchain {
        match runtime {
            Runtime::Rust => RUST,
            Runtime::Go => GO,
            Runtime::Node => NODE,
            Runtime::Python => PYTHON,
            Runtime::Java => JAVA,
        }
    }
}

/// The GitHub Actions the generated workflows use, each pinned to the commit of a release
/// tag (a tag can be moved to other code; a commit cannot), with the release it is. The
/// workflows write `uses: <action>@<commit> # <release>`.
pub mod actions {
    /// An action at one commit.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Pin {
        /// `owner/repo` or `owner/repo/path`.
        pub action: &'static str,
        /// The full commit SHA the release tag points at.
        pub commit: &'static str,
        /// The release tag.
        pub release: &'static str,
    }

    const fn pin(action: &'static str, commit: &'static str, release: &'static str) -> Pin {
        Pin {
            action,
            commit,
            release,
        }
    }

    pub const PINS: &[Pin] = &[
        pin(
            "actions/checkout",
            "3d3c42e5aac5ba805825da76410c181273ba90b1",
            "v7.0.1",
        ),
        pin(
            "actions/setup-go",
            "b7ad1dad31e06c5925ef5d2fc7ad053ef454303e",
            "v7.0.0",
        ),
        pin(
            "actions/setup-java",
            "b6effb05e454b25005698d916606bdc6ffcbf961",
            "v5.7.0",
        ),
        pin(
            "actions/setup-node",
            "820762786026740c76f36085b0efc47a31fe5020",
            "v7.0.0",
        ),
        pin(
            "actions/setup-python",
            "5fda3b95a4ea91299a34e894583c3862153e4b97",
            "v7.0.0",
        ),
        pin(
            "actions/upload-artifact",
            "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f",
            "v7.0.0",
        ),
        pin(
            "actions/download-artifact",
            "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c",
            "v8.0.1",
        ),
        pin(
            "actions-rust-lang/setup-rust-toolchain",
            "166cdcfd11aee3cb47222f9ddb555ce30ddb9659",
            "v1.17.0",
        ),
        pin(
            "aquasecurity/trivy-action",
            "57a97c7e7821a5776cebc9bb87c984fa69cba8f1",
            "v0.35.0",
        ),
        pin(
            "azure/setup-helm",
            "9bc31f4ebc9c6b171d7bfbaa5d006ae7abdb4310",
            "v5.0.1",
        ),
        pin(
            "azure/setup-kubectl",
            "829323503d1be3d00ca8346e5391ca0b07a9ab0d",
            "v5.1.0",
        ),
        pin(
            "docker/build-push-action",
            "53b7df96c91f9c12dcc8a07bcb9ccacbed38856a",
            "v7.3.0",
        ),
        pin(
            "docker/login-action",
            "4907a6ddec9925e35a0a9e82d7399ccc52663121",
            "v4.1.0",
        ),
        pin(
            "docker/setup-buildx-action",
            "37fe631027851001ddb9b187196cc803df7f5f0e",
            "v4.3.0",
        ),
        pin(
            "github/codeql-action/upload-sarif",
            "8aad20d150bbac5944a9f9d289da16a4b0d87c1e",
            "v4.36.2",
        ),
    ];

    #[cfg(test)]
    mod tests {
        use super::PINS;

        #[test]
        fn every_pin_is_a_full_commit_of_a_release() {
            for p in PINS {
                let parts: Vec<&str> = p.action.split('/').collect();
                assert!(parts.len() >= 2 && parts.iter().all(|s| !s.is_empty()));
                assert!(
                    p.action
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.')),
                    "{}",
                    p.action
                );
                assert_eq!(p.commit.len(), 40, "{}", p.action);
                assert!(
                    p.commit
                        .chars()
                        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
                    "{}",
                    p.action
                );
                let version = p.release.strip_prefix('v').expect("a v-release");
                assert!(
                    version.split('.').count() == 3
                        && version
                            .split('.')
                            .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())),
                    "{}",
                    p.release
                );
            }
            let mut names: Vec<&str> = PINS.iter().map(|p| p.action).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), PINS.len(), "one pin per action");
        }
    }
}
