//! The cross-object checks of one environment: whether the controllers reading the objects
//! (Deployment and Rollout controllers, the HPA, Istio, Argo Rollouts, Argo CD) do what the
//! platform means. Each check reads objects only (never file names) and returns findings,
//! one line each, naming the objects and why.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::objects::{
    Object, Selector, at, group_of, items, names, scalar, selected, text, workload_selector,
};

/// Every check of one environment's objects and the Applications that apply them.
pub fn all(applications: &[Object], objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    out.extend(one_application_per_object(objects));
    out.extend(workloads_select_only_their_own_pods(objects));
    out.extend(selectors_pick_one_workload(objects));
    out.extend(routes_reach_services_and_subsets(objects));
    out.extend(rollout_references_exist(objects));
    out.extend(autoscalers_scale_what_exists(objects));
    out.extend(argocd_leaves_controller_fields_alone(applications, objects));
    out.extend(namespaces_are_kept_and_labelled(applications, objects));
    out.extend(config_maps_read_exist(objects));
    out
}

fn find<'a>(
    objects: &'a [Object],
    namespace: &str,
    group: &str,
    kind: &str,
    name: &str,
) -> Option<&'a Object> {
    objects
        .iter()
        .find(|o| o.namespace() == namespace && o.is(group, kind) && o.name() == name)
}

fn of_kind<'a>(
    objects: &'a [Object],
    group: &'a str,
    kind: &'a str,
) -> impl Iterator<Item = &'a Object> {
    objects.iter().filter(move |o| o.is(group, kind))
}

/// Two Applications applying one object fight over it on every sync.
pub fn one_application_per_object(objects: &[Object]) -> Vec<String> {
    let mut owners: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for o in objects {
        let key = match o.group() {
            "" => o.describe(),
            group => format!("{} ({group})", o.describe()),
        };
        owners.entry(key).or_default().insert(&o.app);
    }
    owners
        .into_iter()
        .filter(|(_, apps)| apps.len() > 1)
        .map(|(key, apps)| {
            format!(
                "one-owner: {key} is applied by {} Applications ({}): each sync of one reverts the other",
                apps.len(),
                apps.into_iter().collect::<Vec<_>>().join(", ")
            )
        })
        .collect()
}

/// A Pod whose `envFrom` names a ConfigMap that is not there never starts
/// (CreateContainerConfigError): a workload kustomize does not know (a Rollout) keeps the
/// unhashed name of a generated ConfigMap unless told where it names ConfigMaps.
pub fn config_maps_read_exist(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for w in objects.iter().filter(|o| o.is_workload()) {
        for c in w.containers() {
            for from in items(c, &["envFrom"]) {
                let reference = at(from, &["configMapRef"]);
                let name = text(reference, &["name"]);
                let optional = at(reference, &["optional"]).as_bool() == Some(true);
                if name.is_empty() || optional {
                    continue;
                }
                if find(objects, w.namespace(), "", "ConfigMap", name).is_none() {
                    out.push(format!(
                        "{} reads ConfigMap {name} (envFrom), which is not deployed: its Pods never start",
                        w.describe()
                    ));
                }
            }
        }
    }
    out
}

/// The repository cannot widen its own permissions: every Application the root applies
/// belongs to the project the platform gives it (`project_of` its name: the platform's
/// project, or the narrow certificate project for the certificate's Application), whose
/// sources and destinations only an admin changes (any other project, `default` included,
/// may reach further).
pub fn applications_stay_in_the_project(
    applications: &[Object],
    project_of: &dyn Fn(&str) -> String,
) -> Vec<String> {
    applications
        .iter()
        .filter(|a| text(a.spec(), &["project"]) != project_of(a.name()))
        .map(|a| {
            format!(
                "Application {} runs in the project `{}`, not `{}`: the repository widened its own permissions",
                a.name(),
                text(a.spec(), &["project"]),
                project_of(a.name())
            )
        })
        .collect()
}

/// The namespace holds data: Argo CD neither prunes nor deletes it (its Namespace says
/// `Delete=false` and `Prune=false`), and it exists with its Pod Security and sidecar
/// labels before any Pod: the one Application applying the Namespace object may create
/// it; any other creating it would create it bare, unless it sets the same labels
/// (`managedNamespaceMetadata`).
pub fn namespaces_are_kept_and_labelled(
    applications: &[Object],
    objects: &[Object],
) -> Vec<String> {
    let mut out = Vec::new();
    let namespaces: BTreeMap<&str, &Object> = objects
        .iter()
        .filter(|o| o.is("", "Namespace"))
        .map(|o| (o.name(), o))
        .collect();
    for ns in namespaces.values() {
        let options: BTreeSet<&str> = text(
            &ns.value,
            &["metadata", "annotations", "argocd.argoproj.io/sync-options"],
        )
        .split(',')
        .map(str::trim)
        .collect();
        for keep in ["Delete=false", "Prune=false"] {
            if !options.contains(keep) {
                out.push(format!("namespaces: {} lacks the sync option {keep}: deleting or pruning {} deletes every volume claim in it", ns.describe(), ns.app));
            }
        }
        if text(
            &ns.value,
            &["metadata", "labels", "pod-security.kubernetes.io/enforce"],
        )
        .is_empty()
        {
            out.push(format!(
                "namespaces: {} enforces no Pod Security level",
                ns.describe()
            ));
        }
    }
    for app in applications {
        let destination = text(app.spec(), &["destination", "namespace"]);
        let creates = items(app.spec(), &["syncPolicy", "syncOptions"])
            .iter()
            .any(|o| o.as_str() == Some("CreateNamespace=true"));
        let Some(ns) = namespaces.get(destination) else {
            // A namespace the cluster already has (the ingress gateway's): fine for an
            // Application that cannot create it and runs no Pods in it.
            let runs_pods = objects
                .iter()
                .any(|o| o.app == app.name() && o.is_workload());
            if creates || runs_pods {
                out.push(format!("namespaces: {} deploys to {destination}, which no Application creates with its labels", app.name()));
            }
            continue;
        };
        let labels = super::objects::string_map(at(
            app.spec(),
            &["syncPolicy", "managedNamespaceMetadata", "labels"],
        ));
        if creates && ns.app != app.name() && labels != ns.labels() {
            out.push(format!(
                "namespaces: {} may create {destination} without the labels {} gives it",
                app.name(),
                ns.app
            ));
        }
    }
    out
}

/// 1. A workload's selector picks its own Pods and no other workload's: its controller, the
///    HPA scaling it and the PodDisruptionBudget count Pods by that selector.
pub fn workloads_select_only_their_own_pods(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for w in objects.iter().filter(|o| o.is_workload()) {
        let Some(selector) = workload_selector(w) else {
            out.push(format!(
                "workload-selector: {} has no spec.selector",
                w.describe()
            ));
            continue;
        };
        if selector.is_empty() {
            out.push(format!(
                "workload-selector: {} has an empty selector, which picks every Pod of the namespace",
                w.describe()
            ));
            continue;
        }
        if !selector.matches(&w.pod_labels()) {
            out.push(format!(
                "workload-selector: {}'s selector {selector} does not match its own Pod template's labels (the API server refuses it)",
                w.describe()
            ));
        }
        let others: Vec<&Object> = selected(objects, w.namespace(), &selector)
            .into_iter()
            .filter(|o| !std::ptr::eq(*o, w))
            .collect();
        if !others.is_empty() {
            out.push(format!(
                "workload-selector: {}'s selector {selector} also picks the Pods of {}: its controller, its autoscaler and its disruption budget count Pods that are not its own",
                w.describe(),
                names(&others)
            ));
        }
    }
    out
}

