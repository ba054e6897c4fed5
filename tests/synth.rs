//! The synthetic platform generator behind the benchmarks (examples/synth) keeps producing
//! valid service.toml files, without warnings, deterministically for a seed; and its
//! every-key platforms write every key the reader knows (`bulkhead::spec::TABLES`).

#[path = "../examples/synth/platform.rs"]
pub(crate) mod platform;

use std::collections::BTreeSet;

use bulkhead::diagnostic::Source;

/// The two every-key platforms, written to folders of their own: Istio, a domain and
/// `deploy = "helm"`; then no mesh, no domain and `deploy = "kustomize"`. Each with its
/// label and the path of its service.toml (the folder lives as long as the `TempDir`).
pub(crate) fn every_key_platforms() -> Vec<(&'static str, tempfile::TempDir)> {
    [true, false]
        .into_iter()
        .map(|mesh| {
            let text = platform::generate(&platform::Options {
                every_key: true,
                mesh,
                ..platform::Options::default()
            });
            let dir = crate::common::platform(&text);
            // `platform.blueprints` names this folder; empty, it overrides nothing.
            std::fs::create_dir(dir.path().join("blueprints")).unwrap();
            let label = if mesh {
                "every key"
            } else {
                "every key (mesh = none)"
            };
            (label, dir)
        })
        .collect()
}

fn synth(services: usize, environments: usize, seed: u64) -> String {
    platform::generate(&platform::Options {
        services,
        environments,
        seed,
        ..platform::Options::default()
    })
}

fn problems(text: &str) -> Vec<String> {
    let source = Source {
        name: "service.toml".into(),
        text: text.to_string(),
    };
    let diagnostics = bulkhead::load::load(&source).diagnostics;
    if diagnostics.is_empty() {
        Vec::new()
    } else {
        vec![source.render(&diagnostics, false)]
    }
}

#[test]
fn synthetic_platforms_are_valid_without_warnings() {
    for (services, environments) in [(1, 1), (2, 2), (10, 3), (100, 3), (1000, 3), (40, 7)] {
        for seed in [1, 2, 3] {
            let text = synth(services, environments, seed);
            let found = problems(&text);
            assert!(
                found.is_empty(),
                "{services} services × {environments} environments, seed {seed}:\n{}",
                found.join("\n")
            );
        }
    }
}

#[test]
fn synthetic_platforms_are_deterministic_and_sized() {
    let text = synth(100, 3, 7);
    assert_eq!(text, synth(100, 3, 7));
    assert_ne!(text, synth(100, 3, 8));
    let services = text
        .lines()
        .filter(|l| l.starts_with("[services.") && !l.contains(".environments."))
        .count();
    assert_eq!(services, 100);
    let environments = text
        .lines()
        .filter(|l| l.starts_with("[environments."))
        .count();
    assert_eq!(environments, 3);
    for needle in [
        "runtime = \"rust\"",
        "runtime = \"java\"",
        "datastore = \"postgres\"",
        "datastore = \"mongodb\"",
        "calls = [",
        "publishes = [",
        "consumes = [",
        "apis = [",
        "autoscale = {",
        "strategy = \"canary\"",
        "strategy = \"blue-green\"",
        ".environments.prod]",
    ] {
        assert!(
            text.contains(needle),
            "no `{needle}` in 100 synthetic services"
        );
    }
}

fn every_key(services: usize, environments: usize, seed: u64, mesh: bool) -> String {
    platform::generate(&platform::Options {
        services,
        environments,
        seed,
        every_key: true,
        mesh,
        ..platform::Options::default()
    })
}

/// The tables of `doc` at a dotted path of `TABLES` (`*`: every child table).
fn tables_at<'a>(doc: &'a toml::Table, path: &str) -> Vec<&'a toml::Table> {
    let mut found = vec![doc];
    for segment in path.split('.').filter(|s| !s.is_empty()) {
        found = found
            .into_iter()
            .flat_map(|t| -> Vec<&toml::Table> {
                if segment == "*" {
                    t.values().filter_map(toml::Value::as_table).collect()
                } else {
                    t.get(segment)
                        .and_then(toml::Value::as_table)
                        .into_iter()
                        .collect()
                }
            })
            .collect();
    }
    found
}

