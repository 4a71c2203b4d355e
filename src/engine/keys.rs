//! Idempotency keys derived from the command itself.
//!
//! A random key stored in the journal protects against every lost answer except one: a journal
//! that lost the record. The cash register then repeats the command (the protocol tells it to
//! when a query says `not_found`), and a fresh random key would make MobilePay create a second
//! payment. A key derived from what the command *is* reaches MobilePay as the same request
//! again, and MobilePay answers it as a replay of the first.
//!
//! The key is SHA-256 over, each length-prefixed: a domain tag, the installation id (kept
//! outside the journal, see [`crate::store::installation`]), the lane, the command id and the
//! command's stored form (kind, amount, currency, order id, every option). So:
//! - the same command repeated under the same id gives the same key, whatever the journal says;
//! - a cash register that reuses a command id for a *different* sale (`sale-1` every day) gives
//!   a different key and never receives the old sale's answer;
//! - two installations, or two lanes, never share a key.
//!
//! The first 16 bytes are written as a UUID (version 8, "custom"), the GUID shape MobilePay
//! recommends for keys, 36 characters, within its limit.

use super::api::{Command, CommandId};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"mposd create key 1";
const DERIVED: &[u8] = b"mposd derived key 1";

pub fn create_key(installation: &[u8; 16], lane: &str, id: &CommandId, command: &Command) -> String {
    // Serialising plain data with string keys cannot fail.
    let command = serde_json::to_vec(command).unwrap_or_default();
    uuid_of(&[
        DOMAIN,
        installation.as_slice(),
        lane.as_bytes(),
        id.as_str().as_bytes(),
        command.as_slice(),
    ])
}

/// The key of a change a command makes to its payment (a capture, a cancel), for backends
/// that want one: derived from the command's own key, what the change is, and `round`, the
/// number of earlier attempts of it that were definitively refused. A repeat after a lost
/// answer has the same key and is a replay; a new attempt after a refusal has a new key, so the
/// backend does not answer it with the refusal it remembers for the old one.
pub fn change_key(command_key: &str, change: &str, round: u32) -> String {
    uuid_of(&[
        DERIVED,
        command_key.as_bytes(),
        change.as_bytes(),
        &round.to_be_bytes(),
    ])
}

/// SHA-256 over the length-prefixed parts, its first 16 bytes as a version 8 UUID.
fn uuid_of(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Minor};

    fn pay(amount: i64, order: &str) -> Command {
        Command::Pay {
            amount: Minor(amount),
            currency: Currency::DKK,
            order_id: order.into(),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        }
    }

    #[test]
    fn same_command_same_key_anything_else_another() {
        let id = CommandId::new("sale-1").unwrap();
        let key = create_key(&[1; 16], "till-1", &id, &pay(1200, "R1"));
        assert_eq!(key, create_key(&[1; 16], "till-1", &id, &pay(1200, "R1")));
        assert_eq!(key.len(), 36);
        assert!(
            uuid::Uuid::try_parse(&key).is_ok(),
            "a UUID every backend takes as a key"
        );
        let others = [
            create_key(&[2; 16], "till-1", &id, &pay(1200, "R1")),
            create_key(&[1; 16], "till-2", &id, &pay(1200, "R1")),
            create_key(
                &[1; 16],
                "till-1",
                &CommandId::new("sale-2").unwrap(),
                &pay(1200, "R1"),
            ),
            // The same id reused for another sale: another amount, another order id.
            create_key(&[1; 16], "till-1", &id, &pay(1300, "R1")),
            create_key(&[1; 16], "till-1", &id, &pay(1200, "R2")),
        ];
        for other in &others {
            assert_ne!(&key, other);
        }
    }

    #[test]
    fn fields_cannot_slide_into_each_other() {
        let a = create_key(&[1; 16], "ab", &CommandId::new("c").unwrap(), &pay(1, "x"));
        let b = create_key(&[1; 16], "a", &CommandId::new("bc").unwrap(), &pay(1, "x"));
        assert_ne!(a, b);
    }

    #[test]
    fn a_sale_scanned_without_receipt_keeps_the_stored_form_of_earlier_releases() {
        let stored = serde_json::to_string(&pay(1200, "R1")).unwrap();
        assert_eq!(
            stored,
            r#"{"pay":{"amount":1200,"currency":"DKK","order_id":"R1","keep_reservation":false,"restrictions":null,"label":null}}"#
        );
        let id = CommandId::new("sale-1").unwrap();
        let mut pushed = pay(1200, "R1");
        if let Command::Pay { payer, .. } = &mut pushed {
            *payer = crate::engine::backend::Payer::Phone {
                number: "4512345678".into(),
            };
        }
        assert_ne!(
            create_key(&[1; 16], "till-1", &id, &pay(1200, "R1")),
            create_key(&[1; 16], "till-1", &id, &pushed)
        );
    }

    #[test]
    fn change_keys_repeat_for_a_replay_and_differ_after_a_refusal() {
        let key = change_key("k", "capture", 0);
        assert_eq!(key, change_key("k", "capture", 0));
        assert_eq!(key.len(), 36);
        for other in [
            change_key("k", "capture", 1),
            change_key("k", "cancel", 0),
            change_key("k2", "capture", 0),
        ] {
            assert_ne!(key, other);
        }
    }
}
