//! The parse check every rendered file passes before it may be planned: YAML (every
//! document, duplicate keys included) and JSON. It runs on every file of every plan, so it
//! parses without building a tree: the YAML parser's events are only followed far enough to
//! see each mapping's keys.

use std::collections::HashSet;

use yaml_rust2::parser::{Event, Parser};

/// How a rendered file is checked, from its output path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Json,
    /// Not parsed: text formats, and Helm chart templates (`helm/chart/templates/*.yaml` and
    /// `.tpl` helpers are Go templates that become YAML only when Helm renders them; the
    /// Helm/Kustomize equivalence test renders them with Helm and checks the result).
    Unchecked,
}

impl Syntax {
    pub fn of(path: &str) -> Self {
        if path.starts_with("helm/chart/templates/") || path.ends_with(".tpl") {
            Self::Unchecked
        } else if path.ends_with(".yaml") || path.ends_with(".yml") {
            Self::Yaml
        } else if path.ends_with(".json") {
            Self::Json
        } else {
            Self::Unchecked
        }
    }

    /// Parses `text`; the error names the line.
    pub fn check(self, text: &str) -> Result<(), String> {
        match self {
            Self::Yaml => check_yaml(text).map_err(|e| format!("YAML: {e}")),
            Self::Json => serde_json::from_str::<serde::de::IgnoredAny>(text)
                .map(drop)
                .map_err(|e| format!("JSON: {e}")),
            Self::Unchecked => Ok(()),
        }
    }
}

/// Where the parser is inside one collection.
enum Frame {
    Sequence,
    /// The keys seen so far, and whether the next node is a key.
    Mapping {
        keys: Keys,
        at_key: bool,
    },
}

/// A mapping's keys: most mappings have a handful, best compared in a list; a large one
/// moves to a set.
enum Keys {
    Few(Vec<String>),
    Many(HashSet<String>),
}

impl Keys {
    const FEW: usize = 16;

    /// Adds `key`, or gives it back when it was there already.
    fn insert(&mut self, key: String) -> Result<(), String> {
        match self {
            Self::Few(keys) if keys.contains(&key) => Err(key),
            Self::Few(keys) if keys.len() < Self::FEW => {
                keys.push(key);
                Ok(())
            }
            Self::Few(keys) => {
                let mut set: HashSet<String> = keys.drain(..).collect();
                set.insert(key);
                *self = Self::Many(set);
                Ok(())
            }
            Self::Many(set) if set.contains(&key) => Err(key),
            Self::Many(set) => {
                set.insert(key);
                Ok(())
            }
        }
    }
}

fn check_yaml(text: &str) -> Result<(), String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            format!(
                "{} at line {} column {}",
                e.info(),
                e.marker().line(),
                e.marker().col() + 1
            )
        })?;
        let completes_node = match event {
            Event::StreamEnd => return Ok(()),
            Event::Scalar(name, ..) => {
                // A scalar mapping key must be new in its mapping (`<<` merges, it may
                // repeat).
                if let Some(Frame::Mapping { keys, at_key: true }) = stack.last_mut()
                    && name != "<<"
                    && let Err(name) = keys.insert(name)
                {
                    return Err(format!(
                        "duplicate key `{name}` at line {} column {}",
                        mark.line(),
                        mark.col() + 1
                    ));
                }
                true
            }
            Event::Alias(_) => true,
            Event::MappingStart(..) => {
                stack.push(Frame::Mapping {
                    keys: Keys::Few(Vec::new()),
                    at_key: true,
                });
                false
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Sequence);
                false
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                true
            }
            _ => false,
        };
        // Inside a mapping, nodes alternate between key and value.
        if completes_node && let Some(Frame::Mapping { at_key, .. }) = stack.last_mut() {
            *at_key = !*at_key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_templates_are_not_parsed_as_yaml() {
        let go_template =
            "metadata:\n  name: {{ include \"bulkhead.name\" . }}\n{{- if .Values.x }}\n";
        let check = |path: &str| Syntax::of(path).check(go_template);
        assert!(check("helm/chart/templates/deployment.yaml").is_ok());
        assert!(check("helm/chart/templates/_helpers.tpl").is_ok());
        // Everywhere else the same text is invalid YAML, and a rendered chart file (values,
        // Chart.yaml) is still parsed.
        assert!(check("deploy/base/api/deployment.yaml").is_err());
        assert!(check("helm/chart/values.yaml").is_err());
        assert!(check("helm/api/values-dev.yaml").is_err());
        assert!(check("x/helm/chart/templates/a.yaml").is_err());
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let err = Syntax::Yaml.check("a: 1\nb:\n  - x\n  y: [\n").unwrap_err();
        assert!(err.starts_with("YAML: "), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_errors_at_any_depth_and_in_every_document() {
        let dup = Syntax::Yaml
            .check("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n")
            .unwrap_err();
        assert_eq!(dup, "YAML: duplicate key `c` at line 5 column 3");
        let second_doc = Syntax::Yaml
            .check("a: 1\n---\nkind: X\nkind: Y\n")
            .unwrap_err();
        assert!(
            second_doc.contains("duplicate key `kind` at line 4"),
            "{second_doc}"
        );
        let in_list = Syntax::Yaml.check("- {a: 1, a: 2}\n").unwrap_err();
        assert!(in_list.contains("duplicate key `a`"), "{in_list}");
    }

    #[test]
    fn duplicates_are_found_in_large_mappings_too() {
        let mut text: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        assert_eq!(Syntax::Yaml.check(&text), Ok(()));
        text.push_str("k3: again\n");
        let err = Syntax::Yaml.check(&text).unwrap_err();
        assert_eq!(err, "YAML: duplicate key `k3` at line 41 column 1");
    }

    #[test]
    fn equal_keys_in_different_mappings_and_values_equal_to_keys_are_fine() {
        let ok = "a:\n  name: x\nb:\n  name: x\nlist:\n  - name: a\n  - name: a\nname: name\n\
                  nested: {a: {a: a}}\ncomplex:\n  ? [k]\n  : v\n  k: [k]\n";
        assert_eq!(Syntax::Yaml.check(ok), Ok(()));
        assert_eq!(Syntax::Yaml.check("a: 1\n---\na: 1\n"), Ok(()));
    }

    #[test]
    fn json_is_parsed() {
        assert_eq!(Syntax::Json.check("{\"a\": [1, 2]}\n"), Ok(()));
        let err = Syntax::Json.check("{\"a\": [1, 2}\n").unwrap_err();
        assert!(err.starts_with("JSON: ") && err.contains("line 1"), "{err}");
        assert_eq!(Syntax::of("README.md").check("{{ not: [yaml"), Ok(()));
    }
}
