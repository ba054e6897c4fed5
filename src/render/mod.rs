//! Blueprints → desired files. Blueprints are minijinja templates laid out like the output
//! tree: built-in ones are embedded in the binary, a user folder overrides them by relative
//! path or adds new ones. A path segment `__service__` renders once per service, `__env__`
//! once per environment. Templates whose first path segment starts with `_` are partials
//! (included, never written). Every rendered YAML/JSON file is parsed here, so a blueprint
//! bug is reported with the blueprint's path before anything is planned.

pub mod escape;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior, Value, context};
use rayon::prelude::*;

use crate::error::Error;
use crate::model::Model;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/blueprints");

pub const SERVICE_TOKEN: &str = "__service__";
pub const ENV_TOKEN: &str = "__env__";

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

/// Rendered files by output path relative to the output folder, sorted.
pub type Files = BTreeMap<String, String>;

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
                .map_err(|e| blueprint_error(bp, &e, ""))?;
        }
        Ok(Self { env, blueprints })
    }

    pub fn render(&self, model: &Model) -> Result<Files, Error> {
        let platform = to_value(&model.platform);
        let environments = to_value(&model.environments);
        let services = to_value(&model.services);
        let vars = to_value(&model.vars);
        let service_values: Vec<Value> = model.services.iter().map(to_value).collect();
        let env_values: Vec<Value> = model.environments.iter().map(to_value).collect();
        let base = context! { platform, environments, services, vars };

        // One job per output file: (blueprint, service index, environment index).
        let mut jobs: Vec<(&Blueprint, Option<usize>, Option<usize>)> = Vec::new();
        for bp in self.blueprints.items.values().filter(|b| !b.is_partial()) {
            let services: Vec<Option<usize>> = if bp.path.contains(SERVICE_TOKEN) {
                (0..model.services.len()).map(Some).collect()
            } else {
                vec![None]
            };
            let envs: Vec<Option<usize>> = if bp.path.contains(ENV_TOKEN) {
                (0..model.environments.len()).map(Some).collect()
            } else {
                vec![None]
            };
            for s in &services {
                for e in &envs {
                    jobs.push((bp, *s, *e));
                }
            }
        }

        let render_one = |(bp, s, e): &(&Blueprint, Option<usize>, Option<usize>)| -> Result<Option<(String, String)>, Error> {
            let mut path = bp.path.clone();
            let mut ctx = base.clone();
            let mut which = String::new();
            if let Some(i) = *s {
                path = path.replace(SERVICE_TOKEN, &model.services[i].name);
                ctx = context! { service => service_values[i].clone(), ..ctx };
                which.push_str(&format!(" for service {}", model.services[i].name));
            }
            if let Some(i) = *e {
                path = path.replace(ENV_TOKEN, &model.environments[i].name);
                ctx = context! { env => env_values[i].clone(), ..ctx };
                which.push_str(&format!(" in environment {}", model.environments[i].name));
            }
            let template = self.env.get_template(&bp.path).map_err(|err| blueprint_error(bp, &err, ""))?;
            let text = template.render(ctx).map_err(|err| blueprint_error(bp, &err, &which))?;
            if text.trim().is_empty() {
                return Ok(None);
            }
            // Exact capacity: `format!` would over-allocate up to twice the size, and every
            // file is held until the plan is applied.
            let trimmed = text.trim_end();
            let mut exact = String::with_capacity(trimmed.len() + 1);
            exact.push_str(trimmed);
            exact.push('\n');
            let text = exact;
            check_syntax(&path, &text).map_err(|message| Error::Blueprint {
                blueprint: bp.display(),
                message: format!("rendered invalid {message}{which} (output {path})"),
            })?;
            check_path(&path).map_err(|message| Error::Blueprint { blueprint: bp.display(), message })?;
            Ok(Some((path, text)))
        };
        // Rendering is independent per file; results are gathered in job order so the
        // first error reported is always the same one.
        let results: Vec<Result<Option<(String, String)>, Error>> =
            jobs.par_iter().map(render_one).collect();

        let mut files = Files::new();
        for (result, (bp, _, _)) in results.into_iter().zip(&jobs) {
            if let Some((path, text)) = result? {
                if files.contains_key(&path) {
                    return Err(Error::Blueprint {
                        blueprint: bp.display(),
                        message: format!("writes {path}, which another blueprint already writes"),
                    });
                }
                files.insert(path, text);
            }
        }
        Ok(files)
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    Value::from(minijinja::value::Serde(v))
}

fn register_filters(env: &mut Environment<'static>) {
    // Complete scalars of a format, safe to write as they are.
    env.add_filter("quote", |v: String| {
        Value::from_safe_string(escape::quote(&v))
    });
    env.add_filter("yaml", |v: Value| {
        escape::yaml_value(&v).map(Value::from_safe_string)
    });
    env.add_filter("json", |v: Value| {
        escape::json_value(&v).map(Value::from_safe_string)
    });
    // A shell word is text inside another format (a YAML `run:` string), so it stays
    // unsafe: the file's own escaping still applies, e.g. `{{ "echo " ~ (x | shell) }}`.
    env.add_filter("shell", |v: String| escape::shell_word(&v));
    // Markdown has no auto-escaping: data in a .md blueprint goes through `| markdown`.
    env.add_filter("markdown", |v: String| escape::markdown_text(&v));
    env.add_filter("shouty", |v: String| heck::AsShoutySnakeCase(v).to_string());
    env.add_filter("snake", |v: String| heck::AsSnakeCase(v).to_string());
}

fn blueprint_error(bp: &Blueprint, err: &minijinja::Error, which: &str) -> Error {
    let mut message = err.kind().to_string();
    if let Some(detail) = err.detail() {
        message.push_str(": ");
        message.push_str(detail);
    }
    let name = err.name().unwrap_or(&bp.path);
    let line = err
        .line()
        .map(|l| format!(" at line {l}"))
        .unwrap_or_default();
    let place = if name == bp.path {
        line
    } else {
        format!(" in {name}{line}")
    };
    Error::Blueprint {
        blueprint: bp.display(),
        message: format!("{message}{place}{which}"),
    }
}

/// Parses YAML (every document) and JSON output; the error names the line.
fn check_syntax(path: &str, text: &str) -> Result<(), String> {
    if path.ends_with(".yaml") || path.ends_with(".yml") {
        for doc in serde_yaml_ng::Deserializer::from_str(text) {
            use serde::Deserialize;
            serde_yaml_ng::Value::deserialize(doc).map_err(|e| format!("YAML: {e}"))?;
        }
    } else if path.ends_with(".json") {
        serde_json::from_str::<serde_json::Value>(text).map_err(|e| format!("JSON: {e}"))?;
    }
    Ok(())
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
