//! The synthetic platform generator behind the benchmarks (examples/synth) keeps producing
//! valid service.toml files, without warnings, deterministically for a seed.

#[path = "../examples/synth/platform.rs"]
mod platform;

use bulkhead::diagnostic::Source;

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
