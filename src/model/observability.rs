//! What a service's telemetry is judged by, derived once: the PromQL selectors its
//! dashboards and alerts share, the SLO alert rules of each environment and the runbook
//! they link to. The Kustomize blueprints, the dashboards and the Helm values all read
//! these; no template assembles a query or a threshold of its own.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;

use crate::spec::Mesh;

/// The label the PodMonitor or ServiceMonitor copies from a Rollout's pods
/// (`rollouts-pod-template-hash`): which version answered.
pub const VERSION_LABEL: &str = "rollouts_pod_template_hash";

/// Windows of the recorded 5xx ratio the burn-rate alerts compare.
const WINDOWS: [&str; 5] = ["5m", "30m", "1h", "6h", "3d"];

/// One service's request metrics as PromQL, in one namespace (or the dashboards'
/// `$namespace` variable).
///
/// mesh = istio: the sidecar's metrics as the destination (server side) reports them,
/// `istio_requests_total` (status in `response_code`) and
/// `istio_request_duration_milliseconds_bucket`, in MILLISECONDS; every version shares
/// the canonical service (the pods' `app.kubernetes.io/name`). mesh = none: the service's own
/// OpenTelemetry HTTP server metrics, `http_server_request_duration_seconds_count` /
/// `_bucket` (status in `http_response_status_code`), in SECONDS; the job is the service.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Metrics {
    /// The label selector of the service's request series (without braces).
    pub selector: String,
    /// The request counter, selected.
    pub requests: String,
    /// The request counter restricted to 5xx answers.
    pub errors: String,
    /// The latency histogram's buckets, selected.
    pub buckets: String,
    /// The label holding the HTTP status.
    pub code: &'static str,
    /// The label that tells versions apart (a Rollout's pod-template hash; empty for a
    /// Deployment's pods).
    pub track: &'static str,
    /// Grafana's unit of the latency (`ms` or `s`).
    pub latency_unit: &'static str,
    /// The p95 latency objective in `latency_unit` (a number).
    pub latency_slo: serde_json::Value,
    /// `latency_slo` as PromQL writes it.
    pub latency_slo_text: String,
    /// What the request metrics are, in words (dashboard descriptions).
    pub source: &'static str,
}

impl Metrics {
    pub fn new(mesh: Mesh, namespace: &str, service: &str, latency_p95_ms: i64) -> Self {
        let istio = mesh == Mesh::Istio;
        let (selector, counter, histogram) = if istio {
            (
                format!(
                    "reporter=\"destination\",destination_workload_namespace=\"{namespace}\",destination_canonical_service=\"{service}\""
                ),
                "istio_requests_total",
                "istio_request_duration_milliseconds_bucket",
            )
        } else {
            (
                format!("namespace=\"{namespace}\",job=\"{service}\""),
                "http_server_request_duration_seconds_count",
                "http_server_request_duration_seconds_bucket",
            )
        };
        let code = if istio {
            "response_code"
        } else {
            "http_response_status_code"
        };
        // Milliseconds as they are with the mesh; seconds without it (a fraction).
        #[allow(clippy::cast_precision_loss)] // latencies are far below 2^52 ms
        let (latency_slo, latency_slo_text) = if istio {
            (
                serde_json::Value::from(latency_p95_ms),
                latency_p95_ms.to_string(),
            )
        } else {
            let seconds = latency_p95_ms as f64 / 1000.0;
            (serde_json::Value::from(seconds), decimal(seconds))
        };
        Self {
            requests: format!("{counter}{{{selector}}}"),
            errors: format!("{counter}{{{selector},{code}=~\"5..\"}}"),
            buckets: format!("{histogram}{{{selector}}}"),
            selector,
            code,
            track: VERSION_LABEL,
            latency_unit: if istio { "ms" } else { "s" },
            latency_slo,
            latency_slo_text,
            source: if istio {
                "istio_requests_total and istio_request_duration_milliseconds_bucket (milliseconds) as the Istio sidecar reports them (reporter=destination)"
            } else {
                "the service's own OpenTelemetry HTTP server metrics, http_server_request_duration_seconds (seconds)"
            },
        }
    }
}

