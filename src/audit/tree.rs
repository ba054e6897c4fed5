//! The generated tree as it is on disk: every Kubernetes document under `deploy/` sorted
//! into what the kustomizations deploy (resources) and what they change (patches), plus
//! Argo CD objects, workflows, Helm values, dashboards and the services' Dockerfiles.
//! Symlinks are never followed; files are read in a stable order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::Problem;
use super::dockerfile::Dockerfile;
use super::yaml::{self, parse_docs, seq_at, str_at};
use crate::error::Error;
use crate::state::{self as lock, Lock};

/// What a document is to Kustomize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Listed in `resources`: an object that gets deployed.
    Resource,
    /// A strategic-merge or JSON 6902 patch: changes objects, is not one.
    Patch,
}

/// One YAML document.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Path relative to the output folder.
    pub file: String,
    /// Position in its file, from 0.
    pub index: usize,
    pub role: Role,
    /// The object. For a JSON 6902 patch: a sequence of `{last path segment: value}`, one
    /// per `add`/`replace`, so that checks see the values it sets under their key.
    pub value: Value,
    /// JSON 6902 `remove` paths, and keys a strategic-merge patch sets to null.
    pub removed: Vec<String>,
    /// The object a patch applies to, when the kustomization names it (`Deployment x`).
    pub target: Option<String>,
    /// The service whose folder holds the file (`deploy/base/<svc>/`,
    /// `deploy/overlays/<env>/<svc>/`).
    pub service: Option<String>,
    /// The environment whose overlay holds the file.
    pub env: Option<String>,
}

impl Doc {
    pub fn kind(&self) -> &str {
        str_at(&self.value, &["kind"]).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        str_at(&self.value, &["metadata", "name"]).unwrap_or("")
    }

    pub fn is(&self, kind: &str) -> bool {
        self.kind() == kind
    }

    /// `deploy/base/x/deployment.yaml (Deployment x)`.
    pub fn place(&self) -> String {
        let what = match (self.role, self.kind(), self.name()) {
            (Role::Patch, "", _) => match &self.target {
                Some(t) => format!("patch of {t}"),
                None => "patch".to_string(),
            },
            (Role::Patch, kind, name) => format!("patch of {kind} {name}"),
            (Role::Resource, "", _) => format!("document {}", self.index + 1),
            (Role::Resource, kind, name) => format!("{kind} {name}"),
        };
        format!("{} ({what})", self.file)
    }
}

/// One kustomization file.
#[derive(Debug, Clone)]
pub struct Kustomization {
    pub file: String,
    pub value: Value,
    pub service: Option<String>,
    pub env: Option<String>,
}

/// A service folder's Dockerfile and .dockerignore.
#[derive(Debug, Clone)]
pub struct ServiceFiles {
    /// `services/<name>/`.
    pub dir: String,
    pub dockerfile: Option<(String, Dockerfile)>,
    pub dockerignore: Option<String>,
}

impl ServiceFiles {
    pub fn dockerfile_path(&self) -> String {
        format!("{}/Dockerfile", self.dir)
    }
}

