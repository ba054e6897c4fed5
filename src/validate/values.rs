//! Rules on single values: quantities, durations, percentages, ports, bounds (9); that
//! something is declared at all (10); and the warnings about datastores, probes and
//! production redundancy.

use crate::diagnostic::{Diagnostic, Span};
use crate::model::{DEFAULT_REPLICAS, units};
use crate::spec::{AutoscaleSpec, Datastore, ReleaseSpec, ResourcesSpec, Spanned, Spec, Strategy};

fn range(out: &mut Vec<Diagnostic>, what: &str, v: Option<&Spanned<i64>>, min: i64, max: i64) {
    if let Some(v) = v
        && !(min..=max).contains(&v.value)
    {
        out.push(
            Diagnostic::error(v.span.clone(), format!("{what} must be between {min} and {max}"))
                .label(format!("{} is out of range", v.value)),
        );
    }
}

fn quantity(out: &mut Vec<Diagnostic>, what: &str, v: Option<&Spanned<String>>, cpu: bool) -> Option<f64> {
    let v = v?;
    let parsed = units::parse_quantity(&v.value).filter(|_| !cpu || v.value.ends_with('m') || !v.value.chars().any(char::is_alphabetic));
    if parsed.is_none() {
        let example = if cpu { "`250m` or `1`" } else { "`128Mi` or `1Gi`" };
        out.push(
            Diagnostic::error(v.span.clone(), format!("`{}` is not a valid {what}", v.value))
                .label("not a Kubernetes quantity")
                .help(format!("write it like {example}")),
        );
    }
    parsed
}

fn resources(out: &mut Vec<Diagnostic>, r: &ResourcesSpec) {
    let cpu = quantity(out, "CPU request", r.cpu.as_ref(), true);
    let memory = quantity(out, "memory request", r.memory.as_ref(), false);
    let cpu_limit = quantity(out, "CPU limit", r.cpu_limit.as_ref(), true);
    let memory_limit = quantity(out, "memory limit", r.memory_limit.as_ref(), false);
    for (req, lim, limit_span, what) in [
        (cpu, cpu_limit, r.cpu_limit.as_ref(), "CPU"),
        (memory, memory_limit, r.memory_limit.as_ref(), "memory"),
    ] {
        if let (Some(req), Some(lim), Some(span)) = (req, lim, limit_span)
            && lim < req
        {
            out.push(
                Diagnostic::error(span.span.clone(), format!("the {what} limit is below the {what} request"))
                    .label("a limit must be at least the request"),
            );
        }
    }
}

fn autoscale(out: &mut Vec<Diagnostic>, a: &AutoscaleSpec, complete: bool) {
    range(out, "`autoscale.min`", a.min.as_ref(), 1, 1000);
    range(out, "`autoscale.max`", a.max.as_ref(), 1, 1000);
    range(out, "`autoscale.cpu` (percent)", a.cpu.as_ref(), 1, 100);
    range(out, "`autoscale.memory` (percent)", a.memory.as_ref(), 1, 100);
    if let (Some(min), Some(max)) = (&a.min, &a.max)
        && min.value > max.value
    {
        out.push(
            Diagnostic::error(min.span.clone(), format!("`autoscale.min` ({}) is greater than `autoscale.max` ({})", min.value, max.value))
                .label("min > max"),
        );
    }
    if complete {
        for (key, v) in [("min", &a.min), ("max", &a.max)] {
            if v.is_none() {
                out.push(
                    Diagnostic::error(a.span.clone(), format!("`autoscale` needs `{key}`"))
                        .help("e.g. `autoscale = { min = 2, max = 10, cpu = 70 }`"),
                );
            }
        }
    }
    if a.cpu.is_none() && a.memory.is_none() && complete {
        out.push(
            Diagnostic::error(a.span.clone(), "`autoscale` needs a `cpu` or `memory` target")
                .help("e.g. `autoscale = { min = 2, max = 10, cpu = 70 }`"),
        );
    }
}

fn release(out: &mut Vec<Diagnostic>, r: &ReleaseSpec, inherited: Option<Strategy>) {
    range(out, "the canary weight", r.weight.as_ref(), 1, 99);
    let strategy = r.strategy.as_ref().map(|s| s.value).or(inherited);
    if let Some(w) = &r.weight
        && strategy != Some(Strategy::Canary)
    {
        out.push(
            Diagnostic::error(w.span.clone(), "`weight` only applies to `strategy = \"canary\"`")
                .label("no canary here"),
        );
    }
}

fn duration(out: &mut Vec<Diagnostic>, what: &str, v: Option<&Spanned<String>>) {
    if let Some(v) = v
        && units::parse_duration_ms(&v.value).is_none()
    {
        out.push(
            Diagnostic::error(v.span.clone(), format!("`{}` is not a valid {what}", v.value))
                .label("not a duration")
                .help("write it like `500ms`, `3s`, `1m30s`"),
        );
    }
}