/// 2. Each PodDisruptionBudget, NetworkPolicy, Service and autoscaler target is about exactly
///    one workload's Pods.
pub fn selectors_pick_one_workload(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    let previews: BTreeSet<(&str, &str)> = of_kind(objects, "argoproj.io", "Rollout")
        .map(|r| {
            (
                r.namespace(),
                text(r.spec(), &["strategy", "blueGreen", "previewService"]),
            )
        })
        .collect();
    for o in objects {
        let (selector, what) = if o.is("policy", "PodDisruptionBudget") {
            let Some(s) = Selector::label_selector(at(o.spec(), &["selector"])) else {
                out.push(format!("one-workload: {} has no selector", o.describe()));
                continue;
            };
            (s, "counts")
        } else if o.is("networking.k8s.io", "NetworkPolicy") {
            match Selector::label_selector(at(o.spec(), &["podSelector"])) {
                // An empty podSelector is a namespace-wide policy (default deny): meant for all.
                Some(s) if !s.is_empty() => (s, "governs"),
                _ => continue,
            }
        } else if o.is("", "Service") {
            let s = Selector::map(at(o.spec(), &["selector"]));
            // No selector: endpoints are managed by hand (or ExternalName); nothing to pick.
            if s.is_empty() || text(o.spec(), &["type"]) == "ExternalName" {
                continue;
            }
            (s, "sends traffic to")
        } else if o.is("autoscaling", "HorizontalPodAutoscaler") {
            let target = at(o.spec(), &["scaleTargetRef"]);
            let Some(t) = find(
                objects,
                o.namespace(),
                group_of(text(target, &["apiVersion"])),
                text(target, &["kind"]),
                text(target, &["name"]),
            ) else {
                continue; // autoscalers_scale_what_exists reports it.
            };
            let Some(s) = workload_selector(t) else {
                continue; // workloads_select_only_their_own_pods reports it.
            };
            (s, "averages over")
        } else {
            continue;
        };
        let picked = selected(objects, o.namespace(), &selector);
        let preview = o.kind() == "Service" && previews.contains(&(o.namespace(), o.name()));
        if picked.len() > 1 || (picked.is_empty() && !preview) {
            out.push(format!(
                "one-workload: {} {what} the Pods of {} workloads ({}) through {selector}; it should be one",
                o.describe(),
                picked.len(),
                names(&picked)
            ));
        }
    }
    out
}

/// Where a VirtualService or DestinationRule host leads.
enum Host<'a> {
    Service(&'a Object),
    /// A ServiceEntry's host: outside the cluster's Services.
    External,
    Missing(String),
}

/// `name` (short, in `namespace`) or `name.ns.svc.cluster.local`: the Service's (name, ns).
fn service_name<'a>(host: &'a str, namespace: &'a str) -> Option<(&'a str, &'a str)> {
    if !host.contains('.') {
        return Some((host, namespace));
    }
    let rest = host.strip_suffix(".svc.cluster.local")?;
    let (name, ns) = rest.split_once('.')?;
    (!ns.contains('.')).then_some((name, ns))
}

/// The fully qualified form of a host as Istio reads it in `namespace`.
fn qualified(host: &str, namespace: &str) -> String {
    if host.contains('.') {
        host.to_string()
    } else {
        format!("{host}.{namespace}.svc.cluster.local")
    }
}

fn host<'a>(objects: &'a [Object], host: &str, namespace: &str) -> Host<'a> {
    if let Some((name, ns)) = service_name(host, namespace) {
        return match find(objects, ns, "", "Service", name) {
            Some(s) => Host::Service(s),
            None => Host::Missing(format!("no Service {ns}/{name}")),
        };
    }
    let entry = of_kind(objects, "networking.istio.io", "ServiceEntry").any(|e| {
        items(e.spec(), &["hosts"])
            .iter()
            .any(|h| scalar(h) == host)
    });
    if entry {
        Host::External
    } else {
        Host::Missing(
            "neither a Service (`name` or `name.namespace.svc.cluster.local`) nor a ServiceEntry host"
                .into(),
        )
    }
}

fn destination_rules<'a>(objects: &'a [Object], host: &str, namespace: &str) -> Vec<&'a Object> {
    let wanted = qualified(host, namespace);
    of_kind(objects, "networking.istio.io", "DestinationRule")
        .filter(|d| qualified(text(d.spec(), &["host"]), d.namespace()) == wanted)
        .collect()
}

fn subset<'a>(rule: &'a Object, name: &str) -> Option<&'a Value> {
    items(rule.spec(), &["subsets"])
        .iter()
        .find(|s| text(s, &["name"]) == name)
}

fn subset_names(rule: &Object) -> String {
    let names: Vec<&str> = items(rule.spec(), &["subsets"])
        .iter()
        .map(|s| text(s, &["name"]))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// `VirtualService ns/name http route "primary" (#1)`.
fn route_label(vs: &Object, protocol: &str, index: usize, route: &Value) -> String {
    let name = text(route, &["name"]);
    if name.is_empty() {
        format!("{} {protocol} route #{}", vs.describe(), index + 1)
    } else {
        format!("{} {protocol} route {name:?}", vs.describe())
    }
}

/// 3. Every VirtualService destination is a Service (or a ServiceEntry host) and every subset
///    exists in the DestinationRule of its host and selects Pods; a route's weights sum to 100.
pub fn routes_reach_services_and_subsets(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for vs in of_kind(objects, "networking.istio.io", "VirtualService") {
        for protocol in ["http", "tcp", "tls"] {
            for (i, route) in items(vs.spec(), &[protocol]).iter().enumerate() {
                let label = route_label(vs, protocol, i, route);
                let mut weights = Vec::new();
                let destinations = items(route, &["route"]);
                let delegate = at(route, &["delegate"]);
                if !delegate.is_null() {
                    out.extend(delegation(objects, vs, delegate, &label));
                } else if destinations.is_empty() && at(route, &["redirect"]).is_null() {
                    out.push(format!("route: {label} has no destination"));
                }
                for d in destinations {
                    destination(objects, vs, at(d, &["destination"]), &label, &mut out);
                    if let Some(w) = d.get("weight") {
                        weights.push(w.as_i64().unwrap_or(-1));
                    }
                }
                if let Some(mirror) = route.get("mirror") {
                    destination(objects, vs, mirror, &label, &mut out);
                }
                let sum: i64 = weights.iter().sum();
                if !weights.is_empty() && sum != 100 {
                    out.push(format!(
                        "route: {label}: its weights {weights:?} sum to {sum}, not 100 (Istio rejects the route)"
                    ));
                }
            }
        }
    }
    out
}

/// Istio follows a `delegate` only to a VirtualService without hosts (one with hosts is a
/// VirtualService of its own, not a delegate), and only one level deep.
fn delegation(objects: &[Object], vs: &Object, delegate: &Value, label: &str) -> Vec<String> {
    let target = match delegate_of(objects, vs, delegate) {
        Ok(target) => target,
        Err(missing) => return vec![format!("route: {label} delegates to {missing}")],
    };
    let mut out = Vec::new();
    if !items(target.spec(), &["hosts"]).is_empty()
        || !items(target.spec(), &["gateways"]).is_empty()
    {
        out.push(format!(
            "route: {label} delegates to {}, which has hosts or gateways: Istio does not use it as a delegate",
            target.describe()
        ));
    }
    if items(target.spec(), &["http"])
        .iter()
        .any(|r| !at(r, &["delegate"]).is_null())
    {
        out.push(format!(
            "route: {label} delegates to {}, which delegates again: Istio follows one level",
            target.describe()
        ));
    }
    out
}

/// The VirtualService a route of `vs` delegates to (`delegate`: its name, and its namespace
/// or `vs`'s), or which one is missing.
fn delegate_of<'a>(
    objects: &'a [Object],
    vs: &Object,
    delegate: &Value,
) -> Result<&'a Object, String> {
    let name = text(delegate, &["name"]);
    let namespace = match text(delegate, &["namespace"]) {
        "" => vs.namespace(),
        ns => ns,
    };
    find(
        objects,
        namespace,
        "networking.istio.io",
        "VirtualService",
        name,
    )
    .ok_or_else(|| format!("VirtualService {namespace}/{name}, which does not exist"))
}

