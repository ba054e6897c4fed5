//! How requests reach one service in one environment, derived once: its release tracks and
//! their sizes, the mesh routes (views, split weights), and who may call it. The Kustomize
//! blueprints and the Helm values both read these; no template does the arithmetic.

use schemars::JsonSchema;
use serde::Serialize;

use crate::spec::{Mesh, Strategy};

/// The pod label that tells release tracks apart.
pub const TRACK_LABEL: &str = "app.kubernetes.io/track";

/// How requests reach a service in one environment.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Traffic {
    /// The track of the main Deployment's pods: `blue` with blue-green, else `stable`.
    pub track: &'static str,
    /// The second Deployment of a canary or blue-green release, if any.
    pub second_track: Option<SecondTrack>,
    /// The canary's share of traffic and pods, with release.strategy canary.
    pub canary: Option<Canary>,
    /// The service's in-cluster host name, `{service}.{namespace}.svc.cluster.local`.
    pub host: String,
    /// With the mesh: the VirtualServices (inside the mesh, and the public one when the
    /// service has `apis` and the environment a host). Empty without the mesh.
    pub virtual_services: Vec<View>,
    /// The HTTP routes every VirtualService of the service carries, in order.
    pub routes: Vec<Route>,
    /// The service's own mesh identity.
    pub principal: String,
    /// Mesh identities of the declared callers.
    pub caller_principals: Vec<String>,
}

/// The second Deployment of a release.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SecondTrack {
    /// `canary` or `green`.
    pub name: &'static str,
    /// The Deployment's name, `{service}-{name}`.
    pub deployment: String,
    /// Its replica count.
    pub replicas: i64,
}

/// A canary's share.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Canary {
    /// Percent of requests to the canary (`release.weight`).
    pub weight: i64,
    /// Percent of requests to the stable track, `100 - weight`.
    pub stable_weight: i64,
    /// Canary pods. With the mesh the split is exact, so it needs capacity for its share
    /// only; without it the Service spreads requests over all pods, so its share of the
    /// pods is its share of the traffic.
    pub replicas: i64,
    /// The canary's share of all pods in percent, rounded down (what it gets without a mesh).
    pub pod_share: i64,
}

/// One VirtualService.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct View {
    /// `{service}`, or `{service}-public` for the public paths.
    pub name: String,
    /// The hosts it routes: the in-cluster name, or the environment's public host.
    pub hosts: Vec<String>,
    /// `mesh` inside the mesh, or the environment's Gateway (`{namespace}/{platform}-gateway`).
    pub gateways: Vec<String>,
    /// Path prefixes matched (the public `apis`); empty inside the mesh.
    pub prefixes: Vec<String>,
}

/// One HTTP route of a VirtualService.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Route {
    /// `default`, `canary-header` or `canary-split`.
    pub name: &'static str,
    /// Matches only requests with the header `x-canary: true`.
    pub header: bool,
    /// Where its requests go.
    pub to: Vec<Destination>,
}

/// Where a route sends requests.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Destination {
    /// The DestinationRule subset (a track), or none for the whole service.
    pub subset: Option<&'static str>,
    /// Percent of the route's requests, when it splits them.
    pub weight: Option<i64>,
}

/// What one service in one environment is routed from.
pub struct TrafficInput<'a> {
    pub mesh: Mesh,
    pub platform: &'a str,
    pub service: &'a str,
    pub namespace: &'a str,
    pub host: Option<&'a str>,
    pub apis: &'a [String],
    pub callers: &'a [String],
    pub strategy: Strategy,
    pub weight: Option<i64>,
    pub replicas: i64,
}

