//! Desired files vs what is on disk vs the base bulkhead last wrote: one action per file,
//! with what the file will contain afterwards. Planning reads and never writes.
//!
//! | disk                     | new render  | action                                   |
//! |--------------------------|-------------|------------------------------------------|
//! | missing                  | —           | create                                   |
//! | equal to the new render  | —           | unchanged                                |
//! | equal to the base        | differs     | update                                   |
//! | edited                   | = base      | keep (the user's edit stays)             |
//! | edited                   | differs     | merge, or conflict (markers written)     |
//! | exists, no base          | differs     | conflict (both sides written, marked)    |
//! | not generated any more   | —           | delete if untouched, keep if edited      |

mod display;
pub mod merge;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::apply::lock::{Lock, State, hash};
use crate::error::Error;
use crate::render::Files;

pub use display::{print_json, print_text};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    /// Your edits and the new render, merged without overlap.
    Merge,
    /// Your version stays: edited while bulkhead has nothing new for it, or no longer
    /// generated but edited.
    Keep,
    Delete,
    /// Overlapping edits (written with markers), or a file bulkhead cannot safely touch.
    Conflict,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Unchanged => "unchanged",
            Self::Merge => "merge",
            Self::Keep => "keep",
            Self::Delete => "delete",
            Self::Conflict => "conflict",
        }
    }

    /// Whether the tree on disk differs from what service.toml generates.
    pub fn is_drift(self) -> bool {
        !matches!(self, Self::Unchanged | Self::Keep)
    }
}

#[derive(Debug, Clone)]
pub struct FileChange {
    pub path: String,
    pub action: Action,
    /// What is on disk now (none when missing or unreadable).
    pub current: Option<String>,
    /// What apply writes there; none when it writes nothing (or deletes).
    pub write: Option<String>,
    /// Why, for keep and conflict.
    pub reason: Option<String>,
}

impl FileChange {
    fn new(path: &str, action: Action, current: Option<String>, write: Option<String>) -> Self {
        Self {
            path: path.to_string(),
            action,
            current,
            write,
            reason: None,
        }
    }

    fn because(mut self, reason: &str) -> Self {
        self.reason = Some(reason.to_string());
        self
    }
}

