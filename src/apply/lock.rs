//! `.bulkhead/lock.json`: the generator version and, per generated file, the hash of the
//! content bulkhead last wrote. It is how a later run tells a user's edit from its own.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;

pub const DIR: &str = ".bulkhead";
pub const FILE: &str = "lock.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub generator: String,
    /// Output path → sha256 of the content last written.
    pub files: BTreeMap<String, String>,
}

pub fn hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn path(out_dir: &Path) -> PathBuf {
    out_dir.join(DIR).join(FILE)
}

impl Lock {
    pub fn new(files: BTreeMap<String, String>) -> Self {
        Self {
            generator: concat!("bulkhead ", env!("CARGO_PKG_VERSION")).to_string(),
            files,
        }
    }

    /// The lock of a previous run, if there was one.
    pub fn read(out_dir: &Path) -> Result<Option<Self>, Error> {
        let p = path(out_dir);
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&p, e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::Message(format!(
                "{} is damaged ({e}); restore it from version control or delete it to start over",
                p.display()
            ))
        })
    }

    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
