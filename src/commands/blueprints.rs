//! `bulkhead blueprints list|eject|upgrade`: what the renderer will use (built-in,
//! overridden, added), copying built-in blueprints into a platform's own folder, and moving
//! the Git pin of a platform's blueprints. List and eject need no valid service.toml: only
//! `platform.blueprints` is read from it, when there is one.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use super::BlueprintSource;
use crate::cli::{
    BlueprintsArgs, BlueprintsCommand, BlueprintsEjectArgs, BlueprintsListArgs,
    BlueprintsUpgradeArgs, Format, Options,
};
use crate::diagnostic::Source;
use crate::error::{Error, ExitStatus};
use crate::render::{Blueprints, FanOut, Origin, git};
use crate::spec::BlueprintsSpec;
use crate::spec::edit::SpecMut;
use crate::state::{BlueprintsLock, Lock};

pub fn run(global: &Options, args: &BlueprintsArgs) -> Result<ExitStatus, Error> {
    match &args.what {
        BlueprintsCommand::List(a) => list(global, a),
        BlueprintsCommand::Eject(a) => eject(global, a),
        BlueprintsCommand::Upgrade(a) => upgrade(global, a),
    }
}

/// Where the platform's blueprints come from.
struct Setup {
    /// service.toml, when there is one.
    spec: Option<PathBuf>,
    /// `platform.blueprints` as written in it.
    configured: Option<BlueprintsSpec>,
    /// The Git pin in use, when the blueprints come from Git.
    pinned: Option<BlueprintsLock>,
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
                Some(parsed) => configured = parsed.platform.blueprints,
                // Broken TOML: nothing can be read from it, not even `platform.blueprints`.
                None => {
                    return Err(Error::Invalid {
                        rendered: source.render(&checked.diagnostics, true),
                        summary: format!("{} is not valid TOML", source.name),
                    });
                }
            }
        }
        let source = match &spec {
            Some(path) => {
                let out = global.out.clone().unwrap_or_else(|| spec_dir(path));
                let locked = Lock::read(&out)?.and_then(|l| l.blueprints);
                super::blueprint_source(
                    path,
                    configured.as_ref(),
                    global.blueprints.as_deref(),
                    locked.as_ref(),
                )?
            }
            None => BlueprintSource {
                dir: global.blueprints.clone(),
                ..BlueprintSource::default()
            },
        };
        source.print_notes();
        let from = if global.blueprints.is_some() {
            "--blueprints"
        } else {
            "platform.blueprints"
        };
        Ok(Self {
            spec,
            configured,
            source: if source.dir.is_some() { from } else { "" },
            dir: source.dir,
            pinned: source.pinned,
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
                "git": setup.pinned.as_ref().map(|p| serde_json::json!({
                    "git": p.git, "rev": p.rev, "path": p.path, "commit": p.commit,
                })),
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
    match (&setup.dir, &setup.pinned) {
        (Some(_), Some(pin)) => s.push_str(&format!(
            "Blueprints: built-in, with `{}` of {} at {} (commit {}, {}) laid over them\n\n",
            pin.path,
            pin.git,
            pin.rev,
            git::short(&pin.commit),
            setup.source
        )),
        (Some(dir), None) => s.push_str(&format!(
            "Blueprints: built-in, with {} ({}) laid over them\n\n",
            slash(dir),
            setup.source
        )),
        (None, _) => s.push_str(
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
    let configured = setup
        .configured
        .as_ref()
        .and_then(BlueprintsSpec::folder)
        .map(|f| f.value.as_str());
    let same = configured.is_some_and(|c| {
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

/// Moves `rev` of the Git pin to `args.rev` once the repository is known to have it, shows
/// what changed in the blueprints, then the plan. Generates nothing: apply does, and records
/// the new commit.
fn upgrade(global: &Options, args: &BlueprintsUpgradeArgs) -> Result<ExitStatus, Error> {
    let rev = args.rev.as_str();
    crate::spec::check_git_rev(rev)
        .map_err(|why| Error::Message(format!("cannot pin `{rev}`: {why}")))?;
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let name = super::display_path(&loaded.path);
    let Some(BlueprintsSpec::Git(pin)) = &loaded.spec.platform.blueprints else {
        return Err(Error::Message(format!(
            "{name} pins no blueprints in Git, so there is nothing to upgrade: write \
             `blueprints = {{ git = \"<url>\", rev = \"<tag>\", path = \"blueprints\" }}` \
             in its [platform] table"
        )));
    };
    let (Some(url), Some(old_rev)) = (&pin.git, &pin.rev) else {
        return Err(Error::Message(format!(
            "platform.blueprints of {name} needs `git` and `rev`"
        )));
    };
    let out_dir = loaded.out_dir();
    // The commit in use now: the lock's for this pin, else what the pin means today.
    let current = match loaded.blueprint_source_in(&out_dir) {
        Ok(source) => source.pinned,
        Err(e) => {
            anstream::eprintln!(
                "warning: the current pin ({} at {}) cannot be resolved, so its changes cannot be \
                 shown: {e}",
                url.value,
                old_rev.value
            );
            None
        }
    };
    let path = current.as_ref().map_or_else(
        || {
            pin.path
                .as_ref()
                .map_or_else(|| ".".to_string(), |p| p.value.clone())
        },
        |c| c.path.clone(),
    );
    let repo = git::Repo::new(&url.value, &spec_dir(&loaded.path))?;
    let resolved = repo.resolve(rev)?;
    if let Some(offline) = &resolved.offline {
        anstream::eprintln!("warning: {offline}");
    }
    let new = resolved.commit;
    if rev == old_rev.value
        && let Some(c) = current.as_ref().filter(|c| c.commit != new)
    {
        return Err(Error::Message(format!(
            "`{rev}` is already the pin: the lock holds it at commit {}, and {rev} is now commit \
             {}. To move to that commit, pin it: `bulkhead blueprints upgrade {new}`",
            git::short(&c.commit),
            git::short(&new)
        )));
    }
    let dir = repo.folder(&new, rev, &path)?;

    // service.toml: only `rev` changes; the result must still be valid.
    let old_text = std::fs::read_to_string(&loaded.path).map_err(|e| Error::io(&loaded.path, e))?;
    let mut doc = SpecMut::parse(&old_text)
        .map_err(|e| Error::Message(format!("{name} is not valid TOML ({e}); nothing written")))?;
    doc.set_blueprints_rev(rev)?;
    let new_text = doc.to_string();
    let after = Source {
        name: name.clone(),
        text: new_text.clone(),
    };
    let checked = crate::load::load(&after);
    if checked.errors().next().is_some() {
        let errors: Vec<_> = checked.errors().cloned().collect();
        return Err(Error::Invalid {
            rendered: after.render(&errors, true),
            summary: format!("not upgraded: {name} would be invalid; nothing written"),
        });
    }
    let folder = loaded
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = loaded
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Message(format!("{name} is not a file")))?;
    if new_text != old_text {
        crate::apply::write_atomic(folder, &file, new_text.as_bytes())?;
    }

    let bold = anstyle::Style::new().bold();
    let old_commit = current.as_ref().map(|c| c.commit.as_str());
    anstream::println!(
        "{bold}Blueprints{bold:#}: {} `{path}`, {} → {rev} (commit {} → {}); {name} updated.",
        url.value,
        old_rev.value,
        old_commit.map_or("unknown", git::short),
        git::short(&new)
    );
    match old_commit {
        Some(old) if old == new => {
            anstream::println!("Same commit: the blueprints do not change.");
        }
        Some(old) => {
            let added = repo.log(old, &new, &path);
            let left_out = repo.log(&new, old, &path);
            if !added.is_empty() {
                anstream::println!("\nCommits that change `{path}`:");
                for line in &added {
                    anstream::println!("  {line}");
                }
            }
            if !left_out.is_empty() {
                anstream::println!("\nCommits left out (in use now, not in {rev}):");
                for line in &left_out {
                    anstream::println!("  {line}");
                }
            }
            let files = repo.changed_files(old, &new, &path);
            if files.is_empty() {
                anstream::println!("\nNo blueprint file in `{path}` changes.");
            } else {
                anstream::println!("\nBlueprint files changed in `{path}`:");
                for line in &files {
                    anstream::println!("  {line}");
                }
            }
        }
        None => {}
    }
    anstream::println!();

    let source = BlueprintSource {
        dir: Some(dir),
        pinned: Some(BlueprintsLock {
            git: url.value.clone(),
            rev: rev.to_string(),
            path,
            commit: new.clone(),
        }),
        moved: true,
        notes: Vec::new(),
    };
    let plan = loaded.plan_from(&out_dir, source, |_, _| Ok(crate::plan::Scope::default()))?;
    super::plan::show(&plan, global, &args.show)?;
    anstream::println!(
        "Next: `bulkhead apply` writes these files and records commit {} in {}.",
        git::short(&new),
        crate::state::lock_rel()
    );
    let conflicts = plan.conflict_report(false);
    for line in &conflicts {
        anstream::eprintln!("{line}");
    }
    Ok(if conflicts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Conflicts
    })
}
