//! Exposure and isolation: `tls_gateway_only` (12), `config_and_namespaces` (17: config in
//! ConfigMaps, a namespace per environment), `least_privilege` (18: identity, mTLS, policies).

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml_ng::Value;

use super::{
    Finding, application, env_entries, plural, pod_labels, pod_selector_too_wide, pod_spec,
    production, service_workloads, services, verdict, workloads,
};
use crate::audit::Context;
use crate::audit::tree::Doc;
use crate::audit::yaml::{
    self, bool_at, get, i64_at, selects, selects_map, seq_at, str_at, string_map,
};
use crate::spec::Mesh;

/// Item 12: every Service internal (no NodePort, LoadBalancer or external IPs), and public
/// traffic only through the environment's gateway (Istio Gateway, or Ingress without a
/// mesh) over TLS, plain HTTP only redirecting. The certificate itself: manual.
pub fn tls_gateway_only(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in &cx.tree.docs {
        if d.is("Service") {
            count += 1;
            let kind = str_at(&d.value, &["spec", "type"]).unwrap_or("ClusterIP");
            if matches!(kind, "NodePort" | "LoadBalancer") {
                fails.push(Finding::fail(
                    d.place(),
                    format!("type {kind} exposes it outside the gateway: use ClusterIP"),
                ));
            }
            if !seq_at(&d.value, &["spec", "externalIPs"]).is_empty() {
                fails.push(Finding::fail(d.place(), "externalIPs bypass the gateway"));
            }
            if seq_at(&d.value, &["spec", "ports"])
                .iter()
                .any(|p| p.get("nodePort").is_some())
            {
                fails.push(Finding::fail(
                    d.place(),
                    "a nodePort opens a port on every node",
                ));
            }
        } else if d.kind().is_empty() {
            // A JSON 6902 patch: the values it sets.
            yaml::walk(&d.value, &mut |path, v| {
                if path.last().map(String::as_str) == Some("type")
                    && matches!(v.as_str(), Some("NodePort" | "LoadBalancer"))
                {
                    fails.push(Finding::fail(
                        d.place(),
                        format!("sets type {}: use ClusterIP", v.as_str().unwrap_or("")),
                    ));
                }
            });
        }
    }
    let public: Vec<_> = cx
        .model
        .environments
        .iter()
        .filter_map(|e| e.host.as_ref().map(|h| (e, h)))
        .collect();
    let routes = services(cx).iter().any(|s| !s.apis.is_empty());
    let mut entrance = None;
    if public.is_empty() || !routes {
        entrance = Some(Finding::na(
            cx.spec,
            "no public host or no `apis`: nothing is exposed, so no gateway",
        ));
    } else if cx.model.platform.mesh == Mesh::Istio {
        let any_gateway =
            cx.tree.objects("Gateway").next().is_some() || cx.layout.generates_kind("Gateway");
        if !any_gateway {
            entrance = Some(Finding::na(
                cx.spec,
                "the blueprints generate no Gateway: nothing is exposed through the mesh",
            ));
        }
        for (env, host) in public.iter().filter(|_| any_gateway) {
            let gateways: Vec<&Doc> = cx
                .tree
                .objects("Gateway")
                .filter(|g| g.env.as_deref() == Some(env.name.as_str()))
                .collect();
            if gateways.is_empty() {
                fails.push(Finding::fail(
                    cx.place_of("Gateway", None, Some(&env.name)),
                    format!("missing: no Gateway for {host}"),
                ));
            }
            for g in &gateways {
                let servers = seq_at(&g.value, &["spec", "servers"]);
                let https = servers.iter().any(|s| {
                    str_at(s, &["port", "protocol"]) == Some("HTTPS")
                        && i64_at(s, &["port", "number"]) == Some(443)
                        && matches!(
                            str_at(s, &["tls", "mode"]),
                            Some("SIMPLE" | "MUTUAL" | "OPTIONAL_MUTUAL")
                        )
                        && str_at(s, &["tls", "credentialName"]).is_some_and(|c| !c.is_empty())
                        && seq_at(s, &["hosts"])
                            .iter()
                            .filter_map(Value::as_str)
                            .any(|h| {
                                let h = h.rsplit('/').next().unwrap_or(h);
                                h == *host || h == "*"
                            })
                });
                if !https {
                    fails.push(Finding::fail(
                        g.place(),
                        format!("no HTTPS server on 443 for {host} with a TLS credential"),
                    ));
                }
                for s in servers {
                    if str_at(s, &["port", "protocol"]) == Some("HTTP")
                        && bool_at(s, &["tls", "httpsRedirect"]) != Some(true)
                    {
                        fails.push(Finding::fail(
                            g.place(),
                            "serves plain HTTP without redirecting to HTTPS",
                        ));
                    }
                }
            }
        }
    } else {
        let any_ingress =
            cx.tree.objects("Ingress").next().is_some() || cx.layout.generates_kind("Ingress");
        if !any_ingress {
            entrance = Some(Finding::na(
                cx.spec,
                "the blueprints generate no Ingress: nothing is exposed",
            ));
        }
        for s in services(cx)
            .iter()
            .filter(|s| !s.apis.is_empty() && any_ingress)
        {
            for (env, _) in &public {
                let found = cx.tree.objects("Ingress").any(|i| {
                    i.service.as_deref() == Some(s.name.as_str())
                        && i.env.as_deref() == Some(env.name.as_str())
                });
                if !found {
                    fails.push(Finding::fail(
                        cx.place_of("Ingress", Some(&s.name), Some(&env.name)),
                        format!("missing: no Ingress for {}'s public routes", s.name),
                    ));
                }
            }
        }
    }
    for i in cx.tree.objects("Ingress") {
        let tls_hosts: BTreeSet<&str> = seq_at(&i.value, &["spec", "tls"])
            .iter()
            .filter(|t| str_at(t, &["secretName"]).is_some_and(|s| !s.is_empty()))
            .flat_map(|t| seq_at(t, &["hosts"]).iter().filter_map(Value::as_str))
            .collect();
        for rule in seq_at(&i.value, &["spec", "rules"]) {
            let host = str_at(rule, &["host"]).unwrap_or("*");
            if !tls_hosts.contains(host) {
                fails.push(Finding::fail(
                    i.place(),
                    format!("{host} is served without TLS (no tls entry with a secretName)"),
                ));
            }
        }
    }
    let entrance_why = match cx.model.platform.mesh {
        Mesh::Istio => "public routes only through the Istio Gateway, HTTPS with HTTP redirecting",
        Mesh::None => "public routes only through TLS Ingresses",
    };
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            if entrance.is_some() {
                format!("{}: ClusterIP only", plural(count, "Service"))
            } else {
                format!(
                    "{}: ClusterIP only; {entrance_why}",
                    plural(count, "Service")
                )
            },
        ),
    );
    if let Some(e) = entrance {
        out.push(e);
    }
    if let Some((env, host)) = public.last().filter(|_| routes) {
        let ns = &env.tls_namespace;
        let secret = &env.tls_secret;
        out.push(Finding::manual(
            "cluster",
            if env.certificate.is_some() {
                format!(
                    "`kubectl get certificate {secret} -n {ns}`: cert-manager issued the certificate for {host} (READY True) into the Secret {secret}"
                )
            } else {
                format!(
                    "`kubectl get secret {secret} -n {ns}`: the certificate for {host} exists (tls.crt, tls.key) and is valid"
                )
            },
        ));
    }
    out
}

