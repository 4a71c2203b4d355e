//! Where things live in a journal table, and the two indexes kept beside the records.
//!
//! Command ids are printable ASCII, so keys that start with a control byte never clash with a
//! record: the summary and the index mark start with NUL, the index of open work with 0x01 and
//! the index by payment with 0x02. Both indexes are written in the same atomic batch as the
//! record they name, so start-up reads only the records with work left (a journal of months of
//! trading starts as fast as an empty one) and a refund finds the records of its payment without
//! reading the table. They are not part of the summary: the check of the whole table compares
//! them with the records and repairs them (see [`super::verify`]).

use super::super::record::Record;

/// The summary's key.
pub(super) const SUMMARY_KEY: &[u8] = b"\0summary";
/// Present once the table's indexes are complete (written by this release or built from a table
/// of an earlier one).
pub(super) const INDEX_MARK_KEY: &[u8] = b"\0index-1";
const OPEN: u8 = 0x01;
const PAYMENT: u8 = 0x02;

/// Whether `key` is a record's (a command id) rather than the summary, the mark or an index.
pub(super) fn is_record(key: &[u8]) -> bool {
    key.first().is_some_and(|b| *b >= 0x20)
}

/// The prefix of the open-work index.
pub(super) const OPEN_PREFIX: [u8; 1] = [OPEN];

pub(super) fn open_key(id: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.len() + 1);
    key.push(OPEN);
    key.extend_from_slice(id);
    key
}

/// The command id an open-work index key names.
pub(super) fn id_of_open(key: &[u8]) -> &[u8] {
    key.get(1..).unwrap_or_default()
}

/// The prefix of the index keys of payment `payment_id`. NUL ends the payment id: neither
/// backend's payment ids hold one, and a lookup checks each record's payment anyway.
pub(super) fn payment_prefix(payment_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(payment_id.len() + 2);
    key.push(PAYMENT);
    key.extend_from_slice(payment_id.as_bytes());
    key.push(0);
    key
}

fn payment_key(payment_id: &str, id: &[u8]) -> Vec<u8> {
    let mut key = payment_prefix(payment_id);
    key.extend_from_slice(id);
    key
}

/// Whether `key` is an entry of the open-work index.
pub(super) fn is_open(key: &[u8]) -> bool {
    key.first() == Some(&OPEN)
}

/// The command id a payment index key names, given the length of its prefix.
pub(super) fn id_of_payment(key: &[u8], prefix_len: usize) -> &[u8] {
    key.get(prefix_len..).unwrap_or_default()
}

/// The index entries `record` (stored under `key`) needs, added to `batch`, and its open-work
/// entry removed when it has no work left.
pub(super) fn index(batch: &mut sled::Batch, key: &[u8], record: &Record) {
    if record.is_open_work() {
        batch.insert(open_key(key), &[]);
    } else {
        batch.remove(open_key(key));
    }
    if let Some(payment_id) = &record.payment_id {
        batch.insert(payment_key(payment_id, key), &[]);
    }
}

/// Removes every index entry of `record` (stored under `key`) in `batch`.
pub(super) fn unindex(batch: &mut sled::Batch, key: &[u8], record: &Record) {
    batch.remove(open_key(key));
    if let Some(payment_id) = &record.payment_id {
        batch.remove(payment_key(payment_id, key));
    }
}
