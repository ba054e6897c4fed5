//! The platform as it is on disk: the Kubernetes documents the platform deploys (what the
//! kustomizations deploy and change, and with deploy = "helm" each release of the chart as
//! `helm template` renders it), plus Argo CD objects, workflows, Helm values, dashboards and
//! the services' Dockerfiles. Where to look comes from the layout (what the blueprints
//! produce), never from fixed paths; what is read is the files on disk. Symlinks are never
//! followed; files are read in a stable order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml_ng::{Mapping, Value};

use super::Problem;
use super::dockerfile::Dockerfile;
use super::helm::{Helm, split_manifests};
use super::layout::Layout;
use super::yaml::{self, parse_docs, seq_at, str_at};
use crate::error::Error;
use crate::model::Model;
use crate::plan::references::{dir_of, is_kustomization, normalize};
use crate::state::{self as lock, Lock};

/// The chart and the values files Argo CD deploys each service from with deploy = "helm":
/// `helm/chart` with `helm/<service>/values.yaml`, then `values-<environment>.yaml`.
pub const HELM_CHART: &str = "helm/chart";

pub fn helm_values_files(service: &str, env: &str) -> [String; 2] {
    [
        format!("helm/{service}/values.yaml"),
        format!("helm/{service}/values-{env}.yaml"),
    ]
}

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
    /// The service the file was generated for (a Kustomize base or overlay, a release).
    pub service: Option<String>,
    /// The environment the file was generated for; none for what every environment gets.
    pub env: Option<String>,
    /// Rendered by `helm template` for (service, env) from `file`, a chart template.
    pub helm: bool,
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

    /// `deploy/base/x/deployment.yaml (Deployment x)`; for a Helm render
    /// `helm/chart/templates/deployment.yaml for x in prod (Deployment x)`.
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
        match (self.helm, &self.service, &self.env) {
            (true, Some(service), Some(env)) => {
                format!("{} for {service} in {env} ({what})", self.file)
            }
            _ => format!("{} ({what})", self.file),
        }
    }
}

/// One kustomization file.
#[derive(Debug, Clone)]
pub struct Kustomization {
    pub file: String,
    pub value: Value,
    pub service: Option<String>,
    pub env: Option<String>,
    /// It only gathers other overlays of its environment (lists nothing but their
    /// folders): they set the namespace, not it.
    pub aggregate: bool,
}

/// A service's generated Dockerfile and the .dockerignore beside it.
#[derive(Debug, Clone)]
pub struct ServiceFiles {
    pub service: String,
    /// The Dockerfile's path.
    pub path: String,
    /// Its folder: the build context.
    pub dir: String,
    /// Parsed; none when it was generated and is gone.
    pub dockerfile: Option<Dockerfile>,
    pub dockerignore: Option<String>,
    /// Whether the blueprints produce a .dockerignore beside it.
    pub dockerignore_generated: bool,
}

impl ServiceFiles {
    pub fn dockerfile_path(&self) -> String {
        self.path.clone()
    }

    pub fn dockerignore_path(&self) -> String {
        if self.dir.is_empty() {
            ".dockerignore".to_string()
        } else {
            format!("{}/.dockerignore", self.dir)
        }
    }
}

/// A generated Grafana dashboard file.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// The service it is for; none for the platform's overview.
    pub service: Option<String>,
    /// Parsed; none when it was generated and is gone.
    pub json: Option<serde_json::Value>,
}