/// Item 17: every service reads its own ConfigMap (envFrom) and its declared secrets from
/// Secrets; every environment's overlays (with deploy = "helm": its releases, and the Argo
/// CD Applications that set their namespace) use one namespace, the one service.toml
/// names, and no two environments share one.
pub fn config_and_namespaces(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    for s in services(cx) {
        for d in service_workloads(cx, &s.name) {
            let maps: BTreeSet<&str> = cx
                .tree
                .objects("ConfigMap")
                .filter(|c| {
                    c.service.as_deref() == Some(s.name.as_str())
                        && (c.env.is_none() || c.env == d.env)
                })
                .map(Doc::name)
                .collect();
            let Some(spec) = pod_spec(d) else { continue };
            for c in seq_at(spec, &["containers"]) {
                let refs: Vec<&str> = seq_at(c, &["envFrom"])
                    .iter()
                    .filter_map(|e| str_at(e, &["configMapRef", "name"]))
                    .collect();
                if refs.is_empty() {
                    fails.push(Finding::fail(
                        d.place(),
                        "reads no ConfigMap (envFrom): configuration would live in the image or the manifest",
                    ));
                }
                for r in refs.iter().filter(|r| !maps.contains(**r)) {
                    fails.push(Finding::fail(
                        d.place(),
                        format!("envFrom ConfigMap {r} is not deployed with {}", s.name),
                    ));
                }
                let env = env_entries(c);
                for secret in &s.secrets {
                    let by_ref = env
                        .get(secret)
                        .is_some_and(|e| get(e, &["valueFrom", "secretKeyRef"]).is_some());
                    if !by_ref {
                        fails.push(Finding::fail(
                            d.place(),
                            format!(
                                "{secret} (in `secrets`) is not taken from a Secret (secretKeyRef)"
                            ),
                        ));
                    }
                }
            }
        }
    }
    let mut namespaces: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for k in &cx.tree.kustomizations {
        let Some(env) = k.env.as_deref() else {
            continue;
        };
        if k.aggregate {
            continue;
        }
        match str_at(&k.value, &["namespace"]) {
            None => fails.push(Finding::fail(
                k.file.clone(),
                "sets no namespace: the objects land wherever it is applied",
            )),
            Some(ns) => {
                // The environment's certificate goes where its entrance reads the Secret
                // (the gateway's namespace with Istio), everything else to the environment's.
                let certificate = k.file.ends_with("/_tls/kustomization.yaml");
                if !certificate {
                    namespaces.entry(env).or_default().insert(ns.to_string());
                }
                let Some(e) = cx.model.environments.iter().find(|e| e.name == env) else {
                    continue;
                };
                let (wanted, why) = if certificate {
                    (
                        &e.tls_namespace,
                        format!("{env}'s entrance reads its certificate from"),
                    )
                } else {
                    (
                        &e.namespace,
                        format!("service.toml (and Argo CD) deploy {env} to"),
                    )
                };
                if wanted != ns {
                    fails.push(Finding::fail(
                        k.file.clone(),
                        format!("namespace {ns}, but {why} {wanted}"),
                    ));
                }
            }
        }
    }
    if cx.tree.helm {
        helm_namespaces(cx, &mut namespaces, &mut fails);
    }
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (env, set) in &namespaces {
        for ns in set {
            if let Some(other) = owner.insert(ns, env) {
                fails.push(Finding::fail(
                    cx.place_of("Namespace", None, Some(env)),
                    format!("namespace {ns} is shared with {other}: one namespace per environment"),
                ));
            }
        }
    }
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{}: ConfigMap through envFrom, Secrets by reference; {}, a namespace each",
                plural(services(cx).len(), "service"),
                plural(namespaces.len(), "environment")
            ),
        ),
    );
    // The namespaces admit the output's Pods only on a cluster that provides what it relies
    // on (Pod Security `restricted` with sidecars needs Istio CNI, …): one manual check
    // each, as docs/architecture.md lists them.
    for c in &cx.model.platform.capabilities {
        out.push(Finding::manual(
            "cluster",
            format!(
                "{} ({}) for {}: `{}`",
                c.name.replace('`', ""),
                c.versions.replace('`', ""),
                c.used_for.replace('`', ""),
                c.check
            ),
        ));
    }
    out
}

