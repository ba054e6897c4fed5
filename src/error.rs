//! Everything that can stop a command, and the exit code each one means. Errors are
//! printed in exactly one place, `crate::run`.

use std::path::{Path, PathBuf};

/// Exit codes of the command-line contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    Failure = 1,
    Usage = 2,
    /// `plan --check` found changes.
    Drift = 3,
    /// A file holds conflict markers, or apply would write some.
    Conflicts = 4,
}

#[derive(Debug)]
pub enum Error {
    /// service.toml broke rules; the diagnostics are already rendered.
    Invalid {
        rendered: String,
        summary: String,
    },
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A blueprint failed to compile or render, or rendered unparseable output.
    Blueprint {
        blueprint: String,
        message: String,
    },
    Message(String),
}

impl Error {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        ExitStatus::Failure
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid { summary, .. } => f.write_str(summary),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Blueprint { blueprint, message } => {
                write!(f, "blueprint {blueprint}: {message}")
            }
            Self::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