/// Whether a plain request (no headers) for `path` matches an HTTP route's `match` list
/// (none: everything).
fn route_matches(route: &Value, path: &str) -> bool {
    let matches = items(route, &["match"]);
    matches.is_empty()
        || matches.iter().any(|m| {
            if !at(m, &["headers"]).is_null() {
                return false;
            }
            let uri = at(m, &["uri"]);
            match (text(uri, &["exact"]), text(uri, &["prefix"])) {
                ("", "") => at(uri, &["regex"]).is_null(),
                (exact, "") => path == exact,
                (_, prefix) => path.starts_with(prefix),
            }
        })
}

/// The Service a plain request for `path` on the public `host` reaches, as Istio's gateway
/// routes it: the first matching route of the VirtualService bound to a gateway for the
/// host, followed through its delegate; `Err` when several VirtualServices share the host
/// (Istio orders them by creation time) or no route takes the path.
fn public_route(objects: &[Object], host: &str, path: &str) -> Result<String, String> {
    let bound: Vec<&Object> = of_kind(objects, "networking.istio.io", "VirtualService")
        .filter(|vs| {
            items(vs.spec(), &["gateways"])
                .iter()
                .any(|g| scalar(g) != "mesh")
                && items(vs.spec(), &["hosts"])
                    .iter()
                    .any(|h| scalar(h) == host)
        })
        .collect();
    let [root] = bound.as_slice() else {
        return Err(format!(
            "{} VirtualServices take {host} at the gateway ({}): Istio evaluates them in creation order, not by prefix",
            bound.len(),
            names(&bound)
        ));
    };
    let mut vs = *root;
    for _ in 0..2 {
        let routes = items(vs.spec(), &["http"]);
        let Some(route) = routes.iter().find(|r| route_matches(r, path)) else {
            return Err(format!("no route of {} takes it (404)", vs.describe()));
        };
        let delegate = at(route, &["delegate"]);
        if delegate.is_null() {
            let to = items(route, &["route"])
                .first()
                .map(|d| text(d, &["destination", "host"]))
                .unwrap_or_default();
            return Ok(to.split('.').next().unwrap_or_default().to_string());
        }
        vs = delegate_of(objects, vs, delegate)
            .map_err(|missing| format!("its delegate, {missing}"))?;
    }
    Err(format!("{} delegates again", vs.describe()))
}

/// Every public path reaches the service whose `apis` prefix is the most specific one
/// containing it (whole segments: `/orders` takes `/orders` and `/orders/x`, never
/// `/orders-x`; `/orders/` only what lies under it): for each declared prefix, the paths
/// at it, under it and beside it.
/// `declared` is each service's `apis`, as service.toml says.
pub fn public_paths_reach_their_service(
    objects: &[Object],
    host: &str,
    declared: &[(String, Vec<String>)],
) -> Vec<String> {
    let owner = |path: &str| -> Option<&str> {
        declared
            .iter()
            .flat_map(|(svc, apis)| apis.iter().map(move |a| (svc.as_str(), a)))
            .filter(|(_, api)| {
                // `/orders/` takes what lies under it, `/orders` itself too.
                api.ends_with('/') && path.starts_with(api.as_str())
                    || path == api.as_str()
                    || path.starts_with(&format!("{api}/"))
            })
            .max_by_key(|(_, api)| api.trim_end_matches('/').len())
            .map(|(svc, _)| svc)
    };
    let mut paths: BTreeSet<String> = BTreeSet::new();
    for (_, apis) in declared {
        for api in apis {
            let base = api.trim_end_matches('/');
            paths.insert(if base.is_empty() {
                "/".into()
            } else {
                base.to_string()
            });
            paths.insert(format!("{base}/x"));
            if !base.is_empty() {
                paths.insert(format!("{base}-x"));
            }
        }
    }
    let mut out = Vec::new();
    for path in paths {
        let expected = owner(&path);
        let actual = public_route(objects, host, &path);
        let fine = match (&actual, expected) {
            (Ok(svc), Some(want)) => svc == want,
            (Err(_), None) => true,
            _ => false,
        };
        if !fine {
            out.push(format!(
                "https://{host}{path} reaches {}, but service.toml routes it to {}",
                match &actual {
                    Ok(svc) => svc.clone(),
                    Err(why) => format!("nothing ({why})"),
                },
                expected.unwrap_or("no service")
            ));
        }
    }
    out
}

fn destination(
    objects: &[Object],
    vs: &Object,
    destination: &Value,
    label: &str,
    out: &mut Vec<String>,
) {
    let namespace = vs.namespace();
    let name = text(destination, &["host"]);
    let service = match host(objects, name, namespace) {
        Host::Service(s) => Some(s),
        Host::External => None,
        Host::Missing(why) => {
            out.push(format!(
                "route: {label} sends traffic to host {name:?}: {why}"
            ));
            None
        }
    };
    let subset_name = text(destination, &["subset"]);
    if subset_name.is_empty() {
        return;
    }
    let rules = destination_rules(objects, name, namespace);
    let Some(rule) = rules.first() else {
        out.push(format!(
            "route: {label} sends traffic to subset {subset_name:?} of {name}, and no DestinationRule has that host"
        ));
        return;
    };
    if rules.len() > 1 {
        out.push(format!(
            "route: {} DestinationRules have host {name} ({}): Istio uses one",
            rules.len(),
            names(&rules)
        ));
    }
    let Some(s) = subset(rule, subset_name) else {
        out.push(format!(
            "route: {label} sends traffic to subset {subset_name:?}, which {} does not define (it has: {})",
            rule.describe(),
            subset_names(rule)
        ));
        return;
    };
    if let Some(service) = service {
        let within = Selector::map(at(service.spec(), &["selector"]));
        let selector = Selector::map(at(s, &["labels"])).and(&within);
        if selected(objects, service.namespace(), &selector).is_empty() {
            out.push(format!(
                "route: {label} sends traffic to subset {subset_name:?} of {}, whose labels {selector} pick no workload's Pods: that traffic gets 503",
                rule.describe()
            ));
        }
    }
}

/// The VirtualServices a Rollout's Istio traffic routing names, with the route names.
pub fn rollout_virtual_services(istio: &Value) -> Vec<(String, Vec<String>)> {
    let one = at(istio, &["virtualService"]);
    let many = items(istio, &["virtualServices"]);
    std::iter::once(one)
        .filter(|v| !v.is_null())
        .chain(many)
        .map(|v| {
            (
                text(v, &["name"]).to_string(),
                items(v, &["routes"]).iter().map(scalar).collect(),
            )
        })
        .collect()
}

/// The http routes of `vs` a Rollout names (all routes when it names none and there is one),
/// with their indices; what cannot be found is reported.
fn named_routes<'a>(
    vs: &'a Object,
    routes: &[String],
    who: &str,
    out: &mut Vec<String>,
) -> Vec<(usize, &'a Value)> {
    let http = items(vs.spec(), &["http"]);
    if routes.is_empty() {
        if http.len() == 1 {
            return vec![(0, &http[0])];
        }
        out.push(format!(
            "rollout: {who} names no routes of {}, which has {} http routes: the controller needs their names",
            vs.describe(),
            http.len()
        ));
        return Vec::new();
    }
    let mut found = Vec::new();
    for name in routes {
        match http
            .iter()
            .enumerate()
            .find(|(_, r)| text(r, &["name"]) == name)
        {
            Some(hit) => found.push(hit),
            None => out.push(format!(
                "rollout: {who} names route {name:?} of {}, which has no http route of that name",
                vs.describe()
            )),
        }
    }
    found
}