/// With deploy = "helm" the namespace is the release's: the Argo CD Application's
/// destination must be the environment's namespace, and no rendered object may name
/// another.
fn helm_namespaces<'a>(
    cx: &'a Context,
    namespaces: &mut BTreeMap<&'a str, BTreeSet<String>>,
    fails: &mut Vec<Finding>,
) {
    for env in &cx.model.environments {
        for s in services(cx) {
            let Some(app) = application(cx, s, &env.name) else {
                continue;
            };
            let destination = str_at(&app.value, &["spec", "destination", "namespace"]);
            if destination != Some(env.namespace.as_str()) {
                fails.push(Finding::fail(
                    app.place(),
                    format!(
                        "deploys {} in {} to namespace {}, but service.toml names {}",
                        s.name,
                        env.name,
                        destination.unwrap_or("(none)"),
                        env.namespace
                    ),
                ));
            }
        }
    }
    for d in cx.tree.docs.iter().filter(|d| d.helm) {
        let (Some(env_name), Some(ns)) = (
            d.env.as_deref(),
            str_at(&d.value, &["metadata", "namespace"]),
        ) else {
            continue;
        };
        let Some(env) = cx.model.environments.iter().find(|e| e.name == env_name) else {
            continue;
        };
        namespaces
            .entry(&env.name)
            .or_default()
            .insert(ns.to_string());
        if ns != env.namespace {
            fails.push(Finding::fail(
                d.place(),
                format!(
                    "namespace {ns}, but the release for {env_name} is in {}",
                    env.namespace
                ),
            ));
        }
    }
}

