//! Reading parsed YAML the way Kubernetes does: paths into objects, label selectors,
//! scalars as text.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// Every non-empty document of a YAML stream.
pub fn parse_docs(text: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| e.to_string())?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// The value at a path of mapping keys.
pub fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(value, path).and_then(Value::as_str)
}

/// The sequence at a path; empty when missing or not a sequence.
pub fn seq_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    get(value, path)
        .and_then(Value::as_sequence)
        .map_or(&[], Vec::as_slice)
}

pub fn bool_at(value: &Value, path: &[&str]) -> Option<bool> {
    get(value, path).and_then(Value::as_bool)
}

pub fn i64_at(value: &Value, path: &[&str]) -> Option<i64> {
    get(value, path).and_then(Value::as_i64)
}

/// A scalar as text (strings, numbers, booleans); none for maps, sequences and null.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => text(&t.value),
        _ => None,
    }
}

pub fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    get(value, path).and_then(text)
}

/// A mapping of scalars (labels, `matchLabels`, ConfigMap `data`) as text.
pub fn string_map(value: Option<&Value>) -> BTreeMap<String, String> {
    value
        .and_then(Value::as_mapping)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((text(k)?, text(v).unwrap_or_default())))
                .collect()
        })
        .unwrap_or_default()
}

/// Calls `visit` with the key path and value of every node under `value` (sequence
/// items get `[i]`), the root included with an empty path.
pub fn walk(value: &Value, visit: &mut dyn FnMut(&[String], &Value)) {
    fn go(path: &mut Vec<String>, value: &Value, visit: &mut dyn FnMut(&[String], &Value)) {
        visit(path, value);
        match value {
            Value::Mapping(m) => {
                for (k, v) in m {
                    path.push(text(k).unwrap_or_default());
                    go(path, v, visit);
                    path.pop();
                }
            }
            Value::Sequence(items) => {
                for (i, v) in items.iter().enumerate() {
                    path.push(format!("[{i}]"));
                    go(path, v, visit);
                    path.pop();
                }
            }
            Value::Tagged(t) => go(path, &t.value, visit),
            _ => {}
        }
    }
    go(&mut Vec::new(), value, visit);
}

/// Whether a Kubernetes LabelSelector (`matchLabels` and `matchExpressions`; a missing
/// or empty selector selects everything) selects pods with `labels`.
pub fn selects(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return true;
    };
    let match_labels = string_map(selector.get("matchLabels"));
    if match_labels.iter().any(|(k, v)| labels.get(k) != Some(v)) {
        return false;
    }
    seq_at(selector, &["matchExpressions"]).iter().all(|e| {
        let Some(key) = str_at(e, &["key"]) else {
            return false;
        };
        let values: Vec<String> = seq_at(e, &["values"]).iter().filter_map(text).collect();
        let have = labels.get(key);
        match str_at(e, &["operator"]).unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(h)),
            "NotIn" => have.is_none_or(|h| !values.contains(h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            _ => false,
        }
    })
}

/// A plain map selector (a Service's `spec.selector`, an Istio `selector`) as matchLabels.
pub fn selects_map(selector: Option<&Value>, labels: &BTreeMap<String, String>) -> bool {
    string_map(selector)
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}