/// The analyses a Rollout runs: (where, the `RolloutAnalysis`).
fn analyses(strategy: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (path, label) in [
        (&["canary", "analysis"][..], "canary.analysis"),
        (
            &["blueGreen", "prePromotionAnalysis"][..],
            "blueGreen.prePromotionAnalysis",
        ),
        (
            &["blueGreen", "postPromotionAnalysis"][..],
            "blueGreen.postPromotionAnalysis",
        ),
    ] {
        let a = at(strategy, path);
        if !a.is_null() {
            out.push((label.to_string(), a));
        }
    }
    for (i, step) in items(strategy, &["canary", "steps"]).iter().enumerate() {
        let a = at(step, &["analysis"]);
        if !a.is_null() {
            out.push((format!("canary.steps[{i}].analysis"), a));
        }
    }
    out
}

/// 4. What a Rollout names exists and fits: its VirtualServices, their routes (a stable and a
///    canary destination each), its DestinationRule and subsets, its Services, its analysis
///    templates and the arguments it passes them.
pub fn rollout_references_exist(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for r in of_kind(objects, "argoproj.io", "Rollout") {
        let ns = r.namespace();
        let who = r.describe();
        let strategy = at(r.spec(), &["strategy"]);
        let canary = at(strategy, &["canary"]);
        let blue_green = at(strategy, &["blueGreen"]);
        if canary.is_null() == blue_green.is_null() {
            out.push(format!(
                "rollout: {who} needs exactly one of strategy.canary and strategy.blueGreen"
            ));
        }
        if !blue_green.is_null() && text(blue_green, &["activeService"]).is_empty() {
            out.push(format!(
                "rollout: {who} is blue-green without an activeService"
            ));
        }
        for (field, name) in [
            (
                "blueGreen.activeService",
                text(blue_green, &["activeService"]),
            ),
            (
                "blueGreen.previewService",
                text(blue_green, &["previewService"]),
            ),
            ("canary.canaryService", text(canary, &["canaryService"])),
            ("canary.stableService", text(canary, &["stableService"])),
        ] {
            if !name.is_empty() && find(objects, ns, "", "Service", name).is_none() {
                out.push(format!(
                    "rollout: {who}'s {field} is {name:?}, and there is no Service {ns}/{name}"
                ));
            }
        }
        let istio = at(canary, &["trafficRouting", "istio"]);
        if !istio.is_null() {
            istio_routing(objects, r, canary, istio, &mut out);
        }
        for (place, analysis) in analyses(strategy) {
            analysis_arguments(objects, r, &place, analysis, &mut out);
        }
    }
    for t in of_kind(objects, "argoproj.io", "AnalysisTemplate").chain(of_kind(
        objects,
        "argoproj.io",
        "ClusterAnalysisTemplate",
    )) {
        let declared: BTreeSet<&str> = items(t.spec(), &["args"])
            .iter()
            .map(|a| text(a, &["name"]))
            .collect();
        let body = serde_json::to_string(at(t.spec(), &["metrics"])).unwrap_or_default();
        for used in body.split("{{").skip(1).filter_map(|s| s.split_once("}}")) {
            let used = used.0.trim();
            if let Some(arg) = used.strip_prefix("args.")
                && !declared.contains(arg)
            {
                out.push(format!(
                    "rollout: {} uses {{{{{used}}}}} but declares no argument {arg:?} (the analysis fails to resolve it)",
                    t.describe()
                ));
            }
        }
    }
    out
}

fn istio_routing(
    objects: &[Object],
    rollout: &Object,
    canary: &Value,
    istio: &Value,
    out: &mut Vec<String>,
) {
    let ns = rollout.namespace();
    let who = rollout.describe();
    let rule_ref = at(istio, &["destinationRule"]);
    let stable = text(rule_ref, &["stableSubsetName"]);
    let canary_subset = text(rule_ref, &["canarySubsetName"]);
    let mut rule_host = None;
    if rule_ref.is_null() {
        // Host-level splitting: the routes' two destinations are these Services.
        for field in ["canaryService", "stableService"] {
            if text(canary, &[field]).is_empty() {
                out.push(format!(
                    "rollout: {who} routes by host (no destinationRule) without canary.{field}"
                ));
            }
        }
    } else {
        let name = text(rule_ref, &["name"]);
        match find(objects, ns, "networking.istio.io", "DestinationRule", name) {
            None => out.push(format!(
                "rollout: {who}'s destinationRule is {name:?}, and there is no DestinationRule {ns}/{name}"
            )),
            Some(rule) => {
                rule_host = Some(qualified(text(rule.spec(), &["host"]), ns));
                for (field, subset_name) in [
                    ("stableSubsetName", stable),
                    ("canarySubsetName", canary_subset),
                ] {
                    if subset_name.is_empty() {
                        out.push(format!("rollout: {who}'s destinationRule has no {field}"));
                    } else if subset(rule, subset_name).is_none() {
                        out.push(format!(
                            "rollout: {who}'s {field} is {subset_name:?}, which {} does not define (it has: {})",
                            rule.describe(),
                            subset_names(rule)
                        ));
                    }
                }
            }
        }
    }
    let services = rollout_virtual_services(istio);
    if services.is_empty() {
        out.push(format!(
            "rollout: {who} routes by Istio without a virtualService"
        ));
    }
    for (name, routes) in services {
        let Some(vs) = find(objects, ns, "networking.istio.io", "VirtualService", &name) else {
            out.push(format!(
                "rollout: {who} names VirtualService {name:?}, and there is no VirtualService {ns}/{name}"
            ));
            continue;
        };
        for (_, route) in named_routes(vs, &routes, &who, out) {
            let destinations = items(route, &["route"]);
            let label = format!("{} route {:?}", vs.describe(), text(route, &["name"]));
            if rule_ref.is_null() {
                let hosts: BTreeSet<String> = destinations
                    .iter()
                    .map(|d| qualified(text(d, &["destination", "host"]), ns))
                    .collect();
                let wanted: BTreeSet<String> = ["canaryService", "stableService"]
                    .iter()
                    .map(|f| qualified(text(canary, &[f]), ns))
                    .collect();
                if destinations.len() != 2 || hosts != wanted {
                    out.push(format!(
                        "rollout: {label} needs exactly two destinations, the canary and the stable Service, for {who} to set their weights"
                    ));
                }
                continue;
            }
            let subsets: Vec<&str> = destinations
                .iter()
                .map(|d| text(d, &["destination", "subset"]))
                .collect();
            let count = |s: &str| subsets.iter().filter(|x| **x == s).count();
            if destinations.len() != 2 || count(stable) != 1 || count(canary_subset) != 1 {
                out.push(format!(
                    "rollout: {label} routes to subsets {subsets:?}; {who} needs exactly one {stable:?} and one {canary_subset:?} destination to set their weights"
                ));
            }
            if let Some(rule_host) = &rule_host {
                for d in destinations {
                    let h = qualified(text(d, &["destination", "host"]), vs.namespace());
                    if &h != rule_host {
                        out.push(format!(
                            "rollout: {label} routes to host {h}, not to {rule_host} whose subsets {who} manages"
                        ));
                    }
                }
            }
        }
    }
}

