//! Blueprints → desired files. Blueprints are minijinja templates laid out like the output
//! tree: built-in ones are embedded in the binary, a user folder overrides them by relative
//! path or adds new ones. A path segment `__service__` renders once per service, `__env__`
//! once per environment. Templates whose first path segment starts with `_` are partials
//! (included, never written). Every rendered YAML/JSON file is parsed here, so a blueprint
//! bug is reported with the blueprint's path before anything is planned.

pub mod docs;
pub mod escape;
pub mod git;
mod syntax;

pub use docs::context_docs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior, Value};
use rayon::prelude::*;

use crate::error::Error;
use crate::model::Model;
use syntax::Syntax;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/blueprints");

pub const SERVICE_TOKEN: &str = "__service__";
pub const ENV_TOKEN: &str = "__env__";

/// How many files one blueprint renders to, from the segments of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FanOut {
    /// A partial: included by other blueprints, never written itself.
    Partial,
    Once,
    PerService,
    PerEnvironment,
    PerServiceAndEnvironment,
}

impl FanOut {
    pub fn of(path: &str) -> Self {
        if path.starts_with('_') {
            return Self::Partial;
        }
        match (path.contains(SERVICE_TOKEN), path.contains(ENV_TOKEN)) {
            (false, false) => Self::Once,
            (true, false) => Self::PerService,
            (false, true) => Self::PerEnvironment,
            (true, true) => Self::PerServiceAndEnvironment,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Partial => "partial",
            Self::Once => "once",
            Self::PerService => "per service",
            Self::PerEnvironment => "per environment",
            Self::PerServiceAndEnvironment => "per service and environment",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Builtin,
    /// A file in the user's blueprint folder; `overrides` when it replaces a built-in one.
    Custom {
        file: PathBuf,
        overrides: bool,
    },
}

#[derive(Debug, Clone)]
pub struct Blueprint {
    pub path: String,
    pub source: String,
    pub origin: Origin,
}

impl Blueprint {
    pub fn is_partial(&self) -> bool {
        self.path.starts_with('_')
    }

    /// Where to point a reader at: the user's file, or the built-in relative path.
    pub fn display(&self) -> String {
        match &self.origin {
            Origin::Builtin => format!("blueprints/{}", self.path),
            Origin::Custom { file, .. } => file.display().to_string(),
        }
    }
}

/// All blueprints by relative path (sorted, so rendering order is stable).
#[derive(Debug, Clone)]
pub struct Blueprints {
    pub items: BTreeMap<String, Blueprint>,
}

impl Blueprints {
    pub fn builtin() -> Self {
        let mut items = BTreeMap::new();
        collect_builtin(&BUILTIN, &mut items);
        Self { items }
    }

    /// The built-in blueprints with a user folder laid over them.
    pub fn with_overrides(dir: Option<&Path>) -> Result<Self, Error> {
        let mut all = Self::builtin();
        let Some(dir) = dir else { return Ok(all) };
        if !dir.is_dir() {
            return Err(Error::Message(format!(
                "the blueprints folder {} does not exist",
                dir.display()
            )));
        }
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        for (rel, file) in files {
            let source = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
            let overrides = all.items.contains_key(&rel);
            all.items.insert(
                rel.clone(),
                Blueprint {
                    path: rel,
                    source,
                    origin: Origin::Custom { file, overrides },
                },
            );
        }
        Ok(all)
    }
}

fn collect_builtin(dir: &Dir<'static>, items: &mut BTreeMap<String, Blueprint>) {
    for file in dir.files() {
        let path = file.path().to_string_lossy().replace('\\', "/");
        let source = file.contents_utf8().unwrap_or_default().to_string();
        items.insert(
            path.clone(),
            Blueprint {
                path,
                source,
                origin: Origin::Builtin,
            },
        );
    }
    for sub in dir.dirs() {
        collect_builtin(sub, items);
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), Error> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(dir, e))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if kind.is_file() {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// Rendered files by output path relative to the output folder, sorted. Files rendered
/// from one group of identical blueprints share their text.
pub type Files = BTreeMap<String, Arc<str>>;

/// Compiles every blueprint once, then renders the model through it.
pub struct Renderer {
    env: Environment<'static>,
    blueprints: Blueprints,
}

impl Renderer {
    pub fn new(blueprints: Blueprints) -> Result<Self, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .map_err(|e| Error::Message(format!("template syntax: {e}")))?,
        );
        env.set_auto_escape_callback(escape::auto_escape_for);
        env.set_formatter(escape::formatter);
        register_filters(&mut env);
        for bp in blueprints.items.values() {
            env.add_template_owned(bp.path.clone(), bp.source.clone())
                .map_err(|e| blueprint_error(&blueprints, bp, &e, ""))?;
        }
        Ok(Self { env, blueprints })
    }

    /// The blueprints it renders.
    /// Every path the blueprints can render for the service at `index` (in any
    /// environment), whether or not it renders to anything.
    pub fn service_paths(&self, model: &Model, index: usize) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for bp in self.blueprints.items.values().filter(|b| !b.is_partial()) {
            for (service, env) in fan_out(&bp.path, model) {
                if service == Some(index) {
                    out.insert(output_path(&bp.path, model, service, env));
                }
            }
        }
        out
    }

