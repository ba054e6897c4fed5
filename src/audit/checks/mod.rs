//! The 22 checklist items, one check each, named after what it checks (`non_root`,
//! `no_latest_tag`) and grouped by theme, and what the checks share: reading workloads,
//! pod specs and containers out of the documents.

mod delivery;
mod domain;
mod images;
mod release;
mod security;
mod workloads;

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::tree::Doc;
use super::yaml::{get, selects, seq_at, str_at, string_map};
use super::{Context, Finding};
use crate::model::{Environment, Service};
use crate::spec::Strategy;
use crate::validate::SECRET_WORDS;

pub type Check = fn(&Context) -> Vec<Finding>;

/// One item of design/ops-checklist.md and the check that evaluates it.
pub struct Item {
    /// Its number in the checklist.
    pub number: u8,
    /// The check's name: stable, what tools and the JSON report key on.
    pub check: &'static str,
    /// The item's short title.
    pub title: &'static str,
    pub run: Check,
}

/// An item whose check's name is the function's.
macro_rules! item {
    ($number:literal, $module:ident :: $check:ident, $title:literal) => {
        Item {
            number: $number,
            check: stringify!($check),
            title: $title,
            run: $module::$check,
        }
    };
}

/// Every item of design/ops-checklist.md, in checklist order.
// A table: one line per item reads better than rustfmt's wrapping.
#[rustfmt::skip]
pub const ITEMS: &[Item] = &[
    item!( 1, domain::split_by_domain,          "services split by domain"),
    item!( 2, domain::datastore_owner_only,     "no direct DB access between services"),
    item!( 3, domain::calls_by_service_name,    "internal calls by Service name"),
    item!( 4, domain::database_per_service,     "database per service"),
    item!( 5, workloads::state_in_statefulsets, "state on PV/PVC via StatefulSet"),
    item!( 6, images::no_latest_tag,            "immutable images, no latest"),
    item!( 7, images::multi_stage_build,        "multi-stage builds"),
    item!( 8, images::no_secrets_in_images,     "no secrets in images or files"),
    item!( 9, images::non_root,                 "non-root"),
    item!(10, images::small_runtime_image,      "small runtime image"),
    item!(11, workloads::rolling_deployments,   "no bare Pods, replicas, rolling update"),
    item!(12, security::tls_gateway_only,       "external traffic via TLS gateway only"),
    item!(13, workloads::separate_probes,       "readiness and liveness separated"),
    item!(14, workloads::liveness_is_local,     "liveness without external dependencies"),
    item!(15, workloads::startup_probe,         "no restart loops (startup probe)"),
    item!(16, workloads::autoscaling,           "HPA, beyond CPU, stateless only"),
    item!(17, security::config_and_namespaces,  "config in ConfigMap, namespace per env"),
    item!(18, security::least_privilege,        "authn/authz, mTLS, least privilege"),
    item!(19, delivery::json_logs_with_traces,  "JSON logs with trace context"),
    item!(20, delivery::dashboards_and_alerts,  "dashboards, metrics, alerts"),
    item!(21, release::release_and_rollback,    "release strategy and rollback"),
    item!(22, delivery::resilience,             "timeouts, retries, circuit breakers"),
];

