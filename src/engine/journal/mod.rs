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
//! the engine rebuilds open work from the backend, with queries in doubt (see [`doubt`]).

use super::api::CommandId;
use super::record::Record;
use crate::store::{self, sidecar, Db};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

const TREE: &str = "engine.commands";
/// The summary's key: command ids are printable ASCII, so a leading NUL cannot clash.
const SUMMARY_KEY: &[u8] = b"\0summary";
/// Marks a value with a sequence number (a JSON record starts with `{`).
const SEQUENCED: u8 = 0x02;

/// Why a stored record cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record is too short to hold a checksum")]
    Truncated,
    #[error("the record's checksum does not match (torn or corrupted write)")]
    Checksum,
    #[error("the record cannot be decoded: {0}")]
    Decode(String),
    #[error("the record has schema version {0}, newer than this release understands")]
    Schema(u32),
}

pub fn encode(record: &Record, seq: u64) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    let body = serde_json::to_vec(record).unwrap_or_default();
    let mut value = vec![0u8; 4];
    value.push(SEQUENCED);
    value.extend_from_slice(&seq.to_be_bytes());
    value.extend_from_slice(&body);
    let crc = crc32fast::hash(&value[4..]);
    value[..4].copy_from_slice(&crc.to_be_bytes());
    value
}

/// Checks a value's checksum and splits it into its sequence number (0 for values written
/// before sequence numbers) and its JSON.
fn unwrap_value(value: &[u8]) -> Result<(u64, &[u8]), RecordError> {
    if value.len() < 4 {
        return Err(RecordError::Truncated);
    }
    let (crc, rest) = value.split_at(4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(rest) != stored {
        return Err(RecordError::Checksum);
    }
    match rest.split_first() {
        Some((&SEQUENCED, sequenced)) if sequenced.len() >= 8 => {
            let (seq, body) = sequenced.split_at(8);
            Ok((u64::from_be_bytes(seq.try_into().unwrap_or_default()), body))
        }
        Some((&SEQUENCED, _)) => Err(RecordError::Truncated),
        _ => Ok((0, rest)),
    }
}

pub fn decode(value: &[u8]) -> Result<Record, RecordError> {
    let (_, body) = unwrap_value(value)?;
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| RecordError::Decode(e.to_string()))?;
    super::upgrade::upgrade(value).map_err(|e| match e {
        super::upgrade::UpgradeError::Newer(version) => RecordError::Schema(version),
        other => RecordError::Decode(other.to_string()),
    })
}

/// A record's contribution to the digest: its key and stored checksum, which changes with
/// every write of the record (the sequence number is under it).
fn fingerprint(key: &[u8], value: &[u8]) -> u64 {
    let mut hash = Sha256::new();
    hash.update((key.len() as u64).to_be_bytes());
    hash.update(key);
    hash.update(value.get(..4).unwrap_or(value));
    let digest = hash.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// A table's summary, stored in the same atomic batch as every record write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Summary {
    /// The sequence number of the latest write.
    seq: u64,
    /// How many records the table holds.
    count: u64,
    /// XOR of every record's [`fingerprint`].
    digest: u64,
}

