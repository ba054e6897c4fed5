//! docs/template-context.md, generated from the model's types (their doc comments become
//! the descriptions), the filter table and the escaping rules, so the page cannot drift
//! from what blueprints really see. A test compares the checked-in page with this text.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use super::{ENV_TOKEN, FILTERS, SERVICE_TOKEN};
use crate::model::Model;

/// The JSON Schema of everything a blueprint sees (`Model`, as serialized).
pub fn model_schema() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<Model>()
        .to_value()
}

/// How each kind of file is escaped: an example path, the escaping `auto_escape_for` picks
/// for it (pinned by a test), and what `{{ value }}` becomes there.
pub const ESCAPING: &[(&str, &str, &str)] = &[
    (
        "*.yaml, *.yml",
        "yaml",
        "one complete YAML scalar: plain when unambiguous, else double-quoted; lists and maps in flow style (`[a, b]`, `{k: v}`). Never put quotes around `{{ }}` and never glue text to it outside the braces: write `name: {{ service.name ~ \"-canary\" }}`.",
    ),
    (
        ".github/workflows/*.yaml",
        "workflow",
        "as in YAML, and `${{` in data is neutralised so GitHub Actions cannot evaluate it.",
    ),
    (
        "*.json",
        "json",
        "one JSON value (strings quoted, lists and maps as JSON).",
    ),
    (
        "Dockerfile, *.Dockerfile, Dockerfile.*",
        "dockerfile",
        "one inert word: quoted so that the shell and the Dockerfile parser see no variables, spaces or line breaks.",
    ),
    (
        "anything else (*.md, *.txt, …)",
        "none",
        "the value as it is: no escaping. In Markdown use `| markdown` on every value.",
    ),
];

