//! Rules on single values: quantities, durations, percentages, ports, bounds (9); that
//! something is declared at all (10); and the warnings about datastores, probes and
//! production redundancy. Bounds and defaults are read from `spec::defaults`, never
//! written here.

use crate::diagnostic::{Diagnostic, Span};
use crate::model::{self, units};
use crate::spec::defaults::{
    self, AUTOSCALE_BACKLOG, AUTOSCALE_REPLICAS, AUTOSCALE_TARGET, AVAILABILITY,
    CONSECUTIVE_ERRORS, LATENCY_P95_MS, MAX_CONNECTIONS, PORT, PRODUCTION_MIN_REPLICAS, REPLICAS,
    RETRIES, Range, WEIGHT,
};
use crate::spec::{AutoscaleSpec, Datastore, ReleaseSpec, ResourcesSpec, Spanned, Spec, Strategy};

fn range(out: &mut Vec<Diagnostic>, what: &str, v: Option<&Spanned<i64>>, bounds: Range) {
    if let Some(v) = v
        && !bounds.contains(v.value)
    {
        let Range { min, max } = bounds;
        out.push(
            Diagnostic::error(
                v.span.clone(),
                format!("{what} must be between {min} and {max}"),
            )
            .label(format!("{} is out of range", v.value)),
        );
    }
}

fn quantity(
    out: &mut Vec<Diagnostic>,
    what: &str,
    v: Option<&Spanned<String>>,
    cpu: bool,
) -> Option<f64> {
    let v = v?;
    let parsed = units::parse_quantity(&v.value).filter(|_| {
        if cpu {
            v.value.ends_with('m') || !v.value.chars().any(char::is_alphabetic)
        } else {
            // `100m` of memory is a tenth of a byte: always a typo for `100Mi`.
            !v.value.ends_with('m')
        }
    });
    if parsed.is_none() {
        let help = if !cpu && v.value.ends_with('m') && units::parse_quantity(&v.value).is_some() {
            format!(
                "did you mean `{}i`? (`m` means thousandths)",
                v.value.trim_end_matches('m').to_string() + "M"
            )
        } else if cpu {
            "write it like `250m` or `1`".to_string()
        } else {
            "write it like `128Mi` or `1Gi`".to_string()
        };
        out.push(
            Diagnostic::error(
                v.span.clone(),
                format!("`{}` is not a valid {what}", v.value),
            )
            .label("not a Kubernetes quantity")
            .help(help),
        );
    }
    parsed
}

type Pick = fn(&ResourcesSpec) -> Option<&Spanned<String>>;

/// A request and its limit: how to read each from a table, and their defaults.
struct Pair {
    what: &'static str,
    request: Pick,
    request_default: &'static str,
    limit: Pick,
    limit_default: Option<&'static str>,
    limit_key: &'static str,
}

const PAIRS: [Pair; 2] = [
    Pair {
        what: "CPU",
        request: |r| r.cpu.as_ref(),
        request_default: defaults::CPU,
        limit: |r| r.cpu_limit.as_ref(),
        limit_default: defaults::CPU_LIMIT,
        limit_key: "cpu_limit",
    },
    Pair {
        what: "memory",
        request: |r| r.memory.as_ref(),
        request_default: defaults::MEMORY,
        limit: |r| r.memory_limit.as_ref(),
        limit_default: defaults::MEMORY_LIMIT,
        limit_key: "memory_limit",
    },
];