/// `table.key` for every key of `TABLES` that no table at its path writes.
fn keys_left_out(text: &str) -> Vec<String> {
    let doc: toml::Table = toml::from_str(text).expect("the generated text is TOML");
    let mut missing = Vec::new();
    for (path, keys) in bulkhead::spec::TABLES {
        let tables = tables_at(&doc, path);
        for key in *keys {
            if !tables.iter().any(|t| t.contains_key(*key)) {
                missing.push(if path.is_empty() {
                    (*key).to_string()
                } else {
                    format!("{path}.{key}")
                });
            }
        }
    }
    missing
}

#[test]
fn every_key_platforms_write_every_key_of_service_toml() {
    for seed in 1..=6 {
        for (services, environments) in [(8, 3), (10, 3), (12, 4)] {
            for mesh in [true, false] {
                let text = every_key(services, environments, seed, mesh);
                let at = format!(
                    "every-key platform, {services} services × {environments} environments, \
                     seed {seed}, mesh {mesh}"
                );
                let found = problems(&text);
                assert!(found.is_empty(), "{at}:\n{}", found.join("\n"));
                // Without the mesh there is no domain either (public hosts per environment),
                // and the gateway has no mesh identity.
                let expected: Vec<String> = if mesh {
                    Vec::new()
                } else {
                    vec![
                        "platform.domain".into(),
                        "platform.gateway.service_account".into(),
                    ]
                };
                assert_eq!(
                    keys_left_out(&text),
                    expected,
                    "{at} leaves out keys that service.toml knows:\n{text}"
                );
            }
        }
    }
}

/// Service keys an every-key platform sets on some services and leaves out on others.
const OPTIONAL_SERVICE_KEYS: [&str; 9] = [
    "description",
    "port",
    "apis",
    "calls",
    "egress",
    "publishes",
    "consumes",
    "env",
    "secrets",
];

/// What a platform's values cover, as short facts ("runtime go", "retries 0", …); which keys
/// it writes is `keys_left_out`'s.
fn facts(text: &str) -> BTreeSet<String> {
    use toml::Value;
    let doc: toml::Table = toml::from_str(text).expect("the generated text is TOML");
    let mut facts = BTreeSet::new();
    let mut fact = |f: String| {
        facts.insert(f);
    };
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).map(String::from);
    let platform = doc["platform"].as_table().unwrap();
    for key in ["mesh", "deploy", "ci"] {
        fact(format!(
            "{key} {}",
            str_of(platform.get(key)).unwrap_or("(unset)".into())
        ));
    }
    fact(format!("domain set {}", platform.contains_key("domain")));
    for env in doc["environments"].as_table().unwrap().values() {
        let env = env.as_table().unwrap();
        if let Some(sync) = env.get("auto_sync").and_then(Value::as_bool) {
            fact(format!("auto_sync {sync}"));
        }
    }
    let limits = |r: &toml::Table| {
        if r.contains_key("cpu_limit") || r.contains_key("memory_limit") {
            "with limits"
        } else {
            "without limits"
        }
    };
    let targets = |a: &toml::Table| match (a.contains_key("cpu"), a.contains_key("memory")) {
        (true, true) => "cpu and memory",
        (true, false) => "cpu",
        (false, true) => "memory",
        (false, false) => "bounds only",
    };
    for service in doc["services"].as_table().unwrap().values() {
        let s = service.as_table().unwrap();
        let runtime = str_of(s.get("runtime")).unwrap();
        fact(format!("runtime {runtime}"));
        fact(format!(
            "datastore {}",
            str_of(s.get("datastore")).unwrap_or("(unset)".into())
        ));
        for key in OPTIONAL_SERVICE_KEYS {
            fact(format!("{key} set {}", s.contains_key(key)));
        }
        let consumes = s.get("consumes").and_then(Value::as_array);
        let external = platform["external_topics"].as_array().unwrap();
        for topic in consumes.into_iter().flatten() {
            if let Some(k) = external.iter().position(|t| t == topic) {
                fact(format!("consumes external topic {k}"));
            }
        }
        match s.get("health").and_then(Value::as_table) {
            None => fact("health (unset)".into()),
            Some(h) => fact(format!(
                "health {}",
                h.keys().cloned().collect::<Vec<_>>().join("+")
            )),
        }
        match s.get("resources").and_then(Value::as_table) {
            None => fact("resources (unset)".into()),
            Some(r) => fact(format!("resources {}", limits(r))),
        }
        let base_autoscale = s.get("autoscale").and_then(Value::as_table);
        match base_autoscale {
            None => fact("autoscale (unset)".into()),
            Some(a) => fact(format!("autoscale on {}", targets(a))),
        }
        let base_release = s.get("release").map(|r| str_of(r.get("strategy")).unwrap());
        fact(format!(
            "release {}",
            base_release.clone().unwrap_or("(unset)".into())
        ));
        let r = s.get("resilience").and_then(Value::as_table);
        for (key, v) in r.into_iter().flatten() {
            if key == "retries" && v.as_integer() == Some(0) {
                fact("retries 0".into());
            }
            if key == "timeout" {
                let t = v.as_str().unwrap();
                let ms = t.strip_suffix("ms").and_then(|n| n.parse::<u32>().ok());
                if ms.is_some_and(|ms| ms < 1000) {
                    fact("timeout under a second".into());
                }
            }
        }
        if let Some(slo) = s.get("slo").and_then(Value::as_table) {
            for (key, v) in slo {
                fact(format!("slo {key} {}", v.type_str()));
            }
        }
        for env in s
            .get("environments")
            .and_then(Value::as_table)
            .into_iter()
            .flat_map(|t| t.values())
        {
            let e = env.as_table().unwrap();
            if let Some(r) = e.get("resources").and_then(Value::as_table) {
                fact(format!("per-environment resources {}", limits(r)));
            }
            if let Some(a) = e.get("autoscale").and_then(Value::as_table) {
                fact(format!(
                    "per-environment autoscale {} {}",
                    if base_autoscale.is_some() {
                        "over the service's"
                    } else {
                        "alone"
                    },
                    targets(a)
                ));
            }
            if let Some(r) = e.get("release").and_then(Value::as_table) {
                let here = str_of(r.get("strategy"));
                fact(format!(
                    "release {} → {}",
                    base_release.clone().unwrap_or("(unset)".into()),
                    here.unwrap_or("(inherited)".into())
                ));
            }
        }
    }
    facts
}

