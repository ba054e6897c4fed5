//! The objects one environment runs, as the checks read them: who applies each, the
//! workloads and their Pods' labels, and Kubernetes label selectors. Reads values only; it
//! judges nothing.

use std::collections::BTreeMap;

use serde_yaml_ng::Value;

/// One object as Argo CD applies it, and the Application that applies it.
#[derive(Clone, Debug)]
pub struct Object {
    pub app: String,
    pub value: Value,
}

/// The text at `path` under `value` ("" when absent or not a string).
pub fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).as_str().unwrap_or_default()
}

/// The value at `path` under `value` (Null when absent).
pub fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    static NULL: Value = Value::Null;
    path.iter()
        .try_fold(value, |v, key| v.get(*key))
        .unwrap_or(&NULL)
}

/// The items of the sequence at `path` (none when absent).
pub fn items<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).as_sequence().map_or(&[], Vec::as_slice)
}

/// A scalar as the API server would read it in a label or a name.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// A string map (labels, a Service selector); non-string values as text.
pub fn string_map(value: &Value) -> BTreeMap<String, String> {
    value
        .as_mapping()
        .into_iter()
        .flatten()
        .map(|(k, v)| (scalar(k), scalar(v)))
        .collect()
}

/// The kinds whose Pods a selector can pick: they own Pods through a Pod template.
const WORKLOADS: &[(&str, &str)] = &[
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "ReplicaSet"),
    ("argoproj.io", "Rollout"),
];

impl Object {
    pub fn new(app: &str, value: Value) -> Self {
        Self {
            app: app.to_string(),
            value,
        }
    }

    pub fn kind(&self) -> &str {
        text(&self.value, &["kind"])
    }

    pub fn name(&self) -> &str {
        text(&self.value, &["metadata", "name"])
    }

    pub fn namespace(&self) -> &str {
        text(&self.value, &["metadata", "namespace"])
    }

    /// The API group: what `apiVersion` names before the slash ("" for the core group).
    pub fn group(&self) -> &str {
        group_of(text(&self.value, &["apiVersion"]))
    }

    pub fn spec(&self) -> &Value {
        at(&self.value, &["spec"])
    }

    /// `Kind namespace/name`, as findings name objects.
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind(), self.namespace(), self.name())
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group() == group && self.kind() == kind
    }

    pub fn is_workload(&self) -> bool {
        WORKLOADS.iter().any(|(g, k)| self.is(g, k))
    }

    /// The object's own labels.
    pub fn labels(&self) -> BTreeMap<String, String> {
        string_map(at(&self.value, &["metadata", "labels"]))
    }

    /// The labels of the Pods this workload creates.
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        string_map(at(self.spec(), &["template", "metadata", "labels"]))
    }

    /// The containers of the Pods this workload creates, init containers included.
    pub fn containers(&self) -> impl Iterator<Item = &Value> {
        let pod = at(self.spec(), &["template", "spec"]);
        items(pod, &["initContainers"])
            .iter()
            .chain(items(pod, &["containers"]))
    }
}

/// The API group of an `apiVersion` ("" for the core group's `v1`).
pub fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or("", |(group, _version)| group)
}

/// Objects parsed from YAML documents, each applied by `app`.
pub fn parse(app: &str, yaml: &str) -> Vec<Object> {
    crate::common::yaml_docs(yaml)
        .into_iter()
        .map(|v| Object::new(app, v))
        .collect()
}

/// A Kubernetes label selector: `matchLabels` and `matchExpressions`, or a Service's map.
#[derive(Clone, Debug, Default)]
pub struct Selector {
    labels: BTreeMap<String, String>,
    expressions: Vec<(String, String, Vec<String>)>,
}

impl Selector {
    /// A `LabelSelector` (`matchLabels`, `matchExpressions`); None when absent.
    pub fn label_selector(value: &Value) -> Option<Self> {
        if value.is_null() {
            return None;
        }
        let expressions = items(value, &["matchExpressions"])
            .iter()
            .map(|e| {
                (
                    text(e, &["key"]).to_string(),
                    text(e, &["operator"]).to_string(),
                    items(e, &["values"]).iter().map(scalar).collect(),
                )
            })
            .collect();
        Some(Self {
            labels: string_map(at(value, &["matchLabels"])),
            expressions,
        })
    }

    /// A plain label map (a Service's `selector`, a subset's `labels`).
    pub fn map(value: &Value) -> Self {
        Self {
            labels: string_map(value),
            expressions: Vec::new(),
        }
    }

    /// Both selectors at once (a subset's labels within its Service's selector).
    pub fn and(&self, other: &Self) -> Self {
        let mut out = self.clone();
        out.expressions.extend(other.expressions.iter().cloned());
        for (k, v) in &other.labels {
            if out.labels.get(k).is_some_and(|mine| mine != v) {
                // Two values for one key: nothing matches.
                out.expressions.push((k.clone(), "In".into(), Vec::new()));
            } else {
                out.labels.insert(k.clone(), v.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.expressions.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|(key, op, values)| {
                let value = labels.get(key);
                match op.as_str() {
                    "In" => value.is_some_and(|v| values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    // An operator the API server refuses selects nothing.
                    _ => false,
                }
            })
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.extend(
            self.expressions
                .iter()
                .map(|(k, op, vs)| format!("{k} {op} ({})", vs.join(","))),
        );
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// The workloads of `namespace` whose Pods `selector` picks.
pub fn selected<'a>(
    objects: &'a [Object],
    namespace: &str,
    selector: &Selector,
) -> Vec<&'a Object> {
    objects
        .iter()
        .filter(|o| o.is_workload() && o.namespace() == namespace)
        .filter(|o| selector.matches(&o.pod_labels()))
        .collect()
}

/// A workload's own selector (`spec.selector`), as a selector.
pub fn workload_selector(workload: &Object) -> Option<Selector> {
    Selector::label_selector(at(workload.spec(), &["selector"]))
}

/// Names of workloads, for findings: `Deployment a, Rollout b`.
pub fn names(objects: &[&Object]) -> String {
    if objects.is_empty() {
        return "none".into();
    }
    objects
        .iter()
        .map(|o| format!("{} {}", o.kind(), o.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_as_the_api_server_does() {
        let v: Value = serde_yaml_ng::from_str(
            "matchLabels: {app: a}\nmatchExpressions:\n  - {key: track, operator: NotIn, values: [canary]}\n  - {key: tier, operator: Exists}",
        )
        .unwrap();
        let s = Selector::label_selector(&v).unwrap();
        assert!(s.matches(&labels(&[("app", "a"), ("tier", "x")])));
        assert!(s.matches(&labels(&[("app", "a"), ("tier", "x"), ("track", "stable")])));
        assert!(!s.matches(&labels(&[("app", "a"), ("tier", "x"), ("track", "canary")])));
        assert!(!s.matches(&labels(&[("app", "a")])));
        assert!(!s.matches(&labels(&[("app", "b"), ("tier", "x")])));
        let both = Selector::map(&serde_yaml_ng::from_str("{app: a}").unwrap()).and(
            &Selector::map(&serde_yaml_ng::from_str("{app: b}").unwrap()),
        );
        assert!(!both.matches(&labels(&[("app", "a")])));
        assert!(!both.matches(&labels(&[("app", "b")])));
    }
}
