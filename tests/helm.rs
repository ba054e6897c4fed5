//! Helm and Kustomize deploy the same thing: for every examples/*/service.toml, for each of
//! them again without a mesh, for tests/fixtures/specs/helm-variety (what the examples
//! leave out) and for a generated platform that writes every key of service.toml
//! (examples/synth, `--every-key`), with and without a mesh, each (service, environment) rendered by the real Helm engine (helm/chart,
//! release = the service, namespace = the environment's, values.yaml then values-<env>.yaml)
//! holds exactly the objects `kubectl kustomize deploy/overlays/<env>/<service>` builds, with
//! the same fields, apart from the labels and annotations only one of the tools adds. Helm's
//! lint (strict) passes with every pair of values files.
//!
//! Helm runs through PyPI helm-python-sdk (Helm 4's Go SDK) from the conformance suite's tools
//! venv (`BULKHEAD_TOOLS_DIR`, default .cache/conformance; `scripts/conformance` installs it,
//! `scripts/test` too), driven by tests/helpers/helm_render.py. Without it the tests fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bulkhead::model::Model;
use serde_yaml_ng::{Mapping, Value};

use crate::common::{EXAMPLES, example, generate, platform, read_tree, root};

/// The Kubernetes version lint checks the chart against (as the conformance suite does).
pub(crate) const KUBE_VERSION: &str = "v1.32.0";

/// The tools venv's Python, which has helm-python-sdk; a clear failure when it is missing.
fn tools_python() -> PathBuf {
    let dir = std::env::var_os("BULKHEAD_TOOLS_DIR")
        .map(PathBuf::from)
        .map_or_else(|| root().join(".cache/conformance"), |d| root().join(d));
    let python = dir.join("venv/bin/python");
    assert!(
        python.is_file(),
        "the Helm/Kustomize equivalence test renders the chart with the real Helm engine \
         (PyPI helm-python-sdk) from the conformance tools venv, and {} does not exist: run \
         scripts/conformance first (`scripts/conformance --install-only` installs the tools; \
         scripts/test does both), or point BULKHEAD_TOOLS_DIR at its cache folder",
        python.display()
    );
    python
}

fn model_of(spec: &Path) -> Model {
    crate::common::model_of_file(spec)
}

/// `(kind, namespace, name)`: how both tools' objects are matched.
type Key = (String, String, String);

fn describe(key: &Key) -> String {
    format!("{} {}/{}", key.0, key.1, key.2)
}