#[test]
fn every_key_platforms_vary_their_values() {
    let mut expected: Vec<String> = [
        "runtime rust",
        "runtime go",
        "runtime node",
        "runtime python",
        "runtime java",
        "datastore postgres",
        "datastore mysql",
        "datastore mongodb",
        "datastore redis",
        "datastore none",
        "datastore (unset)",
        "release rolling",
        "release canary",
        "release blue-green",
        "release (unset)",
        "release (unset) → canary",
        "release rolling → blue-green",
        "release canary → rolling",
        "release canary → (inherited)",
        "release blue-green → rolling",
        "release blue-green → canary",
        "autoscale on cpu",
        "autoscale on memory",
        "autoscale on cpu and memory",
        "autoscale (unset)",
        "per-environment autoscale alone cpu and memory",
        "per-environment autoscale over the service's bounds only",
        "per-environment autoscale over the service's cpu",
        "resources with limits",
        "resources without limits",
        "resources (unset)",
        "per-environment resources with limits",
        "per-environment resources without limits",
        "health liveness+readiness",
        "health liveness",
        "health readiness",
        "health (unset)",
        "retries 0",
        "timeout under a second",
        "slo availability float",
        "slo availability integer",
        "slo latency_p95_ms integer",
        "auto_sync true",
        "auto_sync false",
        "consumes external topic 0",
        "consumes external topic 1",
    ]
    .map(String::from)
    .to_vec();
    for key in OPTIONAL_SERVICE_KEYS {
        expected.push(format!("{key} set true"));
        expected.push(format!("{key} set false"));
    }
    for seed in 1..=6 {
        for mesh in [true, false] {
            let found = facts(&every_key(10, 3, seed, mesh));
            let mut expected = expected.clone();
            expected.extend(
                if mesh {
                    [
                        "mesh istio",
                        "deploy helm",
                        "ci github-actions",
                        "domain set true",
                    ]
                } else {
                    [
                        "mesh none",
                        "deploy kustomize",
                        "ci none",
                        "domain set false",
                    ]
                }
                .map(String::from),
            );
            let missing: Vec<&String> = expected.iter().filter(|e| !found.contains(*e)).collect();
            assert!(
                missing.is_empty(),
                "seed {seed}, mesh {mesh}: the every-key platform never has {missing:?}\n\
                 it has {found:#?}"
            );
        }
    }
}

#[test]
fn every_key_platforms_are_deterministic_and_sized() {
    let text = every_key(12, 4, 5, true);
    assert_eq!(text, every_key(12, 4, 5, true));
    assert_ne!(text, every_key(12, 4, 6, true));
    let doc: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(doc["services"].as_table().unwrap().len(), 12);
    assert_eq!(doc["environments"].as_table().unwrap().len(), 4);
}
