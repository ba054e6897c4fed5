//! Dockerfiles read line by line: instructions (continuations joined, comments dropped)
//! grouped into build stages.

use std::collections::BTreeMap;

/// One instruction: its keyword in upper case, its arguments, the line it starts on.
#[derive(Debug, Clone)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    pub args: String,
}

/// A `FROM` and the instructions up to the next one.
#[derive(Debug, Clone)]
pub struct Stage {
    pub line: usize,
    /// The base image as written, build arguments substituted where they have defaults.
    pub image: String,
    /// `AS name`, lower-cased.
    pub alias: Option<String>,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, Default)]
pub struct Dockerfile {
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Self {
        let mut global_args: BTreeMap<String, String> = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        for ins in instructions(text) {
            match ins.keyword.as_str() {
                "FROM" => {
                    let words: Vec<&str> = ins
                        .args
                        .split_whitespace()
                        .filter(|w| !w.starts_with("--"))
                        .collect();
                    let image = words
                        .first()
                        .map(|w| substitute(w, &global_args))
                        .unwrap_or_default();
                    let alias = match words.as_slice() {
                        [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("as") => {
                            Some(name.to_ascii_lowercase())
                        }
                        _ => None,
                    };
                    stages.push(Stage {
                        line: ins.line,
                        image,
                        alias,
                        instructions: Vec::new(),
                    });
                }
                "ARG" if stages.is_empty() => {
                    for word in ins.args.split_whitespace() {
                        let (name, default) = word.split_once('=').unwrap_or((word, ""));
                        global_args.insert(name.to_string(), unquote(default).to_string());
                    }
                }
                _ => {
                    if let Some(stage) = stages.last_mut() {
                        stage.instructions.push(ins);
                    }
                }
            }
        }
        Self { stages }
    }

    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// Whether `image` names an earlier stage rather than an image.
    pub fn is_stage(&self, image: &str, before: usize) -> bool {
        let lower = image.to_ascii_lowercase();
        self.stages[..before]
            .iter()
            .any(|s| s.alias.as_deref() == Some(lower.as_str()))
            || lower.parse::<usize>().is_ok_and(|i| i < before)
    }
}

impl Stage {
    pub fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
    }
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '\'')
}

/// `${NAME}`, `$NAME` and `${NAME:-default}` replaced from `args`; unknown ones stay.
fn substitute(word: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, default, used) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => {
                    let body = &inner[..end];
                    let (name, default) = match body.split_once(":-") {
                        Some((n, d)) => (n, Some(d)),
                        None => (body, None),
                    };
                    (name, default, end + 2)
                }
                None => (inner, None, after.len()),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        match args
            .get(name)
            .filter(|v| !v.is_empty())
            .map(String::as_str)
            .or(default)
        {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[i..i + 1 + used]),
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// The instructions of a Dockerfile: comments and blank lines dropped, lines ending in a
/// backslash joined with the next.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_none()) {
            continue;
        }
        let (continues, body) = match trimmed.strip_suffix('\\') {
            Some(body) => (true, body),
            None => (false, trimmed),
        };
        let (line, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        if !acc.is_empty() {
            acc.push(' ');
        }
        acc.push_str(body.trim());
        if continues {
            current = Some((line, acc));
        } else if !acc.trim().is_empty() {
            let (keyword, args) = acc.split_once(char::is_whitespace).unwrap_or((&acc, ""));
            out.push(Instruction {
                line,
                keyword: keyword.to_ascii_uppercase(),
                args: args.trim().to_string(),
            });
        }
    }
    if let Some((line, acc)) = current {
        let (keyword, args) = acc.split_once(char::is_whitespace).unwrap_or((&acc, ""));
        out.push(Instruction {
            line,
            keyword: keyword.to_ascii_uppercase(),
            args: args.trim().to_string(),
        });
    }
    out
}

/// An image reference split into name, tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Self {
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => (r, Some(d.to_string())),
            None => (reference, None),
        };
        // A colon after the last slash starts the tag; one before it is a registry port.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(c) => (
                rest[..slash + c].to_string(),
                Some(rest[slash + c + 1..].to_string()),
            ),
            None => (rest.to_string(), None),
        };
        Self { name, tag, digest }
    }

    /// Why this reference is not pinned, if it is not: `latest`, or no tag and no digest.
    pub fn unpinned(&self) -> Option<&'static str> {
        if self.digest.is_some() {
            return None;
        }
        match self.tag.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("latest") => Some("tag `latest`"),
            Some("") | None => Some("no tag (means `latest`)"),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_aliases_and_continuations() {
        let d = Dockerfile::parse(
            "# syntax=docker/dockerfile:1\nARG BASE=gcr.io/distroless/static:nonroot\nFROM --platform=$BUILDPLATFORM golang:1.24 AS Build\nRUN a \\\n  b\n\nFROM ${BASE}\nCOPY --from=build /x /y\nUSER 65532:65532\n",
        );
        assert_eq!(d.stages.len(), 2);
        assert_eq!(d.stages[0].alias.as_deref(), Some("build"));
        assert_eq!(d.stages[0].instructions[0].args, "a b");
        assert_eq!(d.stages[1].image, "gcr.io/distroless/static:nonroot");
        assert_eq!(d.stages[1].line, 7);
        assert!(d.is_stage("build", 1));
    }

    #[test]
    fn image_references() {
        let r = ImageRef::parse("localhost:5000/a/b:1.2@sha256:00");
        assert_eq!(r.name, "localhost:5000/a/b");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert!(r.unpinned().is_none());
        assert!(ImageRef::parse("localhost:5000/a").unpinned().is_some());
        assert!(ImageRef::parse("a:latest").unpinned().is_some());
        assert!(ImageRef::parse("a:1").unpinned().is_none());
    }
}
