//! `spec::defaults` is the one owner of every default and bound of service.toml. Held here
//! against each reader: the JSON Schema `bulkhead schema` prints (every `default`,
//! `minimum`, `maximum`, `maxLength`, … walked and compared), the model built from a spec
//! that leaves the keys out, validate at the edges of every bound, and the defaults and
//! bounds docs/service-toml.md states.

use std::collections::BTreeMap;

use bulkhead::diagnostic::Source;
use bulkhead::model::release::Step;
use bulkhead::model::units::parse_duration_ms;
use bulkhead::model::{default_host, default_namespace, default_tls_secret, store_name};
use bulkhead::spec::Datastore;
use bulkhead::spec::defaults::{
    self, AUTOSCALE_BACKLOG, AUTOSCALE_REPLICAS, AUTOSCALE_TARGET, AVAILABILITY,
    CONSECUTIVE_ERRORS, EGRESS_MAX, HOST_MAX, Int, LABEL_MAX, LATENCY_P95_MS, MAX_CONNECTIONS,
    PLATFORM_NAME_MAX, PORT, PRODUCTION_MIN_REPLICAS, REPLICAS, RETRIES, Range, SERVICE_NAME_MAX,
    STATEFULSET_NAME_MAX, STEP_WEIGHT, STEPS_MAX, TOPIC_MAX, WEIGHT,
};
use serde_json::{Value, json};

use crate::common::{bulkhead, minimal, model_of, root};

// ── The JSON Schema ─────────────────────────────────────────────────────────────────────

/// The keywords that state a default or a bound.
const KEYWORDS: &[&str] = &[
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
];

fn printed_schema() -> Value {
    let out = bulkhead(&root()).arg("schema").output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn resolve<'a>(schema: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => &schema["$defs"][r.strip_prefix("#/$defs/").expect("a local $ref")],
        None => node,
    }
}

/// Every default and bound in the schema, by `path keyword`. Paths are dotted keys; `*` is
/// any table name, `<name>` the name itself, `[]` an array's items.
fn walk(schema: &Value, node: &Value, path: &str, out: &mut BTreeMap<String, Value>) {
    // A `$ref` node may carry its own keywords (`default` beside a choice's `$ref`).
    let target = resolve(schema, node);
    let here = if std::ptr::eq(target, node) {
        vec![node]
    } else {
        vec![node, target]
    };
    for map in here.iter().filter_map(|n| n.as_object()) {
        for keyword in KEYWORDS {
            if let Some(v) = map.get(*keyword) {
                let previous = out.insert(format!("{path} {keyword}"), v.clone());
                assert!(previous.is_none(), "{path} {keyword} twice");
            }
        }
    }
    let Some(map) = target.as_object() else {
        return;
    };
    let join = |seg: &str| {
        if path.is_empty() {
            seg.to_string()
        } else if seg.starts_with('[') {
            format!("{path}{seg}")
        } else {
            format!("{path}.{seg}")
        }
    };
    if let Some(props) = map.get("properties").and_then(Value::as_object) {
        for (key, child) in props {
            walk(schema, child, &join(key), out);
        }
    }
    for (keyword, seg) in [
        ("additionalProperties", "*"),
        ("propertyNames", "<name>"),
        ("items", "[]"),
    ] {
        if let Some(child) = map.get(keyword).filter(|c| c.is_object()) {
            walk(schema, child, &join(seg), out);
        }
    }
    for keyword in ["anyOf", "oneOf", "allOf"] {
        for child in map
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(schema, child, path, out);
        }
    }
}

