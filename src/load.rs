//! The front of the pipeline: service.toml text → `spec` (parse) → `validate` (rules) →
//! `model` (resolved platform), chained here and nowhere else; commands, tests and the
//! benchmark all call [`load`]. It reads no file and prints nothing: finding the file,
//! deciding what a warning means and showing diagnostics are the caller's.

use crate::diagnostic::{Diagnostic, Source};
use crate::model::Model;
use crate::spec::Spec;

/// A service.toml as the front of the pipeline left it: checked, and resolved when valid.
#[derive(Debug)]
pub struct Checked {
    /// The file as written; `None` when it is not TOML at all.
    pub spec: Option<Spec>,
    /// The resolved platform; `None` when any diagnostic is an error.
    pub model: Option<Model>,
    /// Errors and warnings: the parser's, then the rules' (`Source::render` sorts them by
    /// position).
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }
}

/// Parses `source`, runs every rule on it (even after parse errors, so that a user sees
/// every problem at once) and, when nothing is an error, builds the model.
pub fn load(source: &Source) -> Checked {
    let (spec, mut diagnostics) = crate::spec::parse(source);
    if let Some(spec) = &spec {
        diagnostics.extend(crate::validate::validate(spec));
    }
    // The model resolves a valid spec only: defaults and lookups assume the rules held.
    let valid = !diagnostics.iter().any(Diagnostic::is_error);
    let model = spec.as_ref().filter(|_| valid).map(Model::build);
    Checked {
        spec,
        model,
        diagnostics,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        Source {
            name: "service.toml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn broken_toml_has_neither_spec_nor_model() {
        let checked = load(&source("[platform\n"));
        assert!(checked.spec.is_none() && checked.model.is_none());
        assert_eq!(checked.errors().count(), 1);
    }

    #[test]
    fn rule_errors_keep_the_spec_but_build_no_model() {
        let checked = load(&source("[platform]\nname = \"Not A Label\"\n"));
        assert!(checked.spec.is_some());
        assert!(checked.model.is_none());
        assert!(checked.errors().count() > 1, "{:?}", checked.diagnostics);
    }

    #[test]
    fn a_valid_file_is_resolved() {
        let text = "[platform]\nname = \"demo\"\nregistry = \"ghcr.io/acme\"\n\
                    repository = \"https://github.com/acme/demo.git\"\n\n\
                    [environments.dev]\n\n[services.api]\nruntime = \"go\"\n";
        let checked = load(&source(text));
        assert_eq!(checked.errors().count(), 0, "{:?}", checked.diagnostics);
        let model = checked.model.expect("a model");
        assert_eq!(model.services.len(), 1);
        assert_eq!(model.environments[0].namespace, "demo-dev");
    }
}
