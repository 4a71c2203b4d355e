//! Wire types of MobilePay PoS V10 (reference §8–§13), spelled exactly as on the wire.
//!
//! Request types are strict (`deny_unknown_fields`) because the simulator answers a request
//! with an unexpected field with `1099`. Response types are tolerant: extra fields are ignored
//! and unknown enum values are kept as [`PaymentStatus::Unknown`] / [`RefundStatus::Unknown`]
//! so that a newer backend never crashes our client.
//!
//! "Missing" and `null` both read as `None`. For `loyaltyIds` and `customerReceiptToken` that
//! means "not looked up yet, poll again"; an empty value means "looked up, nothing there".

use crate::money::{Currency, MajorAmount};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Header names (lower case, as MobilePay writes them since 2020).
pub mod headers {
    pub const CLIENT_ID: &str = "x-ibm-client-id";
    pub const CLIENT_SECRET: &str = "x-ibm-client-secret";
    pub const CLIENT_VERSION: &str = "x-mobilepay-client-system-version";
    pub const CLIENT_NAME: &str = "x-mobilepay-client-system-name";
    pub const MERCHANT_VAT: &str = "x-mobilepay-merchant-vat-number";
    pub const IDEMPOTENCY_KEY: &str = "x-mobilepay-idempotency-key";
    pub const CORRELATION_ID: &str = "correlationid";
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BeaconType {
    QR,
    NFC,
    Bluetooth,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PlannedCaptureDelay {
    None,
    LessThan24Hours,
    LessThan14Days,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Restrictions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_card_disallowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_card_disallowed: Option<bool>,
}

/// Defines a status enum whose unknown values survive as `Unknown(String)`.
macro_rules! tolerant_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version of mposd does not know.
            Unknown(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => stringify!($variant),)+
                    $name::Unknown(s) => s,
                }
            }

            pub fn parse(s: &str) -> $name {
                match s {
                    $(stringify!($variant) => $name::$variant,)+
                    other => $name::Unknown(other.to_string()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let value = $name::parse(&s);
                if let $name::Unknown(raw) = &value {
                    tracing::warn!(value = %raw, kind = stringify!($name), "unknown value from MobilePay");
                }
                Ok(value)
            }
        }
    };
}

tolerant_enum!(
    /// Payment states (reference §12.3).
    PaymentStatus {
        Prepared,
        Initiated,
        Paired,
        IssuedToUser,
        Reserved,
        CancelledByUser,
        CancelledByClient,
        CancelledByMobilePay,
        ExpiredAndCancelled,
        Captured,
    }
);

impl PaymentStatus {
    /// Active payments block their PoS: no other payment can be started on it.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Prepared
                | PaymentStatus::Initiated
                | PaymentStatus::Paired
                | PaymentStatus::IssuedToUser
        )
    }

    /// No further change can happen to the payment.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            PaymentStatus::Captured
                | PaymentStatus::CancelledByUser
                | PaymentStatus::CancelledByClient
                | PaymentStatus::CancelledByMobilePay
                | PaymentStatus::ExpiredAndCancelled
        )
    }
}

tolerant_enum!(
    /// Refund states (reference §13.3).
    RefundStatus {
        Initiated,
        Reserved,
        Captured,
        CancelledByClient,
        CancelledByMobilePay,
        ExpiredAndCaptured,
    }
);

impl RefundStatus {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            RefundStatus::Captured
                | RefundStatus::CancelledByClient
                | RefundStatus::CancelledByMobilePay
                | RefundStatus::ExpiredAndCaptured
        )
    }
}

// ---- authentication ----

#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub expires_in: u64,
    pub token_type: String,
    #[serde(default)]
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field("token_type", &self.token_type)
            .finish()
    }
}

// ---- errors ----

/// Error body of payments, PoS and store endpoints; refund endpoints add `origin`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, alias = "CorrelationId")]
    pub correlation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

