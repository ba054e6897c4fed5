//! The event broker: a NATS cluster with JetStream in every environment's namespace,
//! present whenever a service publishes or consumes. Its permissions are the graph's
//! ownership, the way database-per-service is enforced by the network: a topic's
//! publisher alone may publish it, its declared consumers alone may read it, and each
//! service reads only through its own durable consumer and its own reply inbox.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use super::Service;
use super::observability::{Rule, RuleGroup};
use crate::spec::defaults::broker as d;

/// The broker of every environment (the same objects in each namespace).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Broker {
    /// Name of its Service, StatefulSet, ConfigMap and ServiceAccount (`nats`).
    pub name: &'static str,
    /// The headless Service that gives each server a DNS name (cluster routes, KEDA).
    pub headless: String,
    /// Servers in the JetStream cluster: three, so a drained node keeps a quorum.
    pub replicas: i64,
    /// The pinned official server image.
    pub image: &'static str,
    /// The UID and GID its servers run as.
    pub uid: i64,
    /// The pinned Prometheus exporter image (a sidecar reading the monitoring port).
    pub exporter_image: &'static str,
    /// Client, cluster-route, monitoring and metrics ports.
    pub ports: BrokerPorts,
    /// Requests of the server container.
    pub requests: super::Quantities,
    /// Limits of the server container.
    pub limits: super::Quantities,
    /// Volume claim size of each server's JetStream file store.
    pub storage: &'static str,
    /// JetStream's file store limit: below the claim, so the disk never fills.
    pub max_file_store: &'static str,
    /// JetStream's memory store limit: below the memory limit.
    pub max_memory_store: &'static str,
    /// Cluster routes: every server's stable DNS name on the route port.
    pub routes: Vec<String>,
    /// The NATS account everything lives in (the global account: no accounts block).
    pub account: &'static str,
    /// One stream per topic, in the order topics are first declared.
    pub streams: Vec<Stream>,
    /// One broker identity per participating service, then the JetStream controller's.
    pub users: Vec<User>,
    /// The JetStream controller's identity (NACK, which declares streams and consumers).
    pub controller: User,
    /// The NACK `Account` object streams and consumers name: where and as whom the
    /// controller connects.
    pub controller_account: String,
    /// Services that publish or consume, in file order: the only ones that reach it.
    pub participants: Vec<String>,
    /// Its metrics as PromQL in the dashboards' `$namespace`.
    pub metrics: BrokerMetrics,
}

/// The broker's dashboard queries (the exporter's `nats_` series and `up`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BrokerMetrics {
    /// Servers answering.
    pub up: String,
    /// Messages in per second, all servers.
    pub messages_in: String,
    /// Messages out per second, all servers.
    pub messages_out: String,
    /// Pending messages per durable consumer: the backlog KEDA scales on. Only the
    /// server leading a consumer reports it (the others say 0), hence `max`.
    pub pending: String,
}

/// The broker in one environment: what names its namespace.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BrokerHere {
    /// The client URL from other namespaces (the JetStream controller's).
    pub url: String,
    /// The monitoring endpoint KEDA's scaler reads (the headless Service, so that it can
    /// reach the server leading a consumer by name).
    pub monitoring_endpoint: String,
    /// With a mesh: the participants' identities, the only ones admitted on the client port.
    pub participant_principals: Vec<String>,
    /// With a mesh: the JetStream controller's identity, also admitted on the client port.
    pub controller_principal: Option<String>,
    /// With a mesh: the broker's own identity (cluster routes between its servers).
    pub principal: Option<String>,
    /// Severity of a lost quorum: `critical` pages (production only).
    pub page_severity: &'static str,
    /// Its alerts here: quorum lost (JetStream stops), one server down.
    pub alerts: Vec<RuleGroup>,
}

/// The broker's ports.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BrokerPorts {
    /// Clients (services and the controller).
    pub client: u16,
    /// Routes between the servers of the cluster.
    pub cluster: u16,
    /// HTTP monitoring: probes, the exporter and KEDA's scaler read it.
    pub monitor: u16,
    /// The exporter's Prometheus metrics.
    pub metrics: u16,
}

