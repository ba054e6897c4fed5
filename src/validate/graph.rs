//! Rules over the domain graph: one owner per datum (4), calls to known services (5), one
//! publisher per topic (6), unambiguous API prefixes (7), overrides for known
//! environments (8), and the call-cycle warning. Who owns or publishes what is the
//! model's derivation (`model::claims`); the rules only report its clashes.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::{Clash, claims};
use crate::spec::{Datastore, ServiceSpec, Spanned, Spec};

/// The model's owner (publisher) of each datum (topic), and the second claims to report.
fn claimed<'a>(
    spec: &'a Spec,
    list: fn(&ServiceSpec) -> &[Spanned<String>],
) -> (
    indexmap::IndexMap<&'a str, &'a str>,
    Vec<Clash<'a, Spanned<String>>>,
) {
    claims(
        spec.services
            .iter()
            .map(|s| (s.name.value.as_str(), list(s))),
        |item| item.value.as_str(),
    )
}

pub fn single_owner(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for Clash { item: d, first, by } in claimed(spec, |s| &s.owns).1 {
        out.push(
            Diagnostic::error(
                d.span.clone(),
                format!("\"{}\" is owned by both {first} and {by}", d.value),
            )
            .label("second owner")
            .help("database per service: exactly one service owns a datum; the other calls it or consumes its events"),
        );
    }
}

pub fn calls_known_services(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = spec
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    for s in &spec.services {
        for c in &s.calls {
            if c.value == s.name.value {
                out.push(
                    Diagnostic::error(
                        c.span.clone(),
                        format!("service `{}` calls itself", c.value),
                    )
                    .label("a service cannot declare a call to itself")
                    .help("remove it from `calls`"),
                );
            } else if !names.contains(&c.value.as_str()) {
                out.push(
                    Diagnostic::error(
                        c.span.clone(),
                        format!("`{}` calls unknown service `{}`", s.name.value, c.value),
                    )
                    .label("no such service")
                    .help({
                        // Its own name is never the service it meant to call.
                        let others: Vec<&str> = names
                            .iter()
                            .copied()
                            .filter(|n| *n != s.name.value)
                            .collect();
                        did_you_mean(&c.value, others.iter().copied())
                            .unwrap_or_else(|| format!("other services: {}", others.join(", ")))
                    }),
                );
            }
        }
    }
}

/// A service that owns no data, serves no route, calls nobody, is called by nobody and
/// takes part in no event is no domain boundary; `bulkhead audit` fails it (item 1), so
/// validation warns about exactly that.
pub fn services_have_a_role(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let names: BTreeSet<&str> = spec
        .services
        .iter()
        .map(|s| s.name.value.as_str())
        .collect();
    let mut called = BTreeSet::new();
    for s in &spec.services {
        for c in &s.calls {
            if names.contains(c.value.as_str()) {
                called.insert(c.value.as_str());
            } else {
                // A misspelt call (already an error) still means its likely target.
                called.extend(
                    names
                        .iter()
                        .copied()
                        .filter(|n| *n != s.name.value && did_you_mean(&c.value, [*n]).is_some()),
                );
            }
        }
    }
    for s in &spec.services {
        let datastore = format!("services.{}.datastore", s.name.value);
        let stateful = !s.owns.is_empty()
            || s.datastore
                .as_ref()
                .is_some_and(|d| d.value != Datastore::None)
            || spec.refused.contains(&datastore);
        let linked = !s.apis.is_empty()
            || !s.calls.is_empty()
            || !s.publishes.is_empty()
            || !s.consumes.is_empty()
            || called.contains(s.name.value.as_str());
        if !stateful && !linked {
            out.push(
                Diagnostic::warning(
                    s.name.span.clone(),
                    format!(
                        "`{}` owns no data and has no role (no apis, calls, callers or events): it is no domain boundary",
                        s.name.value
                    ),
                )
                .label("a service with nothing to do")
                .help("list the data it owns (`owns`), the routes it serves (`apis`) or whom it calls (`calls`), or fold it into the service it belongs to"),
            );
        }
    }
}

