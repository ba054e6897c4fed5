//! A large platform (1,000 services of the synthetic generator, examples/synth) still fits
//! what the cluster accepts: every ConfigMap and Secret the output makes (plain objects,
//! Kustomize's configMapGenerator/secretGenerator from the files beside it, the files the
//! Helm chart loads) stays under Kubernetes' 1 MiB, and the overview dashboard does not grow
//! with the number of services.

use std::collections::BTreeMap;
use std::path::Path;

use bulkhead::render::Files;
use serde_yaml_ng::Value as Yaml;

use crate::common::{kustomize, model_of, render_model, yaml_docs};
use crate::synth::platform;

/// What the API server accepts in a ConfigMap's or Secret's data (keys and values
/// together): `MaxSecretSize`, 1 MiB, for both.
const MAX_DATA: usize = 1024 * 1024;

const OVERVIEW: &str = "deploy/platform/dashboard-overview.json";

fn rendered(services: usize) -> Files {
    let text = platform::generate(&platform::Options {
        services,
        environments: 3,
        seed: 1,
        ..platform::Options::default()
    });
    render_model(&model_of("service.toml", &text), None)
}

/// Size of a ConfigMap's or Secret's data as the API server counts it: every key and value
/// of `data`, `binaryData` and `stringData`.
fn data_size(object: &Yaml) -> usize {
    ["data", "binaryData", "stringData"]
        .iter()
        .filter_map(|field| object[*field].as_mapping())
        .flat_map(|m| m.iter())
        .map(|(k, v)| {
            k.as_str().map_or(0, str::len)
                + match v {
                    Yaml::String(s) => s.len(),
                    other => serde_yaml_ng::to_string(other).unwrap().trim_end().len(),
                }
        })
        .sum()
}

/// `folder/rel` with `..` resolved (Kustomize's paths are relative to the kustomization).
fn join(folder: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = folder.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "." | "" => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The data size of every ConfigMap and Secret in `files`, by where it comes from: plain
/// objects in YAML files, each entry of a kustomization's generators (computed from the
/// files and literals it names, as Kustomize puts them in the data), and each file the Helm
/// chart can load into a ConfigMap (`.Files.Get`) or values file it reads settings from.
fn configmaps_and_secrets(files: &Files) -> BTreeMap<String, usize> {
    let mut sizes = BTreeMap::new();
    for (path, text) in files {
        let is_yaml = path.ends_with(".yaml") || path.ends_with(".yml");
        if path.starts_with("helm/") && !path.contains("/templates/") {
            // One file of the chart is at most one ConfigMap's data, or the values a
            // rendered ConfigMap takes its settings from.
            sizes.insert(format!("{path} (Helm)"), text.len());
            continue;
        }
        if !is_yaml || !path.starts_with("deploy/") {
            continue;
        }
        for doc in yaml_docs(text) {
            if doc["kind"] == "ConfigMap" || doc["kind"] == "Secret" {
                let name = doc["metadata"]["name"].as_str().unwrap_or("?").to_string();
                sizes.insert(format!("{path} {name}"), data_size(&doc));
            }
            if doc["kind"] != "Kustomization" {
                continue;
            }
            let folder = path.rsplit_once('/').map_or("", |(f, _)| f);
            for field in ["configMapGenerator", "secretGenerator"] {
                for generator in doc[field].as_sequence().into_iter().flatten() {
                    let mut size = 0;
                    for entry in generator["files"].as_sequence().into_iter().flatten() {
                        let entry = entry.as_str().unwrap();
                        let (key, file) = entry
                            .split_once('=')
                            .unwrap_or_else(|| (entry.rsplit('/').next().unwrap(), entry));
                        let content = files.get(&join(folder, file)).unwrap_or_else(|| {
                            panic!("{path}: {field} names {file}, not generated")
                        });
                        size += key.len() + content.len();
                    }
                    for literal in generator["literals"].as_sequence().into_iter().flatten() {
                        size += literal.as_str().unwrap().len() - 1; // without the `=`
                    }
                    for env in generator["envs"].as_sequence().into_iter().flatten() {
                        size += files[&join(folder, env.as_str().unwrap())].len();
                    }
                    let name = generator["name"].as_str().unwrap_or("?");
                    sizes.insert(format!("{path} {field} {name}"), size);
                }
            }
        }
    }
    sizes
}

#[test]
fn a_thousand_services_fit_in_configmaps_and_the_overview_does_not_grow() {
    let small = rendered(10);
    let large = rendered(1000);

    let sizes = configmaps_and_secrets(&large);
    let generated = sizes.keys().filter(|k| k.contains("Generator")).count();
    assert!(
        generated > 1000,
        "every service's dashboard and the overview are generated: {generated}"
    );
    let over: Vec<String> = sizes
        .iter()
        .filter(|(_, size)| **size >= MAX_DATA)
        .map(|(what, size)| format!("{what}: {size} bytes"))
        .collect();
    assert!(
        over.is_empty(),
        "1,000 services: ConfigMaps or Secrets over 1 MiB:\n{}",
        over.join("\n")
    );

    // The overview is the same dashboard whatever the number of services (its broker row
    // counts the streams: a few digits).
    let (a, b) = (small[OVERVIEW].len(), large[OVERVIEW].len());
    assert!(
        a.abs_diff(b) <= 8,
        "the overview grows with the services: {a} bytes for 10, {b} for 1,000"
    );
    assert_eq!(
        large[OVERVIEW],
        large["observability/dashboards/overview.json"]
    );
}

/// Kustomize itself builds the platform folder of a 1,000-service platform (the overview's
/// and the broker's ConfigMaps): what it makes is under 1 MiB, and it is the overview.
#[test]
fn kustomize_builds_the_overview_of_a_thousand_services_under_a_mebibyte() {
    let files = rendered(1000);
    let out = tempfile::tempdir().unwrap();
    for (path, text) in files
        .iter()
        .filter(|(p, _)| p.starts_with("deploy/platform/"))
    {
        let dest = out.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, text.as_bytes()).unwrap();
    }
    let built = kustomize(&out.path().join(Path::new("deploy/platform")));
    let configmaps: Vec<&Yaml> = built
        .iter()
        .filter(|o| o["kind"] == "ConfigMap" || o["kind"] == "Secret")
        .collect();
    assert!(
        configmaps
            .iter()
            .any(|o| o["metadata"]["labels"]["grafana_dashboard"] == "1"),
        "the overview's ConfigMap"
    );
    for o in configmaps {
        let size = data_size(o);
        assert!(
            size < MAX_DATA,
            "{}: {size} bytes of data",
            o["metadata"]["name"].as_str().unwrap()
        );
    }
}
