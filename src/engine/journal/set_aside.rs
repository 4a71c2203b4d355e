//! Opening the journal at start: every table's summary is checked against the store's high-water
//! mark and every record with work left against its checksum, and a store that is damaged or
//! fails the check is moved aside (with the doubt recorded first) so the engine starts empty and
//! rebuilds open work from the backend. The rest of the journal is checked while the engine runs
//! ([`Journal::verify`]); damage found there asks the next start for the whole check, which sets
//! the store aside.

use super::super::doubt;
use super::layout::{self, INDEX_MARK_KEY, SUMMARY_KEY};
use super::summary::{journal_tables, Summary};
use super::value::unwrap_value;
use super::Journal;
use crate::store::{self, Db};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Checks every journal table of `db` whole: every record against its table's summary, and
/// the summaries against the store's mark. `Ok` carries the highest sequence number found;
/// `Err` says what is wrong, in words for the alarm.
pub fn check(db: &Db) -> Result<u64, String> {
    check_tables(db, Depth::Whole)
}

/// How much of the journal a check reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Every record: after damage was found, and for a table of a release without indexes.
    Whole,
    /// The summaries, the mark and the records with work left: every start. The rest is
    /// checked by [`Journal::verify`] while the engine already runs.
    Open,
}

fn check_tables(db: &Db, depth: Depth) -> Result<u64, String> {
    let opened = db.opened();
    let mut highest = 0;
    let mut summarised = false;
    for name in journal_tables(db) {
        let tree = db.tree(&name).map_err(|e| format!("{e:#}"))?;
        let indexed = tree.contains_key(INDEX_MARK_KEY).map_err(|e| format!("{e}"))?;
        let (found, stored) = if depth == Depth::Open && indexed {
            open_summary(&tree, &name)?
        } else {
            Summary::of_table(&tree).map_err(|e| format!("{e:#}"))?
        };
        match stored {
            Some(stored) => {
                summarised = true;
                if stored.count != found.count || stored.digest != found.digest || stored.seq < found.seq {
                    return Err(format!(
                        "the journal table {name} holds {} records that do not match its summary of \
                         {} records: records were lost or changed on disk",
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

/// The quick check of an indexed table: every record with work left must be there and pass its
/// checksum (those are what the engine acts on at once). Returns the stored summary twice, so
/// the comparison with the mark is the same as for a whole check.
fn open_summary(tree: &sled::Tree, name: &str) -> Result<(Summary, Option<Summary>), String> {
    // An indexed table always has its summary: it is written before the index mark.
    let value = tree
        .get(SUMMARY_KEY)
        .map_err(|e| format!("{e}"))?
        .ok_or_else(|| format!("the journal table {name} lost its summary"))?;
    let stored = Summary::decode(&value)
        .ok_or_else(|| format!("the summary of the journal table {name} is unreadable"))?;
    for entry in tree.scan_prefix(layout::OPEN_PREFIX) {
        let (key, _) = entry.map_err(|e| format!("{e}"))?;
        let id = layout::id_of_open(&key);
        let command = String::from_utf8_lossy(id);
        match tree.get(id).map_err(|e| format!("{e}"))? {
            Some(value) => {
                unwrap_value(&value)
                    .map_err(|e| format!("the record of command {command} is damaged: {e}"))?;
            }
            None => {
                return Err(format!(
                    "the record of open command {command} is gone from the journal"
                ))
            }
        }
    }
    Ok((stored, Some(stored)))
}

/// The file beside the store that asks the next start to check the journal whole: written when
/// the check of a running journal found damage, so the store is set aside at the next start.
fn check_whole_path(dir: &Path) -> PathBuf {
    store::sidecar::beside(dir, "check-whole")
}

/// Asks the next start to check the journal in `dir` whole (see [`check_whole_path`]).
pub fn check_whole_next_start(dir: &Path, reason: &str) -> anyhow::Result<()> {
    store::sidecar::write(&check_whole_path(dir), "mposd-check-whole 1", reason)
}

/// Whether sled's data file is gone from a store that held one. sled would start an empty store
/// in its place without a word, and with the mark lost too nothing else would notice; the other
/// files sled leaves in the directory (its configuration, snapshots) show a store was there.
fn data_file_lost(dir: &Path) -> bool {
    !dir.join("db").exists() && std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some())
}

/// The message a panic carried, for the alarm.
pub(super) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
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

/// A store that was moved aside at start, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetAside {
    /// Where the damaged store now is.
    pub path: PathBuf,
    /// What was wrong with it.
    pub reason: String,
}

impl Journal {
    /// Opens the store in `dir` and checks it ([`check`]). If its files are damaged, or the
    /// journal fails the check, the directory is moved aside as `<dir>.corrupt-<unix seconds>`
    /// (see `aside_path`) and an empty store is started; the doubt file beside the store is written first, so no
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
        let check_whole = check_whole_path(dir);
        let opened = std::panic::catch_unwind(|| {
            if data_file_lost(dir) {
                return Ok(None);
            }
            Db::open(dir, cache_bytes).map(|db| {
                let depth = if check_whole.exists() {
                    Depth::Whole
                } else {
                    Depth::Open
                };
                let checked = check_tables(&db, depth);
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
                    let journal = Journal::new(db)?;
                    // Only now: a crash before this point checks the whole journal again.
                    remove_if_present(&check_whole)?;
                    return Ok((journal, None));
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
                since_ms: crate::engine::clock::now_ms(),
                reason: reason.clone(),
            },
        )?;
        std::fs::rename(dir, &aside)
            .with_context(|| format!("cannot move the damaged store {} aside", dir.display()))?;
        remove_if_present(&check_whole)?;
        let db = Db::open(dir, cache_bytes)?;
        Ok((
            Journal::new(Arc::new(db))?,
            Some(SetAside { path: aside, reason }),
        ))
    }
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}