    pub fn blueprints(&self) -> &Blueprints {
        &self.blueprints
    }

    pub fn render(&self, model: &Model) -> Result<Files, Error> {
        let platform = to_value(&model.platform);
        let environments = to_value(&model.environments);
        let services = to_value(&model.services);
        let vars = to_value(&model.vars);
        // The items of the lists above, shared rather than converted again: a platform's
        // services are the largest part of the context.
        let item = |list: &Value, i: usize| list.get_item_by_index(i).unwrap_or_default();
        let service_values: Vec<Value> = (0..model.services.len())
            .map(|i| item(&services, i))
            .collect();
        let env_values: Vec<Value> = (0..model.environments.len())
            .map(|i| item(&environments, i))
            .collect();
        let base = BTreeMap::from([
            ("platform", platform),
            ("environments", environments),
            ("services", services),
            ("vars", vars),
        ]);

        // One job per output file: (blueprint, service index, environment index).
        let mut jobs: Vec<Job> = Vec::new();
        for bp in self.blueprints.items.values().filter(|b| !b.is_partial()) {
            for (service, env) in fan_out(&bp.path, model) {
                jobs.push(Job { bp, service, env });
            }
        }
        let mut groups = group_identical(&jobs);
        // Files rendered once for the whole platform (the overview dashboard, the
        // architecture document) are the largest: started first, they do not leave one core
        // finishing them alone at the end.
        groups.sort_by_key(|g| jobs[g[0]].service.is_some());

        // Output path and, for error messages, which service and environment.
        let place = |job: &Job| -> (String, String) {
            let mut which = String::new();
            if let Some(i) = job.service {
                which.push_str(&format!(" for service {}", model.services[i].name));
            }
            if let Some(i) = job.env {
                which.push_str(&format!(" in environment {}", model.environments[i].name));
            }
            (
                output_path(&job.bp.path, model, job.service, job.env),
                which,
            )
        };
        let render_group = |group: &Vec<usize>| -> Result<Vec<(String, Arc<str>)>, Error> {
            let first = &jobs[group[0]];
            let bp = first.bp;
            let (_, which) = place(first);
            // One flat context (values are shared, not copied): every variable lookup is
            // a single map lookup.
            let mut ctx = base.clone();
            if let Some(i) = first.service {
                ctx.insert("service", service_values[i].clone());
            }
            if let Some(i) = first.env {
                ctx.insert("env", env_values[i].clone());
            }
            let template = self
                .env
                .get_template(&bp.path)
                .map_err(|err| blueprint_error(&self.blueprints, bp, &err, ""))?;
            let text = template
                .render(Value::from(ctx))
                .map_err(|err| blueprint_error(&self.blueprints, bp, &err, &which))?;
            if text.trim().is_empty() {
                return Ok(Vec::new());
            }
            // Exact size: every file is held until the plan is applied.
            let trimmed = text.trim_end();
            let mut exact = String::with_capacity(trimmed.len() + 1);
            exact.push_str(trimmed);
            exact.push('\n');
            let text: Arc<str> = exact.into();
            let mut checked = Vec::new();
            let mut out = Vec::with_capacity(group.len());
            for &j in group {
                let job = &jobs[j];
                let (path, which) = place(job);
                let syntax = Syntax::of(&path);
                if !checked.contains(&syntax) {
                    syntax.check(&text).map_err(|message| Error::Blueprint {
                        blueprint: job.bp.display(),
                        message: format!("rendered invalid {message}{which} (output {path})"),
                    })?;
                    checked.push(syntax);
                }
                check_path(&path).map_err(|message| Error::Blueprint {
                    blueprint: job.bp.display(),
                    message,
                })?;
                out.push((path, Arc::clone(&text)));
            }
            Ok(out)
        };
        // Rendering is independent per group; results are gathered in group order so the
        // first error reported is always the same one.
        let results: Vec<Result<Vec<_>, _>> = groups.par_iter().map(render_group).collect();

        let mut files = Files::new();
        for (result, group) in results.into_iter().zip(&groups) {
            for (path, text) in result? {
                if files.contains_key(&path) {
                    return Err(Error::Blueprint {
                        blueprint: jobs[group[0]].bp.display(),
                        message: format!("writes {path}, which another blueprint already writes"),
                    });
                }
                files.insert(path, text);
            }
        }
        Ok(files)
    }
}

