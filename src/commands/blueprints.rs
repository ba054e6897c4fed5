//! `bulkhead blueprints list|eject`: what the renderer will use (built-in, overridden,
//! added) and copying built-in blueprints into a platform's own folder. Neither needs a
//! valid service.toml: only `platform.blueprints` is read from it, when there is one.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::cli::{
    BlueprintsArgs, BlueprintsCommand, BlueprintsEjectArgs, BlueprintsListArgs, Format, Options,
};
use crate::diagnostic::Source;
use crate::error::{Error, ExitStatus};
use crate::render::{Blueprints, FanOut, Origin};

pub fn run(global: &Options, args: &BlueprintsArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        BlueprintsCommand::List(a) => list(global, a),
        BlueprintsCommand::Eject(a) => eject(global, a),
    }
}

/// Where the platform's blueprints come from.
struct Setup {
    /// service.toml, when there is one.
    spec: Option<PathBuf>,
    /// `platform.blueprints` as written in it.
    configured: Option<String>,
    /// The folder in use: `--blueprints`, else `platform.blueprints` relative to service.toml.
    dir: Option<PathBuf>,
    /// How `dir` was chosen, for messages.
    source: &'static str,
}

impl Setup {
    fn read(global: &Options) -> Result<Self, Error> {
        let spec = if global.file.is_some() {
            Some(super::locate(global)?)
        } else {
            super::locate(global).ok()
        };
        let mut configured = None;
        if let Some(path) = &spec {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            let source = Source {
                name: super::display_path(path),
                text,
            };
            // The rules' verdict does not matter here: only broken TOML stops the command.
            let checked = crate::load::load(&source);
            match checked.spec {
                Some(parsed) => configured = parsed.platform.blueprints.map(|b| b.value),
                // Broken TOML: nothing can be read from it, not even `platform.blueprints`.
                None => {
                    return Err(Error::Invalid {
                        rendered: source.render(&checked.diagnostics, true),
                        summary: format!("{} is not valid TOML", source.name),
                    });
                }
            }
        }
        let spec_dir = spec.as_deref().map(spec_dir);
        let (dir, source) = match (&global.blueprints, &configured, &spec_dir) {
            (Some(flag), _, _) => (Some(flag.clone()), "--blueprints"),
            (None, Some(rel), Some(base)) => (
                Some(PathBuf::from(super::display_path(&base.join(rel)))),
                "platform.blueprints",
            ),
            _ => (None, ""),
        };
        Ok(Self {
            spec,
            configured,
            dir,
            source,
        })
    }
}

/// The folder of service.toml (`.` for a bare file name).
fn spec_dir(spec: &Path) -> PathBuf {
    spec.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn slash(path: &Path) -> String {
    path.display().to_string().replace('\\', "/")
}

fn list(global: &Options, args: &BlueprintsListArgs) -> Result<ExitStatus, Error> {
    let setup = Setup::read(global)?;
    let blueprints = Blueprints::with_overrides(setup.dir.as_deref())?;
    let rows: Vec<Row> = blueprints
        .items
        .values()
        .map(|bp| {
            let (origin, file) = match &bp.origin {
                Origin::Builtin => ("built-in", None),
                Origin::Custom {
                    file,
                    overrides: true,
                } => ("overridden", Some(slash(file))),
                Origin::Custom { file, .. } => ("added", Some(slash(file))),
            };
            Row {
                path: bp.path.clone(),
                fan_out: FanOut::of(&bp.path),
                origin,
                file,
            }
        })
        .collect();
    let text = match args.format {
        Format::Json => {
            let json = serde_json::json!({
                "folder": setup.dir.as_deref().map(slash),
                "blueprints": rows.iter().map(|r| serde_json::json!({
                    "path": r.path,
                    "origin": r.origin,
                    "file": r.file,
                    "partial": r.fan_out == FanOut::Partial,
                    "fan_out": r.fan_out.describe(),
                })).collect::<Vec<_>>(),
            });
            let mut text = serde_json::to_string_pretty(&json)
                .map_err(|e| Error::Message(format!("cannot write JSON: {e}")))?;
            text.push('\n');
            text
        }
        Format::Text => list_text(&setup, &rows),
    };
    let mut out = anstream::stdout();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(Error::io(Path::new("<stdout>"), e));
        }
        _ => {}
    }
    Ok(ExitStatus::Success)
}

struct Row {
    path: String,
    fan_out: FanOut,
    origin: &'static str,
    file: Option<String>,
}

