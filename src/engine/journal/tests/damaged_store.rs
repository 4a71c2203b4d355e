//! Stores sled cannot open, or opens only by panicking, are moved aside and a fresh one started,
//! with the doubt recorded; a store in use by another daemon is left alone.

use super::*;
use crate::engine::doubt;

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
    let aside = aside.expect("the broken store is moved aside").path;
    assert!(aside.ends_with("journal.corrupt-1234"), "{}", aside.display());
    assert!(aside.join("db").exists(), "the old files are kept for inspection");
    assert!(
        doubt::read(&path).is_some(),
        "the rebuild is recorded beside the store"
    );
    assert!(journal.load().unwrap().records.is_empty());
    journal.put(&sample("b")).unwrap();
    journal.durable_now().unwrap();
}

#[test]
fn a_second_damaged_store_in_the_same_second_is_moved_beside_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let mut moved = Vec::new();
    for _ in 0..3 {
        drop(Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap());
        std::fs::write(path.join(crate::store::mark::FILE_NAME), [0u8; 128]).unwrap();
        let (_, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1234).unwrap();
        moved.push(aside.expect("the broken store is moved aside").path);
    }
    let names: Vec<String> = moved
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "journal.corrupt-1234",
            "journal.corrupt-1234.2",
            "journal.corrupt-1234.3"
        ]
    );
    assert!(
        moved.iter().all(|p| p.join("db").exists()),
        "each kept for inspection"
    );
}

#[test]
fn a_data_file_cut_short_is_set_aside_or_lost_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    {
        // Enough rewrites for sled to reuse segments of its data file.
        let (journal, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
        for i in 0..2500 {
            journal.put(&sample(&format!("r{}", i % 10))).unwrap();
            journal.durable_now().unwrap();
        }
    }
    // Reopened, sled keeps a snapshot of where its pages are in the data file.
    drop(Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap());
    let len = std::fs::metadata(path.join("db")).unwrap().len();
    let mut reasons = Vec::new();
    for quarter in 1..4 {
        // A truncated data file whose snapshot names pages past the cut: sled 0.34 panics
        // (index out of bounds) while opening some of these instead of reporting damage.
        let copy = dir.path().join(format!("cut-{quarter}"));
        copy_dir(&path, &copy);
        std::fs::OpenOptions::new()
            .write(true)
            .open(copy.join("db"))
            .unwrap()
            .set_len(len * quarter / 4)
            .unwrap();
        let (journal, aside) = Journal::open_or_set_aside(&copy, 1 << 20, 9).unwrap();
        let (journal, aside) = match aside {
            Some(aside) => (journal, aside),
            None => match journal.verify() {
                // Start read only the open work; the check of the whole journal finds the cut
                // and the next start sets the store aside.
                Err(reason) => {
                    check_whole_next_start(&copy, &reason).unwrap();
                    drop(journal);
                    let (journal, aside) = Journal::open_or_set_aside(&copy, 1 << 20, 10).unwrap();
                    (journal, aside.expect("set aside at the next start"))
                }
                // The cut took only pages sled no longer used: nothing is lost.
                Ok(_) => {
                    assert_eq!(journal.load().unwrap().records.len(), 10);
                    continue;
                }
            },
        };
        reasons.push(aside.reason);
        journal.put(&sample("after")).unwrap();
        journal.durable_now().unwrap();
        assert_eq!(journal.load().unwrap().records.len(), 1);
    }
    // Where sled 0.34 panics instead of reporting the damage, the reason says so; which cuts
    // make it panic depends on where it placed its pages.
    assert!(!reasons.is_empty(), "a cut data file is found");
}

#[test]
fn a_store_that_lost_its_data_file_and_mark_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 3);
    for file in ["db", crate::store::mark::FILE_NAME] {
        std::fs::remove_file(path.join(file)).unwrap();
    }
    let (journal, aside) = reopen(&path);
    let reason = aside.expect("set aside").reason;
    assert!(reason.contains("data file is missing"), "{reason}");
    assert!(doubt::read(&path).is_some());
    assert!(journal.load().unwrap().records.is_empty());

    // A store directory that is empty (or absent) is a new store.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    std::fs::create_dir(&path).unwrap();
    let (_, aside) = reopen(&path);
    assert_eq!(aside, None);
}

#[test]
fn the_installation_id_outlives_a_store_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 1);
    let before = {
        let (journal, _) = reopen(&path);
        *journal.db().installation()
    };
    std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
    let (journal, aside) = reopen(&path);
    assert!(aside.is_some());
    assert_eq!(*journal.db().installation(), before);
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