/// The page, as Markdown.
pub fn context_docs() -> String {
    let schema = model_schema();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = String::new();
    let w = &mut out;
    w.push_str(
        "<!-- Generated from the code by bulkhead::render::context_docs(): do not edit.\n     \
         Refresh with `BULKHEAD_UPDATE_DOCS=1 cargo test`. -->\n",
    );
    w.push_str("# Template context\n\n");
    w.push_str(
        "What a blueprint can use. Blueprints are [minijinja](https://docs.rs/minijinja) \
         templates laid out like the output tree; a platform's own blueprints folder \
         (`platform.blueprints` in service.toml, or `--blueprints DIR`) overrides built-in \
         ones by relative path and adds new ones (see the README, *Custom blueprints*). \
         Templates see only this model, never raw TOML: defaults are applied, \
         per-environment values merged and relations derived.\n\n",
    );

    w.push_str("## Fan-out: one blueprint, how many files\n\n");
    w.push_str("| path | renders | extra variable |\n|---|---|---|\n");
    let _ = writeln!(
        w,
        "| no `{SERVICE_TOKEN}` or `{ENV_TOKEN}` segment | once | — |"
    );
    let _ = writeln!(
        w,
        "| contains `{SERVICE_TOKEN}` | once per service, `{SERVICE_TOKEN}` replaced by its name | `service` |"
    );
    let _ = writeln!(
        w,
        "| contains `{ENV_TOKEN}` | once per environment, `{ENV_TOKEN}` replaced by its name | `env` |"
    );
    let _ = writeln!(
        w,
        "| contains both | once per (service, environment) pair | `service` and `env` |"
    );
    w.push_str(
        "| first segment starts with `_` (`_runtimes/go/Dockerfile`) | never: a partial, for `{% include %}` | the includer's |\n\n",
    );
    w.push_str(
        "A template that renders to only whitespace produces no file (that is how a blueprint \
         is optional: wrap it in `{% if %}`). Every rendered `.yaml`/`.yml`/`.json` file is \
         parsed before it is planned: a blueprint producing invalid YAML or JSON is reported \
         with its path and never written. Two blueprints may not write the same output path.\n\n",
    );

    w.push_str("## Variables\n\n");
    w.push_str("| variable | type | where | description |\n|---|---|---|---|\n");
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (name, prop) in &props {
        let _ = writeln!(
            w,
            "| `{name}` | {} | every blueprint | {} |",
            type_of(prop),
            cell(description(prop, &defs))
        );
    }
    let _ = writeln!(
        w,
        "| `service` | {} | `{SERVICE_TOKEN}` blueprints | the service this file is rendered for |",
        link("Service")
    );
    let _ = writeln!(
        w,
        "| `env` | {} | `{ENV_TOKEN}` blueprints | the environment this file is rendered for |",
        link("Environment")
    );
    w.push_str(
        "\n`vars` holds whatever `[platform.vars]` in service.toml holds, for custom blueprints: \
         `{{ vars.team }}`. Accessing a variable or field that does not exist is an error \
         (strict undefined), reported with the blueprint's file and line; test for optional \
         values with `{% if vars.oncall is defined %}` or `{{ vars.oncall | default(\"none\") }}`.\n\n",
    );

    w.push_str("## Escaping\n\n");
    w.push_str(
        "Values reach the output only through escaping, chosen by the blueprint's file name, so \
         a hostile description stays text. `{{ value }}` writes:\n\n",
    );
    w.push_str("| file | escaping | `{{ value }}` becomes |\n|---|---|---|\n");
    for (files, kind, rule) in ESCAPING {
        let _ = writeln!(w, "| {} | `{kind}` | {} |", cell(files), cell(rule));
    }
    w.push_str(
        "\n`| safe` switches escaping off: use it only on constant blueprint text, never on a \
         value from service.toml.\n\n",
    );

    w.push_str("## Filters\n\n");
    w.push_str(
        "Besides minijinja's built-in filters (`join`, `map`, `select`, `length`, `default`, …):\n\n",
    );
    w.push_str("| filter | what it does |\n|---|---|\n");
    for f in FILTERS {
        let _ = writeln!(w, "| `{}` | {} |", f.name, cell(f.doc));
    }
    w.push_str(
        "\nSyntax: `trim_blocks` and `lstrip_blocks` are on (a line holding only a `{% %}` tag \
         leaves nothing behind), the trailing newline is kept, and `~` joins strings: \
         `{{ \"echo \" ~ (x | shell) }}`.\n\n",
    );

    w.push_str("## Types\n\n");
    w.push_str(
        "\"or none\" marks a value that may be absent (`none` in templates: test it with \
         `{% if x %}` or `x is none`).\n",
    );
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    for prop in props.values() {
        refs(prop, &mut queue);
    }
    let mut i = 0;
    let mut enums = Vec::new();
    while i < queue.len() {
        let name = queue[i].clone();
        i += 1;
        if !seen.insert(name.clone()) {
            continue;
        }
        let Some(def) = defs.get(&name) else { continue };
        if let Some(values) = enum_values(def) {
            enums.push((name, values, description(def, &defs)));
            continue;
        }
        let _ = write!(w, "\n### {name}\n\n");
        let about = description(def, &defs);
        if !about.is_empty() {
            let _ = write!(w, "{}\n\n", about.replace('\n', " "));
        }
        let (fields, one_of) = fields_of(def);
        if one_of {
            w.push_str("Exactly one of these fields is present.\n\n");
        }
        w.push_str("| field | type | description |\n|---|---|---|\n");
        for (field, prop) in &fields {
            let _ = writeln!(
                w,
                "| `{field}` | {} | {} |",
                type_of(prop),
                cell(description(prop, &defs))
            );
            refs(prop, &mut queue);
        }
    }
    if !enums.is_empty() {
        w.push_str("\n### Choices\n\n");
        w.push_str("| type | values | description |\n|---|---|---|\n");
        for (name, values, about) in enums {
            let values: Vec<String> = values.iter().map(|v| format!("`{v}`")).collect();
            let _ = writeln!(
                w,
                "| <a id=\"{}\"></a>{name} | {} | {} |",
                name.to_lowercase(),
                values.join(", "),
                cell(about)
            );
        }
    }
    out
}

