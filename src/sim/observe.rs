//! Pending faults, call counts and the request log of every MobilePay endpoint: what the
//! control API sets and reads, and what the [`intercept`](super::intercept) middleware applies
//! and fills. It holds data only, so that the shared context can own it without depending on
//! the middleware that uses the context.

use super::invoice::paths as invoice;
use super::oidc::paths as oidc;
use super::subscriptions::paths as subs;
use crate::backends::{epayment::model::headers as ep, pos_v10::model::headers as v10};
use axum::http::Method;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

/// Every MobilePay endpoint by method and route, with the name faults and counts use.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("POST", "/integrator-authentication/connect/token", "token"),
    ("GET", "/pos/v10/stores", "listStores"),
    ("GET", "/pos/v10/stores/detailed", "listStoresDetailed"),
    ("GET", "/pos/v10/stores/{store_id}", "getStore"),
    ("POST", "/pos/v10/pointofsales", "createPos"),
    ("GET", "/pos/v10/pointofsales", "findPos"),
    ("GET", "/pos/v10/pointofsales/{pos_id}", "getPos"),
    ("DELETE", "/pos/v10/pointofsales/{pos_id}", "deletePos"),
    ("GET", "/pos/v10/pointofsales/{pos_id}/checkin", "getCheckin"),
    ("POST", "/pos/v10/payments", "initiatePayment"),
    ("POST", "/pos/v10/payments/prepare", "preparePayment"),
    ("POST", "/pos/v10/payments/{payment_id}/ready", "readyPayment"),
    ("GET", "/pos/v10/payments/{payment_id}", "getPayment"),
    ("GET", "/pos/v10/payments", "findPayments"),
    ("POST", "/pos/v10/payments/{payment_id}/capture", "capturePayment"),
    ("POST", "/pos/v10/payments/{payment_id}/cancel", "cancelPayment"),
    ("POST", "/pos/v10/refunds", "createRefund"),
    ("GET", "/pos/v10/refunds/{refund_id}", "getRefund"),
    ("GET", "/pos/v10/refunds", "findRefunds"),
    ("POST", "/pos/v10/refunds/{refund_id}/capture", "captureRefund"),
    ("POST", "/pos/v10/refunds/{refund_id}/cancel", "cancelRefund"),
    ("POST", "/pos/app/usersimulation/checkin", "userCheckin"),
    (
        "POST",
        "/pos/app/usersimulation/acceptpayment",
        "userAcceptPayment",
    ),
    (
        "POST",
        "/pos/app/usersimulation/cancelpaymentbyuser",
        "userCancelPayment",
    ),
    ("POST", "/accesstoken/get", "epAccessToken"),
    ("POST", "/epayment/v1/payments", "epCreatePayment"),
    ("GET", "/epayment/v1/payments/{reference}", "epGetPayment"),
    ("GET", "/epayment/v1/payments/{reference}/events", "epGetEvents"),
    ("POST", "/epayment/v1/payments/{reference}/capture", "epCapture"),
    ("POST", "/epayment/v1/payments/{reference}/cancel", "epCancel"),
    ("POST", "/epayment/v1/payments/{reference}/refund", "epRefund"),
    (
        "POST",
        "/epayment/v1/test/payments/{reference}/approve",
        "epForceApprove",
    ),
    ("GET", "/qr-image/v1", "epQrImage"),
    ("POST", "/webhooks/v1/webhooks", "epRegisterWebhook"),
    ("GET", "/webhooks/v1/webhooks", "epListWebhooks"),
    ("DELETE", "/webhooks/v1/webhooks/{id}", "epDeleteWebhook"),
    ("GET", "/qr/v1/merchant-callback", "epQrListCallbacks"),
    ("PUT", "/qr/v1/merchant-callback/{id}", "epQrPutCallback"),
    ("GET", "/qr/v1/merchant-callback/{id}", "epQrGetCallback"),
    ("DELETE", "/qr/v1/merchant-callback/{id}", "epQrDeleteCallback"),
    (
        "PUT",
        "/qr/v1/merchant-callback/mobilepay/{id}",
        "epQrPutMobilePayCallback",
    ),
    ("GET", oidc::DISCOVERY, "oidcDiscovery"),
    ("GET", oidc::ACCOUNT_DISCOVERY, "oidcDiscovery"),
    ("GET", oidc::JWKS, "oidcJwks"),
    ("GET", oidc::AUTHORIZE, "oidcAuthorize"),
    ("GET", oidc::END_SESSION, "oidcEndSession"),
    ("POST", oidc::TOKEN, "oidcToken"),
    ("POST", oidc::INTROSPECT, "oidcIntrospect"),
    ("GET", invoice::ME, "invoiceMerchantMe"),
    ("GET", invoice::ISSUERS, "invoiceListIssuers"),
    ("POST", invoice::CREATE, "invoiceCreate"),
    ("POST", invoice::CREATE_LINK, "invoiceCreateLink"),
    ("GET", invoice::INVOICE, "invoiceGet"),
    ("GET", invoice::STATUS, "invoiceGetStatus"),
    ("PUT", invoice::CANCEL, "invoiceCancel"),
    ("PUT", invoice::USER_ACCEPT, "invoiceUserAccept"),
    ("PUT", invoice::USER_REJECT, "invoiceUserReject"),
    ("GET", invoice::LANDING, "invoiceLandingPage"),
    ("GET", subs::ME, "subscriptionsMerchantMe"),
    ("GET", subs::PROVIDER, "subscriptionsGetProvider"),
    ("PATCH", subs::PROVIDER, "subscriptionsPatchProvider"),
    ("POST", subs::AGREEMENTS, "subscriptionsCreateAgreement"),
    ("GET", subs::AGREEMENTS, "subscriptionsListAgreements"),
    ("GET", subs::AGREEMENT, "subscriptionsGetAgreement"),
    ("DELETE", subs::AGREEMENT, "subscriptionsCancelAgreement"),
    ("GET", subs::ONE_OFFS, "subscriptionsListOneOffs"),
    ("POST", subs::ONE_OFFS, "subscriptionsCreateOneOff"),
    ("GET", subs::ONE_OFF, "subscriptionsGetOneOff"),
    ("DELETE", subs::ONE_OFF, "subscriptionsCancelOneOff"),
    ("POST", subs::CAPTURE, "subscriptionsCaptureOneOff"),
    ("GET", subs::REFUNDS, "subscriptionsListRefunds"),
    ("POST", subs::REFUNDS, "subscriptionsCreateRefund"),
    ("PATCH", subs::USER_AGREEMENT, "subscriptionsUserAnswerAgreement"),
    ("PATCH", subs::USER_CANCEL, "subscriptionsUserCancelAgreement"),
    ("PATCH", subs::USER_ONE_OFF, "subscriptionsUserAnswerOneOff"),
    ("GET", subs::LANDING, "subscriptionsLandingPage"),
];

