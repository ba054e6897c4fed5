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
//!
//! Two exceptions. A file the user deleted while another file still refers to it (a
//! kustomization listing it) is written again: without it the tree does not build. And a
//! run can be narrowed to some files ([`Scope`]): the others are not looked at and keep
//! their state, and `restore` discards the user's edits of the chosen files.

mod display;
pub mod merge;
pub mod references;
pub mod structural;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::error::Error;
use crate::render::Files;
use crate::state::{Lock, State, hash};

pub use display::{Detail, print_json, print_text};

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
    pub write: Option<Arc<str>>,
    /// Why, for keep and conflict.
    pub reason: Option<String>,
    /// For a merge the structure of YAML or JSON settled: what each side added.
    pub structural: Option<structural::Added>,
}

impl FileChange {
    fn new(path: &str, action: Action, current: Option<String>, write: Option<Arc<str>>) -> Self {
        Self {
            path: path.to_string(),
            action,
            current,
            write,
            reason: None,
            structural: None,
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
    /// Bases the next lock refers to that are not stored yet: hash → (path, where the
    /// text is).
    pub new_bases: BTreeMap<String, (String, BaseText)>,
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

    /// What the conflicts leave, one line each: the files apply writes (`applied`: wrote)
    /// with conflict markers, and the files that already hold markers and stay as they
    /// are. Empty without conflicts.
    pub fn conflict_report(&self, applied: bool) -> Vec<String> {
        let conflicts = self.changes.iter().filter(|c| c.action == Action::Conflict);
        let (marked, still): (Vec<_>, Vec<_>) = conflicts.partition(|c| c.write.is_some());
        let mut out = Vec::new();
        if !marked.is_empty() {
            out.push(if applied {
                format!(
                    "{} file(s) written with conflict markers: resolve the marked blocks (see the plan above), then run apply again.",
                    marked.len()
                )
            } else {
                format!(
                    "{} file(s) would be written with conflict markers: apply would stop there.",
                    marked.len()
                )
            });
        }
        if !still.is_empty() {
            let hold = if applied {
                "still hold conflict markers from an earlier run and were not touched"
            } else {
                "hold conflict markers"
            };
            out.push(format!(
                "{} file(s) {hold}: resolve them, then run apply again.",
                still.len()
            ));
        }
        out
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

/// The files a run considers.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    /// Only these generated paths (and deletions among these); none: every file.
    pub only: Option<BTreeSet<String>>,
    /// Paths whose edits are discarded: bulkhead's version is written over them.
    pub restore: BTreeSet<String>,
}

impl Scope {
    fn includes(&self, path: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(path))
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

/// Where the content of a base that must be stored comes from (bases are the new render
/// of a file; they are usually also what apply writes, so they are not copied).
#[derive(Debug, Clone)]
pub enum BaseText {
    /// The change's `write` (create, update).
    Written,
    /// The change's `current` (the file on disk already equals the new render).
    Current,
    /// The new render itself, when what is written differs (merge, conflict).
    Render(Arc<str>),
}

/// One file's decision, made independently of all others.
struct Decision {
    change: FileChange,
    /// The base hash the next lock records, if the file stays in bulkhead's care.
    next: Option<String>,
    /// A base to store: its hash and where its text is.
    store: Option<(String, BaseText)>,
}

fn decide(
    out_dir: Option<&Path>,
    path: &str,
    text: Arc<str>,
    base_hash: Option<&String>,
    restore: bool,
) -> Result<Decision, Error> {
    let new_hash = hash(&text);
    let adopt = |store: BaseText| -> (Option<String>, Option<(String, BaseText)>) {
        // Stored again when missing too (a damaged or hand-pruned .bulkhead/).
        let missing = base_hash != Some(&new_hash)
            || !out_dir.is_some_and(|out| out.join(crate::state::base_rel(&new_hash)).is_file());
        let stored = missing.then(|| (new_hash.clone(), store));
        (Some(new_hash.clone()), stored)
    };
    let keep_base = || (base_hash.cloned(), None);
    let on_disk = match out_dir {
        Some(out) => read_disk(out, path)?,
        None => OnDisk::Missing,
    };
    let ((next, store), change) = match on_disk {
        OnDisk::Missing if restore => (
            adopt(BaseText::Written),
            FileChange::new(path, Action::Create, None, Some(text)).because("restored"),
        ),
        OnDisk::File(current) if restore && *current != *text => (
            adopt(BaseText::Written),
            FileChange::new(path, Action::Update, Some(current), Some(text))
                .because("restored: your edits are discarded"),
        ),
        // A deletion is an edit like any other: kept while bulkhead has nothing new for
        // the file, a conflict when it has.
        OnDisk::Missing => match base_hash {
            Some(b) if *b == new_hash => (keep_base(), FileChange::new(path, Action::Keep, None, None).because("you deleted it")),
            Some(_) => (
                adopt(BaseText::Written),
                FileChange::new(path, Action::Conflict, None, Some(text))
                    .because("you deleted it, but bulkhead has changes for it: the new version is written; delete it again if unwanted"),
            ),
            None => (adopt(BaseText::Written), FileChange::new(path, Action::Create, None, Some(text))),
        },
        // Unchanged files keep no copy of their content: nothing is shown or written.
        OnDisk::File(current) if *current == *text => {
            let decided = adopt(BaseText::Current);
            let current = decided.1.is_some().then_some(current);
            (decided, FileChange::new(path, Action::Unchanged, current, None))
        }
        OnDisk::File(current) => {
            let current_hash = hash(&current);
            match base_hash {
                Some(b) if *b == current_hash => {
                    (adopt(BaseText::Written), FileChange::new(path, Action::Update, Some(current), Some(text)))
                }
                Some(b) if *b == new_hash => {
                    if merge::has_markers(&current) {
                        (keep_base(), FileChange::new(path, Action::Conflict, Some(current), None)
                            .because("still has conflict markers: resolve them, then run apply again"))
                    } else {
                        (keep_base(), FileChange::new(path, Action::Keep, Some(current), None).because("your edits"))
                    }
                }
                Some(b) => {
                    let base = out_dir.and_then(|out| State::base(out, b));
                    let change = match base {
                        Some(base) => match merge::merge(&base, &current, &text) {
                            merge::Merged::Clean(merged) => FileChange::new(path, Action::Merge, Some(current), Some(merged.into()))
                                .because("your edits and the new output"),
                            merge::Merged::Conflicts(_) if let Some(resolved) = structural::Format::of(path)
                                .and_then(|format| structural::resolve(format, &base, &current, &text)) =>
                            {
                                let mut change = FileChange::new(path, Action::Merge, Some(current), Some(resolved.text.into()))
                                    .because("your edits and the new output, merged by structure");
                                change.structural = Some(resolved.added);
                                change
                            }
                            merge::Merged::Conflicts(marked) => FileChange::new(path, Action::Conflict, Some(current), Some(marked.into()))
                                .because("your edits overlap the new output: resolve the marked blocks"),
                        },
                        None => {
                            let both = merge::whole_file_conflict(&current, &text);
                            FileChange::new(path, Action::Conflict, Some(current), Some(both.into()))
                                .because("its last generated version is missing from .bulkhead/: compare both sides")
                        }
                    };
                    (adopt(BaseText::Render(text)), change)
                }
                None => {
                    let both = merge::whole_file_conflict(&current, &text);
                    (
                        adopt(BaseText::Render(text)),
                        FileChange::new(path, Action::Conflict, Some(current), Some(both.into()))
                            .because("exists but was not written by bulkhead: both versions are kept, marked"),
                    )
                }
            }
        }
        OnDisk::Unsafe(reason) => (keep_base(), FileChange::new(path, Action::Conflict, None, None).because(&reason)),
    };
    Ok(Decision {
        change,
        next,
        store,
    })
}

/// Compares the desired files with the output folder and what bulkhead last wrote there.
pub fn plan(out_dir: &Path, desired: Files) -> Result<Plan, Error> {
    plan_scoped(out_dir, desired, &Scope::default(), None)
}

/// [`plan`], for the files of `scope` only; with blueprints pinned in Git, the next lock
/// records the pin.
pub fn plan_scoped(
    out_dir: &Path,
    mut desired: Files,
    scope: &Scope,
    blueprints: Option<crate::state::BlueprintsLock>,
) -> Result<Plan, Error> {
    use rayon::prelude::*;

    let state = State::load(out_dir)?;
    let bases = &state.effective;
    if scope.only.is_some() {
        desired.retain(|path, _| scope.includes(path));
    }
    // A folder that does not exist yet holds nothing: no file in it needs a look.
    let exists = !matches!(
        std::fs::symlink_metadata(out_dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    );
    let on_disk = exists.then_some(out_dir);
    let wanted: BTreeSet<String> = desired.keys().cloned().collect();
    // Files are independent: read, hash and merge them in parallel.
    let items: Vec<(String, Arc<str>)> = desired.into_iter().collect();
    let decisions: Vec<Result<Decision, Error>> = items
        .par_iter()
        .map(|(path, text)| {
            let base = bases.get(path);
            let restore = scope.restore.contains(path);
            decide(on_disk, path, Arc::clone(text), base, restore)
        })
        .collect();

    let mut next: BTreeMap<String, String> = BTreeMap::new();
    let mut new_bases: BTreeMap<String, (String, BaseText)> = BTreeMap::new();
    let mut changes = Vec::with_capacity(decisions.len());
    for decision in decisions {
        let Decision {
            change,
            next: n,
            store,
        } = decision?;
        if let Some(h) = n {
            next.insert(change.path.clone(), h);
        }
        if let Some((h, text)) = store {
            new_bases.entry(h).or_insert((change.path.clone(), text));
        }
        changes.push(change);
    }
    restore_referenced(out_dir, &items, &mut changes, &mut new_bases);

    for (path, recorded) in bases {
        if wanted.contains(path) || crate::render::check_path(path).is_err() {
            continue; // a tampered lock cannot make bulkhead touch anything outside the folder
        }
        if !scope.includes(path) {
            // Out of scope: its state stays as it is.
            next.insert(path.clone(), recorded.clone());
            continue;
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

    let next_lock = Lock::new(next, blueprints);
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

/// A generated file the user deleted is written again while another file of the tree as
/// it will be (a kustomization, an Argo CD Application) still refers to it: without it
/// the tree does not build. Removing the reference too makes the deletion stick.
fn restore_referenced(
    out_dir: &Path,
    items: &[(String, Arc<str>)],
    changes: &mut [FileChange],
    new_bases: &mut BTreeMap<String, (String, BaseText)>,
) {
    let deleted =
        |c: &FileChange| c.action == Action::Keep && c.current.is_none() && c.write.is_none();
    if !changes.iter().any(deleted) {
        return;
    }
    // `changes` and `items` are both in path order, one change per item.
    let after: BTreeMap<&str, &str> = changes
        .iter()
        .zip(items)
        .filter_map(|(c, (_, text))| {
            let content = match (&c.write, &c.current, c.action) {
                (Some(w), _, _) => Some(&**w),
                (None, _, Action::Unchanged) => Some(&**text),
                (None, Some(current), _) => Some(current.as_str()),
                (None, None, _) => None,
            };
            content.map(|t| (c.path.as_str(), t))
        })
        .collect();
    let generated = |p: &str| {
        items
            .binary_search_by(|(path, _)| path.as_str().cmp(p))
            .is_ok()
    };
    let referenced = references::referenced(&after, generated);
    let mut restored: Vec<(usize, String)> = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        if let Some(by) = referenced.get(&c.path).filter(|_| deleted(c)) {
            restored.push((i, (*by).to_string()));
        }
    }
    for (i, by) in restored {
        let text = Arc::clone(&items[i].1);
        let h = hash(&text);
        if !out_dir.join(crate::state::base_rel(&h)).is_file() {
            new_bases
                .entry(h)
                .or_insert((changes[i].path.clone(), BaseText::Written));
        }
        let change = &mut changes[i];
        change.action = Action::Create;
        change.write = Some(text);
        change.reason = Some(format!(
            "you deleted it, but {by} still refers to it: written again; to delete it for good, remove it there too"
        ));
    }
}

impl Plan {
    /// The bases apply must store: hash and text.
    pub fn bases_to_store(&self) -> impl Iterator<Item = (&str, &str)> {
        self.new_bases.iter().filter_map(|(h, (path, source))| {
            let text = match source {
                BaseText::Render(text) => Some(&**text),
                BaseText::Written | BaseText::Current => {
                    let i = self
                        .changes
                        .binary_search_by(|c| c.path.as_str().cmp(path))
                        .ok()?;
                    let change = &self.changes[i];
                    match source {
                        BaseText::Written => change.write.as_deref(),
                        _ => change.current.as_deref(),
                    }
                }
            };
            text.map(|t| (h.as_str(), t))
        })
    }
}
