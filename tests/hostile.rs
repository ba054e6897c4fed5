//! Hostile strings in service.toml stay inert data: every output file still parses and
//! every value comes back exactly as given, in YAML, JSON, workflows and Dockerfiles.

use std::path::Path;

use bulkhead::render::Files;
use proptest::prelude::*;

use crate::common::{model_of, render_model};

/// Pieces that break naive templating: quotes, line breaks, YAML indicators, template and
/// Actions expressions, characters YAML treats as line breaks, and arbitrary unicode.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just("\t".to_string()),
        Just("{{ platform.name }}".to_string()),
        Just("{% if true %}x{% endif %}".to_string()),
        Just("${{ secrets.GITHUB_TOKEN }}".to_string()),
        Just("$(rm -rf /)".to_string()),
        Just("$HOME".to_string()),
        Just(": ".to_string()),
        Just(" #".to_string()),
        Just("- ".to_string()),
        Just("? ".to_string()),
        Just("&anchor *alias".to_string()),
        Just("!!binary".to_string()),
        Just("---".to_string()),
        Just("\\".to_string()),
        Just("yes".to_string()),
        Just("null".to_string()),
        Just("0o17".to_string()),
        Just("\u{2028}\u{2029}".to_string()),
        Just("é漢字🚀".to_string()),
        // Control characters are refused by validation (tested there); all else goes.
        any::<char>()
            .prop_filter("no control characters", |c| !c.is_control()
                && *c != '\u{feff}')
            .prop_map(|c| c.to_string()),
        "[a-z ]{0,6}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

fn spec_text(description: &str, env_value: &str, var: &str) -> String {
    let mut doc: toml_edit::DocumentMut = crate::common::minimal("").parse().unwrap();
    let api = doc["services"]["api"].as_table_mut().unwrap();
    api.insert("description", toml_edit::value(description));
    let mut env = toml_edit::InlineTable::new();
    env.insert("GREETING", env_value.into());
    api.insert("env", toml_edit::value(env));
    let mut vars = toml_edit::Table::new();
    vars.insert("text", toml_edit::value(var));
    let mut list = toml_edit::Array::new();
    list.push(var);
    list.push(42);
    vars.insert("list", toml_edit::value(list));
    doc["platform"]["vars"] = toml_edit::Item::Table(vars);
    doc.to_string()
}

const ECHO_YAML: &str = r#"description: {{ service.description }}
inline: {{ "prefix " ~ service.description }}
greeting: {{ service.env.GREETING }}
text: {{ vars.text }}
list: {{ vars.list }}
all: {{ vars }}
after_comment: 1 # {{ service.description }}
"#;

const ECHO_JSON: &str = r#"{"description": {{ service.description }}, "text": {{ vars.text }}, "all": {{ vars }}}
"#;

const ECHO_WORKFLOW: &str = r#"name: {{ service.description }}
on: push
jobs:
  echo:
    runs-on: ubuntu-24.04
    steps:
      - run: {{ "echo " ~ (service.description | shell) }}
"#;

fn render(text: &str, blueprints: &Path) -> Files {
    render_model(&model_of("service.toml", text), Some(blueprints))
}

fn yaml(files: &Files, path: &str) -> serde_yaml_ng::Value {
    serde_yaml_ng::from_str(&files[path]).unwrap_or_else(|e| panic!("{path}: {e}\n{}", files[path]))
}

/// What kustomize makes of the literal `key` of the configMapGenerator `name`: the text
/// after the first `=`, less one pair of enclosing quotes (kustomize's `removeQuotes`).
fn setting(kustomization: &serde_yaml_ng::Value, name: &str, key: &str) -> Option<String> {
    let generator = kustomization["configMapGenerator"]
        .as_sequence()?
        .iter()
        .find(|g| g["name"].as_str() == Some(name))?;
    generator["literals"].as_sequence()?.iter().find_map(|l| {
        let (k, v) = l.as_str()?.split_once('=')?;
        let b = v.as_bytes();
        let quoted = b.len() >= 2 && b[0] == b[b.len() - 1] && matches!(b[0], b'"' | b'\'');
        (k == key).then(|| if quoted { &v[1..v.len() - 1] } else { v }.to_string())
    })
}

