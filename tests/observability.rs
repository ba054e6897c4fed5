//! Observability and the picture of the platform, judged with the real tools: every PromQL
//! expression (dashboards, alert rules and the Rollouts' analyses) passes promtool and the
//! alerts fire on synthetic series exactly when they should (Istio's milliseconds,
//! OpenTelemetry's seconds); an analysis holds a new version to the SLO on its own requests;
//! the dashboards are well-formed Grafana JSON; the monitors select the services' pods and
//! label each series with the version that answered; the
//! graph (`bulkhead graph`, Mermaid and DOT through Graphviz) and docs/architecture.md
//! describe the platform exactly as service.toml declares it.
//!
//! Tools: promtool (Debian package `prometheus`; BULKHEAD_PROMTOOL, the conformance cache
//! .cache/conformance/prometheus/usr/bin/promtool, or PATH) and Graphviz `dot` (Debian
//! package `graphviz`; BULKHEAD_DOT or PATH). A missing tool fails the test, it never skips.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value as Json, json};
use serde_yaml_ng::Value as Yaml;

use crate::common::{
    EXAMPLES, bulkhead, example, generate, kustomize, platform, read_tree, root, yaml_docs,
};

// ---------------------------------------------------------------------------------------
// Tools

fn tool(env_var: &str, candidates: &[PathBuf], name: &str, package: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{env_var}={} does not exist", p.display());
        return p;
    }
    for c in candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "`{name}` is required for this test and was not found (set {env_var}, or install the \
         Debian package `{package}`: apt-get install -y {package}; for promtool, \
         scripts/conformance also unpacks it into .cache/conformance)"
    );
}

fn promtool() -> PathBuf {
    tool(
        "BULKHEAD_PROMTOOL",
        &[root().join(".cache/conformance/prometheus/usr/bin/promtool")],
        "promtool",
        "prometheus",
    )
}

fn dot() -> PathBuf {
    tool("BULKHEAD_DOT", &[], "dot", "graphviz")
}

