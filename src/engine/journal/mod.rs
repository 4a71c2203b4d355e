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
mod layout;
mod set_aside;
mod summary;
mod value;
mod verify;

pub use committer::Committer;
pub use set_aside::{check, check_whole_next_start, SetAside};
pub use value::{decode, encode, RecordError};
pub use verify::Audit;

use super::api::CommandId;
use super::record::Record;
use crate::store::in_flight::Writer;
use crate::store::Db;
use anyhow::Context;
use layout::{INDEX_MARK_KEY, SUMMARY_KEY};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use summary::{fingerprint, Summary};

const TREE: &str = "engine.commands";

/// The stored records, as found at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Keys whose value failed its checksum or could not be decoded.
    pub corrupt: Vec<(String, RecordError)>,
}

/// Runs a read of the store, turning a panic into an error. sled 0.34 panics on some damaged
/// files instead of reporting them (a data file cut short, say); at start that sets the store
/// aside, and while the engine runs it must fail the one command or check, not stop the lane.
fn guarded<T>(read: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        Err(anyhow::anyhow!(
            "sled failed while reading the store: {}",
            set_aside::panic_text(panic.as_ref())
        ))
    })
}

impl Loaded {
    fn add(&mut self, key: &[u8], value: &[u8]) {
        match decode(value) {
            Ok(record) => self.records.push(record),
            Err(error) => self
                .corrupt
                .push((String::from_utf8_lossy(key).into_owned(), error)),
        }
    }
}

/// Writes the indexes of a table written by a release without them, then their mark, in one
/// atomic batch. This reads the whole table once, on the first start after the upgrade.
fn build_index(tree: &sled::Tree) -> anyhow::Result<()> {
    let mut batch = sled::Batch::default();
    for entry in tree.iter() {
        let (key, value) = entry.context("cannot read the payment journal")?;
        if layout::is_record(&key) {
            if let Ok(record) = decode(&value) {
                layout::index(&mut batch, &key, &record);
            }
        }
    }
    batch.insert(INDEX_MARK_KEY, &[]);
    tree.apply_batch(batch)
        .context("cannot index the payment journal")
}