/// Kinds that run pods (`Rollout`: Argo Rollouts', see `is_rollout`).
const WORKLOAD_KINDS: &[&str] = &[
    "Deployment",
    "Rollout",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

fn is_workload(doc: &Doc) -> bool {
    WORKLOAD_KINDS.contains(&doc.kind()) && (!doc.is("Rollout") || is_rollout(doc))
}

/// An Argo Rollouts Rollout: it runs and replaces a service's pods as a Deployment does,
/// by its own strategy. Another group's `Rollout` is not one.
fn is_rollout(doc: &Doc) -> bool {
    doc.is("Rollout")
        && str_at(&doc.value, &["apiVersion"]).is_some_and(|v| v.starts_with("argoproj.io/"))
}

/// What runs a service's pods: a Deployment or an Argo Rollouts Rollout.
fn is_service_workload(doc: &Doc) -> bool {
    doc.is("Deployment") || is_rollout(doc)
}

/// Whether `doc` is deployed in `env`: its own environment's, or what every environment
/// gets (a Kustomize base).
fn deployed_in(doc: &Doc, env: &str) -> bool {
    doc.env.as_deref().is_none_or(|e| e == env)
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

/// Deployed Deployments and Rollouts in a service's folders (base and overlays) or
/// releases.
fn service_workloads<'a>(cx: &'a Context, service: &str) -> Vec<&'a Doc> {
    cx.tree
        .resources()
        .filter(|d| is_service_workload(d) && d.service.as_deref() == Some(service))
        .collect()
}

/// The workload named after `s` that runs it in `env`, of `kind` (Deployment or Rollout).
fn workload_in<'a>(cx: &'a Context, s: &Service, env: &str, kind: &str) -> Option<&'a Doc> {
    service_workloads(cx, &s.name)
        .into_iter()
        .find(|d| d.is(kind) && d.name() == s.name && deployed_in(d, env))
}

/// The kind of workload a release strategy runs on.
fn workload_kind(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Rolling => "Deployment",
        Strategy::Canary | Strategy::BlueGreen => "Rollout",
    }
}

/// The kind of workload service.toml's release strategy asks for in `env`.
fn declared_workload(s: &Service, env: &str) -> &'static str {
    s.environments
        .get(env)
        .map_or("Deployment", |se| workload_kind(se.release.strategy))
}

/// Where the workload of `s` in `env` is generated.
fn workload_place(cx: &Context, s: &Service, env: &str) -> String {
    generated_place(cx, declared_workload(s, env), s, env)
}

/// Where an object of `kind` for `s` in `env` is generated: the file of that environment,
/// else the base's (every environment), else the service's place there.
fn generated_place(cx: &Context, kind: &str, s: &Service, env: &str) -> String {
    if cx.tree.helm {
        return cx.service_place(&s.name, Some(env));
    }
    cx.layout
        .declaring(kind, Some(&s.name), Some(env))
        .or_else(|| cx.layout.declaring(kind, Some(&s.name), None))
        .map_or_else(|| cx.service_place(&s.name, Some(env)), str::to_string)
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

/// `(path, service)` pairs as paths with the service's name as `*`, each once, in order:
/// `services/*/Dockerfile`.
fn path_pattern<'a>(files: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out: Vec<String> = Vec::new();
    for (path, service) in files {
        let shown = path
            .split('/')
            .map(|seg| if seg == service { "*" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        if !out.contains(&shown) {
            out.push(shown);
        }
    }
    out.join(", ")
}

/// The Argo CD Application that deploys `s` to `env`.
fn application<'a>(cx: &'a Context, s: &Service, env: &str) -> Option<&'a Doc> {
    // The service's overlay for `env`, or its values file for `env` (deploy = "helm").
    let overlay = cx
        .layout
        .declaring("Kustomization", Some(&s.name), Some(env))
        .map(|k| k.rsplit_once('/').map_or("", |(dir, _)| dir));
    let values = format!("values-{env}.yaml");
    cx.tree
        .argocd
        .iter()
        .filter(|d| d.is("Application"))
        .find(|a| {
            let sources: Vec<&Value> = a
                .value
                .get("spec")
                .map(|spec| {
                    spec.get("source")
                        .into_iter()
                        .chain(seq_at(spec, &["sources"]))
                        .collect()
                })
                .unwrap_or_default();
            a.name() == format!("{}-{env}", s.name)
                || sources.iter().any(|src| {
                    str_at(src, &["path"]).is_some_and(|p| Some(p.trim_end_matches('/')) == overlay)
                        || seq_at(src, &["helm", "valueFiles"])
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|f| f.ends_with(&format!("{}/{values}", s.name)))
                })
        })
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
