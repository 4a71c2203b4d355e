//! One problem of a configuration file, and checks the sections of the file share. Kept apart
//! from the file's layout (`config.rs`) so the sections' own modules can report problems
//! without depending on the file that includes them.

use std::fmt;
use std::path::Path;

/// A problem in the configuration, located by the TOML key path it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}: {}", self.key, self.message),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// Whether `path` holds at least one PEM certificate and nothing unreadable.
pub(super) fn read_pem(path: &Path) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut reader = &bytes[..];
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader).collect();
    if certs.is_empty() || certs.iter().any(Result::is_err) {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(())
}
