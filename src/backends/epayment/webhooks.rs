//! The Webhooks API's wire model and its HMAC-SHA256 request signing, shared by the
//! simulator (which signs deliveries) and a listener (which must verify them before trusting a
//! payment event).

use super::model::{Amount, EventName};
use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `POST /webhooks/v1/webhooks`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub url: String,
    pub events: Vec<String>,
}

/// The answer to a registration; the secret is shown this once only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterResponse {
    pub id: String,
    pub secret: String,
}

/// One registration as `GET /webhooks/v1/webhooks` lists it (without its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistrationList {
    pub webhooks: Vec<Registration>,
}

/// The body of an `epayments.payment.*.v1` delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentWebhookEvent {
    pub msn: String,
    pub reference: String,
    pub psp_reference: String,
    pub name: EventName,
    pub amount: Amount,
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub success: bool,
}

/// The webhook event type that carries payment events named `name`.
pub fn payment_event_type(name: &EventName) -> String {
    let name = serde_json::to_value(name)
        .ok()
        .and_then(|v| v.as_str().map(str::to_ascii_lowercase))
        .unwrap_or_default();
    format!("epayments.payment.{name}.v1")
}

/// Every payment event type, in the order the Webhooks API documents them.
pub const PAYMENT_EVENT_TYPES: [&str; 8] = [
    "epayments.payment.created.v1",
    "epayments.payment.aborted.v1",
    "epayments.payment.expired.v1",
    "epayments.payment.cancelled.v1",
    "epayments.payment.captured.v1",
    "epayments.payment.refunded.v1",
    "epayments.payment.authorized.v1",
    "epayments.payment.terminated.v1",
];

/// The signing headers of one delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// `x-ms-date`, RFC 1123 (`Thu, 30 Mar 2023 08:38:32 GMT`).
    pub date: String,
    /// `x-ms-content-sha256`: base64 of the body's SHA-256.
    pub content_sha256: String,
    /// `Authorization`.
    pub authorization: String,
}

/// Base64 of the SHA-256 of `body`.
pub fn content_hash(body: &[u8]) -> String {
    STANDARD.encode(Sha256::digest(body))
}

/// Signs a `POST` of `body` to `path_and_query` on `host` (the `Host` header's value) at
/// `date`, with the registration's secret taken as its UTF-8 bytes (it is not base64-decoded).
pub fn sign(secret: &str, host: &str, path_and_query: &str, date: &str, body: &[u8]) -> Signature {
    let content_sha256 = content_hash(body);
    let to_sign = format!("POST\n{path_and_query}\n{date};{host};{content_sha256}");
    let mac = STANDARD.encode(hmac_sha256(secret.as_bytes(), to_sign.as_bytes()));
    Signature {
        date: date.to_string(),
        content_sha256,
        authorization: format!(
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={mac}"
        ),
    }
}

/// HMAC (RFC 2104) over SHA-256.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The worked example of the Webhooks API's request-authentication guide.
    #[test]
    fn signs_the_documented_example() {
        let secret =
            "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A==";
        let body = br#"{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}"#;
        let signed = sign(
            secret,
            "webhook.site",
            "/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",
            "Thu, 30 Mar 2023 08:38:32 GMT",
            body,
        );
        assert_eq!(
            signed.content_sha256,
            "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="
        );
        assert_eq!(
            signed.authorization,
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="
        );
    }

    #[test]
    fn event_types_follow_event_names() {
        assert_eq!(
            payment_event_type(&EventName::Authorized),
            "epayments.payment.authorized.v1"
        );
        assert_eq!(payment_event_type(&EventName::Terminated), PAYMENT_EVENT_TYPES[7]);
    }
}