/// `promtool test rules` on the unit test file `test` (rule files relative to `dir`); the
/// test fails when promtool does.
fn promtool_test(promtool: &Path, dir: &Path, test: &serde_json::Value) {
    let file = dir.join("test.yaml");
    std::fs::write(&file, serde_json::to_string_pretty(test).unwrap()).unwrap();
    run(Command::new(promtool)
        .current_dir(dir)
        .arg("test")
        .arg("rules")
        .arg(&file));
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------
// Platforms under test: the examples, and fleet without a mesh.

fn fleet_without_mesh() -> tempfile::TempDir {
    let text = std::fs::read_to_string(example("fleet")).unwrap();
    platform(&text.replacen("[platform]\n", "[platform]\nmesh = \"none\"\n", 1))
}

/// The fleet example with its mesh and without it: (label, service.toml, with Istio).
fn both_fleets(none: &tempfile::TempDir) -> [(&'static str, PathBuf, bool); 2] {
    [
        ("fleet", example("fleet"), true),
        (
            "fleet (mesh = none)",
            none.path().join("service.toml"),
            false,
        ),
    ]
}

/// (label, service.toml) of every platform checked here.
fn platforms() -> (Vec<(String, PathBuf)>, tempfile::TempDir) {
    let none = fleet_without_mesh();
    let mut all: Vec<(String, PathBuf)> = EXAMPLES
        .iter()
        .map(|e| ((*e).to_string(), example(e)))
        .collect();
    all.push((
        "fleet (mesh = none)".into(),
        none.path().join("service.toml"),
    ));
    (all, none)
}

/// What service.toml declares, read straight from the TOML (not through bulkhead's model),
/// so the checks below are independent of the code under test.
#[derive(Debug, Default)]
struct Declared {
    name: String,
    mesh_istio: bool,
    namespaces: Vec<(String, String)>,
    services: Vec<DeclaredService>,
    external_topics: Vec<String>,
}

#[derive(Debug, Default, Clone)]
struct DeclaredService {
    name: String,
    datastore: String,
    owns: Vec<String>,
    apis: Vec<String>,
    calls: Vec<String>,
    egress: Vec<String>,
    publishes: Vec<String>,
    consumes: Vec<String>,
    availability: f64,
    latency_p95_ms: i64,
}

fn strings(item: Option<&toml_edit::Item>) -> Vec<String> {
    item.and_then(|i| i.as_array())
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn declared(spec: &Path) -> Declared {
    let doc: toml_edit::DocumentMut = std::fs::read_to_string(spec).unwrap().parse().unwrap();
    let p = &doc["platform"];
    let name = p["name"].as_str().unwrap().to_string();
    let envs = doc["environments"].as_table().unwrap();
    let namespaces = envs
        .iter()
        .map(|(env, t)| {
            let ns = t
                .get("namespace")
                .and_then(|n| n.as_str())
                .map_or_else(|| format!("{name}-{env}"), str::to_string);
            (env.to_string(), ns)
        })
        .collect();
    let services = doc["services"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(svc, t)| {
            let slo = t.get("slo");
            let get = |k: &str| slo.and_then(|s| s.get(k)).and_then(|v| v.as_value());
            DeclaredService {
                name: svc.to_string(),
                datastore: t
                    .get("datastore")
                    .and_then(|d| d.as_str())
                    .unwrap_or("none")
                    .to_string(),
                owns: strings(t.get("owns")),
                apis: strings(t.get("apis")),
                calls: strings(t.get("calls")),
                egress: strings(t.get("egress")),
                publishes: strings(t.get("publishes")),
                consumes: strings(t.get("consumes")),
                availability: get("availability")
                    .and_then(|v| v.as_float())
                    .unwrap_or(99.9),
                latency_p95_ms: get("latency_p95_ms")
                    .and_then(|v| v.as_integer())
                    .unwrap_or(500),
            }
        })
        .collect();
    Declared {
        mesh_istio: p.get("mesh").and_then(|m| m.as_str()).unwrap_or("istio") == "istio",
        external_topics: strings(p.get("external_topics")),
        name,
        namespaces,
        services,
    }
}

fn error_budget(availability: f64) -> f64 {
    ((100.0 - availability) / 100.0 * 1e6).round() / 1e6
}

fn json_file(tree: &BTreeMap<String, String>, path: &str) -> Json {
    serde_json::from_str(tree.get(path).unwrap_or_else(|| panic!("{path} missing")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every (kind, name, object) of the YAML files under `prefix`.
fn objects(tree: &BTreeMap<String, String>, prefix: &str) -> Vec<(String, Yaml)> {
    tree.iter()
        .filter(|(p, _)| p.starts_with(prefix) && p.ends_with(".yaml"))
        .flat_map(|(p, text)| yaml_docs(text).into_iter().map(move |d| (p.clone(), d)))
        .filter(|(_, d)| d.get("kind").is_some())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Dashboards

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Json) -> Vec<&Json> {
    fn walk<'a>(list: &'a Json, out: &mut Vec<&'a Json>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// (panel title, expr with Grafana variables substituted) of every query.
fn dashboard_exprs(dashboard: &Json) -> Vec<(String, String)> {
    let namespace = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "namespace")
        .map(|v| v["current"]["value"].as_str().unwrap().to_string())
        .unwrap();
    panels(dashboard)
        .into_iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_string();
            let namespace = namespace.clone();
            p["targets"].as_array().into_iter().flatten().map(move |t| {
                let expr = t["expr"].as_str().unwrap();
                (
                    title.clone(),
                    expr.replace("$__rate_interval", "5m")
                        .replace("$__range", "1h")
                        .replace("$namespace", &namespace)
                        .replace("$service", ".+"),
                )
            })
        })
        .collect()
}

/// Checks one dashboard's structure; returns the error-ratio and latency thresholds found.
fn check_dashboard(where_: &str, d: &Json, decl: &Declared) {
    let uid = d["uid"]
        .as_str()
        .unwrap_or_else(|| panic!("{where_}: no uid"));
    assert!(
        !uid.is_empty()
            && uid.len() <= 40
            && uid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        "{where_}: bad uid {uid}"
    );
    assert!(
        d["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{where_}: title"
    );
    let schema = d["schemaVersion"].as_i64().unwrap();
    assert!(
        (36..=41).contains(&schema),
        "{where_}: schemaVersion {schema}"
    );
    assert!(d["id"].is_null(), "{where_}: id must be null for import");
    // Variables: the data source, and the environments' namespaces in promotion order.
    let vars = d["templating"]["list"].as_array().unwrap();
    let ds = vars.iter().find(|v| v["name"] == "datasource").unwrap();
    assert_eq!(ds["type"], "datasource");
    assert_eq!(ds["query"], "prometheus");
    let ns = vars.iter().find(|v| v["name"] == "namespace").unwrap();
    let options: Vec<(String, String)> = ns["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["text"].as_str().unwrap().to_string(),
                o["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(options, decl.namespaces, "{where_}: namespace options");
    assert_eq!(
        ns["current"]["value"].as_str(),
        Some(decl.namespaces.last().unwrap().1.as_str()),
        "{where_}: production first"
    );
    let query: Vec<String> = decl
        .namespaces
        .iter()
        .map(|(e, n)| format!("{e} : {n}"))
        .collect();
    assert_eq!(
        ns["query"],
        query.join(","),
        "{where_}: custom variable query"
    );

    // Panels: unique ids, a valid grid without overlaps, data source and refIds.
    let all = panels(d);
    assert!(!all.is_empty(), "{where_}: no panels");
    let mut ids = BTreeSet::new();
    // Panels inside a collapsed row are laid out among themselves (Grafana places them
    // under the row when it opens): each row's children form their own group.
    let mut group_of: BTreeMap<i64, i64> = BTreeMap::new();
    for p in &all {
        for child in p["panels"].as_array().into_iter().flatten() {
            group_of.insert(child["id"].as_i64().unwrap(), p["id"].as_i64().unwrap());
        }
    }
    let mut boxes: Vec<(i64, i64, i64, i64, i64, String)> = Vec::new();
    for p in &all {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        let id = p["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{where_}: {title}: id"));
        assert!(ids.insert(id), "{where_}: panel id {id} twice");
        let g = &p["gridPos"];
        let (h, w, x, y) = (
            g["h"].as_i64().unwrap(),
            g["w"].as_i64().unwrap(),
            g["x"].as_i64().unwrap(),
            g["y"].as_i64().unwrap(),
        );
        assert!(
            h > 0 && w > 0 && x >= 0 && y >= 0 && x + w <= 24,
            "{where_}: {title}: gridPos {g}"
        );
        let group = group_of.get(&id).copied().unwrap_or(0);
        for (bg, bx, by, bw, bh, other) in &boxes {
            let overlap = *bg == group && x < bx + bw && *bx < x + w && y < by + bh && *by < y + h;
            assert!(!overlap, "{where_}: {title} overlaps {other}");
        }
        boxes.push((group, x, y, w, h, title.clone()));
        if p["type"] == "row" {
            continue;
        }
        assert!(
            ["timeseries", "stat", "table"].contains(&p["type"].as_str().unwrap()),
            "{where_}: {title}: type {}",
            p["type"]
        );
        assert_eq!(p["datasource"]["type"], "prometheus", "{where_}: {title}");
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{where_}: {title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{where_}: {title}: no targets");
        let mut refs = BTreeSet::new();
        for t in targets {
            let r = t["refId"].as_str().unwrap();
            assert!(refs.insert(r), "{where_}: {title}: refId {r} twice");
            assert!(t["expr"].as_str().is_some_and(|e| !e.is_empty()));
            assert_eq!(t["datasource"]["uid"], "${datasource}");
        }
        let steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
            .as_array()
            .unwrap();
        assert!(steps[0]["value"].is_null(), "{where_}: {title}: base step");
    }
}

fn threshold(panel: &Json) -> Option<f64> {
    panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["value"].as_f64())
        .next_back()
}

fn find_panel<'a>(d: &'a Json, title_start: &str) -> &'a Json {
    panels(d)
        .into_iter()
        .find(|p| p["title"].as_str().unwrap().starts_with(title_start))
        .unwrap_or_else(|| panic!("no panel titled {title_start}…"))
}

#[test]
fn dashboards_are_valid_grafana_json_with_slo_thresholds() {
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let decl = declared(spec);
        let out = generate(spec);
        let tree = read_tree(out.path());
        let mut uids = BTreeSet::new();
        // The ConfigMaps the Grafana sidecar loads, as Kustomize builds them (every service's
        // base and the platform folder), carry the same JSON as the files.
        let folders = decl
            .services
            .iter()
            .map(|s| format!("deploy/base/{}", s.name))
            .chain(["deploy/platform".to_string()]);
        let configmaps: BTreeMap<String, Json> = folders
            .flat_map(|folder| kustomize(&out.path().join(folder)))
            .filter(|o| {
                o["kind"] == "ConfigMap" && o["metadata"]["labels"]["grafana_dashboard"] == "1"
            })
            .flat_map(|o| {
                let map = o["data"].as_mapping().unwrap().clone();
                map.into_iter().map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_string(),
                        serde_json::from_str(v.as_str().unwrap()).unwrap(),
                    )
                })
            })
            .collect();

        for s in &decl.services {
            let where_ = format!("{label}: observability/dashboards/{}.json", s.name);
            let d = json_file(&tree, &format!("observability/dashboards/{}.json", s.name));
            check_dashboard(&where_, &d, &decl);
            let uid = d["uid"].as_str().unwrap().to_string();
            assert_eq!(uid, bulkhead::model::dashboard_uid(&decl.name, &s.name));
            assert!(uids.insert(uid.clone()), "{where_}: uid {uid} twice");
            assert_eq!(
                configmaps.get(&format!("{uid}.json")),
                Some(&d),
                "{where_}: the ConfigMap holds the same dashboard"
            );
            // SLO thresholds drawn, in the unit the metrics have.
            let budget = error_budget(s.availability);
            let errors = find_panel(&d, "Error ratio by");
            assert_eq!(
                threshold(errors),
                Some(budget),
                "{where_}: error budget line"
            );
            let latency = find_panel(&d, "Latency p50");
            let (unit, slo) = if decl.mesh_istio {
                ("ms", s.latency_p95_ms as f64)
            } else {
                ("s", s.latency_p95_ms as f64 / 1000.0)
            };
            assert_eq!(latency["fieldConfig"]["defaults"]["unit"], unit, "{where_}");
            assert_eq!(threshold(latency), Some(slo), "{where_}: latency SLO line");
            let quantiles: Vec<&str> = latency["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["legendFormat"].as_str().unwrap())
                .collect();
            assert_eq!(quantiles, ["p50", "p95", "p99"], "{where_}");
            // Saturation against limits, replicas against the autoscaler.
            let text = d.to_string();
            for metric in [
                "container_cpu_usage_seconds_total",
                "container_memory_working_set_bytes",
                "kube_pod_container_resource_limits",
                "kube_deployment_status_replicas_available",
                "kube_horizontalpodautoscaler_spec_max_replicas",
            ] {
                assert!(text.contains(metric), "{where_}: {metric} missing");
            }
        }

        // The overview: one table of every service, queried by service label (no
        // service's name in it), each row linking to the service's own dashboard.
        let where_ = format!("{label}: observability/dashboards/overview.json");
        let d = json_file(&tree, "observability/dashboards/overview.json");
        check_dashboard(&where_, &d, &decl);
        let uid = d["uid"].as_str().unwrap().to_string();
        assert!(uids.insert(uid.clone()), "{where_}: uid {uid} twice");
        assert_eq!(configmaps.get(&format!("{uid}.json")), Some(&d), "{where_}");
        assert_eq!(
            configmaps.len(),
            decl.services.len() + 1,
            "{label}: ConfigMaps"
        );
        let text = d.to_string();
        for s in &decl.services {
            assert!(
                !text.contains(&format!("\"{}\"", s.name)),
                "{where_}: names {}: the overview must not grow with the services",
                s.name
            );
        }
        let table = find_panel(&d, "Every service");
        let columns: Vec<&str> = table["transformations"][1]["options"]["renameByName"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            columns,
            [
                "Service",
                "Requests/s",
                "5xx ratio",
                "p50",
                "p95",
                "p99",
                "Availability",
                "Alerts firing"
            ],
            "{where_}"
        );
        // Each row links to its service's dashboard: `{platform}-{service}`, the uid.
        let link = table["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]["url"]
            .as_str()
            .unwrap();
        for s in &decl.services {
            let url = link.replace("${__data.fields.service}", &s.name);
            assert!(
                url.starts_with(&format!(
                    "/d/{}?",
                    bulkhead::model::dashboard_uid(&decl.name, &s.name)
                )),
                "{where_}: link {url}"
            );
        }
        let rows: Vec<&str> = d["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "row")
            .map(|p| p["title"].as_str().unwrap().split(':').next().unwrap())
            .collect();
        // Then the event broker's row, where services publish or consume.
        let broker = decl
            .services
            .iter()
            .any(|s| !s.publishes.is_empty() || !s.consumes.is_empty());
        let mut expected = vec!["Services", "The ten highest over time"];
        if broker {
            expected.push("event broker nats");
        }
        assert_eq!(rows, expected, "{where_}");
    }
}

/// The overview's table on real series: two services answering (one failing a tenth of
/// its requests), and a third that is down (no requests at all, its ServiceDown alert
/// firing). Grafana merges the columns on `service`: each row holds that service's values.
#[test]
fn the_overview_shows_every_service_from_real_series() {
    let promtool = promtool();
    let none = fleet_without_mesh();
    for (label, spec, istio) in both_fleets(&none) {
        let decl = declared(&spec);
        let out = generate(&spec);
        let tree = read_tree(out.path());
        let d = json_file(&tree, "observability/dashboards/overview.json");
        let ns = decl.namespaces.last().unwrap().1.clone();
        let [a, b, down] = [0, 1, 2].map(|i| decl.services[i].name.clone());
        let buckets = if istio {
            [("100", 500), ("500", 950), ("1000", 990), ("+Inf", 1000)]
        } else {
            [("0.1", 500), ("0.5", 950), ("1", 990), ("+Inf", 1000)]
        };
        let traffic = |ok, failed| Traffic {
            ok,
            failed,
            buckets,
            scraped: true,
            ready: 2,
            answering: true,
        };
        let mut input = series(istio, &ns, &a, &traffic(600, 0));
        input.extend(series(istio, &ns, &b, &traffic(270, 30)));
        input.push(json!({
            "series": format!("ALERTS{{alertname=\"ServiceDown\",alertstate=\"firing\",namespace=\"{ns}\",service=\"{down}\",severity=\"critical\"}}"),
            "values": "1x300",
        }));
        let table = find_panel(&d, "Every service");
        // A column's query, with the variables as Grafana sets them (every service).
        let expr = |column: &str| -> String {
            let names = table["transformations"][1]["options"]["renameByName"]
                .as_object()
                .unwrap();
            let (field, _) = names.iter().find(|(_, v)| *v == column).unwrap();
            let refid = field.trim_start_matches("Value #");
            let t = table["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["refId"] == refid)
                .unwrap();
            assert_eq!(t["format"], "table", "{label}: {column}");
            assert_eq!(t["instant"], true, "{label}: {column}");
            t["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "5m")
                .replace("$__range", "1h")
                .replace("$namespace", &ns)
                .replace("$service", ".+")
        };
        let sample = |svc: &str, value: f64| json!({"labels": format!("{{service=\"{svc}\"}}"), "value": value});
        let thousandfold = |column: &str| format!("round(1000 * ({}))", expr(column));
        // Half the requests under the first bound, 95 % under the second: p95 is the second.
        let p95 = if istio { 500.0 } else { 0.5 };
        let tests = vec![
            json!({"expr": thousandfold("Requests/s"), "eval_time": "2h",
                   "exp_samples": [sample(&a, 10000.0), sample(&b, 5000.0)]}),
            json!({"expr": thousandfold("5xx ratio"), "eval_time": "2h",
                   "exp_samples": [sample(&a, 0.0), sample(&b, 100.0)]}),
            json!({"expr": thousandfold("Availability"), "eval_time": "2h",
                   "exp_samples": [sample(&a, 1000.0), sample(&b, 900.0)]}),
            json!({"expr": expr("p95"), "eval_time": "2h",
                   "exp_samples": [sample(&a, p95), sample(&b, p95)]}),
            json!({"expr": expr("Alerts firing"), "eval_time": "2h",
                   "exp_samples": [sample(&a, 0.0), sample(&b, 0.0), sample(&down, 1.0)]}),
        ];
        let work = tempfile::tempdir().unwrap();
        let test = json!({
            "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": input, "promql_expr_test": tests}],
        });
        promtool_test(&promtool, work.path(), &test);
    }
}

#[test]
fn dashboard_uids_are_short_stable_and_distinct() {
    use bulkhead::model::dashboard_uid;
    assert_eq!(
        dashboard_uid("fleet", "trip-management"),
        "fleet-trip-management"
    );
    let a = dashboard_uid("a-very-long-platform-name-here", "trip-management-east");
    let b = dashboard_uid("a-very-long-platform-name-here", "trip-management-west");
    assert!(a.len() <= 40 && b.len() <= 40, "{a} {b}");
    assert_ne!(a, b);
    assert_eq!(
        a,
        dashboard_uid("a-very-long-platform-name-here", "trip-management-east")
    );
    assert!(a.starts_with("a-very-long-platform-name-here-"), "{a}");
}

// ---------------------------------------------------------------------------------------
// PromQL: promtool

/// Writes a Prometheus rules file with the given groups (JSON is YAML).
fn rules_file(dir: &Path, name: &str, groups: &Json) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({ "groups": groups })).unwrap(),
    )
    .unwrap();
    path
}

