//! NetworkPolicy reachability: may a Pod open a TCP connection to another Pod, or to an
//! address outside the cluster, on a port? Answered from the NetworkPolicies Argo CD
//! applies, with the semantics of the Kubernetes API (networking.k8s.io/v1):
//!
//! - a Pod that no policy of a type (Ingress, Egress) selects is not isolated in that
//!   direction: everything is allowed there;
//! - a Pod that some do is allowed exactly the union of their rules of that type; a
//!   connection needs the source's egress and the destination's ingress to allow it;
//! - `policyTypes` left out means Ingress, plus Egress when `egress` has a rule;
//! - a rule's peers (`to`, `from`): absent or empty means every peer; `podSelector` alone
//!   picks Pods of the policy's namespace, `namespaceSelector` alone every Pod of the
//!   namespaces it picks, both together the Pods of those namespaces that match (an empty
//!   selector `{}` picks all); `ipBlock` an address range minus its `except` ranges;
//! - a rule's `ports`: absent or empty means every port; a named port is the destination
//!   Pod's container port of that name; `endPort` makes a range; `protocol` defaults to TCP.
//!
//! Namespaces carry their `Namespace` object's labels, and always
//! `kubernetes.io/metadata.name`. An `ipBlock` matches a Pod only when the Pod has an
//! address (`Pod::ip`): whether Pod traffic meets `ipBlock` rules is the network plugin's
//! choice, so a test that gives Pods cluster addresses checks the stricter reading.
//!
//! How to call it, for any check of what may connect:
//!
//! ```ignore
//! let network = Network::new(&env.objects);
//! let pods = network::pods(&env.objects);            // one per Deployment, Rollout, StatefulSet
//! let api = pods.iter().find(|p| p.app() == Some("api")).unwrap();
//! let db = pods.iter().find(|p| p.app() == Some("api-postgres")).unwrap();
//! assert!(network.allows(api, Target::Pod(db), 5432));
//! let smtp: IpAddr = "203.0.113.10".parse().unwrap();
//! let decision = network.connect(api, Target::Address(smtp), 587);
//! assert!(!decision.allowed(), "{decision}");          // says which policies decided
//! ```
//!
//! The second half of the file holds what the platform means by it, checked on every
//! environment (`declared_traffic`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use bulkhead::model::Model;
use serde_yaml_ng::Value;

use super::objects::{Object, Selector, at, items, scalar, string_map, text};

/// The label every namespace carries with its own name.
const NAMESPACE_NAME: &str = "kubernetes.io/metadata.name";

// ── The model of the cluster's network ──────────────────────────────────────────────────

/// A container port of a Pod: its name (empty when unnamed), number and protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerPort {
    pub name: String,
    pub number: u16,
    pub protocol: String,
}

/// A Pod as NetworkPolicies see it.
#[derive(Clone, Debug)]
pub struct Pod {
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Its containers' ports (init containers included): what named ports resolve to.
    pub ports: Vec<ContainerPort>,
    /// Its address, when a check gives it one (`ipBlock` rules then apply to it).
    pub ip: Option<IpAddr>,
    /// Where it comes from, for messages: `Deployment ns/name`.
    pub owner: String,
}

impl Pod {
    /// The Pod a workload's template describes (Deployment, Rollout, StatefulSet,
    /// ReplicaSet); none for other objects.
    pub fn from_workload(workload: &Object) -> Option<Self> {
        if !workload.is_workload() {
            return None;
        }
        let ports = workload
            .containers()
            .flat_map(|c| items(c, &["ports"]))
            .filter_map(|p| {
                let number = at(p, &["containerPort"]).as_u64()?;
                Some(ContainerPort {
                    name: text(p, &["name"]).to_string(),
                    number: u16::try_from(number).ok()?,
                    protocol: protocol(p),
                })
            })
            .collect();
        Some(Self {
            namespace: workload.namespace().to_string(),
            labels: workload.pod_labels(),
            ports,
            ip: None,
            owner: workload.describe(),
        })
    }

