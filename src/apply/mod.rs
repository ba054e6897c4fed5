//! Writes a plan to disk, safe against being killed at any moment:
//!
//! 1. new bases are stored (content-addressed, so the current state is untouched);
//! 2. a journal lists every file about to change with the hash it will have;
//! 3. each file is written atomically (a temporary file in the same folder, then a rename:
//!    a reader sees the old file or the new one, never a partial one) or deleted;
//! 4. the lock is replaced (the single switch to the new state), the journal removed, and
//!    bases nothing refers to any more are dropped.
//!
//! Killed anywhere, the next run reads the journal, sees which writes happened, and
//! finishes the job. Nothing is written outside the output folder or through a link.
//! What `.bulkhead/` holds, and how it is read, is `state`'s; this module only writes it.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;
use crate::plan::{Action, Plan};
use crate::state::{self, Intent, Journal};

#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub files: usize,
    pub deleted: usize,
}

const TEMP_PREFIX: &str = ".bulkhead-";
const TEMP_SUFFIX: &str = ".tmp";

pub fn apply(plan: &Plan) -> Result<Written, Error> {
    use rayon::prelude::*;

    let out = &plan.out_dir;
    if plan.interrupted {
        remove_stray_temp_files(out, plan);
    }
    let writer = Writer::new(out)?;
    // Files are independent within each step: written in parallel, the steps in order.
    let bases: Vec<(&str, &str)> = plan.bases_to_store().collect();
    bases
        .par_iter()
        .try_for_each(|(h, text)| writer.write(&state::base_rel(h), text.as_bytes()))?;

    let mut journal = Journal::default();
    for change in &plan.changes {
        let base = plan.next_lock.files.get(&change.path).cloned();
        if let Some(text) = &change.write {
            // What create and update write is the new base itself: its hash is known.
            let written = match (change.action, &base) {
                (Action::Create | Action::Update, Some(h)) => h.clone(),
                _ => state::hash(text),
            };
            journal.files.insert(
                change.path.clone(),
                Intent {
                    written: Some(written),
                    base,
                },
            );
        } else if change.action == Action::Delete {
            journal.files.insert(
                change.path.clone(),
                Intent {
                    written: None,
                    base: None,
                },
            );
        }
    }
    let journal_rel = state::journal_rel();
    if !journal.files.is_empty() {
        writer.write(&journal_rel, state::to_text(&journal).as_bytes())?;
    }

    let mut written = Written::default();
    let writes: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .filter_map(|c| Some((c.path.as_str(), c.write.as_deref()?)))
        .collect();
    writes
        .par_iter()
        .try_for_each(|(path, text)| writer.write(path, text.as_bytes()))?;
    written.files = writes.len();
    for change in &plan.changes {
        if change.action == Action::Delete {
            let target = out.join(&change.path);
            std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
            remove_empty_parents(out, &target);
            written.deleted += 1;
        }
    }

    writer.write(
        &state::lock_rel(),
        state::to_text(&plan.next_lock).as_bytes(),
    )?;
    let journal_path = out.join(&journal_rel);
    match std::fs::remove_file(&journal_path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&journal_path, e)),
    }
    collect_garbage(out, plan);
    Ok(written)
}

/// Drops stored bases the new lock no longer refers to. Best effort: a leftover object
/// is harmless.
fn collect_garbage(out: &Path, plan: &Plan) {
    let keep: BTreeSet<String> = plan
        .next_lock
        .files
        .values()
        .map(|h| state::base_rel(h))
        .collect();
    let root = out.join(state::DIR).join(state::BASES);
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return;
    };
    for dir in dirs.flatten() {
        let Ok(objects) = std::fs::read_dir(dir.path()) else {
            continue;
        };
        for object in objects.flatten() {
            let rel = format!(
                "{}/{}/{}/{}",
                state::DIR,
                state::BASES,
                dir.file_name().to_string_lossy(),
                object.file_name().to_string_lossy()
            );
            if !keep.contains(&rel) {
                let _ = std::fs::remove_file(object.path());
            }
        }
        let _ = std::fs::remove_dir(dir.path());
    }
}

