//! Merchant callback QRs (static stickers, new or migrated MobilePay beacon stickers) and the
//! check-ins at them, with the customer tokens a check-in hands out. Pure bookkeeping; the
//! QR API handlers and the check-in control call drive it.

use super::payment::MINUTE;
use super::problem::EpError;
use crate::backends::epayment::qr::PutMerchantCallbackRequest;
use crate::sim::clock::Millis;
use axum::http::StatusCode;
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::RngCore;
use std::collections::HashMap;

/// A customer token from a check-in is valid this long.
pub const TOKEN_LIFETIME: Millis = 15 * MINUTE;
/// `locationDescription` is at most this many characters.
const MAX_LOCATION: usize = 36;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallbackQr {
    pub msn: String,
    pub merchant_qr_id: String,
    pub location_description: String,
    pub category: Option<String>,
    /// A printed MobilePay beacon sticker moved to this sales unit; its id is the beacon id.
    pub beacon: bool,
}

impl CallbackQr {
    /// What the sticker encodes: old MobilePay stickers keep their `mobilepaypos://` content.
    pub fn content(&self) -> String {
        if self.beacon {
            format!("mobilepaypos://pos?id={}&source=qr", self.merchant_qr_id)
        } else {
            format!(
                "https://qr.vipps.no/sim/merchant-callback/{}/{}",
                self.msn, self.merchant_qr_id
            )
        }
    }
}

struct CheckIn {
    msn: String,
    phone: String,
    expires_at: Millis,
}

#[derive(Default)]
pub struct CallbackQrs {
    qrs: Vec<CallbackQr>,
    tokens: HashMap<String, CheckIn>,
}

fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// A MobilePay beacon id: 15 digits or a GUID.
fn valid_beacon(id: &str) -> bool {
    (id.len() == 15 && id.bytes().all(|b| b.is_ascii_digit())) || uuid::Uuid::try_parse(id).is_ok()
}

fn conflict(detail: impl Into<String>) -> EpError {
    EpError::plain(StatusCode::CONFLICT, detail)
}

impl CallbackQrs {
    /// Creates or updates a callback QR of `msn`; `beacon` for a migrated MobilePay sticker.
    pub fn put(
        &mut self,
        msn: &str,
        id: &str,
        request: PutMerchantCallbackRequest,
        beacon: bool,
    ) -> Result<(), EpError> {
        let length = request.location_description.chars().count();
        if !(1..=MAX_LOCATION).contains(&length) {
            return Err(EpError::field(
                "locationDescription",
                format!("locationDescription must be 1 to {MAX_LOCATION} characters"),
            ));
        }
        match request.category.as_deref() {
            None => {}
            Some(_) if beacon => {
                return Err(EpError::field("category", "a MobilePay sticker has no category"))
            }
            Some("IN_STORE" | "VENDING") => {}
            Some(other) => {
                return Err(EpError::field(
                    "category",
                    format!("category must be IN_STORE or VENDING, not {other:?}"),
                ))
            }
        }
        if beacon && !valid_beacon(id) {
            return Err(EpError::field("beaconId", "beaconId must be 15 digits or a GUID"));
        }
        if !beacon && !valid_id(id) {
            return Err(EpError::field(
                "merchantQrId",
                "merchantQrId must be 1 to 64 letters, digits or dashes",
            ));
        }
        if beacon
            && self
                .qrs
                .iter()
                .any(|q| q.beacon && q.merchant_qr_id == id && q.msn != msn)
        {
            return Err(conflict(format!(
                "The MobilePay QR {id} is linked to another sales unit"
            )));
        }
        if let Some(existing) = self
            .qrs
            .iter_mut()
            .find(|q| q.msn == msn && q.merchant_qr_id == id)
        {
            if existing.beacon != beacon {
                return Err(conflict(format!("merchantQrId {id} is already in use")));
            }
            existing.location_description = request.location_description;
            existing.category = request.category;
            return Ok(());
        }
        self.qrs.push(CallbackQr {
            msn: msn.to_string(),
            merchant_qr_id: id.to_string(),
            location_description: request.location_description,
            category: request.category,
            beacon,
        });
        Ok(())
    }