pub fn topics_have_one_publisher(spec: &Spec, out: &mut Vec<Diagnostic>) {
    // In file order, so suggestions are stable.
    let (publisher, clashes) = claimed(spec, |s| &s.publishes);
    for Clash { item: t, first, by } in clashes {
        out.push(
            Diagnostic::error(
                t.span.clone(),
                format!(
                    "topic \"{}\" is published by both {first} and {by}",
                    t.value
                ),
            )
            .label("second publisher")
            .help("a topic belongs to the one service that owns its events"),
        );
    }
    let external: Vec<&str> = spec
        .platform
        .external_topics
        .iter()
        .map(|t| t.value.as_str())
        .collect();
    let known: Vec<&str> = publisher
        .keys()
        .copied()
        .chain(external.iter().copied())
        .collect();
    for s in &spec.services {
        for t in &s.consumes {
            if !publisher.contains_key(t.value.as_str()) && !external.contains(&t.value.as_str()) {
                out.push(
                    Diagnostic::error(t.span.clone(), format!("`{}` consumes topic \"{}\" that nobody publishes", s.name.value, t.value))
                        .label("no publisher")
                        .help(did_you_mean(&t.value, known.iter().copied()).unwrap_or_else(|| "publish it from a service, or list it in `platform.external_topics`".into())),
                );
            }
        }
    }
}

/// The event broker's objects share the namespace with the services': no service may take
/// its name, and two topics may not map to one stream.
pub fn broker_names_are_free(spec: &Spec, out: &mut Vec<Diagnostic>) {
    use crate::model::events::stream_name;
    use crate::spec::defaults::broker;
    let topics = spec
        .services
        .iter()
        .flat_map(|s| s.publishes.iter().chain(&s.consumes))
        .chain(&spec.platform.external_topics);
    let mut streams: std::collections::HashMap<String, &Spanned<String>> = Default::default();
    let mut any = false;
    let mut reported = std::collections::HashSet::new();
    for t in topics {
        any = true;
        let stream = stream_name(&t.value);
        match streams.get(&stream) {
            Some(first) if first.value != t.value && reported.insert(t.value.clone()) => out.push(
                Diagnostic::error(
                    t.span.clone(),
                    format!(
                        "topics \"{}\" and \"{}\" would share the broker's stream `{stream}`",
                        first.value, t.value
                    ),
                )
                .label("same stream name")
                .help("streams are named after topics with `.` and `_` as `-`: rename one topic"),
            ),
            Some(_) => {}
            None => {
                streams.insert(stream, t);
            }
        }
    }
    if !any {
        return;
    }
    let taken = [
        broker::NAME.to_string(),
        crate::model::events::headless_name(),
    ];
    for s in &spec.services {
        if taken.contains(&s.name.value) {
            out.push(
                Diagnostic::error(
                    s.name.span.clone(),
                    format!(
                        "a service named `{}` would collide with the event broker's objects",
                        s.name.value
                    ),
                )
                .label("taken by the broker")
                .help("the broker exists because services publish or consume topics: rename the service"),
            );
        }
    }
}

/// Two services may not answer the same prefix (`/orders` and `/orders/` are one); nested
/// prefixes are fine: the gateway routes the most specific first (a front end at `/`
/// beside `/api/orders`).
pub fn api_prefixes_unambiguous(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &spec.services {
        let svc = s.name.value.as_str();
        for api in &s.apis {
            let path = api.value.trim_end_matches('/');
            match first.get(path) {
                None => {
                    first.insert(path, svc);
                }
                Some(&other_svc) if other_svc != svc => out.push(
                    Diagnostic::error(
                        api.span.clone(),
                        format!(
                            "API prefix `{}` of {svc} collides with {other_svc}",
                            api.value
                        ),
                    )
                    .label(format!("`{}` is also an API of {other_svc}", api.value))
                    .help("the gateway routes each prefix to one service: give each service its own prefixes"),
                ),
                Some(_) => {}
            }
        }
    }
}

pub fn overrides_name_environments(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let names: Vec<&str> = spec
        .environments
        .iter()
        .map(|e| e.name.value.as_str())
        .collect();
    for s in &spec.services {
        for o in &s.environments {
            if !names.contains(&o.name.value.as_str()) {
                out.push(
                    Diagnostic::error(
                        o.name.span.clone(),
                        format!(
                            "`{}` overrides unknown environment `{}`",
                            s.name.value, o.name.value
                        ),
                    )
                    .label("no such environment")
                    .help(
                        did_you_mean(&o.name.value, names.iter().copied())
                            .unwrap_or_else(|| format!("environments: {}", names.join(", "))),
                    ),
                );
            }
        }
    }
}