/// What the schema must say, every entry read from `spec::defaults`.
fn expected_schema() -> BTreeMap<String, Value> {
    let mut e: BTreeMap<String, Value> = BTreeMap::new();
    let mut put = |path: &str, keyword: &str, v: Value| {
        e.insert(format!("{path} {keyword}"), v);
    };
    let int = |put: &mut dyn FnMut(&str, &str, Value), path: &str, i: Int| {
        put(path, "default", json!(i.default));
        put(path, "minimum", json!(i.min));
        put(path, "maximum", json!(i.max));
    };
    let range = |put: &mut dyn FnMut(&str, &str, Value), path: &str, r: Range| {
        put(path, "minimum", json!(r.min));
        put(path, "maximum", json!(r.max));
    };

    put("platform.name", "maxLength", json!(PLATFORM_NAME_MAX));
    put("platform.revision", "default", json!(defaults::REVISION));
    put("platform.domain", "maxLength", json!(HOST_MAX));
    put("platform.gateway.namespace", "maxLength", json!(LABEL_MAX));
    put(
        "platform.gateway.service_account",
        "maxLength",
        json!(LABEL_MAX),
    );
    put(
        "platform.mesh",
        "default",
        json!(defaults::MESH.to_string()),
    );
    put(
        "platform.deploy",
        "default",
        json!(defaults::DEPLOY.to_string()),
    );
    put("platform.ci", "default", json!(defaults::CI.to_string()));
    put(
        "platform.tls.mode",
        "default",
        json!(defaults::TLS_MODE.to_string()),
    );
    put(
        "platform.tls.issuer_kind",
        "default",
        json!(defaults::ISSUER_KIND.to_string()),
    );
    put("platform.tls.issuer", "maxLength", json!(HOST_MAX));
    put("platform.external_topics[]", "maxLength", json!(TOPIC_MAX));

    // Rule 10: at least one environment and one service.
    put("environments", "minProperties", json!(1));
    put("services", "minProperties", json!(1));

    put("environments.<name>", "maxLength", json!(LABEL_MAX));
    put("environments.*.namespace", "maxLength", json!(LABEL_MAX));
    put(
        "environments.*.cluster",
        "default",
        json!(defaults::CLUSTER),
    );
    put("environments.*.host", "maxLength", json!(HOST_MAX));
    int(&mut put, "environments.*.replicas", REPLICAS);
    put(
        "environments.*.auto_sync",
        "default",
        json!(defaults::AUTO_SYNC),
    );
    put("environments.*.tls_secret", "maxLength", json!(LABEL_MAX));

    put("services.<name>", "maxLength", json!(SERVICE_NAME_MAX));
    let s = "services.*";
    int(&mut put, &format!("{s}.port"), PORT);
    put(
        &format!("{s}.datastore"),
        "default",
        json!(defaults::DATASTORE.to_string()),
    );
    put(
        &format!("{s}.calls[]"),
        "maxLength",
        json!(SERVICE_NAME_MAX),
    );
    put(&format!("{s}.egress[]"), "maxLength", json!(EGRESS_MAX));
    put(&format!("{s}.publishes[]"), "maxLength", json!(TOPIC_MAX));
    put(&format!("{s}.consumes[]"), "maxLength", json!(TOPIC_MAX));
    put(
        &format!("{s}.health.liveness"),
        "default",
        json!(defaults::LIVENESS),
    );
    put(
        &format!("{s}.health.readiness"),
        "default",
        json!(defaults::READINESS),
    );
    put(
        &format!("{s}.environments.<name>"),
        "maxLength",
        json!(LABEL_MAX),
    );
    range(
        &mut put,
        &format!("{s}.environments.*.replicas"),
        REPLICAS.bounds(),
    );
    // The same tables at service level and per environment.
    for t in [s.to_string(), format!("{s}.environments.*")] {
        put(
            &format!("{t}.resources.cpu"),
            "default",
            json!(defaults::CPU),
        );
        put(
            &format!("{t}.resources.memory"),
            "default",
            json!(defaults::MEMORY),
        );
        if let Some(limit) = defaults::CPU_LIMIT {
            put(&format!("{t}.resources.cpu_limit"), "default", json!(limit));
        }
        if let Some(limit) = defaults::MEMORY_LIMIT {
            put(
                &format!("{t}.resources.memory_limit"),
                "default",
                json!(limit),
            );
        }
        for key in ["min", "max"] {
            range(
                &mut put,
                &format!("{t}.autoscale.{key}"),
                AUTOSCALE_REPLICAS,
            );
        }
        for key in ["cpu", "memory"] {
            range(&mut put, &format!("{t}.autoscale.{key}"), AUTOSCALE_TARGET);
        }
        range(
            &mut put,
            &format!("{t}.autoscale.backlog"),
            AUTOSCALE_BACKLOG,
        );
        put(
            &format!("{t}.release.strategy"),
            "default",
            json!(defaults::STRATEGY.to_string()),
        );
        int(&mut put, &format!("{t}.release.weight"), WEIGHT);
        put(&format!("{t}.release.steps"), "minItems", json!(1));
        put(&format!("{t}.release.steps"), "maxItems", json!(STEPS_MAX));
        range(
            &mut put,
            &format!("{t}.release.steps[].weight"),
            STEP_WEIGHT,
        );
    }
    put(
        &format!("{s}.resilience.timeout"),
        "default",
        json!(defaults::TIMEOUT),
    );
    int(&mut put, &format!("{s}.resilience.retries"), RETRIES);
    int(
        &mut put,
        &format!("{s}.resilience.consecutive_errors"),
        CONSECUTIVE_ERRORS,
    );
    put(
        &format!("{s}.resilience.ejection"),
        "default",
        json!(defaults::EJECTION),
    );
    int(
        &mut put,
        &format!("{s}.resilience.max_connections"),
        MAX_CONNECTIONS,
    );
    put(
        &format!("{s}.resilience.idempotent"),
        "default",
        json!(defaults::IDEMPOTENT),
    );
    put(
        &format!("{s}.slo.availability"),
        "default",
        json!(AVAILABILITY.default),
    );
    put(
        &format!("{s}.slo.availability"),
        "exclusiveMinimum",
        json!(AVAILABILITY.above),
    );
    put(
        &format!("{s}.slo.availability"),
        "maximum",
        json!(AVAILABILITY.max),
    );
    int(&mut put, &format!("{s}.slo.latency_p95_ms"), LATENCY_P95_MS);
    e
}

