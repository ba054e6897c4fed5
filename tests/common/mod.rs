//! Helpers shared by the integration tests: running the real binary, temporary platforms.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use bulkhead::diagnostic::Source;
use bulkhead::model::Model;
use bulkhead::render::{Blueprints, Files, Renderer};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    root().join("examples").join(name).join("service.toml")
}

pub const EXAMPLES: &[&str] = &["fleet", "blog", "shop"];

/// The bulkhead binary, colours off, in `dir`.
pub fn bulkhead(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("bulkhead").expect("binary built");
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

/// A temporary folder holding `service.toml` with `text`.
pub fn platform(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("service.toml"), text).expect("write service.toml");
    dir
}

/// Generates `spec` into a fresh folder with `apply --yes` and returns that folder.
pub fn generate(spec: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("tempdir");
    bulkhead(out.path())
        .args(["apply", "--yes", "-q", "-f"])
        .arg(spec)
        .arg("-o")
        .arg(out.path())
        .assert()
        .success();
    out
}

/// Every file under `dir` (relative path → content), `.bulkhead/` included.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read_to_string(&path).unwrap_or_default());
        }
    }
}

/// Parses every document of a YAML file.
pub fn yaml_docs(text: &str) -> Vec<serde_yaml_ng::Value> {
    use serde::Deserialize;
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).expect("valid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// A minimal valid service.toml, with `extra` appended.
pub fn minimal(extra: &str) -> String {
    format!(
        r#"[platform]
name = "demo"
registry = "ghcr.io/acme"
repository = "https://github.com/acme/demo.git"

[environments.dev]

[environments.prod]

[services.api]
runtime = "go"
apis = ["/api"]
{extra}"#
    )
}

/// `kubectl kustomize DIR`: the built YAML, or why it could not be built.
pub fn kustomize_text(dir: &Path) -> Result<String, String> {
    let out = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
        .map_err(|e| {
            format!("kubectl is needed and could not run ({e}); install kubectl ≥ 1.27")
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr: String = stderr.chars().take(800).collect();
        return Err(format!(
            "kubectl kustomize {} failed:\n{stderr}",
            dir.display()
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| e.to_string())
}

/// The objects `kubectl kustomize DIR` builds; the test fails when it cannot.
pub fn kustomize(dir: &Path) -> Vec<serde_yaml_ng::Value> {
    yaml_docs(&kustomize_text(dir).unwrap_or_else(|e| panic!("{e}")))
}

/// The model of service.toml `text` (`name` is the file name errors show); the test fails
/// on any error.
pub fn model_of(name: &str, text: &str) -> Model {
    let source = Source {
        name: name.to_string(),
        text: text.to_string(),
    };
    let checked = bulkhead::load::load(&source);
    checked
        .model
        .unwrap_or_else(|| panic!("{}", source.render(&checked.diagnostics, false)))
}

/// The model of the service.toml at `path`; the test fails on any error.
pub fn model_of_file(path: &Path) -> Model {
    model_of(
        &path.display().to_string(),
        &std::fs::read_to_string(path).expect("service.toml is readable"),
    )
}

/// `model` rendered in memory through the built-in blueprints, with the folder
/// `overrides` laid over them when given.
pub fn render_model(model: &Model, overrides: Option<&Path>) -> Files {
    let blueprints = Blueprints::with_overrides(overrides).expect("blueprints load");
    Renderer::new(blueprints)
        .expect("blueprints compile")
        .render(model)
        .expect("renders")
}

/// Whether `key` is a mapping key anywhere in `v`.
pub fn has_key(v: &serde_yaml_ng::Value, key: &str) -> bool {
    use serde_yaml_ng::Value;
    match v {
        Value::Mapping(m) => m
            .iter()
            .any(|(k, v)| k.as_str() == Some(key) || has_key(v, key)),
        Value::Sequence(s) => s.iter().any(|v| has_key(v, key)),
        _ => false,
    }
}
