//! Blueprints pinned in a Git repository (`platform.blueprints = { git, rev, path }`): fetched
//! with the system `git` into a cache, a revision resolved to a commit, and the commit's files
//! written out as a plain folder that [`super::Blueprints::with_overrides`] reads like any
//! other. This module runs git and owns the cache's layout; which commit to use (the lock's,
//! or a new one) is decided by the caller, and nothing here writes to an output folder.
//!
//! The cache is `$BULKHEAD_CACHE_DIR`, else `$XDG_CACHE_HOME/bulkhead`, else
//! `~/.cache/bulkhead`. Per repository (by a hash of its URL), `git/<hash>/repo.git` mirrors
//! its branches and tags, and `git/<hash>/trees/<commit>/` holds one commit's files, written
//! once and never changed. A revision or URL from service.toml is never read by git as an
//! option: the reader refuses a leading `-`, and every such argument here follows `--` or
//! `--end-of-options`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::Error;

/// Overrides where the cache lives (tests, CI caches).
pub const CACHE_ENV: &str = "BULKHEAD_CACHE_DIR";

/// The folder all of bulkhead's caches live in.
pub fn cache_root() -> Result<PathBuf, Error> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = from(CACHE_ENV) {
        return Ok(dir);
    }
    if let Some(dir) = from("XDG_CACHE_HOME") {
        return Ok(dir.join("bulkhead"));
    }
    if let Some(home) = from("HOME").or_else(|| from("USERPROFILE")) {
        return Ok(home.join(".cache").join("bulkhead"));
    }
    Err(Error::Message(format!(
        "no folder for the Git cache of the blueprints: set {CACHE_ENV} (or XDG_CACHE_HOME, or HOME)"
    )))
}

/// One repository of blueprints, as service.toml names it, and its place in the cache.
pub struct Repo {
    /// The URL as written in service.toml (for messages and the lock).
    pub url: String,
    /// What git is given: the URL, or a relative local path made absolute.
    fetch_url: String,
    /// `git/<hash>` in the cache.
    dir: PathBuf,
}

/// A revision resolved to a commit.
pub struct Resolved {
    pub commit: String,
    /// Set when the repository could not be reached and the cache answered instead.
    pub offline: Option<String>,
}

impl Repo {
    /// `url` as written in service.toml; a relative local path is relative to `base` (the
    /// folder of service.toml).
    pub fn new(url: &str, base: &Path) -> Result<Self, Error> {
        let fetch_url = if is_relative_path(url) {
            let joined = base.join(url);
            std::path::absolute(&joined)
                .unwrap_or(joined)
                .to_string_lossy()
                .into_owned()
        } else {
            url.to_string()
        };
        let hash = crate::state::hash(&fetch_url);
        let dir = cache_root()?.join("git").join(&hash[..16]);
        Ok(Self {
            url: url.to_string(),
            fetch_url,
            dir,
        })
    }

    fn git_dir(&self) -> PathBuf {
        self.dir.join("repo.git")
    }

    /// The folder of `path` in `commit`, written out in the cache if it is not there yet.
    /// `commit` must be in the cache (see [`Repo::resolve`], [`Repo::ensure`]).
    pub fn folder(&self, commit: &str, rev: &str, path: &str) -> Result<PathBuf, Error> {
        let tree = self.dir.join("trees").join(commit);
        let folder = tree.join(path);
        if !tree.is_dir() {
            self.write_tree(commit, &tree)?;
        }
        if !folder.is_dir() {
            return Err(Error::Message(format!(
                "{} at {rev} (commit {}) has no folder `{path}`: check `path` in platform.blueprints \
                 (the repository's folders: {})",
                self.url,
                short(commit),
                top_folders(&tree)
            )));
        }
        Ok(folder)
    }