    /// A Pod that no object here describes (a cluster add-on): namespace, labels, ports.
    pub fn elsewhere(namespace: &str, labels: &[(&str, &str)], ports: &[(&str, u16)]) -> Self {
        Self {
            namespace: namespace.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            ports: ports
                .iter()
                .map(|(name, number)| ContainerPort {
                    name: (*name).to_string(),
                    number: *number,
                    protocol: "TCP".into(),
                })
                .collect(),
            ip: None,
            owner: format!("Pod {namespace}/{labels:?}"),
        }
    }

    /// Its `app.kubernetes.io/name` label.
    pub fn app(&self) -> Option<&str> {
        self.labels
            .get("app.kubernetes.io/name")
            .map(String::as_str)
    }

    /// The number of its TCP container port `name`.
    fn named_port(&self, name: &str) -> Option<u16> {
        self.ports
            .iter()
            .find(|p| p.name == name && p.protocol == "TCP")
            .map(|p| p.number)
    }
}

/// The Pods of every workload among `objects`, in order.
pub fn pods(objects: &[Object]) -> Vec<Pod> {
    objects.iter().filter_map(Pod::from_workload).collect()
}

/// Where a connection goes: a Pod, or an address (outside the cluster, or any address an
/// `ipBlock` may name).
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    Pod(&'a Pod),
    Address(IpAddr),
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pod(p) => write!(f, "{}", p.owner),
            Target::Address(ip) => write!(f, "{ip}"),
        }
    }
}