#[derive(Debug, Default)]
pub struct Tree {
    pub root: PathBuf,
    /// Every file the last `apply` wrote (from the lock).
    pub generated: BTreeSet<String>,
    /// Documents under `deploy/` that a kustomization lists (resources) or applies (patches).
    pub docs: Vec<Doc>,
    pub kustomizations: Vec<Kustomization>,
    /// Documents under `argocd/`.
    pub argocd: Vec<Doc>,
    /// `.github/workflows/*.yaml`: path → document.
    pub workflows: BTreeMap<String, Value>,
    /// Helm values files (`helm/**/values*.yaml`, templates excluded): path → documents.
    pub helm_values: BTreeMap<String, Vec<Value>>,
    /// `observability/dashboards/*.json`: path → parsed JSON.
    pub dashboards: BTreeMap<String, serde_json::Value>,
    /// Service folder name → its build files.
    pub services: BTreeMap<String, ServiceFiles>,
    pub problems: Vec<Problem>,
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Regular files under `dir` (symlinks skipped), sorted, recursively.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files_under(&path, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

fn is_yaml(path: &str) -> bool {
    path.ends_with(".yaml") || path.ends_with(".yml")
}

fn is_kustomization(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    matches!(
        base,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

/// `a/b/../c` → `a/c`; none when it climbs out of the output folder.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The service and environment a path under `deploy/` belongs to.
fn owner_of(path: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["deploy", "base", svc, _, ..] => (Some((*svc).to_string()), None),
        ["deploy", "overlays", env, dir, _, ..] if !dir.starts_with('_') => {
            (Some((*dir).to_string()), Some((*env).to_string()))
        }
        ["deploy", "overlays", env, ..] => (None, Some((*env).to_string())),
        _ => (None, None),
    }
}

/// The last segment of a JSON pointer, unescaped.
fn pointer_leaf(pointer: &str) -> String {
    pointer
        .rsplit('/')
        .next()
        .unwrap_or("")
        .replace("~1", "/")
        .replace("~0", "~")
}

fn describe_target(target: Option<&Value>) -> Option<String> {
    let t = target?;
    let kind = str_at(t, &["kind"]).unwrap_or("object");
    Some(match str_at(t, &["name"]) {
        Some(name) => format!("{kind} {name}"),
        None => kind.to_string(),
    })
}

/// Keys a strategic-merge patch sets to null (deletes), as `a/b/c` paths.
fn nulled_keys(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    yaml::walk(value, &mut |path, v| {
        if v.is_null() && !path.is_empty() {
            out.push(path.join("/"));
        }
    });
    out
}

impl Tree {
    /// Reads the generated tree under `root`. Fails when there is none.
    pub fn load(root: &Path) -> Result<Self, Error> {
        let lock_path = lock::lock_path(root);
        let text = match std::fs::read_to_string(&lock_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Message(format!(
                    "{} holds no generated tree (no {}): run `bulkhead apply` first, or point -o at the output folder",
                    root.display(),
                    lock::lock_rel()
                )));
            }
            Err(e) => return Err(Error::io(&lock_path, e)),
        };
        let lock: Lock = serde_json::from_str(&text).map_err(|e| {
            Error::Message(format!(
                "{} is damaged ({e}); restore it from version control",
                lock_path.display()
            ))
        })?;
        let mut tree = Tree {
            root: root.to_path_buf(),
            generated: lock.files.keys().cloned().collect(),
            ..Tree::default()
        };
        tree.load_deploy();
        tree.load_others();
        Ok(tree)
    }

    fn problem(&mut self, path: &str, error: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            error: error.into(),
        });
    }

    fn read(&mut self, path: &Path) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) => {
                let r = rel(&self.root, path);
                self.problem(&r, e.to_string());
                None
            }
        }
    }

    fn yaml_files(&mut self, dir: &str) -> BTreeMap<String, Vec<Value>> {
        self.yaml_files_filtered(dir, |_| true)
    }

    fn load_deploy(&mut self) {
        let files = self.yaml_files("deploy");
        let mut roles: BTreeMap<String, (Role, Option<String>)> = BTreeMap::new();
        let mut inline: Vec<(String, Value, Option<String>)> = Vec::new();
        let mut made: Vec<(String, Value)> = Vec::new();
        for (path, docs) in &files {
            if !is_kustomization(path) {
                continue;
            }
            let Some(k) = docs.first() else { continue };
            for generator in seq_at(k, &["configMapGenerator"]) {
                let config_map = self.generate_config_map(dir_of(path), generator);
                made.push((path.clone(), config_map));
            }
            let (service, env) = owner_of(path);
            self.kustomizations.push(Kustomization {
                file: path.clone(),
                value: k.clone(),
                service,
                env,
            });
            let dir = dir_of(path);
            let mut refer = |entry: &str, role: Role, target: Option<String>, me: &mut Self| {
                if entry.contains("://") || entry.starts_with("github.com/") {
                    return;
                }
                let Some(target_path) = normalize(&format!("{dir}/{entry}")) else {
                    me.problem(path, format!("`{entry}` points outside the output folder"));
                    return;
                };
                if files.contains_key(&target_path) {
                    let slot = roles.entry(target_path).or_insert((role, target.clone()));
                    if role == Role::Resource {
                        *slot = (Role::Resource, None);
                    }
                } else if !me.root.join(&target_path).exists() {
                    me.problem(path, format!("lists `{entry}`, which does not exist"));
                }
            };
            for r in seq_at(k, &["resources"])
                .iter()
                .chain(seq_at(k, &["components"]))
            {
                if let Some(entry) = r.as_str() {
                    refer(entry, Role::Resource, None, self);
                }
            }
            for p in seq_at(k, &["patches"])
                .iter()
                .chain(seq_at(k, &["patchesJson6902"]))
            {
                let target = describe_target(p.get("target"));
                if let Some(entry) = str_at(p, &["path"]) {
                    refer(entry, Role::Patch, target, self);
                } else if let Some(text) = str_at(p, &["patch"]) {
                    match parse_docs(text) {
                        Ok(docs) => inline
                            .extend(docs.into_iter().map(|d| (path.clone(), d, target.clone()))),
                        Err(e) => {
                            self.problem(path, format!("inline patch is not valid YAML: {e}"))
                        }
                    }
                }
            }
            for p in seq_at(k, &["patchesStrategicMerge"]) {
                let Some(entry) = p.as_str() else { continue };
                if entry.contains('\n') {
                    match parse_docs(entry) {
                        Ok(docs) => {
                            inline.extend(docs.into_iter().map(|d| (path.clone(), d, None)))
                        }
                        Err(e) => {
                            self.problem(path, format!("inline patch is not valid YAML: {e}"))
                        }
                    }
                } else {
                    refer(entry, Role::Patch, None, self);
                }
            }
        }
        for (path, docs) in &files {
            let Some((role, target)) = roles.get(path) else {
                continue;
            };
            for (index, value) in docs.iter().enumerate() {
                self.docs
                    .push(make_doc(path, index, *role, value.clone(), target.clone()));
            }
        }
        for (index, (path, value, target)) in inline.into_iter().enumerate() {
            self.docs
                .push(make_doc(&path, index, Role::Patch, value, target));
        }
        for (index, (path, value)) in made.into_iter().enumerate() {
            self.docs
                .push(make_doc(&path, index, Role::Resource, value, None));
        }
    }

    /// The ConfigMap a `configMapGenerator` entry makes: its name, the labels and
    /// annotations of its options, and data from its `files` (`key=path`, or the file's
    /// name) and `literals` (`key=value`).
    fn generate_config_map(&mut self, dir: &str, generator: &Value) -> Value {
        let mut data = Mapping::new();
        for file in seq_at(generator, &["files"]) {
            let Some(entry) = file.as_str() else { continue };
            let (key, rel_path) = entry
                .split_once('=')
                .unwrap_or((entry.rsplit('/').next().unwrap_or(entry), entry));
            let Some(path) = normalize(&format!("{dir}/{rel_path}")) else {
                self.problem(dir, format!("`{entry}` points outside the output folder"));
                continue;
            };
            if let Some(text) = self.read(&self.root.join(&path)) {
                data.insert(Value::String(key.to_string()), Value::String(text));
            }
        }
        for literal in seq_at(generator, &["literals"]) {
            if let Some((key, value)) = literal.as_str().and_then(|l| l.split_once('=')) {
                data.insert(
                    Value::String(key.to_string()),
                    Value::String(value.to_string()),
                );
            }
        }
        let mut metadata = Mapping::new();
        let name = str_at(generator, &["name"]).unwrap_or("");
        metadata.insert("name".into(), Value::String(name.to_string()));
        for key in ["labels", "annotations"] {
            if let Some(v) = generator.get("options").and_then(|o| o.get(key)) {
                metadata.insert(key.into(), v.clone());
            }
        }
        let mut object = Mapping::new();
        object.insert("apiVersion".into(), "v1".into());
        object.insert("kind".into(), "ConfigMap".into());
        object.insert("metadata".into(), Value::Mapping(metadata));
        object.insert("data".into(), Value::Mapping(data));
        Value::Mapping(object)
    }

    fn load_others(&mut self) {
        for (path, docs) in self.yaml_files("argocd") {
            for (index, value) in docs.into_iter().enumerate() {
                self.argocd.push(Doc {
                    file: path.clone(),
                    index,
                    role: Role::Resource,
                    value,
                    removed: Vec::new(),
                    target: None,
                    service: None,
                    env: None,
                });
            }
        }
        for (path, mut docs) in self.yaml_files(".github/workflows") {
            if !docs.is_empty() {
                self.workflows.insert(path, docs.swap_remove(0));
            }
        }
        for (path, docs) in self.yaml_files_filtered("helm", |p| {
            !p.contains("/templates/")
                && p.rsplit('/')
                    .next()
                    .is_some_and(|b| b.starts_with("values"))
        }) {
            self.helm_values.insert(path, docs);
        }
        let mut paths = Vec::new();
        files_under(&self.root.join("observability/dashboards"), &mut paths);
        for path in paths {
            let r = rel(&self.root, &path);
            if !r.ends_with(".json") {
                continue;
            }
            let Some(text) = self.read(&path) else {
                continue;
            };
            match serde_json::from_str(&text) {
                Ok(v) => {
                    self.dashboards.insert(r, v);
                }
                Err(e) => self.problem(&r, format!("not valid JSON: {e}")),
            }
        }
        let services_dir = self.root.join("services");
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(&services_dir)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
                continue;
            }
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let dockerfile_path = dir.join("Dockerfile");
            let dockerfile = std::fs::symlink_metadata(&dockerfile_path)
                .is_ok_and(|m| m.is_file())
                .then(|| self.read(&dockerfile_path))
                .flatten()
                .map(|t| (t.clone(), Dockerfile::parse(&t)));
            let ignore_path = dir.join(".dockerignore");
            let dockerignore = std::fs::symlink_metadata(&ignore_path)
                .is_ok_and(|m| m.is_file())
                .then(|| self.read(&ignore_path))
                .flatten();
            self.services.insert(
                name.clone(),
                ServiceFiles {
                    dir: format!("services/{name}"),
                    dockerfile,
                    dockerignore,
                },
            );
        }
    }

    fn yaml_files_filtered(
        &mut self,
        dir: &str,
        keep: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, Vec<Value>> {
        let mut paths = Vec::new();
        files_under(&self.root.join(dir), &mut paths);
        let mut out = BTreeMap::new();
        for path in paths {
            let r = rel(&self.root, &path);
            if !(is_yaml(&r) || is_kustomization(&r)) || !keep(&r) {
                continue;
            }
            let Some(text) = self.read(&path) else {
                continue;
            };
            match parse_docs(&text) {
                Ok(docs) => {
                    out.insert(r, docs);
                }
                Err(e) => self.problem(&r, format!("not valid YAML: {e}")),
            }
        }
        out
    }

    /// Deployed objects (kustomization resources) under `deploy/`.
    pub fn resources(&self) -> impl Iterator<Item = &Doc> {
        self.docs.iter().filter(|d| d.role == Role::Resource)
    }

    /// Deployed objects of one kind.
    pub fn objects<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Doc> {
        self.resources().filter(move |d| d.is(kind))
    }

    pub fn patches(&self) -> impl Iterator<Item = &Doc> {
        self.docs.iter().filter(|d| d.role == Role::Patch)
    }

    /// Whether the last apply generated a file whose path matches `pred`.
    pub fn generated_any(&self, pred: impl Fn(&str) -> bool) -> bool {
        self.generated.iter().any(|p| pred(p))
    }
}