/// One output file to render: a blueprint, for a service and an environment when its path
/// fans out.
/// The (service index, environment index) pairs a blueprint renders for: every service
/// when its path has `__service__`, every environment when it has `__env__`, both: every
/// pair, neither: once.
pub fn fan_out(path: &str, model: &Model) -> Vec<(Option<usize>, Option<usize>)> {
    let services: Vec<Option<usize>> = if path.contains(SERVICE_TOKEN) {
        (0..model.services.len()).map(Some).collect()
    } else {
        vec![None]
    };
    let envs: Vec<Option<usize>> = if path.contains(ENV_TOKEN) {
        (0..model.environments.len()).map(Some).collect()
    } else {
        vec![None]
    };
    services
        .iter()
        .flat_map(|&s| envs.iter().map(move |&e| (s, e)))
        .collect()
}

/// The output path of a blueprint rendered for a service and an environment.
pub fn output_path(
    path: &str,
    model: &Model,
    service: Option<usize>,
    env: Option<usize>,
) -> String {
    let mut out = path.to_string();
    if let Some(i) = service {
        out = out.replace(SERVICE_TOKEN, &model.services[i].name);
    }
    if let Some(i) = env {
        out = out.replace(ENV_TOKEN, &model.environments[i].name);
    }
    out
}

struct Job<'a> {
    bp: &'a Blueprint,
    service: Option<usize>,
    env: Option<usize>,
}

/// Jobs by the output they produce: blueprints with the same text, rendered for the same
/// service and environment with the same escaping, give the same file, so each group is
/// rendered (and checked) once. The built-in dashboards ship this way in three places.
/// Groups are in the order of their first job.
fn group_identical(jobs: &[Job]) -> Vec<Vec<usize>> {
    use std::collections::HashMap;
    // Blueprints that render alike (same text, same escaping) get one number, computed
    // once per blueprint: the per-job key below hashes no template text.
    let mut kinds: HashMap<(&str, minijinja::AutoEscape), usize> = HashMap::new();
    let mut kind_of: HashMap<&str, usize> = HashMap::new();
    let mut index: HashMap<(usize, Option<usize>, Option<usize>), usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let path = job.bp.path.as_str();
        let kind = *kind_of.entry(path).or_insert_with(|| {
            let next = kinds.len();
            *kinds
                .entry((job.bp.source.as_str(), escape::auto_escape_for(path)))
                .or_insert(next)
        });
        match index.get(&(kind, job.service, job.env)) {
            Some(&g) => groups[g].push(j),
            None => {
                index.insert((kind, job.service, job.env), groups.len());
                groups.push(vec![j]);
            }
        }
    }
    groups
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// A filter blueprints can use: its name, what it does (for docs/template-context.md) and
/// how it is registered. The one list both the engine and the docs read.
pub struct Filter {
    pub name: &'static str,
    pub doc: &'static str,
    register: fn(&mut Environment<'static>, &'static str),
}

