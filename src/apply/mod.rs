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

pub mod lock;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::plan::{Action, Plan};
use lock::{Intent, Journal};

#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub files: usize,
    pub deleted: usize,
}

const TEMP_PREFIX: &str = ".bulkhead-";
const TEMP_SUFFIX: &str = ".tmp";

pub fn apply(plan: &Plan) -> Result<Written, Error> {
    let out = &plan.out_dir;
    if plan.interrupted {
        remove_stray_temp_files(out, plan);
    }
    for (h, text) in plan.bases_to_store() {
        write_atomic(out, &lock::base_rel(h), text.as_bytes())?;
    }

    let mut journal = Journal::default();
    for change in &plan.changes {
        let base = plan.next_lock.files.get(&change.path).cloned();
        if let Some(text) = &change.write {
            journal.files.insert(
                change.path.clone(),
                Intent {
                    written: Some(lock::hash(text)),
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
    let journal_rel = lock::journal_rel();
    if !journal.files.is_empty() {
        write_atomic(out, &journal_rel, lock::to_text(&journal).as_bytes())?;
    }

    let mut written = Written::default();
    for change in &plan.changes {
        if let Some(text) = &change.write {
            write_atomic(out, &change.path, text.as_bytes())?;
            written.files += 1;
        } else if change.action == Action::Delete {
            let target = out.join(&change.path);
            std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
            remove_empty_parents(out, &target);
            written.deleted += 1;
        }
    }

    write_atomic(
        out,
        &lock::lock_rel(),
        lock::to_text(&plan.next_lock).as_bytes(),
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
        .map(|h| lock::base_rel(h))
        .collect();
    let root = out.join(lock::DIR).join(lock::BASES);
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
                lock::DIR,
                lock::BASES,
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
    let mut dirs: BTreeSet<PathBuf> = plan
        .changes
        .iter()
        .filter_map(|c| out.join(&c.path).parent().map(Path::to_path_buf))
        .collect();
    dirs.insert(out.join(lock::DIR));
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Creates the folders of `rel` under `out`, refusing any that is a symbolic link.
fn ensure_dirs(out: &Path, rel: &str) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut at = out.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts[..parts.len() - 1] {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::Message(format!(
                    "refusing to write through the symbolic link {}",
                    at.display()
                )));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Message(format!(
                    "{} is a file where a folder is needed",
                    at.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&at).map_err(|e| Error::io(&at, e))?;
            }
            Err(e) => return Err(Error::io(&at, e)),
        }
    }
    Ok(at)
}

/// A temporary file in the target's folder, renamed over the target: readers see the old
/// file or the new one, never a partial write.
pub fn write_atomic(out: &Path, rel: &str, bytes: &[u8]) -> Result<(), Error> {
    let dir = ensure_dirs(out, rel)?;
    let target = out.join(rel);
    let existing = std::fs::symlink_metadata(&target).ok();
    if existing
        .as_ref()
        .is_some_and(|m| m.file_type().is_symlink())
    {
        return Err(Error::Message(format!(
            "refusing to replace the symbolic link {}",
            target.display()
        )));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; generated files are ordinary repository files, and an
        // existing file keeps its mode (e.g. a script made executable).
        let mode = existing.map_or(0o644, |m| m.permissions().mode() & 0o777);
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(tmp.path(), e))?;
    }
    tmp.persist(&target)
        .map_err(|e| Error::io(&target, e.error))?;
    Ok(())
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
