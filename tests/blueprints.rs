//! Custom blueprints (list, eject, overrides, `--blueprints`, template errors with file and
//! line), the example platform repo, the generated template-context docs, the JSON Schema
//! of service.toml, shell completions and the examples in every `--help`.

use std::path::{Path, PathBuf};

use bulkhead::render::Blueprints;
use serde_json::Value;

use crate::common::{
    bulkhead, example, generate, kustomize, minimal, model_of_file, platform, read_tree,
    render_model, root, yaml_docs,
};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every example folder with a service.toml (the platform repo included).
fn all_examples() -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("service.toml"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    assert!(found.len() >= 4, "{found:?}");
    found
}

/// A service.toml with `platform.blueprints` set.
fn with_blueprints(folder: &str) -> String {
    minimal("").replace(
        "[platform]\n",
        &format!("[platform]\nblueprints = \"{folder}\"\n"),
    )
}

// ── The example platform repo ───────────────────────────────────────────────────────────

#[test]
fn platform_repo_example_builds_with_its_override_and_additions() {
    let spec = example("platform-repo");
    bulkhead(&root())
        .args(["validate", "--deny-warnings", "-f"])
        .arg(&spec)
        .assert()
        .success();
    let out = generate(&spec);
    let tree = read_tree(out.path());

    // The override: the platform team's Go Dockerfile, for every Go service.
    for svc in ["ledger", "payments"] {
        let docker = &tree[&format!("services/{svc}/Dockerfile")];
        assert!(
            docker.contains("FROM registry.acme.example/base/golang:1.24-bookworm AS build"),
            "{docker}"
        );
        assert!(docker.contains("go test -count=1 ./..."), "{docker}");
        assert!(
            docker.contains("ENV GOPROXY=https://goproxy.acme.example"),
            "{docker}"
        );
        assert!(
            docker.contains("com.acme.team=payments-platform"),
            "{docker}"
        );
        assert!(docker.contains("USER 65532:65532"), "{docker}");
    }
    // The Python service keeps the built-in Dockerfile.
    let receipts = &tree["services/receipts/Dockerfile"];
    assert!(!receipts.contains("acme.example/base"), "{receipts}");
    assert!(receipts.contains("python"), "{receipts}");

    // The additions: a runbook per service, an on-call file per environment, with vars.
    for svc in ["ledger", "payments", "receipts"] {
        let runbook = &tree[&format!("docs/runbooks/{svc}.md")];
        assert!(runbook.contains(&format!("# Runbook: {svc}")), "{runbook}");
        assert!(
            runbook.contains("On call: payments-platform, in \\#payments-oncall."),
            "{runbook}"
        );
    }
    assert!(tree["docs/runbooks/ledger.md"].contains("Who suffers when it is down: payments."));
    for (env, rotation, escalation) in [
        ("dev", "payments-office-hours", None),
        ("prod", "payments-primary", Some("payments-secondary")),
    ] {
        let docs = yaml_docs(&tree[&format!("ops/{env}/oncall.yaml")]);
        let oncall = &docs[0];
        assert_eq!(oncall["environment"].as_str(), Some(env));
        assert_eq!(oncall["team"].as_str(), Some("payments-platform"));
        assert_eq!(oncall["chat"].as_str(), Some("#payments-oncall"));
        assert_eq!(oncall["rotation"].as_str(), Some(rotation));
        assert_eq!(oncall["escalation"].as_str(), escalation);
        assert_eq!(oncall["production"].as_bool(), Some(env == "prod"));
        let services = oncall["services"].as_sequence().unwrap();
        assert_eq!(services.len(), 3);
        assert_eq!(
            services[1]["dashboard"].as_str(),
            Some("https://grafana.acme.example/d/pay-payments")
        );
    }

    // The whole tree still builds with the real kustomize; payments, a canary, runs as a
    // Rollout judged by its SLO analysis, ledger as a Deployment.
    for env in ["dev", "prod"] {
        let overlay = out.path().join("deploy/overlays").join(env);
        let objects = kustomize(&overlay);
        let kinds_of = |n: &str| -> Vec<&str> {
            objects
                .iter()
                .filter(|o| o["metadata"]["name"] == n)
                .filter_map(|o| o["kind"].as_str())
                .filter(|k| ["Deployment", "Rollout", "AnalysisTemplate"].contains(k))
                .collect()
        };
        assert_eq!(kinds_of("payments"), ["Rollout"], "{env}");
        assert_eq!(kinds_of("payments-slo"), ["AnalysisTemplate"], "{env}");
        assert_eq!(kinds_of("ledger"), ["Deployment"], "{env}");
        kustomize(&overlay.join("_platform"));
    }
}