fn analysis_arguments(
    objects: &[Object],
    rollout: &Object,
    place: &str,
    analysis: &Value,
    out: &mut Vec<String>,
) {
    let ns = rollout.namespace();
    let who = format!("{}'s {place}", rollout.describe());
    let passed: Vec<&Value> = items(analysis, &["args"]).iter().collect();
    let passed_names: BTreeSet<&str> = passed.iter().map(|a| text(a, &["name"])).collect();
    for a in &passed {
        let from = at(a, &["valueFrom"]);
        let hash = text(from, &["podTemplateHashValue"]);
        if at(a, &["value"]).is_null() && from.is_null() {
            out.push(format!(
                "rollout: {who} passes argument {:?} without a value or valueFrom",
                text(a, &["name"])
            ));
        } else if !at(from, &["podTemplateHashValue"]).is_null()
            && !["Stable", "Latest"].contains(&hash)
        {
            out.push(format!(
                "rollout: {who} passes argument {:?} from podTemplateHashValue {hash:?} (Stable or Latest)",
                text(a, &["name"])
            ));
        }
    }
    let templates = items(analysis, &["templates"]);
    if templates.is_empty() {
        out.push(format!("rollout: {who} names no template"));
    }
    let mut declared = BTreeSet::new();
    let mut all_found = !templates.is_empty();
    for t in templates {
        let name = text(t, &["templateName"]);
        let cluster = at(t, &["clusterScope"]).as_bool().unwrap_or(false);
        let template = if cluster {
            of_kind(objects, "argoproj.io", "ClusterAnalysisTemplate").find(|o| o.name() == name)
        } else {
            find(objects, ns, "argoproj.io", "AnalysisTemplate", name)
        };
        let Some(template) = template else {
            let kind = if cluster {
                "ClusterAnalysisTemplate"
            } else {
                "AnalysisTemplate"
            };
            out.push(format!(
                "rollout: {who} runs template {name:?}, and there is no {kind} {name} in {ns}: the rollout stops"
            ));
            all_found = false;
            continue;
        };
        for arg in items(template.spec(), &["args"]) {
            let arg_name = text(arg, &["name"]);
            declared.insert(arg_name.to_string());
            let has_default = !at(arg, &["value"]).is_null() || !at(arg, &["valueFrom"]).is_null();
            if !has_default && !passed_names.contains(arg_name) {
                out.push(format!(
                    "rollout: {who} does not pass argument {arg_name:?}, which {} needs (no default)",
                    template.describe()
                ));
            }
        }
    }
    for name in passed_names {
        if all_found && !declared.contains(name) {
            out.push(format!(
                "rollout: {who} passes argument {name:?}, which none of its templates declares (Argo Rollouts drops it)"
            ));
        }
    }
}

/// 5. Every autoscaler scales an object that exists, on resource metrics its Pods request.
pub fn autoscalers_scale_what_exists(objects: &[Object]) -> Vec<String> {
    let mut out = Vec::new();
    for hpa in of_kind(objects, "autoscaling", "HorizontalPodAutoscaler") {
        let target = at(hpa.spec(), &["scaleTargetRef"]);
        let (api, kind, name) = (
            text(target, &["apiVersion"]),
            text(target, &["kind"]),
            text(target, &["name"]),
        );
        let Some(t) = find(objects, hpa.namespace(), group_of(api), kind, name) else {
            out.push(format!(
                "autoscaler: {} scales {kind} {name} ({api}), and there is no such object in {}",
                hpa.describe(),
                hpa.namespace()
            ));
            continue;
        };
        let containers = items(t.spec(), &["template", "spec", "containers"]);
        let requests =
            |c: &Value, resource: &str| !at(c, &["resources", "requests", resource]).is_null();
        let default_metric: Value = serde_yaml_ng::from_str(
            "{type: Resource, resource: {name: cpu, target: {type: Utilization}}}",
        )
        .unwrap();
        let metrics: Vec<&Value> = if items(hpa.spec(), &["metrics"]).is_empty() {
            vec![&default_metric] // The HPA's default: 80 % CPU utilisation.
        } else {
            items(hpa.spec(), &["metrics"]).iter().collect()
        };
        for m in metrics {
            match text(m, &["type"]) {
                "Resource" => {
                    let resource = text(m, &["resource", "name"]);
                    if text(m, &["resource", "target", "type"]) != "Utilization" {
                        continue;
                    }
                    for c in containers.iter().filter(|c| !requests(c, resource)) {
                        out.push(format!(
                            "autoscaler: {} scales on {resource} utilisation, and container {:?} of {} requests no {resource}: the HPA cannot compute it",
                            hpa.describe(),
                            text(c, &["name"]),
                            t.describe()
                        ));
                    }
                }
                "ContainerResource" => {
                    let resource = text(m, &["containerResource", "name"]);
                    let container = text(m, &["containerResource", "container"]);
                    match containers.iter().find(|c| text(c, &["name"]) == container) {
                        None => out.push(format!(
                            "autoscaler: {} scales on container {container:?}, which {} does not run",
                            hpa.describe(),
                            t.describe()
                        )),
                        Some(c) if !requests(c, resource) => out.push(format!(
                            "autoscaler: {} scales on {resource} of container {container:?}, which requests no {resource}",
                            hpa.describe()
                        )),
                        Some(_) => {}
                    }
                }
                other => out.push(format!(
                    "autoscaler: {} scales on a {other:?} metric, which needs a metrics adapter; resource metrics are what the cluster provides",
                    hpa.describe()
                )),
            }
        }
    }
    out
}

/// One step of a path pattern: a key, any list index (`[]`) or one index.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Any,
}

/// A JSON pointer (`/spec/replicas`) as steps.
fn pointer_steps(pointer: &str) -> Vec<Step> {
    pointer
        .split('/')
        .skip(1)
        .map(|s| Step::Key(s.replace("~1", "/").replace("~0", "~")))
        .collect()
}

/// A plain jq path (`.spec.http[].route[].weight`, `.spec.replicas`) as steps; None for
/// anything else (a filter this reading cannot follow ignores nothing here).
fn jq_steps(expression: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let mut rest = expression.trim();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[]") {
            steps.push(Step::Any);
            rest = r;
        } else if let Some(r) = rest.strip_prefix('[') {
            let (index, r) = r.split_once(']')?;
            index.parse::<usize>().ok()?;
            steps.push(Step::Key(index.to_string()));
            rest = r;
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else {
            return None;
        }
        rest = rest.strip_prefix('?').unwrap_or(rest);
    }
    Some(steps)
}

/// Whether ignoring `pattern` ignores `path` (a pattern ignores everything below it).
fn covers(pattern: &[Step], path: &[String]) -> bool {
    pattern.len() <= path.len()
        && pattern.iter().zip(path).all(|(step, key)| match step {
            Step::Key(k) => k == key,
            Step::Any => key.parse::<usize>().is_ok(),
        })
}

/// Whether Application `app`'s ignoreDifferences cover `path` of `target`.
pub fn ignores(app: &Object, target: &Object, path: &[String]) -> bool {
    items(app.spec(), &["ignoreDifferences"])
        .iter()
        .any(|entry| {
            text(entry, &["group"]) == target.group()
                && text(entry, &["kind"]) == target.kind()
                && [("name", target.name()), ("namespace", target.namespace())]
                    .iter()
                    .all(|(field, value)| {
                        let wanted = text(entry, &[field]);
                        wanted.is_empty() || wanted == *value
                    })
                && (items(entry, &["jsonPointers"])
                    .iter()
                    .any(|p| covers(&pointer_steps(&scalar(p)), path))
                    || items(entry, &["jqPathExpressions"])
                        .iter()
                        .filter_map(|q| jq_steps(&scalar(q)))
                        .any(|steps| covers(&steps, path)))
        })
}

fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_string()).collect()
}

