//! How requests reach one service in one environment, derived once: the workload that runs
//! it (a Deployment, or an Argo Rollouts Rollout for canary and blue-green releases) and its
//! strategy, the mesh routes, and who may call it. The Kustomize blueprints and the Helm
//! values both read these; no template does the arithmetic.

use schemars::JsonSchema;
use serde::Serialize;

use super::release::Step;
use crate::spec::{Mesh, Strategy};

/// The name of a canary's managed route in every VirtualService.
pub const PRIMARY_ROUTE: &str = "primary";
/// How long the old version of a blue-green release stays up after promotion: an abort or
/// undo within it switches back at once.
pub const SCALE_DOWN_DELAY_SECONDS: i64 = 600;

/// How requests reach a service in one environment.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Traffic {
    /// The workload that runs the service here: a `Deployment` (rolling updates) or an Argo
    /// Rollouts `Rollout` (canary, blue-green).
    pub workload: Workload,
    /// The Rollout's strategy, with release.strategy canary or blue-green.
    pub rollout: Option<Rollout>,
    /// The service's in-cluster host name, `{service}.{namespace}.svc.cluster.local`.
    pub host: String,
    /// With the mesh: the VirtualServices (inside the mesh, and the public one when the
    /// service has `apis` and the environment a host). Empty without the mesh.
    pub virtual_services: Vec<View>,
    /// The HTTP routes every VirtualService of the service carries, in order.
    pub routes: Vec<Route>,
    /// The DestinationRule subsets a canary's traffic is split between (the controller adds
    /// each version's `rollouts-pod-template-hash` to their labels); empty otherwise.
    pub subsets: Vec<&'static str>,
    /// The service's own mesh identity.
    pub principal: String,
    /// Mesh identities of the declared callers.
    pub caller_principals: Vec<String>,
}

/// The kind of object that runs a service's pods.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Workload {
    /// `apps/v1` or `argoproj.io/v1alpha1`.
    pub api_version: &'static str,
    /// `Deployment` or `Rollout`.
    pub kind: &'static str,
    /// The API group (`apps`, `argoproj.io`), as Argo CD names it in `ignoreDifferences`.
    pub group: &'static str,
    /// The pod label its controller sets to tell versions apart (`pod-template-hash`,
    /// `rollouts-pod-template-hash`): what spreading pods by version keys on.
    pub hash_label: &'static str,
}

impl Default for Workload {
    fn default() -> Self {
        Self::DEPLOYMENT
    }
}

impl Workload {
    pub const DEPLOYMENT: Self = Self {
        api_version: "apps/v1",
        kind: "Deployment",
        group: "apps",
        hash_label: "pod-template-hash",
    };
    pub const ROLLOUT: Self = Self {
        api_version: "argoproj.io/v1alpha1",
        kind: "Rollout",
        group: "argoproj.io",
        hash_label: "rollouts-pod-template-hash",
    };
}

/// A Rollout's strategy and what it refers to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rollout {
    /// `spec.strategy`, exactly as the Argo Rollouts controller reads it (`canary` or
    /// `blueGreen`).
    pub strategy: RolloutStrategy,
    /// The AnalysisTemplate that judges a new version by the service's SLO.
    pub analysis_template: String,
    /// The Service that reaches the new version before promotion (blue-green only).
    pub preview_service: Option<String>,
}

/// `spec.strategy` of a Rollout: one of the two.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStrategy {
    /// The canary strategy, with release.strategy canary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryStrategy>,
    /// The blue-green strategy, with release.strategy blue-green.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blue_green: Option<BlueGreenStrategy>,
}

/// `spec.strategy.canary` of a Rollout.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CanaryStrategy {
    /// With the mesh: the VirtualServices and DestinationRule the controller shifts weights
    /// in; without it the canary's share of requests is its share of the pods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_routing: Option<TrafficRouting>,
    /// The steps, as the controller reads them.
    pub steps: Vec<serde_json::Value>,
}

/// `trafficRouting` of a canary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TrafficRouting {
    /// Istio's VirtualServices and DestinationRule.
    pub istio: IstioRouting,
}

/// `trafficRouting.istio` of a canary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IstioRouting {
    /// The VirtualServices, each with the route whose weights the controller sets.
    pub virtual_services: Vec<ManagedRoutes>,
    /// The DestinationRule whose subsets tell the versions apart.
    pub destination_rule: DestinationRuleRef,
}

/// The DestinationRule of a canary and its two subsets.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleRef {
    /// The DestinationRule's name (the service's).
    pub name: String,
    /// The subset of the new version.
    pub canary_subset_name: &'static str,
    /// The subset of the current version.
    pub stable_subset_name: &'static str,
}

