//! Input formats of the PoS V10 API (reference §15): the "valid characters" set, VAT numbers,
//! beacon ids, GUIDs and the client version header. Both the simulator (to answer with the
//! right error code) and the daemon's configuration check (to refuse a bad setting before it
//! reaches MobilePay) use these.

/// MobilePay's "valid characters" (reference §15) are the engine's text rule.
pub use crate::engine::text::is_valid_char;

/// A non-empty string of at most `max` valid characters (lengths count characters, not bytes).
pub fn is_valid_text(s: &str, max: usize) -> bool {
    let count = s.chars().count();
    count > 0 && count <= max && s.chars().all(is_valid_char)
}

/// The 36-character limit that applies to order ids, PoS names, merchant PoS ids, labels,
/// callback aliases and idempotency keys.
pub const MAX_TEXT: usize = 36;

/// `DK12345678` or `FI12345678`: country prefix and exactly eight digits, no separator.
pub fn is_valid_vat(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && (s.starts_with("DK") || s.starts_with("FI")) && b[2..].iter().all(u8::is_ascii_digit)
}

/// A GUID in its 36-character hyphenated form (any case).
pub fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// Beacon ids are either exactly 15 digits (MobilePay hardware and stickers) or a GUID.
pub fn is_valid_beacon_id(s: &str) -> bool {
    (s.len() == 15 && s.bytes().all(|b| b.is_ascii_digit())) || is_guid(s)
}

/// `Major.Minor.Build`, three non-negative integers.
pub fn is_valid_client_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `MPPOSXXXXX`, `POSDKXXXXX` or `POSFIXXXXX`: ten characters with one of those prefixes.
pub fn is_valid_brand_id(s: &str) -> bool {
    s.len() == 10
        && ["MPPOS", "POSDK", "POSFI"].iter().any(|p| s.starts_with(p))
        && s.chars().all(is_valid_char)
}

/// Exactly five valid characters, e.g. `00001`.
pub fn is_valid_location_id(s: &str) -> bool {
    s.chars().count() == 5 && s.chars().all(is_valid_char)
}

/// The payload of the QR code a customer scans: lower case, beacon id, never the PoS id.
pub fn qr_payload(beacon_id: &str) -> String {
    format!("mobilepaypos://pos?id={beacon_id}&source=qr").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(
            !is_valid_text("Kasse 1 – æøå", 36),
            "en dash is not a valid character"
        );
        assert!(is_valid_text("Kasse 1 - æøå ÄÖ", 36));
        assert!(!is_valid_text("", 36));
        assert!(is_valid_text(&"å".repeat(36), 36));
        assert!(!is_valid_text(&"a".repeat(37), 36));
        assert!(!is_valid_text("tab\there", 36));
        assert!(!is_valid_text("€5", 36));
    }

    #[test]
    fn identifier_rules() {
        assert!(is_valid_vat("DK12345678"));
        assert!(is_valid_vat("FI90000040"));
        assert!(!is_valid_vat("DK-12345678"));
        assert!(!is_valid_vat("SE12345678"));
        assert!(!is_valid_vat("DK1234567"));
        assert!(is_valid_beacon_id("123456789012345"));
        assert!(is_valid_beacon_id("cd851cd7-8398-4a03-83c1-391a2f5cb71c"));
        assert!(!is_valid_beacon_id("12345678901234"));
        assert!(!is_valid_beacon_id("cd851cd783984a0383c1391a2f5cb71c"));
        assert!(is_valid_client_version("2.1.1"));
        assert!(!is_valid_client_version("2.1"));
        assert!(!is_valid_client_version("2.x.1"));
        assert!(is_valid_brand_id("POSDK12345"));
        assert!(!is_valid_brand_id("XXXDK12345"));
        assert!(is_valid_location_id("00001"));
        assert!(!is_valid_location_id("0001"));
    }

    #[test]
    fn qr_payload_is_lower_case() {
        assert_eq!(
            qr_payload("CD851CD7-8398-4A03-83C1-391A2F5CB71C"),
            "mobilepaypos://pos?id=cd851cd7-8398-4a03-83c1-391a2f5cb71c&source=qr"
        );
    }
}
