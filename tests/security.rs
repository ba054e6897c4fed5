//! The domain graph is the security policy. For every example, the same platforms without a
//! mesh, and a platform with every kind of datastore and per-environment releases, the
//! objects `kubectl kustomize` builds (parsed, never grepped) admit exactly what
//! service.toml declares: AuthorizationPolicies and NetworkPolicies let in the declared
//! callers, the gateway when there are `apis`, and Prometheus; a service's traffic goes
//! only to DNS, its callees, its own database, the mesh, the telemetry collector and, on
//! the ports it declares in `egress`, public addresses (with Istio, a ServiceEntry names
//! its hosts); no
//! service but its owner reaches a database; each service runs as one workload, a
//! Deployment or, for canary and blue-green releases, an Argo Rollouts Rollout whose
//! strategy, analysis and mesh routes release it as configured.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use bulkhead::model::{Model, Service, Store};
use bulkhead::spec::{Datastore, Mesh, Strategy};
use serde_yaml_ng::Value;

use crate::common::{
    EXAMPLES, bulkhead, example, generate, has_key, kustomize, minimal, model_of_file, platform,
};

const GATEWAY_SA: &str = "istio-ingressgateway-service-account";

/// A platform with every datastore kind, an environment without a public host, callers of
/// a service released by a Rollout, and releases that change per environment.
const STORES: &str = r#"[platform]
name = "stores"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/stores.git"

[environments.dev]
replicas = 1

[environments.prod]
host = "stores.example.com"
replicas = 3

[services.catalog]
runtime = "go"
owns = ["products"]
datastore = "mysql"
apis = ["/catalog", "/search/"]
release = { strategy = "canary", weight = 25 }
resilience = { timeout = "1500ms", retries = 0 }

[services.catalog.environments.dev]
release = { strategy = "blue-green" }

[services.reviews]
runtime = "node"
owns = ["reviews"]
datastore = "mongodb"
calls = ["catalog", "sessions"]
apis = ["/reviews"]
release = { strategy = "blue-green" }

[services.reviews.environments.prod]
release = { strategy = "canary", weight = 5 }
autoscale = { min = 2, max = 4, cpu = 60 }

[services.sessions]
runtime = "rust"
owns = ["sessions"]
datastore = "redis"
"#;

#[test]
fn examples_admit_exactly_the_declared_graph() {
    for name in EXAMPLES {
        let built = build(&example(name));
        assert_eq!(built.model.platform.mesh, Mesh::Istio, "{name}");
        check(&built, name);
    }
}

#[test]
fn examples_without_a_mesh_use_kubernetes_alone() {
    for name in EXAMPLES {
        let text = std::fs::read_to_string(example(name)).unwrap();
        let dir = platform(&without_mesh(&text));
        let built = build(&dir.path().join("service.toml"));
        assert_eq!(built.model.platform.mesh, Mesh::None, "{name}");
        check(&built, &format!("{name} (mesh = none)"));
    }
}

#[test]
fn every_datastore_kind_and_per_environment_releases() {
    for (label, text) in [
        ("stores", STORES.to_string()),
        ("stores (mesh = none)", without_mesh(STORES)),
    ] {
        let dir = platform(&text);
        let built = build(&dir.path().join("service.toml"));
        check(&built, label);
        // The spec exercises what it is meant to.
        let kinds: BTreeSet<String> = built
            .model
            .services
            .iter()
            .filter_map(|s| s.store.as_ref().map(|st| st.kind.to_string()))
            .collect();
        assert_eq!(kinds.len(), 3, "{label}: mysql, mongodb, redis");
        let catalog = built.model.service("catalog").unwrap();
        assert_eq!(
            catalog.environments["dev"].release.strategy,
            Strategy::BlueGreen
        );
        assert_eq!(catalog.environments["prod"].release.weight, Some(25));
        let reviews = built.model.service("reviews").unwrap();
        assert_eq!(reviews.environments["prod"].release.weight, Some(5));
        assert!(built.model.environments[0].host.is_none());
    }
}

#[test]
fn datastore_variables_are_reserved() {
    let dir = platform(&minimal(
        "datastore = \"postgres\"\nowns = [\"things\"]\nenv = { DATABASE_HOST = \"elsewhere\" }\n",
    ));
    let out = bulkhead(dir.path()).arg("validate").assert().failure();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        stderr.contains("`DATABASE_HOST` is set by bulkhead itself"),
        "{stderr}"
    );
}

fn without_mesh(text: &str) -> String {
    assert!(text.contains("[platform]\n"));
    text.replacen("[platform]\n", "[platform]\nmesh = \"none\"\n", 1)
}

// ---------------------------------------------------------------------------------------
// Building

struct Built {
    model: Model,
    envs: Vec<BuiltEnv>,
}

struct BuiltEnv {
    name: String,
    namespace: String,
    host: Option<String>,
    tls_secret: String,
    /// `deploy/overlays/<env>/_platform`.
    platform: Vec<Value>,
    /// `deploy/overlays/<env>/<svc>` by service name.
    services: BTreeMap<String, Vec<Value>>,
}

impl BuiltEnv {
    fn all(&self) -> impl Iterator<Item = &Value> {
        self.platform.iter().chain(self.services.values().flatten())
    }
}

