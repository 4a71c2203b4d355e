//! The record, kept beside the store, that the journal was rebuilt after damage.
//!
//! After a journal is moved aside, a command id the new journal does not know may still have
//! been used before: a `not_found` answer would tell the cash register to send it as new. For
//! [`crate::engine::EngineConfig::doubt_window`] after the rebuild the engine answers such
//! queries "in doubt" instead, and creates payments only after looking their order id up at
//! the backend. The file is written before the store is moved, so a crash in between cannot
//! lose it; a damaged file counts as doubt from the moment it is found.

use crate::store::sidecar;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

const HEADER: &str = "mposd-journal-doubt 1";

/// The default [`crate::engine::EngineConfig::doubt_window`]: seven days, the longest a
/// reservation lives.
pub const DOUBT_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

impl Doubt {
    /// Until when (unix milliseconds) a journal rebuilt after this doubt answers unknown ids
    /// "in doubt", with the doubt window `window`.
    pub fn until_ms(&self, window: Duration) -> u64 {
        self.since_ms
            .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Doubt {
    /// When the damage was found (unix milliseconds).
    pub since_ms: u64,
    /// What was wrong.
    pub reason: String,
}

fn path_for(store_dir: &Path) -> PathBuf {
    sidecar::beside(store_dir, "doubt")
}

pub fn record(store_dir: &Path, doubt: &Doubt) -> anyhow::Result<()> {
    // JSON of plain data cannot fail to serialise, and has no newline.
    let payload = serde_json::to_string(doubt).unwrap_or_default();
    sidecar::write(&path_for(store_dir), HEADER, &payload)
}

pub fn read(store_dir: &Path) -> Option<Doubt> {
    let now_ms = super::clock::now_ms();
    let damaged = |what: &str| {
        let doubt = Doubt {
            since_ms: now_ms,
            reason: format!("the record of an earlier journal rebuild is {what}"),
        };
        // Rewritten whole, so the doubt keeps its start on later reads.
        let _ = record(store_dir, &doubt);
        Some(doubt)
    };
    match sidecar::read(&path_for(store_dir), HEADER) {
        Ok(sidecar::Found::Absent) => None,
        Ok(sidecar::Found::Valid(text)) => match serde_json::from_str(&text) {
            Ok(doubt) => Some(doubt),
            Err(_) => damaged("damaged"),
        },
        Ok(sidecar::Found::Damaged) => damaged("damaged"),
        Err(_) => damaged("unreadable"),
    }
}