/// Every field of `schema` in the model, as `Type.field`, that has no description. The
/// page must describe every field a blueprint can use.
pub fn undescribed_fields() -> Vec<String> {
    let schema = model_schema();
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut missing = Vec::new();
    let mut check = |owner: &str, def: &Value| {
        for (field, prop) in fields_of(def).0 {
            if description(&prop, defs).is_empty() {
                missing.push(format!("{owner}.{field}"));
            }
        }
    };
    check("Model", &schema);
    for (name, def) in defs {
        check(name, def);
    }
    missing
}

/// The fields of a type: its properties; or, for a value that is one of several
/// single-field objects (a Rust enum whose variants carry data), each variant's field,
/// described by the variant, and `true`.
fn fields_of(def: &Value) -> (Map<String, Value>, bool) {
    if let Some(props) = def.get("properties").and_then(Value::as_object) {
        return (props.clone(), false);
    }
    let mut fields = Map::new();
    let variants = def.get("oneOf").and_then(Value::as_array);
    for variant in variants.into_iter().flatten() {
        let props = variant.get("properties").and_then(Value::as_object);
        for (field, prop) in props.into_iter().flatten() {
            let mut prop = prop.clone();
            if let (Some(about), Value::Object(map)) = (variant.get("description"), &mut prop) {
                map.entry("description").or_insert_with(|| about.clone());
            }
            fields.insert(field.clone(), prop);
        }
    }
    let one_of = !fields.is_empty();
    (fields, one_of)
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/$defs/"))
}

fn refs(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = ref_name(schema) {
                out.push(name.to_string());
            }
            for v in map.values() {
                refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn enum_values(def: &Value) -> Option<Vec<String>> {
    let values = def.get("enum").and_then(Value::as_array)?;
    Some(
        values
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
    )
}

/// A field's description, or the description of the type it refers to.
fn description(schema: &Value, defs: &Map<String, Value>) -> String {
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        return d.to_string();
    }
    let target = ref_name(schema).or_else(|| {
        schema
            .get("anyOf")
            .and_then(Value::as_array)
            .and_then(|any| any.iter().find_map(ref_name))
    });
    target
        .and_then(|name| defs.get(name))
        .and_then(|d| d.get("description"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn link(name: &str) -> String {
    format!("[{name}](#{})", name.to_lowercase())
}

/// A schema as a short type for a table: `string`, `list of string`, `Store or none`, ….
fn type_of(schema: &Value) -> String {
    if let Some(name) = ref_name(schema) {
        return link(name);
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        let mut parts = Vec::new();
        let mut nullable = false;
        for s in any {
            if s.get("type").and_then(Value::as_str) == Some("null") {
                nullable = true;
            } else {
                parts.push(type_of(s));
            }
        }
        let mut t = parts.join(" or ");
        if nullable {
            t.push_str(" or none");
        }
        return t;
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let nullable = types.contains(&"null");
    let base = types
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("any value");
    let mut t = match base {
        "array" => match schema.get("items") {
            Some(items) => format!("list of {}", type_of(items)),
            None => "list".to_string(),
        },
        "object" => match schema.get("additionalProperties") {
            Some(Value::Object(_)) => {
                format!("map of name → {}", type_of(&schema["additionalProperties"]))
            }
            _ => "map".to_string(),
        },
        "integer" => "integer".to_string(),
        "number" => "number".to_string(),
        "boolean" => "boolean".to_string(),
        "string" => match schema.get("const").and_then(Value::as_str) {
            Some(c) => format!("`\"{c}\"`"),
            None => "string".to_string(),
        },
        other => other.to_string(),
    };
    if nullable {
        t.push_str(" or none");
    }
    t
}

/// Text for a table cell: one line, pipes escaped.
fn cell(text: impl AsRef<str>) -> String {
    text.as_ref().replace('\n', " ").replace('|', "\\|")
}
