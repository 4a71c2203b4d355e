//! Opening the journal at start: every table is checked against its summary and the store's
//! high-water mark, and a store that is damaged or fails the check is moved aside (with the
//! doubt recorded first) so the engine starts empty and rebuilds open work from the backend.

use super::super::doubt;
use super::summary::{journal_tables, Summary};
use super::Journal;
use crate::store::{self, Db};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
                since_ms: crate::engine::clock::now_ms(),
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
}
