//! The ePayment API's JSON, spelled as on the wire, for both sides of it: the simulator reads
//! requests and writes answers with these types, the client the other way round.
//!
//! Enumerations keep values they do not know ([`State::Other`] …): the API adds states and
//! event names over time, and an answer must not become unreadable because of one. Requests
//! are not strict about unknown fields either: the reference does not say the API refuses them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Header names of the ePayment API and its access-token endpoint.
pub mod headers {
    pub const CLIENT_ID: &str = "client_id";
    pub const CLIENT_SECRET: &str = "client_secret";
    pub const SUBSCRIPTION_KEY: &str = "Ocp-Apim-Subscription-Key";
    pub const MSN: &str = "Merchant-Serial-Number";
    pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
    pub const SYSTEM_NAME: &str = "Vipps-System-Name";
    pub const SYSTEM_VERSION: &str = "Vipps-System-Version";
    pub const SYSTEM_PLUGIN_NAME: &str = "Vipps-System-Plugin-Name";
    pub const SYSTEM_PLUGIN_VERSION: &str = "Vipps-System-Plugin-Version";
    /// The four `Vipps-System-*` headers, each at most [`MAX_SYSTEM_HEADER`] characters.
    pub const SYSTEM: [&str; 4] = [
        SYSTEM_NAME,
        SYSTEM_VERSION,
        SYSTEM_PLUGIN_NAME,
        SYSTEM_PLUGIN_VERSION,
    ];
    pub const MAX_SYSTEM_HEADER: usize = 30;
    pub const MAX_IDEMPOTENCY_KEY: usize = 50;
}

/// An enumeration of wire strings that keeps unknown values as `Other`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s,
                }
            }

            /// False for [`Self::Other`].
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($wire => $name::$variant,)+
                    _ => $name::Other(s),
                }
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.as_str().to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// ISO 4217 currencies of the sales units' markets.
    Currency { Nok = "NOK", Dkk = "DKK", Eur = "EUR" }
);

wire_enum!(
    /// How the customer pays inside the app.
    PaymentMethodType { Wallet = "WALLET", Card = "CARD", CardPassthrough = "CARD_PASSTHROUGH" }
);

wire_enum!(
    /// How the payment reaches the customer.
    UserFlow {
        PushMessage = "PUSH_MESSAGE",
        NativeRedirect = "NATIVE_REDIRECT",
        WebRedirect = "WEB_REDIRECT",
        Qr = "QR",
    }
);

wire_enum!(
    /// Whether the customer stands at the till (in-store payments must say so).
    CustomerInteraction { Present = "CUSTOMER_PRESENT", NotPresent = "CUSTOMER_NOT_PRESENT" }
);

wire_enum!(
    /// What `redirectUrl` of a `QR` payment points at.
    QrImageFormat { TargetUrl = "TEXT/TARGETURL", Svg = "IMAGE/SVG+XML", Png = "IMAGE/PNG" }
);

wire_enum!(
    /// The payment's state. All but `CREATED` are final; captures, cancellations and refunds
    /// of an authorized payment move its [`Aggregate`], never its state.
    State {
        Created = "CREATED",
        Authorized = "AUTHORIZED",
        Aborted = "ABORTED",
        Expired = "EXPIRED",
        Terminated = "TERMINATED",
    }
);

wire_enum!(
    /// The name of an entry in a payment's event log.
    EventName {
        Created = "CREATED",
        Aborted = "ABORTED",
        Expired = "EXPIRED",
        Cancelled = "CANCELLED",
        Captured = "CAPTURED",
        Refunded = "REFUNDED",
        Authorized = "AUTHORIZED",
        Terminated = "TERMINATED",
    }
);

/// An amount in minor units (øre, cents).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub currency: Currency,
    pub value: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethod {
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_sources: Option<Vec<String>>,
}

/// Who pays: at most one of the three is given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    /// MSISDN with country code and no `+`, e.g. `4512345678`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The complete content of the customer's scanned personal QR code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_qr: Option<String>,
    /// From a `user.checked-in.v1` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QrFormat {
    pub format: QrImageFormat,
    /// Pixels per side of a PNG image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRequest {
    pub scope: String,
}

/// `POST /epayment/v1/payments`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentRequest {
    pub amount: Amount,
    pub payment_method: PaymentMethod,
    pub reference: String,
    pub user_flow: UserFlow,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_interaction: Option<CustomerInteraction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_format: Option<QrFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Order lines and bottom line in the Order Management schema, passed on as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_user_age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry_data: Option<serde_json::Value>,
}