/// A JetStream stream: one topic, kept on disk on every server.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Stream {
    /// Stream (and object) name: the topic with `.` and `_` as `-`.
    pub name: String,
    /// The topic, its only subject.
    pub topic: String,
    /// The service that publishes it; none for `external_topics`.
    pub publisher: Option<String>,
    /// Its durable consumers: one per consuming service, named after the service.
    pub consumers: Vec<String>,
}

/// A broker identity and exactly what it may publish and subscribe to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct User {
    /// The user name (the service's name, or the controller's).
    pub name: String,
    /// The Secret holding its password (key `password`), never written by bulkhead.
    pub secret: String,
    /// The broker's environment variable holding it (the configuration refers to it).
    pub password_var: String,
    /// Subjects it may publish to; nothing else.
    pub publish: Vec<String>,
    /// Subjects it may subscribe to; nothing else.
    pub subscribe: Vec<String>,
}

/// How one service connects: the variables its container gets.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Connection {
    /// `NATS_URL`: the broker's client URL.
    pub url: String,
    /// `NATS_USER`: its broker identity.
    pub user: String,
    /// `NATS_PASSWORD` comes from this Secret (key `password`).
    pub secret: String,
    /// `NATS_INBOX_PREFIX`: replies must use it (other inboxes are not readable).
    pub inbox_prefix: String,
    /// `NATS_DURABLE`: the name of its durable consumer on every stream it consumes.
    pub durable: String,
}

/// The broker's headless Service, which names each server.
pub fn headless_name() -> String {
    format!("{}-headless", d::NAME)
}

/// The stream of a topic (also a Kubernetes object name).
pub fn stream_name(topic: &str) -> String {
    topic.replace(['.', '_'], "-")
}

fn inbox(user: &str) -> String {
    format!("_INBOX.{user}")
}

/// The broker, when any service publishes or consumes (or `external_topics` are
/// declared and consumed). `publishers` and `subscribers` are the platform's: topic → its
/// publisher, topic → its consumers.
pub fn broker(
    services: &[Service],
    publishers: &IndexMap<String, String>,
    subscribers: &IndexMap<String, Vec<String>>,
    external_topics: &[String],
) -> Option<Broker> {
    let participants: Vec<&Service> = services
        .iter()
        .filter(|s| !s.publishes.is_empty() || !s.consumes.is_empty())
        .collect();
    if participants.is_empty() {
        return None;
    }
    // Published topics first, then external ones, then what is only consumed.
    let topics = publishers
        .keys()
        .chain(external_topics)
        .chain(subscribers.keys());
    let mut streams: IndexMap<&str, Stream> = IndexMap::new();
    for topic in topics {
        streams.entry(topic).or_insert_with(|| Stream {
            name: stream_name(topic),
            topic: topic.clone(),
            publisher: publishers.get(topic).cloned(),
            consumers: subscribers.get(topic).cloned().unwrap_or_default(),
        });
    }
    let users = participants
        .iter()
        .map(|s| {
            let mut publish: Vec<String> = s.publishes.clone();
            // A pull consumer asks for messages, acknowledges them and reads its own
            // consumer's state; nothing of any other consumer.
            let mut subscribe: Vec<String> = s.consumes.clone();
            for t in &s.consumes {
                let st = stream_name(t);
                publish.push(format!("$JS.API.CONSUMER.MSG.NEXT.{st}.{}", s.name));
                publish.push(format!("$JS.API.CONSUMER.INFO.{st}.{}", s.name));
                publish.push(format!("$JS.ACK.{st}.{}.>", s.name));
            }
            // Pulled messages and publish acknowledgements arrive on the service's own
            // inbox; a shared `_INBOX.>` would let any service read every other's messages.
            subscribe.push(format!("{}.>", inbox(&s.name)));
            user(&s.name, secret(&s.name), publish, subscribe)
        })
        .collect();
    let controller = user(
        d::CONTROLLER_USER,
        format!("{}-{}", d::NAME, d::CONTROLLER_USER),
        // The JetStream API, which creates and updates streams and consumers; its client
        // takes replies on the default inbox prefix (it is trusted with every stream).
        vec!["$JS.API.>".into()],
        vec!["_INBOX.>".into()],
    );
    let headless = headless_name();
    Some(Broker {
        name: d::NAME,
        replicas: d::REPLICAS,
        image: d::IMAGE,
        uid: crate::spec::defaults::DATA_UID,
        exporter_image: d::EXPORTER_IMAGE,
        ports: BrokerPorts {
            client: d::CLIENT_PORT,
            cluster: d::CLUSTER_PORT,
            monitor: d::MONITOR_PORT,
            metrics: d::METRICS_PORT,
        },
        requests: super::Quantities {
            cpu: d::REQUESTS.0,
            memory: d::REQUESTS.1,
        },
        limits: super::Quantities {
            cpu: d::LIMITS.0,
            memory: d::LIMITS.1,
        },
        storage: d::STORAGE,
        max_file_store: d::MAX_FILE_STORE,
        max_memory_store: d::MAX_MEMORY_STORE,
        routes: (0..d::REPLICAS)
            .map(|i| format!("nats://{}-{i}.{headless}:{}", d::NAME, d::CLUSTER_PORT))
            .collect(),
        account: d::ACCOUNT,
        streams: streams.into_values().collect(),
        users,
        controller_account: d::NAME.to_owned(),
        controller,
        participants: participants.iter().map(|s| s.name.clone()).collect(),
        metrics: BrokerMetrics {
            up: format!(
                "sum(up{{namespace=\"$namespace\",job=\"{}\"}}) or vector(0)",
                d::NAME
            ),
            messages_in: "sum(rate(nats_varz_in_msgs{namespace=\"$namespace\"}[$__rate_interval]))"
                .into(),
            messages_out: "sum(rate(nats_varz_out_msgs{namespace=\"$namespace\"}[$__rate_interval]))"
                .into(),
            pending: "max by (stream_name, consumer_name) (nats_consumer_num_pending{namespace=\"$namespace\"})"
                .into(),
        },
        headless,
    })
}