/// The real kustomize reads the settings back exactly, whatever quotes, `=`, line breaks
/// or unicode they hold.
#[test]
fn settings_reach_the_config_map_exactly() {
    let value = "\"quoted\" 'single' a=b\nline\r\n${HOME} #x: - é漢字🚀 \"";
    let mut doc: toml_edit::DocumentMut = crate::common::minimal("").parse().unwrap();
    let mut env = toml_edit::InlineTable::new();
    env.insert("GREETING", value.into());
    env.insert("EMPTY", "".into());
    env.insert("QUOTES", "''".into());
    doc["services"]["api"]["env"] = toml_edit::value(env);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("service.toml"), doc.to_string()).unwrap();
    let out = crate::common::generate(&dir.path().join("service.toml"));
    let built = crate::common::kustomize(&out.path().join("deploy/base/api"));
    let config = built
        .iter()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("api-config-"))
        })
        .expect("a hash-suffixed api-config");
    assert_eq!(config["data"]["GREETING"].as_str(), Some(value));
    assert_eq!(config["data"]["EMPTY"].as_str(), Some(""));
    assert_eq!(config["data"]["QUOTES"].as_str(), Some("''"));
}

fn blueprint_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("echo/__service__.yaml", ECHO_YAML);
    write("echo/__service__.json", ECHO_JSON);
    write(".github/workflows/echo-__service__.yaml", ECHO_WORKFLOW);
    dir
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn hostile_values_stay_data(description in hostile(), env_value in hostile(), var in hostile()) {
        let blueprints = blueprint_dir();
        let files = render(&spec_text(&description, &env_value, &var), blueprints.path());

        // Every YAML and JSON file parses (the renderer checks too; this checks it again
        // independently, with every document).
        for (path, text) in &files {
            // Helm's own templates are Go templates, YAML only after Helm renders them.
            if path.starts_with("helm/chart/templates/") {
                continue;
            }
            if path.ends_with(".yaml") {
                let docs = crate::common::yaml_docs(text);
                prop_assert!(!docs.is_empty(), "{}", path);
            } else if path.ends_with(".json") {
                prop_assert!(serde_json::from_str::<serde_json::Value>(text).is_ok(), "{}", path);
            }
        }

        let echo = yaml(&files, "echo/api.yaml");
        prop_assert_eq!(echo["description"].as_str(), Some(description.as_str()));
        let inline = format!("prefix {description}");
        prop_assert_eq!(echo["inline"].as_str(), Some(inline.as_str()));
        prop_assert_eq!(echo["greeting"].as_str(), Some(env_value.as_str()));
        prop_assert_eq!(echo["text"].as_str(), Some(var.as_str()));
        prop_assert_eq!(echo["list"][0].as_str(), Some(var.as_str()));
        prop_assert_eq!(echo["list"][1].as_i64(), Some(42));
        prop_assert_eq!(echo["all"]["text"].as_str(), Some(var.as_str()));
        prop_assert_eq!(echo["after_comment"].as_i64(), Some(1));
        prop_assert_eq!(echo.as_mapping().unwrap().len(), 7, "no injected keys");

        let json: serde_json::Value = serde_json::from_str(&files["echo/api.json"]).unwrap();
        prop_assert_eq!(json["description"].as_str(), Some(description.as_str()));
        prop_assert_eq!(json["all"]["list"][0].as_str(), Some(var.as_str()));

        // Workflows: GitHub evaluates `${{ … }}` anywhere; data may only contain the guarded
        // form, which evaluates back to the literal text.
        let workflow = yaml(&files, ".github/workflows/echo-api.yaml");
        let name = workflow["name"].as_str().unwrap();
        let unguarded = name.replace("${{ '${{' }}", "");
        prop_assert!(!unguarded.contains("${{"), "unguarded expression in {:?}", name);
        prop_assert_eq!(name.replace("${{ '${{' }}", "${{"), description.clone());
        let run = workflow["jobs"]["echo"]["steps"][0]["run"].as_str().unwrap();
        prop_assert!(run.starts_with("echo "), "{}", run);
        prop_assert!(!run.replace("${{ '${{' }}", "").contains("${{"), "{}", run);

        // Built-in blueprints carry the same values.
        let kustomization = yaml(&files, "deploy/base/api/kustomization.yaml");
        prop_assert_eq!(
            setting(&kustomization, "api-config", "GREETING"),
            Some(env_value.clone())
        );
        let deployment = yaml(&files, "deploy/base/api/deployment.yaml");
        prop_assert_eq!(
            deployment["metadata"]["annotations"]["bulkhead.dev/description"].as_str(),
            Some(description.as_str())
        );

        // Dockerfiles: the description cannot start a new instruction or expand a variable.
        let dockerfile = &files["services/api/Dockerfile"];
        for line in dockerfile.lines().filter(|l| l.contains("org.opencontainers.image.description")) {
            prop_assert!(!line.contains("$HOME") || line.contains("\\$HOME"), "{}", line);
        }
        let instructions = dockerfile.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with(' ')).count();
        let plain = render(&spec_text("", "", ""), blueprints.path());
        let expected = plain["services/api/Dockerfile"].lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.starts_with(' ')).count();
        prop_assert!(instructions <= expected + 1, "description added instructions:\n{}", dockerfile);
    }
}