/// ePayment endpoints answer faults in their own error format.
pub fn is_epayment(endpoint: &str) -> bool {
    endpoint.starts_with("ep")
}

/// So do the OIDC provider's (RFC 6749 error JSON).
pub fn is_oidc(endpoint: &str) -> bool {
    endpoint.starts_with("oidc")
}

/// And the Invoice API's (snake_case error body, vague 401).
pub fn is_invoice(endpoint: &str) -> bool {
    endpoint.starts_with("invoice")
}

/// And the Subscriptions API's (its error body, its refund endpoints' own one, vague 401).
pub fn is_subscriptions(endpoint: &str) -> bool {
    endpoint.starts_with("subscriptions")
}

pub fn endpoint_name(method: &Method, route: &str) -> Option<&'static str> {
    ENDPOINTS
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
        .map(|(_, _, name)| *name)
}

pub fn is_endpoint(name: &str) -> bool {
    ENDPOINTS.iter().any(|(_, _, n)| *n == name)
}

/// Request headers whose values the log keeps: what the APIs' header rules are about (which
/// system calls, for which merchant or sales unit), so that a test can check a client sends
/// them.
pub const LOGGED_HEADERS: &[&str] = &[
    ep::MSN,
    ep::SYSTEM_NAME,
    ep::SYSTEM_VERSION,
    ep::SYSTEM_PLUGIN_NAME,
    ep::SYSTEM_PLUGIN_VERSION,
    v10::CLIENT_NAME,
    v10::CLIENT_VERSION,
    v10::MERCHANT_VAT,
];

/// Request headers that carry keys, ids or tokens: the log says that they were sent, never
/// what they held, so that the control API cannot leak a client's secrets.
pub const SECRET_HEADERS: &[&str] = &[
    "Authorization",
    ep::SUBSCRIPTION_KEY,
    ep::CLIENT_ID,
    ep::CLIENT_SECRET,
    v10::CLIENT_ID,
    v10::CLIENT_SECRET,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultMode {
    Delay,
    ServerError,
    CommitThenDrop,
    /// The call takes effect, then a 500 replaces its answer.
    CommitThenServerError,
    Unauthorized,
    /// 423: ePayment's answer to a change while the customer is approving the payment.
    Locked,
    /// 429, with `Retry-After` as the fault gives it (seconds or an HTTP date), or without.
    RateLimited,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    pub endpoint: String,
    pub mode: FaultMode,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `Retry-After` of a `rateLimited` answer, sent as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub endpoint: &'static str,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
    /// The [`LOGGED_HEADERS`] the request had, with their values.
    pub headers: BTreeMap<&'static str, String>,
    /// The [`SECRET_HEADERS`] the request had, without their values.
    pub secret_headers: Vec<&'static str>,
    pub fault: Option<FaultMode>,
    pub at: String,
}

const LOG_CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Observer {
    faults: Mutex<Vec<FaultSpec>>,
    counts: Mutex<HashMap<&'static str, u64>>,
    log: Mutex<VecDeque<LogEntry>>,
}

impl Observer {
    pub fn add_fault(&self, spec: FaultSpec) {
        lock(&self.faults).push(spec);
    }

    pub fn faults(&self) -> Vec<FaultSpec> {
        lock(&self.faults).clone()
    }

    pub fn clear(&self) {
        lock(&self.faults).clear();
        lock(&self.counts).clear();
        lock(&self.log).clear();
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Takes one use of the oldest pending fault for `endpoint`.
    pub fn take_fault(&self, endpoint: &str) -> Option<FaultSpec> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| f.endpoint == endpoint)?;
        let spec = faults[index].clone();
        if faults[index].count <= 1 {
            faults.remove(index);
        } else {
            faults[index].count -= 1;
        }
        Some(spec)
    }

    pub fn record(&self, entry: LogEntry) {
        *lock(&self.counts).entry(entry.endpoint).or_default() += 1;
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.counts).iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.log).iter().cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