    /// Writes the files of `commit` into `tree` through a temporary folder, so that a
    /// half-written tree is never taken for a whole one.
    fn write_tree(&self, commit: &str, tree: &Path) -> Result<(), Error> {
        let trees = tree.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(trees).map_err(|e| Error::io(trees, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(trees)
            .map_err(|e| Error::io(trees, e))?;
        let index = tmp.path().join(".bulkhead-index");
        let files = tmp.path().join("files");
        std::fs::create_dir(&files).map_err(|e| Error::io(&files, e))?;
        for args in [
            vec!["read-tree".into(), format!("{commit}^{{tree}}")],
            vec!["checkout-index".into(), "-a".into(), "-f".into()],
        ] {
            let mut cmd = self.git();
            // Links in the repository become plain files holding their target: a blueprint
            // never reads a file outside the commit.
            cmd.arg("-c").arg("core.symlinks=false");
            cmd.arg("--work-tree").arg(&files).args(&args);
            cmd.env("GIT_INDEX_FILE", &index);
            let out = run(cmd, &self.url, commit)?;
            if !out.status.success() {
                return Err(Error::Message(format!(
                    "could not write out commit {} of {} into the cache {}: {}",
                    short(commit),
                    self.url,
                    self.dir.display(),
                    stderr(&out)
                )));
            }
        }
        match std::fs::rename(&files, tree) {
            Ok(()) => Ok(()),
            // Another run wrote it meanwhile: the same commit has the same files.
            Err(_) if tree.is_dir() => Ok(()),
            Err(e) => Err(Error::io(tree, e)),
        }
    }

    /// Fetches the repository's branches and tags, then resolves `rev`. When the repository
    /// cannot be reached but the cache knows `rev`, the cache answers (with a note saying so).
    pub fn resolve(&self, rev: &str) -> Result<Resolved, Error> {
        self.init(rev)?;
        let fetched = self.fetch(&[
            "+refs/heads/*:refs/heads/*".into(),
            "+refs/tags/*:refs/tags/*".into(),
        ]);
        if let Err(why) = &fetched {
            if why.starts_with("git:") {
                return Err(Error::Message(why.trim_start_matches("git:").into()));
            }
            return match self.local_commit(rev)? {
                Some(commit) => Ok(Resolved {
                    offline: Some(format!(
                        "could not reach {} ({why}); using {rev} as last fetched (commit {})",
                        self.url,
                        short(&commit)
                    )),
                    commit,
                }),
                None => Err(Error::Message(format!(
                    "cannot fetch the blueprints from {} to resolve `{rev}`: {why}\n\
                     Check the URL in platform.blueprints, your network and your Git credentials; \
                     once fetched, a pinned revision works offline.",
                    self.url
                ))),
            };
        }
        if let Some(commit) = self.local_commit(rev)? {
            return Ok(Resolved {
                commit,
                offline: None,
            });
        }
        // A commit no branch or tag reaches: servers may still hand it out by its hash.
        if rev.len() >= 7 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
            let _ = self.fetch(&[rev.into()]);
            if let Some(commit) = self.local_commit(rev)? {
                return Ok(Resolved {
                    commit,
                    offline: None,
                });
            }
        }
        Err(Error::Message(format!(
            "{} has no tag, branch or commit `{rev}`{}: check `rev` (or the revision you gave)",
            self.url,
            self.recent_tags()
                .map(|t| format!(" (its latest tags: {t})"))
                .unwrap_or_default()
        )))
    }

    /// Makes sure `commit` (the lock's, for `rev`) is in the cache, fetching it if needed.
    pub fn ensure(&self, commit: &str, rev: &str) -> Result<(), Error> {
        if self.dir.join("trees").join(commit).is_dir() || self.has_commit(commit) {
            return Ok(());
        }
        self.init(rev)?;
        let fetched = self.fetch(&[
            "+refs/heads/*:refs/heads/*".into(),
            "+refs/tags/*:refs/tags/*".into(),
        ]);
        if !self.has_commit(commit) {
            let _ = self.fetch(&[commit.into()]);
        }
        if self.has_commit(commit) {
            return Ok(());
        }
        Err(Error::Message(match fetched {
            Err(why) => format!(
                "the lock pins the blueprints of {} at {rev} to commit {}, which is not in the \
                 cache, and the repository cannot be reached ({why}): check your network, or run \
                 `bulkhead blueprints upgrade {rev}` once it is reachable",
                self.url,
                short(commit)
            ),
            Ok(()) => format!(
                "the lock pins the blueprints of {} at {rev} to commit {}, which the repository \
                 no longer has: run `bulkhead blueprints upgrade {rev}` to pin what {rev} is now",
                self.url,
                short(commit)
            ),
        }))
    }

    /// One line per commit that changed `path` between `from` and `to` (newest first):
    /// short hash and summary.
    pub fn log(&self, from: &str, to: &str, path: &str) -> Vec<String> {
        let mut cmd = self.git();
        cmd.args(["log", "--format=%h %s", "--no-decorate"])
            .arg(format!("{from}..{to}"))
            .args(["--", path]);
        self.lines(cmd)
    }

    /// The files under `path` that differ between `from` and `to`, as `M file` (relative to
    /// `path`; A added, D deleted, M modified, R renamed).
    pub fn changed_files(&self, from: &str, to: &str, path: &str) -> Vec<String> {
        let mut cmd = self.git();
        cmd.args(["diff", "--name-status", "--no-renames"]);
        if path != "." {
            cmd.arg(format!("--relative={path}"));
        }
        cmd.args([from, to, "--", path]);
        self.lines(cmd)
            .into_iter()
            .map(|l| l.replacen('\t', " ", 1))
            .collect()
    }

    fn lines(&self, cmd: Command) -> Vec<String> {
        match run(cmd, &self.url, "") {
            Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    fn has_commit(&self, commit: &str) -> bool {
        if !self.git_dir().is_dir() {
            return false;
        }
        let mut cmd = self.git();
        cmd.args(["cat-file", "-e", "--end-of-options"])
            .arg(format!("{commit}^{{commit}}"));
        run(cmd, &self.url, commit).is_ok_and(|o| o.status.success())
    }

    /// `rev` as the cache knows it.
    fn local_commit(&self, rev: &str) -> Result<Option<String>, Error> {
        let mut cmd = self.git();
        cmd.args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"));
        let out = run(cmd, &self.url, rev)?;
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok((out.status.success() && !commit.is_empty()).then_some(commit))
    }

    fn recent_tags(&self) -> Option<String> {
        let mut cmd = self.git();
        cmd.args([
            "for-each-ref",
            "--sort=-v:refname",
            "--count=5",
            "--format=%(refname:short)",
            "refs/tags",
        ]);
        let tags = self.lines(cmd);
        (!tags.is_empty()).then(|| tags.join(", "))
    }

    fn init(&self, rev: &str) -> Result<(), Error> {
        if self.git_dir().is_dir() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let mut cmd = Command::new("git");
        clean_env(&mut cmd);
        cmd.args(["init", "--quiet", "--bare"]).arg(self.git_dir());
        let out = run(cmd, &self.url, rev)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(Error::Message(format!(
                "could not create the Git cache {}: {}",
                self.git_dir().display(),
                stderr(&out)
            )))
        }
    }

    /// `git fetch URL REFSPEC…`. Err: why, in git's words; prefixed `git:` when git itself
    /// could not be run.
    fn fetch(&self, refspecs: &[OsString]) -> Result<(), String> {
        let mut cmd = self.git();
        cmd.args([
            "fetch",
            "--quiet",
            "--force",
            "--prune",
            "--no-write-fetch-head",
        ])
        .arg("--")
        .arg(&self.fetch_url)
        .args(refspecs);
        match run(cmd, &self.url, "") {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(stderr(&out)),
            Err(e) => Err(format!("git:{e}")),
        }
    }

    fn git(&self) -> Command {
        let mut cmd = Command::new("git");
        clean_env(&mut cmd);
        cmd.arg("--git-dir").arg(self.git_dir());
        cmd
    }
}

/// Git reads where to work from the environment too (a hook of the user's own repository
/// sets them): the cache's repository is named explicitly, and git never asks for a
/// password on the terminal in the middle of a plan.
fn clean_env(cmd: &mut Command) {
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_COMMON_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
}

fn run(mut cmd: Command, url: &str, rev: &str) -> Result<Output, Error> {
    cmd.output().map_err(|e| {
        let at = if rev.is_empty() {
            String::new()
        } else {
            format!(" at {rev}")
        };
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Message(format!(
                "the blueprints come from Git ({url}{at}), but `git` is not installed or not on \
                 PATH: install Git, or point platform.blueprints at a local folder"
            ))
        } else {
            Error::Message(format!(
                "could not run git for the blueprints of {url}{at}: {e}"
            ))
        }
    })
}

fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(|l| {
            l.trim_start_matches("fatal: ")
                .trim_start_matches("error: ")
                .trim()
        })
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        format!("git exited with {}", out.status)
    } else {
        lines.join("; ")
    }
}

pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// A local path that is relative (`../platform-blueprints`), not a URL (`https://…`,
/// `git@host:repo`).
fn is_relative_path(url: &str) -> bool {
    if url.contains("://") || Path::new(url).is_absolute() {
        return false;
    }
    // scp-like `host:path`: a colon before any slash.
    match url.find(':') {
        Some(colon) => url[..colon].contains('/'),
        None => true,
    }
}

fn top_folders(tree: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(tree)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::is_relative_path;

    #[test]
    fn relative_paths_are_told_from_urls() {
        for url in ["../blueprints", "repo", "./a/b.git"] {
            assert!(is_relative_path(url), "{url}");
        }
        for url in [
            "https://github.com/acme/bp.git",
            "git@github.com:acme/bp.git",
            "/srv/git/bp.git",
            "file:///srv/git/bp.git",
        ] {
            assert!(!is_relative_path(url), "{url}");
        }
    }
}
