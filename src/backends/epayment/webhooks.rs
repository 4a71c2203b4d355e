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

/// The documented `SignedHeaders` of a delivery, in their order.
const SIGNED_HEADERS: &str = "x-ms-date;host;x-ms-content-sha256";

/// Why a delivery is not trusted. None of them carries the secret or a signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    #[error("the header {0} is missing")]
    Missing(&'static str),
    #[error("the Authorization header is not HMAC-SHA256 over x-ms-date;host;x-ms-content-sha256")]
    Scheme,
    #[error("x-ms-content-sha256 is not the SHA-256 of the body")]
    ContentHash,
    #[error("the signature does not match")]
    Signature,
    #[error("x-ms-date is not an RFC 1123 date")]
    Date,
    #[error("x-ms-date is {skew_s} s away from this box's clock (at most {tolerance_s} s allowed)")]
    Stale { skew_s: i64, tolerance_s: u64 },
}

/// Checks a delivery the way the Webhooks API signs it ([`sign`]): the body against
/// `x-ms-content-sha256`, the signature over `host` and `path_and_query` (the registered
/// URL's, as the sender signed them) in constant time, and `x-ms-date` within `tolerance` of
/// `now` (a replayed old delivery is refused).
pub fn verify(
    secret: &str,
    host: &str,
    path_and_query: &str,
    signature: &Signature,
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
    tolerance: std::time::Duration,
) -> Result<(), Untrusted> {
    let mac = signature
        .authorization
        .strip_prefix("HMAC-SHA256 SignedHeaders=")
        .and_then(|rest| rest.strip_prefix(SIGNED_HEADERS))
        .and_then(|rest| rest.strip_prefix("&Signature="))
        .ok_or(Untrusted::Scheme)?;
    let mac = STANDARD.decode(mac.trim()).map_err(|_| Untrusted::Signature)?;
    if content_hash(body) != signature.content_sha256 {
        return Err(Untrusted::ContentHash);
    }
    let to_sign = format!(
        "POST\n{path_and_query}\n{};{host};{}",
        signature.date, signature.content_sha256
    );
    let mut expected =
        <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    expected.update(to_sign.as_bytes());
    expected.verify_slice(&mac).map_err(|_| Untrusted::Signature)?;
    let date = chrono::DateTime::parse_from_rfc2822(&signature.date).map_err(|_| Untrusted::Date)?;
    let skew_s = (now - date.with_timezone(&chrono::Utc)).num_seconds();
    if skew_s.unsigned_abs() > tolerance.as_secs() {
        return Err(Untrusted::Stale {
            skew_s,
            tolerance_s: tolerance.as_secs(),
        });
    }
    Ok(())
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

    fn example() -> (&'static str, &'static [u8], Signature) {
        let secret =
            "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A==";
        let body: &[u8] = br#"{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}"#;
        let signed = sign(
            secret,
            "webhook.site",
            "/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",
            "Thu, 30 Mar 2023 08:38:32 GMT",
            body,
        );
        (secret, body, signed)
    }

    fn at(date: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc2822(date).unwrap().into()
    }

    #[test]
    fn verifies_the_documented_example_and_refuses_any_change() {
        let (secret, body, signed) = example();
        let path = "/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63";
        let now = at("Thu, 30 Mar 2023 08:40:00 GMT");
        let minutes = |m: u64| std::time::Duration::from_secs(m * 60);
        let check = |secret: &str, host: &str, signed: &Signature, body: &[u8]| {
            verify(secret, host, path, signed, body, now, minutes(5))
        };
        assert_eq!(check(secret, "webhook.site", &signed, body), Ok(()));
        assert_eq!(
            check("another secret", "webhook.site", &signed, body),
            Err(Untrusted::Signature)
        );
        assert_eq!(
            check(secret, "other.site", &signed, body),
            Err(Untrusted::Signature)
        );
        assert_eq!(
            check(secret, "webhook.site", &signed, b"{}"),
            Err(Untrusted::ContentHash)
        );
        let mut forged = signed.clone();
        forged.date = "Thu, 30 Mar 2023 08:39:32 GMT".into();
        assert_eq!(
            check(secret, "webhook.site", &forged, body),
            Err(Untrusted::Signature)
        );
        let mut other_scheme = signed.clone();
        other_scheme.authorization = other_scheme.authorization.replace("x-ms-date;host;", "host;");
        assert_eq!(
            check(secret, "webhook.site", &other_scheme, body),
            Err(Untrusted::Scheme)
        );
        assert_eq!(
            verify(
                secret,
                "webhook.site",
                path,
                &signed,
                body,
                at("Thu, 30 Mar 2023 09:00:00 GMT"),
                minutes(5)
            ),
            Err(Untrusted::Stale {
                skew_s: 1288,
                tolerance_s: 300
            })
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
