//! The value format of a stored record: a checksum over a sequence number and the record's
//! JSON, so a torn or corrupted value is reported, never guessed at, and every write can be
//! placed in order against the store's high-water mark.

use crate::engine::record::Record;

/// Marks a value with a sequence number (a JSON record starts with `{`).
const SEQUENCED: u8 = 0x02;

/// Why a stored record cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the record is too short to hold a checksum")]
    Truncated,
    #[error("the record's checksum does not match (torn or corrupted write)")]
    Checksum,
    #[error("the record cannot be decoded: {0}")]
    Decode(String),
    #[error("the record has schema version {0}, newer than this release understands")]
    Schema(u32),
}

pub fn encode(record: &Record, seq: u64) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    let body = serde_json::to_vec(record).unwrap_or_default();
    let mut value = vec![0u8; 4];
    value.push(SEQUENCED);
    value.extend_from_slice(&seq.to_be_bytes());
    value.extend_from_slice(&body);
    let crc = crc32fast::hash(&value[4..]);
    value[..4].copy_from_slice(&crc.to_be_bytes());
    value
}

/// Checks a value's checksum and splits it into its sequence number (0 for values written
/// before sequence numbers) and its JSON.
pub(super) fn unwrap_value(value: &[u8]) -> Result<(u64, &[u8]), RecordError> {
    if value.len() < 4 {
        return Err(RecordError::Truncated);
    }
    let (crc, rest) = value.split_at(4);
    let stored = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(rest) != stored {
        return Err(RecordError::Checksum);
    }
    match rest.split_first() {
        Some((&SEQUENCED, sequenced)) if sequenced.len() >= 8 => {
            let (seq, body) = sequenced.split_at(8);
            Ok((u64::from_be_bytes(seq.try_into().unwrap_or_default()), body))
        }
        Some((&SEQUENCED, _)) => Err(RecordError::Truncated),
        _ => Ok((0, rest)),
    }
}

pub fn decode(value: &[u8]) -> Result<Record, RecordError> {
    let (_, body) = unwrap_value(value)?;
    // Records of the current schema are typed directly: start-up reads every record, and going
    // through a JSON tree first costs half again as long. Anything else takes the upgrade path.
    if let Ok(record) = serde_json::from_slice::<Record>(body) {
        if record.schema == crate::engine::record::SCHEMA_VERSION {
            return Ok(record);
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| RecordError::Decode(e.to_string()))?;
    crate::engine::upgrade::upgrade(value).map_err(|e| match e {
        crate::engine::upgrade::UpgradeError::Newer(version) => RecordError::Schema(version),
        other => RecordError::Decode(other.to_string()),
    })
}