/// 6. Argo CD leaves alone what controllers own: the replicas of whatever an autoscaler
///    scales, and the route weights a Rollout sets, with `RespectIgnoreDifferences=true` so
///    a sync does not apply them either.
pub fn argocd_leaves_controller_fields_alone(
    applications: &[Object],
    objects: &[Object],
) -> Vec<String> {
    let mut out = Vec::new();
    // (Application, why it must respect its ignoreDifferences).
    let mut respecting: BTreeMap<&str, String> = BTreeMap::new();
    let application = |name: &str| applications.iter().find(|a| a.name() == name);
    for hpa in of_kind(objects, "autoscaling", "HorizontalPodAutoscaler") {
        let target = at(hpa.spec(), &["scaleTargetRef"]);
        let Some(t) = find(
            objects,
            hpa.namespace(),
            group_of(text(target, &["apiVersion"])),
            text(target, &["kind"]),
            text(target, &["name"]),
        ) else {
            continue; // autoscalers_scale_what_exists reports it.
        };
        let Some(app) = application(&t.app) else {
            out.push(format!("argocd: no Application applies {}", t.describe()));
            continue;
        };
        respecting
            .entry(&t.app)
            .or_insert_with(|| format!("{} scales {}", hpa.describe(), t.describe()));
        if !ignores(app, t, &path(&["spec", "replicas"])) {
            out.push(format!(
                "argocd: Application {} resets /spec/replicas of {} to Git's value on every sync, undoing {}: ignoreDifferences has no entry for group {:?} kind {} name {} with /spec/replicas",
                app.name(),
                t.describe(),
                hpa.describe(),
                t.group(),
                t.kind(),
                t.name()
            ));
        }
    }
    for r in of_kind(objects, "argoproj.io", "Rollout") {
        let istio = at(r.spec(), &["strategy", "canary", "trafficRouting", "istio"]);
        for (name, routes) in rollout_virtual_services(istio) {
            let Some(vs) = find(
                objects,
                r.namespace(),
                "networking.istio.io",
                "VirtualService",
                &name,
            ) else {
                continue; // rollout_references_exist reports it.
            };
            let Some(app) = application(&vs.app) else {
                out.push(format!("argocd: no Application applies {}", vs.describe()));
                continue;
            };
            respecting
                .entry(&vs.app)
                .or_insert_with(|| format!("{} sets weights in {}", r.describe(), vs.describe()));
            // Routes that cannot be found are rollout_references_exist's finding.
            let mut reported_there = Vec::new();
            for (i, route) in named_routes(vs, &routes, "", &mut reported_there) {
                for j in 0..items(route, &["route"]).len() {
                    let weight = path(&[
                        "spec",
                        "http",
                        &i.to_string(),
                        "route",
                        &j.to_string(),
                        "weight",
                    ]);
                    if !ignores(app, vs, &weight) {
                        out.push(format!(
                            "argocd: Application {} resets the weights {} sets on {} route {:?} (/{}) on every sync: ignoreDifferences lacks .spec.http[].route[].weight for it",
                            app.name(),
                            r.describe(),
                            vs.describe(),
                            text(route, &["name"]),
                            weight.join("/")
                        ));
                        break;
                    }
                }
            }
        }
    }
    for (name, why) in respecting {
        let Some(app) = application(name) else {
            continue;
        };
        let respects = items(app.spec(), &["syncPolicy", "syncOptions"])
            .iter()
            .any(|o| scalar(o) == "RespectIgnoreDifferences=true");
        if !respects {
            out.push(format!(
                "argocd: Application {name} ignores differences ({why}) but a sync still applies them: syncOptions lack RespectIgnoreDifferences=true"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::objects::parse;

    /// One environment shaped as the platform means it: `api` a canary Rollout behind Istio
    /// with its own database, `web` a blue-green Rollout.
    const DESIGN: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo-dev}
spec:
  selector: {app.kubernetes.io/name: api}
---
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: api, namespace: demo-dev}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: api}
  template:
    metadata:
      labels: {app.kubernetes.io/name: api, app.kubernetes.io/version: "1.0"}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0
          resources: {requests: {cpu: 100m, memory: 128Mi}}
  strategy:
    canary:
      canaryMetadata: {labels: {role: canary}}
      trafficRouting:
        istio:
          virtualServices:
            - name: api
              routes: [primary]
          destinationRule: {name: api, canarySubsetName: canary, stableSubsetName: stable}
      steps:
        - setWeight: 10
        - pause: {duration: 5m}
        - analysis:
            templates: [{templateName: api-slo}]
            args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]
        - setWeight: 100
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: demo-dev}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app.kubernetes.io/name: api}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api, namespace: demo-dev}
spec:
  podSelector:
    matchLabels: {app.kubernetes.io/name: api}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: demo-dev}
spec:
  podSelector: {}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: demo-dev}
spec:
  scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: api}
  minReplicas: 2
  maxReplicas: 6
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
    - type: Resource
      resource: {name: memory, target: {type: Utilization, averageUtilization: 80}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo-dev}
spec:
  hosts: [api.demo-dev.svc.cluster.local]
  gateways: [mesh]
  http:
    - name: canary-header
      match: [{headers: {x-canary: {exact: "true"}}}]
      route:
        - destination: {host: api.demo-dev.svc.cluster.local, subset: canary}
    - name: primary
      route:
        - destination: {host: api.demo-dev.svc.cluster.local, subset: stable}
          weight: 100
        - destination: {host: api, subset: canary}
          weight: 0
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: demo-dev}
spec:
  host: api.demo-dev.svc.cluster.local
  subsets:
    - name: stable
      labels: {app.kubernetes.io/name: api}
    - name: canary
      labels: {app.kubernetes.io/name: api}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: api-slo, namespace: demo-dev}
spec:
  args: [{name: canary-hash}]
  metrics:
    - name: success-rate
      successCondition: "result[0] >= 0.999"
      provider:
        prometheus:
          query: 'sum(rate(requests{rollouts_pod_template_hash="{{args.canary-hash}}"}[1m]))'
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: api-postgres, namespace: demo-dev}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: api-postgres}
  template:
    metadata:
      labels: {app.kubernetes.io/name: api-postgres}
    spec:
      containers: [{name: postgres, image: "postgres:16"}]
---
apiVersion: v1
kind: Service
metadata: {name: api-postgres, namespace: demo-dev}
spec:
  clusterIP: None
  selector: {app.kubernetes.io/name: api-postgres}
"#;

    const WEB: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: demo-dev}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      labels: {app.kubernetes.io/name: web}
    spec:
      containers: [{name: web, image: "ghcr.io/acme/web:1.0"}]
  strategy:
    blueGreen:
      activeService: web
      previewService: web-preview
      autoPromotionEnabled: true
      prePromotionAnalysis:
        templates: [{templateName: web-slo}]
        args: [{name: canary-hash, valueFrom: {podTemplateHashValue: Latest}}]
      scaleDownDelaySeconds: 600
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo-dev}
spec:
  selector: {app.kubernetes.io/name: web}
---
apiVersion: v1
kind: Service
metadata: {name: web-preview, namespace: demo-dev}
spec:
  selector: {app.kubernetes.io/name: web}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: web-slo, namespace: demo-dev}
spec:
  args: [{name: canary-hash}]
  metrics: []
"#;

    const APPLICATIONS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: api-dev, namespace: argocd}
spec:
  destination: {namespace: demo-dev}
  syncPolicy:
    syncOptions: [RespectIgnoreDifferences=true]
  ignoreDifferences:
    - group: argoproj.io
      kind: Rollout
      name: api
      jsonPointers: [/spec/replicas]
    - group: networking.istio.io
      kind: VirtualService
      jqPathExpressions: [".spec.http[].route[].weight"]
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web-dev, namespace: argocd}
spec:
  destination: {namespace: demo-dev}
  syncPolicy:
    syncOptions: []
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: platform-dev, namespace: argocd}
spec:
  destination: {namespace: demo-dev}
  syncPolicy:
    syncOptions: [CreateNamespace=true]
"#;

    /// The environment's namespace, as its platform Application applies it.
    const NAMESPACE: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: demo-dev
  annotations: {argocd.argoproj.io/sync-options: "Delete=false,Prune=false"}
  labels: {pod-security.kubernetes.io/enforce: restricted, istio-injection: enabled}
