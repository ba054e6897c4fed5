//! Releasing: `release_and_rollback` (21). Each service in each environment is released as
//! service.toml declares there, read from the workload that runs it (a Deployment, or an
//! Argo Rollouts Rollout with what it refers to); it never looks at how the blueprints
//! derived it.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

use super::{
    Finding, application, declared_workload, deployed_in, is_service_workload, production,
    services, verdict, workload_in, workload_kind, workload_place,
};
use crate::audit::Context;
use crate::audit::tree::{Doc, helm_values_files};
use crate::audit::yaml::{bool_at, get, i64_at, seq_at, str_at, text_at};
use crate::model::Service;
use crate::spec::{Choice, Mesh, Strategy};

/// The release of one service in the environments whose workload is one object (a
/// Kustomize base serves every environment it is not replaced in), checked once.
struct Release<'a> {
    service: &'a Service,
    strategy: Strategy,
    envs: Vec<&'a str>,
}

impl Release<'_> {
    /// `release canary in dev, prod (service.toml)`.
    fn declared(&self) -> String {
        format!(
            "release {} in {} (service.toml)",
            self.strategy,
            self.envs.join(", ")
        )
    }

    /// The deployed objects of `kind` named `name` in these environments, each once, and
    /// the environments that have none.
    fn deployed<'t>(&self, cx: &'t Context, kind: &str, name: &str) -> (Vec<&'t Doc>, Vec<&str>) {
        let mut found: Vec<&Doc> = Vec::new();
        let mut missing = Vec::new();
        for env in &self.envs {
            match cx
                .tree
                .resources()
                .find(|o| o.is(kind) && o.name() == name && deployed_in(o, env))
            {
                Some(d) => {
                    if !found.iter().any(|f| std::ptr::eq(*f, d)) {
                        found.push(d);
                    }
                }
                None => missing.push(*env),
            }
        }
        (found, missing)
    }

    /// The `kind` objects named `name` that the Rollout at `place` routes through, and a
    /// failure when an environment of the release lacks one.
    fn routed_through<'t>(
        &self,
        cx: &'t Context,
        kind: &str,
        name: &str,
        place: String,
        fails: &mut Vec<Finding>,
    ) -> Vec<&'t Doc> {
        let (found, missing) = self.deployed(cx, kind, name);
        if !missing.is_empty() {
            fails.push(Finding::fail(
                place,
                format!(
                    "trafficRouting names {kind} {name}, which is not deployed in {}",
                    missing.join(", ")
                ),
            ));
        }
        found
    }
}