impl Traffic {
    pub fn new(input: &TrafficInput) -> Self {
        let service = input.service;
        let canary = (input.strategy == Strategy::Canary).then(|| {
            let weight = input
                .weight
                .unwrap_or(crate::spec::defaults::WEIGHT.default);
            let replicas = canary_replicas(input.mesh, input.replicas, weight);
            Canary {
                weight,
                stable_weight: 100 - weight,
                replicas,
                pod_share: replicas * 100 / (input.replicas + replicas),
            }
        });
        let second_track = match input.strategy {
            Strategy::Rolling => None,
            Strategy::Canary => Some(("canary", canary.as_ref().map_or(1, |c| c.replicas))),
            Strategy::BlueGreen => Some(("green", input.replicas)),
        }
        .map(|(name, replicas)| SecondTrack {
            name,
            deployment: format!("{service}-{name}"),
            replicas,
        });
        let host = format!("{service}.{}.svc.cluster.local", input.namespace);
        let routes = match &canary {
            Some(c) => vec![
                Route {
                    name: "canary-header",
                    header: true,
                    to: vec![Destination {
                        subset: Some("canary"),
                        weight: None,
                    }],
                },
                Route {
                    name: "canary-split",
                    header: false,
                    to: vec![
                        Destination {
                            subset: Some("stable"),
                            weight: Some(c.stable_weight),
                        },
                        Destination {
                            subset: Some("canary"),
                            weight: Some(c.weight),
                        },
                    ],
                },
            ],
            None => vec![Route {
                name: "default",
                header: false,
                to: vec![Destination {
                    subset: None,
                    weight: None,
                }],
            }],
        };
        let mut virtual_services = Vec::new();
        if input.mesh == Mesh::Istio {
            virtual_services.push(View {
                name: service.to_string(),
                hosts: vec![host.clone()],
                gateways: vec!["mesh".into()],
                prefixes: Vec::new(),
            });
            if let (false, Some(public)) = (input.apis.is_empty(), input.host) {
                virtual_services.push(View {
                    name: format!("{service}-public"),
                    hosts: vec![public.to_string()],
                    gateways: vec![format!("{}/{}-gateway", input.namespace, input.platform)],
                    prefixes: input.apis.to_vec(),
                });
            }
        }
        Self {
            track: if input.strategy == Strategy::BlueGreen {
                "blue"
            } else {
                "stable"
            },
            second_track,
            canary,
            host,
            virtual_services,
            routes,
            principal: principal(input.namespace, service),
            caller_principals: input
                .callers
                .iter()
                .map(|c| principal(input.namespace, c))
                .collect(),
        }
    }
}

/// The canary track's replicas: its weight's share of `replicas`, at least 1.
fn canary_replicas(mesh: Mesh, replicas: i64, weight: i64) -> i64 {
    let n = if mesh == Mesh::Istio {
        (replicas * weight + 99) / 100
    } else {
        (replicas * weight + (100 - weight) / 2) / (100 - weight)
    };
    n.max(1)
}

/// A workload's mesh identity: `cluster.local/ns/{namespace}/sa/{service account}`.
pub fn principal(namespace: &str, service_account: &str) -> String {
    format!("cluster.local/ns/{namespace}/sa/{service_account}")
}

/// The request paths an AuthorizationPolicy admits for public `apis` prefixes: a prefix
/// ending in `/` as `prefix*`, any other as itself and `prefix/*` (never `/orders*`, which
/// would admit `/orders-admin`).
pub fn authorized_paths(apis: &[String]) -> Vec<String> {
    apis.iter()
        .flat_map(|api| {
            if api.ends_with('/') {
                vec![format!("{api}*")]
            } else {
                vec![api.clone(), format!("{api}/*")]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canary_replicas_follow_the_split() {
        // Mesh: capacity for the share, rounded up.
        assert_eq!(canary_replicas(Mesh::Istio, 4, 10), 1);
        assert_eq!(canary_replicas(Mesh::Istio, 10, 35), 4);
        // No mesh: c / (r + c) ≈ weight.
        assert_eq!(canary_replicas(Mesh::None, 4, 50), 4);
        assert_eq!(canary_replicas(Mesh::None, 9, 10), 1);
    }

    #[test]
    fn public_paths_never_widen_a_prefix() {
        let apis = vec!["/orders/".to_string(), "/catalog".to_string()];
        assert_eq!(
            authorized_paths(&apis),
            ["/orders/*", "/catalog", "/catalog/*"]
        );
    }
}