// ---- stores ----

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreIdsResponse {
    pub store_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreResponse {
    pub store_name: String,
    pub store_id: String,
    pub store_street: String,
    pub store_zip_code: String,
    pub store_city: String,
    pub brand_name: String,
    pub merchant_brand_id: String,
    pub merchant_location_id: String,
}

// ---- points of sale ----

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePosRequest {
    pub merchant_pos_id: String,
    pub store_id: String,
    pub name: String,
    #[serde(default)]
    pub beacon_id: Option<String>,
    #[serde(default)]
    pub callback_alias: Option<String>,
    pub supported_beacon_types: Vec<BeaconType>,
    #[serde(default)]
    pub require_payment_before_checkin: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PosIdResponse {
    pub pos_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PosResponse {
    pub pos_id: String,
    pub merchant_pos_id: String,
    pub store_id: String,
    pub name: String,
    pub beacon_id: String,
    #[serde(default)]
    pub callback_alias: Option<String>,
    pub supported_beacon_types: Vec<BeaconType>,
    pub require_payment_before_checkin: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PosIdsResponse {
    pub pos_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetCheckInResponse {
    pub is_user_checked_in: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty_ids: Option<Vec<String>>,
    pub poll_delay_in_ms: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_receipt_token: Option<String>,
}

// ---- payments ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitiatePaymentRequest {
    pub pos_id: String,
    pub order_id: String,
    pub amount: MajorAmount,
    pub currency_code: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_payment_label: Option<String>,
    pub planned_capture_delay: PlannedCaptureDelay,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreparePaymentRequest {
    pub pos_id: String,
    pub order_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentReadyRequest {
    pub amount: MajorAmount,
    pub currency_code: Currency,
    pub planned_capture_delay: PlannedCaptureDelay,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrictions: Option<Restrictions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_payment_label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PaymentCaptureRequest {
    pub amount: MajorAmount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIdResponse {
    pub payment_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentIdsResponse {
    pub payment_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryPaymentResponse {
    pub payment_id: String,
    pub pos_id: String,
    pub order_id: String,
    #[serde(default)]
    pub amount: Option<MajorAmount>,
    #[serde(default)]
    pub currency_code: Option<Currency>,
    #[serde(default)]
    pub restrictions: Option<Restrictions>,
    #[serde(default)]
    pub merchant_payment_label: Option<String>,
    #[serde(default)]
    pub planned_capture_delay: Option<PlannedCaptureDelay>,
    pub status: PaymentStatus,
    #[serde(default)]
    pub customer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_receipt_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty_ids: Option<Vec<String>>,
    #[serde(default)]
    pub payment_expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_capture_possible: Option<bool>,
    pub poll_delay_in_ms: u32,
}

// ---- refunds ----

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRefundRequest {
    pub payment_id: String,
    pub refund_order_id: String,
    pub amount: MajorAmount,
    pub currency_code: Currency,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundIdResponse {
    pub refund_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundIdsResponse {
    pub refund_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRefundResponse {
    pub refund_id: String,
    pub payment_id: String,
    pub refund_order_id: String,
    pub amount: MajorAmount,
    pub currency_code: Currency,
    pub status: RefundStatus,
    pub poll_delay_in_ms: u32,
}

// ---- user simulation (sandbox only) ----

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSimulationRequest {
    pub beacon_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_status_is_kept_not_rejected() {
        let s: PaymentStatus = serde_json::from_str("\"RejectedByMobilePayDueToAgeRestrictions\"").unwrap();
        assert_eq!(
            s,
            PaymentStatus::Unknown("RejectedByMobilePayDueToAgeRestrictions".into())
        );
        assert!(!s.is_active() && !s.is_terminal());
        let s: PaymentStatus = serde_json::from_str("\"IssuedToUser\"").unwrap();
        assert!(s.is_active());
    }

    #[test]
    fn query_payment_tolerates_extra_fields_and_omits_lookups_not_done() {
        let json = r#"{"paymentId":"p","posId":"q","orderId":"o","amount":null,"status":"Prepared",
            "pollDelayInMs":1000,"somethingNew":42}"#;
        let q: QueryPaymentResponse = serde_json::from_str(json).unwrap();
        assert_eq!(q.status, PaymentStatus::Prepared);
        assert_eq!(q.loyalty_ids, None);
        let out = serde_json::to_value(&q).unwrap();
        assert!(out.get("loyaltyIds").is_none());
        assert!(out.get("partialCapturePossible").is_none());
        assert!(out.get("amount").unwrap().is_null());
    }

    #[test]
    fn error_body_accepts_either_spelling_of_correlation_id() {
        let e: ErrorResponse = serde_json::from_str(r#"{"code":"1301","CorrelationId":"c"}"#).unwrap();
        assert_eq!(e.correlation_id.as_deref(), Some("c"));
        assert_eq!(e.code.as_deref(), Some("1301"));
    }

    #[test]
    fn token_debug_hides_the_token() {
        let t = TokenResponse {
            access_token: "SECRET-TOKEN".into(),
            expires_in: 3700,
            token_type: "Bearer".into(),
            scope: None,
        };
        assert!(!format!("{t:?}").contains("SECRET-TOKEN"));
    }
}
