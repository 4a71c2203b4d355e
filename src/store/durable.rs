//! Durability points for sled 0.34.
//!
//! `sled::Db::flush` writes with `sync_file_range`, which neither flushes file metadata nor
//! the device's write cache; sled's real `fsync` only happens in its background flusher. A
//! payment terminal must not answer "approved" from data that a power cut can still take away,
//! so a durability point here is `flush()` followed by `fsync` of sled's data file (fsync works
//! per inode, so any open handle to the file will do). The new files and their directory are
//! fsynced once at creation so that the files themselves survive.

use super::in_flight::{InFlight, Writer};
use super::{installation, mark};
use anyhow::Context;
use std::{
    fs::File,
    io::ErrorKind,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A sled database plus the handle needed to fsync its data file, the high-water mark written at
/// every durability point, and the installation id.
pub struct Db {
    sled: sled::Db,
    data_file: Mutex<File>,
    path: PathBuf,
    /// The last journal sequence number handed out.
    seq: AtomicU64,
    mark: Mutex<mark::Writer>,
    installation: [u8; 16],
    opened: Opened,
    /// Writes into the store that have not returned yet, for the watchdog.
    in_flight: Arc<InFlight>,
    /// Durability points asked for by others than a lane's journal.
    durable_writer: Writer,
}

/// What [`Db::open`] found besides sled's own files, for the journal's check at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The store was created by this open.
    pub created: bool,
    /// The high-water mark as found. (An installation id lost from both its file and the mark
    /// is made anew; the lost mark already makes the journal untrusted, so its commands are
    /// looked up at the backend instead of relying on their old keys.)
    pub mark: mark::Found,
}

impl Db {
    /// Opens (or creates) the database in `dir`. `cache_bytes` bounds sled's page cache, which
    /// defaults to 1 GiB: far too much for a Raspberry Pi.
    pub fn open(dir: &Path, cache_bytes: u64) -> anyhow::Result<Db> {
        let created = !dir.join("db").exists();
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500));
        let started = Instant::now();
        let sled = loop {
            match config.open() {
                Ok(sled) => break sled,
                // A restarted daemon may overlap briefly with the instance it replaces (or, in
                // one process, with the background threads of a handle just dropped).
                Err(sled::Error::Io(e)) if is_lock_conflict(&e) && started.elapsed() < LOCK_WAIT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(sled::Error::Io(e)) if is_lock_conflict(&e) => {
                    return Err(StoreInUse(dir.to_path_buf()).into());
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot open the database in {}", dir.display())))
                }
            }
        };
        let data_file = File::open(dir.join("db"))
            .with_context(|| format!("cannot open the database file in {}", dir.display()))?;
        if created {
            // sled writes its `conf` file once, at creation, and never syncs it; a power cut
            // soon after the first start could leave it empty and the store unopenable.
            File::open(dir.join("conf"))
                .and_then(|f| f.sync_all())
                .with_context(|| format!("cannot fsync the database configuration in {}", dir.display()))?;
            data_file
                .sync_all()
                .with_context(|| format!("cannot fsync the database file in {}", dir.display()))?;
            sync_dir(dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
        }
        let found = mark::read(dir)?;
        let mark_copy = match found {
            mark::Found::Valid(m) => Some(m.installation),
            _ => installation::copy_set_aside(dir),
        };
        let id_path = installation::path_for(dir);
        let file = installation::read(&id_path)?;
        let lived_before =
            installation::lived_before(created, file, !installation::set_aside(dir).is_empty());
        let (known, rewrite) = installation::choose(file, mark_copy);
        let id = match known {
            Some(id) => id,
            None => {
                if lived_before {
                    tracing::error!(
                        store = %dir.display(),
                        "ALARM: the installation id was lost with every copy of it; a new one is made. \
                         A sale the cash register repeats from before this start reaches the backend as a \
                         new request: on a backend that cannot look orders up (ePayment) check such \
                         repeats against the backend before handing over goods twice"
                    );
                }
                installation::generate()
            }
        };
        if rewrite {
            installation::write(&id_path, &id)?;
        }
        let seq = match found {
            mark::Found::Valid(m) => m.seq,
            _ => 0,
        };
        let mut writer = mark::Writer::open(dir, found)?;
        if created {
            writer.write(mark::Mark {
                installation: id,
                seq: 0,
            })?;
            sync_dir(dir)?;
        }
        let in_flight = Arc::new(InFlight::default());
        let durable_writer = in_flight.writer("a flush + fsync of the store");
        Ok(Db {
            sled,
            data_file: Mutex::new(data_file),
            path: dir.to_path_buf(),
            seq: AtomicU64::new(seq),
            mark: Mutex::new(writer),
            installation: id,
            opened: Opened { created, mark: found },
            in_flight,
            durable_writer,
        })
    }

    /// The installation id (see [`installation`]).
    pub fn installation(&self) -> &[u8; 16] {
        &self.installation
    }

    pub fn opened(&self) -> Opened {
        self.opened
    }

    /// The next journal sequence number. Every journal write carries one, and the mark records
    /// the highest one that was durable, so a journal that lost writes shows up as behind it.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Continues numbering after `seq` (the highest number found in the journal at start).
    pub fn seq_at_least(&self, seq: u64) {
        self.seq.fetch_max(seq, Ordering::SeqCst);
    }

    /// The writes into the store that have not returned yet (see [`super::in_flight`]).
    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    pub fn sled(&self) -> &sled::Db {
        &self.sled
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn tree(&self, name: &str) -> anyhow::Result<sled::Tree> {
        self.sled
            .open_tree(name)
            .with_context(|| format!("cannot open the {name:?} table"))
    }

    /// Makes every write done so far survive a power cut. Several records written before one
    /// call share its cost (that is the batching of durability points).
    /// The mark is written after sled's files are synced and names only sequence numbers
    /// handed out before the flush began, so it never claims more than the disk holds.
    pub fn durable(&self) -> anyhow::Result<()> {
        self.durable_by(self.durable_writer)
    }

    /// [`Db::durable`] on behalf of `writer`, who is named if it does not return.
    pub fn durable_by(&self, writer: Writer) -> anyhow::Result<()> {
        let _writing = self.in_flight.begin(writer);
        let upto = self.seq.load(Ordering::SeqCst);
        self.sled.flush().context("cannot flush the database")?;
        {
            let file = self
                .data_file
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            file.sync_all().context("cannot fsync the database file")?;
        }
        self.mark
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .write(mark::Mark {
                installation: self.installation,
                seq: upto,
            })
    }
}