/// The platform's overview dashboard: every service of one namespace at once, queried by
/// its service label, so the dashboard is the same size for 3 services or 3,000 (a
/// ConfigMap holds at most 1 MiB). Each query yields one series per service, labelled
/// `service` (the label the SLO alerts carry), restricted to the `$service` variable.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Overview {
    /// The label of the request metrics that names the service
    /// (`destination_canonical_service` with Istio, `job` without).
    pub service_label: &'static str,
    /// The `$service` variable's query: every service with request metrics here.
    pub services: String,
    /// Requests per second, by service.
    pub requests: String,
    /// The share of requests answered with a 5xx, by service (0 with requests but no errors).
    pub error_ratio: String,
    /// Latency percentiles (p50, p95, p99) by service, in `latency_unit`.
    pub latency: [String; 3],
    /// The share of requests not answered with a 5xx over the dashboard's time range.
    pub availability: String,
    /// Alerts of the service firing now (its SLO burn-rate and latency alerts, down,
    /// unreachable, no metrics target); 0 for a service with requests and no alert.
    pub alerts: String,
    /// The ten busiest services' requests per second over time.
    pub requests_top: String,
    /// The ten highest 5xx ratios over time.
    pub error_ratio_top: String,
    /// The ten slowest p99 latencies over time.
    pub latency_p99_top: String,
    /// Grafana's unit of the latency (`ms` or `s`).
    pub latency_unit: &'static str,
    /// The link from a service's row to its own dashboard (a Grafana data link:
    /// `${__data.fields.service}` is the row's service). Its uid is `{platform}-{service}`
    /// when every service's is; otherwise the dashboards tagged with the platform and the
    /// service.
    pub service_link: String,
    /// What the request metrics are, in words (dashboard descriptions).
    pub source: &'static str,
}

impl Overview {
    pub fn new<'a>(
        mesh: Mesh,
        platform: &str,
        services: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let m = Metrics::new(mesh, "$namespace", "", 0);
        let label = if mesh == Mesh::Istio {
            "destination_canonical_service"
        } else {
            "job"
        };
        // Every service of the namespace (the one-service selector without its service).
        let here = m.selector.replace(&format!(",{label}=\"\""), "");
        let selected = format!("{here},{label}=~\"$service\"");
        let counter = m.requests.split('{').next().unwrap_or_default();
        let histogram = m.buckets.split('{').next().unwrap_or_default();
        let by_service =
            |x: String| format!("label_replace({x}, \"service\", \"$1\", \"{label}\", \"(.*)\")");
        let rate = |selector: &str, window: &str| {
            format!(
                "sum by (service) ({})",
                by_service(format!("rate({counter}{{{selector}}}[{window}])"))
            )
        };
        let ratio = |window: &str| {
            let all = rate(&selected, window);
            let errors = rate(&format!("{selected},{}=~\"5..\"", m.code), window);
            format!("({errors} or 0 * {all}) / {all}")
        };
        let quantile = |q: &str| {
            format!(
                "histogram_quantile({q}, sum by (service, le) ({}))",
                by_service(format!("rate({histogram}{{{selected}}}[$__rate_interval])"))
            )
        };
        let requests = rate(&selected, "$__rate_interval");
        let error_ratio = ratio("$__rate_interval");
        let latency = [quantile("0.50"), quantile("0.95"), quantile("0.99")];
        let plain = services
            .into_iter()
            .all(|s| super::dashboard_uid(platform, s) == format!("{platform}-{s}"));
        let vars = "${__url_time_range}&var-namespace=${namespace}&var-datasource=${datasource}";
        let service_link = if plain {
            format!("/d/{platform}-${{__data.fields.service}}?{vars}")
        } else {
            format!("/dashboards?tag={platform}&tag=${{__data.fields.service}}")
        };
        Self {
            service_label: label,
            services: format!("label_values({counter}{{{here}}}, {label})"),
            availability: format!("1 - {}", ratio("$__range")),
            alerts: format!(
                "count by (service) (ALERTS{{alertstate=\"firing\",namespace=\"$namespace\",service=~\"$service\"}}) or 0 * {requests}"
            ),
            requests_top: format!("topk(10, {requests})"),
            error_ratio_top: format!("topk(10, {error_ratio})"),
            latency_p99_top: format!("topk(10, {})", latency[2]),
            requests,
            error_ratio,
            latency,
            latency_unit: m.latency_unit,
            service_link,
            source: m.source,
        }
    }
}