/// Warning 1: synchronous call cycles, each reported once at the call that closes it.
pub fn no_call_cycles(spec: &Spec, out: &mut Vec<Diagnostic>) {
    let index: HashMap<&str, usize> = spec
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.value.as_str(), i))
        .collect();
    let n = spec.services.len();
    // 0 = unvisited, 1 = on the stack, 2 = done
    let mut state = vec![0u8; n];
    let mut stack: Vec<usize> = Vec::new();
    for start in 0..n {
        if state[start] == 0 {
            visit(spec, &index, start, &mut state, &mut stack, out);
        }
    }
}

fn visit(
    spec: &Spec,
    index: &HashMap<&str, usize>,
    at: usize,
    state: &mut [u8],
    stack: &mut Vec<usize>,
    out: &mut Vec<Diagnostic>,
) {
    state[at] = 1;
    stack.push(at);
    for call in &spec.services[at].calls {
        let Some(&next) = index.get(call.value.as_str()) else {
            continue;
        };
        if next == at {
            continue; // calling itself is an error reported elsewhere
        }
        match state[next] {
            0 => visit(spec, index, next, state, stack, out),
            1 => {
                let from = stack.iter().position(|&i| i == next).unwrap_or(0);
                let mut names: Vec<&str> = stack[from..]
                    .iter()
                    .map(|&i| spec.services[i].name.value.as_str())
                    .collect();
                names.push(&spec.services[next].name.value);
                out.push(
                    Diagnostic::warning(call.span.clone(), format!("synchronous call cycle: {}", names.join(" → ")))
                        .label("this call closes the cycle")
                        .help("a cycle of synchronous calls is a distributed monolith in the making: break it with an event"),
                );
            }
            _ => {}
        }
    }
    stack.pop();
    state[at] = 2;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::diagnostic::Source;

    /// Every earlier API compared: what the rule must report, in the same order — each API
    /// whose path another service declared first.
    fn pairwise(spec: &Spec) -> Vec<(usize, String)> {
        let apis: Vec<(&str, &Spanned<String>)> = spec
            .services
            .iter()
            .flat_map(|s| s.apis.iter().map(move |a| (s.name.value.as_str(), a)))
            .collect();
        let mut out = Vec::new();
        for (i, (svc, api)) in apis.iter().enumerate() {
            let first = apis[..i].iter().find(|(_, other)| {
                api.value.trim_end_matches('/') == other.value.trim_end_matches('/')
            });
            if let Some((other_svc, _)) = first
                && other_svc != svc
            {
                out.push((api.span.start, other_svc.to_string()));
            }
        }
        out
    }

    proptest! {
        #[test]
        fn exactly_the_prefixes_another_service_declared_first_collide(
            services in prop::collection::vec(
                prop::collection::vec(
                    prop::collection::vec(prop::sample::select(vec!["a", "b", "ab"]), 0..4),
                    0..4,
                ),
                1..6,
            ),
            slash in any::<bool>(),
        ) {
            let mut text = String::from(
                "[platform]\nname = \"p\"\nregistry = \"r.io/x\"\nrepository = \"https://g.io/x.git\"\n\n[environments.dev]\n",
            );
            for (n, apis) in services.iter().enumerate() {
                let apis: Vec<String> = apis
                    .iter()
                    .map(|segments| {
                        let path = format!("/{}", segments.join("/"));
                        if slash && path.len() > 1 { format!("\"{path}/\"") } else { format!("\"{path}\"") }
                    })
                    .collect();
                text.push_str(&format!(
                    "\n[services.s{n}]\nruntime = \"go\"\napis = [{}]\n",
                    apis.join(", ")
                ));
            }
            let source = Source { name: "service.toml".into(), text };
            let spec = crate::spec::parse(&source).0.expect("parses");
            let mut found = Vec::new();
            api_prefixes_unambiguous(&spec, &mut found);
            let found: Vec<(usize, String)> = found
                .iter()
                .map(|d| {
                    let other = d.message.rsplit(' ').next().unwrap_or_default().to_string();
                    (d.span.start, other)
                })
                .collect();
            prop_assert_eq!(found, pairwise(&spec));
        }
    }
}
