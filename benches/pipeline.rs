//! Criterion benchmark of the pipeline stages, for catching regressions:
//!
//! - `load`: parse, validate and resolve a synthetic service.toml;
//! - `compile`: the built-in blueprints into a minijinja environment;
//! - `render`: the model through every blueprint (with the post-render YAML/JSON check);
//! - `plan/empty`: the rendered files against a folder that does not exist;
//! - `plan/up-to-date`: against a tree that an apply just wrote (a no-op plan).
//!
//! Each for 10 and 100 services × 3 environments of the synthetic platform
//! (examples/synth). Run: `cargo bench --bench pipeline` (one stage:
//! `cargo bench --bench pipeline -- render`). End-to-end numbers against the floors are
//! scripts/bench's; see the README, "Performance".

#[path = "../examples/synth/platform.rs"]
mod platform;

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use bulkhead::diagnostic::Source;
use bulkhead::model::Model;
use bulkhead::render::{Blueprints, Files, Renderer};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

const SIZES: &[usize] = &[10, 100];
const ENVIRONMENTS: usize = 3;

fn source(services: usize) -> Source {
    let text = platform::generate(&platform::Options {
        services,
        environments: ENVIRONMENTS,
        ..platform::Options::default()
    });
    Source {
        name: "service.toml".into(),
        text,
    }
}

fn load(source: &Source) -> Model {
    let checked = bulkhead::load::load(source);
    assert!(
        checked.diagnostics.is_empty(),
        "the synthetic service.toml must be valid without warnings"
    );
    checked.model.expect("a valid service.toml has a model")
}

fn renderer() -> Renderer {
    Renderer::new(Blueprints::builtin()).expect("the built-in blueprints compile")
}

fn render(model: &Model) -> Files {
    renderer()
        .render(model)
        .expect("the built-in blueprints render")
}

fn label(services: usize) -> String {
    format!("{services}x{ENVIRONMENTS}")
}

fn bench_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    for &n in SIZES {
        let src = source(n);
        group.bench_with_input(BenchmarkId::from_parameter(label(n)), &src, |b, src| {
            b.iter(|| load(black_box(src)))
        });
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    c.bench_function("compile", |b| {
        b.iter_batched(
            Blueprints::builtin,
            |bp| Renderer::new(bp).expect("the built-in blueprints compile"),
            BatchSize::SmallInput,
        )
    });
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    let r = renderer();
    for &n in SIZES {
        let model = load(&source(n));
        group.bench_with_input(BenchmarkId::from_parameter(label(n)), &model, |b, m| {
            b.iter(|| r.render(black_box(m)).expect("renders"))
        });
    }
    group.finish();
}

fn bench_plan(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    let tmp = tempfile::tempdir().expect("a temporary folder");
    for &n in SIZES {
        let files = render(&load(&source(n)));

        let missing = tmp.path().join(format!("missing-{n}"));
        group.bench_with_input(BenchmarkId::new("empty", label(n)), &files, |b, f| {
            b.iter_batched(|| f.clone(), |f| plan(&missing, f), BatchSize::LargeInput)
        });

        let tree = tmp.path().join(format!("tree-{n}"));
        let first = plan(&tree, files.clone());
        bulkhead::apply::apply(&first).expect("the first apply writes the tree");
        assert!(
            !plan(&tree, files.clone()).writes_anything(),
            "a plan right after apply is a no-op"
        );
        group.bench_with_input(BenchmarkId::new("up-to-date", label(n)), &files, |b, f| {
            b.iter_batched(|| f.clone(), |f| plan(&tree, f), BatchSize::LargeInput)
        });
    }
    group.finish();
}

fn plan(out: &Path, files: Files) -> bulkhead::plan::Plan {
    bulkhead::plan::plan(out, files).expect("plans")
}

criterion_group! {
    name = pipeline;
    // Stages take milliseconds to a second: few samples keep `cargo bench` to minutes.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = bench_load, bench_compile, bench_render, bench_plan
}
criterion_main!(pipeline);