/// JSON numbers compared by value: `0` and `0.0` state the same bound.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

#[test]
fn every_default_and_bound_of_the_schema_is_the_modules() {
    let schema = printed_schema();
    let mut found = BTreeMap::new();
    walk(&schema, &schema, "", &mut found);
    let expected = expected_schema();
    let mut problems = Vec::new();
    for (at, want) in &expected {
        match found.get(at) {
            None => problems.push(format!("{at}: missing, expected {want}")),
            Some(got) if !same(got, want) => {
                problems.push(format!("{at}: schema says {got}, defaults say {want}"));
            }
            Some(_) => {}
        }
    }
    for (at, got) in &found {
        if !expected.contains_key(at) {
            problems.push(format!("{at}: {got} is not stated in spec::defaults"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    // The walk really reached the nested tables.
    assert!(found.len() > 60, "{}", found.len());

    // Descriptions that state a length say the module's.
    let names = &schema["properties"]["services"]["description"];
    assert!(
        names
            .as_str()
            .unwrap()
            .contains(&format!("at most {SERVICE_NAME_MAX} characters")),
        "{names}"
    );
    let platform = &schema["$defs"]["PlatformTable"]["properties"]["name"]["description"];
    assert!(
        platform
            .as_str()
            .unwrap()
            .contains(&format!("at most {PLATFORM_NAME_MAX} characters")),
        "{platform}"
    );
    let text = schema.to_string();
    let mut stated: Vec<usize> = text
        .match_indices("at most ")
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    stated.sort_unstable();
    let mut checked = vec![PLATFORM_NAME_MAX, SERVICE_NAME_MAX, STEPS_MAX];
    checked.sort_unstable();
    assert_eq!(
        stated, checked,
        "a description states a bound this test does not check"
    );
}

#[test]
fn the_schema_and_validate_agree_on_the_availability_bound() {
    // Once the schema allowed anything below 100 while validate stopped at six nines.
    let schema = printed_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (availability, ok) in [
        (AVAILABILITY.max, true),
        (AVAILABILITY.max + 0.000_01, false),
        (AVAILABILITY.above, false),
        (AVAILABILITY.default, true),
    ] {
        let text = minimal(&format!("slo = {{ availability = {availability} }}\n"));
        assert_eq!(
            validator.is_valid(&toml_json(&text)),
            ok,
            "schema, {availability}"
        );
        assert_eq!(errors(&text).is_empty(), ok, "validate, {availability}");
    }
}

// ── The model ───────────────────────────────────────────────────────────────────────────

/// A platform that writes no optional key, except a canary (whose weight then defaults)
/// and a domain (whose hosts then derive).
fn bare() -> String {
    minimal("\n[services.shop]\nruntime = \"node\"\nrelease = { strategy = \"canary\" }\n").replace(
        "[environments.dev]",
        "domain = \"demo.example.com\"\n\n[environments.dev]",
    )
}

/// Where the model keeps the value a schema path defaults: `environments.*.x` is the
/// first environment's `x`, `services.*.x` the first service's (the canary's for the
/// weight, which only a canary has).
fn model_pointer(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    let rest = |from: usize| parts[from..].join("/");
    match parts.as_slice() {
        ["platform", ..] => Some(format!("/platform/{}", rest(1))),
        ["environments", "*", ..] => Some(format!("/environments/0/{}", rest(2))),
        // An override's default is the service's value, held by the model's per-environment test.
        ["services", "*", "environments", ..] => None,
        ["services", "*", "release", "weight"] => Some("/services/1/release/weight".into()),
        ["services", "*", ..] => Some(format!("/services/0/{}", rest(2))),
        _ => panic!("a default at an unexpected place: {path}"),
    }
}

#[test]
fn a_spec_leaving_out_a_key_gets_the_schemas_default_in_the_model() {
    let schema = printed_schema();
    let mut found = BTreeMap::new();
    walk(&schema, &schema, "", &mut found);
    let model = serde_json::to_value(model_of("service.toml", &bare())).unwrap();
    let mut checked = 0;
    for (at, default) in &found {
        let Some(path) = at.strip_suffix(" default") else {
            continue;
        };
        let Some(pointer) = model_pointer(path) else {
            continue;
        };
        let got = model.pointer(&pointer).unwrap_or(&Value::Null);
        // The model writes durations protobuf-style (`90s` for `1m30s`): compare their length.
        let as_ms = |v: &Value| v.as_str().and_then(parse_duration_ms);
        let same_duration = as_ms(got).is_some() && as_ms(got) == as_ms(default);
        assert!(
            same(got, default) || same_duration,
            "{path}: the model has {got} at {pointer}, the schema's default is {default}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} defaults checked");
}

#[test]
fn a_spec_leaving_out_a_key_gets_the_modules_default_in_the_model() {
    let model = model_of("service.toml", &bare());
    let p = &model.platform;
    assert_eq!(p.revision, defaults::REVISION);
    assert_eq!(
        (p.mesh, p.deploy, p.ci),
        (defaults::MESH, defaults::DEPLOY, defaults::CI)
    );
    let last = model.environments.len() - 1;
    for (i, e) in model.environments.iter().enumerate() {
        assert_eq!(e.namespace, default_namespace("demo", &e.name));
        assert_eq!(e.namespace, format!("demo-{}", e.name));
        assert_eq!(e.tls_secret, default_tls_secret("demo", &e.name));
        assert_eq!(e.tls_secret, format!("demo-{}-tls", e.name));
        assert!(e.certificate.is_none(), "cert-manager is not the default");
        assert_eq!(
            e.host.as_deref(),
            Some(default_host("demo.example.com", &e.name, i == last).as_str())
        );
        assert_eq!(e.cluster, defaults::CLUSTER);
        assert_eq!(e.replicas, REPLICAS.default);
        assert_eq!(e.auto_sync, defaults::AUTO_SYNC);
    }
    assert_eq!(
        model.environments[0].host.as_deref(),
        Some("dev.demo.example.com")
    );
    assert_eq!(
        model.environments[last].host.as_deref(),
        Some("demo.example.com")
    );

    let api = model.service("api").unwrap();
    assert_eq!(api.port, PORT.default);
    assert_eq!(api.datastore, defaults::DATASTORE);
    assert!(api.store.is_none());
    assert_eq!(api.health.liveness, defaults::LIVENESS);
    assert_eq!(api.health.readiness, defaults::READINESS);
    assert_eq!(api.resources.cpu, defaults::CPU);
    assert_eq!(api.resources.memory, defaults::MEMORY);
    assert_eq!(api.resources.cpu_limit.as_deref(), defaults::CPU_LIMIT);
    assert_eq!(
        api.resources.memory_limit.as_deref(),
        defaults::MEMORY_LIMIT
    );
    assert!(api.autoscale.is_none());
    assert_eq!(api.release.strategy, defaults::STRATEGY);
    assert_eq!(api.release.weight, None);
    let r = &api.resilience;
    assert_eq!(Some(r.timeout_ms), parse_duration_ms(defaults::TIMEOUT));
    assert_eq!(Some(r.ejection_ms), parse_duration_ms(defaults::EJECTION));
    assert_eq!(r.retries, RETRIES.default);
    assert_eq!(r.consecutive_errors, CONSECUTIVE_ERRORS.default);
    assert_eq!(r.max_connections, MAX_CONNECTIONS.default);
    assert_eq!(r.idempotent, defaults::IDEMPOTENT);
    assert_eq!(api.slo.availability, AVAILABILITY.default);
    assert_eq!(api.slo.latency_p95_ms, LATENCY_P95_MS.default);
    for se in api.environments.values() {
        assert_eq!(se.replicas, REPLICAS.default);
        assert_eq!(se.resources, api.resources);
        assert!(!se.changed.resources && !se.changed.release);
    }
    assert!(api.release.steps.is_empty());
    let shop = model.service("shop").unwrap();
    assert_eq!(shop.release.weight, Some(WEIGHT.default));
    assert_eq!(
        shop.release.steps,
        vec![
            Step::SetWeight(WEIGHT.default),
            Step::pause(defaults::STEP_PAUSE),
            Step::Analysis
        ]
    );
}

#[test]
fn the_derived_names_validate_checks_are_the_models() {
    let text = minimal("datastore = \"postgres\"\nowns = [\"orders\"]\n");
    let model = model_of("service.toml", &text);
    let api = model.service("api").unwrap();
    let store = api.store.as_ref().unwrap();
    assert_eq!(store.name, store_name("api", Datastore::Postgres));
    assert_eq!(store.name, "api-postgres");

    // validate refuses a service named like that store, and one whose store name is too long.
    let clash = minimal(
        "datastore = \"postgres\"\nowns = [\"orders\"]\n\n[services.api-postgres]\nruntime = \"go\"\n",
    );
    assert!(
        errors(&clash)
            .iter()
            .any(|e| e.contains("has the name of api's datastore")),
        "{:?}",
        errors(&clash)
    );
    let longest = STATEFULSET_NAME_MAX - "-postgres".len();
    for (len, ok) in [(longest, true), (longest + 1, false)] {
        let name = label(len);
        let text = minimal("datastore = \"postgres\"\nowns = [\"orders\"]\n")
            .replace("[services.api]", &format!("[services.{name}]"));
        assert_eq!(errors(&text).is_empty(), ok, "{name}: {:?}", errors(&text));
    }

    // The default namespace must fit a label: validate measures the model's.
    let env = "e".repeat(LABEL_MAX - "demo-".len());
    for (env, ok) in [(env.clone(), true), (format!("{env}x"), false)] {
        let text = minimal("").replace(
            "[environments.dev]",
            &format!("[environments.{env}]\ntls_secret = \"dev-tls\""),
        );
        assert_eq!(errors(&text).is_empty(), ok, "{env}: {:?}", errors(&text));
        if ok {
            let model = model_of("service.toml", &text);
            assert_eq!(model.environments[0].namespace.len(), LABEL_MAX);
        }
    }
    // So must the default TLS secret, `{platform}-{env}-tls`.
    let env = "e".repeat(LABEL_MAX - "demo--tls".len());
    for (env, ok) in [(env.clone(), true), (format!("{env}x"), false)] {
        let text = minimal("").replace("[environments.dev]", &format!("[environments.{env}]"));
        assert_eq!(errors(&text).is_empty(), ok, "{env}: {:?}", errors(&text));
        if ok {
            let model = model_of("service.toml", &text);
            assert_eq!(model.environments[0].tls_secret.len(), LABEL_MAX);
        }
    }
}

// ── validate, and the schema, at the edges of every bound ───────────────────────────────

fn toml_json(text: &str) -> Value {
    serde_json::to_value(toml::from_str::<toml::Value>(text).unwrap()).unwrap()
}

/// The errors (not warnings) `bulkhead validate` finds in `text`.
fn errors(text: &str) -> Vec<String> {
    let source = Source {
        name: "service.toml".into(),
        text: text.into(),
    };
    let checked = bulkhead::load::load(&source);
    assert!(checked.spec.is_some(), "parses");
    checked
        .diagnostics
        .into_iter()
        .filter(|d| d.is_error())
        .map(|d| d.message)
        .collect()
}

/// Every bounded integer key, as a spec writing `{}` for its value.
fn bounded_keys() -> Vec<(&'static str, String, Range)> {
    let service = |line: &str| minimal(&format!("{line}\n"));
    let prod = |line: &str| service(&format!("\n[services.api.environments.prod]\n{line}"));
    vec![
        (
            "environments.*.replicas",
            minimal("").replace("[environments.dev]", "[environments.dev]\nreplicas = {}"),
            REPLICAS.bounds(),
        ),
        ("port", service("port = {}"), PORT.bounds()),
        (
            "autoscale.min",
            service(&format!(
                "autoscale = {{ min = {{}}, max = {}, cpu = 50 }}",
                AUTOSCALE_REPLICAS.max
            )),
            AUTOSCALE_REPLICAS,
        ),
        (
            "autoscale.max",
            service(&format!(
                "autoscale = {{ min = {}, max = {{}}, cpu = 50 }}",
                AUTOSCALE_REPLICAS.min
            )),
            AUTOSCALE_REPLICAS,
        ),
        (
            "autoscale.cpu",
            service("autoscale = { min = 2, max = 4, cpu = {} }"),
            AUTOSCALE_TARGET,
        ),
        (
            "autoscale.memory",
            service("autoscale = { min = 2, max = 4, memory = {} }"),
            AUTOSCALE_TARGET,
        ),
        (
            "autoscale.backlog",
            service(
                "publishes = [\"jobs.queued\"]\nconsumes = [\"jobs.queued\"]\nautoscale = { min = 2, max = 4, backlog = {} }",
            ),
            AUTOSCALE_BACKLOG,
        ),
        (
            "release.weight",
            service("release = { strategy = \"canary\", weight = {} }"),
            WEIGHT.bounds(),
        ),
        (
            "resilience.retries",
            service("resilience = { retries = {} }"),
            RETRIES.bounds(),
        ),
        (
            "resilience.consecutive_errors",
            service("resilience = { consecutive_errors = {} }"),
            CONSECUTIVE_ERRORS.bounds(),
        ),
        (
            "resilience.max_connections",
            service("resilience = { max_connections = {} }"),
            MAX_CONNECTIONS.bounds(),
        ),
        (
            "slo.latency_p95_ms",
            service("slo = { latency_p95_ms = {} }"),
            LATENCY_P95_MS.bounds(),
        ),
        (
            "services.*.environments.*.replicas",
            prod("replicas = {}"),
            REPLICAS.bounds(),
        ),
        (
            "services.*.environments.*.autoscale.cpu",
            prod("autoscale = { min = 2, max = 4, cpu = {} }"),
            AUTOSCALE_TARGET,
        ),
        (
            "services.*.environments.*.release.weight",
            prod("release = { strategy = \"canary\", weight = {} }"),
            WEIGHT.bounds(),
        ),
        (
            "release.steps[].weight",
            service(
                "release = { strategy = \"canary\", steps = [{ weight = {} }, { analysis = true }] }",
            ),
            STEP_WEIGHT,
        ),
        (
            "services.*.environments.*.release.steps[].weight",
            prod(
                "release = { strategy = \"canary\", steps = [{ analysis = true }, { weight = {} }] }",
            ),
            STEP_WEIGHT,
        ),
    ]
}

#[test]
fn validate_and_the_schema_accept_exactly_the_modules_number_of_steps() {
    let schema = printed_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (count, ok) in [
        (1, true),
        (STEPS_MAX, true),
        (0, false),
        (STEPS_MAX + 1, false),
    ] {
        // An analysis first, then pauses: no other rule is involved.
        let steps: Vec<&str> = (0..count)
            .map(|i| {
                if i == 0 {
                    "{ analysis = true }"
                } else {
                    "{ pause = \"1m\" }"
                }
            })
            .collect();
        let text = minimal(&format!(
            "release = {{ strategy = \"canary\", steps = [{}] }}\n",
            steps.join(", ")
        ));
        let found = errors(&text);
        assert_eq!(found.is_empty(), ok, "validate, {count} steps: {found:?}");
        assert_eq!(
            validator.is_valid(&toml_json(&text)),
            ok,
            "schema, {count} steps"
        );
    }
}

#[test]
fn validate_and_the_schema_accept_exactly_the_modules_integer_bounds() {
    let schema = printed_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for (key, template, Range { min, max }) in bounded_keys() {
        assert!(template.contains("{}"), "{key}");
        for (v, ok) in [(min, true), (max, true), (min - 1, false), (max + 1, false)] {
            let text = template.replace("{}", &v.to_string());
            let found = errors(&text);
            assert_eq!(found.is_empty(), ok, "validate, {key} = {v}: {found:?}");
            if !ok {
                // Out of range, and said so with the module's bounds (the autoscale bounds
                // may also be reported as min > max).
                assert!(
                    found
                        .iter()
                        .any(|e| e.contains(&format!("between {min} and {max}"))),
                    "{key} = {v}: {found:?}"
                );
            }
            assert_eq!(
                validator.is_valid(&toml_json(&text)),
                ok,
                "schema, {key} = {v}"
            );
        }
    }
}

/// A DNS label of `len` characters.
fn label(len: usize) -> String {
    format!("a{}", "b".repeat(len - 1))
}

/// A host name of `len` characters: labels of at most 49 characters joined by dots.
fn host(len: usize) -> String {
    let mut host = label(len.min(49));
    while host.len() < len {
        let take = (len - host.len() - 1).clamp(1, 49);
        host = format!("{host}.{}", label(take));
    }
    host
}

#[test]
fn validate_and_the_schema_accept_exactly_the_modules_name_lengths() {
    let schema = printed_schema();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let env = |line: &str| {
        minimal("").replace("[environments.dev]", &format!("[environments.dev]\n{line}"))
    };
    // What, a spec writing `{}` for the name, how the name is made, its longest length.
    type Make = fn(usize) -> String;
    let cases: [(&str, String, Make, usize); 7] = [
        (
            "platform name",
            minimal("").replace("name = \"demo\"", "name = \"{}\""),
            label,
            PLATFORM_NAME_MAX,
        ),
        (
            "service name",
            minimal("").replace("[services.api]", "[services.{}]"),
            label,
            SERVICE_NAME_MAX,
        ),
        (
            "environment name",
            minimal("").replace(
                "[environments.dev]",
                "[environments.{}]\nnamespace = \"dev\"\ntls_secret = \"dev-tls\"",
            ),
            label,
            LABEL_MAX,
        ),
        ("namespace", env("namespace = \"{}\""), label, LABEL_MAX),
        ("TLS secret", env("tls_secret = \"{}\""), label, LABEL_MAX),
        ("topic", minimal("publishes = [\"{}\"]\n"), label, TOPIC_MAX),
        ("host", env("host = \"{}\""), host, HOST_MAX),
    ];
    for (what, template, make, max) in cases {
        for (len, ok) in [(max, true), (max + 1, false)] {
            let name = make(len);
            assert_eq!(name.len(), len, "{what}");
            let text = template.replace("{}", &name);
            let found = errors(&text);
            assert_eq!(found.is_empty(), ok, "validate, {what} of {len}: {found:?}");
            assert_eq!(
                validator.is_valid(&toml_json(&text)),
                ok,
                "schema, {what} of {len}"
            );
        }
    }
}

#[test]
fn production_needs_the_modules_replicas() {
    let warnings = |text: &str| -> Vec<String> {
        let source = Source {
            name: "service.toml".into(),
            text: text.into(),
        };
        bulkhead::load::load(&source)
            .diagnostics
            .into_iter()
            .filter(|d| !d.is_error())
            .map(|d| d.message)
            .collect()
    };
    let with = |replicas: i64| {
        minimal("").replace(
            "[environments.prod]",
            &format!("[environments.prod]\nreplicas = {replicas}"),
        )
    };
    assert!(warnings(&with(PRODUCTION_MIN_REPLICAS)).is_empty());
    assert_eq!(warnings(&with(PRODUCTION_MIN_REPLICAS - 1)).len(), 1);
    // Nothing written: the default, which production accepts.
    assert!(warnings(&minimal("")).is_empty());
}

// ── docs/service-toml.md ────────────────────────────────────────────────────────────────

/// The rows of the key table under the heading starting with `heading`: key → (type,
/// default, meaning).
fn doc_rows(doc: &str, heading: &str) -> BTreeMap<String, (String, String, String)> {
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading}"));
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        // `\|` inside a cell is a literal bar.
        let cells: Vec<String> = line
            .replace("\\|", "\u{0}")
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().replace('\u{0}', "|"))
            .collect();
        assert_eq!(cells.len(), 4, "{line}");
        let key = cells[0].trim_matches('`').to_string();
        rows.insert(key, (cells[1].clone(), cells[2].clone(), cells[3].clone()));
    }
    assert!(!rows.is_empty(), "{heading}");
    rows
}

fn quoted(s: impl std::fmt::Display) -> String {
    format!("`\"{s}\"`")
}

/// An inline table as the docs write it: `{ a = "x", b = 2 }`.
fn inline(pairs: &[(&str, String)]) -> String {
    let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    format!("`{{ {} }}`", body.join(", "))
}

#[test]
fn the_docs_state_the_modules_defaults_and_bounds() {
    let doc = std::fs::read_to_string(root().join("docs/service-toml.md")).unwrap();
    let q = |s: &str| format!("\"{s}\"");
    let mut resources = vec![("cpu", q(defaults::CPU)), ("memory", q(defaults::MEMORY))];
    resources.extend(defaults::CPU_LIMIT.map(|l| ("cpu_limit", q(l))));
    resources.extend(defaults::MEMORY_LIMIT.map(|l| ("memory_limit", q(l))));

    // Every row's default, by section; cells that are not a value of `defaults` (required
    // keys, empty lists, derived values) are listed as written.
    let tables: [(&str, Vec<(&str, String)>); 3] = [
        (
            "`[platform]`",
            vec![
                ("name", "required".into()),
                ("registry", "required".into()),
                ("repository", "required".into()),
                ("revision", quoted(defaults::REVISION)),
                ("domain", "none".into()),
                ("mesh", quoted(defaults::MESH)),
                ("deploy", quoted(defaults::DEPLOY)),
                ("ci", quoted(defaults::CI)),
                ("blueprints", "none".into()),
                ("external_topics", "`[]`".into()),
                ("gateway", {
                    use defaults::gateway as g;
                    format!(
                        "with Istio `{{ namespace = \"{}\", labels = {{ {} = \"{}\" }}, service_account = \"{}\" }}` (istioctl's install); without a mesh `{{ namespace = \"{}\", labels = {{ \"{}\" = \"{}\" }} }}`",
                        g::ISTIO_NAMESPACE,
                        g::ISTIO_LABEL.0,
                        g::ISTIO_LABEL.1,
                        g::ISTIO_SERVICE_ACCOUNT,
                        g::NGINX_NAMESPACE,
                        g::NGINX_LABEL.0,
                        g::NGINX_LABEL.1
                    )
                }),
                ("tls", format!("`{{ mode = \"{}\" }}`", defaults::TLS_MODE)),
                ("vars", "`{}`".into()),
            ],
        ),
        (
            "`[environments.<name>]`",
            vec![
                (
                    "namespace",
                    quoted(default_namespace("{platform}", "{env}")),
                ),
                ("cluster", quoted(defaults::CLUSTER)),
                ("host", "see `platform.domain`".into()),
                ("replicas", REPLICAS.default.to_string()),
                ("auto_sync", defaults::AUTO_SYNC.to_string()),
                (
                    "tls_secret",
                    quoted(default_tls_secret("{platform}", "{env}")),
                ),
            ],
        ),
        (
            "`[services.<name>]`",
            vec![
                ("description", "none".into()),
                ("runtime", "required".into()),
                ("port", PORT.default.to_string()),
                ("owns", "`[]`".into()),
                ("datastore", quoted(defaults::DATASTORE)),
                ("apis", "`[]`".into()),
                ("calls", "`[]`".into()),
                ("egress", "`[]`".into()),
                ("publishes", "`[]`".into()),
                ("consumes", "`[]`".into()),
                (
                    "health",
                    inline(&[
                        ("liveness", q(defaults::LIVENESS)),
                        ("readiness", q(defaults::READINESS)),
                    ]),
                ),
                ("resources", inline(&resources)),
                ("autoscale", "none (no HPA)".into()),
                (
                    "release",
                    inline(&[("strategy", q(&defaults::STRATEGY.to_string()))]),
                ),
                (
                    "resilience",
                    inline(&[
                        ("timeout", q(defaults::TIMEOUT)),
                        ("retries", RETRIES.default.to_string()),
                        ("consecutive_errors", CONSECUTIVE_ERRORS.default.to_string()),
                        ("ejection", q(defaults::EJECTION)),
                        ("max_connections", MAX_CONNECTIONS.default.to_string()),
                        ("idempotent", defaults::IDEMPOTENT.to_string()),
                    ]),
                ),
                (
                    "slo",
                    inline(&[
                        ("availability", AVAILABILITY.default.to_string()),
                        ("latency_p95_ms", LATENCY_P95_MS.default.to_string()),
                    ]),
                ),
                ("env", "`{}`".into()),
                ("secrets", "`[]`".into()),
                ("environments.<env>", "none".into()),
            ],
        ),
    ];
    let mut rows_of = BTreeMap::new();
    for (heading, expected) in &tables {
        let rows = doc_rows(&doc, heading);
        let documented: Vec<&String> = rows.keys().collect();
        let mut listed: Vec<String> = expected.iter().map(|(k, _)| k.to_string()).collect();
        listed.sort();
        assert_eq!(
            documented,
            listed.iter().collect::<Vec<_>>(),
            "keys of {heading}"
        );
        for (key, default) in expected {
            assert_eq!(&rows[*key].1, default, "default of `{key}` in {heading}");
        }
        rows_of.insert(*heading, rows);
    }

    // Bounds stated in the tables.
    let env = &rows_of["`[environments.<name>]`"];
    assert_eq!(
        env["replicas"].0,
        format!("integer {}–{}", REPLICAS.min, REPLICAS.max)
    );
    let svc = &rows_of["`[services.<name>]`"];
    assert_eq!(svc["port"].0, format!("integer {}–{}", PORT.min, PORT.max));
    assert!(
        svc["release"].2.contains(&format!(
            "weight {}–{} % to the new version, default {}",
            WEIGHT.min, WEIGHT.max, WEIGHT.default
        )),
        "{}",
        svc["release"].2
    );
    assert!(
        svc["slo"]
            .2
            .ends_with(&format!("availability at most {}", AVAILABILITY.max)),
        "{}",
        svc["slo"].2
    );
    assert!(rows_of["`[platform]`"]["name"].2.starts_with(&format!(
        "DNS-1123 label, at most {PLATFORM_NAME_MAX} characters;"
    )));

    // Bounds stated in the prose.
    let prose = doc.split_whitespace().collect::<Vec<_>>().join(" ");
    for statement in [
        format!(
            "The table key is the service name: a DNS-1123 label of at most {SERVICE_NAME_MAX} characters."
        ),
        format!("canary weight outside {}–{}.", WEIGHT.min, WEIGHT.max),
        format!(
            "a canary step's weight outside {}–{} or below an earlier step's",
            STEP_WEIGHT.min, STEP_WEIGHT.max
        ),
        format!(
            "`weight`: integer {}–{}, the percent of traffic",
            STEP_WEIGHT.min, STEP_WEIGHT.max
        ),
        format!(
            "the default steps: `{{ weight = <weight> }}`, `{{ pause = \"{}\" }}`, `{{ analysis = true }}`, then full promotion.",
            defaults::STEP_PAUSE
        ),
        format!("At most {STEPS_MAX} steps."),
        format!("longer than {STEPS_MAX} steps;"),
        format!(
            "(`{}` at most {STATEFULSET_NAME_MAX} characters)",
            store_name("{service}", Datastore::Postgres).replace("postgres", "{datastore}")
        ),
        format!(
            "with the default `memory_limit = \"{}\"`",
            defaults::MEMORY_LIMIT.unwrap()
        ),
        format!(
            "fewer than {PRODUCTION_MIN_REPLICAS} replicas or `autoscale.min < {PRODUCTION_MIN_REPLICAS}`."
        ),
    ] {
        assert!(
            prose.contains(&statement),
            "docs/service-toml.md no longer says: {statement}"
        );
    }
}

#[test]
fn the_template_context_docs_state_the_modules_defaults() {
    // Generated from the model's doc comments, which cannot read a constant: held here.
    let doc = std::fs::read_to_string(root().join("docs/template-context.md")).unwrap();
    let statements = [
        format!(
            "Git revision Argo CD tracks (default `{}`).",
            defaults::REVISION
        ),
        format!(
            "Kubernetes namespace (default `{}`).",
            default_namespace("{platform}", "{env}")
        ),
        format!(
            "Secret holding the gateway's TLS certificate (default `{}`).",
            default_tls_secret("{platform}", "{env}")
        ),
        format!("Container port (default {}).", PORT.default),
    ];
    for statement in &statements {
        assert!(
            doc.contains(statement),
            "docs/template-context.md no longer says: {statement}"
        );
    }
    assert_eq!(
        doc.matches("(default ").count(),
        statements.len(),
        "docs/template-context.md states a default this test does not check"
    );
}

#[test]
fn the_cli_help_states_the_modules_default_port() {
    let out = bulkhead(&root())
        .args(["add", "service", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(
        help.contains(&format!("Container port [default: {}]", PORT.default)),
        "{help}"
    );
}