/// Why a NetworkPolicy ingress peer admits more than a service's declared callers, the
/// gateway and Prometheus, if it does.
fn ingress_peer_too_wide(
    cx: &Context,
    peer: &Value,
    callers: &[BTreeMap<String, String>],
    others: &[(String, BTreeMap<String, String>)],
) -> Option<String> {
    if peer.get("ipBlock").is_some() {
        return Some("admits an IP block".into());
    }
    let addons = &cx.model.platform.addons;
    if let Some(ns) = peer.get("namespaceSelector") {
        let name = string_map(ns.get("matchLabels"))
            .get("kubernetes.io/metadata.name")
            .cloned();
        return match name.as_deref() {
            Some(n) if n == addons.gateway.namespace || n == addons.prometheus.namespace => None,
            Some(n) => Some(format!("admits pods of namespace {n}")),
            None => Some("admits pods of any namespace".into()),
        };
    }
    pod_selector_too_wide(
        peer.get("podSelector"),
        callers,
        others,
        |place| format!("admits {place}, which is no declared caller"),
        "admits pods that are no declared caller",
    )
}

/// Item 18: workloads and ServiceAccounts mount no API token, each service runs as its own
/// ServiceAccount, a default-deny NetworkPolicy with per-service policies admitting only
/// declared callers; with Istio: namespace-wide STRICT mTLS, a default-deny
/// AuthorizationPolicy and ALLOW rules only for declared callers, the gateway and
/// Prometheus. Secret access by RBAC: manual.
pub fn least_privilege(cx: &Context) -> Vec<Finding> {
    let mut fails = Vec::new();
    let mut count = 0;
    for d in workloads(cx) {
        let Some(spec) = pod_spec(d) else { continue };
        count += 1;
        if bool_at(spec, &["automountServiceAccountToken"]) != Some(false) {
            fails.push(Finding::fail(
                d.place(),
                "automountServiceAccountToken is not false: every pod gets an API token",
            ));
        }
    }
    for sa in cx.tree.objects("ServiceAccount") {
        if bool_at(&sa.value, &["automountServiceAccountToken"]) != Some(false) {
            fails.push(Finding::fail(
                sa.place(),
                "automountServiceAccountToken is not false",
            ));
        }
    }
    for d in cx.tree.patches() {
        yaml::walk(&d.value, &mut |path, v| {
            if path.last().map(String::as_str) == Some("automountServiceAccountToken")
                && v.as_bool() != Some(false)
            {
                fails.push(Finding::fail(
                    d.place(),
                    "sets automountServiceAccountToken to something other than false",
                ));
            }
        });
    }
    let accounts: BTreeSet<(Option<&str>, &str)> = cx
        .tree
        .objects("ServiceAccount")
        .map(|sa| (sa.service.as_deref(), sa.name()))
        .collect();
    for s in services(cx) {
        for d in service_workloads(cx, &s.name) {
            let Some(spec) = pod_spec(d) else { continue };
            match str_at(spec, &["serviceAccountName"]) {
                None | Some("default") => fails.push(Finding::fail(
                    d.place(),
                    "runs as the namespace's default ServiceAccount: give it its own identity",
                )),
                Some(sa) if !accounts.contains(&(Some(s.name.as_str()), sa)) => {
                    fails.push(Finding::fail(
                        d.place(),
                        format!("ServiceAccount {sa} is not deployed with {}", s.name),
                    ));
                }
                _ => {}
            }
        }
    }

    // Network: default deny, then only declared callers, the gateway and Prometheus.
    let policies: Vec<&Doc> = cx.tree.objects("NetworkPolicy").collect();
    let deny = policies.iter().any(|p| {
        let spec = p.value.get("spec");
        let all_pods = spec.is_some_and(|s| {
            selects(s.get("podSelector"), &BTreeMap::new())
                && string_map(get(s, &["podSelector", "matchLabels"])).is_empty()
                && seq_at(s, &["podSelector", "matchExpressions"]).is_empty()
        });
        let types: Vec<&str> = spec
            .map(|s| seq_at(s, &["policyTypes"]))
            .unwrap_or_default()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        all_pods
            && types.contains(&"Ingress")
            && types.contains(&"Egress")
            && spec.is_some_and(|s| {
                seq_at(s, &["ingress"]).is_empty() && seq_at(s, &["egress"]).is_empty()
            })
    });
    if !deny {
        fails.push(Finding::fail(
            cx.place_of("NetworkPolicy", None, None),
            "no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules): undeclared traffic flows",
        ));
    }
    let pods: Vec<(String, BTreeMap<String, String>)> =
        workloads(cx).map(|d| (d.place(), pod_labels(d))).collect();
    for s in services(cx) {
        let own: Vec<BTreeMap<String, String>> = service_workloads(cx, &s.name)
            .into_iter()
            .map(pod_labels)
            .collect();
        let callers: Vec<BTreeMap<String, String>> = s
            .callers
            .iter()
            .flat_map(|c| service_workloads(cx, c))
            .map(pod_labels)
            .collect();
        let others: Vec<(String, BTreeMap<String, String>)> = pods
            .iter()
            .filter(|(_, l)| !callers.contains(l))
            .cloned()
            .collect();
        for p in &policies {
            let selector = get(&p.value, &["spec", "podSelector"]);
            let specific = !string_map(selector.and_then(|s| s.get("matchLabels"))).is_empty()
                || selector.is_some_and(|s| !seq_at(s, &["matchExpressions"]).is_empty());
            if !specific || !own.iter().any(|l| selects(selector, l)) {
                continue;
            }
            for (i, rule) in seq_at(&p.value, &["spec", "ingress"]).iter().enumerate() {
                let from = seq_at(rule, &["from"]);
                if from.is_empty() {
                    fails.push(Finding::fail(
                        p.place(),
                        format!("ingress rule {} admits every source to {}", i + 1, s.name),
                    ));
                }
                for peer in from {
                    if let Some(why) = ingress_peer_too_wide(cx, peer, &callers, &others) {
                        fails.push(Finding::fail(p.place(), why));
                    }
                }
            }
        }
    }

    let mut extra = Vec::new();
    if cx.model.platform.mesh == Mesh::Istio {
        let strict = cx.tree.objects("PeerAuthentication").any(|p| {
            get(&p.value, &["spec", "selector"]).is_none()
                && str_at(&p.value, &["spec", "mtls", "mode"]) == Some("STRICT")
        });
        if !strict {
            fails.push(Finding::fail(
                cx.place_of("PeerAuthentication", None, None),
                "no namespace-wide PeerAuthentication with mTLS STRICT: plain-text traffic is accepted",
            ));
        }
        // The one plaintext port bulkhead opens: the broker's monitoring port, for KEDA's
        // operator outside the mesh (counters only; its NetworkPolicy admits only KEDA).
        let monitoring = cx.model.platform.broker.as_ref().map(|b| {
            (
                b.name,
                vec![
                    "spec".to_string(),
                    "portLevelMtls".into(),
                    b.ports.monitor.to_string(),
                    "mode".into(),
                ],
            )
        });
        for p in cx.tree.docs.iter() {
            if !p.is("PeerAuthentication") && !p.is("DestinationRule") && !p.kind().is_empty() {
                continue;
            }
            let broker = monitoring.as_ref().filter(|(name, _)| {
                p.is("PeerAuthentication")
                    && str_at(
                        &p.value,
                        &["spec", "selector", "matchLabels", "app.kubernetes.io/name"],
                    ) == Some(name)
            });
            yaml::walk(&p.value, &mut |path, v| {
                if path.last().map(String::as_str) == Some("mode")
                    && matches!(v.as_str(), Some("PERMISSIVE" | "DISABLE"))
                    && !(v.as_str() == Some("PERMISSIVE")
                        && broker.is_some_and(|(_, allowed)| path == allowed.as_slice()))
                {
                    fails.push(Finding::fail(
                        p.place(),
                        format!(
                            "{} is {}: traffic without mTLS",
                            path.join("."),
                            v.as_str().unwrap_or("")
                        ),
                    ));
                }
            });
        }
        let authz: Vec<&Doc> = cx.tree.objects("AuthorizationPolicy").collect();
        let default_deny = authz.iter().any(|p| {
            get(&p.value, &["spec", "selector"]).is_none()
                && str_at(&p.value, &["spec", "action"]).is_none_or(|a| a == "ALLOW")
                && seq_at(&p.value, &["spec", "rules"]).is_empty()
        });
        if !default_deny {
            fails.push(Finding::fail(
                cx.place_of("AuthorizationPolicy", None, None),
                "no default-deny AuthorizationPolicy (no selector, no rules): every identity is admitted",
            ));
        }
        let addons = &cx.model.platform.addons;
        let gateway_ns = format!("/ns/{}/", addons.gateway.namespace);
        for p in &authz {
            let action = str_at(&p.value, &["spec", "action"]).unwrap_or("ALLOW");
            let rules = seq_at(&p.value, &["spec", "rules"]);
            if action != "ALLOW" || rules.is_empty() {
                continue;
            }
            let selector = get(&p.value, &["spec", "selector", "matchLabels"]);
            if selector.is_none() {
                fails.push(Finding::fail(
                    p.place(),
                    "a namespace-wide ALLOW with rules admits its sources to every workload",
                ));
                continue;
            }
            let Some(s) = services(cx).iter().find(|s| {
                service_workloads(cx, &s.name)
                    .into_iter()
                    .any(|d| selects_map(selector, &pod_labels(d)))
            }) else {
                continue;
            };
            for rule in rules {
                let from = seq_at(rule, &["from"]);
                if from.is_empty() {
                    fails.push(Finding::fail(
                        p.place(),
                        format!("a rule without `from` admits every identity to {}", s.name),
                    ));
                }
                for source in from.iter().filter_map(|f| f.get("source")) {
                    let m = source.as_mapping();
                    for key in m
                        .into_iter()
                        .flat_map(|m| m.keys())
                        .filter_map(Value::as_str)
                    {
                        match key {
                            "principals" => {
                                for pr in seq_at(source, &["principals"])
                                    .iter()
                                    .filter_map(Value::as_str)
                                {
                                    let caller =
                                        s.callers.iter().any(|c| pr.ends_with(&format!("/sa/{c}")));
                                    if !caller && !pr.contains(&gateway_ns) {
                                        fails.push(Finding::fail(
                                            p.place(),
                                            format!("admits {pr}, which does not call {} (`calls` in service.toml)", s.name),
                                        ));
                                    }
                                }
                            }
                            "namespaces" => {
                                for ns in seq_at(source, &["namespaces"])
                                    .iter()
                                    .filter_map(Value::as_str)
                                {
                                    if ns != addons.prometheus.namespace {
                                        fails.push(Finding::fail(
                                            p.place(),
                                            format!(
                                                "admits every workload of namespace {ns} to {}",
                                                s.name
                                            ),
                                        ));
                                    }
                                }
                            }
                            other => fails.push(Finding::fail(
                                p.place(),
                                format!("admits sources by {other}, not by identity"),
                            )),
                        }
                    }
                }
            }
        }
    } else {
        extra.push(Finding::na(
            cx.spec,
            "mesh = none: no mTLS or AuthorizationPolicy; NetworkPolicies alone limit traffic",
        ));
    }
    broker_least_privilege(cx, &mut fails);
    let mut out = verdict(
        fails,
        Finding::pass(
            cx.tree.manifests.clone(),
            format!(
                "{} without API tokens, own ServiceAccounts, default-deny{}, ingress only from declared callers",
                plural(count, "workload"),
                if cx.model.platform.mesh == Mesh::Istio {
                    ", mTLS STRICT"
                } else {
                    ""
                }
            ),
        ),
    );
    out.extend(extra);
    if let (Some(prod), Some(s)) = (production(cx), services(cx).first()) {
        out.push(Finding::manual(
            "cluster",
            format!(
                "`kubectl auth can-i get secrets -n {ns} --as=system:serviceaccount:{ns}:{}` answers no (likewise every service)",
                s.name,
                ns = prod.namespace
            ),
        ));
    }
    out
}