    pub fn get(&self, msn: &str, id: &str) -> Result<&CallbackQr, EpError> {
        self.qrs
            .iter()
            .find(|q| q.msn == msn && q.merchant_qr_id == id)
            .ok_or_else(|| EpError::plain(StatusCode::NOT_FOUND, format!("No merchant callback QR {id}")))
    }

    pub fn list(&self, msn: &str) -> Vec<&CallbackQr> {
        self.qrs.iter().filter(|q| q.msn == msn).collect()
    }

    pub fn delete(&mut self, msn: &str, id: &str) -> Result<(), EpError> {
        self.get(msn, id)?;
        self.qrs.retain(|q| !(q.msn == msn && q.merchant_qr_id == id));
        Ok(())
    }

    /// The callback QR a scanned sticker's content points to.
    pub fn scanned(&self, content: &str) -> Option<&CallbackQr> {
        self.qrs.iter().find(|q| q.content() == content)
    }

    /// A check-in of `phone` at `msn`: a new customer token, valid [`TOKEN_LIFETIME`].
    pub fn check_in(&mut self, msn: &str, phone: &str, now: Millis) -> String {
        self.tokens.retain(|_, c| c.expires_at > now);
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        let token = STANDARD.encode(bytes);
        self.tokens.insert(
            token.clone(),
            CheckIn {
                msn: msn.to_string(),
                phone: phone.to_string(),
                expires_at: now + TOKEN_LIFETIME,
            },
        );
        token
    }

    /// The customer behind a token from a check-in at `msn` that is still valid.
    pub fn customer(&self, msn: &str, token: &str, now: Millis) -> Option<&str> {
        self.tokens
            .get(token)
            .filter(|c| c.msn == msn && c.expires_at > now)
            .map(|c| c.phone.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(location: &str) -> PutMerchantCallbackRequest {
        PutMerchantCallbackRequest {
            location_description: location.into(),
            category: None,
        }
    }

    #[test]
    fn a_migrated_sticker_keeps_its_content_and_its_sales_unit() {
        let mut qrs = CallbackQrs::default();
        qrs.put("123456", "100000000000042", put("Till 1"), true).unwrap();
        let sticker = "mobilepaypos://pos?id=100000000000042&source=qr";
        assert_eq!(qrs.scanned(sticker).map(|q| q.msn.as_str()), Some("123456"));
        let taken = qrs
            .put("654321", "100000000000042", put("Till 9"), true)
            .unwrap_err();
        assert_eq!(taken.status, StatusCode::CONFLICT);
        assert!(
            qrs.put("123456", "12345", put("Till 1"), true).is_err(),
            "not a beacon id"
        );
    }

    #[test]
    fn tokens_last_fifteen_minutes_at_their_sales_unit() {
        let mut qrs = CallbackQrs::default();
        let token = qrs.check_in("123456", "4591000001", 0);
        assert_eq!(
            qrs.customer("123456", &token, TOKEN_LIFETIME - 1),
            Some("4591000001")
        );
        assert_eq!(qrs.customer("654321", &token, 1), None);
        assert_eq!(qrs.customer("123456", &token, TOKEN_LIFETIME), None);
    }

    #[test]
    fn descriptions_are_checked() {
        let mut qrs = CallbackQrs::default();
        assert!(qrs.put("123456", "till-1", put(""), false).is_err());
        assert!(qrs.put("123456", "till-1", put(&"x".repeat(37)), false).is_err());
        assert!(qrs.put("123456", "till 1", put("Till 1"), false).is_err());
        qrs.put("123456", "till-1", put("Till 1"), false).unwrap();
        qrs.put("123456", "till-1", put("Till one"), false).unwrap();
        assert_eq!(
            qrs.get("123456", "till-1").unwrap().location_description,
            "Till one"
        );
    }
}