"#;

    /// `text` with `from` replaced by `to` (which must be there: a test that changes nothing
    /// proves nothing).
    fn with(text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "{from:?} is not in the fixture");
        text.replacen(from, to, 1)
    }

    fn objects(api: &str, web: &str) -> Vec<Object> {
        let mut out = parse("api-dev", api);
        out.extend(parse("web-dev", web));
        out.extend(parse("platform-dev", NAMESPACE));
        out
    }

    #[test]
    fn namespaces_deleted_pruned_or_created_bare_are_found() {
        let apps = applications(APPLICATIONS);
        let kept = |namespace: &str| {
            let mut out = objects(DESIGN, WEB);
            out.retain(|o| o.kind() != "Namespace");
            out.extend(parse("platform-dev", namespace));
            out
        };
        assert_found(
            &namespaces_are_kept_and_labelled(&apps, &kept(&with(NAMESPACE, "Delete=false,", ""))),
            &[&["Delete=false", "deleting or pruning platform-dev"]],
        );
        assert_found(
            &namespaces_are_kept_and_labelled(
                &apps,
                &kept(&with(
                    NAMESPACE,
                    "pod-security.kubernetes.io/enforce: restricted, ",
                    "",
                )),
            ),
            &[&["Namespace /demo-dev enforces no Pod Security level"]],
        );
        let bare = applications(&with(
            APPLICATIONS,
            "syncOptions: []",
            "syncOptions: [CreateNamespace=true]",
        ));
        assert_found(
            &namespaces_are_kept_and_labelled(&bare, &objects(DESIGN, WEB)),
            &[&["web-dev may create demo-dev without the labels platform-dev gives it"]],
        );
        let elsewhere = applications(&with(
            APPLICATIONS,
            "destination: {namespace: demo-dev}",
            "destination: {namespace: other}",
        ));
        assert_found(
            &namespaces_are_kept_and_labelled(&elsewhere, &objects(DESIGN, WEB)),
            &[&["api-dev deploys to other, which no Application creates"]],
        );
    }

    fn applications(text: &str) -> Vec<Object> {
        parse("argocd", text)
    }

    fn assert_found(found: &[String], wanted: &[&[&str]]) {
        assert_eq!(
            found.len(),
            wanted.len(),
            "expected {} findings, got:\n{}",
            wanted.len(),
            found.join("\n")
        );
        for words in wanted {
            assert!(
                found.iter().any(|f| words.iter().all(|w| f.contains(w))),
                "no finding with {words:?} in:\n{}",
                found.join("\n")
            );
        }
    }

    /// The same canary as a second Deployment beside the stable workload.
    const CANARY_DEPLOYMENT: &str = r#"
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-canary, namespace: demo-dev}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: api, app.kubernetes.io/track: canary}
  template:
    metadata:
      labels: {app.kubernetes.io/name: api, app.kubernetes.io/track: canary}
    spec:
      containers:
        - name: api
          image: ghcr.io/acme/api:1.0
          resources: {requests: {cpu: 100m, memory: 128Mi}}
