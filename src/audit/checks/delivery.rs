//! Operating it: `json_logs_with_traces` (19), `dashboards_and_alerts` (20), `resilience`
//! (22: timeouts, retries, circuit breakers, PDBs).

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::{
    Finding, env_entries, other_namespaces, plural, pod_labels, pod_spec, production,
    service_workloads, services, verdict,
};
use crate::audit::Context;
use crate::audit::tree::{Dashboard, Doc};
use crate::audit::yaml::{get, i64_at, selects, seq_at, str_at, string_map, text, text_at};
use crate::spec::Mesh;

/// The service's main container: the one named after it, else the first.
fn main_container<'a>(d: &'a Doc, service: &str) -> Option<&'a Value> {
    let containers = seq_at(pod_spec(d)?, &["containers"]);
    containers
        .iter()
        .find(|c| str_at(c, &["name"]) == Some(service))
        .or_else(|| containers.first())
}

/// Item 19: every service container logs JSON (`LOG_FORMAT=json`, in its env or its
/// ConfigMap) and exports traces (OTEL_SERVICE_NAME and an OTLP endpoint). Whether the
/// lines arrive with trace ids: manual.
pub fn json_logs_with_traces(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for s in services(cx) {
        for d in service_workloads(cx, &s.name) {
            let Some(c) = main_container(d, &s.name) else {
                continue;
            };
            // The ConfigMaps deployed with it: its environment's and every environment's.
            let config: BTreeMap<String, String> = cx
                .tree
                .objects("ConfigMap")
                .filter(|m| {
                    m.service.as_deref() == Some(s.name.as_str())
                        && (m.env.is_none() || m.env == d.env)
                })
                .flat_map(|m| string_map(m.value.get("data")))
                .collect();
            count += 1;
            let env = env_entries(c);
            let value = |name: &str| -> Option<String> {
                env.get(name).and_then(|e| {
                    get(e, &["value"])
                        .and_then(text)
                        .or_else(|| e.get("valueFrom").map(|_| "(from a reference)".into()))
                })
            };
            let log = value("LOG_FORMAT").or_else(|| config.get("LOG_FORMAT").cloned());
            if !log
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case("json"))
            {
                fails.push(Finding::fail(
                    d.place(),
                    format!(
                        "LOG_FORMAT is {}, not json: the central log store cannot parse it",
                        log.as_deref().unwrap_or("unset")
                    ),
                ));
            }
            if value("OTEL_SERVICE_NAME").is_none_or(|v| v.is_empty()) {
                fails.push(Finding::fail(
                    d.place(),
                    "no OTEL_SERVICE_NAME: its traces and logs carry no service name",
                ));
            }
            let endpoint = value("OTEL_EXPORTER_OTLP_ENDPOINT")
                .or_else(|| value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
            if endpoint.is_none_or(|v| v.is_empty()) {
                fails.push(Finding::fail(
                    d.place(),
                    "no OTEL_EXPORTER_OTLP_ENDPOINT: traces go nowhere",
                ));
            }
        }
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: LOG_FORMAT=json, OTEL_SERVICE_NAME and an OTLP endpoint",
                plural(count, "workload")
            ),
        ),
    );
    if let (Some(prod), Some(s)) = (production(cx), services(cx).first()) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl logs -n {} -l app.kubernetes.io/name={} --tail=5`: JSON lines carrying trace_id and span_id",
                prod.namespace, s.name
            ),
        ));
    }
    out
}

/// Queries in a Grafana dashboard (`expr` of every target, rows included).
fn dashboard_queries(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) if k == "expr" && !s.trim().is_empty() => 1,
                other => dashboard_queries(other),
            })
            .sum(),
        serde_json::Value::Array(items) => items.iter().map(dashboard_queries).sum(),
        _ => 0,
    }
}

fn check_dashboard(place: &str, v: &serde_json::Value, fails: &mut Vec<Finding>) {
    if v.get("uid")
        .and_then(serde_json::Value::as_str)
        .is_none_or(str::is_empty)
    {
        fails.push(Finding::fail(
            place,
            "the dashboard has no uid: links to it break",
        ));
    }
    if dashboard_queries(v) == 0 {
        fails.push(Finding::fail(place, "the dashboard has no queries"));
    }
}

/// Item 20: per service a dashboard (JSON file and the ConfigMap Grafana loads), a
/// ServiceMonitor or PodMonitor that scrapes its pods, and alert rules in every
/// environment; an overview dashboard. Targets actually up: manual.
pub fn dashboards_and_alerts(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    for s in services(cx) {
        // The dashboard files the blueprints generate for it, wherever they put them.
        for (path, dashboard) in dashboards(cx, Some(&s.name)) {
            match &dashboard.json {
                None => fails.push(Finding::fail(
                    path,
                    format!("missing: the output has no dashboard for {}", s.name),
                )),
                Some(v) => check_dashboard(path, v, &mut fails),
            }
        }
        let maps: Vec<&Doc> = cx
            .tree
            .objects("ConfigMap")
            .filter(|c| {
                c.service.as_deref() == Some(s.name.as_str())
                    && get(&c.value, &["metadata", "labels", "grafana_dashboard"]).is_some()
            })
            .collect();
        if maps.is_empty() {
            fails.push(Finding::fail(
                cx.service_place(&s.name, None),
                "missing: no dashboard ConfigMap (label grafana_dashboard) for Grafana to load",
            ));
        }
        for m in &maps {
            for (key, json) in string_map(m.value.get("data")) {
                match serde_json::from_str::<serde_json::Value>(&json) {
                    Ok(v) => check_dashboard(&format!("{} data.{key}", m.place()), &v, &mut fails),
                    Err(e) => fails.push(Finding::fail(
                        m.place(),
                        format!("data.{key} is not valid JSON: {e}"),
                    )),
                }
            }
        }
        let pods: Vec<BTreeMap<String, String>> = service_workloads(cx, &s.name)
            .into_iter()
            .map(pod_labels)
            .collect();
        let service_labels: Vec<BTreeMap<String, String>> = cx
            .tree
            .objects("Service")
            .filter(|d| d.service.as_deref() == Some(s.name.as_str()))
            .map(|d| string_map(get(&d.value, &["metadata", "labels"])))
            .collect();
        let scraped = cx.tree.resources().any(|m| {
            let selector = get(&m.value, &["spec", "selector"]);
            match m.kind() {
                "PodMonitor" => pods.iter().any(|l| selects(selector, l)),
                "ServiceMonitor" => service_labels.iter().any(|l| selects(selector, l)),
                _ => false,
            }
        });
        if !scraped {
            fails.push(Finding::fail(
                cx.service_place(&s.name, None),
                format!(
                    "missing: no ServiceMonitor or PodMonitor scrapes {}",
                    s.name
                ),
            ));
        }
        for env in &cx.model.environments {
            let alerts = cx.tree.objects("PrometheusRule").any(|r| {
                r.service.as_deref() == Some(s.name.as_str())
                    && (r.env.is_none() || r.env.as_deref() == Some(env.name.as_str()))
            });
            if !alerts {
                fails.push(Finding::fail(
                    cx.place_of("PrometheusRule", Some(&s.name), Some(&env.name)),
                    format!(
                        "missing: no PrometheusRule alerts on {} in {}",
                        s.name, env.name
                    ),
                ));
            }
        }
    }
    for (path, dashboard) in dashboards(cx, None) {
        match &dashboard.json {
            None => fails.push(Finding::fail(path, "missing: no overview dashboard")),
            Some(v) => check_dashboard(path, v, &mut fails),
        }
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: dashboard, metrics scraped, SLO alerts in every environment; an overview",
                plural(services(cx).len(), "service")
            ),
        ),
    );
    out.push(Finding::manual(
        "cluster",
        format!(
            "`kubectl -n {} port-forward svc/prometheus-operated 9090`, then /targets: every service up; its traces reach the tracing backend",
            cx.model.platform.addons.prometheus.namespace
        ),
    ));
    out
}

/// The generated dashboard files for `service` (none: the platform's overview).
fn dashboards<'a>(
    cx: &'a Context,
    service: Option<&'a str>,
) -> impl Iterator<Item = (&'a str, &'a Dashboard)> {
    cx.tree
        .dashboards
        .iter()
        .filter(move |(_, d)| d.service.as_deref() == service)
        .map(|(p, d)| (p.as_str(), d))
}

/// Item 22: a PodDisruptionBudget per service that allows drains; with Istio, per service and
/// environment a VirtualService with timeouts and retries on every route and a
/// DestinationRule with connection limits and outlier detection; without a mesh, gateway
/// timeouts on every Ingress. Surviving a lost pod, and spread over nodes: manual.
pub fn resilience(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    for s in services(cx) {
        let pods: Vec<BTreeMap<String, String>> = service_workloads(cx, &s.name)
            .into_iter()
            .map(pod_labels)
            .collect();
        let pdbs: Vec<&Doc> = cx
            .tree
            .objects("PodDisruptionBudget")
            .filter(|p| {
                pods.iter()
                    .any(|l| selects(get(&p.value, &["spec", "selector"]), l))
            })
            .collect();
        if pdbs.is_empty() {
            fails.push(Finding::fail(
                cx.place_of("PodDisruptionBudget", Some(&s.name), None),
                format!(
                    "no PodDisruptionBudget selects {}: a drain may evict every pod at once",
                    s.name
                ),
            ));
        }
        for p in pdbs {
            let max = text_at(&p.value, &["spec", "maxUnavailable"]);
            let min = text_at(&p.value, &["spec", "minAvailable"]);
            if matches!(max.as_deref(), Some("0" | "0%")) || min.as_deref() == Some("100%") {
                fails.push(Finding::fail(
                    p.place(),
                    "allows no disruption: node drains and upgrades block forever",
                ));
            }
        }
    }
    let mut extra = Vec::new();
    let istio = cx.model.platform.mesh == Mesh::Istio;
    let generated = cx.tree.objects("VirtualService").next().is_some()
        || cx.layout.generates_kind("VirtualService");
    if istio && !generated {
        extra.push(Finding::na(
            cx.spec,
            "the blueprints generate no VirtualServices: no routes to give timeouts or retries",
        ));
    } else if istio {
        for s in services(cx) {
            for env in &cx.model.environments {
                let host = format!("{}.{}.svc.cluster.local", s.name, env.namespace);
                let is_internal = |h: &str| h == host || h == s.name;
                let here = |d: &&Doc| {
                    d.service.as_deref() == Some(s.name.as_str())
                        && d.env.as_deref() == Some(env.name.as_str())
                };
                let vss: Vec<&Doc> = cx.tree.objects("VirtualService").filter(here).collect();
                let internal = vss.iter().any(|v| {
                    seq_at(&v.value, &["spec", "hosts"])
                        .iter()
                        .filter_map(Value::as_str)
                        .any(is_internal)
                });
                if !internal {
                    fails.push(Finding::fail(
                        cx.place_of("VirtualService", Some(&s.name), Some(&env.name)),
                        format!(
                            "no VirtualService for {host}: calls to {} get no timeout or retries",
                            s.name
                        ),
                    ));
                }
                for v in &vss {
                    for (i, route) in seq_at(&v.value, &["spec", "http"]).iter().enumerate() {
                        let name = str_at(route, &["name"])
                            .map_or_else(|| format!("{}", i + 1), str::to_string);
                        if get(route, &["timeout"]).is_none() {
                            fails.push(Finding::fail(
                                v.place(),
                                format!(
                                    "route {name} has no timeout: a slow callee holds every caller"
                                ),
                            ));
                        }
                        if get(route, &["retries", "attempts"]).is_none() {
                            fails.push(Finding::fail(
                                v.place(),
                                format!("route {name} has no retries policy (attempts)"),
                            ));
                        }
                    }
                }
                let drs: Vec<&Doc> = cx
                    .tree
                    .objects("DestinationRule")
                    .filter(here)
                    .filter(|d| str_at(&d.value, &["spec", "host"]).is_some_and(is_internal))
                    .collect();
                if drs.is_empty() {
                    fails.push(Finding::fail(
                        cx.place_of("DestinationRule", Some(&s.name), Some(&env.name)),
                        format!("no DestinationRule for {host}: no circuit breaker"),
                    ));
                }
                for d in drs {
                    let outlier = get(&d.value, &["spec", "trafficPolicy", "outlierDetection"]);
                    let errors = outlier.and_then(|o| {
                        i64_at(o, &["consecutive5xxErrors"])
                            .or_else(|| i64_at(o, &["consecutiveGatewayErrors"]))
                    });
                    let ejects = outlier.is_some_and(|o| o.get("baseEjectionTime").is_some());
                    if errors.is_none_or(|e| e < 1) || !ejects {
                        fails.push(Finding::fail(
                            d.place(),
                            "no outlier detection (consecutive errors and baseEjectionTime): failing pods keep traffic",
                        ));
                    }
                    if get(&d.value, &["spec", "trafficPolicy", "connectionPool"]).is_none() {
                        fails.push(Finding::fail(
                            d.place(),
                            "no connectionPool: nothing bounds the load a caller sends",
                        ));
                    }
                }
            }
        }
    } else {
        extra.push(Finding::na(
            cx.spec,
            "mesh = none: no retries or outlier detection between services; the Ingress bounds public calls",
        ));
        for i in cx.tree.objects("Ingress") {
            let annotations = string_map(get(&i.value, &["metadata", "annotations"]));
            if !annotations.contains_key("nginx.ingress.kubernetes.io/proxy-read-timeout") {
                fails.push(Finding::fail(
                    i.place(),
                    "no proxy-read-timeout: a hanging service holds the gateway's connections",
                ));
            }
        }
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            if istio {
                "a PodDisruptionBudget per service; timeouts and retries on every route, outlier detection and connection pools"
            } else {
                "a PodDisruptionBudget per service; gateway timeouts on every Ingress"
            },
        ),
    );
    out.extend(extra);
    if let (Some(first), Some(prod), Some(s)) = (
        cx.model.environments.first(),
        production(cx),
        services(cx).first(),
    ) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl delete pod -n {} -l app.kubernetes.io/name={} --wait=false`: callers degrade, pods return by themselves",
                first.namespace, s.name
            ),
        ));
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl get pods -n {} -o wide`: each service's replicas on different nodes{}",
                prod.namespace,
                other_namespaces(cx)
            ),
        ));
    }
    out
}