/// An address range, `10.0.0.0/8` or `2001:db8::/32`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = text.split_once('/')?;
        let network: IpAddr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok()?;
        let bits = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Self { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Who a rule's peer is.
#[derive(Clone, Debug)]
enum Peer {
    /// `podSelector` and/or `namespaceSelector`: None = the policy's namespace / every Pod.
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    /// `ipBlock`: a range minus its exceptions; None when the API server would refuse it.
    Block {
        cidr: Option<Cidr>,
        except: Vec<Cidr>,
    },
    /// A peer with none of the three: the API server refuses it; it matches nothing.
    Nothing,
}

/// A rule's port: a number or a name, an optional end, a protocol.
#[derive(Clone, Debug)]
struct PortRule {
    protocol: String,
    /// None: every port of the protocol.
    port: Option<PortRef>,
    end_port: Option<u16>,
}

#[derive(Clone, Debug)]
enum PortRef {
    Number(u16),
    Name(String),
}

/// One ingress or egress rule: its peers (None: every peer) and ports (empty: every port).
#[derive(Clone, Debug)]
struct Rule {
    peers: Option<Vec<Peer>>,
    ports: Vec<PortRule>,
}

/// A NetworkPolicy, read once.
#[derive(Clone, Debug)]
struct Policy {
    namespace: String,
    name: String,
    selector: Selector,
    /// None: the policy does not isolate in that direction (not in `policyTypes`).
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

fn protocol(v: &Value) -> String {
    match text(v, &["protocol"]) {
        "" => "TCP".into(),
        p => p.to_string(),
    }
}

fn read_peer(v: &Value) -> Peer {
    let block = at(v, &["ipBlock"]);
    if !block.is_null() {
        return Peer::Block {
            cidr: Cidr::parse(text(block, &["cidr"])),
            except: items(block, &["except"])
                .iter()
                .filter_map(|e| Cidr::parse(&scalar(e)))
                .collect(),
        };
    }
    let namespaces = Selector::label_selector(at(v, &["namespaceSelector"]));
    let pods = Selector::label_selector(at(v, &["podSelector"]));
    if namespaces.is_none() && pods.is_none() {
        return Peer::Nothing;
    }
    Peer::Pods { namespaces, pods }
}

fn read_port(v: &Value) -> PortRule {
    let port = match at(v, &["port"]) {
        Value::Null => None,
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(PortRef::Number),
        other => Some(PortRef::Name(scalar(other))),
    };
    PortRule {
        protocol: protocol(v),
        port,
        end_port: at(v, &["endPort"])
            .as_u64()
            .and_then(|n| u16::try_from(n).ok()),
    }
}

fn read_rules(rules: &[Value], peers_key: &str) -> Vec<Rule> {
    rules
        .iter()
        .map(|r| {
            let peers = items(r, &[peers_key]);
            Rule {
                peers: (!peers.is_empty()).then(|| peers.iter().map(read_peer).collect()),
                ports: items(r, &["ports"]).iter().map(read_port).collect(),
            }
        })
        .collect()
}

impl Policy {
    fn read(o: &Object) -> Self {
        let spec = o.spec();
        let written: Vec<String> = items(spec, &["policyTypes"]).iter().map(scalar).collect();
        let types: Vec<String> = if written.is_empty() {
            // The API server's default: Ingress, and Egress when there are egress rules.
            let mut t = vec!["Ingress".to_string()];
            if !items(spec, &["egress"]).is_empty() {
                t.push("Egress".into());
            }
            t
        } else {
            written
        };
        let has = |t: &str| types.iter().any(|x| x == t);
        Self {
            namespace: o.namespace().to_string(),
            name: o.name().to_string(),
            // An absent podSelector is refused by the API server; read as selecting nothing
            // would hide that, so it selects everything like `{}`.
            selector: Selector::label_selector(at(spec, &["podSelector"])).unwrap_or_default(),
            ingress: has("Ingress").then(|| read_rules(items(spec, &["ingress"]), "from")),
            egress: has("Egress").then(|| read_rules(items(spec, &["egress"]), "to")),
        }
    }

    fn selects(&self, pod: &Pod) -> bool {
        self.namespace == pod.namespace && self.selector.matches(&pod.labels)
    }

    fn describe(&self) -> String {
        format!("NetworkPolicy {}/{}", self.namespace, self.name)
    }
}

/// How one direction of a connection was decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// No policy of this type selects the Pod: it is not isolated in this direction.
    Open,
    /// Isolated, and a rule of this policy allows the connection.
    AllowedBy(String),
    /// Isolated by these policies, none of whose rules allow it.
    Denied(Vec<String>),
    /// The destination is an address, not a Pod: no ingress policy applies here.
    Outside,
}

impl Side {
    pub fn allows(&self) -> bool {
        !matches!(self, Side::Denied(_))
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Side::Open => f.write_str("not isolated"),
            Side::AllowedBy(p) => write!(f, "allowed by {p}"),
            Side::Denied(ps) => write!(f, "denied: isolated by {}", ps.join(", ")),
            Side::Outside => f.write_str("outside the cluster"),
        }
    }
}

/// What the policies say about one connection, direction by direction.
#[derive(Clone, Debug)]
pub struct Decision {
    pub egress: Side,
    pub ingress: Side,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.egress.allows() && self.ingress.allows()
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "egress {}; ingress {}", self.egress, self.ingress)
    }
}

/// The NetworkPolicies of a set of objects and the labels of their namespaces.
pub struct Network {
    policies: Vec<Policy>,
    /// Labels of the namespaces a `Namespace` object describes.
    namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl Network {
    pub fn new(objects: &[Object]) -> Self {
        let policies = objects
            .iter()
            .filter(|o| o.is("networking.k8s.io", "NetworkPolicy"))
            .map(Policy::read)
            .collect();
        let namespaces = objects
            .iter()
            .filter(|o| o.is("", "Namespace"))
            .map(|o| {
                (
                    o.name().to_string(),
                    string_map(at(&o.value, &["metadata", "labels"])),
                )
            })
            .collect();
        Self {
            policies,
            namespaces,
        }
    }

    /// The labels of `namespace`, `kubernetes.io/metadata.name` included.
    fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self.namespaces.get(namespace).cloned().unwrap_or_default();
        labels.insert(NAMESPACE_NAME.into(), namespace.into());
        labels
    }

