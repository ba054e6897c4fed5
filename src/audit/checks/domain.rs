//! Domain boundaries: `split_by_domain` (1), `datastore_owner_only` (2, no direct DB
//! access between services), `calls_by_service_name` (3, no literal IPs),
//! `database_per_service` (4).

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::{
    Finding, all_containers, all_pods, plural, pod_labels, pod_selector_too_wide, pod_spec,
    service_workloads, services, verdict,
};
use crate::audit::Context;
use crate::audit::tree::Doc;
use crate::audit::yaml::{self, selects, selects_map, seq_at, str_at};
use crate::model::Service;
use crate::spec::Mesh;

/// Item 1: every service owns data, or is stateless with a role (events, calls, routes,
/// callers). A database without declared data, or a service with no role, fails.
pub fn split_by_domain(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut owners = 0;
    let mut stateless = Vec::new();
    for s in services(cx) {
        if !s.owns.is_empty() {
            owners += 1;
            continue;
        }
        if let Some(store) = &s.store {
            fails.push(Finding::fail(
                cx.spec_service(&s.name),
                format!(
                    "{} has a {} database but owns nothing: declare its data in `owns`, or drop the datastore",
                    s.name, store.kind
                ),
            ));
            continue;
        }
        let role = if !s.consumes.is_empty() || !s.publishes.is_empty() {
            "event-driven"
        } else if !s.calls.is_empty() {
            "composes other services"
        } else if !s.apis.is_empty() {
            "serves public routes"
        } else if !s.callers.is_empty() {
            "called by others"
        } else {
            fails.push(Finding::fail(
                cx.spec_service(&s.name),
                format!(
                    "{} owns no data and has no role (no apis, calls, callers or events): it is no domain boundary",
                    s.name
                ),
            ));
            continue;
        };
        stateless.push(format!("{} ({role})", s.name));
    }
    let mut why = match owners {
        0 => "no service owns data".to_string(),
        n => format!("{} owning data", plural(n, "service")),
    };
    if !stateless.is_empty() {
        why.push_str(&format!("; stateless by design: {}", stateless.join(", ")));
    }
    verdict(fails, Finding::pass(cx.spec, why))
}

/// The service's own datastore pods: the labels of its StatefulSet named after the store,
/// or the labels bulkhead gives them when that is gone.
fn store_pods(cx: &Context, s: &Service, store: &str) -> BTreeMap<String, String> {
    cx.tree
        .objects("StatefulSet")
        .find(|d| d.service.as_deref() == Some(s.name.as_str()) && d.name() == store)
        .map(pod_labels)
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| BTreeMap::from([("app.kubernetes.io/name".into(), store.into())]))
}

/// Why a NetworkPolicy peer admits more than `owner`'s pods, if it does.
fn peer_too_wide(
    peer: &Value,
    owner_pods: &[BTreeMap<String, String>],
    others: &[(String, BTreeMap<String, String>)],
) -> Option<String> {
    if peer.get("ipBlock").is_some() {
        return Some("admits an IP block".into());
    }
    if peer.get("namespaceSelector").is_some() {
        return Some("admits pods of other namespaces".into());
    }
    pod_selector_too_wide(
        peer.get("podSelector"),
        owner_pods,
        others,
        |place| format!("admits the pods of {place}"),
        "admits pods that are not the owner's",
    )
}