pub const FILTERS: &[Filter] = &[
    // Complete scalars of a format, safe to write as they are.
    Filter {
        name: "quote",
        doc: "A double-quoted string, valid in YAML and JSON alike: `{{ x | quote }}`.",
        register: |env, name| {
            env.add_filter(name, |v: String| Value::from_safe_string(escape::quote(&v)));
        },
    },
    Filter {
        name: "yaml",
        doc: "Any value as one complete YAML value (lists and maps in flow style). What `{{ x }}` already does in a .yaml file; useful in other files.",
        register: |env, name| {
            env.add_filter(name, |v: Value| {
                escape::yaml_value(&v).map(Value::from_safe_string)
            });
        },
    },
    Filter {
        name: "json",
        doc: "Any value as one JSON value (strings quoted). What `{{ x }}` already does in a .json file; e.g. `ENTRYPOINT [{{ path | json }}]` in a Dockerfile.",
        register: |env, name| {
            env.add_filter(name, |v: Value| {
                escape::json_value(&v).map(Value::from_safe_string)
            });
        },
    },
    Filter {
        name: "block",
        doc: "Any value as block-style YAML indented by N spaces (none: 0), for nested data on lines of its own: `strategy:` then, on the next line, `{{ rollout.strategy | block(4) }}`.",
        register: |env, name| {
            env.add_filter(name, |v: Value, indent: Option<usize>| {
                escape::yaml_block(&v, indent.unwrap_or(0)).map(Value::from_safe_string)
            });
        },
    },
    // A shell word is text inside another format (a YAML `run:` string), so it stays
    // unsafe: the file's own escaping still applies, e.g. `{{ "echo " ~ (x | shell) }}`.
    Filter {
        name: "shell",
        doc: "One inert POSIX shell word (single-quoted when needed). The file's own escaping still applies afterwards: `run: {{ \"echo \" ~ (x | shell) }}`.",
        register: |env, name| {
            env.add_filter(name, |v: String| escape::shell_word(&v));
        },
    },
    // Markdown has no auto-escaping: data in a .md blueprint goes through `| markdown`.
    Filter {
        name: "markdown",
        doc: "Text that Markdown shows as written (no links, emphasis, HTML or table breaks). Markdown files have no auto-escaping: use it on every value there.",
        register: |env, name| {
            env.add_filter(name, |v: String| escape::markdown_text(&v));
        },
    },
    Filter {
        name: "shouty",
        doc: "`trip-management` → `TRIP_MANAGEMENT` (environment variable names).",
        register: |env, name| {
            env.add_filter(name, |v: String| heck::AsShoutySnakeCase(v).to_string());
        },
    },
    Filter {
        name: "snake",
        doc: "`trip-management` → `trip_management`.",
        register: |env, name| {
            env.add_filter(name, |v: String| heck::AsSnakeCase(v).to_string());
        },
    },
];

fn register_filters(env: &mut Environment<'static>) {
    for filter in FILTERS {
        (filter.register)(env, filter.name);
    }
}

/// A template error as `file:line: what went wrong`, naming the file the error is in: the
/// blueprint itself, or the partial it included. The offending line is quoted below.
fn blueprint_error(all: &Blueprints, bp: &Blueprint, err: &minijinja::Error, which: &str) -> Error {
    // A failure inside an included partial arrives wrapped in the includer's "could not
    // render include" error: the innermost error with a place is the one to show.
    let mut inner = err;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(e) = cause.downcast_ref::<minijinja::Error>()
            && (e.name().is_some() || e.line().is_some())
        {
            inner = e;
        }
        source = cause.source();
    }
    let mut message = inner.kind().to_string();
    if let Some(detail) = inner.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    let at = inner
        .name()
        .and_then(|name| all.items.get(name))
        .unwrap_or(bp);
    let mut place = at.display();
    if let Some(line) = inner.line() {
        place.push_str(&format!(":{line}"));
    }
    let mut notes = Vec::new();
    if at.path != bp.path {
        let line = err.line().map(|l| format!(":{l}")).unwrap_or_default();
        notes.push(format!("included from {}{line}", bp.display()));
    }
    if !which.trim().is_empty() {
        notes.push(format!("rendering{which}"));
    }
    if !notes.is_empty() {
        message.push_str(&format!(" ({})", notes.join(", ")));
    }
    if let Some(line) = inner.line()
        && let Some(text) = at.source.lines().nth(line.saturating_sub(1))
    {
        message.push_str(&format!("\n{line:>5} | {}", text.trim_end()));
    }
    Error::Blueprint {
        blueprint: place,
        message,
    }
}

/// A rendered path must stay inside the output folder.
pub fn check_path(path: &str) -> Result<(), String> {
    let ok = !path.starts_with('/')
        && !path.contains('\\')
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && !path.starts_with(".bulkhead/");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "output path `{path}` would leave the output folder or touch .bulkhead/"
        ))
    }
}