"#;

    #[test]
    fn the_platform_as_designed_passes_every_check() {
        let found = all(&applications(APPLICATIONS), &objects(DESIGN, WEB));
        assert!(found.is_empty(), "{}", found.join("\n"));
    }

    #[test]
    fn two_applications_applying_one_object_are_found() {
        let mut objects = objects(DESIGN, WEB);
        objects.extend(parse("web-dev", DESIGN.split("---").next().unwrap()));
        assert_found(
            &one_application_per_object(&objects),
            &[&["Service demo-dev/api", "api-dev, web-dev"]],
        );
    }

    #[test]
    fn workloads_selecting_each_others_pods_are_found() {
        let api = format!("{DESIGN}{CANARY_DEPLOYMENT}");
        assert_found(
            &workloads_select_only_their_own_pods(&objects(&api, WEB)),
            &[&[
                "Rollout demo-dev/api's selector",
                "also picks the Pods of Deployment api-canary",
            ]],
        );
        let own = with(
            DESIGN,
            "labels: {app.kubernetes.io/name: api, app.kubernetes.io/version",
            "labels: {app.kubernetes.io/name: apí, app.kubernetes.io/version",
        );
        assert_found(
            &workloads_select_only_their_own_pods(&objects(&own, WEB)),
            &[&[
                "Rollout demo-dev/api",
                "does not match its own Pod template",
            ]],
        );
    }

    #[test]
    fn selectors_picking_two_workloads_or_none_are_found() {
        let api = format!("{DESIGN}{CANARY_DEPLOYMENT}");
        assert_found(
            &selectors_pick_one_workload(&objects(&api, WEB)),
            &[
                &[
                    "Service demo-dev/api sends traffic to the Pods of 2 workloads",
                    "Rollout api, Deployment api-canary",
                ],
                &["PodDisruptionBudget demo-dev/api counts the Pods of 2"],
                &["NetworkPolicy demo-dev/api governs the Pods of 2"],
                &["HorizontalPodAutoscaler demo-dev/api averages over the Pods of 2"],
            ],
        );
        // A Service selecting nothing is a finding, but not the preview Service of a Rollout.
        let web = with(
            WEB,
            "name: web-preview, namespace: demo-dev}\nspec:\n  selector: {app.kubernetes.io/name: web}",
            "name: web-preview, namespace: demo-dev}\nspec:\n  selector: {app.kubernetes.io/name: nobody}",
        );
        let web = with(
            &web,
            "name: web, namespace: demo-dev}\nspec:\n  selector: {app.kubernetes.io/name: web}",
            "name: web, namespace: demo-dev}\nspec:\n  selector: {app.kubernetes.io/name: nobody}",
        );
        assert_found(
            &selectors_pick_one_workload(&objects(DESIGN, &web)),
            &[&["Service demo-dev/web sends traffic to the Pods of 0 workloads (none)"]],
        );
    }

    #[test]
    fn routes_to_missing_services_subsets_or_bad_weights_are_found() {
        let api = with(
            DESIGN,
            "- destination: {host: api, subset: canary}\n          weight: 0",
            "- destination: {host: api, subset: canary}\n          weight: 10",
        );
        let api = with(
            &api,
            "- destination: {host: api.demo-dev.svc.cluster.local, subset: canary}",
            "- destination: {host: apy.demo-dev.svc.cluster.local, subset: canary}",
        );
        assert_found(
            &routes_reach_services_and_subsets(&objects(&api, WEB)),
            &[
                &["route \"primary\"", "weights [100, 10] sum to 110"],
                &[
                    "route \"canary-header\"",
                    "host \"apy.demo-dev.svc.cluster.local\": no Service demo-dev/apy",
                ],
                &[
                    "route \"canary-header\"",
                    "subset \"canary\" of apy.demo-dev.svc.cluster.local, and no DestinationRule",
                ],
            ],
        );
        let api = with(
            DESIGN,
            "    - name: canary\n      labels: {app.kubernetes.io/name: api}",
            "    - name: canary\n      labels: {app.kubernetes.io/track: canary}",
        );
        let api = with(
            &api,
            "- destination: {host: api, subset: canary}",
            "- destination: {host: api, subset: canry}",
        );
        assert_found(
            &routes_reach_services_and_subsets(&objects(&api, WEB)),
            &[
                &[
                    "route \"canary-header\"",
                    "subset \"canary\"",
                    "pick no workload's Pods",
                ],
                &[
                    "route \"primary\"",
                    "subset \"canry\", which DestinationRule demo-dev/api does not define (it has: stable, canary)",
                ],
            ],
        );
    }

    #[test]
    fn rollout_references_that_do_not_exist_or_fit_are_found() {
        let api = with(
            DESIGN,
            "- name: api\n              routes: [primary]",
            "- name: api\n              routes: [main]",
        );
        let api = with(
            &api,
            "canarySubsetName: canary",
            "canarySubsetName: preview",
        );
        let api = with(
            &api,
            "templates: [{templateName: api-slo}]\n            args: [{name: canary-hash,",
            "templates: [{templateName: api-slo}]\n            args: [{name: hash,",
        );
        let web = with(WEB, "templateName: web-slo", "templateName: web-analysis");
        let web = with(
            &web,
            "previewService: web-preview",
            "previewService: web-next",
        );
        assert_found(
            &rollout_references_exist(&objects(&api, &web)),
            &[
                &[
                    "Rollout demo-dev/api names route \"main\"",
                    "no http route of that name",
                ],
                &[
                    "canarySubsetName is \"preview\"",
                    "DestinationRule demo-dev/api does not define",
                ],
                &["passes argument \"hash\", which none of its templates declares"],
                &[
                    "does not pass argument \"canary-hash\", which AnalysisTemplate demo-dev/api-slo needs",
                ],
                &[
                    "Rollout demo-dev/web's blueGreen.prePromotionAnalysis runs template \"web-analysis\", and there is no AnalysisTemplate",
                ],
                &[
                    "Rollout demo-dev/web's blueGreen.previewService is \"web-next\", and there is no Service demo-dev/web-next",
                ],
            ],
        );
        // The route named must hold exactly a stable and a canary destination.
        let api = with(
            DESIGN,
            "          weight: 100\n        - destination: {host: api, subset: canary}",
            "          weight: 100\n        - destination: {host: api, subset: stable}",
        );
        let api = with(
            &api,
            "query: 'sum(rate(requests{rollouts_pod_template_hash=\"{{args.canary-hash}}\"",
            "query: 'sum(rate(requests{rollouts_pod_template_hash=\"{{args.hash}}\"",
        );
        assert_found(
            &rollout_references_exist(&objects(&api, WEB)),
            &[
                &[
                    "VirtualService demo-dev/api route \"primary\" routes to subsets [\"stable\", \"stable\"]",
                ],
                &[
                    "AnalysisTemplate demo-dev/api-slo uses {{args.hash}} but declares no argument \"hash\"",
                ],
            ],
        );
        let api = with(
            DESIGN,
            "destinationRule: {name: api,",
            "destinationRule: {name: api-dr,",
        );
        let api = with(
            &api,
            "virtualServices:\n            - name: api\n",
            "virtualServices:\n            - name: api-vs\n",
        );
        assert_found(
            &rollout_references_exist(&objects(&api, WEB)),
            &[
                &["destinationRule is \"api-dr\", and there is no DestinationRule demo-dev/api-dr"],
                &[
                    "names VirtualService \"api-vs\", and there is no VirtualService demo-dev/api-vs",
                ],
            ],
        );
    }

    #[test]
    fn autoscalers_of_missing_targets_or_unrequested_metrics_are_found() {
        let api = with(
            DESIGN,
            "resources: {requests: {cpu: 100m, memory: 128Mi}}",
            "resources: {requests: {cpu: 100m}}",
        );
        let api = with(
            &api,
            "      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}",
            "      resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}\n    - type: External\n      external: {metric: {name: queue}}",
        );
        assert_found(
            &autoscalers_scale_what_exists(&objects(&api, WEB)),
            &[
                &[
                    "scales on memory utilisation, and container \"api\" of Rollout demo-dev/api requests no memory",
                ],
                &["scales on a \"External\" metric"],
            ],
        );
        let api = with(
            DESIGN,
            "kind: Rollout, name: api}",
            "kind: Deployment, name: api}",
        );
        assert_found(
            &autoscalers_scale_what_exists(&objects(&api, WEB)),
            &[&[
                "scales Deployment api (argoproj.io/v1alpha1), and there is no such object in demo-dev",
            ]],
        );
    }

    #[test]
    fn argocd_resetting_what_controllers_set_is_found() {
        // The ignored replicas are a Deployment's, not the Rollout's the autoscaler scales.
        let apps = with(
            APPLICATIONS,
            "    - group: argoproj.io\n      kind: Rollout",
            "    - group: apps\n      kind: Deployment",
        );
        let apps = with(
            &apps,
            "jqPathExpressions: [\".spec.http[].route[].weight\"]",
            "jqPathExpressions: [\".spec.http[].timeout\"]",
        );
        assert_found(
            &argocd_leaves_controller_fields_alone(&applications(&apps), &objects(DESIGN, WEB)),
            &[
                &[
                    "Application api-dev resets /spec/replicas of Rollout demo-dev/api",
                    "HorizontalPodAutoscaler demo-dev/api",
                ],
                &[
                    "Application api-dev resets the weights Rollout demo-dev/api sets on VirtualService demo-dev/api route \"primary\"",
                ],
            ],
        );
        // Pointers to each weight do as well as the jq path; without RespectIgnoreDifferences
        // a sync applies them anyway.
        let apps = with(
            APPLICATIONS,
            "jqPathExpressions: [\".spec.http[].route[].weight\"]",
            "jsonPointers: [/spec/http/1/route/0/weight, /spec/http/1/route/1/weight]",
        );
        let apps = with(
            &apps,
            "syncOptions: [RespectIgnoreDifferences=true]",
            "syncOptions: []",
        );
        assert_found(
            &argocd_leaves_controller_fields_alone(&applications(&apps), &objects(DESIGN, WEB)),
            &[&[
                "Application api-dev ignores differences",
                "syncOptions lack RespectIgnoreDifferences=true",
            ]],
        );
        // One weight left out is still a finding.
        let apps = with(
            APPLICATIONS,
            "jqPathExpressions: [\".spec.http[].route[].weight\"]",
            "jsonPointers: [/spec/http/1/route/0/weight]",
        );
        assert_found(
            &argocd_leaves_controller_fields_alone(&applications(&apps), &objects(DESIGN, WEB)),
            &[&["/spec/http/1/route/1/weight"]],
        );
    }

    #[test]
    fn jq_paths_and_pointers_cover_what_lies_below_them() {
        let path = path(&["spec", "http", "1", "route", "0", "weight"]);
        assert!(covers(
            &jq_steps(".spec.http[].route[].weight").unwrap(),
            &path
        ));
        assert!(covers(&jq_steps(".spec.http[1]").unwrap(), &path));
        assert!(covers(
            &jq_steps(".spec.http[]?.route[]?.weight").unwrap(),
            &path
        ));
        assert!(!covers(
            &jq_steps(".spec.http[0].route[].weight").unwrap(),
            &path
        ));
        assert!(!covers(
            &jq_steps(".spec.tcp[].route[].weight").unwrap(),
            &path
        ));
        assert_eq!(jq_steps(".spec.http[] | select(.name == \"x\")"), None);
        assert!(covers(&pointer_steps("/spec/http/1"), &path));
        assert!(!covers(
            &pointer_steps("/spec/http/1/route/0/weight/x"),
            &path
        ));
    }

    #[test]
    fn an_application_outside_the_project_is_found() {
        let apps = parse(
            "root",
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: api-dev}\nspec: {project: demo}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: rogue}\nspec: {project: default}\n",
        );
        let demo = |_: &str| "demo".to_string();
        assert!(applications_stay_in_the_project(&apps[..1], &demo).is_empty());
        let found = applications_stay_in_the_project(&apps, &demo);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("rogue") && found[0].contains("`default`"),
            "{found:?}"
        );
    }

    #[test]
    fn a_config_map_read_but_not_deployed_is_found() {
        let objects = parse(
            "app",
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: api, namespace: d}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          envFrom: [{configMapRef: {name: api-config}}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: api-config-5f2bk7t9c4, namespace: d}\n",
        );
        let found = config_maps_read_exist(&objects);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("Rollout d/api") && found[0].contains("api-config"));
        let mut fixed = objects.clone();
        fixed[1].value["metadata"]["name"] = "api-config".into();
        assert!(config_maps_read_exist(&fixed).is_empty());
    }
}
