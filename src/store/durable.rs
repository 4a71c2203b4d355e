//! Durability points for sled 0.34.
//!
//! `sled::Db::flush` writes with `sync_file_range`, which neither flushes file metadata nor
//! the device's write cache; sled's real `fsync` only happens in its background flusher. A
//! payment terminal must not answer "approved" from data that a power cut can still take away,
//! so a durability point here is `flush()` followed by `fsync` of sled's data file (fsync works
//! per inode, so any open handle to the file will do). The new files and their directory are
//! fsynced once at creation so that the files themselves survive.

use anyhow::Context;
use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Mutex,
};

/// A sled database plus the handle needed to fsync its data file.
pub struct Db {
    sled: sled::Db,
    data_file: Mutex<File>,
    path: PathBuf,
}

impl Db {
    /// Opens (or creates) the database in `dir`. `cache_bytes` bounds sled's page cache, which
    /// defaults to 1 GiB: far too much for a Raspberry Pi.
    pub fn open(dir: &Path, cache_bytes: u64) -> anyhow::Result<Db> {
        let created = !dir.join("db").exists();
        let sled = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .flush_every_ms(Some(500))
            .open()
            .with_context(|| format!("cannot open the database in {}", dir.display()))?;
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
        Ok(Db {
            sled,
            data_file: Mutex::new(data_file),
            path: dir.to_path_buf(),
        })
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
    pub fn durable(&self) -> anyhow::Result<()> {
        self.sled.flush().context("cannot flush the database")?;
        let file = self
            .data_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.sync_all().context("cannot fsync the database file")
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
