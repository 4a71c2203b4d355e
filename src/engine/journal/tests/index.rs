//! The indexes: start-up reads only the records with work left, a payment's records are found
//! without reading the table, and the check of the whole table repairs what damage did to them.

use super::*;
use crate::engine::api::Outcome;
use crate::engine::record::Phase;
use crate::money::{Currency, Minor};

fn of_payment(id: &str, payment: &str, outcome: Option<Outcome>) -> Record {
    let mut record = finished(id);
    record.payment_id = Some(payment.into());
    record.outcome = outcome;
    record
}

fn ids(records: &[Record]) -> Vec<String> {
    let mut ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    ids.sort();
    ids
}

fn reserved(payment: &str) -> Outcome {
    Outcome::Reserved {
        payment_id: payment.into(),
        amount: Minor(100),
        currency: Currency::DKK,
        partial_capture_possible: true,
    }
}

#[test]
fn start_reads_the_open_work_and_the_other_records_of_its_payments() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 0);
    {
        let (journal, _) = reopen(&path);
        journal.put(&of_payment("old-sale", "pay-old", None)).unwrap();
        journal.put(&of_payment("old-refund", "pay-old", None)).unwrap();
        let mut running = of_payment("running", "pay-run", None);
        running.phase = Phase::Poll;
        journal.put(&running).unwrap();
        journal
            .put(&of_payment("kept", "pay-kept", Some(reserved("pay-kept"))))
            .unwrap();
        journal
            .put(&of_payment("capture-of-kept", "pay-kept", None))
            .unwrap();
        journal.put(&sample("created")).unwrap();
        journal.durable_now().unwrap();
        // A record that finishes leaves the open work.
        running.phase = Phase::Done;
        journal.put(&running).unwrap();
        journal.durable_now().unwrap();
    }
    let (journal, aside) = reopen(&path);
    assert_eq!(aside, None);
    let loaded = journal.load_open().unwrap();
    assert!(loaded.corrupt.is_empty());
    assert_eq!(ids(&loaded.records), ["capture-of-kept", "created", "kept"]);
    assert_eq!(
        ids(&journal.of_payment("pay-old").unwrap()),
        ["old-refund", "old-sale"]
    );
    assert!(journal.of_payment("pay-none").unwrap().is_empty());
    let audit = journal.verify().expect("intact");
    assert!(audit.unindexed.is_empty() && audit.unreadable.is_empty());
    assert_eq!(audit.repaired, 0);
}

#[test]
fn a_record_the_open_work_index_lost_is_found_by_the_whole_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 2);
    {
        let (journal, _) = reopen(&path);
        journal.put(&finished("f0")).unwrap();
        journal.durable_now().unwrap();
    }
    {
        // Damage that takes the index entry of r1 and leaves its record, and names a finished
        // record as open.
        let db = Db::open(&path, 1 << 20).unwrap();
        let tree = db.tree(TREE).unwrap();
        assert!(tree.remove(b"\x01r1").unwrap().is_some());
        tree.insert(b"\x01f0", &[]).unwrap();
        db.durable().unwrap();
    }
    let (journal, aside) = reopen(&path);
    assert_eq!(aside, None, "a missing index entry is not a missing record");
    assert_eq!(ids(&journal.load_open().unwrap().records), ["f0", "r0"]);
    let audit = journal.verify().expect("the records themselves are intact");
    assert_eq!(ids(&audit.unindexed), ["r1"]);
    assert_eq!(
        audit.repaired, 2,
        "r1 indexed again, the stale entry of f0 removed"
    );
    assert_eq!(ids(&journal.load_open().unwrap().records), ["r0", "r1"]);
}

#[test]
fn a_journal_of_a_release_without_indexes_is_indexed_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = journal_with(dir.path(), 0);
    {
        let (journal, _) = reopen(&path);
        journal.put(&sample("open")).unwrap();
        journal.put(&of_payment("done", "pay-1", None)).unwrap();
        journal.durable_now().unwrap();
    }
    {
        // The table as an earlier release left it: records and summary, no index.
        let db = Db::open(&path, 1 << 20).unwrap();
        let tree = db.tree(TREE).unwrap();
        let extra: Vec<_> = tree
            .iter()
            .keys()
            .map(Result::unwrap)
            .filter(|k| k[0] < 0x20 && &**k != b"\0summary")
            .collect();
        assert_eq!(extra.len(), 3, "the mark and two index entries");
        for key in extra {
            tree.remove(key).unwrap();
        }
        db.durable().unwrap();
    }
    let (journal, aside) = reopen(&path);
    assert_eq!(aside, None);
    assert_eq!(ids(&journal.load_open().unwrap().records), ["open"]);
    assert_eq!(ids(&journal.of_payment("pay-1").unwrap()), ["done"]);
}
