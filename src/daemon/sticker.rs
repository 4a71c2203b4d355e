//! `sticker = { … }` of an ePayment lane: the printed QR code (Merchant Callback QR) at the
//! lane that customers scan to check in, so a sale is pushed to their phone without a screen
//! or a scanner at the till. Either a new one the box creates (`merchant_qr_id`), or an old
//! printed MobilePay sticker moved to the sales unit (`beacon_id`, PoS V10's beacon id).

use crate::backends::epayment::qr::PutMerchantCallbackRequest;
use serde::Deserialize;

/// `locationDescription` is at most this many characters (QR API).
const MAX_LOCATION: usize = 36;
/// A `merchantQrId` is at most this long.
const MAX_ID: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StickerSettings {
    /// The id of a callback QR the box creates for this lane.
    #[serde(default)]
    pub merchant_qr_id: Option<String>,
    /// The beacon id of an old printed MobilePay sticker (15 digits or a GUID) the box moves
    /// to the sales unit.
    #[serde(default)]
    pub beacon_id: Option<String>,
    /// Where the sticker is, shown to the customer in the app ("Kasse 1").
    pub location: String,
}

/// Which sticker, as the QR API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StickerId<'a> {
    Callback(&'a str),
    MobilePayBeacon(&'a str),
}

impl StickerSettings {
    /// The sticker's id; `None` for settings whose problems were reported.
    pub fn id(&self) -> Option<StickerId<'_>> {
        match (&self.merchant_qr_id, &self.beacon_id) {
            (Some(id), None) => Some(StickerId::Callback(id)),
            (None, Some(id)) => Some(StickerId::MobilePayBeacon(id)),
            _ => None,
        }
    }

    /// The `merchantQrId` its check-ins carry (a moved MobilePay sticker's is its beacon id).
    pub fn merchant_qr_id(&self) -> Option<&str> {
        self.id().map(|id| match id {
            StickerId::Callback(id) | StickerId::MobilePayBeacon(id) => id,
        })
    }

    /// The body of the `PUT` that creates or moves it (a MobilePay sticker has no category).
    pub fn put_request(&self) -> PutMerchantCallbackRequest {
        PutMerchantCallbackRequest {
            location_description: self.location.clone(),
            category: match self.id() {
                Some(StickerId::Callback(_)) => Some("IN_STORE".into()),
                _ => None,
            },
        }
    }

    /// Every problem, as (key below `sticker`, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match (&self.merchant_qr_id, &self.beacon_id) {
            (Some(_), Some(_)) => out.push((
                "beacon_id",
                "give merchant_qr_id (a new sticker) or beacon_id (an old MobilePay sticker), not both"
                    .into(),
            )),
            (None, None) => out.push((
                "location",
                "the sticker needs merchant_qr_id (a new sticker) or beacon_id (an old MobilePay sticker)"
                    .into(),
            )),
            (Some(id), None) => {
                let valid = (1..=MAX_ID).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !valid {
                    out.push((
                        "merchant_qr_id",
                        format!("must be 1 to {MAX_ID} letters, digits or dashes"),
                    ));
                }
            }
            (None, Some(id)) => {
                let digits = id.len() == 15 && id.bytes().all(|b| b.is_ascii_digit());
                if !digits && uuid::Uuid::try_parse(id).is_err() {
                    out.push((
                        "beacon_id",
                        "must be the MobilePay sticker's beacon id: 15 digits or a GUID".into(),
                    ));
                }
            }
        }
        let length = self.location.chars().count();
        if !(1..=MAX_LOCATION).contains(&length) || self.location.chars().any(char::is_control) {
            out.push((
                "location",
                format!("must be 1 to {MAX_LOCATION} characters, shown in the app"),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sticker(qr: Option<&str>, beacon: Option<&str>, location: &str) -> StickerSettings {
        StickerSettings {
            merchant_qr_id: qr.map(Into::into),
            beacon_id: beacon.map(Into::into),
            location: location.into(),
        }
    }

    fn keys(s: &StickerSettings) -> Vec<&'static str> {
        s.problems().into_iter().map(|(k, _)| k).collect()
    }

    #[test]
    fn a_new_sticker_or_an_old_mobilepay_one() {
        let new = sticker(Some("bageriet-kasse-1"), None, "Kasse 1");
        assert!(keys(&new).is_empty());
        assert_eq!(new.merchant_qr_id(), Some("bageriet-kasse-1"));
        assert_eq!(new.put_request().category.as_deref(), Some("IN_STORE"));
        for beacon in ["100000000000042", "3fa85f64-5717-4562-b3fc-2c963f66afa6"] {
            let old = sticker(None, Some(beacon), "Kasse 2");
            assert!(keys(&old).is_empty(), "{beacon}");
            assert_eq!(old.id(), Some(StickerId::MobilePayBeacon(beacon)));
            assert_eq!(old.merchant_qr_id(), Some(beacon));
            assert_eq!(old.put_request().category, None);
        }
    }

    #[test]
    fn ids_and_locations_follow_the_qr_apis_rules() {
        assert_eq!(keys(&sticker(None, None, "Kasse 1")), ["location"]);
        assert_eq!(
            keys(&sticker(Some("a"), Some("100000000000042"), "K")),
            ["beacon_id"]
        );
        assert_eq!(keys(&sticker(Some("kasse 1"), None, "K")), ["merchant_qr_id"]);
        assert_eq!(
            keys(&sticker(Some(&"a".repeat(65)), None, "K")),
            ["merchant_qr_id"]
        );
        assert_eq!(keys(&sticker(None, Some("12345"), "K")), ["beacon_id"]);
        assert_eq!(keys(&sticker(Some("k1"), None, "")), ["location"]);
        assert_eq!(keys(&sticker(Some("k1"), None, &"x".repeat(37))), ["location"]);
        assert!(keys(&sticker(Some("k1"), None, &"æ".repeat(36))).is_empty());
    }
}