/// Labels and annotations only one tool adds: Helm's chart label and release annotations,
/// and the manager's name (Helm vs bulkhead) in `app.kubernetes.io/managed-by`.
fn normalise(value: &mut Value) {
    match value {
        Value::Mapping(map) => {
            if let Some(Value::Mapping(meta)) = map.get_mut("metadata") {
                normalise_metadata(meta);
            }
            for (_, v) in map.iter_mut() {
                normalise(v);
            }
        }
        Value::Sequence(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn normalise_metadata(meta: &mut Mapping) {
    if let Some(Value::Mapping(labels)) = meta.get_mut("labels") {
        labels.remove("helm.sh/chart");
        if let Some(manager) = labels.get_mut("app.kubernetes.io/managed-by")
            && matches!(manager.as_str(), Some("Helm" | "bulkhead"))
        {
            *manager = Value::from("(Helm or bulkhead)");
        }
    }
    if let Some(Value::Mapping(annotations)) = meta.get_mut("annotations") {
        // `checksum/config`: see `unhashed`.
        let helm: Vec<Value> = annotations
            .keys()
            .filter(|k| {
                k.as_str()
                    .is_some_and(|k| k.starts_with("meta.helm.sh/") || k == "checksum/config")
            })
            .cloned()
            .collect();
        for k in helm {
            annotations.remove(&k);
        }
    }
    for field in ["labels", "annotations"] {
        if matches!(meta.get(field), Some(Value::Mapping(m)) if m.is_empty()) {
            meta.remove(field);
        }
    }
}

/// How each tool rolls Pods on a changed setting differs, and only that: kustomize names
/// the generated ConfigMap after its content (`<name>-<10-character hash>`, every reference
/// following), the chart keeps the name and sets a `checksum/config` annotation on the pod
/// template. `rolls_on_a_changed_setting` tests both; here the kustomize names lose the
/// hash and the chart's pod templates the annotation.
fn unhashed(mut docs: Vec<Value>) -> Vec<Value> {
    let renamed: BTreeMap<String, String> = docs
        .iter()
        .filter(|d| d["kind"] == "ConfigMap")
        .filter_map(|d| d["metadata"]["name"].as_str())
        .filter_map(|name| {
            let (stem, hash) = name.rsplit_once('-')?;
            let hashed = hash.len() == 10 && hash.bytes().all(|b| b.is_ascii_alphanumeric());
            hashed.then(|| (name.to_string(), stem.to_string()))
        })
        .collect();
    fn rename(value: &mut Value, renamed: &BTreeMap<String, String>) {
        match value {
            Value::String(s) => {
                if let Some(stem) = renamed.get(s.as_str()) {
                    *s = stem.clone();
                }
            }
            Value::Mapping(map) => map.iter_mut().for_each(|(_, v)| rename(v, renamed)),
            Value::Sequence(items) => items.iter_mut().for_each(|v| rename(v, renamed)),
            _ => {}
        }
    }
    docs.iter_mut().for_each(|d| rename(d, &renamed));
    docs
}

/// Objects by key; duplicates and objects without kind or name are problems.
fn index(docs: Vec<Value>, tool: &str, problems: &mut Vec<String>) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();
    for mut doc in docs {
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let key = (
            text(&doc["kind"]),
            text(&doc["metadata"]["namespace"]),
            text(&doc["metadata"]["name"]),
        );
        if key.0.is_empty() || key.2.is_empty() {
            problems.push(format!(
                "{tool} renders an object without kind or name: {doc:?}"
            ));
            continue;
        }
        normalise(&mut doc);
        if out.insert(key.clone(), doc).is_some() {
            problems.push(format!("{tool} renders {} twice", describe(&key)));
        }
    }
    out
}

fn short(v: Option<&Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(v) => {
            let text = serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"));
            if text.len() > 160 {
                format!("{}… ({} characters)", &text[..150], text.len())
            } else {
                text
            }
        }
    }
}

/// Field-by-field differences, one line each: `path: kustomize … | helm …`.
fn diff(path: &str, kustomize: Option<&Value>, helm: Option<&Value>, out: &mut Vec<String>) {
    match (kustomize, helm) {
        (Some(Value::Mapping(k)), Some(Value::Mapping(h))) => {
            let keys: BTreeSet<String> = k
                .keys()
                .chain(h.keys())
                .map(|key| {
                    key.as_str()
                        .map_or_else(|| format!("{key:?}"), String::from)
                })
                .collect();
            for key in keys {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(&sub, k.get(key.as_str()), h.get(key.as_str()), out);
            }
        }
        (Some(Value::Sequence(k)), Some(Value::Sequence(h))) => {
            if k.len() != h.len() {
                out.push(format!(
                    "{path}: kustomize has {} items, helm {}",
                    k.len(),
                    h.len()
                ));
            }
            for i in 0..k.len().max(h.len()) {
                diff(&format!("{path}[{i}]"), k.get(i), h.get(i), out);
            }
        }
        (k, h) if k == h => {}
        (k, h) => out.push(format!(
            "{path}: kustomize {} | helm {}",
            short(k),
            short(h)
        )),
    }
}

fn kustomize(dir: &Path) -> Result<Vec<Value>, String> {
    parse_docs(&crate::common::kustomize_text(dir)?)
}

fn parse_docs(text: &str) -> Result<Vec<Value>, String> {
    use serde::Deserialize;
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let v = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// One release to render: `(service, environment)` and how Helm gets it.
struct Job {
    service: String,
    env: String,
    namespace: String,
}

impl Job {
    /// Every (service, environment) of `model`.
    fn every(model: &Model) -> Vec<Job> {
        model
            .environments
            .iter()
            .flat_map(|env| {
                model.services.iter().map(|s| Job {
                    service: s.name.clone(),
                    env: env.name.clone(),
                    namespace: env.namespace.clone(),
                })
            })
            .collect()
    }

    fn key(&self) -> String {
        format!("{}/{}", self.env, self.service)
    }
}

/// Renders and lints every job with the real Helm engine, in one Python process.
fn helm(tree: &Path, jobs: &[Job]) -> serde_json::Value {
    let helm_dir = tree.join("helm");
    let request = serde_json::json!({
        "chart": helm_dir.join("chart"),
        "kube_version": KUBE_VERSION,
        "jobs": jobs.iter().map(|j| serde_json::json!({
            "key": j.key(),
            "release": j.service,
            "namespace": j.namespace,
            "values": [
                helm_dir.join(&j.service).join("values.yaml"),
                helm_dir.join(&j.service).join(format!("values-{}.yaml", j.env)),
            ],
        })).collect::<Vec<_>>(),
    });
    render_and_lint(&request)
}

/// Runs tests/helpers/helm_render.py on `request` (the input its docstring describes) and
/// returns its JSON answer.
pub(crate) fn render_and_lint(request: &serde_json::Value) -> serde_json::Value {
    let mut child = Command::new(tools_python())
        .arg(root().join("tests/helpers/helm_render.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tools venv's python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "tests/helpers/helm_render.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the helper prints JSON")
}

/// What one platform's check found: a line per (service, environment), and the problems.
#[derive(Default)]
struct Outcome {
    summary: Vec<String>,
    problems: Vec<String>,
}

/// Generates `spec` and compares Helm with Kustomize for every (service, environment).
fn check(label: &str, spec: &Path) -> Outcome {
    let model = model_of(spec);
    let out = generate(spec);
    let tree = out.path();
    let mut outcome = Outcome::default();
    let jobs = Job::every(&model);
    let rendered = helm(tree, &jobs);
    let mut lint_seen = BTreeSet::new();
    for job in &jobs {
        let at = format!("{label} {}", job.key());
        let result = &rendered[job.key()];
        let mut problems = Vec::new();

        for m in result["lint"]["messages"].as_array().into_iter().flatten() {
            if m["severity"].as_i64().unwrap_or(0) >= 2 {
                let line = format!(
                    "helm lint: {} {}",
                    m["path"].as_str().unwrap_or(""),
                    m["error"].as_str().unwrap_or("")
                );
                if lint_seen.insert(line.clone()) {
                    problems.push(line);
                }
            }
        }
        for e in result["lint"]["errors"].as_array().into_iter().flatten() {
            let line = format!("helm lint: {}", e.as_str().unwrap_or(""));
            if lint_seen.insert(line.clone()) {
                problems.push(line);
            }
        }
        if let Some(e) = result["error"].as_str() {
            problems.push(format!("helm render failed: {e}"));
        }

        let mut helm_docs = Vec::new();
        for (path, text) in result["manifests"].as_object().into_iter().flatten() {
            match parse_docs(text.as_str().unwrap_or_default()) {
                Ok(docs) => helm_docs.extend(docs),
                Err(e) => problems.push(format!("helm renders invalid YAML in {path}: {e}")),
            }
        }
        let overlay = tree
            .join("deploy/overlays")
            .join(&job.env)
            .join(&job.service);
        let kustomize_docs = kustomize(&overlay).unwrap_or_else(|e| {
            problems.push(e);
            Vec::new()
        });
        let k = index(unhashed(kustomize_docs), "kustomize", &mut problems);
        let h = index(helm_docs, "helm", &mut problems);
        for key in k.keys().filter(|key| !h.contains_key(*key)) {
            problems.push(format!("only kustomize builds {}", describe(key)));
        }
        for key in h.keys().filter(|key| !k.contains_key(*key)) {
            problems.push(format!("only helm renders {}", describe(key)));
        }
        let mut same = 0;
        for (key, kv) in &k {
            let Some(hv) = h.get(key) else { continue };
            let mut lines = Vec::new();
            diff("", Some(kv), Some(hv), &mut lines);
            if lines.is_empty() {
                same += 1;
            } else {
                let mut text = format!("{} differs:", describe(key));
                for line in lines {
                    let _ = write!(text, "\n      {line}");
                }
                problems.push(text);
            }
        }
        outcome.summary.push(format!(
            "{at}: {same} of {} objects equal{}",
            k.len().max(h.len()),
            if problems.is_empty() {
                ""
            } else {
                " — MISMATCH"
            }
        ));
        outcome
            .problems
            .extend(problems.into_iter().map(|p| format!("{at}: {p}")));
    }
    outcome
}

fn assert_equivalent(outcomes: Vec<Outcome>) {
    let summary: Vec<String> = outcomes.iter().flat_map(|o| o.summary.clone()).collect();
    println!("{}", summary.join("\n"));
    let problems: Vec<String> = outcomes.into_iter().flat_map(|o| o.problems).collect();
    assert!(
        problems.is_empty(),
        "Helm (helm/chart) and Kustomize (deploy/overlays) disagree:\n  {}\n\nper (service, environment):\n  {}",
        problems.join("\n  "),
        summary.join("\n  ")
    );
}

/// Every examples/*/service.toml (the common EXAMPLES and any other, like platform-repo).
pub(crate) fn all_examples() -> Vec<String> {
    let mut names: BTreeSet<String> = EXAMPLES.iter().map(|e| (*e).to_string()).collect();
    for entry in std::fs::read_dir(root().join("examples"))
        .unwrap()
        .flatten()
    {
        if entry.path().join("service.toml").is_file() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.into_iter().collect()
}

#[test]
fn helm_renders_what_kustomize_builds_for_every_example() {
    tools_python();
    assert_equivalent(
        all_examples()
            .iter()
            .map(|ex| check(ex, &example(ex)))
            .collect(),
    );
}

/// `text` (a service.toml) with `mesh = "none"`.
fn without_mesh(text: &str) -> String {
    assert!(
        !text.contains("\nmesh ="),
        "the platform sets the mesh already"
    );
    text.replacen("[platform]\n", "[platform]\nmesh = \"none\"\n", 1)
}

/// The chart's other branch: no Istio objects, an Ingress, a ServiceMonitor, no-mesh canary
/// replicas and metrics.
#[test]
fn helm_renders_what_kustomize_builds_without_a_mesh() {
    tools_python();
    let mut outcomes = Vec::new();
    for ex in all_examples() {
        // A copy of the example's folder: its own blueprints come along.
        let dir = tempfile::tempdir().unwrap();
        let folder = example(&ex).parent().unwrap().to_path_buf();
        for (rel, text) in read_tree(&folder) {
            let path = dir.path().join(&rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let text = if rel == "service.toml" {
                without_mesh(&text)
            } else {
                text
            };
            std::fs::write(path, text).unwrap();
        }
        outcomes.push(check(
            &format!("{ex} (mesh = none)"),
            &dir.path().join("service.toml"),
        ));
    }
    assert_equivalent(outcomes);
}

/// What the examples leave out (tests/fixtures/specs/helm-variety): every datastore kind, a
/// public host in one environment only, releases and autoscaling that start or change per
/// environment, odd timeouts and SLOs; with and without the mesh.
#[test]
fn helm_renders_what_kustomize_builds_for_every_feature() {
    tools_python();
    let spec = root().join("tests/fixtures/specs/helm-variety/service.toml");
    let dir = platform(&without_mesh(&std::fs::read_to_string(&spec).unwrap()));
    assert_equivalent(vec![
        check("helm-variety", &spec),
        check(
            "helm-variety (mesh = none)",
            &dir.path().join("service.toml"),
        ),
    ]);
}

/// A generated platform that writes every key of service.toml with varied values
/// (examples/synth, `--every-key`; tests/synth.rs checks that it covers every key): Istio,
/// a domain and `deploy = "helm"`; then no mesh, no domain and `deploy = "kustomize"`.
#[test]
fn helm_renders_what_kustomize_builds_for_every_key() {
    tools_python();
    let outcomes = crate::synth::every_key_platforms()
        .iter()
        .map(|(label, dir)| check(label, &dir.path().join("service.toml")))
        .collect();
    assert_equivalent(outcomes);
}

/// Values from service.toml that YAML, Go templates or Helm could misread reach both trees as
/// the same data: the chart quotes what it prints and never evaluates values as templates.
/// (U+007F is left out: `kubectl kustomize` itself refuses it, "control characters are not
/// allowed", although bulkhead writes it escaped.)
#[test]
fn hostile_values_reach_helm_as_data() {
    tools_python();
    let text = crate::common::minimal(concat!(
        r#"description = "a \"quoted\" \\ back {{ .Values }} {{ fail \"x\" }} ${{ x }} % %s \u2028 line	tab #c: yes""#,
        "\n",
        r#"env = { WEIRD = "- not: a list\n{{ .Release.Name }}", NUMBERISH = "0x10", BOOLISH = "yes", EMPTY = "", PERCENT = "100%" }"#,
        "\n",
    ));
    let dir = platform(&text);
    assert_equivalent(vec![check(
        "hostile values",
        &dir.path().join("service.toml"),
    )]);
}

/// Functions that compute rather than look up: arithmetic, string surgery and building
/// data. A chart template using one is a second owner of a rule the model owns (derived
/// values reach the chart through the values files bulkhead writes).
const COMPUTING: &[&str] = &[
    "add",
    "add1",
    "sub",
    "mul",
    "div",
    "mod",
    "max",
    "min",
    "round",
    "ceil",
    "floor",
    "float64",
    "int64",
    "addf",
    "subf",
    "mulf",
    "divf",
    "maxf",
    "minf",
    "regexReplaceAll",
    "regexFind",
    "upper",
    "lower",
    "title",
    "snakecase",
    "kebabcase",
    "trimAll",
    "trimPrefix",
    "hasSuffix",
    "hasPrefix",
    "substr",
    "list",
    "append",
    "prepend",
    "ternary",
    "splitList",
    "join",
    "sprig",
    "tpl",
    "cat",
];

/// `printf` formats a template may use: an object name from the release name and a fixed
/// suffix, an image reference, a file name, and error messages.
fn allowed_format(format: &str) -> bool {
    let suffix = |f: &str, prefix: &str| {
        f.strip_prefix(prefix)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase()))
    };
    suffix(format, "%s-")
        || format.strip_prefix("tcp-").is_some_and(|f| f == "%s")
        || ["%s:%s", "%s.json"].contains(&format)
}

/// The helpers every `helm create` chart has, which may trim and truncate names.
const NAME_HELPERS: &[&str] = &["bulkhead.name", "bulkhead.chart"];

#[test]
fn chart_templates_only_look_up_what_the_values_carry() {
    let dir = root().join("blueprints/helm/chart/templates");
    let mut problems = Vec::new();
    let mut actions = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut helper: Option<String> = None;
        for (at, action) in go_actions(&text) {
            actions += 1;
            let line = text[..at].lines().count().max(1);
            let words = go_words(action);
            if words.first().map(String::as_str) == Some("define") {
                helper = words.get(1).map(|w| w.trim_matches('"').to_string());
            }
            if helper.as_deref().is_some_and(|h| NAME_HELPERS.contains(&h)) {
                continue;
            }
            if words.first().map(String::as_str) == Some("fail") {
                continue;
            }
            for (i, word) in words.iter().enumerate() {
                if COMPUTING.contains(&word.as_str()) {
                    problems.push(format!("{file}:{line}: `{word}` computes: {action}"));
                }
                if word == "printf" {
                    let format = words.get(i + 1).map_or("", |f| f.trim_matches('"'));
                    if !allowed_format(format) {
                        problems.push(format!(
                            "{file}:{line}: printf \"{format}\" builds a value the model should own: {action}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        actions > 200,
        "the chart's templates were not read ({actions} actions)"
    );
    assert!(
        problems.is_empty(),
        "chart templates compute what service.toml's model already knows; put the value in \
         helm/__service__/values*.yaml from the model instead:\n  {}",
        problems.join("\n  ")
    );
}

/// The `{{ … }}` actions of a Go template (comments left out), with their byte offsets.
fn go_actions(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(start) = text[rest..].find("{{") {
        let start = rest + start;
        let Some(len) = text[start..].find("}}") else {
            break;
        };
        let inner = text[start + 2..start + len].trim_matches('-').trim();
        if !inner.starts_with("/*") {
            out.push((start, inner));
        }
        rest = start + len + 2;
    }
    out
}

/// The words of an action: identifiers and quoted strings (kept with their quotes).
fn go_words(action: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = action.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            let mut end = action.len();
            let mut escaped = false;
            for (j, d) in chars.by_ref() {
                if d == '"' && !escaped {
                    end = j + 1;
                    break;
                }
                escaped = d == '\\' && !escaped;
            }
            words.push(action[i..end].to_string());
        } else if c.is_alphanumeric() || c == '_' || c == '.' || c == '$' {
            let mut end = action.len();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || d == '_' || d == '.' || d == '$' {
                    chars.next();
                } else {
                    end = j;
                    break;
                }
            }
            words.push(action[i..end].to_string());
        }
    }
    words
}

#[test]
fn the_lookup_check_sees_computation() {
    let words = go_words(r#"$x := add (int .Values.a) 1 | printf "%s/%s" "a\"b""#);
    assert!(words.contains(&"add".to_string()));
    assert!(words.contains(&r#""a\"b""#.to_string()));
    assert!(!allowed_format("%s/%s"));
    assert!(allowed_format("%s-canary"));
    assert!(!allowed_format("cluster.local/ns/%s/sa/%s"));
}

/// The pod templates of every workload in `tree`, by `(tool, env/service)`: Kustomize's
/// overlay and the chart's release, as Argo CD builds them.
fn pod_templates(tree: &Path, model: &Model) -> BTreeMap<(String, String), Value> {
    let jobs = Job::every(model);
    let rendered = helm(tree, &jobs);
    let workload = |docs: Vec<Value>| {
        docs.into_iter()
            .find(|d| matches!(d["kind"].as_str(), Some("Deployment" | "Rollout")))
            .map(|d| d["spec"]["template"].clone())
            .expect("a workload")
    };
    let mut out = BTreeMap::new();
    for job in &jobs {
        let overlay = tree
            .join("deploy/overlays")
            .join(&job.env)
            .join(&job.service);
        let built = kustomize(&overlay).unwrap_or_else(|e| panic!("{e}"));
        out.insert(("kustomize".into(), job.key()), workload(built));
        let manifests = rendered[job.key()]["manifests"]
            .as_object()
            .expect("rendered");
        let docs = manifests
            .values()
            .flat_map(|t| parse_docs(t.as_str().unwrap_or_default()).unwrap_or_default())
            .collect();
        out.insert(("helm".into(), job.key()), workload(docs));
    }
    out
}

/// A changed setting rolls exactly the Pods that read it, in both trees: Kustomize's
/// hash-suffixed ConfigMap name, the chart's checksum annotation. A Rollout (fleet's
/// vehicle-management) follows the new name too.
#[test]
fn a_changed_setting_rolls_exactly_the_pods_that_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("service.toml");
    let original = std::fs::read_to_string(example("fleet")).unwrap();
    std::fs::write(&spec, &original).unwrap();
    let model = model_of(&spec);
    let before = pod_templates(generate(&spec).path(), &model);

    let mut doc: toml_edit::DocumentMut = original.parse().unwrap();
    for service in ["vehicle-management", "trip-management"] {
        let mut env = toml_edit::InlineTable::new();
        env.insert("FEATURE_FLAGS", "beta".into());
        doc["services"][service]["env"] = toml_edit::value(env);
    }
    std::fs::write(&spec, doc.to_string()).unwrap();
    let after = pod_templates(generate(&spec).path(), &model_of(&spec));

    assert!(before.len() >= 12, "{:?}", before.keys());
    for (key, template) in &before {
        let changed = template != &after[key];
        let reads_it = ["/vehicle-management", "/trip-management"]
            .iter()
            .any(|s| key.1.ends_with(s));
        assert_eq!(
            changed,
            reads_it,
            "{key:?}: pod template {} after the setting changed",
            if changed {
                "changed"
            } else {
                "stayed the same"
            }
        );
    }
}
