//! `release.steps`, the plan a canary follows: only with a canary, one action per step,
//! weights in bounds and never going down, pauses that wait, a bounded count, and an
//! analysis to judge the new version. Bounds are read from `spec::defaults`; the types of
//! the entries were checked in `spec`.

use crate::diagnostic::Diagnostic;
use crate::model::units;
use crate::spec::defaults::{self, STEP_WEIGHT, STEPS_MAX};
use crate::spec::{ReleaseSpec, STEP_EXAMPLES, STEP_KEYS, Spanned, Spec, StepSpec, Strategy};

/// Every `steps` written, at service level and per environment, against the strategy in
/// effect in its table (an override inherits the service's).
pub fn canary_steps(spec: &Spec, out: &mut Vec<Diagnostic>) {
    for s in &spec.services {
        let base = s
            .release
            .as_ref()
            .and_then(|r| r.strategy.as_ref())
            .map_or(defaults::STRATEGY, |v| v.value);
        if let Some(r) = &s.release {
            steps(out, r, base, &s.name.value);
        }
        for o in &s.environments {
            if let Some(r) = &o.release {
                let strategy = r.strategy.as_ref().map_or(base, |v| v.value);
                let owner = format!("{}` in `{}", s.name.value, o.name.value);
                steps(out, r, strategy, &owner);
            }
        }
    }
}

/// `owner` names the table in messages: the service, or the service in an environment.
fn steps(out: &mut Vec<Diagnostic>, r: &ReleaseSpec, strategy: Strategy, owner: &str) {
    let Some(list) = &r.steps else { return };
    if strategy != Strategy::Canary {
        out.push(
            Diagnostic::error(
                list.span.clone(),
                "`steps` only apply to `strategy = \"canary\"`",
            )
            .label("no canary here"),
        );
    }
    if list.value.is_empty() {
        out.push(
            Diagnostic::error(list.span.clone(), "`steps` is empty")
                .label("no step")
                .help("leave `steps` out for the default steps, or list at least one"),
        );
        return;
    }
    if let Some(extra) = list.value.get(STEPS_MAX) {
        out.push(
            Diagnostic::error(
                extra.span.clone(),
                format!(
                    "a canary has at most {STEPS_MAX} steps, `{owner}` has {}",
                    list.value.len()
                ),
            )
            .label(format!("step {}", STEPS_MAX + 1))
            .help("take fewer, larger steps"),
        );
    }
    // The highest valid weight so far: a later weight may equal it, never go below it.
    let mut highest: Option<&Spanned<i64>> = None;
    for step in &list.value {
        one_action(out, step);
        if let Some(w) = &step.weight {
            weight(out, w, highest);
            if STEP_WEIGHT.contains(w.value) && highest.is_none_or(|h| w.value > h.value) {
                highest = Some(w);
            }
        }
        if let Some(p) = &step.pause
            && units::parse_duration_ms(&p.value).is_none()
        {
            out.push(
                Diagnostic::error(
                    p.span.clone(),
                    format!("`{}` is not a valid pause", p.value),
                )
                .label("not a duration above zero")
                .help("write it like `30s`, `5m`, `1h`"),
            );
        }
        if let Some(a) = &step.analysis
            && !a.value
        {
            out.push(
                Diagnostic::error(a.span.clone(), "`analysis = false` is not a step")
                    .label("only `true` runs the analysis")
                    .help("leave this step out to skip the analysis here"),
            );
        }
    }
    let judged = list
        .value
        .iter()
        .any(|s| s.written.iter().any(|k| k == "analysis"));
    if strategy == Strategy::Canary && !judged {
        out.push(
            Diagnostic::warning(
                list.span.clone(),
                format!("the canary steps of `{owner}` never run the analysis"),
            )
            .label("no `{ analysis = true }` step")
            .help("add `{ analysis = true }` after a pause: without it nothing checks the SLO before full promotion"),
        );
    }
}

/// A step does exactly one thing. Unknown keys were reported by the reader already.
fn one_action(out: &mut Vec<Diagnostic>, step: &StepSpec) {
    let known: Vec<&str> = STEP_KEYS
        .iter()
        .copied()
        .filter(|k| step.written.iter().any(|w| w == k))
        .collect();
    match known.as_slice() {
        [] if step.written.is_empty() => out.push(
            Diagnostic::error(
                step.span.clone(),
                "a step needs one of `weight`, `pause` or `analysis`",
            )
            .label("empty step")
            .help(STEP_EXAMPLES),
        ),
        [] | [_] => {}
        [first @ .., last] => {
            let first: Vec<String> = first.iter().map(|k| format!("`{k}`")).collect();
            out.push(
                Diagnostic::error(
                    step.span.clone(),
                    "a step has exactly one of `weight`, `pause` or `analysis`",
                )
                .label(format!("{} and `{last}` in one step", first.join(", ")))
                .help("split it into one step per key, in the order they should happen"),
            );
        }
    }
}

fn weight(out: &mut Vec<Diagnostic>, w: &Spanned<i64>, highest: Option<&Spanned<i64>>) {
    let (min, max) = (STEP_WEIGHT.min, STEP_WEIGHT.max);
    if !STEP_WEIGHT.contains(w.value) {
        out.push(
            Diagnostic::error(
                w.span.clone(),
                format!("a step's `weight` must be between {min} and {max}"),
            )
            .label(format!("{} is out of range", w.value)),
        );
    } else if let Some(h) = highest
        && w.value < h.value
    {
        out.push(
            Diagnostic::error(
                w.span.clone(),
                format!(
                    "the canary weight cannot go down: {} after {}",
                    w.value, h.value
                ),
            )
            .label(format!("below {}", h.value))
            .help("a canary only gains traffic; a failing analysis is what sends it back"),
        );
    }
}
