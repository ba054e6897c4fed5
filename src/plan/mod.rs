//! Desired files vs what is on disk vs what bulkhead last wrote (the lock): one action per
//! file, with its diff. Planning reads and never writes.

mod display;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::apply::lock::{Lock, hash};
use crate::error::Error;
use crate::render::Files;

pub use display::{print_json, print_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
    /// No longer generated but edited since: left in place.
    Keep,
    /// Bulkhead would change a file it cannot safely replace.
    Conflict,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Delete => "delete",
            Self::Keep => "keep",
            Self::Conflict => "conflict",
        }
    }

    /// Whether the tree on disk differs from what service.toml generates.
    pub fn is_drift(self) -> bool {
        !matches!(self, Self::Unchanged)
    }
}

#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub action: Action,
    /// What is on disk now (none when missing).
    pub current: Option<String>,
    /// What bulkhead wants there (none when deleting or keeping).
    pub desired: Option<String>,
    /// Why, for keep and conflict.
    pub reason: Option<String>,
}

#[derive(Debug)]
pub struct Plan {
    pub out_dir: PathBuf,
    pub changes: Vec<FileChange>,
    /// The lock as it must be after applying this plan.
    pub next_lock: Lock,
    /// Whether the lock on disk differs from `next_lock`.
    pub lock_stale: bool,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub delete: usize,
    pub keep: usize,
    pub conflict: usize,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            *match c.action {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Unchanged => &mut s.unchanged,
                Action::Delete => &mut s.delete,
                Action::Keep => &mut s.keep,
                Action::Conflict => &mut s.conflict,
            } += 1;
        }
        s
    }

    pub fn has_drift(&self) -> bool {
        self.changes.iter().any(|c| c.action.is_drift())
    }

    pub fn has_conflicts(&self) -> bool {
        self.changes.iter().any(|c| c.action == Action::Conflict)
    }

    /// Whether applying would write anything at all.
    pub fn writes_anything(&self) -> bool {
        self.lock_stale
            || self
                .changes
                .iter()
                .any(|c| matches!(c.action, Action::Create | Action::Update | Action::Delete))
    }
}

/// What sits at a path inside the output folder.
enum OnDisk {
    Missing,
    File(String),
    /// Not a plain UTF-8 file bulkhead may replace (a symlink, a folder, binary data).
    Unsafe(String),
}

/// Refuses paths whose existing ancestors (inside `out`) are symlinks or files.
fn read_disk(out: &Path, rel: &str) -> Result<OnDisk, Error> {
    let mut at = out.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OnDisk::Missing),
            Err(e) => return Err(Error::io(&at, e)),
        };
        let last = i + 1 == parts.len();
        if meta.file_type().is_symlink() {
            return Ok(OnDisk::Unsafe(format!(
                "{} is a symbolic link; bulkhead never writes through links",
                at.strip_prefix(out).unwrap_or(&at).display()
            )));
        }
        if !last && !meta.is_dir() {
            return Ok(OnDisk::Unsafe(format!(
                "{} is a file where a folder is needed",
                at.strip_prefix(out).unwrap_or(&at).display()
            )));
        }
        if last && !meta.is_file() {
            return Ok(OnDisk::Unsafe(format!("{rel} is not a regular file")));
        }
    }
    let bytes = std::fs::read(&at).map_err(|e| Error::io(&at, e))?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(OnDisk::File(text)),
        Err(_) => Ok(OnDisk::Unsafe(format!("{rel} is not UTF-8 text"))),
    }
}

/// Compares the desired files with the output folder and its lock.
pub fn plan(out_dir: &Path, desired: Files) -> Result<Plan, Error> {
    let lock = Lock::read(out_dir)?;
    let mut next = BTreeMap::new();
    let mut changes = Vec::new();

    for (path, text) in desired {
        let recorded = lock.as_ref().and_then(|l| l.files.get(&path));
        let new_hash = hash(&text);
        let change = match read_disk(out_dir, &path)? {
            OnDisk::Missing => {
                next.insert(path.clone(), new_hash);
                FileChange {
                    path,
                    action: Action::Create,
                    current: None,
                    desired: Some(text),
                    reason: None,
                }
            }
            OnDisk::File(current) if current == text => {
                next.insert(path.clone(), new_hash);
                FileChange {
                    path,
                    action: Action::Unchanged,
                    current: Some(current),
                    desired: Some(text),
                    reason: None,
                }
            }
            OnDisk::File(current) => {
                let current_hash = hash(&current);
                if recorded == Some(&current_hash) {
                    next.insert(path.clone(), new_hash);
                    FileChange {
                        path,
                        action: Action::Update,
                        current: Some(current),
                        desired: Some(text),
                        reason: None,
                    }
                } else {
                    // Keep the old record so the file stays in conflict until resolved.
                    if let Some(r) = recorded {
                        next.insert(path.clone(), r.clone());
                    }
                    let reason = if recorded.is_some() {
                        "edited since bulkhead wrote it; left as it is"
                    } else {
                        "exists but was not written by bulkhead; left as it is"
                    };
                    FileChange {
                        path,
                        action: Action::Conflict,
                        current: Some(current),
                        desired: Some(text),
                        reason: Some(reason.into()),
                    }
                }
            }
            OnDisk::Unsafe(reason) => FileChange {
                path,
                action: Action::Conflict,
                current: None,
                desired: Some(text),
                reason: Some(reason),
            },
        };
        changes.push(change);
    }

    if let Some(lock) = &lock {
        let wanted: std::collections::BTreeSet<String> =
            changes.iter().map(|c| c.path.clone()).collect();
        for (path, recorded) in &lock.files {
            if wanted.contains(path) {
                continue;
            }
            if crate::render::check_path(path).is_err() {
                continue; // a tampered lock cannot make bulkhead touch outside the folder
            }
            match read_disk(out_dir, path)? {
                OnDisk::Missing => {}
                OnDisk::File(current) if &hash(&current) == recorded => changes.push(FileChange {
                    path: path.clone(),
                    action: Action::Delete,
                    current: Some(current),
                    desired: None,
                    reason: None,
                }),
                OnDisk::File(current) => changes.push(FileChange {
                    path: path.clone(),
                    action: Action::Keep,
                    current: Some(current),
                    desired: None,
                    reason: Some(
                        "no longer generated, but edited since bulkhead wrote it; left in place"
                            .into(),
                    ),
                }),
                OnDisk::Unsafe(reason) => changes.push(FileChange {
                    path: path.clone(),
                    action: Action::Keep,
                    current: None,
                    desired: None,
                    reason: Some(reason),
                }),
            }
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));

    let next_lock = Lock::new(next);
    let lock_stale = lock.as_ref() != Some(&next_lock);
    Ok(Plan {
        out_dir: out_dir.to_path_buf(),
        changes,
        next_lock,
        lock_stale,
    })
}