/// The journal of one engine.
#[derive(Clone)]
pub struct Journal {
    db: Arc<Db>,
    tree: sled::Tree,
    lane: String,
    /// Serialises writes, so each record and the summary change together.
    summary: Arc<Mutex<Summary>>,
    /// Who this journal's writes and durability points are, should one not return.
    writer: Writer,
    flusher: Writer,
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
        let whose = match lane.as_str() {
            "" => "the payment journal".to_string(),
            lane => format!("lane {lane}'s journal"),
        };
        let writer = db.in_flight().writer(&format!("a write of {whose}"));
        let flusher = db.in_flight().writer(&format!("a flush + fsync of {whose}"));
        let summary = match tree.get(SUMMARY_KEY).context("cannot read the payment journal")? {
            Some(value) => Summary::decode(&value).context("the journal's summary is unreadable")?,
            None => {
                // A new table, or one written before summaries: summarise it as it is.
                let (found, _) = Summary::of_table(&tree)?;
                let _writing = db.in_flight().begin(writer);
                tree.insert(SUMMARY_KEY, found.encode())
                    .context("cannot write the payment journal")?;
                found
            }
        };
        db.seq_at_least(summary.seq);
        if tree
            .get(INDEX_MARK_KEY)
            .context("cannot read the payment journal")?
            .is_none()
        {
            let _writing = db.in_flight().begin(writer);
            build_index(&tree)?;
        }
        Ok(Journal {
            db,
            tree,
            lane,
            summary: Arc::new(Mutex::new(summary)),
            writer,
            flusher,
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
        let _writing = self.db.in_flight().begin(self.writer);
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
        layout::index(&mut batch, key, record);
        batch.insert(SUMMARY_KEY, next.encode());
        self.tree
            .apply_batch(batch)
            .context("cannot write the payment journal")?;
        *summary = next;
        Ok(())
    }

    pub fn get(&self, id: &CommandId) -> anyhow::Result<Option<Result<Record, RecordError>>> {
        guarded(|| {
            let value = self
                .tree
                .get(id.as_str().as_bytes())
                .context("cannot read the payment journal")?;
            Ok(value.map(|v| decode(&v)))
        })
    }

    /// Every record of the table, for the journal's own tests: the daemon never reads the whole
    /// table into memory (start-up reads [`Journal::load_open`], the check of the whole table
    /// walks it with [`Journal::verify`]).
    #[cfg(test)]
    pub fn load(&self) -> anyhow::Result<Loaded> {
        let mut loaded = Loaded::default();
        for entry in self.tree.iter() {
            let (key, value) = entry.context("cannot read the payment journal")?;
            if layout::is_record(&key) {
                loaded.add(&key, &value);
            }
        }
        Ok(loaded)
    }

    /// The records with work left (see [`Record::is_open_work`]) and every other record of their
    /// payments, which the reconciler and the point-of-sale checks look at beside them: what a
    /// starting engine needs, read through the open-work index instead of the whole table. An
    /// index entry whose record is gone is reported as unreadable: the index and the record are
    /// written together, so only damage separates them.
    pub fn load_open(&self) -> anyhow::Result<Loaded> {
        guarded(|| {
            let mut loaded = Loaded::default();
            let mut seen = BTreeSet::new();
            for entry in self.tree.scan_prefix(layout::OPEN_PREFIX) {
                let (key, _) = entry.context("cannot read the payment journal")?;
                let id = layout::id_of_open(&key).to_vec();
                match self.tree.get(&id).context("cannot read the payment journal")? {
                    Some(value) => loaded.add(&id, &value),
                    None => loaded
                        .corrupt
                        .push((String::from_utf8_lossy(&id).into_owned(), RecordError::Truncated)),
                }
                seen.insert(id);
            }
            let payments: BTreeSet<String> = loaded
                .records
                .iter()
                .filter_map(|r| r.payment_id.clone())
                .collect();
            for payment_id in payments {
                for record in self.of_payment(&payment_id)? {
                    if seen.insert(record.id.as_str().as_bytes().to_vec()) {
                        loaded.records.push(record);
                    }
                }
            }
            Ok(loaded)
        })
    }

    /// The readable records of payment `payment_id`, through the payment index.
    pub fn of_payment(&self, payment_id: &str) -> anyhow::Result<Vec<Record>> {
        guarded(|| {
            let prefix = layout::payment_prefix(payment_id);
            let mut records = Vec::new();
            for entry in self.tree.scan_prefix(&prefix) {
                let (key, _) = entry.context("cannot read the payment journal")?;
                let id = layout::id_of_payment(&key, prefix.len());
                let Some(value) = self.tree.get(id).context("cannot read the payment journal")? else {
                    continue;
                };
                if let Ok(record) = decode(&value) {
                    if record.payment_id.as_deref() == Some(payment_id) {
                        records.push(record);
                    }
                }
            }
            Ok(records)
        })
    }

    /// One step of pruning: looks at up to `limit` records from `from` on (the start of the
    /// table for `None`) and removes those that are finished and were last changed before
    /// `cutoff_ms`, keeping disk use bounded. Returns the ids removed and where the next step
    /// starts, `None` once the end of the table is reached. A sweep so costs the same whatever
    /// the journal's size, and the whole table is covered over successive sweeps. Each value is
    /// checked again under the write lock, so a newer write is never lost; unreadable records are
    /// kept as evidence for a person.
    pub fn prune_step(
        &self,
        from: Option<&[u8]>,
        limit: usize,
        cutoff_ms: u64,
    ) -> anyhow::Result<(Vec<CommandId>, Option<Vec<u8>>)> {
        guarded(|| {
            // Record keys are printable, so the range from a space holds records only.
            let start = from.unwrap_or(b" ").to_vec();
            let mut keys = Vec::with_capacity(limit);
            for entry in self.tree.range(start..).take(limit) {
                let (key, _) = entry.context("cannot read the payment journal")?;
                keys.push(key);
            }
            let next = match keys.last() {
                Some(last) if keys.len() == limit => {
                    let mut after = last.to_vec();
                    after.push(0);
                    Some(after)
                }
                _ => None,
            };
            let mut removed = Vec::new();
            for key in keys {
                let mut summary = self.lock();
                let Some(value) = self.tree.get(&key).context("cannot read the payment journal")? else {
                    continue;
                };
                let Ok(record) = decode(&value) else { continue };
                if record.is_finished() && record.updated_at_ms < cutoff_ms {
                    let mut next = *summary;
                    next.count = next.count.saturating_sub(1);
                    next.digest ^= fingerprint(&key, &value);
                    next.seq = self.db.next_seq();
                    let mut batch = sled::Batch::default();
                    batch.remove(&key);
                    layout::unindex(&mut batch, &key, &record);
                    batch.insert(SUMMARY_KEY, next.encode());
                    let _writing = self.db.in_flight().begin(self.writer);
                    self.tree
                        .apply_batch(batch)
                        .context("cannot prune the payment journal")?;
                    *summary = next;
                    removed.push(record.id);
                }
            }
            Ok((removed, next))
        })
    }

    /// Flush + fsync now (blocking).
    pub fn durable_now(&self) -> anyhow::Result<()> {
        self.db.durable_by(self.flusher)
    }
}

#[cfg(test)]
mod tests;
