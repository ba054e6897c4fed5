//! What the cluster must provide for the output to run: one list, which
//! docs/architecture.md shows as a table and `bulkhead audit` names among its manual
//! checks, each with a command that shows it is there.

use schemars::JsonSchema;
use serde::Serialize;

use super::{Addons, Service, tls::Tls};
use crate::spec::Mesh;

/// One capability of the cluster the output relies on.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Capability {
    /// What must run (Markdown).
    pub name: String,
    /// What of the output relies on it (Markdown).
    pub used_for: String,
    /// The versions the output assumes.
    pub versions: String,
    /// A command that shows it is there.
    pub check: String,
}

fn capability(name: &str, used_for: &str, versions: &str, check: &str) -> Capability {
    Capability {
        name: name.into(),
        used_for: used_for.into(),
        versions: versions.into(),
        check: check.into(),
    }
}

/// What the platform needs: `rollouts` when some environment runs an Argo Rollouts
/// Rollout, `broker` and `backlog` when there is an event broker and a consumer scaling on
/// its backlog; `tcp_egress` the plain-TCP hosts services reach outside (Istio must give
/// each its own address); cert-manager and its issuer when it makes the certificates.
pub fn capabilities(
    mesh: Mesh,
    addons: &Addons,
    services: &[Service],
    broker: bool,
    backlog: bool,
    tls: &Tls,
) -> Vec<Capability> {
    let istio = mesh == Mesh::Istio;
    let rollouts = services.iter().any(|s| !s.workload_in_base);
    let mut out = vec![capability(
        "Argo CD",
        "the Applications in `argocd/`",
        "2.9 or later, 3.x (`RespectIgnoreDifferences`, `jqPathExpressions`; the root Applications' inline Kustomize `patches`)",
        "kubectl get crd applications.argoproj.io appprojects.argoproj.io",
    )];
    if rollouts {
        out.push(capability(
            "Argo Rollouts controller and its `kubectl argo rollouts` plugin",
            "Rollouts and AnalysisTemplates (canary, blue-green)",
            if istio {
                "1.7 or later (Istio subset-level traffic splitting, several VirtualServices)"
            } else {
                "1.7 or later"
            },
            "kubectl get crd rollouts.argoproj.io analysistemplates.argoproj.io",
        ));
    }
    out.push(capability(
        "Prometheus Operator (kube-prometheus-stack, release `prometheus`)",
        &format!(
            "PodMonitors, ServiceMonitors, PrometheusRules, and the analyses' queries at `http://prometheus-operated.{}.svc.cluster.local:9090`",
            addons.prometheus.namespace
        ),
        "monitoring.coreos.com/v1",
        "kubectl get crd podmonitors.monitoring.coreos.com servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com",
    ));
    out.push(capability(
        "Grafana's dashboard sidecar, watching every namespace",
        "the dashboard ConfigMaps (label `grafana_dashboard`)",
        "kube-prometheus-stack's Grafana (`grafana.sidecar.dashboards.searchNamespace: ALL`)",
        &format!(
            "kubectl get deployment -n {} -l app.kubernetes.io/name=grafana -o jsonpath='{{..env[?(@.name==\"NAMESPACE\")].value}}'",
            addons.prometheus.namespace
        ),
    ));
    if istio {
        out.push(capability(
            "Istio with the CNI node agent",
            "mTLS, VirtualServices, DestinationRules, AuthorizationPolicies; Pod Security `restricted` admits sidecars only with Istio CNI (the classic `istio-init` container needs NET_ADMIN and NET_RAW)",
            "networking.istio.io/v1, security.istio.io/v1 (Istio 1.22 or later)",
            "kubectl get daemonset -A -l k8s-app=istio-cni-node",
        ));
    } else {
        out.push(capability(
            "ingress-nginx",
            "the Ingresses of public paths",
            "networking.k8s.io/v1",
            "kubectl get ingressclass nginx",
        ));
    }
    out.push(capability(
        "kube-state-metrics",
        "replicas and resources on the dashboards; `ServiceDown` (no ready pod, read from the ReplicaSets' `kube_replicaset_owner`)",
        "2.x",
        "kubectl get pods -A -l app.kubernetes.io/name=kube-state-metrics",
    ));
    if broker {
        let c = &addons.jetstream_controller;
        out.push(capability(
            &format!(
                "NATS JetStream controller (NACK), in the namespace `{}` with the ServiceAccount `{}`{}",
                c.namespace,
                addons.jetstream_controller_service_account,
                if istio { ", in the mesh (sidecar injected)" } else { "" }
            ),
            "the broker's Streams, Consumers and Account",
            "jetstream.nats.io/v1beta2 (NACK 0.15 or later)",
            "kubectl get crd streams.jetstream.nats.io consumers.jetstream.nats.io accounts.jetstream.nats.io",
        ));
    }
    if backlog {
        out.push(capability(
            &format!(
                "KEDA, its operator in the namespace `{}`",
                addons.keda.namespace
            ),
            "the ScaledObjects of consumers scaling on their backlog (`nats-jetstream` scaler)",
            "keda.sh/v1alpha1 (KEDA 2.12 or later)",
            "kubectl get crd scaledobjects.keda.sh",
        ));
    }
    if let Some(issuer) = &tls.issuer {
        // A namespaced Issuer must be where the Certificates are (`model::tls`).
        let (kind, check) = match (issuer.kind, istio) {
            (crate::spec::IssuerKind::ClusterIssuer, _) => (
                "ClusterIssuer".to_owned(),
                format!("kubectl get clusterissuer {}", issuer.name),
            ),
            (crate::spec::IssuerKind::Issuer, true) => (
                format!("Issuer (in `{}`)", addons.gateway.namespace),
                format!(
                    "kubectl get issuer {} -n {}",
                    issuer.name, addons.gateway.namespace
                ),
            ),
            (crate::spec::IssuerKind::Issuer, false) => (
                "Issuer (in each environment's namespace)".to_owned(),
                format!("kubectl get issuer {} -A", issuer.name),
            ),
        };
        out.push(capability(
            &format!("cert-manager, with the {kind} `{}` ready", issuer.name),
            "the Certificates of the environments' hosts (`tls.mode = \"cert-manager\"`): it issues and renews each environment's TLS Secret",
            "cert-manager.io/v1 (cert-manager 1.x)",
            &format!("kubectl get crd certificates.cert-manager.io && {check}"),
        ));
    }
    let tcp: Vec<String> = services
        .iter()
        .flat_map(|s| &s.egress.destinations)
        .filter(|d| d.protocol == "TCP")
        .map(|d| format!("{}:{}", d.host, d.port))
        .collect();
    if istio && !tcp.is_empty() {
        out.push(capability(
            "Istio DNS proxying with address allocation (`ISTIO_META_DNS_CAPTURE` and `ISTIO_META_DNS_AUTO_ALLOCATE`)",
            &format!(
                "plain TCP egress ({}): each host gets its own address; without it the ServiceEntry's TCP port takes every connection on that port in the namespace, whatever its address",
                tcp.join(", ")
            ),
            "Istio 1.22 or later",
            "kubectl get configmap istio -n istio-system -o jsonpath='{.data.mesh}'",
        ));
    }
    out
}
