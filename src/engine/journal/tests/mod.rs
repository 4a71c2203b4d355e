//! The journal on real sled stores in temporary directories, damaged the ways disks and power
//! cuts damage them. This module holds the records and stores the tests share; the tests are in
//! files by subject.

mod damaged_store;
mod index;
mod integrity;
mod records;

use super::*;
use crate::engine::api::Command;
use crate::engine::record::SCHEMA_VERSION;
use std::path::{Path, PathBuf};

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

/// A record with no work left.
fn finished(id: &str) -> Record {
    let mut record = sample(id);
    record.phase = crate::engine::record::Phase::Done;
    record.answered = true;
    record
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
