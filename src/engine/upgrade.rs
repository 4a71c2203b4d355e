//! Reading journal records written by earlier releases.
//!
//! A record names its schema version. Older records are brought up to [`SCHEMA_VERSION`] as
//! they are read, one version step at a time, before they are typed; a record is stored in the
//! new schema the next time it is written. A record newer than this release is refused (the
//! journal check then treats it as unreadable, never as something to guess at).
//!
//! Version history:
//! - 1: the first release.
//! - 2: phases named in the engine's own words: `ready` became `set_terms` and
//!   `capture_refund` became `confirm_refund`.

use super::record::{Record, SCHEMA_VERSION};
use serde_json::Value;

/// Why a stored record could not be brought up to date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    #[error("the record has schema version {0}, newer than this release understands")]
    Newer(u32),
    #[error("the record has no valid schema version")]
    NoVersion,
    #[error("{0}")]
    Decode(String),
}

/// Brings a stored record's JSON to the current schema and types it.
pub fn upgrade(mut value: Value) -> Result<Record, UpgradeError> {
    let version = value
        .get("schema")
        .and_then(Value::as_u64)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or(UpgradeError::NoVersion)?;
    if version > SCHEMA_VERSION {
        return Err(UpgradeError::Newer(version));
    }
    if version < 2 {
        from_1_to_2(&mut value);
    }
    value["schema"] = Value::from(SCHEMA_VERSION);
    serde_json::from_value(value).map_err(|e| UpgradeError::Decode(e.to_string()))
}

fn from_1_to_2(value: &mut Value) {
    let renamed = match value.get("phase").and_then(Value::as_str) {
        Some("ready") => "set_terms",
        Some("capture_refund") => "confirm_refund",
        _ => return,
    };
    value["phase"] = Value::from(renamed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::Phase;

    fn stored(version: u64, phase: &str) -> Value {
        let record = Record::new(
            crate::engine::api::CommandId::new("sale-1").unwrap(),
            crate::engine::api::Command::Prepare {
                order_id: "o-1".into(),
            },
            "pos-1".into(),
            1,
        );
        let mut value = serde_json::to_value(record).unwrap();
        value["schema"] = Value::from(version);
        value["phase"] = Value::from(phase);
        value
    }

    #[test]
    fn first_schema_phases_get_their_new_names() {
        assert_eq!(upgrade(stored(1, "ready")).unwrap().phase, Phase::SetTerms);
        assert_eq!(
            upgrade(stored(1, "capture_refund")).unwrap().phase,
            Phase::ConfirmRefund
        );
        let poll = upgrade(stored(1, "poll")).unwrap();
        assert_eq!((poll.phase, poll.schema), (Phase::Poll, SCHEMA_VERSION));
    }

    #[test]
    fn old_names_are_not_read_as_current_ones_and_newer_records_are_refused() {
        assert!(matches!(
            upgrade(stored(2, "ready")),
            Err(UpgradeError::Decode(_))
        ));
        assert_eq!(
            upgrade(stored(u64::from(SCHEMA_VERSION) + 1, "poll")),
            Err(UpgradeError::Newer(SCHEMA_VERSION + 1))
        );
        let mut unversioned = stored(1, "poll");
        unversioned.as_object_mut().unwrap().remove("schema");
        assert_eq!(upgrade(unversioned), Err(UpgradeError::NoVersion));
    }
}
