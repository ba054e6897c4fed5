//! The 22 checklist items, one function each (`item_NN`), grouped by theme, and what
//! they share: reading workloads, pod specs and containers out of the documents.

mod delivery;
mod domain;
mod images;
mod security;
mod workloads;

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::tree::Doc;
use super::yaml::{get, selects, seq_at, string_map};
use super::{Context, Finding};
use crate::model::{Environment, Service};
use crate::validate::SECRET_WORDS;

pub type Check = fn(&Context) -> Vec<Finding>;

/// Every item of design/ops-checklist.md: number, short title, check.
pub const ITEMS: &[(u8, &str, Check)] = &[
    (1, "services split by domain", domain::item_01),
    (2, "no direct DB access between services", domain::item_02),
    (3, "internal calls by Service name", domain::item_03),
    (4, "database per service", domain::item_04),
    (5, "state on PV/PVC via StatefulSet", workloads::item_05),
    (6, "immutable images, no latest", images::item_06),
    (7, "multi-stage builds", images::item_07),
    (8, "no secrets in images or files", images::item_08),
    (9, "non-root", images::item_09),
    (10, "small runtime image", images::item_10),
    (
        11,
        "no bare Pods, replicas, rolling update",
        workloads::item_11,
    ),
    (
        12,
        "external traffic via TLS gateway only",
        security::item_12,
    ),
    (13, "readiness and liveness separated", workloads::item_13),
    (
        14,
        "liveness without external dependencies",
        workloads::item_14,
    ),
    (15, "no restart loops (startup probe)", workloads::item_15),
    (16, "HPA, beyond CPU, stateless only", workloads::item_16),
    (
        17,
        "config in ConfigMap, namespace per env",
        security::item_17,
    ),
    (18, "authn/authz, mTLS, least privilege", security::item_18),
    (19, "JSON logs with trace context", delivery::item_19),
    (20, "dashboards, metrics, alerts", delivery::item_20),
    (21, "release strategy and rollback", delivery::item_21),
    (22, "timeouts, retries, circuit breakers", delivery::item_22),
];

/// Kinds that run pods.
const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

fn is_workload(doc: &Doc) -> bool {
    WORKLOAD_KINDS.contains(&doc.kind())
}

/// Deployed workloads.
fn workloads<'a>(cx: &'a Context) -> impl Iterator<Item = &'a Doc> {
    cx.tree.resources().filter(|d| is_workload(d))
}

/// The pod spec of a workload object.
fn pod_spec(doc: &Doc) -> Option<&Value> {
    match doc.kind() {
        "Pod" => doc.value.get("spec"),
        "CronJob" => get(
            &doc.value,
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        _ => get(&doc.value, &["spec", "template", "spec"]),
    }
}

/// The labels its pods get.
fn pod_labels(doc: &Doc) -> BTreeMap<String, String> {
    let meta = match doc.kind() {
        "Pod" => doc.value.get("metadata"),
        "CronJob" => get(
            &doc.value,
            &["spec", "jobTemplate", "spec", "template", "metadata"],
        ),
        _ => get(&doc.value, &["spec", "template", "metadata"]),
    };
    string_map(meta.and_then(|m| m.get("labels")))
}

/// Init containers and containers.
fn all_containers(spec: &Value) -> impl Iterator<Item = &Value> {
    seq_at(spec, &["initContainers"])
        .iter()
        .chain(seq_at(spec, &["containers"]))
}

fn container_name(c: &Value) -> &str {
    c.get("name").and_then(Value::as_str).unwrap_or("?")
}

/// Deployed Deployments in a service's folders (base and overlays).
fn service_deployments<'a>(cx: &'a Context, service: &str) -> Vec<&'a Doc> {
    cx.tree
        .objects("Deployment")
        .filter(|d| d.service.as_deref() == Some(service))
        .collect()
}

/// Pod labels of every deployed workload, with where it is.
fn all_pods(cx: &Context) -> Vec<(String, BTreeMap<String, String>)> {
    workloads(cx).map(|d| (d.place(), pod_labels(d))).collect()
}

/// The failures, or else the one pass finding.
fn verdict(fails: Vec<Finding>, pass: Finding) -> Vec<Finding> {
    if fails.is_empty() { vec![pass] } else { fails }
}

/// Whether a patch removes `key` (JSON 6902 `remove`, or null in a strategic merge).
fn removes(doc: &Doc, key: &str) -> bool {
    doc.removed
        .iter()
        .any(|p| p.rsplit('/').next() == Some(key))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else if word.ends_with('s') {
        format!("{n} {word}es")
    } else {
        format!("{n} {word}s")
    }
}