impl Summary {
    fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let mut value = crc32fast::hash(&body).to_be_bytes().to_vec();
        value.extend_from_slice(&body);
        value
    }

    fn decode(value: &[u8]) -> Option<Summary> {
        let (crc, body) = value.split_at_checked(4)?;
        if crc32fast::hash(body).to_be_bytes() != crc {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// The summary of a table as it is, reading every value once; `Err` names the first key
    /// whose value fails its checksum.
    fn of_table(tree: &sled::Tree) -> anyhow::Result<(Summary, Option<Summary>)> {
        let mut found = Summary::default();
        let mut stored = None;
        for entry in tree.iter() {
            let (key, value) = entry.context("cannot read the payment journal")?;
            if &*key == SUMMARY_KEY {
                stored = Some(Summary::decode(&value).context("the journal's summary is unreadable")?);
                continue;
            }
            let (seq, _) = unwrap_value(&value).map_err(|e| {
                anyhow::anyhow!(
                    "the record of command {} is damaged: {e}",
                    String::from_utf8_lossy(&key)
                )
            })?;
            found.seq = found.seq.max(seq);
            found.count += 1;
            found.digest ^= fingerprint(&key, &value);
        }
        Ok((found, stored))
    }
}

/// The names of the journal tables in `db`.
fn journal_tables(db: &Db) -> Vec<String> {
    db.sled()
        .tree_names()
        .into_iter()
        .map(|name| String::from_utf8_lossy(&name).into_owned())
        .filter(|name| name == TREE || name.starts_with(&format!("{TREE}/")))
        .collect()
}

/// Checks every journal table of `db` against its summary and the store's mark. `Ok` carries
/// the highest sequence number found; `Err` says what is wrong, in words for the alarm.
pub fn check(db: &Db) -> Result<u64, String> {
    let opened = db.opened();
    let mut highest = 0;
    let mut summarised = false;
    for name in journal_tables(db) {
        let tree = db.tree(&name).map_err(|e| format!("{e:#}"))?;
        let (found, stored) = Summary::of_table(&tree).map_err(|e| format!("{e:#}"))?;
        match stored {
            Some(stored) => {
                summarised = true;
                if stored.count != found.count || stored.digest != found.digest || stored.seq < found.seq {
                    return Err(format!(
                        "the journal table {name} holds {} records that do not match its summary of                          {} records: records were lost or changed on disk",
                        found.count, stored.count
                    ));
                }
                highest = highest.max(stored.seq);
            }
            // A table written before summaries existed has none, and then the store has no
            // mark either; with a mark, a missing summary means it was lost.
            None if found.count > 0 && !matches!(opened.mark, store::mark::Found::Absent) => {
                return Err(format!("the journal table {name} lost its summary"));
            }
            None => highest = highest.max(found.seq),
        }
    }
    match opened.mark {
        store::mark::Found::Valid(mark) if highest < mark.seq => Err(format!(
            "the journal ends at write {highest} but {} writes were durable: its latest records are gone",
            mark.seq
        )),
        store::mark::Found::Damaged if !opened.created => {
            Err("the journal's high-water mark is unreadable, so the journal cannot be vouched for".into())
        }
        store::mark::Found::Absent if summarised => {
            Err("the journal's high-water mark is missing, so the journal cannot be vouched for".into())
        }
        _ => Ok(highest),
    }
}

/// Whether sled's data file is gone from a store that held one. sled would start an empty store
/// in its place without a word, and with the mark lost too nothing else would notice; the other
/// files sled leaves in the directory (its configuration, snapshots) show a store was there.
fn data_file_lost(dir: &Path) -> bool {
    !dir.join("db").exists() && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// The message a panic carried, for the alarm.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// Where a damaged store is moved: `<name>.corrupt-<unix seconds>`, or with `.2`, `.3`, ...
/// appended when a store was already set aside in the same second (a daemon restarted quickly
/// on damage again), so the move never fails on an earlier one.
fn aside_path(dir: &Path, name: &str, now_unix_s: u64) -> PathBuf {
    let mut path = dir.with_file_name(format!("{name}.corrupt-{now_unix_s}"));
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = dir.with_file_name(format!("{name}.corrupt-{now_unix_s}.{n}"));
    }
    path
}

/// The stored records, as found at start.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Keys whose value failed its checksum or could not be decoded.
    pub corrupt: Vec<(String, RecordError)>,
}

