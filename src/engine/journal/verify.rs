//! The check of a whole journal table while the engine runs.
//!
//! Start-up reads only the records with work left, so the rest of a table is checked here,
//! right after start: every record against its checksum, the table against its summary (records
//! lost or changed on disk), and both indexes against the records. A missing index entry is
//! written again, and a record with work left that the open-work index missed is handed back to
//! the engine to resume; a failed checksum or a table that does not match its summary is damage.

use super::layout;
use super::summary::{fingerprint, Summary};
use super::value::unwrap_value;
use super::{decode, Journal, RecordError};
use crate::engine::record::Record;
use std::collections::BTreeSet;

/// What a check of the whole table found besides damage.
#[derive(Debug, Default)]
pub struct Audit {
    /// Records with work left that the open-work index did not name (indexed again now).
    pub unindexed: Vec<Record>,
    /// Records that pass their checksum but cannot be read (written by a newer release, say).
    pub unreadable: Vec<(String, RecordError)>,
    /// Index entries written again or removed.
    pub repaired: usize,
}

/// One pass over the table.
#[derive(Default)]
struct Pass {
    found: Summary,
    /// Open-work index entries, by command id.
    open: BTreeSet<Vec<u8>>,
    /// Records whose index entries are missing.
    to_index: Vec<Vec<u8>>,
    /// Records with work left.
    with_work: BTreeSet<Vec<u8>>,
    unreadable: Vec<(String, RecordError)>,
}

/// Passes without the write lock before one is made holding it: a pass races the engine's
/// writes, which show as a changed summary.
const UNLOCKED_PASSES: usize = 3;

impl Journal {
    /// Checks the whole table (see the module comment). `Err` says what is damaged, in words
    /// for the alarm.
    pub fn verify(&self) -> Result<Audit, String> {
        super::guarded(|| self.verify_unguarded().map_err(anyhow::Error::msg)).map_err(|e| format!("{e:#}"))
    }

    fn verify_unguarded(&self) -> Result<Audit, String> {
        let mut settled = None;
        for _ in 0..UNLOCKED_PASSES {
            let before = *self.lock();
            let pass = self.pass()?;
            if *self.lock() == before {
                settled = Some((pass, before));
                break;
            }
        }
        let (pass, stored) = match settled {
            Some(settled) => settled,
            None => {
                let summary = self.lock();
                (self.pass()?, *summary)
            }
        };
        if pass.found.count != stored.count
            || pass.found.digest != stored.digest
            || stored.seq < pass.found.seq
        {
            return Err(format!(
                "the journal holds {} records that do not match its summary of {} records: \
                 records were lost or changed on disk",
                pass.found.count, stored.count
            ));
        }
        self.repair(pass)
    }

    fn pass(&self) -> Result<Pass, String> {
        let read_error = |e: sled::Error| format!("cannot read the payment journal: {e}");
        let mut pass = Pass::default();
        // Keys are in order: the index entries (0x01, 0x02) come before the records.
        for entry in self.tree.iter() {
            let (key, value) = entry.map_err(read_error)?;
            if layout::is_open(&key) {
                pass.open.insert(layout::id_of_open(&key).to_vec());
                continue;
            }
            if !layout::is_record(&key) {
                continue;
            }
            let command = || String::from_utf8_lossy(&key).into_owned();
            let (seq, _) = unwrap_value(&value)
                .map_err(|e| format!("the record of command {} is damaged: {e}", command()))?;
            pass.found.seq = pass.found.seq.max(seq);
            pass.found.count += 1;
            pass.found.digest ^= fingerprint(&key, &value);
            let record = match decode(&value) {
                Ok(record) => record,
                Err(error) => {
                    pass.unreadable.push((command(), error));
                    continue;
                }
            };
            let open_work = record.is_open_work();
            if open_work {
                pass.with_work.insert(key.to_vec());
            }
            let payment_indexed = match &record.payment_id {
                Some(payment_id) => {
                    let mut index_key = layout::payment_prefix(payment_id);
                    index_key.extend_from_slice(&key);
                    self.tree.contains_key(index_key).map_err(read_error)?
                }
                None => true,
            };
            if (open_work && !pass.open.contains(&*key)) || !payment_indexed {
                pass.to_index.push(key.to_vec());
            }
        }
        Ok(pass)
    }

    /// Writes missing index entries and removes stale open-work entries, each under the write
    /// lock with the record read again, so a newer write is never undone.
    fn repair(&self, pass: Pass) -> Result<Audit, String> {
        let write_error = |e: sled::Error| format!("cannot repair the journal's index: {e}");
        let mut audit = Audit {
            unreadable: pass.unreadable,
            ..Audit::default()
        };
        for key in &pass.to_index {
            let _summary = self.lock();
            let Some(value) = self.tree.get(key).map_err(write_error)? else {
                continue;
            };
            let Ok(record) = decode(&value) else { continue };
            let mut batch = sled::Batch::default();
            layout::index(&mut batch, key, &record);
            let _writing = self.db.in_flight().begin(self.writer);
            self.tree.apply_batch(batch).map_err(write_error)?;
            audit.repaired += 1;
            if record.is_open_work() && !pass.open.contains(key) {
                audit.unindexed.push(record);
            }
        }
        for id in pass.open.difference(&pass.with_work) {
            let _summary = self.lock();
            let still_open = match self.tree.get(id).map_err(write_error)? {
                // An unreadable record keeps its entry: a person must still see it at start.
                Some(value) => decode(&value).map_or(true, |r| r.is_open_work()),
                None => false,
            };
            if !still_open {
                let _writing = self.db.in_flight().begin(self.writer);
                self.tree.remove(layout::open_key(id)).map_err(write_error)?;
                audit.repaired += 1;
            }
        }
        Ok(audit)
    }
}
