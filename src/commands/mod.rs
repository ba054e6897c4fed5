//! One file per command. Shared here: finding service.toml, loading it through the front
//! of the pipeline (`crate::load`) for the command line, and rendering it.

pub mod add;
pub mod apply;
pub mod audit;
pub mod blueprints;
pub mod completions;
pub mod graph;
pub mod init;
pub mod plan;
pub mod remove;
pub mod schema;
pub mod validate;

use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::diagnostic::{Diagnostic, Source};
use crate::error::Error;
use crate::model::Model;
use crate::render::{Blueprints, Files, Renderer};
use crate::spec::Spec;

pub const SPEC_FILE: &str = "service.toml";

/// Writes a command's output to stdout; a closed pipe (`bulkhead schema | head`) is not an
/// error.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io(Path::new("<stdout>"), e))
        }
        _ => Ok(()),
    }
}

/// `-f`, or service.toml in the current folder or the nearest parent.
pub fn locate(global: &GlobalArgs) -> Result<PathBuf, Error> {
    if let Some(f) = &global.file {
        return Ok(f.clone());
    }
    let cwd = std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?;
    cwd.ancestors()
        .map(|d| d.join(SPEC_FILE))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Message(format!(
                "no {SPEC_FILE} in {} or any parent folder (pass -f PATH, or create one with `bulkhead init`)",
                cwd.display()
            ))
        })
}

/// How to name `path` in messages: relative to the current folder when it lies there or
/// in a parent (`service.toml`, `../../service.toml`), else as given.
fn display_path(path: &Path) -> String {
    if path.is_relative() {
        return path.display().to_string();
    }
    let Ok(cwd) = std::env::current_dir() else {
        return path.display().to_string();
    };
    for (depth, dir) in cwd.ancestors().enumerate() {
        if let Ok(rel) = path.strip_prefix(dir) {
            let shown = format!("{}{}", "../".repeat(depth), rel.display());
            // The current folder itself (a blueprints folder, say).
            return if shown.is_empty() { ".".into() } else { shown };
        }
    }
    path.display().to_string()
}

/// A service.toml that passed validation, with its warnings.
pub struct Loaded {
    pub path: PathBuf,
    pub spec: Spec,
    pub model: Model,
    pub warnings: Vec<Diagnostic>,
    /// `--blueprints DIR`, which takes precedence over `platform.blueprints`.
    pub blueprints_flag: Option<PathBuf>,
}

/// service.toml for a command: located, read and loaded; its errors (and its warnings,
/// with `--deny-warnings`) refuse it, rendered for the terminal.
pub fn load(global: &GlobalArgs) -> Result<Loaded, Error> {
    let path = locate(global)?;
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let source = Source {
        name: display_path(&path),
        text,
    };
    let checked = crate::load::load(&source);
    let errors = checked.errors().count();
    let warnings = checked.diagnostics.len() - errors;
    let denied = global.deny_warnings && warnings > 0;
    match (checked.spec, checked.model) {
        (Some(spec), Some(model)) if !denied => Ok(Loaded {
            path,
            spec,
            model,
            warnings: checked.diagnostics,
            blueprints_flag: global.blueprints.clone(),
        }),
        _ => Err(Error::Invalid {
            rendered: source.render(&checked.diagnostics, true),
            summary: summary(&source.name, errors, warnings, global.deny_warnings),
        }),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn summary(name: &str, errors: usize, warnings: usize, deny: bool) -> String {
    let problems = if deny { errors + warnings } else { errors };
    let mut s = format!("{name} is invalid: {}", plural(problems, "error"));
    if !deny && warnings > 0 {
        s.push_str(&format!(", {}", plural(warnings, "warning")));
    }
    if deny && warnings > 0 {
        s.push_str(" (warnings denied)");
    }
    s
}

impl Loaded {
    pub fn print_warnings(&self) {
        if !self.warnings.is_empty() {
            anstream::eprint!("{}", self.spec.source.render(&self.warnings, true));
        }
    }

    /// The output folder: `-o`, or the folder of service.toml.
    pub fn out_dir(&self, global: &GlobalArgs) -> PathBuf {
        global.out.clone().unwrap_or_else(|| {
            self.path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        })
    }

    /// The platform's own blueprints: `--blueprints DIR`, else `platform.blueprints`
    /// (relative to service.toml).
    pub fn blueprint_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = &self.blueprints_flag {
            return Some(dir.clone());
        }
        let rel = self.spec.platform.blueprints.as_ref()?;
        let base = self.path.parent().unwrap_or(Path::new("."));
        // Relative to the current folder where possible: template errors name these files.
        Some(PathBuf::from(display_path(&base.join(&rel.value))))
    }

    /// The engine with the platform's blueprints, compiled.
    pub fn renderer(&self) -> Result<Renderer, Error> {
        Renderer::new(Blueprints::with_overrides(self.blueprint_dir().as_deref())?)
    }

    pub fn render(&self) -> Result<Files, Error> {
        self.renderer()?.render(&self.model)
    }
}
