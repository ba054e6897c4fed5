//! Which files the blueprints produce for this platform, and for which service and
//! environment each one is: the rendered output of the same blueprints `plan` uses, held
//! in memory. It tells the audit where to look and what was never generated; it never
//! stands in for the files on disk, which are what the checks read.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::Model;
use crate::render::{Blueprints, Files, fan_out, output_path};

/// The service and environment a file was rendered for (none: once for all of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    pub service: Option<String>,
    pub env: Option<String>,
}

#[derive(Debug, Default)]
pub struct Layout {
    /// Every output path the blueprints produce, with its owner.
    files: BTreeMap<String, Owner>,
    /// Folder → what its generated files have in common (the service, the environment).
    folders: BTreeMap<String, Owner>,
    /// Path → kinds of the objects it declares (`kind: X` lines, Helm templates included).
    kinds: BTreeMap<String, BTreeSet<String>>,
    /// Generated JSON files that are Grafana dashboards (they have `panels`).
    dashboards: BTreeSet<String>,
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// What two owners have in common.
fn common(a: &Owner, b: &Owner) -> Owner {
    Owner {
        service: a.service.clone().filter(|_| a.service == b.service),
        env: a.env.clone().filter(|_| a.env == b.env),
    }
}

impl Layout {
    /// The layout of `files`, rendered from `blueprints` for `model`.
    pub fn new(model: &Model, blueprints: &Blueprints, files: &Files) -> Self {
        let mut layout = Self::default();
        for bp in blueprints.items.values().filter(|b| !b.is_partial()) {
            for (service, env) in fan_out(&bp.path, model) {
                let path = output_path(&bp.path, model, service, env);
                // A blueprint that renders to whitespace writes no file.
                if let Some(text) = files.get(&path) {
                    let service = service.map(|i| model.services[i].name.as_str());
                    let env = env.map(|i| model.environments[i].name.as_str());
                    layout.add(path, text, &service, &env);
                }
            }
        }
        layout
    }

    fn add(&mut self, path: String, text: &str, service: &Option<&str>, env: &Option<&str>) {
        let owner = Owner {
            service: service.map(str::to_string),
            env: env.map(str::to_string),
        };
        let dir = dir_of(&path).to_string();
        let merged = match self.folders.get(&dir) {
            Some(have) => common(have, &owner),
            None => owner.clone(),
        };
        self.folders.insert(dir, merged);
        if path.ends_with(".yaml") || path.ends_with(".yml") {
            let kinds: BTreeSet<String> = text
                .lines()
                .filter_map(|line| line.strip_prefix("kind:"))
                .map(|kind| kind.trim().trim_matches(['"', '\'']).to_string())
                .filter(|kind| !kind.is_empty())
                .collect();
            if !kinds.is_empty() {
                self.kinds.insert(path.clone(), kinds);
            }
        } else if path.ends_with(".json")
            && serde_json::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("panels").is_some())
        {
            self.dashboards.insert(path.clone());
        }
        self.files.insert(path, owner);
    }

    /// Whether the blueprints produce `path`.
    pub fn generated(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The service and environment `path` belongs to: its own when generated, else that of
    /// the nearest folder above it that holds generated files (a file added by hand next
    /// to generated ones belongs with them).
    pub fn owner(&self, path: &str) -> Owner {
        if let Some(owner) = self.files.get(path) {
            return owner.clone();
        }
        let mut dir = dir_of(path);
        loop {
            if let Some(owner) = self.folders.get(dir) {
                return owner.clone();
            }
            if dir.is_empty() {
                return Owner::default();
            }
            dir = dir_of(dir);
        }
    }

    /// Generated files rendered for `service` (in every environment or one).
    pub fn of_service<'a>(&'a self, service: &'a str) -> impl Iterator<Item = &'a str> {
        self.files
            .iter()
            .filter(move |(_, o)| o.service.as_deref() == Some(service))
            .map(|(p, _)| p.as_str())
    }

    /// Generated files rendered exactly for `service` and `env`.
    pub fn of(&self, service: Option<&str>, env: Option<&str>) -> impl Iterator<Item = &str> {
        self.files
            .iter()
            .filter(move |(_, o)| o.service.as_deref() == service && o.env.as_deref() == env)
            .map(|(p, _)| p.as_str())
    }

    /// Whether any generated YAML declares an object of `kind`.
    pub fn generates_kind(&self, kind: &str) -> bool {
        self.kinds.values().any(|k| k.contains(kind))
    }

    /// Every generated file that declares an object of one of `kinds`.
    pub fn declaring_any<'a>(&'a self, kinds: &'a [&str]) -> impl Iterator<Item = &'a str> {
        self.kinds
            .iter()
            .filter(move |(_, k)| kinds.iter().any(|kind| k.contains(*kind)))
            .map(|(p, _)| p.as_str())
    }

    /// The first generated file for exactly `service` and `env` that declares a `kind`.
    pub fn declaring(&self, kind: &str, service: Option<&str>, env: Option<&str>) -> Option<&str> {
        self.of(service, env)
            .find(|p| self.kinds.get(*p).is_some_and(|k| k.contains(kind)))
    }

    /// Generated Grafana dashboards (JSON with `panels`).
    pub fn dashboards(&self) -> impl Iterator<Item = &str> {
        self.dashboards.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Renderer;

    fn model() -> Model {
        let source = crate::diagnostic::Source {
            name: "service.toml".into(),
            text: "[platform]\nname = \"p\"\nregistry = \"ghcr.io/p\"\nrepository = \"https://github.com/p/p.git\"\n\n[environments.dev]\n[environments.prod]\n\n[services.api]\nruntime = \"go\"\n".into(),
        };
        let spec = crate::spec::parse(&source).0.expect("parses");
        Model::build(&spec)
    }

    #[test]
    fn owners_come_from_the_fan_out() {
        let model = model();
        let blueprints = Blueprints::builtin();
        let files = Renderer::new(blueprints.clone())
            .unwrap()
            .render(&model)
            .unwrap();
        let layout = Layout::new(&model, &blueprints, &files);
        assert_eq!(layout.paths().count(), files.len());
        let api = |env: Option<&str>| Owner {
            service: Some("api".into()),
            env: env.map(str::to_string),
        };
        assert_eq!(layout.owner("services/api/Dockerfile"), api(None));
        assert_eq!(
            layout.owner("deploy/overlays/prod/api/kustomization.yaml"),
            api(Some("prod"))
        );
        // Added by hand next to generated files: it belongs with them.
        assert_eq!(
            layout.owner("deploy/overlays/prod/api/extra.yaml"),
            api(Some("prod"))
        );
        // helm/api/ holds values.yaml (every environment) and values-<env>.yaml.
        assert_eq!(layout.owner("helm/api/other.yaml"), api(None));
        assert_eq!(layout.owner("nowhere/x.yaml"), Owner::default());
        assert!(layout.generates_kind("Deployment"));
        assert!(!layout.generates_kind("DaemonSet"));
        assert_eq!(
            layout.declaring("PodDisruptionBudget", Some("api"), None),
            Some("deploy/base/api/poddisruptionbudget.yaml")
        );
        assert_eq!(
            layout.declaring("Gateway", None, Some("prod")),
            None,
            "no public host: no Gateway"
        );
        assert!(
            layout
                .dashboards()
                .any(|p| p == "observability/dashboards/api.json")
        );
        assert!(
            layout
                .of_service("api")
                .any(|p| p == "services/api/Dockerfile")
        );
    }
}