/// A store that was moved aside at start, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAside {
    /// Where the damaged store now is.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
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

    /// Opens the store in `dir` and checks it ([`check`]). If its files are damaged, or the
    /// journal fails the check, the directory is moved aside as `<dir>.corrupt-<unix seconds>`
    /// (see [`aside_path`]) and an empty store is started; the doubt file beside the store is written first, so no
    /// crash can lose the fact that the journal was lost. The returned [`SetAside`] tells the
    /// caller to raise the alarm and rebuild from the backend. Any other failure (the store in
    /// use by another process, no permission, a failing disk) is returned as it is: the store
    /// stays where it is.
    pub fn open_or_set_aside(
        dir: &Path,
        cache_bytes: u64,
        now_unix_s: u64,
    ) -> anyhow::Result<(Journal, Option<SetAside>)> {
        // sled can panic on some damaged files instead of reporting them (e.g. a snapshot that
        // names a part of the data file a truncation took away); that is damage too, and must
        // not stop the daemon from starting.
        let opened = std::panic::catch_unwind(|| {
            if data_file_lost(dir) {
                return Ok(None);
            }
            Db::open(dir, cache_bytes).map(|db| {
                let checked = check(&db);
                Some((db, checked))
            })
        });
        let reason = match opened {
            Ok(Ok(Some((db, checked)))) => match checked {
                Ok(highest) => {
                    db.seq_at_least(highest);
                    let db = Arc::new(db);
                    if db.opened().mark == store::mark::Found::Absent {
                        // A store of a release without summaries: summarise every table, and
                        // only then write the first mark, so no crash leaves a mark without
                        // the summaries it vouches for.
                        for name in journal_tables(&db) {
                            Journal::open_table(db.clone(), name, String::new())?;
                        }
                        db.durable()?;
                    }
                    return Ok((Journal::new(db)?, None));
                }
                Err(reason) => reason,
            },
            Ok(Ok(None)) => "sled's data file is missing from the store: every record in it is lost".into(),
            Ok(Err(error)) if !store::is_damage(&error) => return Err(error),
            Ok(Err(error)) => format!("{error:#}"),
            Err(panic) => format!(
                "sled failed while opening or reading the store: {}",
                panic_text(panic.as_ref())
            ),
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        let aside = aside_path(dir, &name, now_unix_s);
        tracing::error!(%reason, moved_to = %aside.display(),
            "the payment journal is damaged; moving it aside and starting empty");
        doubt::record(
            dir,
            &doubt::Doubt {
                since_ms: super::driver::now_ms(),
                reason: reason.clone(),
            },
        )?;
        std::fs::rename(dir, &aside)
            .with_context(|| format!("cannot move the damaged store {} aside", dir.display()))?;
        let db = Db::open(dir, cache_bytes)?;
        Ok((
            Journal::new(Arc::new(db))?,
            Some(SetAside { path: aside, reason }),
        ))
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The lane this journal belongs to (empty for a single-lane engine).
    pub fn lane(&self) -> &str {
        &self.lane
    }

    /// Whether the store was rebuilt after damage recently enough that a command id missing
    /// from the journal may still have been used (see [`doubt`]).
    pub fn doubt(&self) -> Option<doubt::Doubt> {
        doubt::read(self.db.path())
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

/// The record, kept beside the store, that the journal was rebuilt after damage.
///
/// After a journal is moved aside, a command id the new journal does not know may still have
/// been used before: a `not_found` answer would tell the cash register to send it as new. For
/// [`crate::engine::EngineConfig::doubt_window`] after the rebuild the engine answers such
/// queries "in doubt" instead, and creates payments only after looking their order id up at
/// the backend. The file is written before the store is moved, so a crash in between cannot
/// lose it; a damaged file counts as doubt from the moment it is found.
pub mod doubt {
    use super::sidecar;
    use serde::{Deserialize, Serialize};
    use std::path::{Path, PathBuf};

    const HEADER: &str = "mposd-journal-doubt 1";

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
        let now_ms = crate::engine::driver::now_ms();
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
}

/// Group commit: callers that need a durability point at about the same time share one
/// flush + fsync, done on a blocking thread.
#[derive(Clone)]
pub struct Committer {
    requests: mpsc::UnboundedSender<oneshot::Sender<Result<(), String>>>,
}

impl Committer {
    /// Starts the commit task on the current tokio runtime.
    pub fn start(journal: Journal) -> Committer {
        let (requests, mut receiver) = mpsc::unbounded_channel::<oneshot::Sender<Result<(), String>>>();
        tokio::spawn(async move {
            while let Some(first) = receiver.recv().await {
                let mut waiting = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    waiting.push(more);
                }
                let journal = journal.clone();
                let result = tokio::task::spawn_blocking(move || journal.durable_now())
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| format!("{e:#}")));
                for waiter in waiting {
                    let _ = waiter.send(result.clone());
                }
            }
        });
        Committer { requests }
    }

    /// Returns once everything written before the call survives a power cut.
    pub async fn durable(&self) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(reply)
            .map_err(|_| "the journal committer has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the journal committer has stopped".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::Command;
    use crate::engine::record::SCHEMA_VERSION;

    fn sample(id: &str) -> Record {
        let mut record = Record::new(
            CommandId::new(id).unwrap(),
            Command::Prepare {
                order_id: "o-1".into(),
            },
            "pos".into(),
            1_000,
        );
        record.correlation_id =
            crate::engine::backend::CorrelationId::parse("3974eae6-e36f-4148-b5ee-22689e528c75").unwrap();
        record
    }

    #[test]
    fn records_round_trip_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            let (journal, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
            assert!(aside.is_none());
            journal.put(&sample("a")).unwrap();
            journal.durable_now().unwrap();
        }
        let (journal, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
        let got = journal.get(&CommandId::new("a").unwrap()).unwrap();
        assert_eq!(got, Some(Ok(sample("a"))));
        assert_eq!(journal.get(&CommandId::new("b").unwrap()).unwrap(), None);
    }

    #[test]
    fn corrupt_values_are_detected() {
        let mut value = encode(&sample("a"), 1);
        let last = value.len() - 2;
        value[last] ^= 0x20;
        assert_eq!(decode(&value), Err(RecordError::Checksum));
        assert_eq!(decode(&value[..3]), Err(RecordError::Truncated));
        let body = b"{\"not\":\"a record\"}";
        let mut forged = crc32fast::hash(body).to_be_bytes().to_vec();
        forged.extend_from_slice(body);
        assert!(matches!(decode(&forged), Err(RecordError::Decode(_))));
        let mut future = sample("a");
        future.schema = SCHEMA_VERSION + 1;
        assert_eq!(
            decode(&encode(&future, 1)),
            Err(RecordError::Schema(SCHEMA_VERSION + 1))
        );

        // A corrupt value on disk is reported by load, the good ones are kept.
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
        let journal = Journal::new(db.clone()).unwrap();
        journal.put(&sample("good")).unwrap();
        db.tree(TREE).unwrap().insert("bad", value).unwrap();
        let loaded = journal.load().unwrap();
        assert_eq!(loaded.records, vec![sample("good")]);
        assert_eq!(loaded.corrupt, vec![("bad".to_string(), RecordError::Checksum)]);
    }

    #[test]
    fn an_unopenable_store_is_moved_aside_and_a_fresh_one_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            let (journal, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
            journal.put(&sample("a")).unwrap();
            journal.durable_now().unwrap();
        }
        // Overwrite sled's configuration and data with garbage.
        for entry in std::fs::read_dir(&path).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::write(entry.path(), b"\x00garbage not a sled file\xff").unwrap();
            }
        }
        let (journal, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1234).unwrap();
        let aside = aside.expect("the broken store is moved aside").path;
        assert!(aside.ends_with("journal.corrupt-1234"), "{}", aside.display());
        assert!(aside.join("db").exists(), "the old files are kept for inspection");
        assert!(
            doubt::read(&path).is_some(),
            "the rebuild is recorded beside the store"
        );
        assert!(journal.load().unwrap().records.is_empty());
        journal.put(&sample("b")).unwrap();
        journal.durable_now().unwrap();
    }

    #[test]
    fn a_second_damaged_store_in_the_same_second_is_moved_beside_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut moved = Vec::new();
        for _ in 0..3 {
            drop(Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap());
            std::fs::write(path.join(crate::store::mark::FILE_NAME), [0u8; 128]).unwrap();
            let (_, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1234).unwrap();
            moved.push(aside.expect("the broken store is moved aside").path);
        }
        let names: Vec<String> = moved
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "journal.corrupt-1234",
                "journal.corrupt-1234.2",
                "journal.corrupt-1234.3"
            ]
        );
        assert!(
            moved.iter().all(|p| p.join("db").exists()),
            "each kept for inspection"
        );
    }

    #[test]
    fn a_store_that_makes_sled_panic_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            // Enough rewrites for sled to reuse segments of its data file.
            let (journal, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
            for i in 0..2500 {
                journal.put(&sample(&format!("r{}", i % 10))).unwrap();
                journal.durable_now().unwrap();
            }
        }
        // Reopened, sled keeps a snapshot of where its pages are in the data file.
        drop(Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap());
        let len = std::fs::metadata(path.join("db")).unwrap().len();
        let mut reasons = Vec::new();
        for quarter in 1..4 {
            // A truncated data file whose snapshot names pages past the cut: sled 0.34 panics
            // (index out of bounds) while opening some of these instead of reporting damage.
            let copy = dir.path().join(format!("cut-{quarter}"));
            copy_dir(&path, &copy);
            std::fs::OpenOptions::new()
                .write(true)
                .open(copy.join("db"))
                .unwrap()
                .set_len(len * quarter / 4)
                .unwrap();
            let (journal, aside) = Journal::open_or_set_aside(&copy, 1 << 20, 9).unwrap();
            reasons.push(aside.expect("a cut store is set aside").reason);
            journal.put(&sample("after")).unwrap();
            journal.durable_now().unwrap();
            assert_eq!(journal.load().unwrap().records.len(), 1);
        }
        assert!(
            reasons.iter().any(|r| r.contains("sled failed while opening")),
            "{reasons:#?}"
        );
    }

    #[test]
    fn a_store_that_lost_its_data_file_and_mark_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 3);
        for file in ["db", crate::store::mark::FILE_NAME] {
            std::fs::remove_file(path.join(file)).unwrap();
        }
        let (journal, aside) = reopen(&path);
        let reason = aside.expect("set aside").reason;
        assert!(reason.contains("data file is missing"), "{reason}");
        assert!(doubt::read(&path).is_some());
        assert!(journal.load().unwrap().records.is_empty());

        // A store directory that is empty (or absent) is a new store.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        std::fs::create_dir(&path).unwrap();
        let (_, aside) = reopen(&path);
        assert_eq!(aside, None);
    }

    /// Writes `n` records durably and returns the store's path.
    fn journal_with(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("journal");
        let (journal, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
        assert!(aside.is_none());
        for i in 0..n {
            journal.put(&sample(&format!("r{i}"))).unwrap();
            journal.durable_now().unwrap();
        }
        path
    }

    fn reopen(path: &Path) -> (Journal, Option<SetAside>) {
        Journal::open_or_set_aside(path, 1 << 20, 77).unwrap()
    }

    #[test]
    fn an_intact_journal_passes_its_check_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 5);
        for _ in 0..3 {
            let (journal, aside) = reopen(&path);
            assert_eq!(aside, None);
            assert_eq!(journal.load().unwrap().records.len(), 5);
            journal.put(&sample("r0")).unwrap();
            journal.durable_now().unwrap();
        }
        assert!(doubt::read(&path).is_none());
    }

    #[test]
    fn a_journal_behind_its_mark_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 3);
        // What sled can do after a bad power cut: open cleanly without the latest writes.
        // Simulated with a copy of the store taken before the last write, and the newer mark.
        let early = dir.path().join("early");
        {
            let (journal, _) = reopen(&path);
            drop(journal);
        }
        copy_dir(&path, &early);
        {
            let (journal, _) = reopen(&path);
            journal.put(&sample("late")).unwrap();
            journal.durable_now().unwrap();
        }
        std::fs::copy(
            path.join(crate::store::mark::FILE_NAME),
            early.join(crate::store::mark::FILE_NAME),
        )
        .unwrap();
        let (journal, aside) = reopen(&early);
        let aside = aside.expect("a journal behind its mark is not trusted");
        assert!(
            aside.reason.contains("latest records are gone"),
            "{}",
            aside.reason
        );
        assert!(journal.load().unwrap().records.is_empty());
        let doubt = doubt::read(&early).expect("the journal is in doubt");
        assert_eq!(doubt.reason, aside.reason);
    }

    #[test]
    fn a_lost_or_changed_record_is_found_by_the_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 4);
        {
            // Behind the journal's back, as damage would: one record gone.
            let db = Db::open(&path, 1 << 20).unwrap();
            db.tree(TREE).unwrap().remove("r1").unwrap();
            db.durable().unwrap();
        }
        let (_, aside) = reopen(&path);
        assert!(aside
            .expect("set aside")
            .reason
            .contains("do not match its summary"));

        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 4);
        {
            // One record replaced by an older, valid value of another record.
            let db = Db::open(&path, 1 << 20).unwrap();
            let tree = db.tree(TREE).unwrap();
            let other = tree.get("r0").unwrap().unwrap();
            tree.insert("r2", other).unwrap();
            db.durable().unwrap();
        }
        let (_, aside) = reopen(&path);
        assert!(aside.is_some(), "a swapped record is not trusted");
    }

    #[test]
    fn a_record_failing_its_checksum_sets_the_journal_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 2);
        {
            let db = Db::open(&path, 1 << 20).unwrap();
            let tree = db.tree(TREE).unwrap();
            let mut value = tree.get("r1").unwrap().unwrap().to_vec();
            let last = value.len() - 3;
            value[last] ^= 0x10;
            tree.insert("r1", value).unwrap();
            db.durable().unwrap();
        }
        let (_, aside) = reopen(&path);
        let reason = aside.expect("set aside").reason;
        assert!(reason.contains("r1") && reason.contains("checksum"), "{reason}");
    }

    #[test]
    fn a_lost_mark_or_summary_is_not_trusted_but_an_old_store_is_adopted() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 2);
        std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
        let (_, aside) = reopen(&path);
        assert!(aside.expect("set aside").reason.contains("mark is missing"));

        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 2);
        std::fs::write(path.join(crate::store::mark::FILE_NAME), [0u8; 128]).unwrap();
        let (_, aside) = reopen(&path);
        assert!(aside.expect("set aside").reason.contains("mark is unreadable"));

        // A store written before summaries and marks: records in the old value format, no
        // summary, no mark. It is adopted, summarised and marked.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        {
            let db = Db::open(&path, 1 << 20).unwrap();
            let body = serde_json::to_vec(&sample("old")).unwrap();
            let mut value = crc32fast::hash(&body).to_be_bytes().to_vec();
            value.extend_from_slice(&body);
            db.tree(TREE).unwrap().insert("old", value).unwrap();
            db.durable().unwrap();
        }
        std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
        let (journal, aside) = reopen(&path);
        assert_eq!(aside, None);
        assert_eq!(journal.load().unwrap().records, vec![sample("old")]);
        drop(journal);
        let (journal, aside) = reopen(&path);
        assert_eq!(aside, None, "adopted once, trusted after");
        assert_eq!(journal.load().unwrap().records.len(), 1);
    }

    #[test]
    fn the_installation_id_outlives_a_store_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 1);
        let before = {
            let (journal, _) = reopen(&path);
            *journal.db().installation()
        };
        std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
        let (journal, aside) = reopen(&path);
        assert!(aside.is_some());
        assert_eq!(*journal.db().installation(), before);
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).unwrap();
            }
        }
    }

    #[test]
    fn a_store_in_use_is_never_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (running, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
        running.put(&sample("a")).unwrap();
        running.durable_now().unwrap();
        // A second daemon started by mistake is refused and leaves the journal alone.
        let second = Journal::open_or_set_aside(&path, 1 << 20, 99);
        let error = second.err().expect("a store in use is refused");
        assert!(
            error.downcast_ref::<crate::store::StoreInUse>().is_some(),
            "{error:#}"
        );
        assert!(!dir.path().join("journal.corrupt-99").exists());
        assert!(running.get(&CommandId::new("a").unwrap()).unwrap().is_some());
    }

    #[test]
    fn pruning_removes_only_old_finished_records() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
        let journal = Journal::new(db).unwrap();
        let mut old_done = sample("old-done");
        old_done.phase = crate::engine::record::Phase::Done;
        old_done.updated_at_ms = 10;
        let mut old_open = sample("old-open");
        old_open.updated_at_ms = 10;
        let mut new_done = sample("new-done");
        new_done.phase = crate::engine::record::Phase::Done;
        new_done.updated_at_ms = 5_000;
        for r in [&old_done, &old_open, &new_done] {
            journal.put(r).unwrap();
        }
        // Every record is named: only the old finished one goes, whatever the caller thinks.
        let named: Vec<CommandId> = ["old-done", "old-open", "new-done", "never-stored"]
            .into_iter()
            .map(|id| CommandId::new(id).unwrap())
            .collect();
        let removed = journal.prune(&named, 1_000).unwrap();
        assert_eq!(removed, vec![CommandId::new("old-done").unwrap()]);
        assert!(
            journal.prune(&named, 1_000).unwrap().is_empty(),
            "nothing left to remove"
        );
        let mut left: Vec<String> = journal
            .load()
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.id.to_string())
            .collect();
        left.sort();
        assert_eq!(left, vec!["new-done", "old-open"]);
    }

    #[tokio::test]
    async fn group_commits_answer_every_waiter() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
        let journal = Journal::new(db).unwrap();
        let committer = Committer::start(journal.clone());
        let mut waits = Vec::new();
        for i in 0..20 {
            journal.put(&sample(&format!("r{i}"))).unwrap();
            let c = committer.clone();
            waits.push(tokio::spawn(async move { c.durable().await }));
        }
        for w in waits {
            assert_eq!(w.await.unwrap(), Ok(()));
        }
        assert_eq!(journal.load().unwrap().records.len(), 20);
    }
}
