//! Small files kept beside the store directory (outside sled, so they outlive a store moved
//! aside): one line `<header> <payload> <crc32>`, replaced whole by an atomic rename so a power
//! cut leaves the old file or the new one, never a mix, and checked on every read.

use anyhow::Context;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    Absent,
    Damaged,
    Valid(String),
}

/// `<store_dir>.<suffix>`, next to the store directory.
pub fn beside(store_dir: &Path, suffix: &str) -> PathBuf {
    let name = store_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    store_dir.with_file_name(format!("{name}.{suffix}"))
}

fn encode(header: &str, payload: &str) -> String {
    let body = format!("{header} {payload}");
    format!("{body} {:08x}\n", crc32fast::hash(body.as_bytes()))
}

fn decode(text: &str, header: &str) -> Option<String> {
    let line = text.strip_suffix('\n')?;
    let (body, crc) = line.rsplit_once(' ')?;
    if u32::from_str_radix(crc, 16).ok()? != crc32fast::hash(body.as_bytes()) {
        return None;
    }
    Some(body.strip_prefix(header)?.strip_prefix(' ')?.to_string())
}

pub fn read(path: &Path, header: &str) -> anyhow::Result<Found> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| decode(text, header))
            .map_or(Found::Damaged, Found::Valid)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Found::Absent),
        Err(e) => Err(anyhow::Error::new(e).context(format!("cannot read {}", path.display()))),
    }
}

/// Replaces the file: a private temporary file, fsynced, renamed over, the directory fsynced.
/// `payload` must be one line.
pub fn write(path: &Path, header: &str, payload: &str) -> anyhow::Result<()> {
    let temporary = path.with_extension("new");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot create {}", temporary.display()))?;
    file.write_all(encode(header, payload).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    if let Some(parent) = path.parent() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot fsync directory {}", parent.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_byte_or_a_cut_file_is_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = beside(&dir.path().join("store"), "test");
        assert!(path.ends_with("store.test"));
        assert_eq!(read(&path, "h 1").unwrap(), Found::Absent);
        write(&path, "h 1", "{\"a\":1}").unwrap();
        assert_eq!(read(&path, "h 1").unwrap(), Found::Valid("{\"a\":1}".into()));
        assert_eq!(read(&path, "other 1").unwrap(), Found::Damaged);
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).unwrap();
            assert_eq!(read(&path, "h 1").unwrap(), Found::Damaged, "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[6] ^= 0x01;
        std::fs::write(&path, &flipped).unwrap();
        assert_eq!(read(&path, "h 1").unwrap(), Found::Damaged);
    }
}
