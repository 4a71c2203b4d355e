//! A table's summary: the last sequence number written, the number of records and an
//! order-independent digest of their keys and checksums. It is written in the same atomic
//! batch as every record, so comparing it with the table as found tells lost or changed
//! records apart from an intact journal, which sled alone would not notice.

use super::layout::{self, SUMMARY_KEY};
use super::value::unwrap_value;
use super::TREE;
use crate::store::Db;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A record's contribution to the digest: its key and stored checksum, which changes with
/// every write of the record (the sequence number is under it).
pub(super) fn fingerprint(key: &[u8], value: &[u8]) -> u64 {
    let mut hash = Sha256::new();
    hash.update((key.len() as u64).to_be_bytes());
    hash.update(key);
    hash.update(value.get(..4).unwrap_or(value));
    let digest = hash.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// A table's summary, stored in the same atomic batch as every record write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Summary {
    /// The sequence number of the latest write.
    pub(super) seq: u64,
    /// How many records the table holds.
    pub(super) count: u64,
    /// XOR of every record's [`fingerprint`].
    pub(super) digest: u64,
}

impl Summary {
    pub(super) fn encode(&self) -> Vec<u8> {
        let body = serde_json::to_vec(self).unwrap_or_default();
        let mut value = crc32fast::hash(&body).to_be_bytes().to_vec();
        value.extend_from_slice(&body);
        value
    }

    pub(super) fn decode(value: &[u8]) -> Option<Summary> {
        let (crc, body) = value.split_at_checked(4)?;
        if crc32fast::hash(body).to_be_bytes() != crc {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// The summary of a table as it is, reading every record once; `Err` names the first key
    /// whose value fails its checksum.
    pub(super) fn of_table(tree: &sled::Tree) -> anyhow::Result<(Summary, Option<Summary>)> {
        let mut found = Summary::default();
        let mut stored = None;
        for entry in tree.iter() {
            let (key, value) = entry.context("cannot read the payment journal")?;
            if &*key == SUMMARY_KEY {
                stored = Some(Summary::decode(&value).context("the journal's summary is unreadable")?);
                continue;
            }
            if !layout::is_record(&key) {
                continue;
            }
            let (seq, _) = unwrap_value(&value).map_err(|e| {
                anyhow::anyhow!(
                    "the record of command {} is damaged: {e}",
                    String::from_utf8_lossy(&key)
                )
            })?;
            found.seq = found.seq.max(seq);
            found.count += 1;
            found.digest ^= fingerprint(&key, &value);
        }
        Ok((found, stored))
    }
}

/// The names of the journal tables in `db`.
pub(super) fn journal_tables(db: &Db) -> Vec<String> {
    db.sled()
        .tree_names()
        .into_iter()
        .map(|name| String::from_utf8_lossy(&name).into_owned())
        .filter(|name| name == TREE || name.starts_with(&format!("{TREE}/")))
        .collect()
}
