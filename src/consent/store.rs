//! The consent file: one small file per merchant in the state directory that holds the
//! merchant's refresh token and what the box knows about it.
//!
//! The refresh token is the one thing a box cannot get back by itself (a new one needs the
//! merchant in a browser), so it is written like the store's other small files
//! ([`crate::store::sidecar`]): replaced whole by an atomic rename after an fsync, mode 0600,
//! a checksum checked on every read, and a damaged file reported, never trusted.
//!
//! The daemon and the `mposd consent` tool both write it, possibly at once (a new consent
//! imported while the daemon refreshes the old one). Every read-modify-write therefore holds an
//! advisory lock on a lock file beside it: a `OneTime` refresh token sent by one of them while
//! the other stores an older one would be lost for good.

use crate::store::sidecar::{self, Found};
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first word of the file's one line, with the format's version.
const HEADER: &str = "mposd-consent 1";

/// A refresh token: printed as `<redacted>` everywhere; stored only in the consent file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn new(value: impl Into<String>) -> RefreshToken {
        RefreshToken(value.into())
    }

    /// The token itself. Only for the token request's body and the consent file.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(<redacted>)")
    }
}

/// Why the merchant's consent has to be given again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Needed {
    /// The answer to a `OneTime` refresh was lost (network, server error, a crash before it
    /// was stored), and MobilePay then refused the old token: it was used up by that refresh.
    LostAnswer,
    /// MobilePay refused the refresh token: the consent was revoked or has lapsed.
    Refused,
}

impl fmt::Display for Needed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Needed::LostAnswer => "a refresh answer was lost and the one-time refresh token is used up",
            Needed::Refused => "the refresh token was refused: revoked or expired",
        })
    }
}

/// What the consent file holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub refresh_token: RefreshToken,
    /// When the consent was given or imported (Unix seconds).
    pub obtained_at: u64,
    /// When the token was last refreshed successfully (Unix seconds).
    pub refreshed_at: Option<u64>,
    /// Successful refreshes since the consent was obtained.
    pub refreshes: u64,
    /// The scopes MobilePay granted (e.g. `openid`, `offline_access`, `invoice`).
    pub scopes: Vec<String>,
    /// Set, durably, before a `OneTime` refresh request is sent; cleared once its answer is
    /// stored. Found set, it means an answer was lost.
    pub in_flight: bool,
    /// Set when MobilePay refused the token: nothing but a new consent helps.
    pub needed: Option<Needed>,
}

impl Record {
    /// A consent just obtained (authorized or imported), not yet refreshed.
    pub fn new(refresh_token: RefreshToken, scopes: Vec<String>, now: u64) -> Record {
        Record {
            refresh_token,
            obtained_at: now,
            refreshed_at: None,
            refreshes: 0,
            scopes,
            in_flight: false,
            needed: None,
        }
    }
}

/// What reading the consent file found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    /// No consent was ever stored for the merchant.
    Absent,
    /// The file exists but fails its checksum or does not parse: it is not trusted.
    Damaged,
    Valid(Record),
}

impl Stored {
    /// The state as a code: `ok`, `consent_needed` or `not_given`.
    pub fn condition(&self) -> &'static str {
        match self {
            Stored::Absent => "not_given",
            Stored::Damaged | Stored::Valid(Record { needed: Some(_), .. }) => "consent_needed",
            Stored::Valid(_) => "ok",
        }
    }

    /// The state for status lines and `mposd consent show`: `ok, refreshed <time>`,
    /// `consent needed (<reason>)` or `not given`. Never the token.
    pub fn state(&self) -> String {
        match self {
            Stored::Absent => "not given".into(),
            Stored::Damaged => "consent needed (the consent file is damaged)".into(),
            Stored::Valid(Record {
                needed: Some(needed), ..
            }) => format!("consent needed ({needed})"),
            Stored::Valid(record) => {
                let at = super::show_time(record.refreshed_at.unwrap_or(record.obtained_at));
                if record.in_flight {
                    format!("ok, refreshed {at}; the answer to the last refresh was lost, checking")
                } else {
                    format!("ok, refreshed {at}")
                }
            }
        }
    }
}

