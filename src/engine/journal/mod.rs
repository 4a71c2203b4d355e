//! The engine's journal in sled: one checksummed record per command id, and a summary that
//! lets the journal be checked whole at start.
//!
//! A value is `crc32 (4 bytes, big endian) ++ 0x02 ++ sequence number (8 bytes) ++ JSON of the
//! record`; the checksum covers everything after it. (Values written before sequence numbers
//! existed are `crc32 ++ JSON` and are still read.) The checksum catches a torn or corrupted
//! value; such a record is reported, never guessed at. Durability points go through
//! [`Committer`], which lets several flows that are due at the same moment share one
//! flush + fsync (group commit).
//!
//! sled does not notice every kind of damage, so the journal does not trust it blindly. Each
//! table keeps a summary under a key no command id can have: the last sequence number written,
//! the number of records and an order-independent digest of their keys and checksums, updated
//! in the same atomic batch as every record. At start ([`Journal::open_or_set_aside`]) every
//! record's checksum, the summaries and the store's high-water mark (written at every
//! durability point, outside sled) are compared: a journal that lost records, holds a changed
//! one or ends before its mark is treated like a store sled cannot open: it is moved aside and
//! the engine rebuilds open work from the backend, with queries in doubt (see [`super::doubt`]).
//!
//! This module holds the journal's API; the value format, the summary, the check at start,
//! the doubt record and the group commit each have a module of their own.

mod committer;
mod set_aside;
mod summary;
mod value;

pub use committer::Committer;
pub use set_aside::{check, SetAside};
pub use value::{decode, encode, RecordError};

use super::api::CommandId;
use super::record::Record;
use crate::store::Db;
use anyhow::Context;
use std::sync::{Arc, Mutex};
use summary::{fingerprint, Summary};

const TREE: &str = "engine.commands";
/// The summary's key: command ids are printable ASCII, so a leading NUL cannot clash.
const SUMMARY_KEY: &[u8] = b"\0summary";

/// The stored records, as found at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Keys whose value failed its checksum or could not be decoded.
    pub corrupt: Vec<(String, RecordError)>,
}

/// The journal of one engine.
#[derive(Clone)]
pub struct Journal {
    db: Arc<Db>,
    tree: sled::Tree,
    lane: String,
    /// Serialises writes, so each record and the summary change together.
    summary: Arc<Mutex<Summary>>,
}

impl Journal {
    pub fn new(db: Arc<Db>) -> anyhow::Result<Journal> {
        Journal::open_table(db, TREE.to_string(), String::new())
    }

    /// The journal of one lane of a daemon serving several: each lane keeps its records in a
    /// table of its own in the shared store, so lanes recover independently.
    pub fn for_lane(db: Arc<Db>, lane: &str) -> anyhow::Result<Journal> {
        Journal::open_table(db, format!("{TREE}/{lane}"), lane.to_string())
    }

    fn open_table(db: Arc<Db>, name: String, lane: String) -> anyhow::Result<Journal> {
        let tree = db.tree(&name)?;
        let summary = match tree.get(SUMMARY_KEY).context("cannot read the payment journal")? {
            Some(value) => Summary::decode(&value).context("the journal's summary is unreadable")?,
            None => {
                // A new table, or one written before summaries: summarise it as it is.
                let (found, _) = Summary::of_table(&tree)?;
                tree.insert(SUMMARY_KEY, found.encode())
                    .context("cannot write the payment journal")?;
                found
            }
        };
        db.seq_at_least(summary.seq);
        Ok(Journal {
            db,
            tree,
            lane,
            summary: Arc::new(Mutex::new(summary)),
        })
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The lane this journal belongs to (empty for a single-lane engine).
    pub fn lane(&self) -> &str {
        &self.lane
    }

    /// Whether the store was rebuilt after damage recently enough that a command id missing
    /// from the journal may still have been used (see [`super::doubt`]).
    pub fn doubt(&self) -> Option<super::doubt::Doubt> {
        super::doubt::read(self.db.path())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a record (not yet durable; see [`Committer`]).
    pub fn put(&self, record: &Record) -> anyhow::Result<()> {
        let key = record.id.as_str().as_bytes();
        let mut summary = self.lock();
        let old = self.tree.get(key).context("cannot read the payment journal")?;
        let seq = self.db.next_seq();
        let value = encode(record, seq);
        let mut next = *summary;
        match &old {
            Some(old) => next.digest ^= fingerprint(key, old),
            None => next.count += 1,
        }
        next.digest ^= fingerprint(key, &value);
        next.seq = seq;
        let mut batch = sled::Batch::default();
        batch.insert(key, value);
        batch.insert(SUMMARY_KEY, next.encode());
        self.tree
            .apply_batch(batch)
            .context("cannot write the payment journal")?;
        *summary = next;
        Ok(())
    }

    pub fn get(&self, id: &CommandId) -> anyhow::Result<Option<Result<Record, RecordError>>> {
        let value = self
            .tree
            .get(id.as_str().as_bytes())
            .context("cannot read the payment journal")?;
        Ok(value.map(|v| decode(&v)))
    }

    pub fn load(&self) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        for entry in self.tree.iter() {
            let (key, value) = entry.context("cannot read the payment journal")?;
            if &*key == SUMMARY_KEY {
                continue;
            }
            let key = String::from_utf8_lossy(&key).into_owned();
            match decode(&value) {
                Ok(record) => loaded.records.push(record),
                Err(error) => loaded.corrupt.push((key, error)),
            }
        }
        Ok(loaded)
    }

    /// Removes those of `candidates` whose stored record is finished and was last changed
    /// before `cutoff_ms`, keeping disk use bounded, and returns the ids removed. The caller
    /// names the candidates from its own copy of the records, so a sweep decodes only what it
    /// may remove instead of the whole journal every time. Each stored value is checked again
    /// under the write lock, so a newer write is never lost; unreadable records are kept as
    /// evidence for a person.
    pub fn prune<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a CommandId>,
        cutoff_ms: u64,
    ) -> anyhow::Result<Vec<CommandId>> {
        let mut removed = Vec::new();
        for id in candidates {
            let key = id.as_str().as_bytes();
            let mut summary = self.lock();
            let Some(value) = self.tree.get(key).context("cannot read the payment journal")? else {
                continue;
            };
            let Ok(record) = decode(&value) else { continue };
            if record.is_finished() && record.updated_at_ms < cutoff_ms {
                let mut next = *summary;
                next.count = next.count.saturating_sub(1);
                next.digest ^= fingerprint(key, &value);
                next.seq = self.db.next_seq();
                let mut batch = sled::Batch::default();
                batch.remove(key);
                batch.insert(SUMMARY_KEY, next.encode());
                self.tree
                    .apply_batch(batch)
                    .context("cannot prune the payment journal")?;
                *summary = next;
                removed.push(id.clone());
            }
        }
        Ok(removed)
    }

    /// Flush + fsync now (blocking).
    pub fn durable_now(&self) -> anyhow::Result<()> {
        self.db.durable()
    }
}

#[cfg(test)]
mod tests;