fn to_json(y: &Yaml) -> Json {
    serde_json::to_value(y).unwrap()
}

/// Every PrometheusRule object of the tree, as JSON.
fn prometheus_rules(tree: &BTreeMap<String, String>) -> Vec<(String, Json)> {
    objects(tree, "deploy/")
        .into_iter()
        .filter(|(_, o)| o["kind"] == "PrometheusRule")
        .map(|(p, o)| (p, to_json(&o)))
        .collect()
}

/// A pod-template hash as Argo Rollouts writes it, for `{{args.canary-hash}}`.
const SAMPLE_HASH: &str = "5d8f9c7b6";

/// Every AnalysisTemplate object of the tree.
fn analysis_templates(tree: &BTreeMap<String, String>) -> Vec<(String, Yaml)> {
    objects(tree, "deploy/")
        .into_iter()
        .filter(|(_, o)| o["kind"] == "AnalysisTemplate")
        .collect()
}

/// (metric name, PromQL) of every measurement of an AnalysisTemplate.
fn analysis_queries(template: &Yaml) -> Vec<(String, String)> {
    template["spec"]["metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["provider"]["prometheus"]["query"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn every_promql_expression_passes_promtool() {
    let promtool = promtool();
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let out = generate(spec);
        let tree = read_tree(out.path());
        let work = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        let mut count = 0;
        for (path, text) in tree
            .iter()
            .filter(|(p, _)| p.starts_with("observability/dashboards/"))
        {
            let d: Json = serde_json::from_str(text).unwrap();
            let exprs = dashboard_exprs(&d);
            assert!(!exprs.is_empty(), "{label}: {path} has no queries");
            let rules: Vec<Json> = exprs
                .iter()
                .enumerate()
                .map(|(i, (_, e))| json!({"record": format!("dashboard:expr_{i}"), "expr": e}))
                .collect();
            count += rules.len();
            let name = path.replace('/', "_");
            files.push(rules_file(
                work.path(),
                &name,
                &json!([{"name": "dashboard", "rules": rules}]),
            ));
        }
        let rules = prometheus_rules(&tree);
        let decl = declared(spec);
        // The event broker's alerts, in every environment, when there is a broker.
        let broker = usize::from(tree.contains_key("deploy/platform/nats.conf"));
        assert_eq!(
            rules.len(),
            (decl.services.len() + broker) * decl.namespaces.len(),
            "{label}: one PrometheusRule per service and environment (and the broker's)"
        );
        for (i, (_, r)) in rules.iter().enumerate() {
            count += r["spec"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["rules"].as_array().unwrap().len())
                .sum::<usize>();
            files.push(rules_file(
                work.path(),
                &format!("rule-{i}.yaml"),
                &r["spec"]["groups"],
            ));
        }
        // The Rollouts' analyses, with the hash the controller passes filled in.
        let analyses = analysis_templates(&tree);
        assert!(!analyses.is_empty(), "{label}: no AnalysisTemplate");
        for (i, (path, t)) in analyses.iter().enumerate() {
            let rules: Vec<Json> = analysis_queries(t)
                .into_iter()
                .map(|(metric, query)| {
                    let expr = query.replace("{{args.canary-hash}}", SAMPLE_HASH);
                    assert!(!expr.contains("{{"), "{label}: {path}: {metric}: {expr}");
                    json!({"record": format!("analysis:{}", metric.replace('-', "_")), "expr": expr})
                })
                .collect();
            assert_eq!(rules.len(), 2, "{label}: {path}");
            count += rules.len();
            files.push(rules_file(
                work.path(),
                &format!("analysis-{i}.yaml"),
                &json!([{"name": "analysis", "rules": rules}]),
            ));
        }
        run(Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .args(&files));
        assert!(count > 50, "{label}: only {count} expressions");
    }
}