/// How long [`Db::open`] waits for a store another instance still holds.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The store is locked by another running instance; it is neither damaged nor free.
#[derive(Debug, thiserror::Error)]
#[error("the store in {} is in use by another mposd process (is the service already running?)", .0.display())]
pub struct StoreInUse(pub PathBuf);

/// sled reports a held lock only as an I/O error with this text.
fn is_lock_conflict(error: &std::io::Error) -> bool {
    error.kind() == ErrorKind::Other && error.to_string().starts_with("could not acquire lock")
}

/// Whether an error from opening a store means its files are damaged, so that moving them
/// aside and starting empty is right. A store in use, a permission problem or a failing disk
/// is not damage: moving such a store would throw away a good journal.
pub fn is_damage(error: &anyhow::Error) -> bool {
    match error.downcast_ref::<sled::Error>() {
        Some(
            sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) | sled::Error::Unsupported(_),
        ) => true,
        Some(sled::Error::Io(e)) => matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::UnexpectedEof),
        _ => false,
    }
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_in_use_is_refused_as_in_use_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        let _open = Db::open(&path, 4 << 20).unwrap();
        let error = match Db::open(&path, 4 << 20) {
            Ok(_) => panic!("a second open of a store in use succeeded"),
            Err(error) => error,
        };
        assert!(error.downcast_ref::<StoreInUse>().is_some(), "{error:#}");
        assert!(!is_damage(&error));
        assert!(format!("{error}").contains("in use by another mposd process"));
    }

    #[test]
    fn a_new_store_takes_the_installation_id_from_the_store_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let id = *Db::open(&path, 4 << 20).unwrap().installation();
        std::fs::rename(&path, dir.path().join("store.corrupt-100")).unwrap();
        std::fs::write(installation::path_for(&path), b"damaged").unwrap();
        assert_eq!(Db::open(&path, 4 << 20).unwrap().installation(), &id);
        assert_eq!(
            installation::read(&installation::path_for(&path)).unwrap(),
            installation::Found::Valid(id)
        );
    }

    #[test]
    fn durable_writes_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        {
            let db = Db::open(&path, 4 << 20).unwrap();
            db.tree("t").unwrap().insert("k", "v").unwrap();
            db.durable().unwrap();
        }
        let db = Db::open(&path, 4 << 20).unwrap();
        assert_eq!(
            db.tree("t").unwrap().get("k").unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
}