/// Item 21: in every environment each service is released as service.toml declares there
/// (canary: an Argo Rollouts Rollout whose steps run an analysis of an AnalysisTemplate
/// deployed there, with the mesh steering the service's VirtualServices and the
/// DestinationRule's stable and canary subsets; blue-green: a Rollout switching the
/// service's own Service after a pre-promotion analysis, with a preview Service; rolling: a
/// Deployment replacing pods without taking any down); workloads keep their history, and
/// an Argo CD Application deploys each service to each environment. Rolling back, and
/// schema changes staying compatible: manual.
pub fn release_and_rollback(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut strategies: BTreeMap<&str, usize> = BTreeMap::new();
    for s in services(cx) {
        let mut releases: Vec<(Option<&Doc>, Release)> = Vec::new();
        for (env, se) in &s.environments {
            let strategy = se.release.strategy;
            *strategies.entry(strategy.as_str()).or_default() += 1;
            let workload = workload_in(cx, s, env, workload_kind(strategy));
            let same = |w: &Option<&Doc>| match (w, workload) {
                (Some(a), Some(b)) => std::ptr::eq(*a, b),
                (None, None) => true,
                _ => false,
            };
            match releases
                .iter_mut()
                .find(|(w, r)| r.strategy == strategy && same(w))
            {
                Some((_, r)) => r.envs.push(env),
                None => releases.push((
                    workload,
                    Release {
                        service: s,
                        strategy,
                        envs: vec![env],
                    },
                )),
            }
        }
        for (workload, r) in &releases {
            check_release(cx, r, *workload, &mut fails);
        }
    }
    for d in cx.tree.resources().filter(|d| is_service_workload(d)) {
        if i64_at(&d.value, &["spec", "revisionHistoryLimit"]) == Some(0) {
            fails.push(Finding::fail(
                d.place(),
                "revisionHistoryLimit 0: a rollback has nothing to go back to",
            ));
        }
    }
    let argocd = !cx.tree.argocd.is_empty() || cx.layout.generates_kind("Application");
    let mut extra = Vec::new();
    if argocd {
        for s in services(cx) {
            for env in &cx.model.environments {
                match application(cx, s, &env.name) {
                    None => fails.push(Finding::fail(
                        cx.place_of("Application", Some(&s.name), Some(&env.name)),
                        format!(
                            "missing: no Argo CD Application deploys {} to {}",
                            s.name, env.name
                        ),
                    )),
                    Some(app) => {
                        if i64_at(&app.value, &["spec", "revisionHistoryLimit"]) == Some(0) {
                            fails.push(Finding::fail(
                                app.place(),
                                "revisionHistoryLimit 0: Argo CD keeps no history to roll back to",
                            ));
                        }
                    }
                }
            }
        }
    } else {
        extra.push(Finding::na(
            cx.spec,
            "the blueprints generate no Argo CD Applications: nothing here says how releases reach the cluster",
        ));
    }
    let summary: Vec<String> = strategies.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "release as service.toml declares it per service and environment ({}); workloads keep history{}",
                summary.join(", "),
                if argocd {
                    "; an Argo CD Application per service and environment"
                } else {
                    ""
                }
            ),
        ),
    );
    out.extend(extra);
    if let (Some(prod), Some(s)) = (production(cx), services(cx).first()) {
        let app = application(cx, s, &prod.name).map_or_else(
            || format!("{}-{}", s.name, prod.name),
            |a| a.name().to_string(),
        );
        out.push(Finding::manual(
            "rollback",
            if prod.auto_sync {
                // Where production's image tag is set.
                let tag_file = if cx.tree.helm {
                    let [_, env_values] = helm_values_files(&s.name, &prod.name);
                    env_values
                } else {
                    cx.layout
                        .declaring("Kustomization", Some(&s.name), Some(&prod.name))
                        .map_or_else(|| cx.service_place(&s.name, Some(&prod.name)), str::to_string)
                };
                format!(
                    "`git revert` the image-tag commit in {tag_file}; Argo CD syncs it (`argocd app history {app}` shows it)"
                )
            } else {
                format!("`argocd app history {app}`, then `argocd app rollback {app} <id>`")
            },
        ));
    }
    // A Rollout does nothing without the Argo Rollouts controller: only the cluster shows it.
    let progressive = cx.model.environments.iter().rev().find_map(|e| {
        services(cx)
            .iter()
            .find(|s| declared_workload(s, &e.name) == "Rollout")
            .map(|s| (s, e))
    });
    if let Some((s, e)) = progressive {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl argo rollouts get rollout {} -n {}`: the Argo Rollouts controller runs it (Healthy), its analysis reaches Prometheus; `kubectl argo rollouts abort` returns every request to the stable version",
                s.name, e.namespace
            ),
        ));
    }
    if services(cx).iter().any(|s| s.store.is_some()) {
        out.push(Finding::manual(
            "migrations",
            "schema changes must be backward compatible (expand, migrate, contract): review before each release",
        ));
    }
    out
}

/// A release, as its workload shows it (none: no workload of the kind it needs).
fn check_release(cx: &Context, r: &Release, workload: Option<&Doc>, fails: &mut Vec<Finding>) {
    let s = r.service;
    let want = workload_kind(r.strategy);
    let other_kind = if want == "Rollout" {
        "Deployment"
    } else {
        "Rollout"
    };
    let Some(workload) = workload else {
        // Where it is missing, and what runs the service instead, if anything.
        let mut missing: BTreeMap<(String, &str), Vec<&str>> = BTreeMap::new();
        for env in &r.envs {
            let place = match workload_in(cx, s, env, other_kind) {
                Some(o) => (o.place(), other_kind),
                None => (workload_place(cx, s, env), ""),
            };
            missing.entry(place).or_default().push(env);
        }
        for ((place, instead), envs) in missing {
            let declared = format!(
                "release {} in {} (service.toml)",
                r.strategy,
                envs.join(", ")
            );
            fails.push(Finding::fail(
                place,
                if instead.is_empty() {
                    format!("{declared}, but no {want} {} runs it", s.name)
                } else {
                    format!("{declared}, but a {instead} runs {}, not a {want}", s.name)
                },
            ));
        }
        return;
    };
    let declared = r.declared();
    // A Rollout that takes its pods from a Deployment (workloadRef) scales it to zero.
    if get(&workload.value, &["spec", "workloadRef"]).is_none() {
        let (others, _) = r.deployed(cx, other_kind, &s.name);
        for o in others.into_iter().filter(|o| o.service == workload.service) {
            fails.push(Finding::fail(
                o.place(),
                format!(
                    "{declared}, but a {other_kind} runs {} too: the Service sends requests to both, outside the release",
                    s.name
                ),
            ));
        }
    }
    match r.strategy {
        Strategy::Rolling => check_rolling(workload, &declared, fails),
        Strategy::Canary => check_canary(cx, r, workload, fails),
        Strategy::BlueGreen => check_blue_green(cx, r, workload, fails),
    }
}

/// Rolling: a RollingUpdate that keeps every old pod until a new one is ready.
fn check_rolling(d: &Doc, declared: &str, fails: &mut Vec<Finding>) {
    let kind = str_at(&d.value, &["spec", "strategy", "type"]);
    let unavailable = text_at(
        &d.value,
        &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
    );
    if kind != Some("RollingUpdate") {
        fails.push(Finding::fail(
            d.place(),
            format!(
                "{declared}, but the strategy is {}, not RollingUpdate",
                kind.unwrap_or("unset")
            ),
        ));
    } else if !matches!(unavailable.as_deref(), Some("0" | "0%")) {
        fails.push(Finding::fail(
            d.place(),
            format!(
                "{declared}: maxUnavailable is {}, not 0: the rollout takes ready pods down before new ones serve",
                unavailable.as_deref().unwrap_or("unset (25%)")
            ),
        ));
    }
}

/// Canary: steps that run an analysis; with the mesh, the routes the controller steers.
fn check_canary(cx: &Context, r: &Release, d: &Doc, fails: &mut Vec<Finding>) {
    let declared = r.declared();
    let Some(canary) = get(&d.value, &["spec", "strategy", "canary"]) else {
        fails.push(Finding::fail(
            d.place(),
            format!("{declared}, but the Rollout has no canary strategy"),
        ));
        return;
    };
    let analyses: Vec<&Value> = seq_at(canary, &["steps"])
        .iter()
        .filter_map(|step| step.get("analysis"))
        .collect();
    if analyses.is_empty() {
        fails.push(Finding::fail(
            d.place(),
            format!("{declared}, but no canary step runs an analysis: nothing judges the new version before it gets every request"),
        ));
    }
    for analysis in analyses {
        check_analysis(cx, r, d, analysis, "the analysis step", fails);
    }
    let routing = get(canary, &["trafficRouting", "istio"]);
    if cx.model.platform.mesh != Mesh::Istio && routing.is_none() {
        // Without a mesh the canary's share of requests is its share of the pods.
        return;
    }
    let Some(routing) = routing else {
        fails.push(Finding::fail(
            d.place(),
            format!("{declared}, but the canary has no trafficRouting.istio: the mesh's routes never shift to it"),
        ));
        return;
    };
    check_canary_routes(cx, r, d, routing, fails);
}

/// A canary's `trafficRouting.istio`: every VirtualService of the service steered, each
/// managed route splitting between the DestinationRule's stable and canary subsets.
fn check_canary_routes(
    cx: &Context,
    r: &Release,
    d: &Doc,
    routing: &Value,
    fails: &mut Vec<Finding>,
) {
    let s = r.service;
    let rule = get(routing, &["destinationRule"]);
    let subset = |key: &str| rule.and_then(|r| str_at(r, &[key])).unwrap_or("");
    let (stable, canary) = (subset("stableSubsetName"), subset("canarySubsetName"));
    match rule.and_then(|r| str_at(r, &["name"])) {
        None => fails.push(Finding::fail(
            d.place(),
            "trafficRouting.istio names no destinationRule: the controller cannot tell the versions apart",
        )),
        Some(name) => {
            for dr in r.routed_through(cx, "DestinationRule", name, d.place(), fails) {
                let subsets: Vec<&str> = seq_at(&dr.value, &["spec", "subsets"])
                    .iter()
                    .filter_map(|x| str_at(x, &["name"]))
                    .collect();
                for (role, want) in [("stable", stable), ("canary", canary)] {
                    if want.is_empty() || !subsets.contains(&want) {
                        fails.push(Finding::fail(
                            dr.place(),
                            format!("no {role} subset `{want}`, which the Rollout's trafficRouting names: the controller cannot split {}'s requests", s.name),
                        ));
                    }
                }
            }
        }
    }
    // The single `virtualService` form is the controller's older spelling.
    let steered: Vec<&Value> = seq_at(routing, &["virtualServices"])
        .iter()
        .chain(get(routing, &["virtualService"]))
        .collect();
    let mut named = Vec::new();
    for vs in steered {
        let Some(name) = str_at(vs, &["name"]) else {
            continue;
        };
        named.push(name);
        for v in r.routed_through(cx, "VirtualService", name, d.place(), fails) {
            let http = seq_at(&v.value, &["spec", "http"]);
            for route in seq_at(vs, &["routes"]).iter().filter_map(Value::as_str) {
                let Some(found) = http.iter().find(|h| str_at(h, &["name"]) == Some(route)) else {
                    fails.push(Finding::fail(
                        v.place(),
                        format!(
                            "no http route `{route}`, the one the Rollout {} steers",
                            s.name
                        ),
                    ));
                    continue;
                };
                let to: Vec<&str> = seq_at(found, &["route"])
                    .iter()
                    .filter_map(|x| str_at(x, &["destination", "subset"]))
                    .collect();
                if !(to.contains(&stable) && to.contains(&canary)) {
                    fails.push(Finding::fail(
                        v.place(),
                        format!("route {route} does not go to both subsets `{stable}` and `{canary}`: the controller cannot weigh the canary"),
                    ));
                }
            }
        }
    }
    if named.is_empty() {
        fails.push(Finding::fail(
            d.place(),
            "trafficRouting.istio names no VirtualService: no request is shifted to the canary",
        ));
    }
    let unsteered = cx.tree.objects("VirtualService").filter(|v| {
        v.service.as_deref() == Some(s.name.as_str())
            && r.envs.iter().any(|env| deployed_in(v, env))
            && !named.contains(&v.name())
    });
    for v in unsteered {
        fails.push(Finding::fail(
            v.place(),
            format!("routes {} but the Rollout does not steer it: its requests reach the canary only at full promotion", s.name),
        ));
    }
}

/// Blue-green: the service's own Service switched after a pre-promotion analysis, the new
/// version reachable through a preview Service first.
fn check_blue_green(cx: &Context, r: &Release, d: &Doc, fails: &mut Vec<Finding>) {
    let s = r.service;
    let declared = r.declared();
    let Some(bg) = get(&d.value, &["spec", "strategy", "blueGreen"]) else {
        fails.push(Finding::fail(
            d.place(),
            format!("{declared}, but the Rollout has no blueGreen strategy"),
        ));
        return;
    };
    let absent = |name: &str| r.deployed(cx, "Service", name).1.join(", ");
    let active = str_at(bg, &["activeService"]).unwrap_or("");
    if active != s.name {
        fails.push(Finding::fail(
            d.place(),
            format!(
                "activeService is `{active}`, not {}: the Service its callers use would not switch",
                s.name
            ),
        ));
    } else {
        let missing = absent(active);
        if !missing.is_empty() {
            fails.push(Finding::fail(
                d.place(),
                format!("activeService {active} is not deployed in {missing}"),
            ));
        }
    }
    match str_at(bg, &["previewService"]) {
        None | Some("") => fails.push(Finding::fail(
            d.place(),
            "no previewService: the new version cannot be reached before it takes every request",
        )),
        Some(p) if p == active => fails.push(Finding::fail(
            d.place(),
            format!(
                "previewService is the activeService {p}: the preview would switch live traffic"
            ),
        )),
        Some(p) => {
            let missing = absent(p);
            if !missing.is_empty() {
                fails.push(Finding::fail(
                    d.place(),
                    format!("previewService {p} is not deployed in {missing}: the controller cannot start the release"),
                ));
            }
        }
    }
    match bg.get("prePromotionAnalysis") {
        None => fails.push(Finding::fail(
            d.place(),
            format!("{declared}, but no prePromotionAnalysis: the new version gets every request unjudged"),
        )),
        Some(a) => check_analysis(cx, r, d, a, "prePromotionAnalysis", fails),
    }
}

/// An analysis of a Rollout (`what` says which): it names templates deployed where the
/// Rollout is, and passes every argument they need.
fn check_analysis(
    cx: &Context,
    r: &Release,
    d: &Doc,
    analysis: &Value,
    what: &str,
    fails: &mut Vec<Finding>,
) {
    let templates = seq_at(analysis, &["templates"]);
    if templates.is_empty() {
        fails.push(Finding::fail(
            d.place(),
            format!("{what} names no AnalysisTemplate: it measures nothing"),
        ));
    }
    let passed: Vec<&str> = seq_at(analysis, &["args"])
        .iter()
        .filter_map(|a| str_at(a, &["name"]))
        .collect();
    for t in templates {
        let name = str_at(t, &["templateName"]).unwrap_or("");
        // A cluster-scoped template serves every namespace.
        let (found, missing) = if bool_at(t, &["clusterScope"]) == Some(true) {
            let found: Vec<&Doc> = cx
                .tree
                .objects("ClusterAnalysisTemplate")
                .filter(|a| a.name() == name)
                .take(1)
                .collect();
            let missing = if found.is_empty() {
                r.envs.clone()
            } else {
                Vec::new()
            };
            (found, missing)
        } else {
            r.deployed(cx, "AnalysisTemplate", name)
        };
        if !missing.is_empty() {
            fails.push(Finding::fail(
                d.place(),
                format!(
                    "{what} runs template `{name}`, which is not deployed in {}: the rollout cannot judge the new version",
                    missing.join(", ")
                ),
            ));
        }
        for template in found {
            for arg in seq_at(&template.value, &["spec", "args"]) {
                let Some(arg_name) = str_at(arg, &["name"]) else {
                    continue;
                };
                if arg.get("value").is_none() && !passed.contains(&arg_name) {
                    fails.push(Finding::fail(
                        d.place(),
                        format!(
                            "{what} passes no `{arg_name}`, which {} {name} needs: the analysis errors",
                            template.kind()
                        ),
                    ));
                }
            }
        }
    }
}