/// The consent file of one merchant, and its lock file.
#[derive(Clone, Debug)]
pub struct ConsentFile {
    path: PathBuf,
}

impl ConsentFile {
    /// `consent-<VAT>` in the state directory.
    pub fn new(state_dir: &Path, vat: &str) -> ConsentFile {
        ConsentFile {
            path: state_dir.join(format!("consent-{vat}")),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file without the lock: enough to show the state, since every write replaces
    /// the file whole by a rename.
    pub fn read(&self) -> anyhow::Result<Stored> {
        read(&self.path)
    }

    /// Waits for the lock (blocking). The lock is released when the returned guard is dropped,
    /// also when the process dies.
    pub fn lock(&self) -> anyhow::Result<Locked> {
        let lock_path = sidecar::beside(&self.path, "lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, errno)| anyhow::anyhow!("cannot lock {}: {errno}", lock_path.display()))?;
        Ok(Locked {
            path: self.path.clone(),
            _lock: lock,
        })
    }
}

/// The consent file while its lock is held: the only way to write it.
pub struct Locked {
    path: PathBuf,
    _lock: Flock<File>,
}

impl Locked {
    pub fn read(&self) -> anyhow::Result<Stored> {
        read(&self.path)
    }

    /// Replaces the file durably (fsync of the file and of the directory).
    pub fn write(&self, record: &Record) -> anyhow::Result<()> {
        let payload = serde_json::to_string(record).context("cannot encode the consent")?;
        sidecar::write(&self.path, HEADER, &payload)
    }
}

fn read(path: &Path) -> anyhow::Result<Stored> {
    Ok(match sidecar::read(path, HEADER)? {
        Found::Absent => Stored::Absent,
        Found::Damaged => Stored::Damaged,
        Found::Valid(payload) => match serde_json::from_str(&payload) {
            Ok(record) => Stored::Valid(record),
            Err(_) => Stored::Damaged,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn record(token: &str) -> Record {
        Record::new(
            RefreshToken::new(token),
            vec!["openid".into(), "invoice".into()],
            1_700_000_000,
        )
    }

    #[test]
    fn round_trip_private_and_without_the_token_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConsentFile::new(dir.path(), "DK12345678");
        assert_eq!(file.read().unwrap(), Stored::Absent);
        let rec = record("canary-refresh-token");
        file.lock().unwrap().write(&rec).unwrap();
        assert_eq!(file.read().unwrap(), Stored::Valid(rec.clone()));
        let mode = std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!format!("{rec:?}").contains("canary"));
    }

    #[test]
    fn a_cut_or_flipped_file_is_damaged_never_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConsentFile::new(dir.path(), "DK12345678");
        file.lock().unwrap().write(&record("abc")).unwrap();
        let bytes = std::fs::read(file.path()).unwrap();
        for cut in 0..bytes.len() {
            std::fs::write(file.path(), &bytes[..cut]).unwrap();
            assert_eq!(file.read().unwrap(), Stored::Damaged, "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x04;
            std::fs::write(file.path(), &flipped).unwrap();
            assert_eq!(file.read().unwrap(), Stored::Damaged, "flipped at {at}");
        }
    }

    #[test]
    fn writers_holding_the_lock_lose_no_update() {
        let dir = tempfile::tempdir().unwrap();
        let file = ConsentFile::new(dir.path(), "DK12345678");
        file.lock().unwrap().write(&record("abc")).unwrap();
        const EACH: u64 = 40;
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let file = file.clone();
                std::thread::spawn(move || {
                    for _ in 0..EACH {
                        // Each writer opens its own lock file descriptor, as another process would.
                        let locked = file.lock().unwrap();
                        let Stored::Valid(mut rec) = locked.read().unwrap() else {
                            panic!("the file must stay valid");
                        };
                        rec.refreshes += 1;
                        std::thread::yield_now();
                        locked.write(&rec).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let Stored::Valid(rec) = file.read().unwrap() else {
            panic!("valid");
        };
        assert_eq!(rec.refreshes, 4 * EACH);
    }
}