/// A killed apply can leave its temporary files behind; they are only ever in folders
/// bulkhead writes to.
fn remove_stray_temp_files(out: &Path, plan: &Plan) {
    let dirs: BTreeSet<PathBuf> = plan
        .changes
        .iter()
        .filter_map(|c| out.join(&c.path).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs {
        remove_temp_files_in(&dir);
    }
    remove_stray_state_temp_files(out);
}

/// The journal and the lock are written through temporary files in `.bulkhead/` before a
/// run has a journal to recover from: an apply killed then leaves them there, and the
/// next run, which may have nothing else to do, removes them.
pub fn remove_stray_state_temp_files(out: &Path) {
    remove_temp_files_in(&out.join(state::DIR));
}

fn remove_temp_files_in(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Writes files under one output folder, each atomically. Folders are made or checked
/// once per run, not once per file.
struct Writer<'a> {
    out: &'a Path,
    /// Folders (relative to `out`) known to be real folders, not links, and whether this
    /// run made them (then nothing in them existed before).
    dirs: Mutex<HashMap<String, bool>>,
}

impl<'a> Writer<'a> {
    /// Makes the output folder when missing.
    fn new(out: &'a Path) -> Result<Self, Error> {
        let made = !out.exists();
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        Ok(Self {
            out,
            dirs: Mutex::new(HashMap::from([(String::new(), made)])),
        })
    }

    /// Creates the folders of `rel` under `out`, refusing any that is a symbolic link.
    /// Returns the file's folder and whether this run made it.
    fn ensure_dirs(&self, rel: &str) -> Result<(PathBuf, bool), Error> {
        let parent = rel.rsplit_once('/').map_or("", |(dir, _)| dir);
        let known = |dir: &str| self.dirs.lock().expect("not poisoned").get(dir).copied();
        if let Some(made) = known(parent) {
            return Ok((self.out.join(parent), made));
        }
        let mut made = known("").expect("the output folder is known from the start");
        let mut at = self.out.to_path_buf();
        let mut so_far = String::new();
        for part in parent.split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            if !so_far.is_empty() {
                so_far.push('/');
            }
            so_far.push_str(part);
            if let Some(m) = known(&so_far) {
                made = m;
                continue;
            }
            match std::fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::Message(format!(
                        "refusing to write through the symbolic link {}",
                        at.display()
                    )));
                }
                Ok(m) if m.is_dir() => made = false,
                Ok(_) => {
                    return Err(Error::Message(format!(
                        "{} is a file where a folder is needed",
                        at.display()
                    )));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    match std::fs::create_dir(&at) {
                        Ok(()) => made = true,
                        // Made meanwhile by another writer of this run: check it again.
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                            let m =
                                std::fs::symlink_metadata(&at).map_err(|e| Error::io(&at, e))?;
                            if !m.is_dir() {
                                return Err(Error::Message(format!(
                                    "{} is not a folder",
                                    at.display()
                                )));
                            }
                            made = true;
                        }
                        Err(e) => return Err(Error::io(&at, e)),
                    }
                }
                Err(e) => return Err(Error::io(&at, e)),
            }
            self.dirs
                .lock()
                .expect("not poisoned")
                .insert(so_far.clone(), made);
        }
        Ok((at, made))
    }

    /// A temporary file in the target's folder, renamed over the target: readers see the
    /// old file or the new one, never a partial write.
    fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), Error> {
        let (dir, new_dir) = self.ensure_dirs(rel)?;
        let target = self.out.join(rel);
        // In a folder this run made, nothing was there before.
        let existing = if new_dir {
            None
        } else {
            std::fs::symlink_metadata(&target).ok()
        };
        if existing
            .as_ref()
            .is_some_and(|m| m.file_type().is_symlink())
        {
            return Err(Error::Message(format!(
                "refusing to replace the symbolic link {}",
                target.display()
            )));
        }
        let mut builder = tempfile::Builder::new();
        builder.prefix(TEMP_PREFIX).suffix(TEMP_SUFFIX);
        // tempfile creates 0600; generated files are ordinary repository files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let mut tmp = builder.tempfile_in(&dir).map_err(|e| Error::io(&dir, e))?;
        tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
        #[cfg(unix)]
        if let Some(meta) = &existing {
            use std::os::unix::fs::PermissionsExt;
            // An existing file keeps its mode (e.g. a script made executable).
            let mode = meta.permissions().mode() & 0o777;
            std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io(tmp.path(), e))?;
        }
        tmp.persist(&target)
            .map_err(|e| Error::io(&target, e.error))?;
        Ok(())
    }
}

/// Writes one file atomically (see [`Writer::write`]).
pub fn write_atomic(out: &Path, rel: &str, bytes: &[u8]) -> Result<(), Error> {
    Writer::new(out)?.write(rel, bytes)
}

fn remove_empty_parents(out: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == out || !d.starts_with(out) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
