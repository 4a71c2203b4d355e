//! The checks at start and of the whole journal: a journal that lost, changed or damaged
//! records, or ends before its high-water mark, is not trusted; an intact one, or one from
//! before summaries, is.

use super::*;
use crate::engine::doubt;

#[test]
fn an_intact_journal_passes_its_check_across_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 5);
    for _ in 0..3 {
        let (journal, aside) = reopen(&path);
        assert_eq!(aside, None);
        assert_eq!(journal.load().unwrap().records.len(), 5);
        journal.put(&sample("r0")).unwrap();
        journal.durable_now().unwrap();
    }
    assert!(doubt::read(&path).is_none());
}

#[test]
fn a_journal_behind_its_mark_is_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 3);
    // What sled can do after a bad power cut: open cleanly without the latest writes.
    // Simulated with a copy of the store taken before the last write, and the newer mark.
    let early = dir.path().join("early");
    {
        let (journal, _) = reopen(&path);
        drop(journal);
    }
    copy_dir(&path, &early);
    {
        let (journal, _) = reopen(&path);
        journal.put(&sample("late")).unwrap();
        journal.durable_now().unwrap();
    }
    std::fs::copy(
        path.join(crate::store::mark::FILE_NAME),
        early.join(crate::store::mark::FILE_NAME),
    )
    .unwrap();
    let (journal, aside) = reopen(&early);
    let aside = aside.expect("a journal behind its mark is not trusted");
    assert!(
        aside.reason.contains("latest records are gone"),
        "{}",
        aside.reason
    );
    assert!(journal.load().unwrap().records.is_empty());
    let doubt = doubt::read(&early).expect("the journal is in doubt");
    assert_eq!(doubt.reason, aside.reason);
}

#[test]
fn a_lost_record_with_work_left_is_found_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 4);
    {
        // Behind the journal's back, as damage would: one record gone, its index entry left.
        let db = Db::open(&path, 1 << 20).unwrap();
        db.tree(TREE).unwrap().remove("r1").unwrap();
        db.durable().unwrap();
    }
    let (_, aside) = reopen(&path);
    let reason = aside.expect("set aside").reason;
    assert!(reason.contains("r1") && reason.contains("gone"), "{reason}");
}

#[test]
fn a_lost_or_changed_finished_record_is_found_by_the_whole_check_and_set_aside_at_the_next_start() {
    type Damage = fn(&sled::Tree);
    let lost: Damage = |tree| {
        tree.remove("f1").unwrap();
    };
    // One record replaced by an older, valid value of another record.
    let swapped: Damage = |tree| {
        let other = tree.get("f0").unwrap().unwrap();
        tree.insert("f2", other).unwrap();
    };
    for damage in [lost, swapped] {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_with(dir.path(), 0);
        {
            let (journal, _) = reopen(&path);
            for i in 0..4 {
                journal.put(&finished(&format!("f{i}"))).unwrap();
            }
            journal.durable_now().unwrap();
        }
        {
            let db = Db::open(&path, 1 << 20).unwrap();
            damage(&db.tree(TREE).unwrap());
            db.durable().unwrap();
        }
        // Start reads only open work, so it opens; the check of the whole table finds it.
        let (journal, aside) = reopen(&path);
        assert_eq!(aside, None);
        let reason = journal.verify().expect_err("damage found");
        assert!(reason.contains("do not match its summary"), "{reason}");
        check_whole_next_start(&path, &reason).unwrap();
        drop(journal);
        let (_, aside) = reopen(&path);
        assert!(aside
            .expect("set aside at the next start")
            .reason
            .contains("do not match"));
        let (_, aside) = reopen(&path);
        assert_eq!(aside, None, "the fresh store is trusted again");
    }
}

#[test]
fn a_record_failing_its_checksum_sets_the_journal_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 2);
    {
        let db = Db::open(&path, 1 << 20).unwrap();
        let tree = db.tree(TREE).unwrap();
        let mut value = tree.get("r1").unwrap().unwrap().to_vec();
        let last = value.len() - 3;
        value[last] ^= 0x10;
        tree.insert("r1", value).unwrap();
        db.durable().unwrap();
    }
    let (_, aside) = reopen(&path);
    let reason = aside.expect("set aside").reason;
    assert!(reason.contains("r1") && reason.contains("checksum"), "{reason}");
}

#[test]
fn a_lost_mark_or_summary_is_not_trusted_but_an_old_store_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 2);
    std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
    let (_, aside) = reopen(&path);
    assert!(aside.expect("set aside").reason.contains("mark is missing"));

    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 2);
    std::fs::write(path.join(crate::store::mark::FILE_NAME), [0u8; 128]).unwrap();
    let (_, aside) = reopen(&path);
    assert!(aside.expect("set aside").reason.contains("mark is unreadable"));

    // A store written before summaries and marks: records in the old value format, no
    // summary, no mark. It is adopted, summarised and marked.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    {
        let db = Db::open(&path, 1 << 20).unwrap();
        let body = serde_json::to_vec(&sample("old")).unwrap();
        let mut value = crc32fast::hash(&body).to_be_bytes().to_vec();
        value.extend_from_slice(&body);
        db.tree(TREE).unwrap().insert("old", value).unwrap();
        db.durable().unwrap();
    }
    std::fs::remove_file(path.join(crate::store::mark::FILE_NAME)).unwrap();
    let (journal, aside) = reopen(&path);
    assert_eq!(aside, None);
    assert_eq!(journal.load().unwrap().records, vec![sample("old")]);
    drop(journal);
    let (journal, aside) = reopen(&path);
    assert_eq!(aside, None, "adopted once, trusted after");
    assert_eq!(journal.load().unwrap().records.len(), 1);
}
