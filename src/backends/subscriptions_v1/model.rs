//! The Subscriptions API's wire types, as far as a counter uses them (reference §3.1–§3.9).
//!
//! Requests and answers are snake_case, except `merchants/me`, which MobilePay documented in
//! PascalCase. Amounts are major units: sent as JSON numbers (the API specification's type),
//! read as numbers or as the quoted strings of the documentation's examples. Fields a counter
//! does not need are not read, so an answer with more is still understood.

use crate::money::{MajorAmount, Minor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Request headers of every call.
pub mod headers {
    pub const CLIENT_ID: &str = "x-ibm-client-id";
    pub const CLIENT_SECRET: &str = "x-ibm-client-secret";
    /// Optional, for logs on both sides; echoed in error bodies as their correlation id.
    pub const CORRELATION_ID: &str = "CorrelationId";
}

/// A link of an agreement: `{rel, href}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub rel: String,
    pub href: String,
}

/// The body of `POST /api/providers/{providerId}/agreements`.
///
/// A struct, not a map: its fields are written in one fixed order, so the same agreement is
/// always the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgreementRequest {
    /// The recurring price shown to the customer; absent for a variable amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<MajorAmount>,
    pub currency: &'static str,
    pub country_code: &'static str,
    pub plan: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Payments a year; 0 for a flexible schedule.
    pub frequency: u32,
    pub external_id: String,
    pub expiration_timeout_minutes: u32,
    /// Country code and number without `+` (`4512345678`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile_phone_number: Option<String>,
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_off_payment: Option<OneOffRequest>,
}

/// The one-off first payment in an agreement's body.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OneOffRequest {
    pub amount: MajorAmount,
    pub external_id: String,
    pub description: String,
}

/// `GET /api/merchants/me`: one object, as the specification has it, or wrapped in an array,
/// as the documentation's example shows it.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum MerchantAnswer {
    One(Merchant),
    Wrapped(Vec<Merchant>),
}

impl MerchantAnswer {
    /// The merchant's providers (of the first entry, when wrapped).
    pub fn providers(self) -> Vec<Provider> {
        match self {
            MerchantAnswer::One(m) => m.subscription_providers,
            MerchantAnswer::Wrapped(list) => list
                .into_iter()
                .next()
                .map(|m| m.subscription_providers)
                .unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct Merchant {
    #[serde(rename = "SubscriptionProviders", alias = "subscriptionProviders", default)]
    pub subscription_providers: Vec<Provider>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Provider {
    #[serde(rename = "SubscriptionProviderId", alias = "subscriptionProviderId")]
    pub id: String,
    #[serde(rename = "Name", alias = "name", default)]
    pub name: Option<String>,
    /// `Enabled` or `Pending`.
    #[serde(rename = "Status", alias = "status", default)]
    pub status: Option<String>,
}

/// The answer to an agreement create.
#[derive(Clone, Debug, Deserialize)]
pub struct CreatedAgreement {
    pub id: String,
    /// The one with `rel` `mobile-pay` is what the customer opens.
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default)]
    pub one_off_payment_id: Option<String>,
}

/// `GET …/agreements?…`: one page.
#[derive(Clone, Debug, Deserialize)]
pub struct AgreementPage {
    /// The page size the answer was cut to (the one asked for, unless MobilePay caps it).
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default)]
    pub agreements: Vec<Agreement>,
}

/// `GET …/agreements/{agreementId}` and each entry of the list.
#[derive(Clone, Debug, Deserialize)]
pub struct Agreement {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// `GET …/oneoffpayments` entries.
#[derive(Clone, Debug, Deserialize)]
pub struct OneOff {
    pub id: String,
    pub status: String,
    #[serde(deserialize_with = "amount")]
    pub amount: Minor,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// The body of `POST …/payments/{paymentId}/refunds`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefundRequest {
    pub amount: MajorAmount,
    pub status_callback_url: String,
    pub external_id: String,
}

/// A refund: the create's answer and each entry of the list.
#[derive(Clone, Debug, Deserialize)]
pub struct Refund {
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// The Subscriptions error body: `{error, error_description: {message, error_type,
/// correlation_id, error_code, localized_message}}`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    /// An object; read leniently, as a plain string is shown as the message.
    #[serde(default)]
    pub error_description: Option<Value>,
}

/// The refund endpoints' error body: `{errorText, errorDetails: {message, errorType,
/// correlationId, errorCode}}`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundErrorBody {
    #[serde(default)]
    pub error_text: Option<String>,
    #[serde(default)]
    pub error_details: Option<RefundErrorDetails>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundErrorDetails {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    #[serde(default)]
    pub error_code: Option<Value>,
}

/// An amount in major units, as a JSON number (`10.99`) or a quoted string (`"10.99"`).
fn amount<'de, D: Deserializer<'de>>(de: D) -> Result<Minor, D::Error> {
    use serde::de::Error;
    match Value::deserialize(de)? {
        Value::String(text) => Minor::parse_major(&text).map_err(D::Error::custom),
        Value::Number(n) => serde_json::from_value::<MajorAmount>(Value::Number(n))
            .map_err(D::Error::custom)?
            .to_minor()
            .map_err(D::Error::custom),
        other => Err(D::Error::custom(format!("an amount, not {other}"))),
    }
}

/// A code given as a string or a number (`"60001"`, `60001`); blank is none.
pub fn code_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_numbers_and_as_strings_exactly() {
        let read = |json: &str| serde_json::from_str::<OneOff>(json).map(|o| o.amount);
        let one_off = |amount: &str| format!(r#"{{"id":"p","status":"Reserved","amount":{amount}}}"#);
        assert_eq!(read(&one_off("10.99")).unwrap(), Minor(1099));
        assert_eq!(read(&one_off("\"10.99\"")).unwrap(), Minor(1099));
        assert_eq!(read(&one_off("0.01")).unwrap(), Minor(1));
        assert_eq!(read(&one_off("49")).unwrap(), Minor(4900));
        assert_eq!(read(&one_off("299999.99")).unwrap(), Minor(29_999_999));
        assert!(read(&one_off("1.234")).is_err());
        assert!(read(&one_off("null")).is_err());
    }

    #[test]
    fn merchants_me_is_read_bare_and_wrapped() {
        let bare = r#"{"Id":"m","SubscriptionProviders":[{"SubscriptionProviderId":"p1","Name":"Klub","Status":"Enabled"}]}"#;
        let providers = serde_json::from_str::<MerchantAnswer>(bare).unwrap().providers();
        assert_eq!(providers[0].id, "p1");
        assert_eq!(providers[0].status.as_deref(), Some("Enabled"));
        let wrapped = format!("[{bare}]");
        let providers = serde_json::from_str::<MerchantAnswer>(&wrapped)
            .unwrap()
            .providers();
        assert_eq!(providers.len(), 1);
    }
}
