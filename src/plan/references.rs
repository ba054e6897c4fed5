//! Which files of a tree other files refer to: what a kustomization lists (resources,
//! components, patches, generator files, …) and the folders Argo CD Applications sync. A
//! generated file the user deleted while something still refers to it leaves a tree that
//! `kubectl kustomize` (or Argo CD) cannot build: the plan puts it back.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

pub fn is_kustomization(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    matches!(
        base,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

/// `a/b/../c` → `a/c`; none when it climbs out of the output folder.
pub fn normalize(path: &str) -> Option<String> {
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

pub fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rel: &str) -> Option<String> {
    if rel.contains("://") || rel.starts_with('/') {
        return None; // remote or absolute: not a file of this tree
    }
    normalize(&if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    })
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    value
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// The paths (relative to the tree, not yet told apart into files and folders) one
/// kustomization refers to.
fn kustomization_refs(value: &Value) -> Vec<&str> {
    let mut refs: Vec<&str> = Vec::new();
    for key in [
        "resources",
        "components",
        "bases",
        "crds",
        "configurations",
        "generators",
        "transformers",
        "validators",
        "patchesStrategicMerge",
    ] {
        refs.extend(strings(value.get(key)));
    }
    for key in ["patches", "patchesJson6902", "replacements"] {
        let items = value.get(key).and_then(Value::as_sequence).into_iter();
        refs.extend(
            items
                .flatten()
                .filter_map(|p| p.get("path").and_then(Value::as_str)),
        );
    }
    for key in ["configMapGenerator", "secretGenerator"] {
        let items = value.get(key).and_then(Value::as_sequence).into_iter();
        for generator in items.flatten() {
            // `files` entries may name their key: `key=path`.
            refs.extend(
                strings(generator.get("files")).map(|f| f.split_once('=').map_or(f, |(_, p)| p)),
            );
            refs.extend(strings(generator.get("envs")));
            refs.extend(generator.get("env").and_then(Value::as_str));
        }
    }
    refs
}

/// The folders (and Helm values files) an Argo CD Application syncs from this repository.
fn application_refs(doc: &Value) -> Vec<String> {
    let spec = doc.get("spec");
    let single = spec.and_then(|s| s.get("source"));
    let sources = spec
        .and_then(|s| s.get("sources"))
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten();
    let mut refs = Vec::new();
    for source in single.into_iter().chain(sources) {
        let Some(path) = source.get("path").and_then(Value::as_str) else {
            continue;
        };
        refs.push(path.to_string());
        let values = source.get("helm").and_then(|h| h.get("valueFiles"));
        refs.extend(strings(values).filter_map(|v| join(path, v)));
    }
    refs
}

/// For every file that a file of `tree` refers to, the first file referring to it. `tree`
/// maps each path to the content it has (or will have); `is_file` tells a file from a
/// folder, whose kustomization a reference to it means.
pub fn referenced<'a>(
    tree: &BTreeMap<&'a str, &'a str>,
    is_file: impl Fn(&str) -> bool,
) -> BTreeMap<String, &'a str> {
    let mut out: BTreeMap<String, &str> = BTreeMap::new();
    let mut note = |target: String, by: &'a str| {
        let file = if is_file(&target) {
            target
        } else {
            format!("{target}/kustomization.yaml")
        };
        out.entry(file).or_insert(by);
    };
    for (&path, &text) in tree {
        if is_kustomization(path) {
            let Ok(value) = serde_yaml_ng::from_str::<Value>(text) else {
                continue;
            };
            for r in kustomization_refs(&value) {
                if let Some(target) = join(dir_of(path), r) {
                    note(target, path);
                }
            }
        } else if (path.ends_with(".yaml") || path.ends_with(".yml"))
            && text.contains("kind: Application")
        {
            use serde::Deserialize;
            for doc in serde_yaml_ng::Deserializer::from_str(text) {
                let Ok(doc) = Value::deserialize(doc) else {
                    break;
                };
                if doc.get("kind").and_then(Value::as_str) != Some("Application") {
                    continue;
                }
                for r in application_refs(&doc) {
                    if let Some(target) = normalize(&r) {
                        note(target, path);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kustomizations_and_applications_refer_to_files_and_folders() {
        let tree = BTreeMap::from([
            (
                "deploy/overlays/dev/api/kustomization.yaml",
                "resources:\n- ../../../base/api\n- hpa.yaml\n- https://example.com/x.yaml\npatches:\n- path: patch-replicas.yaml\nconfigMapGenerator:\n- name: c\n  files:\n  - key=settings.json\n  envs:\n  - app.env\n",
            ),
            (
                "deploy/overlays/dev/api/hpa.yaml",
                "kind: HorizontalPodAutoscaler\n",
            ),
            (
                "deploy/base/api/kustomization.yaml",
                "resources:\n- deployment.yaml\n",
            ),
            (
                "argocd/dev/api.yaml",
                "apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec:\n  source:\n    path: deploy/overlays/dev/api\n",
            ),
        ]);
        // A name with an extension is a file here.
        let refs = referenced(&tree, |p| {
            p.rsplit('/').next().is_some_and(|b| b.contains('.'))
        });
        let by = |p: &str| refs.get(p).copied();
        let overlay = Some("deploy/overlays/dev/api/kustomization.yaml");
        assert_eq!(by("deploy/base/api/kustomization.yaml"), overlay);
        assert_eq!(by("deploy/overlays/dev/api/hpa.yaml"), overlay);
        assert_eq!(by("deploy/overlays/dev/api/patch-replicas.yaml"), overlay);
        assert_eq!(by("deploy/overlays/dev/api/settings.json"), overlay);
        assert_eq!(by("deploy/overlays/dev/api/app.env"), overlay);
        assert_eq!(
            by("deploy/base/api/deployment.yaml"),
            Some("deploy/base/api/kustomization.yaml")
        );
        assert_eq!(
            by("deploy/overlays/dev/api/kustomization.yaml"),
            Some("argocd/dev/api.yaml")
        );
        assert!(!refs.keys().any(|k| k.contains("example.com")));
    }

    #[test]
    fn paths_never_climb_out() {
        assert_eq!(normalize("a/b/../c").as_deref(), Some("a/c"));
        assert_eq!(normalize("a/../../c"), None);
    }
}