fn list_text(setup: &Setup, rows: &[Row]) -> String {
    let bold = anstyle::Style::new().bold();
    let yellow = anstyle::AnsiColor::Yellow.on_default();
    let green = anstyle::AnsiColor::Green.on_default();
    let dim = anstyle::Style::new().dimmed();
    let mut s = String::new();
    match &setup.dir {
        Some(dir) => s.push_str(&format!(
            "Blueprints: built-in, with {} ({}) laid over them\n\n",
            slash(dir),
            setup.source
        )),
        None => s.push_str(
            "Blueprints: built-in only (no platform.blueprints in service.toml, no --blueprints)\n\n",
        ),
    }
    let path_w = rows.iter().map(|r| r.path.len()).max().unwrap_or(4).max(4);
    let fan_w = rows
        .iter()
        .map(|r| r.fan_out.describe().len())
        .max()
        .unwrap_or(7)
        .max(7);
    s.push_str(&format!(
        "{bold}{:<path_w$}  {:<fan_w$}  ORIGIN{bold:#}\n",
        "PATH", "FAN-OUT"
    ));
    for r in rows {
        let fan = r.fan_out.describe();
        let origin = match (r.origin, &r.file) {
            ("overridden", Some(f)) => format!("{yellow}overridden by {f}{yellow:#}"),
            ("added", Some(f)) => format!("{green}added: {f}{green:#}"),
            (o, _) => format!("{dim}{o}{dim:#}"),
        };
        s.push_str(&format!("{:<path_w$}  {fan:<fan_w$}  {origin}\n", r.path));
    }
    let count = |o: &str| rows.iter().filter(|r| r.origin == o).count();
    let partials = rows.iter().filter(|r| r.fan_out == FanOut::Partial).count();
    s.push_str(&format!(
        "\n{} blueprints: {} built-in, {} overridden, {} added ({partials} of them partials, only included by others)\n",
        rows.len(),
        count("built-in"),
        count("overridden"),
        count("added"),
    ));
    s
}

fn eject(global: &Options, args: &BlueprintsEjectArgs) -> Result<ExitStatus, Error> {
    let setup = Setup::read(global)?;
    let target = match (&args.dir, &setup.spec) {
        (Some(dir), _) => dir.clone(),
        (None, Some(spec)) => spec_dir(spec).join("blueprints"),
        (None, None) => PathBuf::from("blueprints"),
    };
    let builtin = Blueprints::builtin();
    let prefixes: Vec<String> = args
        .only
        .iter()
        .map(|p| p.trim_start_matches("./").trim_end_matches('/').to_string())
        .collect();
    let under = |path: &str, prefix: &str| {
        prefix.is_empty()
            || path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    for prefix in &prefixes {
        if !builtin.items.keys().any(|p| under(p, prefix)) {
            let mut candidates: BTreeSet<&str> = BTreeSet::new();
            for path in builtin.items.keys() {
                candidates.insert(path);
                for (i, _) in path.match_indices('/') {
                    candidates.insert(&path[..i]);
                }
            }
            let hint = crate::diagnostic::did_you_mean(prefix, candidates.iter().copied())
                .unwrap_or_else(|| "`bulkhead blueprints list` shows them all".to_string());
            return Err(Error::Message(format!(
                "no built-in blueprint is `{prefix}` or lies under it; {hint}"
            )));
        }
    }
    let chosen: Vec<_> = builtin
        .items
        .values()
        .filter(|bp| prefixes.is_empty() || prefixes.iter().any(|p| under(&bp.path, p)))
        .collect();

    let mut created = Vec::new();
    let mut skipped = Vec::new();
    for bp in chosen {
        let dest = target.join(&bp.path);
        if dest.symlink_metadata().is_ok() {
            skipped.push(dest);
            continue;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        // `create_new`: a file that appeared meanwhile is still never overwritten.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&dest);
        match file {
            Ok(mut f) => {
                f.write_all(bp.source.as_bytes())
                    .map_err(|e| Error::io(&dest, e))?;
                created.push(dest);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => skipped.push(dest),
            Err(e) => return Err(Error::io(&dest, e)),
        }
    }

    let green = anstyle::AnsiColor::Green.on_default();
    let yellow = anstyle::AnsiColor::Yellow.on_default();
    if !global.quiet {
        for f in &created {
            anstream::println!("  {green}created{green:#}  {}", slash(f));
        }
        for f in &skipped {
            anstream::println!("  {yellow}skipped{yellow:#}  {} (exists)", slash(f));
        }
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    anstream::println!(
        "Ejected {} blueprint{} into {}{}.",
        created.len(),
        plural(created.len()),
        slash(&target),
        if skipped.is_empty() {
            String::new()
        } else {
            format!(
                "; skipped {} that already exist{}",
                skipped.len(),
                if skipped.len() == 1 { "s" } else { "" }
            )
        }
    );
    anstream::println!("{}", next_step(&setup, &target));
    Ok(ExitStatus::Success)
}

/// What to do after ejecting: the `platform.blueprints` line, unless already in place.
fn next_step(setup: &Setup, target: &Path) -> String {
    let Some(spec) = &setup.spec else {
        return format!(
            "To use them, set `blueprints` in the [platform] table of your service.toml to this \
             folder, relative to service.toml, or pass --blueprints {}",
            slash(target)
        );
    };
    let base = spec_dir(spec);
    let rel = relative(&base, target).unwrap_or_else(|| target.to_path_buf());
    let rel = slash(&rel);
    let line = format!("blueprints = {}", toml_edit::Value::from(rel.as_str()));
    let same = setup.configured.as_deref().is_some_and(|c| {
        let configured = base.join(c);
        match (configured.canonicalize(), target.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    });
    if same {
        format!(
            "{} already uses this folder ({line}). A file there replaces the built-in one of the \
             same path; delete what you do not change, so bulkhead upgrades still reach it.",
            super::display_path(spec)
        )
    } else {
        format!(
            "To use them, add this line (platform.blueprints) to the [platform] table of {}:\n\n    \
             {line}\n\nA file there replaces the built-in one of the same path; delete what you do \
             not change, so bulkhead upgrades still reach it.",
            super::display_path(spec)
        )
    }
}

/// `to` relative to the folder `from` (both must exist), e.g. `../shared/blueprints`.
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let from = from.canonicalize().ok()?;
    let to = to.canonicalize().ok()?;
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c.as_os_str());
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    Some(rel)
}
