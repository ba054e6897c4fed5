//! Workloads: `state_in_statefulsets` (5), `rolling_deployments` (11), the probes
//! (`separate_probes` 13, `liveness_is_local` 14, `startup_probe` 15), `autoscaling` (16).

use serde_yaml_ng::{Mapping, Value};

use std::collections::BTreeMap;

use super::{
    Finding, all_containers, container_name, declared_workload, deployed_in, generated_place,
    is_service_workload, other_namespaces, plural, pod_spec, production, removes,
    service_workloads, services, verdict, workload_place, workloads,
};
use crate::audit::Context;
use crate::audit::dockerfile::ImageRef;
use crate::audit::tree::Doc;
use crate::audit::yaml::{self, get, i64_at, seq_at, str_at, text, text_at};

/// Images of databases, by the last segment of their name.
const DATABASE_IMAGES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "mongo",
    "mongodb",
    "redis",
    "valkey",
    "cassandra",
    "elasticsearch",
];

/// Item 5: each datastore a StatefulSet whose volumeClaimTemplates hold its data; no state in
/// a Deployment (no PersistentVolumeClaim volumes, no database images).
pub fn state_in_statefulsets(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let owners: Vec<_> = services(cx).iter().filter(|s| s.store.is_some()).collect();
    for s in &owners {
        let store = s.store.as_ref().expect("filtered");
        // Kustomize: the base, for every environment; Helm: each release.
        for scope in cx.scopes() {
            let found = cx.tree.objects("StatefulSet").find(|d| {
                d.service.as_deref() == Some(s.name.as_str())
                    && d.env.as_deref() == scope
                    && d.name() == store.name
            });
            let Some(d) = found else {
                fails.push(Finding::fail(
                    cx.place_of("StatefulSet", Some(&s.name), scope),
                    format!(
                        "no StatefulSet {}: {}'s {} data has no stable volume",
                        store.name, s.name, store.kind
                    ),
                ));
                continue;
            };
            let claims: Vec<&str> = seq_at(&d.value, &["spec", "volumeClaimTemplates"])
                .iter()
                .filter_map(|c| str_at(c, &["metadata", "name"]))
                .collect();
            if claims.is_empty() {
                fails.push(Finding::fail(
                    d.place(),
                    "no volumeClaimTemplates: the data lives in the container and dies with it",
                ));
                continue;
            }
            let mounted = pod_spec(d).is_some_and(|spec| {
                all_containers(spec).any(|c| {
                    seq_at(c, &["volumeMounts"])
                        .iter()
                        .filter_map(|m| str_at(m, &["name"]))
                        .any(|n| claims.contains(&n))
                })
            });
            if !mounted {
                fails.push(Finding::fail(
                    d.place(),
                    format!(
                        "no container mounts its volume claim ({})",
                        claims.join(", ")
                    ),
                ));
            }
        }
    }
    for d in workloads(cx).filter(|d| !d.is("StatefulSet")) {
        let Some(spec) = pod_spec(d) else { continue };
        for v in seq_at(spec, &["volumes"]) {
            if let Some(claim) = str_at(v, &["persistentVolumeClaim", "claimName"]) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("mounts PersistentVolumeClaim {claim} from a {}: state belongs in a StatefulSet", d.kind()),
                ));
            }
        }
        for c in all_containers(spec) {
            let Some(image) = str_at(c, &["image"]) else {
                continue;
            };
            let name = ImageRef::parse(image).name;
            let base = name.rsplit('/').next().unwrap_or("");
            if DATABASE_IMAGES.contains(&base) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("runs the database image {image} as a {}: use a StatefulSet with a volume claim", d.kind()),
                ));
            }
        }
    }
    if owners.is_empty() {
        return verdict(
            fails,
            Finding::na(
                cx.spec,
                "no service has a datastore, and no workload keeps state",
            ),
        );
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: StatefulSets with volumeClaimTemplates; no state in other workloads",
                plural(owners.len(), "datastore")
            ),
        ),
    );
    if let Some(prod) = production(cx) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl get pvc -n {}`: every claim Bound (a default StorageClass exists){}",
                prod.namespace,
                other_namespaces(cx)
            ),
        ));
    }
    out
}

/// Item 11: no bare Pods or ReplicaSets; every service runs a Deployment or an Argo
/// Rollouts Rollout in every environment; each sets `replicas` and a strategy that replaces
/// pods gradually (RollingUpdate, or the Rollout's canary or blue-green); no StatefulSet
/// waits for manual deletes.
pub fn rolling_deployments(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    for d in cx.tree.resources() {
        match d.kind() {
            "Pod" => fails.push(Finding::fail(
                d.place(),
                "a bare Pod: nothing recreates it when it dies",
            )),
            "ReplicaSet" => fails.push(Finding::fail(
                d.place(),
                "a bare ReplicaSet: use a Deployment",
            )),
            _ => {}
        }
    }
    for s in services(cx) {
        // Per environment: the base's workload runs in every one, an overlay's or a
        // release's in its own. Environments missing it at the same place are one finding.
        let mut missing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for env in &cx.model.environments {
            let runs = service_workloads(cx, &s.name)
                .iter()
                .any(|d| d.name() == s.name && deployed_in(d, &env.name));
            if !runs {
                missing
                    .entry(workload_place(cx, s, &env.name))
                    .or_default()
                    .push(&env.name);
            }
        }
        for (place, envs) in missing {
            fails.push(Finding::fail(
                place,
                format!("no Deployment or Rollout {} in {}", s.name, envs.join(", ")),
            ));
        }
    }
    let (mut deployments, mut rollouts) = (0, 0);
    for d in cx.tree.resources().filter(|d| is_service_workload(d)) {
        if get(&d.value, &["spec", "replicas"]).is_none() {
            fails.push(Finding::fail(
                d.place(),
                "replicas not set: the count is implicit (1)",
            ));
        }
        if d.is("Rollout") {
            rollouts += 1;
            let strategy = get(&d.value, &["spec", "strategy"]);
            if !["canary", "blueGreen"]
                .iter()
                .any(|k| strategy.and_then(|s| s.get(*k)).is_some())
            {
                fails.push(Finding::fail(
                    d.place(),
                    "no strategy: set canary or blueGreen explicitly",
                ));
            }
            continue;
        }
        deployments += 1;
        match str_at(&d.value, &["spec", "strategy", "type"]) {
            None => fails.push(Finding::fail(
                d.place(),
                "no strategy: set type RollingUpdate explicitly",
            )),
            Some("RollingUpdate") => {
                let max = text_at(
                    &d.value,
                    &["spec", "strategy", "rollingUpdate", "maxUnavailable"],
                );
                if max.as_deref() == Some("100%") {
                    fails.push(Finding::fail(
                        d.place(),
                        "maxUnavailable 100%: a rollout takes every pod down at once",
                    ));
                }
            }
            Some(other) => fails.push(Finding::fail(
                d.place(),
                format!("strategy {other}: every rollout is an outage; use RollingUpdate"),
            )),
        }
    }
    for d in cx.tree.objects("StatefulSet") {
        if str_at(&d.value, &["spec", "updateStrategy", "type"]) == Some("OnDelete") {
            fails.push(Finding::fail(
                d.place(),
                "updateStrategy OnDelete: updates wait for someone to delete pods; use RollingUpdate",
            ));
        }
    }
    let kinds: Vec<String> = [(deployments, "Deployment"), (rollouts, "Rollout")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, kind)| plural(*n, kind))
        .collect();
    verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{} ({}) with explicit replicas, each RollingUpdate or a canary or blue-green Rollout; no bare Pods",
                plural(deployments + rollouts, "workload"),
                kinds.join(", ")
            ),
        ),
    )
}

/// Long-running workloads: what has probes.
fn long_running(doc: &Doc) -> bool {
    matches!(
        doc.kind(),
        "Deployment" | "Rollout" | "StatefulSet" | "DaemonSet"
    )
}

/// A probe's check without its timing: what it actually asks.
fn probe_check(probe: &Value) -> Value {
    let mut m = Mapping::new();
    for key in ["httpGet", "tcpSocket", "grpc", "exec"] {
        if let Some(v) = probe.get(key) {
            m.insert(Value::String(key.into()), v.clone());
        }
    }
    Value::Mapping(m)
}

fn probe_path(probe: &Value) -> Option<String> {
    text_at(probe, &["httpGet", "path"])
}

/// Item 13: every container of a long-running workload has a readiness and a liveness probe,
/// and in a service's Deployments and Rollouts they are different checks (readiness may fail on dependencies,
/// liveness must not).
pub fn separate_probes(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in workloads(cx).filter(|d| long_running(d)) {
        let Some(spec) = pod_spec(d) else { continue };
        for c in seq_at(spec, &["containers"]) {
            count += 1;
            let name = container_name(c);
            let readiness = c.get("readinessProbe");
            let liveness = c.get("livenessProbe");
            for (probe, what) in [(readiness, "readinessProbe"), (liveness, "livenessProbe")] {
                if probe.is_none() {
                    fails.push(Finding::fail(
                        d.place(),
                        format!("container {name} has no {what}"),
                    ));
                }
            }
            if let (Some(r), Some(l)) = (readiness, liveness)
                && is_service_workload(d)
                && probe_check(r) == probe_check(l)
            {
                let what = probe_path(l).map_or_else(String::new, |p| format!(" ({p})"));
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name}: liveness and readiness are the same check{what}"),
                ));
            }
        }
    }
    for d in cx.tree.patches() {
        for key in ["readinessProbe", "livenessProbe"] {
            if removes(d, key) {
                fails.push(Finding::fail(d.place(), format!("removes {key}")));
            }
        }
    }
    verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: separate readiness and liveness probes",
                plural(count, "container")
            ),
        ),
    )
}

fn local_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]" | "")
}

/// Why a liveness probe reaches beyond its container, if it does.
fn remote_liveness(probe: &Value) -> Option<String> {
    for key in ["httpGet", "tcpSocket", "grpc"] {
        if let Some(host) = text_at(probe, &[key, "host"])
            && !local_host(&host)
        {
            return Some(format!("{key} probes the host {host}"));
        }
    }
    let command: Vec<String> = seq_at(probe, &["exec", "command"])
        .iter()
        .filter_map(text)
        .collect();
    let command = command.join(" ");
    for word in command.split(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
        let host = if let Some((_, rest)) = word.split_once("://") {
            rest.split(['/', ':', '?']).next().unwrap_or("")
        } else {
            word.strip_prefix("--host=").unwrap_or_default()
        };
        if !local_host(host) && !host.starts_with('$') {
            return Some(format!("its command reaches {host}"));
        }
        if word.contains(".svc") {
            return Some(format!("its command reaches {word}"));
        }
    }
    None
}

/// Item 14: liveness checks the container itself: no `host`, no command that reaches out, and
/// for each service the declared local endpoint (`health.liveness`), never the readiness
/// one. Whether that endpoint's code stays local is shown by a dependency outage: manual.
pub fn liveness_is_local(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in workloads(cx).filter(|d| long_running(d)) {
        let Some(spec) = pod_spec(d) else { continue };
        let service = d
            .service
            .as_deref()
            .and_then(|s| cx.model.service(s))
            .filter(|_| is_service_workload(d));
        for c in seq_at(spec, &["containers"]) {
            let Some(probe) = c.get("livenessProbe") else {
                continue;
            };
            count += 1;
            let name = container_name(c);
            if let Some(why) = remote_liveness(probe) {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name}: liveness is not local: {why}"),
                ));
            }
            if let (Some(s), Some(path)) = (service, probe_path(probe)) {
                if path == s.health.readiness {
                    fails.push(Finding::fail(
                        d.place(),
                        format!("container {name}: liveness on the readiness endpoint {path}, which may check dependencies"),
                    ));
                } else if path != s.health.liveness {
                    fails.push(Finding::fail(
                        d.place(),
                        format!(
                            "container {name}: liveness on {path}, not the declared local endpoint {} (health.liveness)",
                            s.health.liveness
                        ),
                    ));
                }
            }
        }
    }
    for d in cx.tree.patches() {
        yaml::walk(&d.value, &mut |path, v| {
            if path.last().map(String::as_str) == Some("livenessProbe")
                && let Some(why) = remote_liveness(v)
            {
                fails.push(Finding::fail(
                    d.place(),
                    format!("liveness is not local: {why}"),
                ));
            }
        });
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: local checks of the container itself",
                plural(count, "liveness probe")
            ),
        ),
    );
    let first = cx.model.environments.first();
    let dependent = services(cx)
        .iter()
        .find(|s| s.store.is_some())
        .map(|s| {
            (
                s,
                format!("statefulset/{}", s.store.as_ref().expect("found").name),
            )
        })
        .or_else(|| {
            services(cx).iter().find_map(|s| {
                let callee = cx.model.service(s.calls.first()?)?;
                // What runs the callee there: a Deployment or a Rollout (both scale).
                let kind = first.map_or("Deployment", |e| declared_workload(callee, &e.name));
                Some((s, format!("{}/{}", kind.to_ascii_lowercase(), callee.name)))
            })
        });
    if let (Some((s, dependency)), Some(first)) = (dependent, first) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl scale {dependency} --replicas=0 -n {}`: {}'s pods must turn unready, never restart (then scale back)",
                first.namespace, s.name
            ),
        ));
    }
    out
}