/// The production (last) environment.
fn production<'a>(cx: &'a Context) -> Option<&'a Environment> {
    cx.model.environments.last()
}

/// `(and a, b)` for the namespaces other than production's, for manual commands.
fn other_namespaces(cx: &Context) -> String {
    let others: Vec<&str> = cx
        .model
        .environments
        .iter()
        .rev()
        .skip(1)
        .rev()
        .map(|e| e.namespace.as_str())
        .collect();
    if others.is_empty() {
        String::new()
    } else {
        format!("; likewise in {}", others.join(", "))
    }
}

fn services<'a>(cx: &'a Context) -> &'a [Service] {
    &cx.model.services
}

/// Env entries of a container: name → the entry.
fn env_entries(container: &Value) -> BTreeMap<String, &Value> {
    seq_at(container, &["env"])
        .iter()
        .filter_map(|e| Some((e.get("name")?.as_str()?.to_string(), e)))
        .collect()
}

/// Whether a setting's name reads as a credential.
fn secret_name(key: &str) -> bool {
    let upper = key.to_ascii_uppercase().replace(['-', '.'], "_");
    SECRET_WORDS.iter().any(|w| upper.contains(w)) || upper == "KEY" || upper.ends_with("_KEY")
}

/// What a value looks like when it is a credential itself, if it does.
fn secret_value(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("a private key");
    }
    let token_like = |prefix: &str, min: usize| {
        v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .any(|w| w.starts_with(prefix) && w.len() >= prefix.len() + min)
    };
    if v.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
        (w.starts_with("AKIA") || w.starts_with("ASIA"))
            && w.len() == 20
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    }) {
        return Some("an AWS access key id");
    }
    for (prefix, what) in [
        ("ghp_", "a GitHub token"),
        ("gho_", "a GitHub token"),
        ("ghs_", "a GitHub token"),
        ("github_pat_", "a GitHub token"),
        ("glpat-", "a GitLab token"),
        ("xoxb-", "a Slack token"),
        ("xoxp-", "a Slack token"),
        ("sk_live_", "a Stripe key"),
        ("AIza", "a Google API key"),
    ] {
        if token_like(prefix, 16) {
            return Some(what);
        }
    }
    // A JSON Web Token: three base64url parts, the first a JSON header.
    if v.split(|c: char| c.is_whitespace() || c == '"')
        .any(|w| w.starts_with("eyJ") && w.split('.').count() == 3 && w.len() > 40)
    {
        return Some("a JSON Web Token");
    }
    None
}

/// Why a same-namespace pod selector of a NetworkPolicy peer admits more than the
/// `allowed` pods, if it does: everything, the pods of one of `others` (named by
/// `names_other`), or pods none of `allowed` has (`outsider`).
fn pod_selector_too_wide(
    selector: Option<&Value>,
    allowed: &[BTreeMap<String, String>],
    others: &[(String, BTreeMap<String, String>)],
    names_other: impl Fn(&str) -> String,
    outsider: &str,
) -> Option<String> {
    let empty = selector.is_none_or(|s| {
        string_map(s.get("matchLabels")).is_empty() && seq_at(s, &["matchExpressions"]).is_empty()
    });
    if empty {
        return Some("admits every pod of the namespace".into());
    }
    if let Some((place, _)) = others.iter().find(|(_, l)| selects(selector, l)) {
        return Some(names_other(place));
    }
    if !allowed.iter().any(|l| selects(selector, l)) {
        return Some(outsider.into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_names_and_values() {
        assert!(secret_name("JWT_SIGNING_SECRET"));
        assert!(secret_name("db-password"));
        assert!(!secret_name("ACCESS_TTL"));
        assert!(!secret_name("PAGE_SIZE"));
        assert!(secret_name("JWT_SIGNING_KEY"));
        assert!(!secret_name("KEYSPACE"));
        assert_eq!(
            secret_value("AKIAIOSFODNN7EXAMPLE"),
            Some("an AWS access key id")
        );
        assert!(secret_value("-----BEGIN RSA PRIVATE KEY-----\nabc").is_some());
        assert!(secret_value("ghp_0123456789abcdefghijABCDEFGHIJ").is_some());
        assert!(secret_value("http://users.$(POD_NAMESPACE).svc.cluster.local").is_none());
        assert!(secret_value("-XX:MaxRAMPercentage=75").is_none());
    }
}