/// Checks the quantities written in `r`, then that every limit is at least its request
/// once `r` is merged over `beneath` and the defaults. Reported in `r` only when `r`
/// wrote one of the two, so a bad base is not reported again for each environment.
fn resources(out: &mut Vec<Diagnostic>, r: &ResourcesSpec, beneath: Option<&ResourcesSpec>) {
    quantity(out, "CPU request", r.cpu.as_ref(), true);
    quantity(out, "memory request", r.memory.as_ref(), false);
    quantity(out, "CPU limit", r.cpu_limit.as_ref(), true);
    quantity(out, "memory limit", r.memory_limit.as_ref(), false);
    for Pair {
        what,
        request: request_of,
        request_default,
        limit: limit_of,
        limit_default,
        limit_key,
    } in PAIRS
    {
        let request_here = request_of(r);
        let limit_here = limit_of(r);
        if request_here.is_none() && limit_here.is_none() {
            continue;
        }
        let below = |pick: Pick| beneath.and_then(pick).map(|v| v.value.as_str());
        let request = request_here
            .map(|v| v.value.as_str())
            .or_else(|| below(request_of))
            .unwrap_or(request_default);
        let Some(limit) = limit_here
            .map(|v| v.value.as_str())
            .or_else(|| below(limit_of))
            .or(limit_default)
        else {
            continue;
        };
        let (Some(rq), Some(lm)) = (units::parse_quantity(request), units::parse_quantity(limit))
        else {
            continue;
        };
        if lm >= rq {
            continue;
        }
        let at = limit_here
            .or(request_here)
            .map(|v| v.span.clone())
            .unwrap_or_default();
        let origin = if limit_here.is_none() && below(limit_of).is_none() {
            "default "
        } else {
            ""
        };
        out.push(
            Diagnostic::error(
                at,
                format!("the {what} request {request} is above the {origin}{what} limit {limit}"),
            )
            .label("a limit must be at least the request")
            .help(format!("raise `{limit_key}` or lower the request")),
        );
    }
}

/// `consumes`: the topics of the service, which a `backlog` target needs.
fn autoscale(out: &mut Vec<Diagnostic>, a: &AutoscaleSpec, complete: bool, consumes: bool) {
    range(out, "`autoscale.min`", a.min.as_ref(), AUTOSCALE_REPLICAS);
    range(
        out,
        "`autoscale.backlog` (pending messages per replica)",
        a.backlog.as_ref(),
        AUTOSCALE_BACKLOG,
    );
    if let Some(b) = &a.backlog
        && !consumes
    {
        out.push(
            Diagnostic::error(
                b.span.clone(),
                "`autoscale.backlog` scales on pending messages, but this service consumes no topic",
            )
            .label("nothing to be behind on")
            .help("add the topics it reads to `consumes`, or scale on `cpu`/`memory` instead"),
        );
    }
    range(out, "`autoscale.max`", a.max.as_ref(), AUTOSCALE_REPLICAS);
    range(
        out,
        "`autoscale.cpu` (percent)",
        a.cpu.as_ref(),
        AUTOSCALE_TARGET,
    );
    range(
        out,
        "`autoscale.memory` (percent)",
        a.memory.as_ref(),
        AUTOSCALE_TARGET,
    );
    if let (Some(min), Some(max)) = (&a.min, &a.max)
        && min.value > max.value
    {
        out.push(
            Diagnostic::error(
                min.span.clone(),
                format!(
                    "`autoscale.min` ({}) is greater than `autoscale.max` ({})",
                    min.value, max.value
                ),
            )
            .label("min > max"),
        );
    }
    if complete {
        for (key, v) in [("min", &a.min), ("max", &a.max)] {
            if v.is_none() && !a.written.iter().any(|k| k == key) {
                out.push(
                    Diagnostic::error(a.span.clone(), format!("`autoscale` needs `{key}`"))
                        .help("e.g. `autoscale = { min = 2, max = 10, cpu = 70 }`"),
                );
            }
        }
    }
    if a.cpu.is_none()
        && a.memory.is_none()
        && a.backlog.is_none()
        && complete
        && !a
            .written
            .iter()
            .any(|k| k == "cpu" || k == "memory" || k == "backlog")
    {
        out.push(
            Diagnostic::error(
                a.span.clone(),
                "`autoscale` needs a `cpu` or `memory` target",
            )
            .help("e.g. `autoscale = { min = 2, max = 10, cpu = 70 }` (a consumer may scale on `backlog`)"),
        );
    }
}