/// A fraction as the output writes it: at least one decimal, no exponent (`0.001`, `99.0`).
pub fn decimal(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// One group of a PrometheusRule, in the operator's field names.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RuleGroup {
    /// `{service}-slo-recordings` or `{service}-slo-alerts`.
    pub name: String,
    /// Its rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// A recording rule (`record`) or an alert (`alert`), in the operator's field names (what
/// a rule lacks is none or empty).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Rule {
    /// The series a recording rule writes.
    pub record: Option<String>,
    /// The alert's name.
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the condition must hold before the alert fires.
    #[serde(rename = "for")]
    pub hold: Option<&'static str>,
    /// Labels the rule adds to its series or alerts.
    pub labels: IndexMap<&'static str, String>,
    /// An alert's summary, description and runbook URL (empty for recording rules).
    pub annotations: IndexMap<&'static str, String>,
}

/// A multi-window burn-rate alert (Google SRE workbook, "Alerting on SLOs").
struct Burn {
    name: &'static str,
    factor: &'static str,
    long: &'static str,
    short: &'static str,
    pages: bool,
    spent: &'static str,
    over: &'static str,
    left: &'static str,
}

const BURNS: [Burn; 3] = [
    Burn {
        name: "Fast",
        factor: "14.4",
        long: "1h",
        short: "5m",
        pages: true,
        spent: "2 %",
        over: "1 hour",
        left: "about 2 days",
    },
    Burn {
        name: "Medium",
        factor: "6",
        long: "6h",
        short: "30m",
        pages: true,
        spent: "5 %",
        over: "6 hours",
        left: "about 5 days",
    },
    Burn {
        name: "Slow",
        factor: "1",
        long: "3d",
        short: "6h",
        pages: false,
        spent: "10 %",
        over: "3 days",
        left: "30 days",
    },
];

/// What the alert rules of one service in one environment are drawn from.
pub struct AlertInput<'a> {
    pub mesh: Mesh,
    pub service: &'a str,
    pub env: &'a str,
    pub namespace: &'a str,
    pub availability: f64,
    pub error_budget: f64,
    pub latency_p95_ms: i64,
    /// Severity of the fast and medium burns: `critical` pages (production), `warning` is a
    /// ticket.
    pub page_severity: &'static str,
    pub runbook_url: &'a str,
    /// The kind of workload running it here (`Deployment` or `Rollout`): its ReplicaSets'
    /// owner.
    pub workload_kind: &'a str,
}