/// Item 2: each datastore is reachable from its owner only: every NetworkPolicy that selects
/// its pods admits only the owner's pods, and (with Istio) every ALLOW policy only the
/// owner's identity.
pub fn datastore_owner_only(cx: &Context) -> Vec<Finding> {
    let owners: Vec<&Service> = services(cx).iter().filter(|s| s.store.is_some()).collect();
    if owners.is_empty() {
        return vec![Finding::na(cx.spec, "no service has a datastore")];
    }
    let pods = all_pods(cx);
    let mut fails = Vec::new();
    let mut checked = 0;
    for s in &owners {
        let store = &s.store.as_ref().expect("filtered").name;
        let db = store_pods(cx, s, store);
        let owner_pods: Vec<BTreeMap<String, String>> = service_workloads(cx, &s.name)
            .into_iter()
            .map(pod_labels)
            .collect();
        let others: Vec<(String, BTreeMap<String, String>)> = pods
            .iter()
            .filter(|(_, l)| l != &db && !owner_pods.contains(l))
            .cloned()
            .collect();
        let policies: Vec<&Doc> = cx
            .tree
            .objects("NetworkPolicy")
            .filter(|p| selects(yaml::get(&p.value, &["spec", "podSelector"]), &db))
            .collect();
        let isolating = policies.iter().any(|p| {
            let types: Vec<&str> = seq_at(&p.value, &["spec", "policyTypes"])
                .iter()
                .filter_map(Value::as_str)
                .collect();
            types.is_empty() || types.contains(&"Ingress")
        });
        if !isolating {
            fails.push(Finding::fail(
                cx.place_of("NetworkPolicy", Some(&s.name), None),
                format!("no NetworkPolicy isolates {store}: every pod can connect to it"),
            ));
        }
        for p in &policies {
            for (i, rule) in seq_at(&p.value, &["spec", "ingress"]).iter().enumerate() {
                let from = seq_at(rule, &["from"]);
                if from.is_empty() {
                    fails.push(Finding::fail(
                        p.place(),
                        format!("ingress rule {} admits every source to {store}", i + 1),
                    ));
                }
                for peer in from {
                    if let Some(why) = peer_too_wide(peer, &owner_pods, &others) {
                        fails.push(Finding::fail(
                            p.place(),
                            format!("{why} to {store}; only {} may connect", s.name),
                        ));
                    }
                }
            }
        }
        if cx.model.platform.mesh == Mesh::Istio {
            let owner_sa = format!("/sa/{}", s.name);
            for p in cx.tree.objects("AuthorizationPolicy") {
                let action = str_at(&p.value, &["spec", "action"]).unwrap_or("ALLOW");
                if action != "ALLOW"
                    || !selects_map(
                        yaml::get(&p.value, &["spec", "selector", "matchLabels"]),
                        &db,
                    )
                {
                    continue;
                }
                for rule in seq_at(&p.value, &["spec", "rules"]) {
                    let from = seq_at(rule, &["from"]);
                    if from.is_empty() {
                        fails.push(Finding::fail(
                            p.place(),
                            format!("a rule without `from` admits every identity to {store}"),
                        ));
                    }
                    for source in from {
                        let src = source.get("source");
                        let principals: Vec<&str> = src
                            .map(|s| seq_at(s, &["principals"]))
                            .unwrap_or_default()
                            .iter()
                            .filter_map(Value::as_str)
                            .collect();
                        let other_keys = src
                            .and_then(Value::as_mapping)
                            .is_some_and(|m| m.keys().any(|k| k.as_str() != Some("principals")));
                        if principals.is_empty() || other_keys {
                            fails.push(Finding::fail(
                                p.place(),
                                format!(
                                    "admits sources other than {}'s identity to {store}",
                                    s.name
                                ),
                            ));
                        }
                        for pr in principals.iter().filter(|pr| !pr.ends_with(&owner_sa)) {
                            fails.push(Finding::fail(
                                p.place(),
                                format!("admits {pr} to {store}; only {} may connect", s.name),
                            ));
                        }
                    }
                }
            }
        }
        checked += 1;
    }
    verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{} admit only their owner (NetworkPolicy{})",
                plural(checked, "datastore"),
                if cx.model.platform.mesh == Mesh::Istio {
                    ", AuthorizationPolicy"
                } else {
                    ""
                }
            ),
        ),
    )
}

/// IPv4 literals in `text`, except loopback, 0.0.0.0 and network ranges (`10.0.0.0/8`, as a
/// NetworkPolicy's `ipBlock` writes them: a range is no address anything calls).
pub fn ip_literals(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
            i += 1;
        }
        let before_ok = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
        };
        let after_ok = i == bytes.len() || !(bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_');
        let range = bytes.get(i) == Some(&b'/') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        let run = text[start..i].trim_end_matches('.');
        let octets: Vec<&str> = run.split('.').collect();
        let is_ip = octets.len() == 4
            && octets
                .iter()
                .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u16>().is_ok_and(|n| n <= 255));
        if before_ok && after_ok && !range && is_ip && octets[0] != "127" && run != "0.0.0.0" {
            out.push(run.to_string());
        }
    }
    out
}

/// Literal IPs anywhere in a YAML value: `(key path, ip)`.
fn ips_in(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    yaml::walk(value, &mut |path, v| {
        // An image tag may look like an address (`app:1.2.3.4`); it is no call target.
        let tag = matches!(
            path.last().map(String::as_str),
            Some("image" | "newTag" | "tag")
        );
        if let Some(s) = v.as_str().filter(|_| !tag) {
            for ip in ip_literals(s) {
                out.push((path.join(".").replace(".[", "["), ip));
            }
        }
    });
    out
}

