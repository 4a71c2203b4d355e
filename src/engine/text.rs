//! The texts a cash register may send (order ids, refund order ids, labels): 1-36 characters
//! from one set. The set is PoS V10's "valid characters" (as extended on 2021-05-25), the
//! narrowest any backend accepts, so a text the engine takes is taken by every backend and an
//! order id means the same everywhere.

/// Longest text, in characters.
pub const MAX_CHARS: usize = 36;

/// The non-ASCII characters of the set; ASCII letters, digits, space and printable
/// punctuation are in it too.
const EXTRA_VALID: &str =
    "æÆøØåÅäÄöÖšŠžŽâÂàÀáÁãÃéÉêÊëËèÈíÍîÎïÏìÌüÜûÛùÙúÚôÔòÒóÓõÕÿýÝñÑ¦¯¨´×«»ðþçß¤ÇµÐÞ±°ªº©§¶¼½¾¬®¢£¥¡¿¹²³";

pub fn is_valid_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == ' ' || c.is_ascii_punctuation() || EXTRA_VALID.contains(c)
}

/// 1 to [`MAX_CHARS`] characters, all from the set (lengths count characters, not bytes).
pub fn is_valid(s: &str) -> bool {
    let count = s.chars().count();
    count > 0 && count <= MAX_CHARS && s.chars().all(is_valid_char)
}