/// The SLO alert rules of one service in one environment: the 5xx ratio recorded over each
/// window, three burn-rate alerts, a p95 latency alert and an alert when no metrics target
/// is healthy (without which the others cannot fire).
pub fn alert_rules(input: &AlertInput) -> Vec<RuleGroup> {
    let AlertInput {
        mesh,
        service,
        env,
        namespace: ns,
        ..
    } = *input;
    let m = Metrics::new(mesh, ns, service, input.latency_p95_ms);
    let at = || {
        IndexMap::from([
            ("namespace", ns.to_string()),
            ("service", service.to_string()),
        ])
    };
    let recordings = WINDOWS
        .iter()
        .map(|w| Rule {
            record: Some(format!("service:request_error_ratio:rate{w}")),
            alert: None,
            // Per version, so a bad canary is not diluted by the stable pods; no errors
            // but some requests is 0, no requests at all is no series.
            expr: format!(
                "(sum by ({VERSION_LABEL}) (rate({e}[{w}])) or 0 * sum by ({VERSION_LABEL}) (rate({r}[{w}]))) / sum by ({VERSION_LABEL}) (rate({r}[{w}]))",
                e = m.errors,
                r = m.requests
            ),
            hold: None,
            labels: at(),
            annotations: IndexMap::new(),
        })
        .collect();

    let budget = decimal(input.error_budget);
    let availability = decimal(input.availability);
    let series = format!("{{namespace=\"{ns}\",service=\"{service}\"}}");
    let runbook = || ("runbook_url", input.runbook_url.to_string());
    let mut alerts: Vec<Rule> = BURNS
        .iter()
        .map(|b| {
            let threshold = format!("({} * {budget})", b.factor);
            Rule {
                record: None,
                alert: Some(format!("SLOErrorBudgetBurn{}", b.name)),
                expr: format!(
                    "service:request_error_ratio:rate{long}{series} > {threshold} and service:request_error_ratio:rate{short}{series} > {threshold}",
                    long = b.long,
                    short = b.short
                ),
                hold: None,
                labels: IndexMap::from([
                    (
                        "severity",
                        if b.pages { input.page_severity } else { "warning" }.to_string(),
                    ),
                    ("slo", "availability".to_string()),
                ]),
                annotations: IndexMap::from([
                    (
                        "summary",
                        format!(
                            "{service} in {env} is burning its error budget {}x too fast",
                            b.factor
                        ),
                    ),
                    (
                        "description",
                        format!(
                            "{{{{ $value | humanizePercentage }}}} of {service}'s requests in {ns} failed with a 5xx over the last {} (the SLO of {availability} % allows {budget}). At this rate {} of the 30-day error budget is gone in {}, all of it in {}.",
                            b.long, b.spent, b.over, b.left
                        ),
                    ),
                    runbook(),
                ]),
            }
        })
        .collect();
    let labelled = |severity: &str, slo: Option<&str>| {
        let mut labels = IndexMap::from([("severity", severity.to_string())]);
        if let Some(slo) = slo {
            labels.insert("slo", slo.to_string());
        }
        labels.extend(at());
        labels
    };
    let shown = if mesh == Mesh::Istio {
        "{{ $value | humanize }} ms"
    } else {
        "{{ $value | humanizeDuration }}"
    };
    alerts.push(Rule {
        record: None,
        alert: Some("SLOLatencyP95High".into()),
        expr: format!(
            "histogram_quantile(0.95, sum by (le) (rate({}[5m]))) > {}",
            m.buckets, m.latency_slo_text
        ),
        hold: Some("10m"),
        labels: labelled("warning", Some("latency")),
        annotations: IndexMap::from([
            (
                "summary",
                format!(
                    "{service} in {env} answers slower than its p95 SLO of {} ms",
                    input.latency_p95_ms
                ),
            ),
            (
                "description",
                format!(
                    "The 95th percentile of {service}'s request duration in {ns} has been {shown} for 10 minutes, above the SLO of {} {}.",
                    m.latency_slo_text, m.latency_unit
                ),
            ),
            runbook(),
        ]),
    });
    let monitor = if mesh == Mesh::Istio {
        "PodMonitor"
    } else {
        "ServiceMonitor"
    };
    alerts.push(Rule {
        record: None,
        alert: Some("MetricsTargetMissing".into()),
        expr: format!("absent(up{{namespace=\"{ns}\",job=\"{service}\"}} == 1)"),
        hold: Some("10m"),
        labels: labelled("warning", None),
        annotations: IndexMap::from([
            (
                "summary",
                format!("Prometheus scrapes no healthy metrics target of {service} in {env}"),
            ),
            (
                "description",
                format!(
                    "No up{{job=\"{service}\"}} series equal to 1 in {ns} for 10 minutes: the {monitor} {service} is not selected, the pods are down, or scraping fails. Until this is fixed, its dashboards show no data and its SLO alerts cannot fire."
                ),
            ),
            runbook(),
        ]),
    });
    // A service that is completely down: its own sidecar's series (reporter="destination")
    // and its `up` vanish with it, and a crash-looping container keeps neither. What is
    // left are its ready replicas (kube-state-metrics, through the ReplicaSets its
    // Deployment or Rollout owns) and, with a mesh, what its callers and the gateway see.
    let kind = input.workload_kind;
    alerts.push(Rule {
        record: None,
        alert: Some("ServiceDown".into()),
        expr: format!(
            "(sum(kube_replicaset_status_ready_replicas{{namespace=\"{ns}\"}} * on (namespace, replicaset) group_left kube_replicaset_owner{{namespace=\"{ns}\",owner_kind=\"{kind}\",owner_name=\"{service}\"}}) or vector(0)) < 1"
        ),
        hold: Some("3m"),
        labels: labelled(input.page_severity, None),
        annotations: IndexMap::from([
            ("summary", format!("{service} in {env} has no ready pod")),
            (
                "description",
                format!(
                    "No pod of the {kind} {service} in {ns} has been ready for 3 minutes: every request to it fails. Its own metrics are gone with it, so this alert comes from kube-state-metrics."
                ),
            ),
            runbook(),
        ]),
    });
    if mesh == Mesh::Istio {
        let seen = format!(
            "reporter=\"source\",destination_service_namespace=\"{ns}\",destination_service_name=\"{service}\""
        );
        alerts.push(Rule {
            record: None,
            alert: Some("ServiceUnreachable".into()),
            expr: format!(
                "sum(rate(istio_requests_total{{{seen},response_code=~\"5..|0\"}}[5m])) / sum(rate(istio_requests_total{{{seen}}}[5m])) > 0.5"
            ),
            hold: Some("3m"),
            labels: labelled(input.page_severity, None),
            annotations: IndexMap::from([
                (
                    "summary",
                    format!("Most requests to {service} in {env} fail before they reach it"),
                ),
                (
                    "description",
                    format!(
                        "{{{{ $value | humanizePercentage }}}} of the requests {service}'s callers and the gateway sent it in {ns} failed over 5 minutes, as their own sidecars report (reporter=\"source\"): it is down or unreachable, even where its own metrics are silent."
                    ),
                ),
                runbook(),
            ]),
        });
    }
    vec![
        RuleGroup {
            name: format!("{service}-slo-recordings"),
            rules: recordings,
        },
        RuleGroup {
            name: format!("{service}-slo-alerts"),
            rules: alerts,
        },
    ]
}

