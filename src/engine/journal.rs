//! The engine's journal in sled: one checksummed record per command id.
//!
//! A value is `crc32 (4 bytes, big endian) ++ JSON of the record`. The checksum catches a torn
//! or corrupted value; such a record is reported, never guessed at. Durability points go through
//! [`Committer`], which lets several flows that are due at the same moment share one
//! flush + fsync (group commit).

use super::api::CommandId;
use super::record::{Record, SCHEMA_VERSION};
use crate::store::Db;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

const TREE: &str = "engine.commands";

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

pub fn encode(record: &Record) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    let body = serde_json::to_vec(record).unwrap_or_default();
    let mut value = crc32fast::hash(&body).to_be_bytes().to_vec();
    value.extend_from_slice(&body);
    value
}

pub fn decode(value: &[u8]) -> Result<Record, RecordError> {
    if value.len() < 4 {
        return Err(RecordError::Truncated);
    }
    let (crc, body) = value.split_at(4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err(RecordError::Checksum);
    }
    let record: Record = serde_json::from_slice(body).map_err(|e| RecordError::Decode(e.to_string()))?;
    if record.schema > SCHEMA_VERSION {
        return Err(RecordError::Schema(record.schema));
    }
    Ok(record)
}

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
}

impl Journal {
    pub fn new(db: Arc<Db>) -> anyhow::Result<Journal> {
        let tree = db.tree(TREE)?;
        Ok(Journal { db, tree })
    }

    /// The journal of one lane of a daemon serving several: each lane keeps its records in a
    /// table of its own in the shared store, so lanes recover independently.
    pub fn for_lane(db: Arc<Db>, lane: &str) -> anyhow::Result<Journal> {
        let tree = db.tree(&format!("{TREE}/{lane}"))?;
        Ok(Journal { db, tree })
    }

    /// Opens the store in `dir`. If its files are damaged, the directory is moved aside as
    /// `<dir>.corrupt-<unix seconds>` and an empty store is started; the returned path says
    /// where the old one went, so the caller can raise the alarm and rebuild from the backend.
    /// Any other failure (the store in use by another process, no permission, a failing disk)
    /// is returned as it is: the store stays where it is.
    pub fn open_or_set_aside(
        dir: &Path,
        cache_bytes: u64,
        now_unix_s: u64,
    ) -> anyhow::Result<(Journal, Option<PathBuf>)> {
        match Db::open(dir, cache_bytes).and_then(|db| Journal::new(Arc::new(db))) {
            Ok(journal) => Ok((journal, None)),
            Err(error) if !crate::store::is_damage(&error) => Err(error),
            Err(error) => {
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "store".into());
                let aside = dir.with_file_name(format!("{name}.corrupt-{now_unix_s}"));
                tracing::error!(error = %format!("{error:#}"), moved_to = %aside.display(),
                    "the payment journal cannot be opened; moving it aside and starting empty");
                std::fs::rename(dir, &aside)
                    .with_context(|| format!("cannot move the unreadable store {} aside", dir.display()))?;
                let db = Db::open(dir, cache_bytes)?;
                Ok((Journal::new(Arc::new(db))?, Some(aside)))
            }
        }
    }

    pub fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// Stores a record (not yet durable; see [`Committer`]).
    pub fn put(&self, record: &Record) -> anyhow::Result<()> {
        self.tree
            .insert(record.id.as_str().as_bytes(), encode(record))
            .context("cannot write the payment journal")?;
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
    /// and removed only if it is still the one looked at, so a newer write is never lost;
    /// unreadable records are kept as evidence for a person.
    pub fn prune<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a CommandId>,
        cutoff_ms: u64,
    ) -> anyhow::Result<Vec<CommandId>> {
        let mut removed = Vec::new();
        for id in candidates {
            let key = id.as_str().as_bytes();
            let Some(value) = self.tree.get(key).context("cannot read the payment journal")? else {
                continue;
            };
            let Ok(record) = decode(&value) else { continue };
            if record.is_finished() && record.updated_at_ms < cutoff_ms {
                let swapped = self
                    .tree
                    .compare_and_swap(key, Some(value), None as Option<&[u8]>)
                    .context("cannot prune the payment journal")?;
                if swapped.is_ok() {
                    removed.push(id.clone());
                }
            }
        }
        Ok(removed)
    }

    /// Flush + fsync now (blocking).
    pub fn durable_now(&self) -> anyhow::Result<()> {
        self.db.durable()
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
        let mut value = encode(&sample("a"));
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
            decode(&encode(&future)),
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
        let aside = aside.expect("the broken store is moved aside");
        assert!(aside.ends_with("journal.corrupt-1234"), "{}", aside.display());
        assert!(aside.join("db").exists(), "the old files are kept for inspection");
        assert!(journal.load().unwrap().records.is_empty());
        journal.put(&sample("b")).unwrap();
        journal.durable_now().unwrap();
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