/// The seed-003 mistakes cannot happen: the request metrics are the ones the mesh (or the
/// service's OpenTelemetry SDK) really exports, with their real status label and unit.
#[test]
fn queries_use_the_real_metric_names_labels_and_units() {
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let decl = declared(spec);
        let out = generate(spec);
        let tree = read_tree(out.path());
        let mut exprs: Vec<(String, String)> = Vec::new();
        for (path, text) in tree
            .iter()
            .filter(|(p, _)| p.starts_with("observability/dashboards/"))
        {
            let d: Json = serde_json::from_str(text).unwrap();
            for (title, e) in dashboard_exprs(&d) {
                exprs.push((format!("{path}: {title}"), e));
            }
        }
        for (path, r) in prometheus_rules(&tree) {
            for g in r["spec"]["groups"].as_array().unwrap() {
                for rule in g["rules"].as_array().unwrap() {
                    exprs.push((path.clone(), rule["expr"].as_str().unwrap().to_string()));
                }
            }
        }
        for (where_, e) in &exprs {
            assert!(!e.contains("http_requests_total"), "{label}: {where_}: {e}");
            assert!(!e.contains("status="), "{label}: {where_}: {e}");
            assert!(!e.contains("status=~"), "{label}: {where_}: {e}");
            if decl.mesh_istio {
                assert!(!e.contains("http_server_request"), "{label}: {where_}: {e}");
                assert!(
                    !e.contains("_seconds_bucket{reporter"),
                    "{label}: {where_}: {e}"
                );
                // The service's own sidecar reports (reporter="destination"); only the alert on
                // a service that is down reads what its callers saw, by Service name.
                if e.contains("istio_requests_total{") {
                    assert!(
                        e.contains("reporter=\"destination\"")
                            || (e.contains("reporter=\"source\"")
                                && e.contains("destination_service_name=")),
                        "{where_}: {e}"
                    );
                }
                // (Callers also count connections that got no answer at all: code 0.)
                if e.contains("5..") {
                    assert!(
                        e.contains("response_code=~\"5..\"")
                            || e.contains("response_code=~\"5..|0\""),
                        "{where_}: {e}"
                    );
                }
            } else {
                assert!(!e.contains("istio_"), "{label}: {where_}: {e}");
                if e.contains("5..") {
                    assert!(
                        e.contains("http_response_status_code=~\"5..\""),
                        "{where_}: {e}"
                    );
                }
            }
        }
        // The latency alert compares the histogram in its own unit with the SLO.
        for (path, r) in prometheus_rules(&tree) {
            let svc = r["metadata"]["name"].as_str().unwrap();
            // The broker's rules have no latency SLO.
            let Some(s) = decl.services.iter().find(|s| s.name == svc) else {
                assert_eq!(svc, "nats", "{label}: {path}");
                continue;
            };
            let rule = r["spec"]["groups"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|g| g["rules"].as_array().unwrap())
                .find(|r| r["alert"] == "SLOLatencyP95High")
                .unwrap();
            let e = rule["expr"].as_str().unwrap();
            let (metric, slo) = if decl.mesh_istio {
                (
                    "istio_request_duration_milliseconds_bucket{",
                    s.latency_p95_ms as f64,
                )
            } else {
                (
                    "http_server_request_duration_seconds_bucket{",
                    s.latency_p95_ms as f64 / 1000.0,
                )
            };
            assert!(e.contains(metric), "{label}: {path}: {e}");
            let (_, threshold) = e.rsplit_once(" > ").unwrap();
            assert_eq!(
                threshold.parse::<f64>().unwrap(),
                slo,
                "{label}: {path}: {e}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Alert rules behave: promtool test rules on synthetic series.

struct Traffic {
    /// Requests per minute answered 200 and 503.
    ok: u64,
    failed: u64,
    /// Cumulative share of requests at or under each bucket bound, in per mille.
    buckets: [(&'static str, u64); 4],
    scraped: bool,
    /// Ready pods of its workload (kube-state-metrics, through its ReplicaSet).
    ready: u64,
    /// Whether its own pods report (reporter="destination"); its callers always do.
    answering: bool,
}

fn series(istio: bool, ns: &str, svc: &str, t: &Traffic) -> Vec<Json> {
    let total = t.ok + t.failed;
    let mut out = Vec::new();
    let req = |code: &str| {
        if istio {
            format!(
                "istio_requests_total{{reporter=\"destination\",destination_workload_namespace=\"{ns}\",destination_canonical_service=\"{svc}\",destination_workload=\"{svc}\",response_code=\"{code}\"}}"
            )
        } else {
            format!(
                "http_server_request_duration_seconds_count{{namespace=\"{ns}\",job=\"{svc}\",http_response_status_code=\"{code}\"}}"
            )
        }
    };
    if t.answering {
        out.push(json!({"series": req("200"), "values": format!("0+{}x300", t.ok)}));
        out.push(json!({"series": req("503"), "values": format!("0+{}x300", t.failed)}));
    }
    // What the callers' and the gateway's sidecars saw (a mesh only).
    if istio {
        for (code, n) in [("200", t.ok), ("503", t.failed)] {
            out.push(json!({
                "series": format!("istio_requests_total{{reporter=\"source\",destination_service_namespace=\"{ns}\",destination_service_name=\"{svc}\",response_code=\"{code}\"}}"),
                "values": format!("0+{n}x300"),
            }));
        }
    }
    // trip-management, the service these tests watch, rolls as a Deployment everywhere.
    let replicaset = format!("{svc}-{SAMPLE_HASH}");
    out.push(json!({
        "series": format!("kube_replicaset_status_ready_replicas{{namespace=\"{ns}\",replicaset=\"{replicaset}\"}}"),
        "values": format!("{}x300", t.ready),
    }));
    out.push(json!({
        "series": format!("kube_replicaset_owner{{namespace=\"{ns}\",replicaset=\"{replicaset}\",owner_kind=\"Deployment\",owner_name=\"{svc}\",owner_is_controller=\"true\"}}"),
        "values": "1x300",
    }));
    for (le, per_mille) in t.buckets.iter().filter(|_| t.answering) {
        let (le, per_mille) = (*le, *per_mille);
        let name = if istio {
            format!(
                "istio_request_duration_milliseconds_bucket{{reporter=\"destination\",destination_workload_namespace=\"{ns}\",destination_canonical_service=\"{svc}\",le=\"{le}\"}}"
            )
        } else {
            format!(
                "http_server_request_duration_seconds_bucket{{namespace=\"{ns}\",job=\"{svc}\",le=\"{le}\"}}"
            )
        };
        out.push(json!({"series": name, "values": format!("0+{}x300", total * per_mille / 1000)}));
    }
    if t.scraped {
        out.push(
            json!({"series": format!("up{{namespace=\"{ns}\",job=\"{svc}\"}}"), "values": "1x300"}),
        );
    }
    out
}

/// Runs `promtool test rules` for one service's rule in one environment, expecting exactly
/// the alerts in `firing` (name → severity) at 2 h.
fn expect_alerts(
    label: &str,
    rule: &Json,
    istio: bool,
    traffic: &Traffic,
    firing: &[(&str, &str)],
) {
    let promtool = promtool();
    let ns = rule["metadata"]["namespace"].as_str().unwrap();
    let svc = rule["metadata"]["name"].as_str().unwrap();
    // Annotations are prose with $value in them: the test is about expressions and labels.
    let mut groups = rule["spec"]["groups"].clone();
    for g in groups.as_array_mut().unwrap() {
        for r in g["rules"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("annotations");
        }
    }
    let work = tempfile::tempdir().unwrap();
    let rules = rules_file(work.path(), "rules.yaml", &groups);
    let all = [
        "SLOErrorBudgetBurnFast",
        "SLOErrorBudgetBurnMedium",
        "SLOErrorBudgetBurnSlow",
        "SLOLatencyP95High",
        "MetricsTargetMissing",
        "ServiceDown",
        "ServiceUnreachable",
    ];
    let cases: Vec<Json> = all
        .iter()
        .map(|alert| {
            let exp: Vec<Json> = firing
                .iter()
                .filter(|(a, _)| a == alert)
                .map(|(a, severity)| {
                    let slo = match *a {
                        "SLOLatencyP95High" => Some("latency"),
                        "MetricsTargetMissing" | "ServiceDown" | "ServiceUnreachable" => None,
                        _ => Some("availability"),
                    };
                    let mut labels = json!({"namespace": ns, "service": svc, "severity": severity});
                    if let Some(slo) = slo {
                        labels["slo"] = json!(slo);
                    }
                    json!({"exp_labels": labels})
                })
                .collect();
            json!({"eval_time": "2h", "alertname": alert, "exp_alerts": exp})
        })
        .collect();
    let test = json!({
        "rule_files": [rules.file_name().unwrap().to_str().unwrap()],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series(istio, ns, svc, traffic),
            "alert_rule_test": cases,
        }],
    });
    let test_file = work.path().join("test.yaml");
    std::fs::write(&test_file, serde_json::to_string_pretty(&test).unwrap()).unwrap();
    let out = Command::new(&promtool)
        .current_dir(work.path())
        .arg("test")
        .arg("rules")
        .arg(&test_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: promtool test rules for {svc} in {ns}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alerts_fire_on_real_series_in_the_right_unit() {
    let none = fleet_without_mesh();
    for (label, spec, istio) in both_fleets(&none) {
        let decl = declared(&spec);
        let out = generate(&spec);
        let tree = read_tree(out.path());
        let prod_ns = &decl.namespaces.last().unwrap().1;
        let dev_ns = &decl.namespaces[0].1;
        // trip-management: p95 SLO of 500 ms. Bucket bounds in the metric's own unit.
        let b = |ms: [&'static str; 3], s: [&'static str; 3]| if istio { ms } else { s };
        let [b1, b2, b3] = b(["100", "500", "1000"], ["0.1", "0.5", "1"]);
        let rule_in = |ns: &str| -> Json {
            let path = format!(
                "deploy/overlays/{}/trip-management/prometheusrule.yaml",
                decl.namespaces.iter().find(|(_, n)| n == ns).unwrap().0
            );
            let mut r = to_json(&yaml_docs(&tree[&path])[0]);
            // kustomize sets the namespace; the rule's queries already name it.
            r["metadata"]["namespace"] = json!(ns);
            r
        };
        // 10 % of requests fail and most take 0.5–1 s: every burn alert and the latency
        // alert fire; production pages, other environments only warn.
        let failing = Traffic {
            ok: 540,
            failed: 60,
            buckets: [(b1, 50), (b2, 100), (b3, 1000), ("+Inf", 1000)],
            scraped: true,
            ready: 3,
            answering: true,
        };
        expect_alerts(
            label,
            &rule_in(prod_ns),
            istio,
            &failing,
            &[
                ("SLOErrorBudgetBurnFast", "critical"),
                ("SLOErrorBudgetBurnMedium", "critical"),
                ("SLOErrorBudgetBurnSlow", "warning"),
                ("SLOLatencyP95High", "warning"),
            ],
        );
        expect_alerts(
            label,
            &rule_in(dev_ns),
            istio,
            &failing,
            &[
                ("SLOErrorBudgetBurnFast", "warning"),
                ("SLOErrorBudgetBurnMedium", "warning"),
                ("SLOErrorBudgetBurnSlow", "warning"),
                ("SLOLatencyP95High", "warning"),
            ],
        );
        // Healthy: no 5xx, p95 between 100 and 500 ms (a seconds/milliseconds mix-up
        // would fire here or never fire above). Not scraped: MetricsTargetMissing.
        let healthy = Traffic {
            ok: 600,
            failed: 0,
            buckets: [(b1, 500), (b2, 1000), (b3, 1000), ("+Inf", 1000)],
            scraped: false,
            ready: 3,
            answering: true,
        };
        expect_alerts(
            label,
            &rule_in(prod_ns),
            istio,
            &healthy,
            &[("MetricsTargetMissing", "warning")],
        );
        // Completely down: no ready pod, no series of its own (its sidecar is gone, so no
        // burn alert can fire), and its callers' requests fail. That pages in production,
        // from the replicas and, with a mesh, from the callers' side; elsewhere it warns.
        let down = Traffic {
            ok: 0,
            failed: 600,
            buckets: healthy.buckets,
            scraped: false,
            ready: 0,
            answering: false,
        };
        for (ns, severity) in [(prod_ns, "critical"), (dev_ns, "warning")] {
            let mut firing = vec![
                ("MetricsTargetMissing", "warning"),
                ("ServiceDown", severity),
            ];
            if istio {
                firing.push(("ServiceUnreachable", severity));
            }
            expect_alerts(label, &rule_in(ns), istio, &down, &firing);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Monitors select the services

#[test]
fn monitors_and_rules_select_each_service() {
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let decl = declared(spec);
        let out = generate(spec);
        let tree = read_tree(out.path());
        for s in &decl.services {
            let base = format!("deploy/base/{}/", s.name);
            let objs = objects(&tree, &base);
            let kinds: BTreeMap<String, &Yaml> = objs
                .iter()
                .map(|(_, o)| (o["kind"].as_str().unwrap().to_string(), o))
                .collect();
            let kustomization = &kinds["Kustomization"];
            let resources: Vec<&str> = kustomization["resources"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            // The workload of every environment: the base's Deployment where the service
            // rolls everywhere, else each overlay's own Deployment or Rollout.
            let workloads: Vec<(String, Yaml)> = decl
                .namespaces
                .iter()
                .map(|(env, _)| {
                    let own = ["rollout.yaml", "deployment.yaml"]
                        .iter()
                        .map(|f| format!("deploy/overlays/{env}/{}/{f}", s.name))
                        .chain([format!("{base}deployment.yaml")])
                        .find(|p| tree.contains_key(p))
                        .unwrap_or_else(|| panic!("{label}: {env}/{}: no workload", s.name));
                    let w = yaml_docs(&tree[&own]).pop().unwrap();
                    assert!(
                        ["Deployment", "Rollout"].contains(&w["kind"].as_str().unwrap()),
                        "{label}: {own}"
                    );
                    (own, w)
                })
                .collect();
            assert_eq!(
                kinds.contains_key("Deployment"),
                workloads.iter().all(|(p, _)| p.starts_with(&base)),
                "{label}: {base}: a Deployment in the base iff no overlay has its own"
            );
            let (monitor, file) = if decl.mesh_istio {
                assert!(!kinds.contains_key("ServiceMonitor"), "{label}: {}", s.name);
                (kinds["PodMonitor"], "podmonitor.yaml")
            } else {
                assert!(!kinds.contains_key("PodMonitor"), "{label}: {}", s.name);
                (kinds["ServiceMonitor"], "servicemonitor.yaml")
            };
            assert!(
                resources.contains(&file),
                "{label}: {base}: {file} not listed"
            );
            // The dashboard ConfigMap is made from the JSON beside the kustomization.
            let generator = kustomization["configMapGenerator"]
                .as_sequence()
                .and_then(|g| {
                    g.iter().find(|g| {
                        g["name"]
                            .as_str()
                            .is_some_and(|n| n.ends_with("-dashboard"))
                    })
                })
                .expect("a dashboard generator");
            assert_eq!(
                generator["files"][0].as_str().unwrap(),
                format!(
                    "{}.json=dashboard.json",
                    bulkhead::model::dashboard_uid(&decl.name, &s.name)
                ),
                "{label}: {base}"
            );
            assert_eq!(generator["options"]["labels"]["grafana_dashboard"], "1");
            assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
            assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/name");
            let selector = monitor["spec"]["selector"]["matchLabels"]
                .as_mapping()
                .unwrap();
            if decl.mesh_istio {
                let ep = &monitor["spec"]["podMetricsEndpoints"][0];
                assert_eq!(ep["port"], "http-envoy-prom");
                assert_eq!(ep["path"], "/stats/prometheus");
                assert_eq!(ep["relabelings"][0]["replacement"], "${1}:15020");
                // Selects the pods of every environment's workload; their sidecar's merged
                // endpoint has the app's metrics.
                for (path, w) in &workloads {
                    let template = &w["spec"]["template"];
                    for (k, v) in selector {
                        assert_eq!(
                            &template["metadata"]["labels"][k.as_str().unwrap()],
                            v,
                            "{label}: {path}"
                        );
                    }
                    let ann = &template["metadata"]["annotations"];
                    let port = template["spec"]["containers"][0]["ports"][0]["containerPort"]
                        .as_i64()
                        .unwrap();
                    assert_eq!(ann["prometheus.io/scrape"], "true", "{label}: {path}");
                    assert_eq!(ann["prometheus.io/port"], port.to_string().as_str());
                    assert_eq!(ann["prometheus.io/path"], "/metrics");
                }
            } else {
                let service = kinds["Service"];
                for (k, v) in selector {
                    assert_eq!(
                        &service["metadata"]["labels"][k.as_str().unwrap()],
                        v,
                        "{label}: {}",
                        s.name
                    );
                }
                let ep = &monitor["spec"]["endpoints"][0];
                assert_eq!(ep["port"], "http");
                assert_eq!(ep["path"], "/metrics");
                assert_eq!(service["spec"]["ports"][0]["name"], "http");
                for (path, w) in &workloads {
                    let template = &w["spec"]["template"];
                    assert!(
                        template["metadata"]["annotations"]["prometheus.io/scrape"].is_null(),
                        "{label}: {path}"
                    );
                    // The Service the monitor selects reaches these pods.
                    for (k, v) in service["spec"]["selector"].as_mapping().unwrap() {
                        assert_eq!(
                            &template["metadata"]["labels"][k.as_str().unwrap()],
                            v,
                            "{label}: {path}"
                        );
                    }
                }
            }
            // One rule per environment, naming that environment's namespace.
            for (env, ns) in &decl.namespaces {
                let dir = format!("deploy/overlays/{env}/{}/", s.name);
                let k = yaml_docs(&tree[&format!("{dir}kustomization.yaml")])
                    .pop()
                    .unwrap();
                assert!(
                    k["resources"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .any(|r| r == "prometheusrule.yaml"),
                    "{label}: {dir}"
                );
                let rule = &yaml_docs(&tree[&format!("{dir}prometheusrule.yaml")])[0];
                assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
                let text = serde_json::to_string(&to_json(&rule["spec"])).unwrap();
                let needle = if decl.mesh_istio {
                    format!("destination_workload_namespace=\\\"{ns}\\\"")
                } else {
                    format!("namespace=\\\"{ns}\\\",job=\\\"{}\\\"", s.name)
                };
                assert!(text.contains(&needle), "{label}: {dir}: {needle}");
                for other in decl.namespaces.iter().filter(|(_, n)| n != ns) {
                    assert!(!text.contains(&format!("\\\"{}\\\"", other.1)), "{dir}");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The Rollouts' analysis: a new version is judged by the service's SLO on its own requests

/// The label Argo Rollouts puts on a Rollout's pods, and the one the monitors make of it
/// (Prometheus' pod-label meta label is the name with `-` as `_`).
const POD_HASH_LABEL: &str = "rollouts-pod-template-hash";
const VERSION_LABEL: &str = "rollouts_pod_template_hash";

/// The objects `kubectl kustomize` builds for `svc` in `env` of the tree at `out`.
fn overlay(out: &Path, env: &str, svc: &str) -> Vec<Yaml> {
    kustomize(&out.join("deploy/overlays").join(env).join(svc))
}

/// The one AnalysisTemplate among `objects`, named `{svc}-slo`.
fn analysis_of<'a>(objects: &'a [Yaml], svc: &str, at: &str) -> &'a Yaml {
    let found: Vec<&Yaml> = objects
        .iter()
        .filter(|o| o["kind"] == "AnalysisTemplate")
        .collect();
    assert_eq!(found.len(), 1, "{at}: one AnalysisTemplate");
    assert_eq!(
        found[0]["metadata"]["name"].as_str(),
        Some(format!("{svc}-slo").as_str()),
        "{at}"
    );
    found[0]
}

fn measurement<'a>(template: &'a Yaml, name: &str) -> &'a Yaml {
    template["spec"]["metrics"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no measurement {name}"))
}

/// The bound of a successCondition `result[0] <op> X`, as written. Only a `<=` may be
/// guarded by `isNaN(result[0]) ||` (a histogram without observations is no failure).
fn bound(condition: &str, op: &str) -> String {
    let guarded = condition
        .strip_prefix("isNaN(result[0]) || ")
        .filter(|_| op == "<=");
    guarded
        .unwrap_or(condition)
        .strip_prefix(&format!("result[0] {op} "))
        .filter(|b| b.parse::<f64>().is_ok())
        .unwrap_or_else(|| {
            panic!("successCondition `{condition}` is not `result[0] {op} <number>`")
        })
        .to_string()
}

#[test]
fn analysis_thresholds_are_the_slo_and_move_with_it() {
    let fleet = std::fs::read_to_string(example("fleet")).unwrap();
    let svc = "vehicle-management";
    let section = format!("[services.{svc}]\n");
    for (label, text, istio) in [
        ("fleet", fleet.clone(), true),
        (
            "fleet (mesh = none)",
            fleet.replacen("[platform]\n", "[platform]\nmesh = \"none\"\n", 1),
            false,
        ),
    ] {
        let dir = platform(&text);
        let d = dir.path();
        // (availability, p95 in ms) declared, and the bounds the analysis must hold: the
        // availability as a ratio, the latency in the histogram's unit.
        let expect = |availability: f64, latency_ms: i64, ratio: &str, latency: &str| {
            bulkhead(d)
                .args(["apply", "--yes", "-q"])
                .assert()
                .success();
            let decl = declared(&d.join("service.toml"));
            let s = decl.services.iter().find(|s| s.name == svc).unwrap();
            assert_eq!(
                (s.availability, s.latency_p95_ms),
                (availability, latency_ms)
            );
            for (env, _) in &decl.namespaces {
                let at = format!("{label}: {env}/{svc}");
                let objects = overlay(d, env, svc);
                let t = analysis_of(&objects, svc, &at);
                let success = measurement(t, "success-rate")["successCondition"]
                    .as_str()
                    .unwrap();
                assert_eq!(bound(success, ">="), ratio, "{at}: {success}");
                let p95 = measurement(t, "latency-p95");
                let condition = p95["successCondition"].as_str().unwrap();
                assert_eq!(bound(condition, "<="), latency, "{at}: {condition}");
                let histogram = if istio {
                    "istio_request_duration_milliseconds_bucket{"
                } else {
                    "http_server_request_duration_seconds_bucket{"
                };
                let query = p95["provider"]["prometheus"]["query"].as_str().unwrap();
                assert!(query.contains(histogram), "{at}: {query}");
            }
        };
        // The defaults (99.9 %, 500 ms), then a stricter availability and a looser latency.
        assert_eq!(text.matches(&section).count(), 1);
        expect(99.9, 500, "0.999", if istio { "500" } else { "0.5" });
        let changed = text.replacen(
            &section,
            &format!("{section}slo = {{ availability = 99.95, latency_p95_ms = 750 }}\n"),
            1,
        );
        std::fs::write(d.join("service.toml"), changed).unwrap();
        expect(99.95, 750, "0.9995", if istio { "750" } else { "0.75" });
    }
}

/// One version's request series, labelled with its pod-template hash as the monitors label
/// them: `ok` and `failed` requests per minute, every one of them at or under `le`.
fn version_series(
    istio: bool,
    ns: &str,
    svc: &str,
    hash: &str,
    (ok, failed): (u64, u64),
    le: &[&str; 4],
    slowest: usize,
) -> Vec<Json> {
    let (counter, histogram, select, code) = if istio {
        (
            "istio_requests_total",
            "istio_request_duration_milliseconds_bucket",
            format!(
                "reporter=\"destination\",destination_workload_namespace=\"{ns}\",destination_canonical_service=\"{svc}\""
            ),
            "response_code",
        )
    } else {
        (
            "http_server_request_duration_seconds_count",
            "http_server_request_duration_seconds_bucket",
            format!("namespace=\"{ns}\",job=\"{svc}\""),
            "http_response_status_code",
        )
    };
    let version = format!("{VERSION_LABEL}=\"{hash}\"");
    let mut out = vec![
        json!({"series": format!("{counter}{{{select},{version},{code}=\"200\"}}"), "values": format!("0+{ok}x40")}),
        json!({"series": format!("{counter}{{{select},{version},{code}=\"503\"}}"), "values": format!("0+{failed}x40")}),
    ];
    for (i, bound) in le.iter().enumerate() {
        let count = if i >= slowest { ok + failed } else { 0 };
        out.push(json!({
            "series": format!("{histogram}{{{select},{version},le=\"{bound}\"}}"),
            "values": format!("0+{count}x40"),
        }));
    }
    out
}

#[test]
fn analysis_judges_the_new_version_by_its_own_requests() {
    let promtool = promtool();
    let none = fleet_without_mesh();
    let svc = "vehicle-management";
    for (label, spec, istio) in both_fleets(&none) {
        let decl = declared(&spec);
        let (env, ns) = &decl.namespaces[0];
        let out = generate(&spec);
        let at = format!("{label}: {env}/{svc}");
        let objects = overlay(out.path(), env, svc);
        let template = analysis_of(&objects, svc, &at);
        // Bucket bounds in the histogram's unit; ×1000 makes both units whole numbers.
        let le = if istio {
            ["100", "500", "1000", "+Inf"]
        } else {
            ["0.1", "0.5", "1", "+Inf"]
        };
        let scale = if istio { 1_000_000.0 } else { 1000.0 };
        // The stable version: 600 requests a minute, none failing, all within the first
        // bucket. The canary: 100 a minute, 10 failing, all between the 2nd and 3rd bound.
        let stable = "6f7c9d8b5";
        let canary = "5d8f9c7b6";
        let mut series = version_series(istio, ns, svc, stable, (600, 0), &le, 0);
        series.extend(version_series(istio, ns, svc, canary, (90, 10), &le, 2));
        // Measured for each hash: (success rate, p95 in the histogram's unit). Without the
        // restriction to the hash the canary's success rate would be 690/700, its p95 fast.
        let cases = [
            (canary, 0.9, 0.975 * scale / 1000.0),
            (stable, 1.0, 0.095 * scale / 1000.0),
            // A version without requests yet fails nothing.
            ("0000000000", 1.0, 0.0),
        ];
        let queries = analysis_queries(template);
        let mut tests = Vec::new();
        for (hash, success, p95) in cases {
            for (metric, query) in &queries {
                let value = if metric == "success-rate" {
                    success
                } else {
                    p95
                };
                let expr = query.replace("{{args.canary-hash}}", hash);
                tests.push(json!({
                    "expr": format!("round(1000 * ({expr}))"),
                    "eval_time": "30m",
                    "exp_samples": [{"labels": "{}", "value": (value * 1000.0_f64).round()}],
                }));
            }
        }
        // The recorded 5xx ratio is per version too: a bad canary is not diluted.
        let rule = objects
            .iter()
            .find(|o| o["kind"] == "PrometheusRule")
            .unwrap_or_else(|| panic!("{at}: no PrometheusRule"));
        let mut groups = to_json(&rule["spec"]["groups"]);
        for g in groups.as_array_mut().unwrap() {
            for r in g["rules"].as_array_mut().unwrap() {
                r.as_object_mut().unwrap().remove("annotations");
            }
        }
        let work = tempfile::tempdir().unwrap();
        let rules = rules_file(work.path(), "rules.yaml", &groups);
        let ratio = |hash: &str, value: f64| {
            json!({
                "labels": format!("{{namespace=\"{ns}\",service=\"{svc}\",{VERSION_LABEL}=\"{hash}\"}}"),
                "value": value,
            })
        };
        tests.push(json!({
            "expr": "round(1000 * service:request_error_ratio:rate5m)",
            "eval_time": "30m",
            "exp_samples": [ratio(canary, 100.0), ratio(stable, 0.0)],
        }));
        let test = json!({
            "rule_files": [rules.file_name().unwrap().to_str().unwrap()],
            "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}],
        });
        promtool_test(&promtool, work.path(), &test);

        // What the controller concludes from those measurements with the template's bounds.
        let passes = |metric: &str, value: f64| {
            let condition = measurement(template, metric)["successCondition"]
                .as_str()
                .unwrap();
            let (op, limit) = if metric == "success-rate" {
                (">=", bound(condition, ">="))
            } else {
                ("<=", bound(condition, "<="))
            };
            let limit: f64 = limit.parse().unwrap();
            if op == ">=" {
                value >= limit
            } else {
                value <= limit
            }
        };
        let [
            (_, bad_rate, bad_p95),
            (_, good_rate, good_p95),
            (_, new_rate, new_p95),
        ] = cases;
        assert!(!passes("success-rate", bad_rate), "{at}: 10 % errors fail");
        assert!(
            !passes("latency-p95", bad_p95),
            "{at}: p95 over the SLO fails"
        );
        assert!(passes("success-rate", good_rate), "{at}");
        assert!(passes("latency-p95", good_p95), "{at}");
        assert!(passes("success-rate", new_rate) && passes("latency-p95", new_p95));
    }
}

/// The relabeling that turns a pod's `rollouts-pod-template-hash` into the series label
/// the analyses, recording rules and dashboards select on: a plain copy, on every endpoint.
fn check_version_relabeling(monitor: &Yaml, at: &str) {
    let endpoints = monitor["spec"]["podMetricsEndpoints"]
        .as_sequence()
        .or_else(|| monitor["spec"]["endpoints"].as_sequence())
        .unwrap_or_else(|| panic!("{at}: no endpoints"));
    assert!(!endpoints.is_empty(), "{at}");
    let source = format!(
        "__meta_kubernetes_pod_label_{}",
        POD_HASH_LABEL.replace('-', "_")
    );
    for ep in endpoints {
        let relabelings = ep["relabelings"].as_sequence().cloned().unwrap_or_default();
        let copies: Vec<&Yaml> = relabelings
            .iter()
            .filter(|r| r["targetLabel"] == VERSION_LABEL)
            .collect();
        assert_eq!(copies.len(), 1, "{at}: {relabelings:?}");
        let r = copies[0];
        assert_eq!(
            r["sourceLabels"],
            serde_yaml_ng::from_str::<Yaml>(&format!("[{source}]")).unwrap(),
            "{at}"
        );
        assert!(
            r["action"].is_null() || r["action"] == "replace",
            "{at}: {r:?}"
        );
        // Prometheus' defaults copy the value whole.
        assert!(r["regex"].is_null() || r["regex"] == "(.*)", "{at}: {r:?}");
        assert!(
            r["replacement"].is_null() || r["replacement"] == "$1" || r["replacement"] == "${1}",
            "{at}: {r:?}"
        );
        // Nothing later drops it again.
        for r in &relabelings {
            let action = r["action"].as_str().unwrap_or("replace");
            assert!(!matches!(action, "labeldrop" | "labelkeep"), "{at}: {r:?}");
        }
        for r in ep["metricRelabelings"].as_sequence().into_iter().flatten() {
            assert!(
                !matches!(r["action"].as_str(), Some("labeldrop" | "labelkeep")),
                "{at}: {r:?}"
            );
        }
    }
}

#[test]
fn monitors_label_each_series_with_the_version_that_answered() {
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let decl = declared(spec);
        let out = generate(spec);
        let tree = read_tree(out.path());
        let kind = if decl.mesh_istio {
            "PodMonitor"
        } else {
            "ServiceMonitor"
        };
        // What the analyses select on is the label the monitors write.
        for (path, t) in analysis_templates(&tree) {
            for (metric, query) in analysis_queries(&t) {
                assert!(
                    query.contains(&format!("{VERSION_LABEL}=\"{{{{args.canary-hash}}}}\"")),
                    "{label}: {path}: {metric}: {query}"
                );
            }
        }
        // The Kustomize tree: each service's monitor, as built, in every environment.
        let mut jobs = Vec::new();
        for s in &decl.services {
            for (env, ns) in &decl.namespaces {
                let at = format!("{label}: kustomize {env}/{}", s.name);
                let objects = overlay(out.path(), env, &s.name);
                let monitors: Vec<&Yaml> = objects.iter().filter(|o| o["kind"] == kind).collect();
                assert_eq!(monitors.len(), 1, "{at}: one {kind}");
                check_version_relabeling(monitors[0], &at);
                let helm = out.path().join("helm");
                jobs.push(json!({
                    "key": format!("{env}/{}", s.name),
                    "release": s.name,
                    "namespace": ns,
                    "values": [
                        helm.join(&s.name).join("values.yaml"),
                        helm.join(&s.name).join(format!("values-{env}.yaml")),
                    ],
                }));
            }
        }
        // The Helm tree: the chart rendered with each service's values for each environment.
        let rendered = crate::helm::render_and_lint(&json!({
            "chart": out.path().join("helm/chart"),
            "kube_version": crate::helm::KUBE_VERSION,
            "jobs": jobs,
        }));
        for job in &jobs {
            let key = job["key"].as_str().unwrap();
            let at = format!("{label}: helm {key}");
            let result = &rendered[key];
            assert!(result["error"].is_null(), "{at}: {}", result["error"]);
            let monitors: Vec<Yaml> = result["manifests"]
                .as_object()
                .unwrap()
                .values()
                .flat_map(|text| yaml_docs(text.as_str().unwrap()))
                .filter(|o| o["kind"] == kind)
                .collect();
            assert_eq!(monitors.len(), 1, "{at}: one {kind}");
            check_version_relabeling(&monitors[0], &at);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The graph and the architecture document

#[derive(Debug, Default, PartialEq, Eq)]
struct Edges {
    calls: BTreeSet<(String, String)>,
    publishes: BTreeSet<(String, String)>,
    consumes: BTreeSet<(String, String)>,
    routes: BTreeMap<String, Vec<String>>,
    /// service → (datastore kind, owned data)
    owns: BTreeMap<String, (String, Vec<String>)>,
    topics: BTreeSet<String>,
    /// (service, host outside the cluster) → the ports, as the edge's label says them
    egress: BTreeMap<(String, String), Vec<String>>,
}

fn expected_edges(d: &Declared) -> Edges {
    let mut e = Edges::default();
    for s in &d.services {
        for c in &s.calls {
            e.calls.insert((s.name.clone(), c.clone()));
        }
        for t in &s.publishes {
            e.publishes.insert((s.name.clone(), t.clone()));
            e.topics.insert(t.clone());
        }
        for t in &s.consumes {
            e.consumes.insert((t.clone(), s.name.clone()));
            e.topics.insert(t.clone());
        }
        if !s.apis.is_empty() {
            e.routes.insert(s.name.clone(), s.apis.clone());
        }
        let mut ports: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for entry in &s.egress {
            let (host, port) = entry.rsplit_once(':').unwrap();
            ports
                .entry((s.name.clone(), host.to_string()))
                .or_default()
                .push(port.to_string());
        }
        for (key, ports) in ports {
            e.egress.insert(key, vec![ports.join(", ")]);
        }
        if s.datastore != "none" || !s.owns.is_empty() {
            let kind = if s.datastore == "none" {
                "data (no datastore)".to_string()
            } else {
                s.datastore.clone()
            };
            e.owns.insert(s.name.clone(), (kind, s.owns.clone()));
        }
    }
    e.topics.extend(d.external_topics.iter().cloned());
    e
}

/// Undoes the Mermaid label escaping (`#NN;` entity codes, `<br/>` line breaks).
fn mermaid_unescape(label: &str) -> Vec<String> {
    let inner = label.trim_matches('"');
    let mut out = String::new();
    let mut rest = inner;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').unwrap() + i;
        let code: u32 = rest[i + 1..end].parse().unwrap();
        out.push(char::from_u32(code).unwrap());
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out.split("<br/>").map(str::to_string).collect()
}

/// Parses the Mermaid flowchart bulkhead draws back into edges, by node shape and arrow.
fn parse_mermaid(text: &str) -> Edges {
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart LR"));
    // id → (shape, label lines)
    let mut nodes: BTreeMap<String, (&str, Vec<String>)> = BTreeMap::new();
    let mut raw_edges = Vec::new();
    // Topics are drawn inside the broker's group, and only topics are.
    let mut in_broker = false;
    for line in lines {
        let line = line.trim();
        if line.starts_with("classDef") {
            continue;
        }
        if line.starts_with("subgraph broker[") {
            in_broker = true;
            continue;
        }
        if line == "end" {
            in_broker = false;
            continue;
        }
        let arrow = ["==>", "-->", "---", "-.->"]
            .into_iter()
            .find(|a| line.contains(&format!(" {a}")));
        if let Some(arrow) = arrow {
            let (from, rest) = line.split_once(&format!(" {arrow}")).unwrap();
            let (label, to) = match rest.strip_prefix('|') {
                Some(r) => {
                    let (l, to) = r.split_once("| ").unwrap();
                    (mermaid_unescape(l), to.trim())
                }
                None => (Vec::new(), rest.trim()),
            };
            raw_edges.push((arrow, from.to_string(), to.to_string(), label));
            continue;
        }
        let (def, class) = line.rsplit_once(":::").unwrap();
        let id_end = def.find(['[', '(', '{']).unwrap();
        let (id, shape) = def.split_at(id_end);
        let (kind, label) =
            if let Some(l) = shape.strip_prefix("([").and_then(|s| s.strip_suffix("])")) {
                ("gateway", l)
            } else if let Some(l) = shape.strip_prefix("[(").and_then(|s| s.strip_suffix(")]")) {
                ("datastore", l)
            } else if let Some(l) = shape.strip_prefix("{{").and_then(|s| s.strip_suffix("}}")) {
                ("topic", l)
            } else if let Some(l) = shape.strip_prefix("[/").and_then(|s| s.strip_suffix("/]")) {
                ("external", l)
            } else if let Some(l) = shape.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                ("service", l)
            } else {
                panic!("unknown node shape: {line}")
            };
        assert_eq!(kind, class, "{line}");
        assert_eq!(
            kind == "topic",
            in_broker,
            "{line}: topics inside the broker"
        );
        nodes.insert(id.to_string(), (kind, mermaid_unescape(label)));
    }
    let name = |id: &str| -> (&str, String) {
        let (kind, label) = &nodes[id];
        (kind, label[0].clone())
    };
    let mut e = Edges::default();
    for (id, (kind, label)) in &nodes {
        if *kind == "topic" {
            e.topics.insert(label[0].clone());
        }
        let _ = id;
    }
    for (arrow, from, to, label) in raw_edges {
        let (fk, f) = name(&from);
        let (tk, t) = name(&to);
        match (arrow, fk, tk) {
            ("-->", "service", "service") => {
                e.calls.insert((f, t));
            }
            ("-.->", "service", "topic") => {
                e.publishes.insert((f, t));
            }
            ("-.->", "topic", "service") => {
                e.consumes.insert((f, t));
            }
            ("==>", "gateway", "service") => {
                e.routes.insert(t, label);
            }
            ("-->", "service", "external") => {
                e.egress.insert((f, t), label);
            }
            ("---", "service", "datastore") => {
                let lines = &nodes[&to].1;
                let owned = lines
                    .get(1)
                    .map(|l| l.split(", ").map(str::to_string).collect())
                    .unwrap_or_default();
                e.owns.insert(f, (lines[0].clone(), owned));
            }
            other => panic!("unexpected edge {other:?}"),
        }
    }
    e
}

/// Parses Graphviz's own reading of the DOT output (`dot -Tjson`) into edges.
fn parse_dot_json(graph: &Json) -> Edges {
    let objects = graph["objects"].as_array().unwrap();
    let node = |i: &Json| -> (&str, Vec<String>) {
        let o = &objects[i.as_u64().unwrap() as usize];
        let kind = o["name"].as_str().unwrap().split(':').next().unwrap();
        let label = o["label"]
            .as_str()
            .unwrap()
            .split("\\n")
            .map(str::to_string)
            .collect();
        (kind, label)
    };
    let mut e = Edges::default();
    for o in objects {
        if o["name"].as_str().unwrap().starts_with("topic:") {
            e.topics.insert(
                o["label"]
                    .as_str()
                    .unwrap()
                    .split("\\n")
                    .next()
                    .unwrap()
                    .into(),
            );
        }
    }
    for edge in graph["edges"].as_array().into_iter().flatten() {
        let (fk, fl) = node(&edge["tail"]);
        let (tk, tl) = node(&edge["head"]);
        let style = edge["style"].as_str().unwrap();
        let label = || -> Vec<String> {
            edge["label"]
                .as_str()
                .unwrap()
                .split("\\n")
                .map(str::to_string)
                .collect()
        };
        match (style, fk, tk) {
            ("solid", "svc", "svc") => {
                e.calls.insert((fl[0].clone(), tl[0].clone()));
            }
            ("dashed", "svc", "topic") => {
                e.publishes.insert((fl[0].clone(), tl[0].clone()));
            }
            ("dashed", "topic", "svc") => {
                e.consumes.insert((fl[0].clone(), tl[0].clone()));
            }
            ("solid", "svc", "ext") => {
                e.egress.insert((fl[0].clone(), tl[0].clone()), label());
            }
            ("bold", "gateway", "svc") => {
                e.routes.insert(tl[0].clone(), label());
            }
            ("dotted", "svc", "db") => {
                let owned = tl
                    .get(1)
                    .map(|l| l.split(", ").map(str::to_string).collect())
                    .unwrap_or_default();
                e.owns.insert(fl[0].clone(), (tl[0].clone(), owned));
            }
            other => panic!("unexpected edge {other:?}"),
        }
    }
    e
}

fn graph(spec: &Path, format: &str) -> String {
    let out = bulkhead(&root())
        .args(["graph", "--format", format, "-f"])
        .arg(spec)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn graph_in_mermaid_and_dot_is_the_declared_platform() {
    let dot = dot();
    let images = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("graphs");
    std::fs::create_dir_all(&images).unwrap();
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let expected = expected_edges(&declared(spec));
        let mermaid = graph(spec, "mermaid");
        assert_eq!(parse_mermaid(&mermaid), expected, "{label}: Mermaid");
        assert_eq!(graph(spec, "mermaid"), mermaid, "{label}: deterministic");

        let text = graph(spec, "dot");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("graph.dot");
        std::fs::write(&file, &text).unwrap();
        let parsed: Json =
            serde_json::from_str(&run(Command::new(&dot).arg("-Tjson").arg(&file))).unwrap();
        assert_eq!(
            parse_dot_json(&parsed),
            expected,
            "{label}: DOT as Graphviz reads it"
        );
        // Rendered to an image (kept under target/ for a look).
        let name = label.split(' ').next().unwrap();
        let suffix = if label.contains("none") {
            "-mesh-none"
        } else {
            ""
        };
        let png = images.join(format!("{name}{suffix}.png"));
        run(Command::new(&dot)
            .arg("-Tpng")
            .arg(&file)
            .arg("-o")
            .arg(&png));
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 10_000,
            "{label}: {} is not a real image",
            png.display()
        );
    }
}

#[test]
fn graph_help_has_an_example() {
    let out = bulkhead(&root())
        .args(["graph", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--format"), "{text}");
    assert!(text.contains("Examples:"), "{text}");
    bulkhead(&root())
        .args(["graph", "--format", "png", "-f"])
        .arg(example("fleet"))
        .assert()
        .code(2);
}

/// Markdown table rows under the heading `heading` (cells trimmed, header row and
/// separator skipped).
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let start = doc
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("no heading {heading}"));
    doc[start + heading.len() + 2..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            split_cells(l)
                .into_iter()
                .map(|c| c.trim().replace("\\_", "_").replace("\\|", "|"))
                .collect()
        })
        .collect()
}

/// Splits a Markdown table row at unescaped pipes.
fn split_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cells.last_mut().unwrap().push(c);
                if let Some(n) = chars.next() {
                    cells.last_mut().unwrap().push(n);
                }
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells
}

fn list(cell: &str, none: &str) -> Vec<String> {
    if cell == none {
        Vec::new()
    } else {
        cell.split(", ").map(str::to_string).collect()
    }
}

#[test]
fn architecture_document_describes_the_platform_as_declared() {
    let (all, _keep) = platforms();
    for (label, spec) in &all {
        let decl = declared(spec);
        let out = generate(spec);
        let doc = std::fs::read_to_string(out.path().join("docs/architecture.md")).unwrap();

        // The graph is the one `bulkhead graph` prints, byte for byte.
        let mermaid = graph(spec, "mermaid");
        assert!(
            doc.contains(&format!("```mermaid\n{mermaid}```\n")),
            "{label}: the document's graph is not `bulkhead graph`'s"
        );

        // Ownership table rows == the declared owners, in order.
        let owners: Vec<Vec<String>> = table(&doc, "## Who owns which data")
            .into_iter()
            .map(|r| r[..2].to_vec())
            .collect();
        let declared_owners: Vec<Vec<String>> = decl
            .services
            .iter()
            .flat_map(|s| s.owns.iter().map(|d| vec![d.clone(), s.name.clone()]))
            .collect();
        assert_eq!(owners, declared_owners, "{label}: ownership table");

        // Events: publisher and consumers of every topic.
        let expected = expected_edges(&decl);
        for row in table(&doc, "## Events") {
            let topic = &row[0];
            let publishers: BTreeSet<String> = expected
                .publishes
                .iter()
                .filter(|(_, t)| t == topic)
                .map(|(s, _)| s.clone())
                .collect();
            let publisher = publishers
                .into_iter()
                .next()
                .unwrap_or("outside the platform (may not publish here)".into());
            // Each topic is the broker's stream of the same name, `.` and `_` as `-`.
            assert_eq!(
                row[1],
                format!("`{}`", topic.replace(['.', '_'], "-")),
                "{label}: {topic}"
            );
            assert_eq!(row[2], publisher, "{label}: {topic}");
            let consumers: Vec<String> = decl
                .services
                .iter()
                .filter(|s| s.consumes.contains(topic))
                .map(|s| s.name.clone())
                .collect();
            assert_eq!(list(&row[3], "nobody yet"), consumers, "{label}: {topic}");
        }

        // Per service: APIs, datastore, callers, callees.
        for s in &decl.services {
            let rows: BTreeMap<String, String> = table(&doc, &format!("### {}", s.name))
                .into_iter()
                .map(|r| (r[0].clone(), r[1].clone()))
                .collect();
            let callers: Vec<String> = decl
                .services
                .iter()
                .filter(|c| c.calls.contains(&s.name))
                .map(|c| c.name.clone())
                .collect();
            assert_eq!(
                list(&rows["callers"], "none"),
                callers,
                "{label}: {}",
                s.name
            );
            assert_eq!(
                list(&rows["callees"], "none"),
                s.calls,
                "{label}: {}",
                s.name
            );
            assert_eq!(
                list(&rows["owns"], "nothing"),
                s.owns,
                "{label}: {}",
                s.name
            );
            let egress: Vec<String> = s
                .egress
                .iter()
                .map(|e| {
                    let tls = e.ends_with(":443");
                    format!("{e} ({})", if tls { "TLS" } else { "TCP" })
                })
                .collect();
            assert_eq!(
                list(&rows["egress"], "none (nothing outside the cluster)"),
                egress,
                "{label}: {}",
                s.name
            );
            if s.apis.is_empty() {
                assert_eq!(rows["public APIs"], "none (internal only)");
            } else {
                assert_eq!(
                    rows["public APIs"],
                    format!("{} (through the gateway)", s.apis.join(", ")),
                    "{label}: {}",
                    s.name
                );
            }
            if s.datastore == "none" {
                assert_eq!(rows["datastore"], "none");
            } else {
                assert_eq!(
                    rows["datastore"],
                    format!("{} ({}-{})", s.datastore, s.name, s.datastore),
                    "{label}: {}",
                    s.name
                );
            }
            assert!(
                doc.contains(&format!("#### Runbook for {}\n", s.name)),
                "{label}: runbook anchor for {}",
                s.name
            );
        }

        // The four self-check questions are answered.
        for q in [
            "### How fast can a bad release be rolled back?",
            "### Does the whole survive one service dying?",
            "### Can you see what is happening at a glance?",
            "### Can a newcomer explain the structure?",
        ] {
            assert!(doc.contains(q), "{label}: {q}");
        }
        let rollback = table(&doc, "### How fast can a bad release be rolled back?");
        assert_eq!(
            rollback.len(),
            decl.services.len() * decl.namespaces.len(),
            "{label}: one rollback row per service and environment"
        );
        let survive = table(&doc, "### Does the whole survive one service dying?");
        let names: Vec<&String> = survive.iter().map(|r| &r[0]).collect();
        let declared_names: Vec<&String> = decl.services.iter().map(|s| &s.name).collect();
        assert_eq!(names, declared_names, "{label}");
    }
}

#[test]
fn descriptions_cannot_break_the_markdown() {
    let hostile =
        "Evil | cell\n# heading\n- item <script>alert(1)</script> [x](javascript:y) `code` ```";
    let text = crate::common::minimal(&format!(
        "description = {}\nowns = [\"orders\"]\ndatastore = \"postgres\"\n",
        serde_json::to_string(hostile).unwrap()
    ));
    let dir = platform(&text);
    let out = generate(&dir.path().join("service.toml"));
    let doc = std::fs::read_to_string(out.path().join("docs/architecture.md")).unwrap();
    assert!(!doc.contains("<script>"), "raw HTML reached the document");
    assert!(!doc.contains("\n# heading"), "a heading was opened");
    assert!(!doc.contains("\n- item"), "a list was opened");
    assert!(
        !doc.contains("[x](javascript") && doc.contains(r"\[x\](javascript"),
        "a link was opened"
    );
    assert_eq!(doc.matches("```").count(), 2, "only the Mermaid fence");
    let line = doc
        .lines()
        .find(|l| l.starts_with("Evil"))
        .expect("the description is one line");
    assert_eq!(
        split_cells(line).len(),
        1,
        "no table cell was opened: {line}"
    );
    let owners = table(&doc, "## Who owns which data");
    assert_eq!(owners, [["orders", "api", "postgres (api-postgres)"]]);
}

/// A platform of 13 services: its overview is the same dashboard as a platform of 3 (one
/// table, queries by service label); its document lists at most ten indirect dependents per
/// service.
#[test]
fn a_larger_platform_keeps_its_overview_and_its_document_short() {
    let chain = |n: usize| {
        let mut text = String::from(
            "[platform]\nname = \"big\"\nregistry = \"ghcr.io/acme\"\nrepository = \"https://github.com/acme/big.git\"\n\n[environments.dev]\n\n[environments.prod]\n",
        );
        for i in 0..n {
            text.push_str(&format!("\n[services.svc-{i}]\nruntime = \"go\"\n"));
            if i > 0 {
                text.push_str(&format!("calls = [\"svc-{}\"]\n", i - 1));
            }
        }
        platform(&text)
    };
    let dir = chain(13);
    let spec = dir.path().join("service.toml");
    let decl = declared(&spec);
    let out = generate(&spec);
    let tree = read_tree(out.path());
    let d = json_file(&tree, "observability/dashboards/overview.json");
    check_dashboard("big overview", &d, &decl);
    let three = chain(3);
    let small = json_file(
        &read_tree(generate(&three.path().join("service.toml")).path()),
        "observability/dashboards/overview.json",
    );
    assert_eq!(d, small, "the same overview for 13 services as for 3");
    // The document lists at most ten indirect dependents per service.
    let doc = &tree["docs/architecture.md"];
    assert!(
        doc.contains("| svc-0 | none | svc-1 | svc-2, svc-3, "),
        "{doc}"
    );
    assert!(doc.contains(" and 1 more |"), "{doc}");
}