/// Item 15: every container of a long-running workload has a startup probe with an explicit
/// failureThreshold and at least 30 s to come up, and liveness tolerates a failed check.
pub fn startup_probe(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in workloads(cx).filter(|d| long_running(d)) {
        let Some(spec) = pod_spec(d) else { continue };
        for c in seq_at(spec, &["containers"]) {
            count += 1;
            let name = container_name(c);
            match c.get("startupProbe") {
                None => fails.push(Finding::fail(
                    d.place(),
                    format!("container {name} has no startupProbe: a slow start is killed by liveness, again and again"),
                )),
                Some(p) => match i64_at(p, &["failureThreshold"]) {
                    None => fails.push(Finding::fail(
                        d.place(),
                        format!("container {name}: startupProbe without an explicit failureThreshold"),
                    )),
                    Some(threshold) => {
                        let period = i64_at(p, &["periodSeconds"]).unwrap_or(10);
                        let delay = i64_at(p, &["initialDelaySeconds"]).unwrap_or(0);
                        let budget = threshold * period + delay;
                        if budget < 30 {
                            fails.push(Finding::fail(
                                d.place(),
                                format!("container {name}: {budget} s to start (failureThreshold × periodSeconds) is too short"),
                            ));
                        }
                    }
                },
            }
            if let Some(l) = c.get("livenessProbe")
                && i64_at(l, &["failureThreshold"]) == Some(1)
            {
                fails.push(Finding::fail(
                    d.place(),
                    format!("container {name}: liveness restarts on a single failed check (failureThreshold 1)"),
                ));
            }
        }
    }
    for d in cx.tree.patches() {
        if removes(d, "startupProbe") {
            fails.push(Finding::fail(d.place(), "removes startupProbe"));
        }
    }
    verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: startup probe with failureThreshold and at least 30 s",
                plural(count, "container")
            ),
        ),
    )
}