    /// Whether `peer` of a rule of `policy` is `who` (a Pod or an address).
    fn peer_matches(&self, policy: &Policy, peer: &Peer, who: Target<'_>) -> bool {
        match peer {
            Peer::Nothing => false,
            Peer::Block { cidr, except } => {
                let ip = match who {
                    Target::Address(ip) => ip,
                    Target::Pod(p) => match p.ip {
                        Some(ip) => ip,
                        None => return false,
                    },
                };
                cidr.as_ref().is_some_and(|c| c.contains(ip))
                    && !except.iter().any(|e| e.contains(ip))
            }
            Peer::Pods { namespaces, pods } => {
                let Target::Pod(pod) = who else {
                    return false;
                };
                let in_namespace = match namespaces {
                    None => pod.namespace == policy.namespace,
                    Some(s) => s.matches(&self.namespace_labels(&pod.namespace)),
                };
                in_namespace && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
        }
    }

    /// Whether `rule` (with peers `who`) allows TCP to `port` of `destination`.
    fn rule_allows(
        &self,
        policy: &Policy,
        rule: &Rule,
        who: Target<'_>,
        destination: Target<'_>,
        port: u16,
    ) -> bool {
        let peer_ok = rule
            .peers
            .as_ref()
            .is_none_or(|peers| peers.iter().any(|p| self.peer_matches(policy, p, who)));
        let port_ok = rule.ports.is_empty()
            || rule.ports.iter().any(|p| {
                if p.protocol != "TCP" {
                    return false;
                }
                match &p.port {
                    None => true,
                    Some(PortRef::Number(n)) => match p.end_port {
                        Some(end) => (*n..=end).contains(&port),
                        None => *n == port,
                    },
                    Some(PortRef::Name(name)) => match destination {
                        Target::Pod(d) => d.named_port(name) == Some(port),
                        Target::Address(_) => false,
                    },
                }
            });
        peer_ok && port_ok
    }

    /// One direction: the policies of `kind` selecting `pod`, and whether one of their rules
    /// lets `peer` through to `port` of `destination`.
    fn side(
        &self,
        pod: &Pod,
        egress: bool,
        peer: Target<'_>,
        destination: Target<'_>,
        port: u16,
    ) -> Side {
        let mut isolating = Vec::new();
        for policy in self.policies.iter().filter(|p| p.selects(pod)) {
            let rules = if egress {
                &policy.egress
            } else {
                &policy.ingress
            };
            let Some(rules) = rules else { continue };
            if rules
                .iter()
                .any(|r| self.rule_allows(policy, r, peer, destination, port))
            {
                return Side::AllowedBy(policy.describe());
            }
            isolating.push(policy.describe());
        }
        if isolating.is_empty() {
            Side::Open
        } else {
            Side::Denied(isolating)
        }
    }

    /// Whether `from` may open a TCP connection to `port` of `to`, and why.
    pub fn connect(&self, from: &Pod, to: Target<'_>, port: u16) -> Decision {
        let egress = self.side(from, true, to, to, port);
        let ingress = match to {
            Target::Pod(pod) => self.side(pod, false, Target::Pod(from), to, port),
            Target::Address(_) => Side::Outside,
        };
        Decision { egress, ingress }
    }

    /// Whether `from` may open a TCP connection to `port` of `to`.
    pub fn allows(&self, from: &Pod, to: Target<'_>, port: u16) -> bool {
        self.connect(from, to, port).allowed()
    }
}

// ── What the platform means ─────────────────────────────────────────────────────────────

/// A public address (TEST-NET-3, RFC 5737) standing for a host a service declares in
/// `egress`: a NetworkPolicy cannot tell hosts apart, only addresses.
pub const PUBLIC: &str = "203.0.113.10";

/// Addresses no service may reach, whatever it declares: the cluster's own networks, the
/// shared range and the cloud metadata endpoint.
pub const NEVER: &[&str] = &[
    "10.0.0.10",
    "10.96.0.1",
    "172.16.5.4",
    "192.168.1.20",
    "100.64.0.7",
    "169.254.169.254",
];

/// Ports a service reaches outside the cluster only when it declares them.
const PROBED: &[u16] = &[22, 25, 53, 80, 443, 465, 587, 3306, 5432, 6379, 8080, 8443];

/// The connections of one environment (`namespace`) as service.toml declares them, checked
/// on the NetworkPolicies with Pods at cluster addresses: each service reaches its declared
/// egress ports on a public address and no other port, no private or metadata address on
/// any port, its callees on their container port, no other service, only its own datastore,
/// and cluster DNS. Returns how many connections were judged, and the findings.
pub fn declared_traffic(
    model: &Model,
    namespace: &str,
    objects: &[Object],
) -> (usize, Vec<String>) {
    let mut all = pods(objects);
    for (i, pod) in (0u32..).zip(all.iter_mut()) {
        let [_, _, high, low] = (i + 1).to_be_bytes();
        pod.ip = Some(IpAddr::from([10, 244, high, low]));
    }
    let dns_group = &model.platform.addons.dns;
    let dns_labels: Vec<(&str, &str)> = dns_group
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let dns = Pod::elsewhere(&dns_group.namespace, &dns_labels, &[("dns-tcp", 53)]);
    let public: IpAddr = PUBLIC.parse().expect("an address");
    let never: Vec<IpAddr> = NEVER
        .iter()
        .map(|a| a.parse().expect("an address"))
        .collect();
    let every_egress_port: BTreeSet<u16> = model
        .services
        .iter()
        .flat_map(|s| s.egress.destinations.iter().map(|d| d.port))
        .chain(PROBED.iter().copied())
        .collect();
    let pod_of = |app: &str| -> Option<&Pod> {
        all.iter()
            .find(|p| p.namespace == namespace && p.app() == Some(app))
    };

    let mut judge = Judge {
        network: Network::new(objects),
        judged: 0,
        findings: Vec::new(),
    };
    for s in &model.services {
        let Some(me) = pod_of(&s.name) else {
            judge
                .findings
                .push(format!("reach: no Pod of {} in {namespace}", s.name));
            continue;
        };
        let declared: BTreeSet<u16> = s.egress.destinations.iter().map(|d| d.port).collect();
        for &port in &every_egress_port {
            let (want, why) = if declared.contains(&port) {
                (true, "service.toml declares it in egress")
            } else {
                (false, "service.toml does not declare it in egress")
            };
            judge.expect(me, Target::Address(public), port, want, why);
        }
        for &ip in &never {
            for &port in declared.iter().chain(&[80, 443]) {
                judge.expect(
                    me,
                    Target::Address(ip),
                    port,
                    false,
                    "no egress reaches the cluster's networks or the metadata endpoint",
                );
            }
        }
        judge.expect(
            me,
            Target::Pod(&dns),
            53,
            true,
            "every service resolves names",
        );
        for other in model.services.iter().filter(|o| o.name != s.name) {
            if let Some(them) = pod_of(&other.name) {
                let called = s.calls.contains(&other.name);
                let why = if called {
                    "service.toml declares the call"
                } else {
                    "service.toml declares no such call"
                };
                let port = u16::try_from(other.port).expect("a port");
                judge.expect(me, Target::Pod(them), port, called, why);
            }
            if let Some(store) = &other.store
                && let Some(db) = pod_of(&store.name)
            {
                let why = "a datastore admits its owner only";
                judge.expect(me, Target::Pod(db), store.port, false, why);
            }
        }
        // The event broker: its client port, for exactly the services with topics; never
        // its route or monitoring ports.
        if let Some(b) = &model.platform.broker {
            match pod_of(b.name) {
                Some(broker) => {
                    let events = !s.publishes.is_empty() || !s.consumes.is_empty();
                    let why = if events {
                        "service.toml declares topics it publishes or consumes"
                    } else {
                        "it neither publishes nor consumes"
                    };
                    judge.expect(me, Target::Pod(broker), b.ports.client, events, why);
                    for port in [b.ports.cluster, b.ports.monitor] {
                        let why = "only the broker's servers and KEDA use its other ports";
                        judge.expect(me, Target::Pod(broker), port, false, why);
                    }
                }
                None => judge.findings.push(format!(
                    "reach: no Pod of the broker {} in {namespace}",
                    b.name
                )),
            }
        }
        if let Some(store) = &s.store {
            match pod_of(&store.name) {
                Some(db) => {
                    let why = "a service reaches its own datastore";
                    judge.expect(me, Target::Pod(db), store.port, true, why);
                }
                None => judge
                    .findings
                    .push(format!("reach: no Pod of {} in {namespace}", store.name)),
            }
        }
    }
    // The broker's own peers: its servers route to each other, the JetStream controller
    // uses the client port, KEDA the monitoring port, and none of them anything else.
    if let Some((b, broker)) = model
        .platform
        .broker
        .as_ref()
        .and_then(|b| pod_of(b.name).map(|p| (b, p)))
    {
        let group = |g: &bulkhead::model::PodGroup| -> Pod {
            let labels: Vec<(&str, &str)> = g
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            Pod::elsewhere(&g.namespace, &labels, &[])
        };
        let addons = &model.platform.addons;
        let (keda, controller) = (group(&addons.keda), group(&addons.jetstream_controller));
        judge.expect(
            broker,
            Target::Pod(broker),
            b.ports.cluster,
            true,
            "the servers form one cluster",
        );
        judge.expect(
            &controller,
            Target::Pod(broker),
            b.ports.client,
            true,
            "the JetStream controller declares streams",
        );
        judge.expect(
            &keda,
            Target::Pod(broker),
            b.ports.monitor,
            true,
            "KEDA reads the consumers' backlog",
        );
        judge.expect(
            &keda,
            Target::Pod(broker),
            b.ports.client,
            false,
            "KEDA reads counters, never messages",
        );
        judge.expect(
            &dns,
            Target::Pod(broker),
            b.ports.client,
            false,
            "nothing else reaches the broker",
        );
    }
    (judge.judged, judge.findings)
}

/// Judges connections against what they should be, keeping count and the wrong ones.
struct Judge {
    network: Network,
    judged: usize,
    findings: Vec<String>,
}

impl Judge {
    fn expect(&mut self, from: &Pod, to: Target<'_>, port: u16, want: bool, why: &str) {
        self.judged += 1;
        let decision = self.network.connect(from, to, port);
        if decision.allowed() != want {
            self.findings.push(format!(
                "reach: {} → {to} port {port} is {} but {why} ({decision})",
                from.owner,
                if want { "denied" } else { "allowed" },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn pod(namespace: &str, app: &str, ports: &[(&str, u16)]) -> Pod {
        let mut p = Pod::elsewhere(namespace, &[("app", app)], ports);
        p.owner = format!("{namespace}/{app}");
        p
    }

    /// Namespace `shop` (labelled `team: web`) with a default deny, `api` admitting `web` on
    /// its named port `http` and reaching the payment provider on 443, and `monitoring`.
    const POLICIES: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  podSelector:
    matchLabels: {app: api}
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - podSelector:
            matchLabels: {app: web}
      ports:
        - port: http
          protocol: TCP
    - from:
        - namespaceSelector:
            matchLabels: {kubernetes.io/metadata.name: monitoring}
          podSelector:
            matchLabels: {app: prometheus}
      ports:
        - port: 9090
  egress:
    - to:
        - ipBlock:
            cidr: 0.0.0.0/0
            except: [10.0.0.0/8, 169.254.0.0/16]
      ports:
        - port: 443
          protocol: TCP
    - to:
        - podSelector:
            matchLabels: {app: db}
      ports:
        - port: 5432
"#;

    fn network() -> Network {
        Network::new(&parse("test", POLICIES))
    }

    #[test]
    fn a_pod_no_policy_selects_is_open_both_ways() {
        let n = Network::new(&parse(
            "test",
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  policyTypes: [Ingress, Egress]\n",
        ));
        let a = pod("shop", "a", &[]);
        let b = pod("shop", "b", &[("http", 8080)]);
        let d = n.connect(&a, Target::Pod(&b), 8080);
        assert_eq!(
            (d.egress.clone(), d.ingress.clone()),
            (Side::Open, Side::Open)
        );
        assert!(n.allows(&a, Target::Address(ip("203.0.113.1")), 25));
        // The same pods elsewhere are not the policy's either.
        assert!(n.allows(&pod("other", "api", &[]), Target::Pod(&b), 1));
        // `api` itself is isolated with no rule: nothing in, nothing out.
        let api = pod("shop", "api", &[("http", 8080)]);
        assert!(!n.allows(&api, Target::Pod(&b), 8080));
        assert!(!n.allows(&a, Target::Pod(&api), 8080));
    }

    #[test]
    fn a_default_deny_denies_and_a_rule_allows() {
        let n = network();
        let web = pod("shop", "web", &[]);
        let api = pod("shop", "api", &[("http", 8080), ("metrics", 9090)]);
        let db = pod("shop", "db", &[("postgres", 5432)]);
        // web's egress is only the default deny's: isolated, no rule.
        let d = n.connect(&web, Target::Pod(&api), 8080);
        assert!(!d.allowed());
        assert_eq!(
            d.egress,
            Side::Denied(vec!["NetworkPolicy shop/default-deny".into()])
        );
        assert_eq!(d.ingress, Side::AllowedBy("NetworkPolicy shop/api".into()));
        // api → db: api's egress allows it, but db is isolated by the default deny.
        let d = n.connect(&api, Target::Pod(&db), 5432);
        assert_eq!(d.egress, Side::AllowedBy("NetworkPolicy shop/api".into()));
        assert!(!d.ingress.allows(), "{d}");
        assert!(!d.allowed());
    }

    #[test]
    fn rules_of_every_policy_selecting_a_pod_add_up() {
        let extra = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-out, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress:\n    - to: [{podSelector: {matchLabels: {app: api}}}]\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: db-in, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: db}}\n  ingress:\n    - from: [{podSelector: {matchLabels: {app: api}}}]\n      ports: [{port: 5432}]\n";
        let n = Network::new(&parse("test", &format!("{POLICIES}{extra}")));
        let web = pod("shop", "web", &[]);
        let api = pod("shop", "api", &[("http", 8080)]);
        let db = pod("shop", "db", &[]);
        assert!(n.allows(&web, Target::Pod(&api), 8080));
        assert!(
            !n.allows(&web, Target::Pod(&api), 8081),
            "only the named port"
        );
        assert!(n.allows(&api, Target::Pod(&db), 5432));
        assert!(!n.allows(&web, Target::Pod(&db), 5432));
    }

    #[test]
    fn named_ports_resolve_against_the_destination_pod() {
        let n = network();
        let web = pod("shop", "web", &[("http", 3000)]);
        let open = "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: web-out, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  policyTypes: [Egress]\n  egress: [{}]\n";
        let n2 = Network::new(&parse("test", &format!("{POLICIES}{open}")));
        let api = pod("shop", "api", &[("http", 8080)]);
        assert!(n2.allows(&web, Target::Pod(&api), 8080));
        // The source's own `http` (3000) is not what the name means.
        assert!(!n2.allows(&web, Target::Pod(&api), 3000));
        // A destination without a port of that name: the rule does not apply.
        let unnamed = pod("shop", "api", &[("web", 8080)]);
        assert!(!n2.allows(&web, Target::Pod(&unnamed), 8080));
        // A named port never matches an address.
        assert!(!n.allows(&web, Target::Address(ip("203.0.113.1")), 8080));
    }

    #[test]
    fn ip_blocks_leave_out_their_exceptions() {
        let n = network();
        let api = pod("shop", "api", &[("http", 8080)]);
        assert!(n.allows(&api, Target::Address(ip("203.0.113.10")), 443));
        assert!(
            !n.allows(&api, Target::Address(ip("203.0.113.10")), 587),
            "port"
        );
        assert!(
            !n.allows(&api, Target::Address(ip("10.1.2.3")), 443),
            "except"
        );
        assert!(!n.allows(&api, Target::Address(ip("169.254.169.254")), 443));
        // 0.0.0.0/0 is IPv4 only.
        assert!(!n.allows(&api, Target::Address(ip("2001:db8::1")), 443));
        // A Pod with an address outside the exceptions is reached through the block too; one
        // inside them is not, nor is a Pod without an address.
        let mut far = pod("elsewhere", "thing", &[]);
        far.ip = Some(ip("198.51.100.7"));
        assert!(n.connect(&api, Target::Pod(&far), 443).egress.allows());
        far.ip = Some(ip("10.244.0.9"));
        assert!(!n.connect(&api, Target::Pod(&far), 443).egress.allows());
        far.ip = None;
        assert!(!n.connect(&api, Target::Pod(&far), 443).egress.allows());
    }

    #[test]
    fn namespace_and_pod_selectors_in_one_peer_both_apply() {
        let n = network();
        let api = pod("shop", "api", &[("http", 8080), ("metrics", 9090)]);
        let prometheus = pod("monitoring", "prometheus", &[]);
        let impostor = pod("shop", "prometheus", &[]);
        let other = pod("monitoring", "grafana", &[]);
        assert!(n.allows(&prometheus, Target::Pod(&api), 9090));
        assert!(
            !n.allows(&impostor, Target::Pod(&api), 9090),
            "wrong namespace"
        );
        assert!(!n.allows(&other, Target::Pod(&api), 9090), "wrong pod");
        // Separate peers are either-or: a namespaceSelector alone takes the whole namespace,
        // matched by the Namespace object's own labels.
        let either = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: api, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: api}}\n  ingress:\n    - from:\n        - namespaceSelector: {matchLabels: {team: web}}\n        - podSelector: {matchLabels: {app: web}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: web}}\n";
        let n = Network::new(&parse("test", either));
        assert!(n.allows(&impostor, Target::Pod(&api), 1));
        assert!(!n.allows(&other, Target::Pod(&api), 1));
    }