#[test]
fn list_marks_builtin_overridden_added_and_partials() {
    let out = bulkhead(&root())
        .args(["blueprints", "list", "-f"])
        .arg(example("platform-repo"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |path: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(path))
            .unwrap_or_else(|| panic!("{path} not listed:\n{text}"))
            .to_string()
    };
    let go = line("_runtimes/go/Dockerfile");
    assert!(go.contains("partial"), "{go}");
    assert!(
        go.contains("overridden by")
            && go.contains("examples/platform-repo/blueprints/_runtimes/go/Dockerfile"),
        "{go}"
    );
    let runbook = line("docs/runbooks/__service__.md");
    assert!(runbook.contains("per service"), "{runbook}");
    assert!(runbook.contains("added: "), "{runbook}");
    let oncall = line("ops/__env__/oncall.yaml");
    assert!(
        oncall.contains("per environment") && oncall.contains("added"),
        "{oncall}"
    );
    let app = line("argocd/__env__/__service__.yaml");
    assert!(
        app.contains("per service and environment") && app.contains("built-in"),
        "{app}"
    );
    assert!(line("argocd/project.yaml").contains("once"));
    assert!(line("_runtimes/python/Dockerfile").contains("built-in"));
    assert!(text.contains("1 overridden, 2 added"), "{text}");
    assert!(text.contains("(platform.blueprints)"), "{text}");
}