/// Generates the tree and builds every overlay of every environment.
fn build(spec: &Path) -> Built {
    let model = model_of_file(spec);
    let out = generate(spec);
    let envs = std::thread::scope(|scope| {
        let handles: Vec<_> = model
            .environments
            .iter()
            .map(|env| {
                let dir = out.path().join("deploy/overlays").join(&env.name);
                let model = &model;
                scope.spawn(move || {
                    let services = model
                        .services
                        .iter()
                        .map(|s| (s.name.clone(), kustomize(&dir.join(&s.name))))
                        .collect();
                    let whole = kustomize(&dir);
                    let built = BuiltEnv {
                        name: env.name.clone(),
                        namespace: env.namespace.clone(),
                        host: env.host.clone(),
                        tls_secret: env.tls_secret.clone(),
                        platform: kustomize(&dir.join("_platform")),
                        services,
                    };
                    assert_eq!(
                        whole.len(),
                        built.all().count(),
                        "{}: the environment is exactly its parts",
                        env.name
                    );
                    built
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    Built { model, envs }
}

// ---------------------------------------------------------------------------------------
// Reading objects

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn find<'a>(objects: &'a [Value], k: &str, n: &str) -> Option<&'a Value> {
    objects.iter().find(|o| kind(o) == k && name(o) == n)
}

fn get<'a>(objects: &'a [Value], k: &str, n: &str, at: &str) -> &'a Value {
    find(objects, k, n).unwrap_or_else(|| panic!("{at}: no {k} {n}"))
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_string(),
                        v.as_str().unwrap_or_else(|| panic!("{v:?}")).to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn seq(v: &Value) -> &[Value] {
    v.as_sequence().map_or(&[], Vec::as_slice)
}

/// Whether a `matchLabels` selector (no expressions) selects pods with `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    assert!(
        selector["matchExpressions"].is_null(),
        "only matchLabels are generated"
    );
    str_map(&selector["matchLabels"])
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

fn pod_labels(workload: &Value) -> BTreeMap<String, String> {
    str_map(&workload["spec"]["template"]["metadata"]["labels"])
}

fn principal(namespace: &str, account: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{account}")
}

/// The workloads (the Deployment or Rollout of a service, the StatefulSet of a database)
/// whose pods are `app`.
fn workloads<'a>(env: &'a BuiltEnv, app: &str) -> Vec<&'a Value> {
    env.all()
        .filter(|o| matches!(kind(o), "Deployment" | "Rollout" | "StatefulSet"))
        .filter(|o| {
            pod_labels(o)
                .get("app.kubernetes.io/name")
                .map(String::as_str)
                == Some(app)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Network policies

/// Who a NetworkPolicy peer is: pods of this namespace by name, a cluster add-on, or the
/// public addresses outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    Pods(String),
    Addon(&'static str),
    Internet,
}

/// Ranges no declared egress may reach: the cluster's own networks and the cloud metadata
/// endpoints.
const NEVER_OUTSIDE: &[&str] = &[
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
];

fn peer(p: &Value, model: &Model, at: &str) -> Peer {
    if !p["ipBlock"].is_null() {
        assert!(
            p["podSelector"].is_null() && p["namespaceSelector"].is_null(),
            "{at}: an IP block alone"
        );
        assert_eq!(p["ipBlock"]["cidr"].as_str(), Some("0.0.0.0/0"), "{at}");
        let except = strings(&p["ipBlock"]["except"]);
        for range in NEVER_OUTSIDE {
            assert!(
                except.iter().any(|e| e == range),
                "{at}: an IP block that reaches {range}: {except:?}"
            );
        }
        return Peer::Internet;
    }
    let labels = str_map(&p["podSelector"]["matchLabels"]);
    assert!(p["podSelector"]["matchExpressions"].is_null(), "{at}");
    if p["namespaceSelector"].is_null() {
        assert_eq!(
            labels.len(),
            1,
            "{at}: one app per same-namespace peer: {p:?}"
        );
        let app = labels.get("app.kubernetes.io/name");
        let app = app.unwrap_or_else(|| panic!("{at}: a peer that is not one app: {p:?}"));
        return Peer::Pods(app.clone());
    }
    let ns = str_map(&p["namespaceSelector"]["matchLabels"]);
    assert_eq!(ns.len(), 1, "{at}: one namespace per peer");
    let ns = &ns["kubernetes.io/metadata.name"];
    assert!(
        !labels.is_empty(),
        "{at}: a whole namespace is never admitted"
    );
    let a = &model.platform.addons;
    let mut groups = vec![
        ("dns", &a.dns),
        ("gateway", &a.gateway),
        ("prometheus", &a.prometheus),
        ("collector", &a.otel_collector),
    ];
    if let Some(mesh) = &a.mesh_control_plane {
        groups.push(("mesh", mesh));
    }
    for (group, pods) in groups {
        let want: BTreeMap<String, String> = pods
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if pods.namespace == *ns && want == labels {
            return Peer::Addon(group);
        }
    }
    panic!("{at}: a peer that is no service and no add-on: {p:?}")
}

/// Peer → the ports (as written: number or name) one direction of a policy admits.
fn admitted(
    np: &Value,
    direction: &str,
    model: &Model,
    at: &str,
) -> BTreeMap<Peer, BTreeSet<String>> {
    let key = if direction == "ingress" { "from" } else { "to" };
    let mut out: BTreeMap<Peer, BTreeSet<String>> = BTreeMap::new();
    for rule in seq(&np["spec"][direction]) {
        let peers = seq(&rule[key]);
        assert!(
            !peers.is_empty(),
            "{at}: a {direction} rule open to everyone"
        );
        let ports: BTreeSet<String> = seq(&rule["ports"])
            .iter()
            .map(|p| {
                let port = &p["port"];
                let port = port
                    .as_u64()
                    .map_or_else(|| port.as_str().unwrap().to_string(), |n| n.to_string());
                format!("{port}/{}", p["protocol"].as_str().unwrap_or("TCP"))
            })
            .collect();
        assert!(
            !ports.is_empty(),
            "{at}: a {direction} rule open on every port"
        );
        for p in peers {
            out.entry(peer(p, model, at))
                .or_default()
                .extend(ports.iter().cloned());
        }
    }
    out
}

fn check_service_network_policy(
    model: &Model,
    env: &BuiltEnv,
    svc: &Service,
    objects: &[Value],
    at: &str,
) {
    let np = get(objects, "NetworkPolicy", &svc.name, at);
    let own = workloads(env, &svc.name);
    assert_eq!(own.len(), 1, "{at}: one workload runs {}", svc.name);
    for w in own {
        assert!(
            selects(&np["spec"]["podSelector"], &pod_labels(w)),
            "{at}: the policy covers {}",
            name(w)
        );
    }
    assert_eq!(
        strings(&np["spec"]["policyTypes"]),
        ["Ingress", "Egress"],
        "{at}"
    );
    let istio = model.platform.mesh == Mesh::Istio;

    let ingress = admitted(np, "ingress", model, at);
    let mut want: BTreeSet<Peer> = svc.callers.iter().cloned().map(Peer::Pods).collect();
    if !svc.apis.is_empty() {
        want.insert(Peer::Addon("gateway"));
    }
    want.insert(Peer::Addon("prometheus"));
    assert_eq!(
        ingress.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "{at}: NetworkPolicy ingress = declared callers (+ gateway iff apis) + Prometheus"
    );
    for (p, ports) in &ingress {
        if *p != Peer::Addon("prometheus") {
            assert_eq!(
                ports,
                &BTreeSet::from(["http/TCP".to_string()]),
                "{at}: {p:?}"
            );
        }
    }

    let egress = admitted(np, "egress", model, at);
    let mut want: BTreeSet<Peer> = svc.calls.iter().cloned().map(Peer::Pods).collect();
    want.insert(Peer::Addon("dns"));
    want.insert(Peer::Addon("collector"));
    if istio {
        want.insert(Peer::Addon("mesh"));
    }
    if let Some(store) = &svc.store {
        want.insert(Peer::Pods(store.name.clone()));
    }
    // The event broker, for a service that publishes or consumes (and only its client port).
    if let Some(broker) = svc.events.as_ref().and(model.platform.broker.as_ref()) {
        want.insert(Peer::Pods(broker.name.to_string()));
        assert_eq!(
            egress.get(&Peer::Pods(broker.name.to_string())),
            Some(&BTreeSet::from([format!("{}/TCP", broker.ports.client)])),
            "{at}: the broker's client port only"
        );
    }
    let outside: BTreeSet<String> = svc
        .egress
        .destinations
        .iter()
        .map(|d| format!("{}/TCP", d.port))
        .collect();
    if !outside.is_empty() {
        want.insert(Peer::Internet);
    }
    assert_eq!(
        egress.keys().cloned().collect::<BTreeSet<_>>(),
        want,
        "{at}: NetworkPolicy egress = DNS + callees + own datastore + broker iff events + mesh control plane + collector (+ public addresses iff egress)"
    );
    if !outside.is_empty() {
        assert_eq!(
            egress[&Peer::Internet],
            outside,
            "{at}: public addresses on the declared egress ports only"
        );
    }
    for callee in &svc.calls {
        let port = model.service(callee).unwrap().port;
        assert_eq!(
            egress[&Peer::Pods(callee.clone())],
            BTreeSet::from([format!("{port}/TCP")]),
            "{at}: {callee}"
        );
    }
    if let Some(store) = &svc.store {
        assert_eq!(
            egress[&Peer::Pods(store.name.clone())],
            BTreeSet::from([format!("{}/TCP", store.port)]),
            "{at}"
        );
    }
    assert_eq!(
        egress[&Peer::Addon("dns")],
        BTreeSet::from(["53/TCP".to_string(), "53/UDP".to_string()]),
        "{at}"
    );
}

fn check_datastore(model: &Model, env: &BuiltEnv, svc: &Service, store: &Store, at: &str) {
    let objects = &env.services[&svc.name];
    let at = &format!("{at}/{}", store.name);
    let istio = model.platform.mesh == Mesh::Istio;

    // The StatefulSet: persistent, pinned, unprivileged, credentials by reference.
    let sts = get(objects, "StatefulSet", &store.name, at);
    let labels = pod_labels(sts);
    for (k, v) in [
        ("app.kubernetes.io/name", store.name.as_str()),
        ("app.kubernetes.io/component", "database"),
        ("app.kubernetes.io/part-of", model.platform.name.as_str()),
        ("app.kubernetes.io/managed-by", "bulkhead"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "{at}: {k}");
    }
    let spec = &sts["spec"];
    assert_eq!(spec["serviceName"].as_str(), Some(store.name.as_str()));
    assert_eq!(spec["replicas"].as_u64(), Some(1), "{at}");
    assert!(!seq(&spec["volumeClaimTemplates"]).is_empty(), "{at}");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"].as_bool(), Some(false));
    let sc = &pod["securityContext"];
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true), "{at}");
    // A UID of no node's user (checkov CKV_K8S_40: 10000 or more).
    assert!(
        sc["runAsUser"].as_u64().is_some_and(|u| u >= 10_000),
        "{at}"
    );
    assert_eq!(sc["runAsGroup"], sc["runAsUser"], "{at}");
    assert_eq!(sc["fsGroup"], sc["runAsUser"], "{at}");
    assert_eq!(
        sc["seccompProfile"]["type"].as_str(),
        Some("RuntimeDefault")
    );
    let containers = seq(&pod["containers"]);
    assert_eq!(containers.len(), 1, "{at}");
    let c = &containers[0];
    let image = c["image"].as_str().unwrap();
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_default();
    assert!(
        !tag.is_empty() && tag != "latest",
        "{at}: {image} is pinned"
    );
    let csc = &c["securityContext"];
    assert_eq!(csc["readOnlyRootFilesystem"].as_bool(), Some(true), "{at}");
    assert_eq!(
        csc["allowPrivilegeEscalation"].as_bool(),
        Some(false),
        "{at}"
    );
    assert_eq!(strings(&csc["capabilities"]["drop"]), ["ALL"], "{at}");
    for probe in ["startupProbe", "readinessProbe", "livenessProbe"] {
        assert!(!c[probe].is_null(), "{at}: {probe}");
    }
    assert!(!c["resources"]["limits"]["memory"].is_null(), "{at}");
    assert!(!c["resources"]["limits"]["cpu"].is_null(), "{at}");
    // No password on a command line: Kubernetes would expand `$(…_PASSWORD)` into the
    // process's arguments, readable in its /proc.
    let args: Vec<&str> = seq(&c["args"]).iter().filter_map(|a| a.as_str()).collect();
    for a in &args {
        assert!(
            !a.contains("--requirepass") && !a.contains("_PASSWORD)"),
            "{at}: a password on the command line: {a}"
        );
    }
    if store.kind == Datastore::Redis {
        // Redis reads its configuration from a here-document on standard input; its
        // maxmemory stays within the container's memory limit.
        let script = args.last().copied().unwrap_or_default();
        assert!(
            script.contains("exec redis-server - <<EOF"),
            "{at}: {script}"
        );
        let maxmemory: f64 = script
            .lines()
            .find_map(|l| l.strip_prefix("maxmemory "))
            .and_then(|v| v.parse().ok())
            .expect("maxmemory");
        let limit = bulkhead::model::units::parse_quantity(
            c["resources"]["limits"]["memory"].as_str().unwrap(),
        )
        .unwrap();
        assert!(
            maxmemory > 0.0 && maxmemory < limit,
            "{at}: {maxmemory} of {limit}"
        );
        assert!(script.contains("maxmemory-policy noeviction"), "{at}");
    }
    let mut from_secret = 0;
    for e in seq(&c["env"]) {
        let n = e["name"].as_str().unwrap();
        if let Some(v) = e["value"].as_str() {
            assert!(
                !n.contains("PASSWORD") && !n.contains("USER") && !n.contains("AUTH"),
                "{at}: {n} = {v} written in the manifest"
            );
        } else {
            let r = &e["valueFrom"]["secretKeyRef"];
            assert_eq!(r["name"].as_str(), Some(store.secret.as_str()), "{at}: {n}");
            from_secret += 1;
        }
    }
    assert!(
        from_secret >= 1,
        "{at}: credentials come from {}",
        store.secret
    );

    let headless = get(objects, "Service", &store.name, at);
    assert_eq!(headless["spec"]["clusterIP"].as_str(), Some("None"), "{at}");
    assert!(selects(
        &headless["spec"]["selector"].clone().into_selector(),
        &labels
    ));

    // Its own NetworkPolicy: the owner only, on the database port.
    let np = get(objects, "NetworkPolicy", &store.name, at);
    assert!(selects(&np["spec"]["podSelector"], &labels), "{at}");
    assert_eq!(
        strings(&np["spec"]["policyTypes"]),
        ["Ingress", "Egress"],
        "{at}"
    );
    let ingress = admitted(np, "ingress", model, at);
    assert_eq!(
        ingress,
        BTreeMap::from([(
            Peer::Pods(svc.name.clone()),
            BTreeSet::from([format!("{}/TCP", store.kind)])
        )]),
        "{at}: the datastore admits its owner only"
    );
    let egress: BTreeSet<Peer> = admitted(np, "egress", model, at).into_keys().collect();
    let want = if istio {
        BTreeSet::from([Peer::Addon("dns"), Peer::Addon("mesh")])
    } else {
        BTreeSet::new()
    };
    assert_eq!(egress, want, "{at}: the datastore connects nowhere");

    // The owner's connection settings (in its Deployment or Rollout): cluster DNS, secrets
    // by reference.
    let owner = workload(objects, svc, at);
    let env_vars = seq(&owner["spec"]["template"]["spec"]["containers"][0]["env"]);
    let var = |n: &str| {
        env_vars
            .iter()
            .find(|e| e["name"].as_str() == Some(n))
            .unwrap_or_else(|| panic!("{at}: {} has no {n}", svc.name))
    };
    assert_eq!(
        var("DATABASE_HOST")["value"].as_str().unwrap(),
        format!("{}.$(POD_NAMESPACE).svc.cluster.local", store.name)
    );
    assert_eq!(
        var("DATABASE_PORT")["value"].as_str().unwrap(),
        store.port.to_string()
    );
    assert_eq!(
        var("DATABASE_PASSWORD")["valueFrom"]["secretKeyRef"]["name"].as_str(),
        Some(store.secret.as_str())
    );
}

trait IntoSelector {
    fn into_selector(self) -> Value;
}

impl IntoSelector for Value {
    /// A Service's `selector` map as a `matchLabels` selector.
    fn into_selector(self) -> Value {
        let mut m = serde_yaml_ng::Mapping::new();
        m.insert("matchLabels".into(), self);
        Value::Mapping(m)
    }
}

/// Union semantics: whatever policy selects a datastore's pods, only its owner gets in,
/// and no other service's policies let it out towards that datastore.
fn check_database_isolation(model: &Model, env: &BuiltEnv, at: &str) {
    let policies: Vec<&Value> = env.all().filter(|o| kind(o) == "NetworkPolicy").collect();
    let auth: Vec<&Value> = env
        .all()
        .filter(|o| kind(o) == "AuthorizationPolicy")
        .collect();
    for owner in &model.services {
        let Some(store) = &owner.store else { continue };
        let store_pods = workloads(env, &store.name);
        assert_eq!(store_pods.len(), 1, "{at}: {}", store.name);
        let store_labels = pod_labels(store_pods[0]);
        for np in policies
            .iter()
            .filter(|np| selects(&np["spec"]["podSelector"], &store_labels))
        {
            for p in admitted(np, "ingress", model, at).keys() {
                assert_eq!(
                    p,
                    &Peer::Pods(owner.name.clone()),
                    "{at}: NetworkPolicy {} lets {p:?} reach {}",
                    name(np),
                    store.name
                );
            }
        }
        for ap in auth.iter().filter(|ap| {
            ap["spec"]["selector"].is_null() || selects(&ap["spec"]["selector"], &store_labels)
        }) {
            let (principals, namespaces) = allowed(ap, at);
            assert!(namespaces.is_empty(), "{at}: {}", name(ap));
            assert!(
                principals.is_subset(&BTreeSet::from([principal(&env.namespace, &owner.name)])),
                "{at}: AuthorizationPolicy {} lets {principals:?} reach {}",
                name(ap),
                store.name
            );
        }
        for other in model.services.iter().filter(|s| s.name != owner.name) {
            for w in workloads(env, &other.name) {
                let labels = pod_labels(w);
                for np in policies
                    .iter()
                    .filter(|np| selects(&np["spec"]["podSelector"], &labels))
                {
                    assert!(
                        !admitted(np, "egress", model, at)
                            .contains_key(&Peer::Pods(store.name.clone())),
                        "{at}: {} may connect to {}'s database",
                        other.name,
                        owner.name
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Istio

/// The principals and namespaces an ALLOW AuthorizationPolicy admits (over all its rules).
fn allowed(ap: &Value, at: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let spec = &ap["spec"];
    let action = spec["action"].as_str().unwrap_or("ALLOW");
    assert_eq!(action, "ALLOW", "{at}: {}", name(ap));
    let mut principals = BTreeSet::new();
    let mut namespaces = BTreeSet::new();
    for rule in seq(&spec["rules"]) {
        let from = seq(&rule["from"]);
        assert!(
            !from.is_empty(),
            "{at}: {} has a rule open to anyone",
            name(ap)
        );
        for f in from {
            let source = f["source"].as_mapping().unwrap();
            assert_eq!(source.len(), 1, "{at}: one kind of identity per source");
            principals.extend(strings(&f["source"]["principals"]));
            namespaces.extend(strings(&f["source"]["namespaces"]));
        }
    }
    (principals, namespaces)
}

fn check_authorization(model: &Model, env: &BuiltEnv, svc: &Service, objects: &[Value], at: &str) {
    let ap = get(objects, "AuthorizationPolicy", &svc.name, at);
    let own = workloads(env, &svc.name);
    assert_eq!(own.len(), 1, "{at}: one workload runs {}", svc.name);
    for w in own {
        assert!(selects(&ap["spec"]["selector"], &pod_labels(w)), "{at}");
    }
    let (principals, namespaces) = allowed(ap, at);
    let mut want: BTreeSet<String> = svc
        .callers
        .iter()
        .map(|c| principal(&env.namespace, c))
        .collect();
    let gateway = principal(&model.platform.addons.gateway.namespace, GATEWAY_SA);
    if !svc.apis.is_empty() {
        want.insert(gateway.clone());
    }
    assert_eq!(
        principals, want,
        "{at}: AuthorizationPolicy = declared callers (+ gateway iff apis)"
    );
    assert_eq!(
        namespaces,
        BTreeSet::from([model.platform.addons.prometheus.namespace.to_string()]),
        "{at}: + Prometheus"
    );
    // The gateway reaches the public prefixes only.
    for rule in seq(&ap["spec"]["rules"]) {
        if strings(&rule["from"][0]["source"]["principals"]).contains(&gateway) {
            let paths: BTreeSet<String> = seq(&rule["to"])
                .iter()
                .flat_map(|t| strings(&t["operation"]["paths"]))
                .collect();
            for api in &svc.apis {
                // `/x` exactly and below it; a prefix ending in `/` as `/x/*`.
                let below = format!("{}/*", api.trim_end_matches('/'));
                assert!(paths.contains(&below), "{at}: {api}");
                assert!(
                    api.ends_with('/') || paths.contains(api.as_str()),
                    "{at}: {api}"
                );
            }
            assert!(
                paths
                    .iter()
                    .all(|p| svc.apis.iter().any(|a| p.starts_with(a.as_str()))),
                "{at}: {paths:?}"
            );
        } else {
            assert!(rule["to"].is_null(), "{at}");
        }
    }
    let store_ap = svc.store.as_ref().map(|store| {
        let ap = get(objects, "AuthorizationPolicy", &store.name, at);
        let (principals, namespaces) = allowed(ap, at);
        assert_eq!(
            principals,
            BTreeSet::from([principal(&env.namespace, &svc.name)]),
            "{at}: {} admits its owner only",
            store.name
        );
        assert!(namespaces.is_empty());
        store.name.clone()
    });
    let names: BTreeSet<&str> = objects
        .iter()
        .filter(|o| kind(o) == "AuthorizationPolicy")
        .map(name)
        .collect();
    let mut want = BTreeSet::from([svc.name.as_str()]);
    if let Some(s) = &store_ap {
        want.insert(s.as_str());
    }
    assert_eq!(names, want, "{at}");
}

struct Route {
    name: String,
    header: bool,
    prefixes: BTreeSet<String>,
    /// (subset, weight); weight 100 when there is a single destination.
    to: Vec<(Option<String>, i64)>,
}

fn routes(vs: &Value, host: &str, svc: &Service, at: &str) -> Vec<Route> {
    let r = &svc.resilience;
    seq(&vs["spec"]["http"])
        .iter()
        .map(|h| {
            let mut header = None;
            let mut prefixes = BTreeSet::new();
            for m in seq(&h["match"]) {
                let this = m["headers"]["x-canary"]["exact"].as_str() == Some("true");
                assert!(header.is_none_or(|h| h == this), "{at}: mixed matches");
                header = Some(this);
                if let Some(p) = m["uri"]["prefix"].as_str() {
                    prefixes.insert(p.to_string());
                }
            }
            let to: Vec<(Option<String>, i64)> = seq(&h["route"])
                .iter()
                .map(|d| {
                    assert_eq!(d["destination"]["host"].as_str(), Some(host), "{at}");
                    assert_eq!(d["destination"]["port"]["number"].as_u64(), Some(80));
                    (
                        d["destination"]["subset"].as_str().map(str::to_string),
                        d["weight"].as_i64().unwrap_or(100),
                    )
                })
                .collect();
            // Timeout and retries from `resilience`.
            assert_eq!(h["timeout"].as_str(), Some(r.timeout.as_str()), "{at}");
            assert_eq!(h["retries"]["attempts"].as_i64(), Some(r.retries), "{at}");
            if r.retries > 0 {
                assert_eq!(
                    h["retries"]["perTryTimeout"].as_str(),
                    Some(r.per_try_timeout.as_str())
                );
                // Retries are safe: what never reached the application, for every method;
                // 5xx answers and resets (which may have been processed) only when
                // service.toml says the routes are idempotent.
                let on: BTreeSet<&str> = h["retries"]["retryOn"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .collect();
                for cond in [
                    "connect-failure",
                    "refused-stream",
                    "unavailable",
                    "cancelled",
                ] {
                    assert!(on.contains(cond), "{at}: retryOn {on:?}");
                }
                let repeats_processed = on.contains("5xx") || on.contains("reset");
                assert_eq!(repeats_processed, r.idempotent, "{at}: retryOn {on:?}");
                assert!(
                    on.contains("503") || on.contains("5xx"),
                    "{at}: retryOn {on:?}"
                );
            }
            Route {
                name: h["name"].as_str().unwrap_or_default().to_string(),
                header: header.unwrap_or(false),
                prefixes,
                to,
            }
        })
        .collect()
}

fn check_routes(routes: &[Route], strategy: Strategy, at: &str) {
    for route in routes {
        assert_eq!(
            route.to.iter().map(|(_, w)| w).sum::<i64>(),
            100,
            "{at}: weights add up to 100"
        );
    }
    if strategy == Strategy::Canary {
        // Git holds every request on stable; Argo Rollouts moves the weights of `primary`
        // step by step (the Rollout's steps carry the canary's share).
        assert_eq!(routes.len(), 2, "{at}");
        assert!(routes[0].header, "{at}: the x-canary route comes first");
        assert_eq!(routes[0].name, "canary-header", "{at}");
        assert_eq!(routes[0].to, [(Some("canary".into()), 100)], "{at}");
        assert!(!routes[1].header, "{at}");
        assert_eq!(
            routes[1].name, "primary",
            "{at}: the route the Rollout manages"
        );
        assert_eq!(
            routes[1].to,
            [(Some("stable".into()), 100), (Some("canary".into()), 0)],
            "{at}"
        );
    } else {
        assert!(routes.iter().all(|r| !r.header), "{at}");
        assert!(
            routes.iter().all(|r| r.to == [(None, 100)]),
            "{at}: one destination, the Service (which the controller points at one version)"
        );
    }
}

fn check_mesh_routing(model: &Model, env: &BuiltEnv, svc: &Service, objects: &[Value], at: &str) {
    let release = &svc.environments[&env.name].release;
    let host = format!("{}.{}.svc.cluster.local", svc.name, env.namespace);
    let r = &svc.resilience;

    let dr = get(objects, "DestinationRule", &svc.name, at);
    let spec = &dr["spec"];
    assert_eq!(spec["host"].as_str(), Some(host.as_str()), "{at}");
    let tp = &spec["trafficPolicy"];
    assert_eq!(tp["tls"]["mode"].as_str(), Some("ISTIO_MUTUAL"), "{at}");
    assert_eq!(
        tp["connectionPool"]["tcp"]["maxConnections"].as_i64(),
        Some(r.max_connections)
    );
    let od = &tp["outlierDetection"];
    assert_eq!(
        od["consecutive5xxErrors"].as_i64(),
        Some(r.consecutive_errors),
        "{at}"
    );
    assert_eq!(od["baseEjectionTime"].as_str(), Some(r.ejection.as_str()));
    assert!(od["interval"].is_string() && od["maxEjectionPercent"].is_u64());
    let subsets: BTreeMap<String, BTreeMap<String, String>> = seq(&spec["subsets"])
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                str_map(&s["labels"]),
            )
        })
        .collect();
    let public_name = format!("{}-public", svc.name);
    let public = find(objects, "VirtualService", &public_name);
    if release.strategy == Strategy::Canary {
        // Both subsets are the service's pods; the controller adds each version's
        // rollouts-pod-template-hash to tell them apart.
        let own = BTreeMap::from([("app.kubernetes.io/name".to_string(), svc.name.clone())]);
        assert_eq!(
            subsets,
            BTreeMap::from([
                ("canary".to_string(), own.clone()),
                ("stable".to_string(), own),
            ]),
            "{at}"
        );
        // Each subset selects the Rollout's pods and no other workload's.
        for labels in subsets.values() {
            let selected: Vec<String> = env
                .all()
                .filter(|o| matches!(kind(o), "Deployment" | "Rollout" | "StatefulSet"))
                .filter(|w| labels.iter().all(|(k, v)| pod_labels(w).get(k) == Some(v)))
                .map(|w| format!("{} {}", kind(w), name(w)))
                .collect();
            assert_eq!(
                selected,
                [format!("Rollout {}", svc.name)],
                "{at}: {labels:?}"
            );
        }
        // The Rollout shifts weights in exactly this DestinationRule's subsets and the
        // `primary` route of every VirtualService of the service.
        let rollout = get(objects, "Rollout", &svc.name, at);
        let istio = &rollout["spec"]["strategy"]["canary"]["trafficRouting"]["istio"];
        assert_eq!(
            istio["destinationRule"],
            yaml(&format!(
                "{{name: {}, canarySubsetName: canary, stableSubsetName: stable}}",
                svc.name
            )),
            "{at}"
        );
        let mut managed = vec![format!("{{name: {}, routes: [primary]}}", svc.name)];
        if public.is_some() {
            managed.push(format!("{{name: {public_name}, routes: [primary]}}"));
        }
        assert_eq!(
            istio["virtualServices"],
            yaml(&format!("[{}]", managed.join(", "))),
            "{at}"
        );
    } else {
        assert!(subsets.is_empty(), "{at}");
    }

    let internal = get(objects, "VirtualService", &svc.name, at);
    assert_eq!(strings(&internal["spec"]["hosts"]), [host.as_str()], "{at}");
    assert_eq!(strings(&internal["spec"]["gateways"]), ["mesh"], "{at}");
    let internal_routes = routes(internal, &host, svc, at);
    assert!(internal_routes.iter().all(|r| r.prefixes.is_empty()));
    check_routes(&internal_routes, release.strategy, at);

    match (&env.host, svc.apis.is_empty()) {
        (Some(h), false) => {
            let public = public.unwrap_or_else(|| panic!("{at}: no {public_name}"));
            // A delegate of the environment's route table: no hosts or gateways of its own.
            assert!(public["spec"]["hosts"].is_null(), "{at}");
            assert!(public["spec"]["gateways"].is_null(), "{at}");
            let gateway = format!("{}-gateway", model.platform.name);
            assert!(find(&env.platform, "Gateway", &gateway).is_some(), "{at}");
            let table = get(
                &env.platform,
                "VirtualService",
                &format!("{}-routes", model.platform.name),
                at,
            );
            assert_eq!(strings(&table["spec"]["hosts"]), [h.as_str()], "{at}");
            assert_eq!(
                strings(&table["spec"]["gateways"]),
                [gateway.as_str()],
                "{at}"
            );
            let delegated: usize = seq(&table["spec"]["http"])
                .iter()
                .filter(|r| r["delegate"]["name"].as_str() == Some(public_name.as_str()))
                .count();
            assert_eq!(
                delegated,
                svc.apis.len(),
                "{at}: one route per `apis` prefix"
            );
            let public_routes = routes(public, &host, svc, at);
            assert!(public_routes.iter().all(|r| r.prefixes.is_empty()), "{at}");
            check_routes(&public_routes, release.strategy, at);
        }
        _ => assert!(public.is_none(), "{at}: {public_name} without host or apis"),
    }
}

fn check_platform(model: &Model, env: &BuiltEnv, at: &str) {
    let istio = model.platform.mesh == Mesh::Istio;
    let np = get(&env.platform, "NetworkPolicy", "default-deny", at);
    assert!(np["spec"]["podSelector"].as_mapping().unwrap().is_empty());
    assert!(np["spec"]["ingress"].is_null() && np["spec"]["egress"].is_null());
    if !istio {
        return;
    }
    let pa = get(&env.platform, "PeerAuthentication", "default", at);
    assert!(pa["spec"]["selector"].is_null(), "{at}: namespace-wide");
    assert_eq!(pa["spec"]["mtls"]["mode"].as_str(), Some("STRICT"), "{at}");
    let deny = get(&env.platform, "AuthorizationPolicy", "default-deny", at);
    assert!(
        deny["spec"].as_mapping().unwrap().is_empty(),
        "{at}: allow-nothing"
    );
    let gateways: Vec<&Value> = env
        .platform
        .iter()
        .filter(|o| kind(o) == "Gateway")
        .collect();
    let Some(host) = &env.host else {
        assert!(gateways.is_empty(), "{at}: no host, no gateway");
        return;
    };
    assert_eq!(gateways.len(), 1, "{at}");
    let servers = seq(&gateways[0]["spec"]["servers"]);
    let by_port: BTreeMap<u64, &Value> = servers
        .iter()
        .map(|s| (s["port"]["number"].as_u64().unwrap(), s))
        .collect();
    assert_eq!(
        by_port.keys().copied().collect::<Vec<_>>(),
        [80, 443],
        "{at}"
    );
    let https = by_port[&443];
    assert_eq!(https["port"]["protocol"].as_str(), Some("HTTPS"));
    assert_eq!(https["tls"]["mode"].as_str(), Some("SIMPLE"));
    assert_eq!(
        https["tls"]["credentialName"].as_str(),
        Some(env.tls_secret.as_str())
    );
    assert_eq!(by_port[&80]["tls"]["httpsRedirect"].as_bool(), Some(true));
    for s in servers {
        let hosts = strings(&s["hosts"]);
        assert_eq!(hosts.len(), 1, "{at}");
        assert!(hosts[0].ends_with(&format!("/{host}")), "{at}: {hosts:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Without a mesh

fn check_ingress(env: &BuiltEnv, svc: &Service, objects: &[Value], at: &str) {
    let ingresses: Vec<&Value> = objects.iter().filter(|o| kind(o) == "Ingress").collect();
    let Some(host) = env.host.as_ref().filter(|_| !svc.apis.is_empty()) else {
        assert!(ingresses.is_empty(), "{at}: nothing public");
        return;
    };
    assert_eq!(ingresses.len(), 1, "{at}");
    let spec = &ingresses[0]["spec"];
    assert_eq!(spec["ingressClassName"].as_str(), Some("nginx"), "{at}");
    assert_eq!(strings(&spec["tls"][0]["hosts"]), [host.as_str()], "{at}");
    assert_eq!(
        spec["tls"][0]["secretName"].as_str(),
        Some(env.tls_secret.as_str())
    );
    let rules = seq(&spec["rules"]);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["host"].as_str(), Some(host.as_str()));
    let mut paths = Vec::new();
    for p in seq(&rules[0]["http"]["paths"]) {
        assert_eq!(p["pathType"].as_str(), Some("Prefix"));
        let backend = &p["backend"]["service"];
        assert_eq!(backend["name"].as_str(), Some(svc.name.as_str()), "{at}");
        assert_eq!(backend["port"]["name"].as_str(), Some("http"), "{at}");
        paths.push(p["path"].as_str().unwrap().to_string());
    }
    assert_eq!(paths, svc.apis, "{at}");
}

// ---------------------------------------------------------------------------------------
// Releases

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The one Deployment or Rollout of `svc` among its objects.
fn workload<'a>(objects: &'a [Value], svc: &Service, at: &str) -> &'a Value {
    let found: Vec<&Value> = objects
        .iter()
        .filter(|o| matches!(kind(o), "Deployment" | "Rollout"))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{at}: one workload, no second track: {:?}",
        found
            .iter()
            .map(|o| format!("{} {}", kind(o), name(o)))
            .collect::<Vec<_>>()
    );
    assert_eq!(name(found[0]), svc.name, "{at}");
    found[0]
}

/// How a Rollout calls the service's SLO analysis on the new version's pods.
fn analysis_call(svc: &Service) -> Value {
    yaml(&format!(
        "{{templates: [{{templateName: {}-slo}}], args: [{{name: canary-hash, valueFrom: {{podTemplateHashValue: Latest}}}}]}}",
        svc.name
    ))
}

fn check_release(model: &Model, env: &BuiltEnv, svc: &Service, objects: &[Value], at: &str) {
    let here = &svc.environments[&env.name];
    let release = &here.release;
    let istio = model.platform.mesh == Mesh::Istio;
    let w = workload(objects, svc, at);
    let wanted = match release.strategy {
        Strategy::Rolling => "Deployment",
        Strategy::Canary | Strategy::BlueGreen => "Rollout",
    };
    assert_eq!(kind(w), wanted, "{at}");
    let pods = pod_labels(w);
    assert!(selects(&w["spec"]["selector"], &pods), "{at}");
    let image = format!("{}:{}", svc.image, model.platform.initial_tag);
    assert_eq!(
        w["spec"]["template"]["spec"]["containers"][0]["image"].as_str(),
        Some(image.as_str()),
        "{at}: {} runs the service's image",
        name(w)
    );
    // Versions are told apart by the hash the controller adds at run time; Git pins none
    // and labels no tracks.
    for o in objects {
        for key in ["app.kubernetes.io/track", "rollouts-pod-template-hash"] {
            assert!(!has_key(o, key), "{at}: {} {} has {key}", kind(o), name(o));
        }
    }
    // The service's Service reaches the workload's pods.
    let service = get(objects, "Service", &svc.name, at);
    assert!(
        selects(&service["spec"]["selector"].clone().into_selector(), &pods),
        "{at}"
    );
    // One autoscaler, of this workload: Argo Rollouts scales both versions by it.
    // (KEDA's ScaledObject stands for the HPA it manages.)
    let hpas: Vec<&Value> = objects
        .iter()
        .filter(|o| matches!(kind(o), "HorizontalPodAutoscaler" | "ScaledObject"))
        .collect();
    assert_eq!(hpas.len(), usize::from(here.autoscale.is_some()), "{at}");
    for hpa in hpas {
        let target = &hpa["spec"]["scaleTargetRef"];
        assert_eq!(target["kind"].as_str(), Some(kind(w)), "{at}");
        assert_eq!(target["apiVersion"], w["apiVersion"], "{at}");
        assert_eq!(target["name"].as_str(), Some(svc.name.as_str()), "{at}");
    }

    let template = format!("{}-slo", svc.name);
    let preview_name = format!("{}-preview", svc.name);
    let templates: Vec<&Value> = objects
        .iter()
        .filter(|o| kind(o) == "AnalysisTemplate")
        .collect();
    let preview = find(objects, "Service", &preview_name);
    let strategy = &w["spec"]["strategy"];
    match release.strategy {
        Strategy::Rolling => {
            assert!(templates.is_empty(), "{at}: no analysis without a Rollout");
            assert!(preview.is_none(), "{at}");
        }
        Strategy::Canary => {
            let canary = &strategy["canary"];
            assert!(strategy["blueGreen"].is_null(), "{at}");
            // The configured share first, a pause, then the SLO analysis on the new pods.
            let weight = release.weight.unwrap();
            let mut steps = yaml(&format!(
                "[{{setWeight: {weight}}}, {{pause: {{duration: 5m}}}}]"
            ));
            let mut analysis = serde_yaml_ng::Mapping::new();
            analysis.insert("analysis".into(), analysis_call(svc));
            steps
                .as_sequence_mut()
                .unwrap()
                .push(Value::Mapping(analysis));
            assert_eq!(canary["steps"], steps, "{at}");
            // With the mesh the weights are Istio's (checked with the routes); without it
            // the share is the share of pods behind the one Service.
            assert_eq!(canary["trafficRouting"].is_null(), !istio, "{at}");
            assert!(canary["canaryService"].is_null(), "{at}");
            assert!(canary["stableService"].is_null(), "{at}");
            assert!(preview.is_none(), "{at}");
        }
        Strategy::BlueGreen => {
            assert!(strategy["canary"].is_null(), "{at}");
            let bg = &strategy["blueGreen"];
            assert_eq!(
                bg["activeService"].as_str(),
                Some(svc.name.as_str()),
                "{at}"
            );
            assert_eq!(
                bg["previewService"].as_str(),
                Some(preview_name.as_str()),
                "{at}"
            );
            assert_eq!(bg["autoPromotionEnabled"].as_bool(), Some(true), "{at}");
            assert_eq!(bg["prePromotionAnalysis"], analysis_call(svc), "{at}");
            assert_eq!(bg["scaleDownDelaySeconds"].as_i64(), Some(600), "{at}");
            assert!(
                bg["previewReplicaCount"].is_null(),
                "{at}: the new version is a full second stack"
            );
            // The preview reaches the same pods on the same ports; the controller narrows
            // each Service to one version.
            let preview = preview.unwrap_or_else(|| panic!("{at}: no Service {preview_name}"));
            assert_eq!(preview["spec"]["ports"], service["spec"]["ports"], "{at}");
            assert_eq!(
                preview["spec"]["selector"], service["spec"]["selector"],
                "{at}"
            );
        }
    }
    if release.strategy != Strategy::Rolling {
        assert_eq!(templates.len(), 1, "{at}");
        let t = templates[0];
        assert_eq!(name(t), template, "{at}");
        assert_eq!(t["spec"]["args"], yaml("[{name: canary-hash}]"), "{at}");
        let metrics = seq(&t["spec"]["metrics"]);
        assert_eq!(
            metrics.iter().map(name_of).collect::<Vec<_>>(),
            ["success-rate", "latency-p95"],
            "{at}"
        );
        for m in metrics {
            let query = m["provider"]["prometheus"]["query"].as_str().unwrap();
            assert!(
                query.contains("rollouts_pod_template_hash=\"{{args.canary-hash}}\""),
                "{at}: {} judges the new pods only: {query}",
                name_of(m)
            );
        }
    }
}

/// With Istio, a service with `egress` has one ServiceEntry naming its hosts and ports,
/// outside the mesh, resolved by DNS and seen by its own namespace only; no other service
/// has one, and nothing has one without Istio.
fn check_service_entry(model: &Model, svc: &Service, objects: &[Value], at: &str) {
    let entries: Vec<&Value> = objects
        .iter()
        .filter(|o| kind(o) == "ServiceEntry")
        .collect();
    if model.platform.mesh != Mesh::Istio || svc.egress.is_empty() {
        assert!(
            entries.is_empty(),
            "{at}: a ServiceEntry without egress or mesh"
        );
        return;
    }
    assert_eq!(entries.len(), 1, "{at}: one ServiceEntry");
    let entry = entries[0];
    assert_eq!(name(entry), format!("{}-egress", svc.name), "{at}");
    let spec = &entry["spec"];
    let mut hosts: Vec<String> = Vec::new();
    let mut ports: Vec<u64> = Vec::new();
    for d in &svc.egress.destinations {
        if !hosts.contains(&d.host) {
            hosts.push(d.host.clone());
        }
        if !ports.contains(&u64::from(d.port)) {
            ports.push(u64::from(d.port));
        }
    }
    assert_eq!(strings(&spec["hosts"]), hosts, "{at}: hosts");
    assert_eq!(
        strings(&spec["exportTo"]),
        ["."],
        "{at}: this namespace only"
    );
    assert_eq!(spec["location"].as_str(), Some("MESH_EXTERNAL"), "{at}");
    assert_eq!(spec["resolution"].as_str(), Some("DNS"), "{at}");
    let written: Vec<(u64, String, String)> = seq(&spec["ports"])
        .iter()
        .map(|p| {
            (
                p["number"].as_u64().unwrap(),
                p["protocol"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String, String)> = ports
        .iter()
        .map(|&n| {
            // The implicit-TLS ports docs/service-toml.md lists.
            let tls = matches!(n, 443 | 465 | 636 | 853 | 993 | 995 | 5671 | 8883);
            let protocol = if tls { "TLS" } else { "TCP" };
            (
                n,
                protocol.to_string(),
                format!("{}-{n}", protocol.to_lowercase()),
            )
        })
        .collect();
    assert_eq!(written, want, "{at}: ports");
}

fn name_of(v: &Value) -> &str {
    v["name"].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------

fn check(built: &Built, label: &str) {
    let model = &built.model;
    let istio = model.platform.mesh == Mesh::Istio;
    for env in &built.envs {
        let at = format!("{label}/{}", env.name);
        check_platform(model, env, &at);
        check_database_isolation(model, env, &at);
        let istio_kinds: Vec<String> = env
            .all()
            .filter(|o| {
                o["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("istio.io")
            })
            .map(|o| format!("{}/{}", kind(o), name(o)))
            .collect();
        if !istio {
            assert!(
                istio_kinds.is_empty(),
                "{at}: Istio objects without a mesh: {istio_kinds:?}"
            );
        }
        for svc in &model.services {
            let at = format!("{at}/{}", svc.name);
            let objects = &env.services[&svc.name];
            check_service_network_policy(model, env, svc, objects, &at);
            if let Some(store) = &svc.store {
                check_datastore(model, env, svc, store, &at);
            } else {
                assert!(!objects.iter().any(|o| kind(o) == "StatefulSet"), "{at}");
            }
            check_release(model, env, svc, objects, &at);
            check_service_entry(model, svc, objects, &at);
            if istio {
                check_authorization(model, env, svc, objects, &at);
                check_mesh_routing(model, env, svc, objects, &at);
                assert!(!objects.iter().any(|o| kind(o) == "Ingress"), "{at}");
            } else {
                check_ingress(env, svc, objects, &at);
            }
        }
    }
}

/// `[platform] gateway` reaches everything that names the gateway: the Gateway's selector,
/// the NetworkPolicies' ingress from it and, by its ServiceAccount, the AuthorizationPolicy
/// (Kustomize here; the Helm tree renders the same, tests/helm.rs).
#[test]
fn the_gateway_is_where_service_toml_says() {
    let text = crate::common::minimal("")
        .replace(
            "repository = \"https://github.com/acme/demo.git\"",
            "repository = \"https://github.com/acme/demo.git\"\ndomain = \"demo.example.com\"\ngateway = { namespace = \"edge\", labels = { istio = \"edge\" }, service_account = \"edge-gw\" }",
        );
    let dir = crate::common::platform(&text);
    let out = crate::common::generate(&dir.path().join("service.toml"));
    let tree = crate::common::read_tree(out.path());
    let gateway =
        &crate::common::yaml_docs(&tree["deploy/overlays/prod/_platform/gateway.yaml"])[0];
    assert_eq!(
        gateway["spec"]["selector"],
        serde_yaml_ng::from_str::<Value>("{istio: edge}").unwrap()
    );
    let np = &crate::common::yaml_docs(&tree["deploy/base/api/networkpolicy.yaml"])[0];
    let from = &np["spec"]["ingress"][0]["from"][0];
    assert_eq!(
        from["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"].as_str(),
        Some("edge")
    );
    assert_eq!(
        from["podSelector"]["matchLabels"]["istio"].as_str(),
        Some("edge")
    );
    let authz = &tree["deploy/overlays/prod/api/authorizationpolicy.yaml"];
    assert!(
        authz.contains("- cluster.local/ns/edge/sa/edge-gw\n"),
        "{authz}"
    );
    assert!(!authz.contains("istio-ingressgateway"), "{authz}");
}