/// Resource metric names of an HPA (`cpu` when it has none: the default).
fn hpa_resources(hpa: &Doc) -> Vec<String> {
    if hpa.is("ScaledObject") {
        return seq_at(&hpa.value, &["spec", "triggers"])
            .iter()
            .filter_map(|t| str_at(t, &["type"]))
            .filter(|t| matches!(*t, "cpu" | "memory"))
            .map(str::to_string)
            .collect();
    }
    let metrics = seq_at(&hpa.value, &["spec", "metrics"]);
    if metrics.is_empty() {
        return vec!["cpu".into()];
    }
    metrics
        .iter()
        .filter(|m| str_at(m, &["type"]) == Some("Resource"))
        .filter_map(|m| str_at(m, &["resource", "name"]).map(str::to_string))
        .collect()
}

/// A consumer scaling on its backlog: a ScaledObject with one `nats-jetstream` trigger per
/// consumed stream, on the service's own durable consumer, at the declared threshold.
fn backlog_triggers(
    fails: &mut Vec<Finding>,
    scaler: &Doc,
    s: &crate::model::Service,
    backlog: i64,
) {
    let mut fail = |why: String| fails.push(Finding::fail(scaler.place(), why));
    if !scaler.is("ScaledObject") {
        fail(format!(
            "service.toml scales {} on its backlog, but this HPA sees only CPU and memory",
            s.name
        ));
        return;
    }
    let triggers = seq_at(&scaler.value, &["spec", "triggers"]);
    for topic in &s.consumes {
        let stream = crate::model::events::stream_name(topic);
        let found = triggers.iter().find(|t| {
            str_at(t, &["type"]) == Some("nats-jetstream")
                && str_at(t, &["metadata", "stream"]) == Some(stream.as_str())
        });
        let Some(t) = found else {
            fail(format!(
                "{} consumes {topic}, but no trigger watches the stream {stream}",
                s.name
            ));
            continue;
        };
        if str_at(t, &["metadata", "consumer"]) != Some(s.name.as_str()) {
            fail(format!(
                "the trigger on {stream} watches another consumer than {}'s own",
                s.name
            ));
        }
        if str_at(t, &["metadata", "lagThreshold"]) != Some(backlog.to_string().as_str()) {
            fail(format!(
                "the trigger on {stream} does not scale at autoscale.backlog = {backlog}"
            ));
        }
    }
}

