//! The installation id: 16 random bytes made once per installation and kept beside the store,
//! outside the journal.
//!
//! The engine derives every idempotency key from it (with the lane, the command id and the
//! command), so that a command the journal forgot is still sent to MobilePay as the same request
//! when the cash register repeats it, while two installations never share a key. It must
//! therefore outlive the journal: it lives in its own file next to the store directory (which
//! survives the store being moved aside after damage), and the store's mark keeps a copy. A
//! store moved aside takes its mark along, so when the file and the new store's mark both lack
//! the id, the marks of the stores set aside beside it still hold it.

use super::{mark, sidecar};
use std::path::{Path, PathBuf};

const HEADER: &str = "mposd-installation 1";

/// What the installation file held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    Absent,
    Damaged,
    Valid([u8; 16]),
}

/// The file of the store in `store_dir`: `<store_dir>.installation`.
pub fn path_for(store_dir: &Path) -> PathBuf {
    sidecar::beside(store_dir, "installation")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse(digits: &str) -> Option<[u8; 16]> {
    if digits.len() != 32 {
        return None;
    }
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(id)
}

pub fn read(path: &Path) -> anyhow::Result<Found> {
    Ok(match sidecar::read(path, HEADER)? {
        sidecar::Found::Absent => Found::Absent,
        sidecar::Found::Damaged => Found::Damaged,
        sidecar::Found::Valid(text) => parse(&text).map_or(Found::Damaged, Found::Valid),
    })
}

pub fn write(path: &Path, id: &[u8; 16]) -> anyhow::Result<()> {
    sidecar::write(path, HEADER, &hex(id))
}

/// The id kept in the mark of the newest store set aside beside `store_dir` (named
/// `<store>.corrupt-<unix seconds>[.<n>]`) that still has a valid mark. Those stores were this
/// installation's, so their id is the one every earlier key was derived from: without it, a
/// command repeated after damage would reach MobilePay as a new request, and a backend without
/// a listing to look the order up in (ePayment) would take a second payment for it.
pub fn copy_set_aside(store_dir: &Path) -> Option<[u8; 16]> {
    set_aside(store_dir).iter().find_map(|dir| match mark::read(dir) {
        Ok(mark::Found::Valid(m)) => Some(m.installation),
        _ => None,
    })
}

/// The stores set aside beside `store_dir`, newest first.
pub fn set_aside(store_dir: &Path) -> Vec<PathBuf> {
    let Some(name) = store_dir.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let prefix = format!("{name}.corrupt-");
    let Some(entries) = store_dir.parent().and_then(|p| std::fs::read_dir(p).ok()) else {
        return Vec::new();
    };
    let mut aside: Vec<((u64, u64), PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let file_name = entry.file_name();
            let rest = file_name.to_str()?.strip_prefix(&prefix)?;
            let (seconds, n) = rest.split_once('.').unwrap_or((rest, "1"));
            Some(((seconds.parse().ok()?, n.parse().ok()?), entry.path()))
        })
        .collect();
    aside.sort_by_key(|(newest, _)| std::cmp::Reverse(*newest));
    aside.into_iter().map(|(_, dir)| dir).collect()
}

/// Whether this installation ran before: the store existed, or its id file is damaged, or a
/// store was set aside beside it. An id made anew then changes every key, which a person must
/// hear about.
pub fn lived_before(store_created: bool, file: Found, stores_set_aside: bool) -> bool {
    !store_created || file == Found::Damaged || stores_set_aside
}

/// A fresh random id.
pub fn generate() -> [u8; 16] {
    *uuid::Uuid::new_v4().as_bytes()
}

/// Which id to use, given the installation file and the copy in the store's mark; and whether
/// the file must be (re)written. `None` when neither holds a valid id: the caller makes a new
/// one (and, for a store that held data, raises the alarm that keys have changed).
pub fn choose(file: Found, mark_copy: Option<[u8; 16]>) -> (Option<[u8; 16]>, bool) {
    match (file, mark_copy) {
        (Found::Valid(id), _) => (Some(id), false),
        (_, Some(id)) => (Some(id), true),
        _ => (None, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("store"));
        assert!(path.ends_with("store.installation"));
        assert_eq!(read(&path).unwrap(), Found::Absent);
        let id = [0xab; 16];
        write(&path, &id).unwrap();
        assert_eq!(read(&path).unwrap(), Found::Valid(id));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, b"").unwrap();
        assert_eq!(read(&path).unwrap(), Found::Damaged);
    }

    fn store_set_aside(parent: &Path, name: &str, installation: [u8; 16]) {
        let dir = parent.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut writer = mark::Writer::open(&dir, mark::Found::Absent).unwrap();
        writer.write(mark::Mark { installation, seq: 3 }).unwrap();
    }

    #[test]
    fn the_newest_store_set_aside_with_a_valid_mark_keeps_the_id() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        assert_eq!(copy_set_aside(&store), None);
        store_set_aside(dir.path(), "store.corrupt-100", [1; 16]);
        store_set_aside(dir.path(), "store.corrupt-200", [2; 16]);
        store_set_aside(dir.path(), "other.corrupt-300", [3; 16]);
        assert_eq!(copy_set_aside(&store), Some([2; 16]));
        store_set_aside(dir.path(), "store.corrupt-200.2", [4; 16]);
        assert_eq!(copy_set_aside(&store), Some([4; 16]));
        // A damaged mark does not count; the next newest does.
        std::fs::write(dir.path().join("store.corrupt-200.2").join(mark::FILE_NAME), b"").unwrap();
        assert_eq!(copy_set_aside(&store), Some([2; 16]));
    }

    #[test]
    fn the_file_wins_then_the_mark_copy() {
        let a = [1; 16];
        let b = [2; 16];
        assert_eq!(choose(Found::Valid(a), Some(b)), (Some(a), false));
        assert_eq!(choose(Found::Damaged, Some(b)), (Some(b), true));
        assert_eq!(choose(Found::Absent, Some(b)), (Some(b), true));
        assert_eq!(choose(Found::Absent, None), (None, true));
    }

    #[test]
    fn only_a_first_start_makes_an_id_without_an_alarm() {
        assert!(!lived_before(true, Found::Absent, false));
        assert!(lived_before(false, Found::Absent, false));
        assert!(lived_before(true, Found::Damaged, false));
        assert!(lived_before(true, Found::Absent, true));
    }
}
