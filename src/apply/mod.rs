//! Writes a plan to disk: each file atomically (a temporary file in the same folder, then
//! a rename), never outside the output folder and never through a symbolic link; the lock
//! last, so an interrupted run is seen and finished by the next one.

pub mod lock;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::plan::{Action, Plan};

#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub files: usize,
    pub deleted: usize,
}

pub fn apply(plan: &Plan) -> Result<Written, Error> {
    let out = &plan.out_dir;
    let mut written = Written::default();
    for change in &plan.changes {
        match change.action {
            Action::Create | Action::Update => {
                let text = change.desired.as_deref().unwrap_or_default();
                write_atomic(out, &change.path, text.as_bytes())?;
                written.files += 1;
            }
            Action::Delete => {
                let target = out.join(&change.path);
                std::fs::remove_file(&target).map_err(|e| Error::io(&target, e))?;
                remove_empty_parents(out, &target);
                written.deleted += 1;
            }
            Action::Unchanged | Action::Keep | Action::Conflict => {}
        }
    }
    if plan.lock_stale || written.files + written.deleted > 0 {
        let rel = format!("{}/{}", lock::DIR, lock::FILE);
        write_atomic(out, &rel, plan.next_lock.to_text().as_bytes())?;
    }
    Ok(written)
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
    if let Ok(m) = std::fs::symlink_metadata(&target)
        && m.file_type().is_symlink()
    {
        return Err(Error::Message(format!(
            "refusing to replace the symbolic link {}",
            target.display()
        )));
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".bulkhead-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // tempfile creates 0600; generated files are ordinary repository files.
        let mode = std::fs::metadata(&target).map_or(0o644, |m| m.permissions().mode() & 0o777);
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