/// Item 16: HPAs scale a service's Deployment or Rollout (never a datastore) deployed next
/// to them, one HPA per workload, with sane bounds, on metrics the pods request, covering
/// every metric service.toml declares there; every service and environment service.toml
/// autoscales has one. Whether metrics flow is a cluster matter: manual.
pub fn autoscaling(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let envs: Vec<&str> = cx
        .model
        .environments
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    // KEDA's ScaledObject stands for the HPA it manages.
    let hpas: Vec<&Doc> = cx
        .tree
        .objects("HorizontalPodAutoscaler")
        .chain(cx.tree.objects("ScaledObject"))
        .collect();
    for hpa in &hpas {
        let kind = str_at(&hpa.value, &["spec", "scaleTargetRef", "kind"]).unwrap_or("");
        let target = str_at(&hpa.value, &["spec", "scaleTargetRef", "name"]).unwrap_or("");
        let api = str_at(&hpa.value, &["spec", "scaleTargetRef", "apiVersion"]).unwrap_or("");
        if kind != "Deployment" && kind != "Rollout" {
            fails.push(Finding::fail(
                hpa.place(),
                format!("scales {kind} {target}: autoscale stateless Deployments and Rollouts only, never a datastore"),
            ));
            continue;
        }
        let (min, max) = if hpa.is("ScaledObject") {
            ("minReplicaCount", "maxReplicaCount")
        } else {
            ("minReplicas", "maxReplicas")
        };
        let min = i64_at(&hpa.value, &["spec", min]);
        let max = i64_at(&hpa.value, &["spec", max]).unwrap_or(0);
        match min {
            None => fails.push(Finding::fail(
                hpa.place(),
                "minReplicas not set (implicit 1)",
            )),
            Some(min) if min < 1 || max < min => fails.push(Finding::fail(
                hpa.place(),
                format!("replicas {min}..{max}: not a valid range"),
            )),
            _ => {}
        }
        // The target in every environment the HPA is deployed in.
        let here: Vec<&str> = match hpa.env.as_deref() {
            Some(env) => vec![env],
            None => envs.clone(),
        };
        let mut absent = Vec::new();
        let mut targets: Vec<&Doc> = Vec::new();
        for env in here {
            let found = cx.tree.resources().find(|d| {
                is_service_workload(d)
                    && d.is(kind)
                    && d.name() == target
                    && d.service == hpa.service
                    && deployed_in(d, env)
            });
            match found {
                Some(d) => {
                    if !targets.iter().any(|t| std::ptr::eq(*t, d)) {
                        targets.push(d);
                    }
                }
                None => absent.push(env),
            }
        }
        if !absent.is_empty() {
            fails.push(Finding::fail(
                hpa.place(),
                format!(
                    "scales {kind} {target}, which is not deployed next to it in {}",
                    absent.join(", ")
                ),
            ));
        }
        for d in &targets {
            let have = str_at(&d.value, &["apiVersion"]).unwrap_or("");
            if api != have {
                fails.push(Finding::fail(
                    hpa.place(),
                    format!("scaleTargetRef apiVersion `{api}`, but {kind} {target} is {have}: the HPA finds nothing to scale"),
                ));
            }
            let Some(spec) = pod_spec(d) else {
                continue;
            };
            for resource in hpa_resources(hpa) {
                for c in seq_at(spec, &["containers"]) {
                    if get(c, &["resources", "requests", &resource]).is_none() {
                        fails.push(Finding::fail(
                            hpa.place(),
                            format!(
                                "scales on {resource} utilisation, but container {} of {target} requests no {resource}",
                                container_name(c)
                            ),
                        ));
                    }
                }
            }
        }
    }
    // Two HPAs on one workload fight over its replicas.
    for env in &envs {
        let mut seen: BTreeMap<(Option<&str>, &str, &str), &Doc> = BTreeMap::new();
        for hpa in hpas.iter().filter(|h| deployed_in(h, env)) {
            let key = (
                hpa.service.as_deref(),
                str_at(&hpa.value, &["spec", "scaleTargetRef", "kind"]).unwrap_or(""),
                str_at(&hpa.value, &["spec", "scaleTargetRef", "name"]).unwrap_or(""),
            );
            if let Some(other) = seen.insert(key, hpa) {
                fails.push(Finding::fail(
                    hpa.place(),
                    format!(
                        "scales {} {} in {env}, as {} does: two HPAs fight over its replicas",
                        key.1,
                        key.2,
                        other.place()
                    ),
                ));
            }
        }
    }
    for s in services(cx) {
        // Environments without their HPA, by where it is generated.
        let mut missing: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for (env, se) in &s.environments {
            let Some(declared) = &se.autoscale else {
                continue;
            };
            let hpa = hpas.iter().find(|h| {
                h.service.as_deref() == Some(s.name.as_str())
                    && deployed_in(h, env)
                    && str_at(&h.value, &["spec", "scaleTargetRef", "name"])
                        == Some(s.name.as_str())
            });
            let Some(hpa) = hpa else {
                missing
                    .entry(generated_place(cx, "HorizontalPodAutoscaler", s, env))
                    .or_default()
                    .push(env);
                continue;
            };
            // An HPA of the Kustomize base is the service's; an overlay patches it from
            // there, so it answers for the service-wide settings.
            let wanted = match (&hpa.env, &s.autoscale) {
                (None, Some(base)) => base,
                _ => declared,
            };
            if let Some(backlog) = declared.backlog {
                backlog_triggers(&mut fails, hpa, s, backlog);
            }
            let have = hpa_resources(hpa);
            for (metric, wanted) in [("cpu", wanted.cpu), ("memory", wanted.memory)] {
                if wanted.is_some() && !have.iter().any(|h| h == metric) {
                    fails.push(Finding::fail(
                        hpa.place(),
                        format!("service.toml sets autoscale.{metric}, but the HPA does not scale on {metric}"),
                    ));
                }
            }
        }
        for (place, envs) in missing {
            fails.push(Finding::fail(
                place,
                format!(
                    "service.toml autoscales {} in {}, but no HPA (or KEDA ScaledObject) scales its workload there",
                    s.name,
                    envs.join(", ")
                ),
            ));
        }
    }
    if hpas.is_empty() && fails.is_empty() {
        return vec![Finding::na(
            cx.spec,
            "no service sets `autoscale`: replicas are fixed",
        )];
    }
    let memory = hpas
        .iter()
        .filter(|h| hpa_resources(h).len() > 1 || hpa_resources(h).iter().any(|r| r != "cpu"))
        .count();
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{} on Deployments and Rollouts ({} beyond CPU), one per workload, none on a StatefulSet",
                plural(hpas.len(), "HPA"),
                memory
            ),
        ),
    );
    if let Some(prod) = production(cx) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl get hpa -n {}`: TARGETS show numbers, not <unknown> (metrics-server runs){}",
                prod.namespace,
                other_namespaces(cx)
            ),
        ));
    }
    out
}