/// An `egress` entry: hostile text alone, as a host before a port or a port after a host,
/// and well-formed `host:port` entries, so that both sides of validation are exercised.
fn egress_entry() -> impl Strategy<Value = String> {
    prop_oneof![
        hostile(),
        (hostile(), 1u32..70_000).prop_map(|(h, p)| format!("{h}:{p}")),
        hostile().prop_map(|p| format!("api.example.com:{p}")),
        "[a-z0-9-]{1,12}(\\.[a-z][a-z0-9-]{0,8}){1,3}:[1-9][0-9]{0,4}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// An `egress` entry is refused with an error that names it, or it reaches the
    /// NetworkPolicy, the ServiceEntry and the Helm values as exactly the host and port
    /// written.
    #[test]
    fn hostile_egress_entries_are_refused_or_stay_data(entry in egress_entry()) {
        let mut doc: toml_edit::DocumentMut = crate::common::minimal("").parse().unwrap();
        let mut list = toml_edit::Array::new();
        list.push(entry.as_str());
        doc["services"]["api"]["egress"] = toml_edit::value(list);
        let source = bulkhead::diagnostic::Source {
            name: "service.toml".into(),
            text: doc.to_string(),
        };
        let checked = bulkhead::load::load(&source);
        let Some(model) = checked.model else {
            prop_assert!(
                checked.errors().any(|d| d.message.starts_with("egress `")),
                "refused without an egress error: {:?}", checked.diagnostics
            );
            return Ok(());
        };
        let (host, port) = entry.rsplit_once(':').unwrap();
        let port: u64 = port.parse().unwrap();
        let files = render_model(&model, None);
        let policy = yaml(&files, "deploy/base/api/networkpolicy.yaml");
        let rule = policy["spec"]["egress"].as_sequence().unwrap().last().unwrap();
        prop_assert_eq!(rule["ports"][0]["port"].as_u64(), Some(port));
        prop_assert_eq!(rule["to"][0]["ipBlock"]["cidr"].as_str(), Some("0.0.0.0/0"));
        let entry_yaml = yaml(&files, "deploy/overlays/dev/api/serviceentry.yaml");
        prop_assert_eq!(entry_yaml["spec"]["hosts"][0].as_str(), Some(host));
        prop_assert_eq!(entry_yaml["spec"]["ports"][0]["number"].as_u64(), Some(port));
        let values = yaml(&files, "helm/api/values.yaml");
        prop_assert_eq!(values["egress"]["hosts"][0].as_str(), Some(host));
        prop_assert_eq!(values["egress"]["ports"][0]["number"].as_u64(), Some(port));
    }
}