/// An Argo Rollouts AnalysisTemplate: a new version passes while its own requests meet the
/// SLO, measured on the same metrics as the dashboards and alerts, restricted to its pods
/// by their pod-template hash (the argument `canary-hash`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Analysis {
    /// The template's name, `{service}-slo`.
    pub name: String,
    /// Its `spec`, in the controller's field names.
    pub spec: AnalysisSpec,
}

/// `spec` of an AnalysisTemplate.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalysisSpec {
    /// The argument the Rollout passes: the new version's pod-template hash.
    pub args: Vec<AnalysisArg>,
    /// The measurements; failing one beyond its limit aborts the rollout.
    pub metrics: Vec<AnalysisMetric>,
}

/// An argument of an AnalysisTemplate.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AnalysisArg {
    /// `canary-hash`.
    pub name: &'static str,
}

/// One measurement of an analysis, in the controller's field names.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisMetric {
    /// `success-rate` or `latency-p95`.
    pub name: &'static str,
    /// Time between measurements.
    pub interval: &'static str,
    /// How many measurements.
    pub count: i64,
    /// Failed measurements tolerated before the analysis fails.
    pub failure_limit: i64,
    /// The condition each measurement must meet (the SLO).
    pub success_condition: String,
    /// Where the measurement comes from.
    pub provider: MetricProvider,
}

/// `provider` of a measurement.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MetricProvider {
    /// A Prometheus query.
    pub prometheus: PrometheusQuery,
}