#[test]
fn list_without_service_toml_shows_the_builtin_ones_and_json_for_tools() {
    let dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path())
        .args(["blueprints", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("built-in only"), "{text}");
    assert!(text.contains("0 overridden, 0 added"), "{text}");

    let out = bulkhead(&root())
        .args(["blueprints", "list", "--format", "json", "-f"])
        .arg(example("platform-repo"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = json["blueprints"].as_array().unwrap();
    let item = |path: &str| items.iter().find(|i| i["path"] == path).unwrap().clone();
    let go = item("_runtimes/go/Dockerfile");
    assert_eq!(go["origin"], "overridden");
    assert_eq!(go["partial"], true);
    assert!(
        go["file"]
            .as_str()
            .unwrap()
            .ends_with("platform-repo/blueprints/_runtimes/go/Dockerfile")
    );
    assert_eq!(item("ops/__env__/oncall.yaml")["origin"], "added");
    assert_eq!(
        item("ops/__env__/oncall.yaml")["fan_out"],
        "per environment"
    );
    assert_eq!(item("argocd/project.yaml")["origin"], "built-in");
    assert_eq!(item("argocd/project.yaml")["file"], Value::Null);
}

#[test]
fn the_blueprints_flag_takes_precedence_over_platform_blueprints() {
    let dir = platform(&with_blueprints("a"));
    write(
        dir.path(),
        "a/extra/from-a.txt",
        "platform {{ platform.name }}\n",
    );
    write(
        dir.path(),
        "b/extra/from-b.txt",
        "platform {{ platform.name }}\n",
    );

    let out = tempfile::tempdir().unwrap();
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q", "-o"])
        .arg(out.path())
        .assert()
        .success();
    assert!(out.path().join("extra/from-a.txt").is_file());
    assert!(!out.path().join("extra/from-b.txt").exists());

    let out = tempfile::tempdir().unwrap();
    bulkhead(dir.path())
        .args(["apply", "--yes", "-q", "--blueprints", "b", "-o"])
        .arg(out.path())
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(out.path().join("extra/from-b.txt")).unwrap(),
        "platform demo\n"
    );
    assert!(!out.path().join("extra/from-a.txt").exists());

    let listed = bulkhead(dir.path())
        .args(["blueprints", "list", "--blueprints", "b"])
        .output()
        .unwrap();
    let text = stdout(&listed);
    assert!(
        text.contains("extra/from-b.txt") && !text.contains("extra/from-a.txt"),
        "{text}"
    );
    assert!(text.contains("(--blueprints)"), "{text}");
}

// ── Eject ───────────────────────────────────────────────────────────────────────────────

#[test]
fn eject_copies_what_is_asked_and_never_overwrites() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    let builtin_go =
        std::fs::read_to_string(root().join("blueprints/_runtimes/go/Dockerfile")).unwrap();

    let out = bulkhead(d)
        .args(["blueprints", "eject", "--only", "_runtimes/go"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Ejected 1 blueprint into"), "{text}");
    assert!(text.contains("    blueprints = \"blueprints\""), "{text}");
    let ejected = read_tree(&d.join("blueprints"));
    assert_eq!(
        ejected.keys().collect::<Vec<_>>(),
        ["_runtimes/go/Dockerfile"]
    );
    assert_eq!(ejected["_runtimes/go/Dockerfile"], builtin_go);

    // A second eject of a wider prefix keeps the edited file and reports it.
    write(d, "blueprints/_runtimes/go/Dockerfile", "# ours\n");
    let out = bulkhead(d)
        .args(["blueprints", "eject", "--only", "_runtimes/"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("skipped 1 that already exists"), "{text}");
    assert!(text.contains("skipped  ") && text.contains("_runtimes/go/Dockerfile (exists)"));
    let ejected = read_tree(&d.join("blueprints"));
    assert_eq!(ejected["_runtimes/go/Dockerfile"], "# ours\n");
    let runtimes = bulkhead::render::Blueprints::builtin()
        .items
        .keys()
        .filter(|k| k.starts_with("_runtimes/"))
        .count();
    assert_eq!(ejected.len(), runtimes, "{:?}", ejected.keys());

    // Once service.toml points there, eject says so instead of printing the line again.
    std::fs::write(d.join("service.toml"), with_blueprints("blueprints")).unwrap();
    let out = bulkhead(d)
        .args(["blueprints", "eject", "--only", "argocd/project.yaml"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("already uses this folder"), "{text}");
    assert!(d.join("blueprints/argocd/project.yaml").is_file());
}

#[test]
fn eject_rejects_an_unknown_prefix_with_a_suggestion() {
    let dir = platform(&minimal(""));
    let out = bulkhead(dir.path())
        .args(["blueprints", "eject", "--only", "_runtime/go"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("no built-in blueprint is `_runtime/go`"),
        "{err}"
    );
    assert!(err.contains("did you mean `_runtimes/go`?"), "{err}");
    assert!(!dir.path().join("blueprints").exists());
}

#[test]
fn ejected_blueprints_render_exactly_like_the_builtin_ones() {
    let dir = platform(&minimal(""));
    let d = dir.path();
    let out = bulkhead(d)
        .args(["blueprints", "eject", "-q", "custom"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("    blueprints = \"custom\""), "{text}");
    assert!(!text.contains("created"), "quiet lists no files: {text}");
    let ejected = read_tree(&d.join("custom"));
    assert_eq!(ejected.len(), Blueprints::builtin().items.len());

    let plain = tempfile::tempdir().unwrap();
    let custom = tempfile::tempdir().unwrap();
    for (target, extra) in [(&plain, None), (&custom, Some("custom"))] {
        let mut cmd = bulkhead(d);
        cmd.args(["apply", "--yes", "-q", "-o"]).arg(target.path());
        if let Some(folder) = extra {
            cmd.args(["--blueprints", folder]);
        }
        cmd.assert().success();
    }
    let strip = |t: std::collections::BTreeMap<String, String>| {
        t.into_iter()
            .filter(|(p, _)| !p.starts_with(".bulkhead/"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(read_tree(plain.path())),
        strip(read_tree(custom.path()))
    );
}

// ── Template errors name the file and line ──────────────────────────────────────────────

/// Runs `apply --yes` with the blueprints in `files` and returns stderr; nothing may be
/// written.
fn blueprint_failure(files: &[(&str, &str)]) -> String {
    let dir = platform(&with_blueprints("bp"));
    for (rel, text) in files {
        write(dir.path(), &format!("bp/{rel}"), text);
    }
    let out_dir = tempfile::tempdir().unwrap();
    let out = bulkhead(dir.path())
        .args(["apply", "--yes", "-q", "-o"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        read_tree(out_dir.path()).is_empty(),
        "nothing is written when a blueprint fails"
    );
    stderr(&out)
}

#[test]
fn a_syntax_error_names_the_file_and_line() {
    let err = blueprint_failure(&[("docs/notes.md", "# Notes\n\n{% if %}\n")]);
    assert!(err.contains("bp/docs/notes.md:3: syntax error"), "{err}");
    assert!(err.contains("    3 | {% if %}"), "{err}");
}

#[test]
fn an_undefined_variable_names_the_file_line_and_service() {
    let err = blueprint_failure(&[(
        "docs/__service__.md",
        "# {{ service.name }}\n\nOwner: {{ vars.team }}\n",
    )]);
    assert!(
        err.contains("bp/docs/__service__.md:3: undefined value"),
        "{err}"
    );
    assert!(err.contains("`vars.team` is undefined"), "{err}");
    assert!(err.contains("rendering for service api"), "{err}");
    assert!(err.contains("    3 | Owner: {{ vars.team }}"), "{err}");
}

#[test]
fn an_error_in_an_included_partial_names_the_partial() {
    let err = blueprint_failure(&[
        (
            "docs/__env__.md",
            "# {{ env.name }}\n{% include \"_parts/owner.md\" %}\n",
        ),
        ("_parts/owner.md", "Owner:\n\n{{ env.owner }}\n"),
    ]);
    assert!(
        err.contains("bp/_parts/owner.md:3: undefined value"),
        "{err}"
    );
    assert!(err.contains("included from "), "{err}");
    assert!(err.contains("bp/docs/__env__.md:2"), "{err}");
    assert!(err.contains("rendering in environment dev"), "{err}");

    // A broken override of a built-in partial, included by a built-in blueprint.
    let err = blueprint_failure(&[(
        "_runtimes/go/Dockerfile",
        "FROM scratch\nLABEL team={{ vars.team }}\n",
    )]);
    assert!(
        err.contains("bp/_runtimes/go/Dockerfile:2: undefined value"),
        "{err}"
    );
    assert!(
        err.contains("included from blueprints/services/__service__/Dockerfile"),
        "{err}"
    );

    // A syntax error in a partial is found when the blueprints are compiled.
    let err = blueprint_failure(&[("_parts/broken.md", "ok\n{{ env.name }\n")]);
    assert!(err.contains("bp/_parts/broken.md:2: syntax error"), "{err}");
}

// ── Template context docs ───────────────────────────────────────────────────────────────

#[test]
fn template_context_docs_are_current() {
    let path = root().join("docs/template-context.md");
    let generated = bulkhead::render::context_docs();
    if std::env::var_os("BULKHEAD_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != generated {
        let diff = similar::TextDiff::from_lines(&current, &generated)
            .unified_diff()
            .header("docs/template-context.md", "generated")
            .to_string();
        panic!(
            "docs/template-context.md is out of date with the model: run \
             `BULKHEAD_UPDATE_DOCS=1 cargo test` to refresh it\n{diff}"
        );
    }
}

#[test]
fn every_field_a_blueprint_can_use_is_described() {
    let missing = bulkhead::render::docs::undescribed_fields();
    assert!(
        missing.is_empty(),
        "add a `///` doc comment to these model fields: {missing:?}"
    );
    let docs = bulkhead::render::context_docs();
    for section in [
        "### Platform",
        "### Environment",
        "### Service",
        "### ServiceEnvironment",
        "### Choices",
    ] {
        assert!(docs.contains(section), "{section}");
    }
    for filter in bulkhead::render::FILTERS {
        assert!(docs.contains(&format!("| `{}` |", filter.name)));
    }
}

#[test]
fn the_documented_types_match_the_real_models() {
    let schema = bulkhead::render::docs::model_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for path in all_examples() {
        let model = serde_json::to_value(model_of_file(&path)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&model)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
}

#[test]
fn the_escaping_table_matches_the_engine() {
    use bulkhead::render::docs::ESCAPING;
    use bulkhead::render::escape::auto_escape_for;
    use minijinja::AutoEscape;
    for (path, expected) in [
        ("deploy/base/x/service.yaml", "yaml"),
        ("x.yml", "yaml"),
        (".github/workflows/x.yaml", "workflow"),
        ("observability/dashboards/x.json", "json"),
        ("services/x/Dockerfile", "dockerfile"),
        ("services/x/api.Dockerfile", "dockerfile"),
        ("docs/architecture.md", "none"),
    ] {
        let kind = match auto_escape_for(path) {
            AutoEscape::Custom(name) => name.to_string(),
            AutoEscape::None => "none".to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(kind, expected, "{path}");
        assert!(ESCAPING.iter().any(|(_, k, _)| *k == kind), "{kind}");
    }
}

#[test]
fn every_documented_filter_works() {
    let dir = tempfile::tempdir().unwrap();
    let lines: String = bulkhead::render::FILTERS
        .iter()
        .map(|f| format!("{}: {{{{ \"trip-management\" | {} }}}}\n", f.name, f.name))
        .collect();
    write(dir.path(), "filters.txt", &lines);
    let model = model_of_file(&example("fleet"));
    let files = render_model(&model, Some(dir.path()));
    let text = &files["filters.txt"];
    for expected in [
        "quote: \"trip-management\"",
        "json: \"trip-management\"",
        "shouty: TRIP_MANAGEMENT",
        "snake: trip_management",
        "shell: trip-management",
        "block: trip-management",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    assert_eq!(text.lines().count(), bulkhead::render::FILTERS.len());
}

// ── The JSON Schema of service.toml ─────────────────────────────────────────────────────

fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local ref");
            &schema["$defs"][name]
        }
        None => node,
    }
}

/// The schema of the table at a dotted path of `TABLES` (`*` = any name).
fn table<'a>(schema: &'a Value, path: &str) -> &'a Value {
    let mut node = schema;
    if path.is_empty() {
        return node;
    }
    for seg in path.split('.') {
        node = if seg == "*" {
            resolve(schema, &node["additionalProperties"])
        } else {
            resolve(schema, &node["properties"][seg])
        };
        assert!(node.is_object(), "{path}: no schema at {seg}");
    }
    node
}

fn keys(node: &Value) -> Vec<String> {
    let mut k: Vec<String> = node["properties"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// Every path in the schema that is a table with known keys.
fn schema_tables(schema: &Value, node: &Value, path: &str, out: &mut Vec<String>) {
    let node = resolve(schema, node);
    if let Some(props) = node["properties"].as_object() {
        out.push(path.to_string());
        for (key, child) in props {
            let sub = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            schema_tables(schema, child, &sub, out);
        }
    }
    if node["additionalProperties"].is_object() {
        schema_tables(
            schema,
            &node["additionalProperties"],
            &format!("{path}.*"),
            out,
        );
    }
}

#[test]
fn schema_keys_are_the_keys_the_reader_knows() {
    let schema = bulkhead::spec::schema::json_schema();
    for (path, known) in bulkhead::spec::TABLES {
        let node = table(&schema, path);
        let mut expected: Vec<String> = known.iter().map(|k| k.to_string()).collect();
        expected.sort();
        assert_eq!(keys(node), expected, "keys of `{path}`");
        assert_eq!(
            node["additionalProperties"],
            Value::Bool(false),
            "`{path}` rejects unknown keys"
        );
    }
    let mut found = Vec::new();
    schema_tables(&schema, &schema, "", &mut found);
    found.sort();
    let mut listed: Vec<String> = bulkhead::spec::TABLES
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    listed.sort();
    assert_eq!(found, listed, "tables of the schema and of the reader");
}

fn toml_to_json(text: &str) -> Value {
    let value: toml::Value = toml::from_str(text).unwrap();
    serde_json::to_value(value).unwrap()
}

fn schema_errors(text: &str) -> Vec<String> {
    let schema = bulkhead::spec::schema::json_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let instance = toml_to_json(text);
    validator
        .iter_errors(&instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[test]
fn the_schema_is_draft_2020_12_and_every_example_validates() {
    let out = bulkhead(&root()).arg("schema").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, bulkhead::spec::schema::json_schema());
    assert_eq!(
        printed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    jsonschema::meta::validate(&printed).expect("a valid JSON Schema");
    assert!(
        printed["$defs"]["ServiceTable"]["properties"]["runtime"]
            .to_string()
            .contains("Runtime")
    );
    assert_eq!(
        printed["$defs"]["Runtime"]["enum"],
        serde_json::json!(["rust", "go", "node", "python", "java"])
    );

    for path in all_examples() {
        let errors = schema_errors(&std::fs::read_to_string(&path).unwrap());
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    }
    assert!(schema_errors(&minimal("")).is_empty());
}

#[test]
fn the_schema_rejects_what_validate_rejects() {
    let cases = [
        ("unknown key", minimal("prot = 8080")),
        ("wrong type", minimal("port = \"8080\"")),
        (
            "bad enum",
            minimal("").replace("runtime = \"go\"", "runtime = \"cobol\""),
        ),
        (
            "unknown nested key",
            minimal("resilience = { timout = \"3s\" }"),
        ),
        (
            "bad service name",
            minimal("").replace("[services.api]", "[services.Bad_Name]"),
        ),
        (
            "out of range",
            minimal("autoscale = { min = 2, max = 5, cpu = 170 }"),
        ),
        (
            "missing runtime",
            minimal("").replace("runtime = \"go\"\n", ""),
        ),
        (
            "bad duration",
            minimal("resilience = { timeout = \"3 seconds\" }"),
        ),
        (
            "two keys in a canary step",
            minimal(
                "release = { strategy = \"canary\", steps = [{ weight = 10, analysis = true }] }",
            ),
        ),
        (
            "unknown key in a canary step",
            minimal(
                "release = { strategy = \"canary\", steps = [{ wait = \"5m\" }, { analysis = true }] }",
            ),
        ),
        (
            "analysis = false",
            minimal(
                "release = { strategy = \"canary\", steps = [{ weight = 10 }, { analysis = false }] }",
            ),
        ),
        (
            "bad pause",
            minimal(
                "release = { strategy = \"canary\", steps = [{ pause = \"5 min\" }, { analysis = true }] }",
            ),
        ),
    ];
    for (what, text) in cases {
        assert!(
            !schema_errors(&text).is_empty(),
            "{what}: schema accepts\n{text}"
        );
        let dir = platform(&text);
        let out = bulkhead(dir.path()).arg("validate").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{what}: validate accepts\n{text}"
        );
    }
}

// ── Completions and help ────────────────────────────────────────────────────────────────

#[test]
fn completions_know_every_command() {
    let out = bulkhead(&root())
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let bash = stdout(&out);
    for word in [
        "validate",
        "plan",
        "apply",
        "graph",
        "init",
        "blueprints",
        "eject",
        "schema",
        "completions",
        "--blueprints",
    ] {
        assert!(bash.contains(word), "bash completions lack {word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = bulkhead(&root())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        assert!(stdout(&out).contains("blueprints"), "{shell}");
    }
    let out = bulkhead(&root())
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_command_help_shows_examples() {
    use clap::CommandFactory;
    fn check(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let path = format!("{path} {}", cmd.get_name()).trim().to_string();
        let examples = cmd
            .get_after_help()
            .or(cmd.get_after_long_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        if !examples.starts_with("Example") || !examples.contains("bulkhead") {
            missing.push(path.clone());
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                check(sub, &path, missing);
            }
        }
    }
    let mut missing = Vec::new();
    check(&bulkhead::cli::Cli::command(), "", &mut missing);
    assert!(missing.is_empty(), "no examples in --help of: {missing:?}");

    let out = bulkhead(&root())
        .args(["blueprints", "eject", "--help"])
        .output()
        .unwrap();
    let help = stdout(&out);
    assert!(
        help.contains("Examples:\n  bulkhead blueprints eject --only _runtimes/go"),
        "{help}"
    );
}