/// A VirtualService and the routes in it the controller manages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ManagedRoutes {
    /// The VirtualService's name.
    pub name: String,
    /// Its managed routes (`primary`).
    pub routes: Vec<&'static str>,
}

/// `spec.strategy.blueGreen` of a Rollout.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    /// The Service that carries the traffic (the service's own).
    pub active_service: String,
    /// The Service that reaches the new version before promotion, `{service}-preview`.
    pub preview_service: String,
    /// Promote as soon as the pre-promotion analysis passes.
    pub auto_promotion_enabled: bool,
    /// The analysis the new version must pass before it gets the traffic (on what reaches
    /// it through the preview Service).
    pub pre_promotion_analysis: serde_json::Value,
    /// The analysis of the new version under the real traffic, after promotion: a failure
    /// aborts and switches back to the old version, still running.
    pub post_promotion_analysis: serde_json::Value,
    /// How long the old version keeps running after promotion.
    pub scale_down_delay_seconds: i64,
}

/// One VirtualService.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct View {
    /// `{service}`, or `{service}-public` for the public paths.
    pub name: String,
    /// The public paths' VirtualService: a delegate of the environment's route table
    /// (`GatewayRoute`), without hosts or gateways of its own.
    pub public: bool,
    /// The hosts it routes: the in-cluster name; none for the public delegate.
    pub hosts: Vec<String>,
    /// `mesh`; none for the public delegate.
    pub gateways: Vec<String>,
}

/// One route of an environment's public route table: the VirtualService bound to the
/// environment's Gateway and host, which hands each `apis` prefix to the service's public
/// VirtualService (Istio delegation). One table orders every service's prefixes, most
/// specific first, as a gateway routes; VirtualServices merged on one host would be
/// evaluated in creation order instead.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GatewayRoute {
    /// `{service}-{n}`: the service's n-th `apis` entry.
    pub name: String,
    /// The service answering it.
    pub service: String,
    /// The `apis` entry.
    pub prefix: String,
    /// How the prefix matches whole path segments: `/orders` is the path `/orders` and
    /// everything under `/orders/` (never `/orders-admin`); a prefix ending in `/` (the
    /// root `/` included) is itself a segment boundary.
    pub matches: Vec<UriMatch>,
    /// The service's public VirtualService, `{service}-public`.
    pub delegate: String,
}

/// One `uri` match of a route: exactly one of the two.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UriMatch {
    /// The whole path.
    pub exact: Option<String>,
    /// The path's beginning.
    pub prefix: Option<String>,
}