pub fn numbers_and_quantities(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for e in &spec.environments {
        range(out, "`replicas`", e.replicas.as_ref(), 1, 1000);
    }
    for s in &spec.services {
        range(out, "`port`", s.port.as_ref(), 1, 65535);
        resources(out, &s.resources);
        if let Some(a) = &s.autoscale {
            autoscale(out, a, true);
        }
        if let Some(r) = &s.release {
            release(out, r, None);
        }
        let base_strategy = s.release.as_ref().and_then(|r| r.strategy.as_ref()).map(|s| s.value).or(Some(Strategy::Rolling));
        let r = &s.resilience;
        duration(out, "timeout", r.timeout.as_ref());
        duration(out, "ejection time", r.ejection.as_ref());
        range(out, "`retries`", r.retries.as_ref(), 0, 10);
        range(out, "`consecutive_errors`", r.consecutive_errors.as_ref(), 1, 1000);
        range(out, "`max_connections`", r.max_connections.as_ref(), 1, 1_000_000);
        if let Some(a) = &s.slo.availability
            && !(a.value > 0.0 && a.value < 100.0)
        {
            out.push(
                Diagnostic::error(a.span.clone(), "`slo.availability` is a percentage below 100")
                    .label(format!("{} is out of range", a.value))
                    .help("e.g. `99.9` for three nines"),
            );
        }
        range(out, "`slo.latency_p95_ms`", s.slo.latency_p95_ms.as_ref(), 1, 600_000);
        for o in &s.environments {
            range(out, "`replicas`", o.replicas.as_ref(), 1, 1000);
            if let Some(res) = &o.resources {
                resources(out, res);
            }
            if let Some(a) = &o.autoscale {
                autoscale(out, a, s.autoscale.is_none());
                if let Some(base) = &s.autoscale {
                    // The merged bounds must still be ordered.
                    let min = a.min.as_ref().or(base.min.as_ref());
                    let max = a.max.as_ref().or(base.max.as_ref());
                    if let (Some(min), Some(max)) = (min, max)
                        && min.value > max.value
                        && (a.min.is_none() || a.max.is_none())
                    {
                        let at = a.min.as_ref().or(a.max.as_ref()).map_or(a.span.clone(), |v| v.span.clone());
                        out.push(
                            Diagnostic::error(at, format!("in `{}`, `autoscale.min` ({}) would exceed `autoscale.max` ({})", o.name.value, min.value, max.value))
                                .label("min > max after merging with the service's autoscale"),
                        );
                    }
                }
            }
            if let Some(r) = &o.release {
                release(out, r, base_strategy);
            }
        }
    }
}

pub fn something_declared(spec: &Spec, out: &mut Vec<Diagnostic>) {
    if spec.environments.is_empty() {
        out.push(
            Diagnostic::error(spec.environments_span.clone(), "no environments declared")
                .help("add at least one, e.g. `[environments.dev]`"),
        );
    }
    if spec.services.is_empty() {
        out.push(
            Diagnostic::error(spec.services_span.clone(), "no services declared")
                .help("add at least one, e.g. `[services.api]` with `runtime = \"go\"`"),
        );
    }
}

pub fn datastore_matches_owns(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let store = s.datastore.as_ref().filter(|d| d.value != Datastore::None);
        match (store, s.owns.first()) {
            (Some(d), None) => out.push(
                Diagnostic::warning(d.span.clone(), format!("`{}` has a {} datastore but owns no data", s.name.value, d.value))
                    .label("nothing in `owns`")
                    .help("list the data it keeps in `owns`, or drop the datastore"),
            ),
            (None, Some(first)) => out.push(
                Diagnostic::warning(first.span.clone(), format!("`{}` owns data but has no datastore", s.name.value))
                    .label("owned here")
                    .help("set `datastore`, e.g. `datastore = \"postgres\"`"),
            ),
            _ => {}
        }
    }
}

pub fn probes_differ(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let live = s.health.liveness.as_ref().map_or("/livez", |l| l.value.as_str());
        let ready = s.health.readiness.as_ref().map_or("/readyz", |r| r.value.as_str());
        if live == ready {
            let span = s.health.readiness.as_ref().or(s.health.liveness.as_ref()).map_or(s.name.span.clone(), |v| v.span.clone());
            out.push(
                Diagnostic::warning(span, format!("`{}` uses `{live}` for both liveness and readiness", s.name.value))
                    .label("same path")
                    .help("liveness says \"restart me\", readiness \"send me traffic\": give them separate endpoints"),
            );
        }
    }
}

pub fn production_is_redundant(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let Some(prod) = spec.environments.last() else { return };
    for s in &spec.services {
        let over = s.environments.iter().find(|o| o.name.value == prod.name.value);
        let (replicas, span): (i64, Span) = match (over.and_then(|o| o.replicas.as_ref()), &prod.replicas) {
            (Some(r), _) | (None, Some(r)) => (r.value, r.span.clone()),
            (None, None) => (DEFAULT_REPLICAS, s.name.span.clone()),
        };
        let min = over
            .and_then(|o| o.autoscale.as_ref())
            .and_then(|a| a.min.as_ref())
            .or_else(|| s.autoscale.as_ref().and_then(|a| a.min.as_ref()));
        if let Some(min) = min {
            if min.value < 2 {
                out.push(
                    Diagnostic::warning(min.span.clone(), format!("`{}` may scale down to {} replica in production (`{}`)", s.name.value, min.value, prod.name.value))
                        .label("autoscale.min < 2")
                        .help("one replica cannot survive a node failure or a rolling update: use at least 2"),
                );
            }
        } else if replicas < 2 {
            out.push(
                Diagnostic::warning(span, format!("`{}` runs {replicas} replica in production (`{}`)", s.name.value, prod.name.value))
                    .label("fewer than 2 replicas")
                    .help("one replica cannot survive a node failure or a rolling update: use at least 2"),
            );
        }
    }
}