#[derive(Debug)]
pub struct Plan {
    pub out_dir: PathBuf,
    pub changes: Vec<FileChange>,
    /// The lock after applying this plan.
    pub next_lock: Lock,
    /// Base contents the next lock refers to that may not be stored yet, by hash.
    pub new_bases: BTreeMap<String, String>,
    /// Whether `.bulkhead/` must be rewritten even if no file changes (an interrupted
    /// apply, or bases that moved).
    pub state_stale: bool,
    /// A previous apply was interrupted; apply finishes its job.
    pub interrupted: bool,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub merge: usize,
    pub keep: usize,
    pub delete: usize,
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
                Action::Merge => &mut s.merge,
                Action::Keep => &mut s.keep,
                Action::Delete => &mut s.delete,
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
        self.state_stale
            || self
                .changes
                .iter()
                .any(|c| c.write.is_some() || c.action == Action::Delete)
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
        let shown = at.strip_prefix(out).unwrap_or(&at).display().to_string();
        if meta.file_type().is_symlink() {
            return Ok(OnDisk::Unsafe(format!(
                "{shown} is a symbolic link; bulkhead never writes through links"
            )));
        }
        let last = i + 1 == parts.len();
        if !last && !meta.is_dir() {
            return Ok(OnDisk::Unsafe(format!(
                "{shown} is a file where a folder is needed"
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

/// Compares the desired files with the output folder and what bulkhead last wrote there.
pub fn plan(out_dir: &Path, desired: Files) -> Result<Plan, Error> {
    let state = State::load(out_dir)?;
    let bases = &state.effective;
    let mut next: BTreeMap<String, String> = BTreeMap::new();
    let mut new_bases = BTreeMap::new();
    let mut changes = Vec::with_capacity(desired.len());

    for (path, text) in &desired {
        let new_hash = hash(text);
        let base_hash = bases.get(path);
        // The new render becomes the base of every file bulkhead writes or finds equal.
        let mut adopt = || {
            next.insert(path.clone(), new_hash.clone());
            if base_hash != Some(&new_hash) {
                new_bases.insert(new_hash.clone(), text.clone());
            }
        };
        let change = match read_disk(out_dir, path)? {
            // A deletion is an edit like any other: kept while bulkhead has nothing new for
            // the file, a conflict when it has.
            OnDisk::Missing => match base_hash {
                Some(b) if *b == new_hash => {
                    next.insert(path.clone(), b.clone());
                    FileChange::new(path, Action::Keep, None, None).because("you deleted it")
                }
                Some(_) => {
                    adopt();
                    FileChange::new(path, Action::Conflict, None, Some(text.clone()))
                        .because("you deleted it, but bulkhead has changes for it: the new version is written; delete it again if unwanted")
                }
                None => {
                    adopt();
                    FileChange::new(path, Action::Create, None, Some(text.clone()))
                }
            },
            OnDisk::File(current) if current == *text => {
                adopt();
                FileChange::new(path, Action::Unchanged, Some(current), None)
            }
            OnDisk::File(current) => {
                let current_hash = hash(&current);
                match base_hash {
                    Some(b) if *b == current_hash => {
                        adopt();
                        FileChange::new(path, Action::Update, Some(current), Some(text.clone()))
                    }
                    Some(b) if *b == new_hash => {
                        next.insert(path.clone(), b.clone());
                        if merge::has_markers(&current) {
                            FileChange::new(path, Action::Conflict, Some(current), None).because(
                                "still has conflict markers: resolve them, then run apply again",
                            )
                        } else {
                            FileChange::new(path, Action::Keep, Some(current), None)
                                .because("your edits")
                        }
                    }
                    Some(b) => {
                        adopt();
                        match State::base(out_dir, b) {
                            Some(base) => match merge::merge(&base, &current, text) {
                                merge::Merged::Clean(merged) => FileChange::new(path, Action::Merge, Some(current), Some(merged))
                                    .because("your edits and the new output"),
                                merge::Merged::Conflicts(marked) => FileChange::new(path, Action::Conflict, Some(current), Some(marked))
                                    .because("your edits overlap the new output: resolve the marked blocks"),
                            },
                            None => FileChange::new(path, Action::Conflict, Some(current.clone()), Some(merge::whole_file_conflict(&current, text)))
                                .because("its last generated version is missing from .bulkhead/: compare both sides"),
                        }
                    }
                    None => {
                        adopt();
                        FileChange::new(path, Action::Conflict, Some(current.clone()), Some(merge::whole_file_conflict(&current, text)))
                            .because("exists but was not written by bulkhead: both versions are kept, marked")
                    }
                }
            }
            OnDisk::Unsafe(reason) => {
                if let Some(b) = base_hash {
                    next.insert(path.clone(), b.clone());
                }
                FileChange::new(path, Action::Conflict, None, None).because(&reason)
            }
        };
        changes.push(change);
    }

    let wanted: BTreeSet<&String> = desired.keys().collect();
    for (path, recorded) in bases {
        if wanted.contains(path) || crate::render::check_path(path).is_err() {
            continue; // a tampered lock cannot make bulkhead touch anything outside the folder
        }
        match read_disk(out_dir, path)? {
            OnDisk::Missing => {}
            OnDisk::File(current) if hash(&current) == *recorded => {
                changes.push(FileChange::new(path, Action::Delete, Some(current), None));
            }
            OnDisk::File(current) => changes.push(
                FileChange::new(path, Action::Keep, Some(current), None).because(
                    "no longer generated, but edited: left in place and no longer managed",
                ),
            ),
            OnDisk::Unsafe(reason) => {
                changes.push(FileChange::new(path, Action::Keep, None, None).because(&reason))
            }
        }
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));

    // Bases referenced by the next lock but missing from the store must be written too.
    for (path, h) in &next {
        if !new_bases.contains_key(h)
            && State::base(out_dir, h).is_none()
            && let Some(text) = desired.get(path)
            && hash(text) == *h
        {
            new_bases.insert(h.clone(), text.clone());
        }
    }
    let next_lock = Lock::new(next);
    let state_stale =
        state.interrupted || state.lock.as_ref() != Some(&next_lock) || !new_bases.is_empty();
    Ok(Plan {
        out_dir: out_dir.to_path_buf(),
        changes,
        next_lock,
        new_bases,
        state_stale,
        interrupted: state.interrupted,
    })
}