/// Where the broker of one environment runs and how it is watched.
pub struct Place<'a> {
    pub env: &'a str,
    pub namespace: &'a str,
    pub production: bool,
    /// Whether identities are checked by the mesh.
    pub mesh: bool,
    pub runbook_url: &'a str,
}

/// The broker in one environment.
pub fn here(broker: &Broker, at: &Place<'_>, addons: &super::Addons) -> BrokerHere {
    let namespace = at.namespace;
    let principal = |ns: &str, sa: &str| at.mesh.then(|| super::traffic::principal(ns, sa));
    let page_severity = if at.production { "critical" } else { "warning" };
    BrokerHere {
        page_severity,
        alerts: alerts(broker, at, page_severity),
        url: format!(
            "nats://{}.{namespace}.svc.cluster.local:{}",
            broker.name, broker.ports.client
        ),
        monitoring_endpoint: monitoring_endpoint(namespace),
        participant_principals: broker
            .participants
            .iter()
            .filter_map(|s| principal(namespace, s))
            .collect(),
        controller_principal: principal(
            &addons.jetstream_controller.namespace,
            addons.jetstream_controller_service_account,
        ),
        principal: principal(namespace, broker.name),
    }
}

fn monitoring_endpoint(namespace: &str) -> String {
    format!(
        "{}.{namespace}.svc.cluster.local:{}",
        headless_name(),
        d::MONITOR_PORT
    )
}

fn secret(service: &str) -> String {
    format!("{service}-{}", d::NAME)
}

fn user(name: &str, secret: String, publish: Vec<String>, subscribe: Vec<String>) -> User {
    User {
        password_var: format!("PASSWORD_{}", heck::AsShoutySnakeCase(name)),
        name: name.to_owned(),
        secret,
        publish,
        subscribe,
    }
}

/// How `service` connects, when it publishes or consumes.
pub fn connection(service: &Service) -> Option<Connection> {
    if service.publishes.is_empty() && service.consumes.is_empty() {
        return None;
    }
    Some(Connection {
        url: format!("nats://{}:{}", d::NAME, d::CLIENT_PORT),
        user: service.name.clone(),
        secret: secret(&service.name),
        inbox_prefix: inbox(&service.name),
        durable: service.name.clone(),
    })
}