/// Item 3: no Pod IPs or other literal IPs in the manifests, patches, kustomizations and Helm
/// values: services are reached by their cluster DNS names.
pub fn calls_by_service_name(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut scanned = 0;
    for d in &cx.tree.docs {
        scanned += 1;
        for (path, ip) in ips_in(&d.value) {
            fails.push(Finding::fail(
                d.place(),
                format!("{path} holds the literal IP {ip}: call Services by their DNS name"),
            ));
        }
    }
    for k in &cx.tree.kustomizations {
        for (path, ip) in ips_in(&k.value) {
            fails.push(Finding::fail(
                k.file.clone(),
                format!("{path} holds the literal IP {ip}: call Services by their DNS name"),
            ));
        }
    }
    for (file, docs) in &cx.tree.helm_values {
        scanned += 1;
        for doc in docs {
            for (path, ip) in ips_in(doc) {
                fails.push(Finding::fail(
                    file.clone(),
                    format!("{path} holds the literal IP {ip}: call Services by their DNS name"),
                ));
            }
        }
    }
    let callees: usize = services(cx).iter().map(|s| s.calls.len()).sum();
    verdict(
        fails,
        Finding::pass(
            if cx.tree.helm_values.is_empty() {
                cx.tree.manifests.clone()
            } else {
                format!("{}, Helm values", cx.tree.manifests)
            },
            format!(
                "no literal IPs in {}; {} by cluster DNS name",
                plural(scanned, "document"),
                plural(callees, "service call")
            ),
        ),
    )
}

/// Item 4: every datum has exactly one owner, every owner its own datastore, and no workload
/// uses another service's database (its credentials or its host).
pub fn database_per_service(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut owners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for s in services(cx) {
        for d in &s.owns {
            owners.entry(d).or_default().push(&s.name);
        }
    }
    if owners.is_empty() {
        return vec![Finding::na(cx.spec, "no service owns data")];
    }
    for (datum, by) in &owners {
        if by.len() > 1 {
            fails.push(Finding::fail(
                cx.spec,
                format!(
                    "`{datum}` is owned by {}: one owner per datum",
                    by.join(" and ")
                ),
            ));
        }
    }
    for s in services(cx) {
        if !s.owns.is_empty() && s.store.is_none() {
            fails.push(Finding::fail(
                cx.spec_service(&s.name),
                format!(
                    "{} owns {} but has no datastore: its data would live in someone else's database",
                    s.name,
                    s.owns.join(", ")
                ),
            ));
        }
    }
    for s in services(cx) {
        for d in service_workloads(cx, &s.name) {
            let Some(spec) = pod_spec(d) else { continue };
            for c in all_containers(spec) {
                let mut refs: Vec<(String, String)> = Vec::new();
                for e in seq_at(c, &["env"]) {
                    let name = str_at(e, &["name"]).unwrap_or("?").to_string();
                    if let Some(secret) = str_at(e, &["valueFrom", "secretKeyRef", "name"]) {
                        refs.push((name.clone(), secret.to_string()));
                    }
                    if let Some(v) = str_at(e, &["value"]) {
                        refs.push((name, v.to_string()));
                    }
                }
                for e in seq_at(c, &["envFrom"]) {
                    if let Some(secret) = str_at(e, &["secretRef", "name"]) {
                        refs.push(("envFrom".into(), secret.to_string()));
                    }
                }
                for other in services(cx).iter().filter(|o| o.name != s.name) {
                    let Some(store) = &other.store else { continue };
                    for (name, value) in &refs {
                        let host = value == &store.name
                            || value.contains(&format!("{}.", store.name))
                            || value.contains(&format!("//{}:", store.name))
                            || value.contains(&format!("@{}", store.name));
                        if value == &store.secret || host {
                            fails.push(Finding::fail(
                                d.place(),
                                format!(
                                    "{name} reaches {}, the database of {}: use its API instead",
                                    store.name, other.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    let stores = services(cx).iter().filter(|s| s.store.is_some()).count();
    verdict(
        fails,
        Finding::pass(
            cx.spec,
            format!(
                "{} data with one owner each; each owner has its own datastore ({stores})",
                owners.len(),
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::ip_literals;

    #[test]
    fn finds_ip_literals() {
        assert_eq!(ip_literals("http://10.244.1.7:8080/x"), vec!["10.244.1.7"]);
        assert_eq!(ip_literals("a 192.168.0.1."), vec!["192.168.0.1"]);
        assert!(ip_literals("127.0.0.1:53 0.0.0.0").is_empty());
        assert!(ip_literals("10.0.0.0/8 169.254.0.0/16").is_empty());
        assert_eq!(ip_literals("10.1.2.3/ x"), ["10.1.2.3"]);
        assert!(ip_literals("v1.2.3.4 1.2.3 1.2.3.4.5 300.1.1.1").is_empty());
        assert_eq!(ip_literals("x=1.2.3.4"), vec!["1.2.3.4"]);
    }
}