/// The public route table of an environment: every service's `apis`, the longest prefix
/// first (ties cannot happen: validation refuses a prefix two services share).
pub fn gateway_routes<'a>(
    services: impl IntoIterator<Item = (&'a str, &'a [String])>,
) -> Vec<GatewayRoute> {
    let mut out: Vec<GatewayRoute> = services
        .into_iter()
        .flat_map(|(service, apis)| {
            apis.iter().enumerate().map(move |(i, api)| GatewayRoute {
                name: format!("{service}-{}", i + 1),
                service: service.to_string(),
                prefix: api.clone(),
                matches: if api.ends_with('/') {
                    vec![UriMatch {
                        exact: None,
                        prefix: Some(api.clone()),
                    }]
                } else {
                    vec![
                        UriMatch {
                            exact: Some(api.clone()),
                            prefix: None,
                        },
                        UriMatch {
                            exact: None,
                            prefix: Some(format!("{api}/")),
                        },
                    ]
                },
                delegate: format!("{service}-public"),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        let key = |r: &GatewayRoute| r.prefix.trim_end_matches('/').len();
        key(b).cmp(&key(a)).then_with(|| a.prefix.cmp(&b.prefix))
    });
    out
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
    pub service: &'a str,
    pub namespace: &'a str,
    pub host: Option<&'a str>,
    pub apis: &'a [String],
    pub callers: &'a [String],
    pub strategy: Strategy,
    /// A canary's steps (`Release::steps`).
    pub steps: &'a [Step],
}

impl Traffic {
    pub fn new(input: &TrafficInput) -> Self {
        let service = input.service;
        let mesh = input.mesh == Mesh::Istio;
        let analysis_template = format!("{service}-slo");
        let host = format!("{service}.{}.svc.cluster.local", input.namespace);
        let public = match (input.apis.is_empty(), input.host) {
            (false, Some(public)) if mesh => Some(public),
            _ => None,
        };
        let canary = input.strategy == Strategy::Canary;
        let rollout = match input.strategy {
            Strategy::Rolling => None,
            Strategy::Canary => {
                let mut managed = vec![ManagedRoutes {
                    name: service.to_string(),
                    routes: vec![PRIMARY_ROUTE],
                }];
                if public.is_some() {
                    managed.push(ManagedRoutes {
                        name: format!("{service}-public"),
                        routes: vec![PRIMARY_ROUTE],
                    });
                }
                Some(Rollout {
                    strategy: RolloutStrategy {
                        canary: Some(CanaryStrategy {
                            traffic_routing: mesh.then(|| TrafficRouting {
                                istio: IstioRouting {
                                    virtual_services: managed,
                                    destination_rule: DestinationRuleRef {
                                        name: service.to_string(),
                                        canary_subset_name: "canary",
                                        stable_subset_name: "stable",
                                    },
                                },
                            }),
                            steps: rollout_steps(input.steps, &analysis_template),
                        }),
                        blue_green: None,
                    },
                    analysis_template,
                    preview_service: None,
                })
            }
            Strategy::BlueGreen => {
                let preview = format!("{service}-preview");
                // The same analysis before promotion and after it.
                let analysis = analysis_step(&analysis_template)["analysis"].clone();
                Some(Rollout {
                    strategy: RolloutStrategy {
                        canary: None,
                        blue_green: Some(BlueGreenStrategy {
                            active_service: service.to_string(),
                            preview_service: preview.clone(),
                            auto_promotion_enabled: true,
                            pre_promotion_analysis: analysis.clone(),
                            post_promotion_analysis: analysis,
                            scale_down_delay_seconds: SCALE_DOWN_DELAY_SECONDS,
                        }),
                    },
                    analysis_template,
                    preview_service: Some(preview),
                })
            }
        };
        let routes = if canary && mesh {
            vec![
                Route {
                    name: "canary-header",
                    header: true,
                    to: vec![Destination {
                        subset: Some("canary"),
                        weight: None,
                    }],
                },
                Route {
                    name: PRIMARY_ROUTE,
                    header: false,
                    to: vec![
                        Destination {
                            subset: Some("stable"),
                            weight: Some(100),
                        },
                        Destination {
                            subset: Some("canary"),
                            weight: Some(0),
                        },
                    ],
                },
            ]
        } else {
            vec![Route {
                name: "default",
                header: false,
                to: vec![Destination {
                    subset: None,
                    weight: None,
                }],
            }]
        };
        let mut virtual_services = Vec::new();
        if mesh {
            virtual_services.push(View {
                name: service.to_string(),
                public: false,
                hosts: vec![host.clone()],
                gateways: vec!["mesh".into()],
            });
            if public.is_some() {
                virtual_services.push(View {
                    name: format!("{service}-public"),
                    public: true,
                    hosts: Vec::new(),
                    gateways: Vec::new(),
                });
            }
        }
        Self {
            workload: if rollout.is_some() {
                Workload::ROLLOUT
            } else {
                Workload::DEPLOYMENT
            },
            rollout,
            host,
            virtual_services,
            routes,
            subsets: if canary && mesh {
                vec!["stable", "canary"]
            } else {
                Vec::new()
            },
            principal: principal(input.namespace, service),
            caller_principals: input
                .callers
                .iter()
                .map(|c| principal(input.namespace, c))
                .collect(),
        }
    }
}

/// The analysis step of a Rollout: the service's SLO template, judging the newest pods.
pub fn analysis_step(template: &str) -> serde_json::Value {
    serde_json::json!({
        "analysis": {
            "templates": [{ "templateName": template }],
            "args": [{ "name": "canary-hash", "valueFrom": { "podTemplateHashValue": "Latest" } }],
        }
    })
}

/// A canary's steps as the controller reads them: each analysis step runs the service's
/// SLO template on the newest pods.
fn rollout_steps(steps: &[Step], template: &str) -> Vec<serde_json::Value> {
    steps
        .iter()
        .map(|step| match step {
            Step::Analysis => analysis_step(template),
            other => serde_json::to_value(other).unwrap_or_default(),
        })
        .collect()
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
    fn the_route_table_puts_the_most_specific_prefix_first() {
        let web = vec!["/".to_string()];
        let orders = vec!["/api/orders".to_string(), "/api/".to_string()];
        let routes = gateway_routes([("web", web.as_slice()), ("orders", orders.as_slice())]);
        let order: Vec<&str> = routes.iter().map(|r| r.prefix.as_str()).collect();
        assert_eq!(order, ["/api/orders", "/api/", "/"]);
        assert_eq!(routes[0].matches[0].exact.as_deref(), Some("/api/orders"));
        assert_eq!(routes[0].matches[1].prefix.as_deref(), Some("/api/orders/"));
        assert_eq!(routes[2].matches.len(), 1);
        assert_eq!(routes[2].delegate, "web-public");
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
