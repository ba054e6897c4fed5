//! `.bulkhead/` in an output folder: what bulkhead last wrote, so a later run can tell a
//! user's edit from its own and merge the two. This module owns the folder's layout, its
//! formats and reading them (plan and audit read, apply writes); it never writes a file
//! itself: apply writes through its atomic writer.
//!
//! - `lock.json`: the generator version, the commit the blueprints came from when they are
//!   pinned in Git, and, per generated file, the hash of its base (the exact content
//!   bulkhead last generated for it).
//! - `base/<aa>/<rest of hash>`: the bases, stored by content hash. Objects are immutable,
//!   so writing new ones never disturbs the current state; the lock is the single switch.
//! - `journal.json`: present only while an apply runs. It lists every file the apply is
//!   about to write with the hash of the content it will have; if the apply is killed, the
//!   next run reads it to tell which writes happened.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

pub const DIR: &str = ".bulkhead";
pub const LOCK: &str = "lock.json";
pub const JOURNAL: &str = "journal.json";
pub const BASES: &str = "base";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub generator: String,
    /// The Git pin of the blueprints these files came from, with the commit it resolved to.
    /// Absent for built-in or local blueprints (and in locks written before pins existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blueprints: Option<BlueprintsLock>,
    /// Output path → hash of its base.
    pub files: BTreeMap<String, String>,
}

/// `platform.blueprints = { git, rev, path }` as last applied, and the commit `rev` meant
/// then. While service.toml names the same pin, this commit is used without asking the
/// network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlueprintsLock {
    pub git: String,
    pub rev: String,
    pub path: String,
    pub commit: String,
}

/// What an apply in progress intends, per path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub files: BTreeMap<String, Intent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    /// Hash of the content the file will have; none when it is deleted.
    pub written: Option<String>,
    /// Its base afterwards; none when it leaves bulkhead's care.
    pub base: Option<String>,
}

pub fn hash(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(text.as_bytes());
    // Every file is hashed on every run: hex without a formatter call per byte.
    let mut out = String::with_capacity(2 * digest.len());
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

pub fn lock_path(out_dir: &Path) -> PathBuf {
    out_dir.join(DIR).join(LOCK)
}

/// Relative path (inside the output folder) of the base object with `hash`.
pub fn base_rel(hash: &str) -> String {
    format!("{DIR}/{BASES}/{}/{}", &hash[..2], &hash[2..])
}

pub fn journal_rel() -> String {
    format!("{DIR}/{JOURNAL}")
}

pub fn lock_rel() -> String {
    format!("{DIR}/{LOCK}")
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::Message(format!(
            "{} is damaged ({e}); restore it from version control or delete {DIR}/ to start over",
            path.display()
        ))
    })
}

pub fn to_text<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// Everything bulkhead knows about its previous runs in an output folder.
#[derive(Debug, Default)]
pub struct State {
    /// The lock as it stands on disk.
    pub lock: Option<Lock>,
    /// The lock corrected by an interrupted apply's journal: a write the journal announced
    /// and that did happen moves its file's base forward.
    pub effective: BTreeMap<String, String>,
    /// An interrupted apply was found.
    pub interrupted: bool,
}

impl State {
    pub fn load(out_dir: &Path) -> Result<Self, Error> {
        let lock: Option<Lock> = read_json(&lock_path(out_dir))?;
        let journal: Option<Journal> = read_json(&out_dir.join(journal_rel()))?;
        let mut effective = lock.as_ref().map(|l| l.files.clone()).unwrap_or_default();
        let interrupted = journal.is_some();
        for (path, intent) in journal.map(|j| j.files).unwrap_or_default() {
            if crate::render::check_path(&path).is_err() {
                continue;
            }
            let on_disk = match std::fs::read_to_string(out_dir.join(&path)) {
                Ok(text) => Some(hash(&text)),
                Err(_) => None,
            };
            if on_disk == intent.written {
                match intent.base {
                    Some(base) => effective.insert(path, base),
                    None => effective.remove(&path),
                };
            }
        }
        Ok(Self {
            lock,
            effective,
            interrupted,
        })
    }

    /// The base content stored under `hash`, if it is there and intact.
    pub fn base(out_dir: &Path, hash_of: &str) -> Option<String> {
        if hash_of.len() < 3 || !hash_of.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let text = std::fs::read_to_string(out_dir.join(base_rel(hash_of))).ok()?;
        (hash(&text) == hash_of).then_some(text)
    }
}

impl Lock {
    pub fn new(files: BTreeMap<String, String>, blueprints: Option<BlueprintsLock>) -> Self {
        Self {
            generator: concat!("bulkhead ", env!("CARGO_PKG_VERSION")).to_string(),
            blueprints,
            files,
        }
    }

    /// The lock of `out_dir`, if there is one (without an interrupted apply's corrections).
    pub fn read(out_dir: &Path) -> Result<Option<Self>, Error> {
        read_json(&lock_path(out_dir))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lock_without_blueprints_still_loads() {
        let old = r#"{ "generator": "bulkhead 0.1.0", "files": { "a.yaml": "ab12" } }"#;
        let lock: super::Lock = serde_json::from_str(old).unwrap();
        assert_eq!(lock.blueprints, None);
        assert!(!super::to_text(&lock).contains("blueprints"));
    }

    #[test]
    fn hash_is_lowercase_hex_sha256() {
        assert_eq!(
            super::hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