fn make_doc(path: &str, index: usize, role: Role, value: Value, target: Option<String>) -> Doc {
    let (service, env) = owner_of(path);
    let (value, removed) = match value {
        // A JSON 6902 patch: a list of operations.
        Value::Sequence(ops) if role == Role::Patch => {
            let mut removed = Vec::new();
            let mut set = Vec::new();
            for op in &ops {
                let pointer = str_at(op, &["path"]).unwrap_or("");
                match str_at(op, &["op"]).unwrap_or("") {
                    "remove" => removed.push(pointer.trim_start_matches('/').to_string()),
                    "add" | "replace" => {
                        let mut m = Mapping::new();
                        m.insert(
                            Value::String(pointer_leaf(pointer)),
                            op.get("value").cloned().unwrap_or(Value::Null),
                        );
                        set.push(Value::Mapping(m));
                    }
                    _ => {}
                }
            }
            (Value::Sequence(set), removed)
        }
        other => {
            let removed = if role == Role::Patch {
                nulled_keys(&other)
            } else {
                Vec::new()
            };
            (other, removed)
        }
    };
    Doc {
        file: path.to_string(),
        index,
        role,
        value,
        removed,
        target,
        service,
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_and_paths() {
        assert_eq!(
            owner_of("deploy/base/api/deployment.yaml"),
            (Some("api".into()), None)
        );
        assert_eq!(
            owner_of("deploy/overlays/prod/api/canary.yaml"),
            (Some("api".into()), Some("prod".into()))
        );
        assert_eq!(
            owner_of("deploy/overlays/prod/_platform/gateway.yaml"),
            (None, Some("prod".into()))
        );
        assert_eq!(
            normalize("deploy/overlays/dev/api/../../../base/api").as_deref(),
            Some("deploy/base/api")
        );
        assert_eq!(normalize("../x"), None);
        assert_eq!(pointer_leaf("/spec/a~1b"), "a/b");
    }
}
