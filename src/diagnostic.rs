//! Diagnostics about service.toml: what went wrong, where (a byte span in the source) and
//! how to fix it, rendered like a compiler's (`error: …`, `--> file:line:col`, a caret).
//! Every stage collects diagnostics; they are printed in exactly one place (`crate::run`).

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

pub type Span = Range<usize>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Short text under the caret.
    pub label: Option<String>,
    /// One-line advice, e.g. "did you mean `port`?".
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            help: None,
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(span, message)
        }
    }

    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The text a diagnostic points into, with the name it is shown under.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    /// Renders diagnostics sorted by position (errors before warnings at the same place).
    pub fn render(&self, diagnostics: &[Diagnostic], styled: bool) -> String {
        let mut sorted: Vec<&Diagnostic> = diagnostics.iter().collect();
        sorted.sort_by_key(|d| (d.span.start, d.severity, d.message.clone()));
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let mut out = String::new();
        for d in sorted {
            out.push_str(&renderer.render(&self.report(d)).to_string());
            out.push_str("\n\n");
        }
        out
    }

    fn report<'a>(&'a self, d: &'a Diagnostic) -> Vec<Group<'a>> {
        let level = match d.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        // An empty span would render no caret: widen it to one character (or the end).
        let mut span = d.span.clone();
        if span.end > self.text.len() {
            span = self.text.len()..self.text.len();
        }
        if span.is_empty() {
            let next = self.text[span.start..].chars().next();
            span = match next {
                // At a line end, point at the line's last character instead of the
                // line break, which would draw the caret into the next line.
                None | Some('\n' | '\r') => {
                    let before = self.text[..span.start].chars().next_back();
                    match before {
                        Some(c) if c != '\n' => span.start - c.len_utf8()..span.start,
                        _ => span,
                    }
                }
                Some(c) => span.start..span.start + c.len_utf8(),
            };
        }
        let mut annotation = AnnotationKind::Primary.span(span);
        if let Some(label) = &d.label {
            annotation = annotation.label(label.as_str());
        }
        let mut groups = vec![
            level.primary_title(d.message.as_str()).element(
                Snippet::source(self.text.as_str())
                    .path(self.name.as_str())
                    .annotation(annotation),
            ),
        ];
        if let Some(help) = &d.help {
            groups.push(Group::with_title(
                Level::HELP.secondary_title(help.as_str()),
            ));
        }
        groups
    }
}

/// The diagnostics of `after` that `before` does not have, each matched at most once by
/// severity, message and label: what a change to the file brought, whatever was wrong
/// already. Spans are not compared, since an edit moves everything after it.
pub fn new_since<'a>(before: &[Diagnostic], after: &'a [Diagnostic]) -> Vec<&'a Diagnostic> {
    let key = |d: &Diagnostic| (d.severity, d.message.clone(), d.label.clone());
    let mut old: Vec<_> = before.iter().map(key).collect();
    after
        .iter()
        .filter(|d| match old.iter().position(|k| *k == key(d)) {
            Some(i) => {
                old.remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// "did you mean `x`?" when a candidate is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(given, c);
        // Strictly better only: among equals the first candidate wins, so the
        // suggestion does not depend on iteration order.
        if score >= 0.8 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = Source {
            name: "s".into(),
            text: "a = 1\nbé = \"x\"\n".into(),
        };
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        assert_eq!(src.line_col(src.text.find('"').unwrap()), (2, 6));
    }

    #[test]
    fn new_since_counts_repeats_and_ignores_positions() {
        let before = [Diagnostic::error(0..1, "a"), Diagnostic::warning(5..6, "w")];
        let after = [
            Diagnostic::error(9..10, "a"),
            Diagnostic::error(11..12, "a"),
            Diagnostic::error(1..2, "a").label("x"),
            Diagnostic::warning(1..2, "w"),
        ];
        let new: Vec<_> = new_since(&before, &after).into_iter().cloned().collect();
        assert_eq!(new, [after[1].clone(), after[2].clone()]);
    }

    #[test]
    fn suggestion_only_when_close() {
        assert_eq!(
            did_you_mean("prot", ["port", "owns"]).as_deref(),
            Some("did you mean `port`?")
        );
        assert_eq!(did_you_mean("zzzz", ["port", "owns"]), None);
    }
}