#[derive(Debug, Default)]
pub struct Tree {
    pub root: PathBuf,
    /// The services deploy as releases of the Helm chart (deploy = "helm"), not through
    /// their kustomizations.
    pub helm: bool,
    /// Documents a deployed kustomization lists (resources) or applies (patches), and
    /// with deploy = "helm" every release's rendered objects.
    pub docs: Vec<Doc>,
    pub kustomizations: Vec<Kustomization>,
    /// Argo CD objects (Applications, projects).
    pub argocd: Vec<Doc>,
    /// `.github/workflows/*.yaml`: path → document.
    pub workflows: BTreeMap<String, Value>,
    /// Helm values files (`helm/**/values*.yaml`, templates excluded): path → documents.
    pub helm_values: BTreeMap<String, Vec<Value>>,
    /// Generated Grafana dashboards: path → the dashboard.
    pub dashboards: BTreeMap<String, Dashboard>,
    /// Every generated Dockerfile, by path, with the service it builds.
    pub dockerfiles: BTreeMap<String, ServiceFiles>,
    /// Where the deployed objects come from, for findings about all of them (`deploy/`).
    pub manifests: String,
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

/// Fails unless `root` holds a generated tree (`.bulkhead/lock.json`, readable).
pub fn ensure_generated(root: &Path) -> Result<(), Error> {
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
    serde_json::from_str::<Lock>(&text).map(drop).map_err(|e| {
        Error::Message(format!(
            "{} is damaged ({e}); restore it from version control",
            lock_path.display()
        ))
    })
}

impl Tree {
    /// Reads what the platform deploys under `root`, where `layout` says the blueprints put
    /// it; with `helm`, the services as releases of the chart.
    pub fn load(root: &Path, layout: &Layout, model: &Model, helm: Option<&Helm>) -> Self {
        let mut tree = Tree {
            root: root.to_path_buf(),
            helm: helm.is_some(),
            ..Tree::default()
        };
        tree.load_kustomize(layout);
        if let Some(helm) = helm {
            tree.load_helm(layout, model, helm);
        }
        tree.load_others(layout);
        // The chart first: with Helm, Kustomize deploys only what belongs to no service.
        let mut sources: Vec<String> = Vec::new();
        if tree.helm {
            sources.push(HELM_CHART.to_string());
        }
        for k in &tree.kustomizations {
            let top = format!("{}/", k.file.split('/').next().unwrap_or(""));
            if !sources.contains(&top) {
                sources.push(top);
            }
        }
        tree.manifests = if sources.is_empty() {
            "-".to_string()
        } else {
            sources.join(", ")
        };
        tree
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

    /// The documents of a YAML file under the root; none (and a problem) when it cannot
    /// be read or parsed.
    fn read_yaml(&mut self, path: &str) -> Option<Vec<Value>> {
        let text = self.read(&self.root.join(path))?;
        match parse_docs(&text) {
            Ok(docs) => Some(docs),
            Err(e) => {
                self.problem(path, format!("not valid YAML: {e}"));
                None
            }
        }
    }

    fn is_file(&self, path: &str) -> bool {
        std::fs::symlink_metadata(self.root.join(path)).is_ok_and(|m| m.is_file())
    }

    /// The kustomization file of a folder, if it has one.
    fn kustomization_in(&self, dir: &str) -> Option<String> {
        ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .map(|name| format!("{dir}/{name}"))
            .find(|path| self.is_file(path))
    }

    /// Every kustomization the blueprints generate (with deploy = "helm", those of no
    /// service: the services come from the chart), and what they reach: folders they list
    /// are read through their own kustomization, files they list are deployed (resources)
    /// or applied (patches).
    fn load_kustomize(&mut self, layout: &Layout) {
        let deployed = |path: &str, helm: bool| !(helm && layout.owner(path).service.is_some());
        // argocd/ holds Argo CD's own objects (read by `load_others`), which the root
        // Applications build into Argo CD's namespace, not into an environment.
        let mut queue: std::collections::VecDeque<String> = layout
            .paths()
            .filter(|p| !p.starts_with("argocd/"))
            .filter(|p| is_kustomization(p) && deployed(p, self.helm))
            .map(str::to_string)
            .collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut roles: BTreeMap<String, (Role, Option<String>)> = BTreeMap::new();
        let mut inline: Vec<(String, Value, Option<String>)> = Vec::new();
        let mut made: Vec<(String, Value)> = Vec::new();
        while let Some(path) = queue.pop_front() {
            if !seen.insert(path.clone()) || !deployed(&path, self.helm) {
                continue;
            }
            // A generated kustomization that is gone deploys nothing: the checks say what
            // is missing.
            if !self.is_file(&path) {
                continue;
            }
            let Some(docs) = self.read_yaml(&path) else {
                continue;
            };
            let Some(k) = docs.into_iter().next() else {
                continue;
            };
            for generator in seq_at(&k, &["configMapGenerator"]) {
                let config_map = self.generate_config_map(dir_of(&path), generator);
                made.push((path.clone(), config_map));
            }
            let owner = layout.owner(&path);
            let dir = dir_of(&path).to_string();
            // Folders listed as resources, when every one is an overlay of the same
            // environment: then this kustomization only aggregates them.
            let mut overlays = 0;
            let mut resources = 0;
            let mut refer = |entry: &str, role: Role, target: Option<String>, me: &mut Self| {
                if entry.contains("://") || entry.starts_with("github.com/") {
                    return;
                }
                let Some(target_path) = normalize(&format!("{dir}/{entry}")) else {
                    me.problem(&path, format!("`{entry}` points outside the output folder"));
                    return;
                };
                if role == Role::Resource {
                    resources += 1;
                }
                if me.is_file(&target_path) {
                    let slot = roles.entry(target_path).or_insert((role, target.clone()));
                    if role == Role::Resource {
                        *slot = (Role::Resource, None);
                    }
                } else if me.root.join(&target_path).is_dir() {
                    match me.kustomization_in(&target_path) {
                        Some(child) => {
                            if role == Role::Resource
                                && owner.env.is_some()
                                && layout.owner(&child).env == owner.env
                            {
                                overlays += 1;
                            }
                            queue.push_back(child);
                        }
                        None => me.problem(
                            &path,
                            format!("lists `{entry}`, a folder without a kustomization"),
                        ),
                    }
                } else {
                    me.problem(&path, format!("lists `{entry}`, which does not exist"));
                }
            };
            for r in seq_at(&k, &["resources"])
                .iter()
                .chain(seq_at(&k, &["components"]))
            {
                if let Some(entry) = r.as_str() {
                    refer(entry, Role::Resource, None, self);
                }
            }
            for p in seq_at(&k, &["patches"])
                .iter()
                .chain(seq_at(&k, &["patchesJson6902"]))
            {
                let target = describe_target(p.get("target"));
                if let Some(entry) = str_at(p, &["path"]) {
                    refer(entry, Role::Patch, target, self);
                } else if let Some(text) = str_at(p, &["patch"]) {
                    match parse_docs(text) {
                        Ok(docs) => inline
                            .extend(docs.into_iter().map(|d| (path.clone(), d, target.clone()))),
                        Err(e) => {
                            self.problem(&path, format!("inline patch is not valid YAML: {e}"))
                        }
                    }
                }
            }
            for p in seq_at(&k, &["patchesStrategicMerge"]) {
                let Some(entry) = p.as_str() else { continue };
                if entry.contains('\n') {
                    match parse_docs(entry) {
                        Ok(docs) => {
                            inline.extend(docs.into_iter().map(|d| (path.clone(), d, None)))
                        }
                        Err(e) => {
                            self.problem(&path, format!("inline patch is not valid YAML: {e}"))
                        }
                    }
                } else {
                    refer(entry, Role::Patch, None, self);
                }
            }
            self.kustomizations.push(Kustomization {
                file: path.clone(),
                value: k,
                service: owner.service,
                env: owner.env,
                aggregate: resources > 0 && overlays == resources,
            });
        }
        self.kustomizations.sort_by(|a, b| a.file.cmp(&b.file));
        for (path, (role, target)) in roles {
            let Some(docs) = self.read_yaml(&path) else {
                continue;
            };
            for (index, value) in docs.into_iter().enumerate() {
                self.docs
                    .push(make_doc(layout, &path, index, role, value, target.clone()));
            }
        }
        for (index, (path, value, target)) in inline.into_iter().enumerate() {
            self.docs
                .push(make_doc(layout, &path, index, Role::Patch, value, target));
        }
        for (index, (path, value)) in made.into_iter().enumerate() {
            self.docs
                .push(make_doc(layout, &path, index, Role::Resource, value, None));
        }
    }

    /// Every (service, environment) as Argo CD deploys it with deploy = "helm": the chart
    /// rendered by `helm template` with release = the service, namespace = the
    /// environment's, and the service's values files on disk.
    fn load_helm(&mut self, layout: &Layout, model: &Model, helm: &Helm) {
        if !self.is_file(&format!("{HELM_CHART}/Chart.yaml")) {
            self.problem(
                HELM_CHART,
                "missing (no Chart.yaml): Argo CD deploys every service from this chart",
            );
            return;
        }
        let chart = self.root.join(HELM_CHART);
        struct Release<'a> {
            service: &'a str,
            env: &'a str,
            namespace: &'a str,
            values: Vec<PathBuf>,
        }
        let mut releases = Vec::new();
        for env in &model.environments {
            for s in &model.services {
                let mut values = Vec::new();
                let mut complete = true;
                for file in helm_values_files(&s.name, &env.name) {
                    if self.is_file(&file) {
                        values.push(self.root.join(&file));
                    } else if layout.generated(&file) {
                        complete = false;
                        self.problem(
                            &file,
                            format!(
                                "missing: Argo CD renders {} in {} with it",
                                s.name, env.name
                            ),
                        );
                    }
                }
                if complete {
                    releases.push(Release {
                        service: &s.name,
                        env: &env.name,
                        namespace: &env.namespace,
                        values,
                    });
                }
            }
        }
        // Each release is its own helm process: run them side by side.
        let rendered: Vec<Result<String, String>> = {
            use rayon::prelude::*;
            releases
                .par_iter()
                .map(|r| helm.template(r.service, &chart, r.namespace, &r.values))
                .collect()
        };
        for (release, result) in releases.iter().zip(rendered) {
            let at = format!("{HELM_CHART} for {} in {}", release.service, release.env);
            let text = match result {
                Ok(text) => text,
                Err(e) => {
                    self.problem(&at, e);
                    continue;
                }
            };
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for (source, piece) in split_manifests(&text) {
                let file = if source.is_empty() {
                    HELM_CHART.to_string()
                } else {
                    format!("{HELM_CHART}/{source}")
                };
                match parse_docs(&piece) {
                    Ok(values) => {
                        for value in values {
                            let index = counts.entry(file.clone()).or_default();
                            self.docs.push(Doc {
                                file: file.clone(),
                                index: *index,
                                role: Role::Resource,
                                value,
                                removed: Vec::new(),
                                target: None,
                                service: Some(release.service.to_string()),
                                env: Some(release.env.to_string()),
                                helm: true,
                            });
                            *index += 1;
                        }
                    }
                    Err(e) => {
                        self.problem(&at, format!("helm rendered invalid YAML in {file}: {e}"))
                    }
                }
            }
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
                    Value::String(unquote_literal(value).to_string()),
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

    fn load_others(&mut self, layout: &Layout) {
        // Argo CD objects: the generated files that declare them, wherever the blueprints
        // put them, and anything added under argocd/.
        let mut argocd = self.yaml_files("argocd");
        let declared: Vec<String> = layout
            .declaring_any(&["Application", "ApplicationSet", "AppProject"])
            .filter(|p| !argocd.contains_key(*p) && self.is_file(p))
            .map(str::to_string)
            .collect();
        for path in declared {
            if let Some(docs) = self.read_yaml(&path) {
                argocd.insert(path, docs);
            }
        }
        for (path, docs) in argocd {
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
                    helm: false,
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
        let dashboards: Vec<String> = layout.dashboards().map(str::to_string).collect();
        for path in dashboards {
            let json = if self.is_file(&path) {
                let Some(text) = self.read(&self.root.join(&path)) else {
                    continue;
                };
                match serde_json::from_str(&text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.problem(&path, format!("not valid JSON: {e}"));
                        continue;
                    }
                }
            } else {
                None
            };
            let service = layout.owner(&path).service;
            self.dashboards.insert(path, Dashboard { service, json });
        }
        let dockerfiles: Vec<(String, String)> = layout
            .paths()
            .filter(|p| p.rsplit('/').next() == Some("Dockerfile"))
            .filter_map(|p| Some((p.to_string(), layout.owner(p).service?)))
            .collect();
        for (path, service) in dockerfiles {
            let dir = dir_of(&path).to_string();
            let dockerfile = self
                .is_file(&path)
                .then(|| self.read(&self.root.join(&path)))
                .flatten()
                .map(|t| Dockerfile::parse(&t));
            let mut files = ServiceFiles {
                service,
                path: path.clone(),
                dir,
                dockerfile,
                dockerignore: None,
                dockerignore_generated: false,
            };
            let ignore = files.dockerignore_path();
            files.dockerignore_generated = layout.generated(&ignore);
            files.dockerignore = self
                .is_file(&ignore)
                .then(|| self.read(&self.root.join(&ignore)))
                .flatten();
            self.dockerfiles.insert(path, files);
        }
    }

    fn yaml_files(&mut self, dir: &str) -> BTreeMap<String, Vec<Value>> {
        self.yaml_files_filtered(dir, |_| true)
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
            if let Some(docs) = self.read_yaml(&r) {
                out.insert(r, docs);
            }
        }
        out
    }

    /// Deployed objects.
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
}

fn make_doc(
    layout: &Layout,
    path: &str,
    index: usize,
    role: Role,
    value: Value,
    target: Option<String>,
) -> Doc {
    let owner = layout.owner(path);
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
        service: owner.service,
        env: owner.env,
        helm: false,
    }
}

/// A literal's value as kustomize reads it: one pair of enclosing quotes removed.
fn unquote_literal(value: &str) -> &str {
    let b = value.as_bytes();
    if b.len() >= 2 && b[0] == b[b.len() - 1] && matches!(b[0], b'"' | b'\'') {
        &value[1..value.len() - 1]
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            normalize("deploy/overlays/dev/api/../../../base/api").as_deref(),
            Some("deploy/base/api")
        );
        assert_eq!(normalize("../x"), None);
        assert_eq!(pointer_leaf("/spec/a~1b"), "a/b");
    }
}