/// A KEDA ScaledObject's triggers for a consumer scaling on its backlog in one namespace:
/// one per consumed stream (pending messages of its durable consumer per replica), then
/// its CPU and memory targets.
pub fn triggers(
    service: &str,
    consumes: &[String],
    namespace: &str,
    autoscale: &super::Autoscale,
) -> Option<Vec<Trigger>> {
    let backlog = autoscale.backlog?;
    // KEDA asks the monitoring endpoint which server leads the consumer, then that server
    // by its name under the same domain: the headless Service names every server.
    let endpoint = monitoring_endpoint(namespace);
    let mut out: Vec<Trigger> = consumes
        .iter()
        .map(|t| Trigger {
            kind: "nats-jetstream",
            metric_type: None,
            metadata: IndexMap::from([
                ("natsServerMonitoringEndpoint", endpoint.clone()),
                ("account", d::ACCOUNT.to_owned()),
                ("stream", stream_name(t)),
                ("consumer", service.to_owned()),
                ("lagThreshold", backlog.to_string()),
            ]),
        })
        .collect();
    for (name, target) in [("cpu", autoscale.cpu), ("memory", autoscale.memory)] {
        if let Some(target) = target {
            out.push(Trigger {
                kind: name,
                metric_type: Some("Utilization"),
                metadata: IndexMap::from([("value", target.to_string())]),
            });
        }
    }
    Some(out)
}

/// One trigger of a KEDA ScaledObject.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Trigger {
    /// The scaler: `nats-jetstream`, `cpu` or `memory`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `Utilization` for the resource scalers.
    #[serde(rename = "metricType", skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<&'static str>,
    /// The scaler's settings (KEDA takes strings only).
    pub metadata: IndexMap<&'static str, String>,
}

/// The broker's alerts in one environment. `up` of the exporter sidecar says whether a
/// server answers; with fewer than a majority JetStream accepts nothing, so that pages
/// (in production), and one missing server is a ticket before it becomes that. `or
/// vector(0)` keeps the quorum alert firing when no target is left at all.
fn alerts(broker: &Broker, at: &Place<'_>, page_severity: &'static str) -> Vec<RuleGroup> {
    let (ns, env, name) = (at.namespace, at.env, broker.name);
    let quorum = broker.replicas / 2 + 1;
    let up = format!("up{{namespace=\"{ns}\",job=\"{name}\"}}");
    let labels = |severity: &str| {
        IndexMap::from([
            ("severity", severity.to_owned()),
            ("namespace", ns.to_owned()),
            ("service", name.to_owned()),
        ])
    };
    let rule =
        |alert: &str, expr: String, hold, severity: &str, summary: String, description: String| {
            Rule {
                record: None,
                alert: Some(alert.to_owned()),
                expr,
                hold: Some(hold),
                labels: labels(severity),
                annotations: IndexMap::from([
                    ("summary", summary),
                    ("description", description),
                    ("runbook_url", at.runbook_url.to_owned()),
                ]),
            }
        };
    vec![RuleGroup {
        name: format!("{name}-broker-alerts"),
        rules: vec![
            rule(
                "EventBrokerQuorumLost",
                format!("(sum({up}) or vector(0)) < {quorum}"),
                "2m",
                page_severity,
                format!("The event broker of {env} has lost its quorum"),
                format!(
                    "Fewer than {quorum} of its {} servers answer in {ns}: JetStream accepts no message and delivers none, so every publisher and consumer is stuck.",
                    broker.replicas
                ),
            ),
            rule(
                "EventBrokerServerDown",
                format!("(sum({up}) or vector(0)) < {}", broker.replicas),
                "10m",
                "warning",
                format!("An event broker server of {env} is down"),
                format!(
                    "Only {{{{ $value }}}} of the {} servers in {ns} answer (or are scraped): one more down and JetStream may stop.",
                    broker.replicas
                ),
            ),
        ],
    }]
}
