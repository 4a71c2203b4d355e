//! Records stored, read back, checked on the way, pruned, and made durable by group commit.

use super::*;

#[test]
fn records_round_trip_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    {
        let (journal, aside) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
        assert!(aside.is_none());
        journal.put(&sample("a")).unwrap();
        journal.durable_now().unwrap();
    }
    let (journal, _) = Journal::open_or_set_aside(&path, 1 << 20, 1).unwrap();
    let got = journal.get(&CommandId::new("a").unwrap()).unwrap();
    assert_eq!(got, Some(Ok(sample("a"))));
    assert_eq!(journal.get(&CommandId::new("b").unwrap()).unwrap(), None);
}

#[test]
fn corrupt_values_are_detected() {
    let mut value = encode(&sample("a"), 1);
    let last = value.len() - 2;
    value[last] ^= 0x20;
    assert_eq!(decode(&value), Err(RecordError::Checksum));
    assert_eq!(decode(&value[..3]), Err(RecordError::Truncated));
    let body = b"{\"not\":\"a record\"}";
    let mut forged = crc32fast::hash(body).to_be_bytes().to_vec();
    forged.extend_from_slice(body);
    assert!(matches!(decode(&forged), Err(RecordError::Decode(_))));
    let mut future = sample("a");
    future.schema = SCHEMA_VERSION + 1;
    assert_eq!(
        decode(&encode(&future, 1)),
        Err(RecordError::Schema(SCHEMA_VERSION + 1))
    );

    // A corrupt value on disk is reported by load, the good ones are kept.
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
    let journal = Journal::new(db.clone()).unwrap();
    journal.put(&sample("good")).unwrap();
    db.tree(TREE).unwrap().insert("bad", value).unwrap();
    let loaded = journal.load().unwrap();
    assert_eq!(loaded.records, vec![sample("good")]);
    assert_eq!(loaded.corrupt, vec![("bad".to_string(), RecordError::Checksum)]);
}

#[test]
fn pruning_removes_only_old_finished_records() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
    let journal = Journal::new(db).unwrap();
    let mut old_done = sample("old-done");
    old_done.phase = crate::engine::record::Phase::Done;
    old_done.updated_at_ms = 10;
    let mut old_open = sample("old-open");
    old_open.updated_at_ms = 10;
    let mut new_done = sample("new-done");
    new_done.phase = crate::engine::record::Phase::Done;
    new_done.updated_at_ms = 5_000;
    for r in [&old_done, &old_open, &new_done] {
        journal.put(r).unwrap();
    }
    // Only the old finished one goes.
    let (removed, next) = journal.prune_step(None, 10, 1_000).unwrap();
    assert_eq!(removed, vec![CommandId::new("old-done").unwrap()]);
    assert_eq!(next, None, "the whole table fits in one step");
    assert!(
        journal.prune_step(None, 10, 1_000).unwrap().0.is_empty(),
        "nothing left to remove"
    );
    let mut left: Vec<String> = journal
        .load()
        .unwrap()
        .records
        .into_iter()
        .map(|r| r.id.to_string())
        .collect();
    left.sort();
    assert_eq!(left, vec!["new-done", "old-open"]);
}

#[test]
fn pruning_goes_through_the_journal_in_bounded_steps() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
    let journal = Journal::new(db).unwrap();
    for i in 0..25 {
        let mut old = sample(&format!("old-{i:02}"));
        old.phase = crate::engine::record::Phase::Done;
        old.updated_at_ms = 10;
        journal.put(&old).unwrap();
    }
    let mut steps = 0;
    let mut from = None;
    let mut removed = Vec::new();
    loop {
        let (gone, next) = journal.prune_step(from.as_deref(), 10, 1_000).unwrap();
        assert!(gone.len() <= 10, "a step looks at no more than its limit");
        removed.extend(gone);
        steps += 1;
        match next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(steps, 3);
    assert_eq!(removed.len(), 25);
    assert!(journal.load().unwrap().records.is_empty());
}

#[tokio::test]
async fn group_commits_answer_every_waiter() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(&dir.path().join("j"), 1 << 20).unwrap());
    let journal = Journal::new(db).unwrap();
    let committer = Committer::start(journal.clone());
    let mut waits = Vec::new();
    for i in 0..20 {
        journal.put(&sample(&format!("r{i}"))).unwrap();
        let c = committer.clone();
        waits.push(tokio::spawn(async move { c.durable().await }));
    }
    for w in waits {
        assert_eq!(w.await.unwrap(), Ok(()));
    }
    assert_eq!(journal.load().unwrap().records.len(), 20);
}
