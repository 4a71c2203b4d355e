//! Idempotency keys for MobilePay's four creating requests (reference §6).
//!
//! A key names one logical request: it is made once, persisted before the first attempt, and
//! sent unchanged on every retry, including retries after a restart. That is what turns "the
//! answer got lost" into "ask again" instead of "pay twice".

use crate::backends::pos_v10::formats;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid idempotency key (1 to 36 characters MobilePay accepts)")]
pub struct BadIdempotencyKey(String);

impl IdempotencyKey {
    /// A fresh random key (a GUID, as MobilePay recommends).
    pub fn generate() -> IdempotencyKey {
        IdempotencyKey(uuid::Uuid::new_v4().to_string())
    }

    /// A key read back from storage.
    pub fn parse(text: &str) -> Result<IdempotencyKey, BadIdempotencyKey> {
        if formats::is_valid_text(text, formats::MAX_TEXT) {
            Ok(IdempotencyKey(text.to_string()))
        } else {
            Err(BadIdempotencyKey(text.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdempotencyKey {
    type Error = BadIdempotencyKey;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        IdempotencyKey::parse(&value)
    }
}

impl From<IdempotencyKey> for String {
    fn from(key: IdempotencyKey) -> String {
        key.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let a = IdempotencyKey::generate();
        assert_ne!(a, IdempotencyKey::generate());
        assert_eq!(IdempotencyKey::parse(a.as_str()), Ok(a.clone()));
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<IdempotencyKey>(&json).unwrap(), a);
    }

    #[test]
    fn invalid_keys_are_refused() {
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(37)).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(serde_json::from_str::<IdempotencyKey>("\"\"").is_err());
    }
}