/// 201 answer to a create.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePaymentResponse {
    pub reference: String,
    /// Landing page, app link, QR image or QR target; absent for `PUSH_MESSAGE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
}

/// What happened to the money so far, each in the payment's currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregate {
    pub authorized_amount: Amount,
    pub cancelled_amount: Amount,
    pub captured_amount: Amount,
    pub refunded_amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentMethodResponse {
    #[serde(rename = "type")]
    pub kind: PaymentMethodType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_bin: Option<String>,
}

/// `{}` unless profile scopes were asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// `GET /epayment/v1/payments/{reference}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetPaymentResponse {
    pub aggregate: Aggregate,
    pub amount: Amount,
    pub state: State,
    pub payment_method: PaymentMethodResponse,
    pub profile: ProfileResponse,
    /// The `CREATED` event's PSP reference; every later event has its own.
    pub psp_reference: String,
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_details: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_guaranteed_until: Option<String>,
}

/// Body of capture and refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationRequest {
    pub modification_amount: Amount,
}

/// Body of cancel. Clients always send it (some API versions refuse an empty body).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    /// `true`: only cancel if not yet authorized, never release an authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_transaction_only: Option<bool>,
}

/// Body of the test environment's force-approve.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForceApproveRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The `token` query parameter of the payment's `redirectUrl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// 200 answer to capture, cancel and refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationResponse {
    pub amount: Amount,
    pub state: State,
    pub aggregate: Aggregate,
    pub psp_reference: String,
    pub reference: String,
}

/// One entry of `GET …/{reference}/events`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentEvent {
    pub reference: String,
    pub psp_reference: String,
    pub name: EventName,
    pub amount: Amount,
    /// RFC 3339; the number of fractional digits varies between events.
    pub timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    pub success: bool,
}

/// An RFC 7807 `application/problem+json` error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_details: Option<Vec<ExtraDetail>>,
}

/// `{name:"ErrorCode", reason:"6080"}` for domain errors, a field name and what is wrong with
/// it for schema errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraDetail {
    pub name: String,
    pub reason: String,
}

/// The name of the [`ExtraDetail`] carrying a domain error code.
pub const ERROR_CODE: &str = "ErrorCode";

impl Problem {
    /// The numeric domain error code, if the problem carries one (branch on it and the HTTP
    /// status, never on the title).
    pub fn error_code(&self) -> Option<&str> {
        self.extra_details
            .as_deref()?
            .iter()
            .find(|d| d.name == ERROR_CODE)
            .map(|d| d.reason.as_str())
    }
}

/// `POST /accesstoken/get`. Its numbers are JSON strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenResponse {
    pub token_type: String,
    pub expires_in: String,
    pub ext_expires_in: String,
    pub expires_on: String,
    pub not_before: String,
    pub resource: String,
    pub access_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_enum_values_are_kept() {
        let event: PaymentEvent = serde_json::from_value(json!({
            "reference": "ref-00001", "pspReference": "1304787731", "name": "SETTLED",
            "amount": {"currency": "DKK", "value": 100}, "timestamp": "2023-10-10T09:59:59.378Z",
            "success": true
        }))
        .unwrap();
        assert_eq!(event.name, EventName::Other("SETTLED".into()));
        assert!(!event.name.is_known());
        assert_eq!(serde_json::to_value(&event).unwrap()["name"], json!("SETTLED"));
        assert_eq!(State::from("AUTHORIZED".to_string()), State::Authorized);
    }

    #[test]
    fn problem_gives_its_error_code() {
        let p: Problem = serde_json::from_value(json!({
            "type": "https://httpstatuses.io/400", "title": "Bad Request", "status": 400,
            "traceId": "t", "extraDetails": [{"name": "ErrorCode", "reason": "6080"}]
        }))
        .unwrap();
        assert_eq!(p.error_code(), Some("6080"));
    }

    #[test]
    fn create_request_is_spelled_as_on_the_wire() {
        let body = json!({
            "amount": {"currency": "DKK", "value": 1250},
            "paymentMethod": {"type": "WALLET"},
            "reference": "till-1-000042",
            "userFlow": "QR",
            "customerInteraction": "CUSTOMER_PRESENT",
            "qrFormat": {"format": "IMAGE/PNG", "size": 400},
            "customer": {"phoneNumber": "4512345678"}
        });
        let req: CreatePaymentRequest = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(req.qr_format.as_ref().unwrap().format, QrImageFormat::Png);
        assert_eq!(serde_json::to_value(&req).unwrap(), body);
    }
}