/// The event broker admits exactly the services that publish or consume: the client port
/// of its NetworkPolicy, each service's egress, its AuthorizationPolicy (with a mesh), and
/// nats.conf, where a service publishes only what it owns, subscribes only to what it
/// consumes and reads no other service's inbox.
fn broker_least_privilege(cx: &Context, fails: &mut Vec<Finding>) {
    let Some(b) = &cx.model.platform.broker else {
        return;
    };
    let pods =
        |name: &str| BTreeMap::from([("app.kubernetes.io/name".to_string(), name.to_string())]);
    let participants: BTreeSet<&str> = b.participants.iter().map(String::as_str).collect();
    let on_client = |rule: &Value| {
        let ports = seq_at(rule, &["ports"]);
        ports.is_empty()
            || ports.iter().any(|p| {
                str_at(p, &["port"]) == Some("client")
                    || i64_at(p, &["port"]) == Some(i64::from(b.ports.client))
            })
    };
    let controller = cx
        .model
        .platform
        .addons
        .jetstream_controller
        .namespace
        .as_str();
    // The broker's own policy (the namespace's default-deny selects it too, admitting nothing).
    for np in cx.tree.objects("NetworkPolicy") {
        let own = str_at(
            &np.value,
            &[
                "spec",
                "podSelector",
                "matchLabels",
                "app.kubernetes.io/name",
            ],
        );
        if own != Some(b.name) {
            continue;
        }
        let mut admitted = BTreeSet::new();
        for rule in seq_at(&np.value, &["spec", "ingress"])
            .iter()
            .filter(|r| on_client(r))
        {
            let from = seq_at(rule, &["from"]);
            if from.is_empty() {
                fails.push(Finding::fail(
                    np.place(),
                    "admits every source to the broker's client port",
                ));
            }
            for peer in from {
                if let Some(ns) = peer.get("namespaceSelector") {
                    let name = string_map(ns.get("matchLabels"))
                        .get("kubernetes.io/metadata.name")
                        .cloned();
                    if name.as_deref() != Some(controller) {
                        fails.push(Finding::fail(
                            np.place(),
                            format!(
                                "admits pods of namespace {} to the broker's client port",
                                name.as_deref().unwrap_or("any")
                            ),
                        ));
                    }
                    continue;
                }
                if peer.get("ipBlock").is_some() {
                    fails.push(Finding::fail(
                        np.place(),
                        "admits an IP block to the broker's client port",
                    ));
                }
                for s in services(cx) {
                    if selects(peer.get("podSelector"), &pods(&s.name)) {
                        admitted.insert(s.name.as_str());
                    }
                }
            }
        }
        for s in admitted.difference(&participants) {
            fails.push(Finding::fail(
                np.place(),
                format!("admits {s} to the broker, which neither publishes nor consumes"),
            ));
        }
        for s in participants.difference(&admitted) {
            fails.push(Finding::fail(
                np.place(),
                format!("keeps {s} from the broker, though it publishes or consumes"),
            ));
        }
    }
    for s in services(cx) {
        for np in cx.tree.objects("NetworkPolicy").filter(|np| {
            np.service.as_deref() == Some(s.name.as_str())
                && selects(get(&np.value, &["spec", "podSelector"]), &pods(&s.name))
        }) {
            let reaches = seq_at(&np.value, &["spec", "egress"]).iter().any(|rule| {
                seq_at(rule, &["to"]).iter().any(|peer| {
                    peer.get("namespaceSelector").is_none()
                        && peer.get("podSelector").is_some()
                        && selects(peer.get("podSelector"), &pods(b.name))
                })
            });
            let should = participants.contains(s.name.as_str());
            if reaches != should {
                fails.push(Finding::fail(
                    np.place(),
                    if should {
                        format!(
                            "{} publishes or consumes, but may not reach the broker",
                            s.name
                        )
                    } else {
                        format!(
                            "{} may reach the broker, though it neither publishes nor consumes",
                            s.name
                        )
                    },
                ));
            }
        }
    }
    for e in &cx.model.environments {
        let Some(here) = &e.broker else { continue };
        if cx.model.platform.mesh != Mesh::Istio {
            continue;
        }
        let mut want: BTreeSet<&str> = here
            .participant_principals
            .iter()
            .map(String::as_str)
            .collect();
        want.extend(here.controller_principal.as_deref());
        for p in cx.tree.objects("AuthorizationPolicy").filter(|p| {
            p.env.as_deref() == Some(e.name.as_str())
                && selects_map(
                    get(&p.value, &["spec", "selector", "matchLabels"]),
                    &pods(b.name),
                )
        }) {
            let client = b.ports.client.to_string();
            let mut have = BTreeSet::new();
            for rule in seq_at(&p.value, &["spec", "rules"]) {
                let ports: Vec<&str> = seq_at(rule, &["to"])
                    .iter()
                    .flat_map(|t| seq_at(t, &["operation", "ports"]))
                    .filter_map(|v| v.as_str())
                    .collect();
                if !ports.is_empty() && !ports.contains(&client.as_str()) {
                    continue;
                }
                for src in seq_at(rule, &["from"]) {
                    have.extend(
                        seq_at(src, &["source", "principals"])
                            .iter()
                            .filter_map(|v| v.as_str()),
                    );
                }
            }
            if have != want {
                fails.push(Finding::fail(
                    p.place(),
                    format!(
                        "admits {} on the broker's client port, not the services that publish or consume and the JetStream controller",
                        have.into_iter().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
    }
    let place = "deploy/platform/nats.conf";
    let users = match std::fs::read_to_string(cx.tree.root.join(place)) {
        Ok(text) => crate::audit::nats::users(&text),
        Err(e) => Err(format!("cannot be read: {e}")),
    };
    let users = match users {
        Ok(users) => users,
        Err(why) => {
            fails.push(Finding::fail(place, why));
            return;
        }
    };
    let inbox = |name: &str| format!("_INBOX.{name}.>");
    for s in services(cx) {
        let Some(user) = users.iter().find(|u| u.user == s.name) else {
            if participants.contains(s.name.as_str()) {
                fails.push(Finding::fail(
                    place,
                    format!(
                        "{} publishes or consumes, but has no broker identity",
                        s.name
                    ),
                ));
            }
            continue;
        };
        let topics = |list: &[String]| -> BTreeSet<String> {
            list.iter()
                .filter(|t| !t.starts_with('$') && !t.starts_with("_INBOX"))
                .cloned()
                .collect()
        };
        let published = topics(&user.permissions.publish.allow);
        let subscribed = topics(&user.permissions.subscribe.allow);
        if published != s.publishes.iter().cloned().collect() {
            fails.push(Finding::fail(
                place,
                format!(
                    "{} may publish {}, but owns {}",
                    s.name,
                    list(&published),
                    list(&s.publishes)
                ),
            ));
        }
        if subscribed != s.consumes.iter().cloned().collect() {
            fails.push(Finding::fail(
                place,
                format!(
                    "{} may subscribe to {}, but consumes {}",
                    s.name,
                    list(&subscribed),
                    list(&s.consumes)
                ),
            ));
        }
        for other in user
            .permissions
            .subscribe
            .allow
            .iter()
            .filter(|t| t.starts_with("_INBOX"))
        {
            if *other != inbox(&s.name) {
                fails.push(Finding::fail(place, format!("{} may read the inbox {other}: other services' replies and pulled messages", s.name)));
            }
        }
    }
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let items: Vec<&str> = items.into_iter().map(String::as_str).collect();
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}