fn release(out: &mut Vec<Diagnostic>, r: &ReleaseSpec, inherited: Option<Strategy>) {
    range(out, "the canary weight", r.weight.as_ref(), WEIGHT.bounds());
    let strategy = r.strategy.as_ref().map(|s| s.value).or(inherited);
    if let Some(w) = &r.weight
        && strategy != Some(Strategy::Canary)
    {
        out.push(
            Diagnostic::error(
                w.span.clone(),
                "`weight` only applies to `strategy = \"canary\"`",
            )
            .label("no canary here"),
        );
    }
}

fn duration(out: &mut Vec<Diagnostic>, what: &str, v: Option<&Spanned<String>>) {
    if let Some(v) = v
        && units::parse_duration_ms(&v.value).is_none()
    {
        out.push(
            Diagnostic::error(
                v.span.clone(),
                format!("`{}` is not a valid {what}", v.value),
            )
            .label("not a duration")
            .help("write it like `500ms`, `3s`, `1m30s`"),
        );
    }
}

pub fn numbers_and_quantities(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for e in &spec.environments {
        range(out, "`replicas`", e.replicas.as_ref(), REPLICAS.bounds());
    }
    for s in &spec.services {
        range(out, "`port`", s.port.as_ref(), PORT.bounds());
        resources(out, &s.resources, None);
        if let Some(a) = &s.autoscale {
            autoscale(out, a, true, !s.consumes.is_empty());
        }
        if let Some(r) = &s.release {
            release(out, r, None);
        }
        let base_strategy = s
            .release
            .as_ref()
            .and_then(|r| r.strategy.as_ref())
            .map(|s| s.value)
            .or(Some(defaults::STRATEGY));
        let r = &s.resilience;
        duration(out, "timeout", r.timeout.as_ref());
        duration(out, "ejection time", r.ejection.as_ref());
        range(out, "`retries`", r.retries.as_ref(), RETRIES.bounds());
        range(
            out,
            "`consecutive_errors`",
            r.consecutive_errors.as_ref(),
            CONSECUTIVE_ERRORS.bounds(),
        );
        range(
            out,
            "`max_connections`",
            r.max_connections.as_ref(),
            MAX_CONNECTIONS.bounds(),
        );
        if let Some(a) = &s.slo.availability
            && !AVAILABILITY.contains(a.value)
        {
            out.push(
                Diagnostic::error(
                    a.span.clone(),
                    format!(
                        "`slo.availability` is a percentage between {} and {}",
                        AVAILABILITY.above, AVAILABILITY.max
                    ),
                )
                .label(format!("{} is out of range", a.value))
                .help("e.g. `99.9` for three nines"),
            );
        }
        range(
            out,
            "`slo.latency_p95_ms`",
            s.slo.latency_p95_ms.as_ref(),
            LATENCY_P95_MS.bounds(),
        );
        for o in &s.environments {
            range(out, "`replicas`", o.replicas.as_ref(), REPLICAS.bounds());
            if let Some(res) = &o.resources {
                resources(out, res, Some(&s.resources));
            }
            if let Some(a) = &o.autoscale {
                autoscale(out, a, s.autoscale.is_none(), !s.consumes.is_empty());
                if let Some(base) = &s.autoscale {
                    // The merged bounds must still be ordered.
                    let min = a.min.as_ref().or(base.min.as_ref());
                    let max = a.max.as_ref().or(base.max.as_ref());
                    if let (Some(min), Some(max)) = (min, max)
                        && min.value > max.value
                        && (a.min.is_none() || a.max.is_none())
                    {
                        let at = a
                            .min
                            .as_ref()
                            .or(a.max.as_ref())
                            .map_or(a.span.clone(), |v| v.span.clone());
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
                Diagnostic::warning(
                    d.span.clone(),
                    format!(
                        "`{}` has a {} datastore but owns no data",
                        s.name.value, d.value
                    ),
                )
                .label("nothing in `owns`")
                .help("list the data it keeps in `owns`, or drop the datastore"),
            ),
            (None, Some(_))
                if spec
                    .refused
                    .contains(&format!("services.{}.datastore", s.name.value)) => {}
            (None, Some(first)) => out.push(
                Diagnostic::warning(
                    first.span.clone(),
                    format!("`{}` owns data but has no datastore", s.name.value),
                )
                .label("owned here")
                .help("set `datastore`, e.g. `datastore = \"postgres\"`"),
            ),
            _ => {}
        }
    }
}

pub fn probes_differ(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let live = s
            .health
            .liveness
            .as_ref()
            .map_or(defaults::LIVENESS, |l| l.value.as_str());
        let ready = s
            .health
            .readiness
            .as_ref()
            .map_or(defaults::READINESS, |r| r.value.as_str());
        if live == ready {
            let span = s
                .health
                .readiness
                .as_ref()
                .or(s.health.liveness.as_ref())
                .map_or(s.name.span.clone(), |v| v.span.clone());
            out.push(
                Diagnostic::warning(span, format!("`{}` uses `{live}` for both liveness and readiness", s.name.value))
                    .label("same path")
                    .help("liveness says \"restart me\", readiness \"send me traffic\": give them separate endpoints"),
            );
        }
    }
}

pub fn production_is_redundant(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let Some(prod) = spec.environments.last() else {
        return;
    };
    for s in &spec.services {
        let over = s
            .environments
            .iter()
            .find(|o| o.name.value == prod.name.value);
        let own = over.and_then(|o| o.replicas.as_ref());
        let replicas = model::replicas(
            own.map(|r| r.value),
            prod.replicas.as_ref().map(|r| r.value),
        );
        // Point at whichever setting decided the count; the service's name when none did.
        let span: Span = own
            .or(prod.replicas.as_ref())
            .map_or(s.name.span.clone(), |r| r.span.clone());
        let min = over
            .and_then(|o| o.autoscale.as_ref())
            .and_then(|a| a.min.as_ref())
            .or_else(|| s.autoscale.as_ref().and_then(|a| a.min.as_ref()));
        if let Some(min) = min {
            if min.value < PRODUCTION_MIN_REPLICAS {
                out.push(
                    Diagnostic::warning(min.span.clone(), format!("`{}` may scale down to {} replica in production (`{}`)", s.name.value, min.value, prod.name.value))
                        .label(format!("autoscale.min < {PRODUCTION_MIN_REPLICAS}"))
                        .help(format!("one replica cannot survive a node failure or a rolling update: use at least {PRODUCTION_MIN_REPLICAS}")),
                );
            }
        } else if replicas < PRODUCTION_MIN_REPLICAS {
            out.push(
                Diagnostic::warning(
                    span,
                    format!(
                        "`{}` runs {replicas} replica in production (`{}`)",
                        s.name.value, prod.name.value
                    ),
                )
                .label(format!("fewer than {PRODUCTION_MIN_REPLICAS} replicas"))
                .help(format!(
                    "one replica cannot survive a node failure or a rolling update: use at least {PRODUCTION_MIN_REPLICAS}"
                )),
            );
        }
    }
}

/// Words that make a setting's name read as a credential: such a value belongs in
/// `secrets` (a Secret reference), never in a ConfigMap, and scanners flag it there.
/// `bulkhead audit` reads names on disk with the same list.
pub(crate) const SECRET_WORDS: &[&str] = &[
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];
pub fn plain_settings_are_not_secrets(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let keys = s.env.iter().map(|(k, _)| k).chain(
            s.environments
                .iter()
                .flat_map(|e| e.env.iter().map(|(k, _)| k)),
        );
        for key in keys {
            let upper = key.value.to_ascii_uppercase();
            if let Some(word) = SECRET_WORDS.iter().find(|w| upper.contains(*w)) {
                out.push(
                    Diagnostic::warning(key.span.clone(), format!("`{}` looks like a secret but is a plain setting", key.value))
                        .label(format!("contains `{word}`"))
                        .help("list its name in `secrets` (the value then comes from the Secret `<service>-secrets`), or rename it"),
                );
            }
        }
    }
}