    #[test]
    fn empty_peers_and_ports_mean_all_and_an_empty_egress_list_denies() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: ns}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n  egress:\n    - ports: [{port: 8000, endPort: 8100}]\n";
        let n = Network::new(&parse("test", text));
        let a = pod("ns", "a", &[]);
        let b = pod("elsewhere", "b", &[]);
        assert!(n.allows(&a, Target::Pod(&b), 8000));
        assert!(n.allows(&a, Target::Pod(&b), 8100));
        assert!(!n.allows(&a, Target::Pod(&b), 8101));
        assert!(n.allows(&a, Target::Address(ip("192.0.2.1")), 8050));
        // policyTypes written with `egress: []`: isolated, nothing allowed.
        let deny = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: ns}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  policyTypes: [Egress]\n  egress: []\n";
        assert!(!Network::new(&parse("test", deny)).allows(&a, Target::Pod(&b), 8000));
        // policyTypes left out and `egress: []`: the policy is about ingress only.
        let ingress_only = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: ns}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  egress: []\n";
        let n = Network::new(&parse("test", ingress_only));
        assert!(n.allows(&a, Target::Pod(&b), 8000));
        assert!(!n.allows(&b, Target::Pod(&a), 8000));
        // Left out with an egress rule: both.
        let both = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: ns}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  egress:\n    - ports: [{port: 53, protocol: UDP}]\n";
        let n = Network::new(&parse("test", both));
        assert!(!n.allows(&a, Target::Pod(&b), 53), "UDP only");
    }

    #[test]
    fn cidrs_contain_what_they_should() {
        let c = Cidr::parse("172.16.0.0/12").unwrap();
        assert!(c.contains(ip("172.31.255.255")));
        assert!(!c.contains(ip("172.32.0.0")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:1::1"))
        );
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0.0").is_none());
    }
}
