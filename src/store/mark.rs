//! The store's high-water mark: a small checksummed file beside sled's files that says how far
//! the journal had got at its last durability point.
//!
//! sled does not notice every kind of damage: a flipped bit, a truncated or a zeroed tail of its
//! data file can make it open cleanly with the latest writes silently gone. A journal that is
//! shorter than its mark is therefore detected at start instead of being trusted. The mark also
//! keeps a copy of the installation id (see [`super::installation`]), so that losing either file
//! alone loses nothing.
//!
//! The file has two fixed-size slots written alternately, each with its own checksum: a write
//! torn by a power cut leaves the other slot, which holds an older (so lower, still truthful)
//! mark. The newest valid slot wins.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The mark file's name inside the store directory.
pub const FILE_NAME: &str = "mposd.mark";

const MAGIC: &[u8; 8] = b"MPOSDMK1";
/// magic (8) + installation id (16) + sequence number (8) + crc32 (4).
const SLOT_LEN: usize = 36;
/// Slots start at these offsets.
const SLOTS: [u64; 2] = [0, 64];

/// One valid slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub installation: [u8; 16],
    /// The highest journal sequence number that was durable when the mark was written.
    pub seq: u64,
}

/// What was found on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// No mark file: a new store, or a store made by a release without marks.
    Absent,
    /// The file exists but neither slot is valid.
    Damaged,
    Valid(Mark),
}

fn encode(mark: &Mark) -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    slot[..8].copy_from_slice(MAGIC);
    slot[8..24].copy_from_slice(&mark.installation);
    slot[24..32].copy_from_slice(&mark.seq.to_be_bytes());
    let crc = crc32fast::hash(&slot[..32]);
    slot[32..].copy_from_slice(&crc.to_be_bytes());
    slot
}

fn decode(slot: &[u8]) -> Option<Mark> {
    if slot.len() < SLOT_LEN || &slot[..8] != MAGIC {
        return None;
    }
    let crc = u32::from_be_bytes(slot[32..36].try_into().ok()?);
    if crc32fast::hash(&slot[..32]) != crc {
        return None;
    }
    Some(Mark {
        installation: slot[8..24].try_into().ok()?,
        seq: u64::from_be_bytes(slot[24..32].try_into().ok()?),
    })
}

/// Reads the mark in `dir` (the store directory).
pub fn read(dir: &Path) -> anyhow::Result<Found> {
    let path = dir.join(FILE_NAME);
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut file) => file
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Found::Absent),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot open {}", path.display()))),
    };
    let newest = SLOTS
        .iter()
        .filter_map(|&offset| bytes.get(offset as usize..).and_then(decode))
        .max_by_key(|mark| mark.seq);
    Ok(match newest {
        Some(mark) => Found::Valid(mark),
        None => Found::Damaged,
    })
}

/// The open mark file; each [`Writer::write`] goes to the slot not holding the newest mark.
pub struct Writer {
    file: File,
    path: PathBuf,
    next_slot: usize,
    last: Option<Mark>,
}

impl Writer {
    /// Opens (creating, private) the mark file in `dir`. `found` is what [`read`] saw, so the
    /// first write does not overwrite the newest valid slot.
    pub fn open(dir: &Path, found: Found) -> anyhow::Result<Writer> {
        let path = dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // With one valid slot, write the other one first.
        let mut next_slot = 0;
        let mut last = None;
        if let Found::Valid(mark) = found {
            last = Some(mark);
            let mut slot = [0u8; SLOT_LEN];
            if file.read_exact_at(&mut slot, SLOTS[0]).is_ok() && decode(&slot) == Some(mark) {
                next_slot = 1;
            }
        }
        Ok(Writer {
            file,
            path,
            next_slot,
            last,
        })
    }

    /// Makes `mark` durable. Repeating the last mark, or a lower one (two durability points
    /// finishing out of order), costs nothing: the mark only moves forward.
    pub fn write(&mut self, mark: Mark) -> anyhow::Result<()> {
        if self
            .last
            .is_some_and(|last| last.installation == mark.installation && last.seq >= mark.seq)
        {
            return Ok(());
        }
        let offset = SLOTS[self.next_slot];
        self.file
            .write_all_at(&encode(&mark), offset)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write the journal mark {}", self.path.display()))?;
        self.next_slot = 1 - self.next_slot;
        self.last = Some(mark);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(seq: u64) -> Mark {
        Mark {
            installation: [7; 16],
            seq,
        }
    }

    #[test]
    fn the_newest_valid_slot_wins_and_a_torn_slot_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Absent);
        let mut writer = Writer::open(dir.path(), Found::Absent).unwrap();
        writer.write(mark(5)).unwrap();
        writer.write(mark(9)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Valid(mark(9)));
        // A torn write of the slot holding 9 leaves 5: lower, never higher than the truth.
        let path = dir.path().join(FILE_NAME);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[64 + 26] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Valid(mark(5)));
        // Reopened, the next write goes to the damaged slot, not over the valid one.
        let mut writer = Writer::open(dir.path(), Found::Valid(mark(5))).unwrap();
        writer.write(mark(12)).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Valid(mark(12)));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(decode(&bytes[..SLOT_LEN]), Some(mark(5)));
    }

    #[test]
    fn a_zeroed_or_truncated_file_is_damaged_not_absent() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Writer::open(dir.path(), Found::Absent).unwrap();
        writer.write(mark(3)).unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, [0u8; 100]).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Damaged);
        std::fs::write(&path, b"MPOSD").unwrap();
        assert_eq!(read(dir.path()).unwrap(), Found::Damaged);
    }

    #[test]
    fn the_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        Writer::open(dir.path(), Found::Absent).unwrap();
        let mode = std::fs::metadata(dir.path().join(FILE_NAME))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