/// A Prometheus query of a measurement.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PrometheusQuery {
    /// Prometheus' address.
    pub address: &'static str,
    /// The PromQL; `{{args.canary-hash}}` is the controller's placeholder.
    pub query: String,
}

/// Prometheus as the Prometheus Operator exposes it (kube-prometheus-stack in `monitoring`).
pub const PROMETHEUS_URL: &str = "http://prometheus-operated.monitoring.svc.cluster.local:9090";

/// The SLO analysis of one service in one namespace.
pub fn analysis(
    mesh: Mesh,
    namespace: &str,
    service: &str,
    availability: f64,
    latency_p95_ms: i64,
) -> Analysis {
    let m = Metrics::new(mesh, namespace, service, latency_p95_ms);
    let version = format!("{VERSION_LABEL}=\"{{{{args.canary-hash}}}}\"");
    let only = |series: &str| series.replacen('}', &format!(",{version}}}"), 1);
    let (requests, errors, buckets) = (only(&m.requests), only(&m.errors), only(&m.buckets));
    // Percent to a ratio, rounded away from float noise (99.9 / 100 = 0.9990000000000001).
    let ratio = (availability / 100.0 * 1e9).round() / 1e9;
    let metric = |name, success_condition, query| AnalysisMetric {
        name,
        interval: "1m",
        count: 5,
        failure_limit: 1,
        success_condition,
        provider: MetricProvider {
            prometheus: PrometheusQuery {
                address: PROMETHEUS_URL,
                query,
            },
        },
    };
    Analysis {
        name: format!("{service}-slo"),
        spec: AnalysisSpec {
            args: vec![AnalysisArg {
                name: "canary-hash",
            }],
            metrics: vec![
                // No requests yet is no failure: 1.
                metric(
                    "success-rate",
                    format!("result[0] >= {}", decimal(ratio)),
                    format!(
                        "1 - ((sum(rate({errors}[2m])) or vector(0)) / sum(rate({requests}[2m]))) or vector(1)"
                    ),
                ),
                // No observations give NaN: not a failure either.
                metric(
                    "latency-p95",
                    format!("isNaN(result[0]) || result[0] <= {}", m.latency_slo_text),
                    format!(
                        "histogram_quantile(0.95, sum by (le) (rate({buckets}[2m]))) or vector(0)"
                    ),
                ),
            ],
        },
    }
}

/// Where a service's runbook is: its section of docs/architecture.md, as a browsable URL
/// when the repository is a web (or SSH-to-web) Git URL, else as a path in the repository.
pub fn runbook_url(repository: &str, revision: &str, service: &str) -> String {
    let anchor = format!("docs/architecture.md#runbook-for-{service}");
    let mut repo = repository
        .strip_suffix(".git")
        .unwrap_or(repository)
        .to_string();
    if let Some(rest) = repo.strip_prefix("git@") {
        repo = format!("https://{}", rest.replace(':', "/"));
    }
    if repo.starts_with("https://") || repo.starts_with("http://") {
        format!("{repo}/blob/{revision}/{anchor}")
    } else {
        anchor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_urls_follow_the_repository() {
        assert_eq!(
            runbook_url("git@git.example.com:a/b.git", "trunk", "orders"),
            "https://git.example.com/a/b/blob/trunk/docs/architecture.md#runbook-for-orders"
        );
        assert_eq!(
            runbook_url("https://github.com/a/b", "main", "x"),
            "https://github.com/a/b/blob/main/docs/architecture.md#runbook-for-x"
        );
        assert_eq!(
            runbook_url("file:///srv/git/b.git", "main", "x"),
            "docs/architecture.md#runbook-for-x"
        );
    }

    #[test]
    fn decimals_keep_one_digit() {
        assert_eq!(decimal(99.0), "99.0");
        assert_eq!(decimal(0.001), "0.001");
        assert_eq!(decimal(1.0), "1.0");
        assert_eq!(decimal(0.05), "0.05");
    }
}
