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
pub mod restore;
pub mod schema;
pub mod validate;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::cli::Options;
use crate::diagnostic::{Diagnostic, Source};
use crate::error::Error;
use crate::model::Model;
use crate::plan::{Plan, Scope};
use crate::render::{Blueprints, Files, Renderer, git};
use crate::spec::{BlueprintsSpec, Spec};
use crate::state::{BlueprintsLock, Lock};

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
pub fn locate(global: &Options) -> Result<PathBuf, Error> {
    if let Some(f) = &global.file {
        if f.is_dir() && f.join(SPEC_FILE).is_file() {
            return Err(Error::Message(format!(
                "{} is a folder: pass -f {}",
                f.display(),
                f.join(SPEC_FILE).display()
            )));
        }
        if !f.exists() {
            return Err(Error::Message(format!(
                "no file {} (check the path given to -f, or create it with `bulkhead init -f {}`)",
                f.display(),
                f.display()
            )));
        }
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
    /// `-o DIR`: where the lock naming the blueprints' commit is.
    pub out_flag: Option<PathBuf>,
}

/// service.toml for a command: located, read and loaded; its errors (and its warnings,
/// with `--deny-warnings`) refuse it, rendered for the terminal.
pub fn load(global: &Options) -> Result<Loaded, Error> {
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
            out_flag: global.out.clone(),
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
    pub fn out_dir(&self) -> PathBuf {
        self.out_flag
            .clone()
            .unwrap_or_else(|| spec_folder(&self.path))
    }

    /// Where the platform's blueprints come from: `--blueprints DIR`, else
    /// `platform.blueprints` (a folder relative to service.toml, or a Git pin resolved through
    /// the lock of the output folder). Notes about the pin are printed on stderr.
    pub fn blueprint_source(&self) -> Result<BlueprintSource, Error> {
        self.blueprint_source_in(&self.out_dir())
    }

    /// [`Loaded::blueprint_source`] with the lock of `out_dir`.
    pub fn blueprint_source_in(&self, out_dir: &Path) -> Result<BlueprintSource, Error> {
        let locked = Lock::read(out_dir)?.and_then(|l| l.blueprints);
        let source = blueprint_source(
            &self.path,
            self.spec.platform.blueprints.as_ref(),
            self.blueprints_flag.as_deref(),
            locked.as_ref(),
        )?;
        source.print_notes();
        Ok(source)
    }

    /// The engine with the platform's blueprints, compiled.
    pub fn renderer(&self) -> Result<Renderer, Error> {
        let source = self.blueprint_source()?;
        Renderer::new(Blueprints::with_overrides(source.dir.as_deref())?)
    }

    /// `--service NAME…`: the files of those services, and the files the platform
    /// shares between services (route table, Argo CD lists, Helm values, …), which change
    /// along with any of them. No names: every file.
    pub fn service_scope(
        &self,
        renderer: &Renderer,
        files: &Files,
        names: &[String],
    ) -> Result<Scope, Error> {
        if names.is_empty() {
            return Ok(Scope::default());
        }
        let services = &self.model.services;
        let mut chosen = BTreeSet::new();
        for name in names {
            let Some(i) = services.iter().position(|s| s.name == *name) else {
                let known = services.iter().map(|s| s.name.as_str());
                let hint =
                    crate::diagnostic::did_you_mean(name, known.clone()).unwrap_or_else(|| {
                        format!("services: {}", known.collect::<Vec<_>>().join(", "))
                    });
                return Err(Error::Message(format!(
                    "--service {name}: no such service in {} ({hint})",
                    self.spec.source.name
                )));
            };
            chosen.insert(i);
        }
        let mut only = BTreeSet::new();
        let mut per_service = BTreeSet::new();
        for i in 0..services.len() {
            let paths = renderer.service_paths(&self.model, i);
            if chosen.contains(&i) {
                only.extend(paths.iter().cloned());
            }
            per_service.extend(paths);
        }
        only.extend(files.keys().filter(|p| !per_service.contains(*p)).cloned());
        Ok(Scope {
            only: Some(only),
            restore: BTreeSet::new(),
        })
    }

    pub fn render(&self) -> Result<Files, Error> {
        self.renderer()?.render(&self.model)
    }

    /// What apply would do in `out_dir`, for the files `narrow` picks once they are
    /// rendered; the next lock records the blueprints' Git pin.
    pub fn plan(
        &self,
        out_dir: &Path,
        narrow: impl FnOnce(&Renderer, &Files) -> Result<Scope, Error>,
    ) -> Result<Plan, Error> {
        let source = self.blueprint_source_in(out_dir)?;
        self.plan_from(out_dir, source, narrow)
    }

    /// [`Loaded::plan`] with the blueprints already resolved.
    pub fn plan_from(
        &self,
        out_dir: &Path,
        source: BlueprintSource,
        narrow: impl FnOnce(&Renderer, &Files) -> Result<Scope, Error>,
    ) -> Result<Plan, Error> {
        let renderer = Renderer::new(Blueprints::with_overrides(source.dir.as_deref())?)?;
        let files = renderer.render(&self.model)?;
        let scope = narrow(&renderer, &files)?;
        crate::plan::plan_scoped(out_dir, files, &scope, source.pinned)
    }
}

/// The folder of service.toml (`.` for a bare file name).
fn spec_folder(spec: &Path) -> PathBuf {
    spec.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The folder the renderer lays over the built-in blueprints, and where it came from.
#[derive(Debug, Default)]
pub struct BlueprintSource {
    pub dir: Option<PathBuf>,
    /// The Git pin and the commit in use: what the next lock records.
    pub pinned: Option<BlueprintsLock>,
    /// Set when `pinned` is not the lock's: the pin moved (or nothing was applied yet).
    pub moved: bool,
    /// What the user should know: a pin resolved anew, the cache answering offline.
    pub notes: Vec<String>,
}

impl BlueprintSource {
    pub fn print_notes(&self) {
        for note in &self.notes {
            anstream::eprintln!("{note}");
        }
    }
}

/// Resolves `platform.blueprints` of the service.toml at `spec_path`. A Git pin equal to the
/// lock's uses the locked commit (fetched only when the cache lacks it); another pin is
/// resolved by fetching, or from the cache when the repository cannot be reached.
pub fn blueprint_source(
    spec_path: &Path,
    configured: Option<&BlueprintsSpec>,
    flag: Option<&Path>,
    locked: Option<&BlueprintsLock>,
) -> Result<BlueprintSource, Error> {
    if let Some(dir) = flag {
        return Ok(BlueprintSource {
            dir: Some(dir.to_path_buf()),
            ..BlueprintSource::default()
        });
    }
    let base = spec_folder(spec_path);
    let git = match configured {
        None => return Ok(BlueprintSource::default()),
        // Relative to the current folder where possible: template errors name these files.
        Some(BlueprintsSpec::Folder(rel)) => {
            return Ok(BlueprintSource {
                dir: Some(PathBuf::from(display_path(&base.join(&rel.value)))),
                ..BlueprintSource::default()
            });
        }
        Some(BlueprintsSpec::Git(git)) => git,
    };
    let (Some(url), Some(rev)) = (&git.git, &git.rev) else {
        return Err(Error::Message(
            "platform.blueprints needs both `git` and `rev` (`bulkhead validate` shows where)"
                .into(),
        ));
    };
    let path = git
        .path
        .as_ref()
        .map_or_else(|| ".".to_string(), |p| normal_path(&p.value));
    let repo = git::Repo::new(&url.value, &base)?;
    let same = |l: &&BlueprintsLock| {
        l.git == url.value
            && l.rev == rev.value
            && l.path == path
            && l.commit.len() >= 40
            && l.commit.chars().all(|c| c.is_ascii_hexdigit())
    };
    let mut notes = Vec::new();
    let (commit, moved) = if let Some(l) = locked.filter(same) {
        repo.ensure(&l.commit, &rev.value)?;
        (l.commit.clone(), false)
    } else {
        let resolved = repo.resolve(&rev.value)?;
        if let Some(offline) = resolved.offline {
            notes.push(format!("warning: {offline}"));
        }
        let was = locked.map_or_else(String::new, |l| {
            format!(
                " (the lock has {} at {}, commit {}; apply records the new one)",
                l.git,
                l.rev,
                git::short(&l.commit)
            )
        });
        notes.push(format!(
            "Blueprints: {} at {} is commit {}{was}",
            url.value,
            rev.value,
            git::short(&resolved.commit)
        ));
        (resolved.commit, true)
    };
    let dir = repo.folder(&commit, &rev.value, &path)?;
    Ok(BlueprintSource {
        dir: Some(dir),
        pinned: Some(BlueprintsLock {
            git: url.value.clone(),
            rev: rev.value.clone(),
            path,
            commit,
        }),
        moved,
        notes,
    })
}

/// `./blueprints/` → `blueprints`; the repository's root is `.`.
fn normal_path(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segments.is_empty() {
        ".".into()
    } else {
        segments.join("/")
    }
}
