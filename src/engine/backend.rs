//! The one narrow door from the engine to a payment backend.
//!
//! The engine speaks in its own terms here (integer minor units, MobilePay statuses, typed
//! errors), so the PoS V10 client plugs in through a thin adapter and another backend (e.g.
//! the Vipps MobilePay ePayment API) could be added without touching the flows.

use crate::backends::pos_v10::model::{PaymentStatus, PlannedCaptureDelay, RefundStatus, Restrictions};
pub use crate::correlation::CorrelationId;
use crate::money::{Currency, Minor};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// How a backend request failed, sorted by what the engine can conclude from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// 409: the request conflicts with the resource's state; `code` is MobilePay's error code
    /// (e.g. `1301`). Nothing changed.
    #[error("conflict {code}: {message}")]
    Conflict { code: String, message: String },
    /// 400: the request was refused as invalid; `code` is MobilePay's error code. Nothing
    /// changed.
    #[error("bad request {code}: {message}")]
    BadRequest { code: String, message: String },
    /// 404: the resource does not exist (or is not visible to us).
    #[error("not found")]
    NotFound,
    /// 403: the resource belongs to another integrator or merchant.
    #[error("forbidden {code}")]
    Forbidden { code: String },
    /// 401 even after a fresh token: credentials are refused. Nothing changed.
    #[error("unauthorized")]
    Unauthorized,
    /// 5xx: the backend failed. Per the reference nothing changed, but the engine treats it
    /// like a missing answer for anything that creates or moves money.
    #[error("server error {code}")]
    Server { code: String },
    /// No answer (timeout, connection lost): the request may or may not have taken effect.
    #[error("no answer from the backend")]
    NoAnswer,
}

impl BackendError {
    /// Whether the same request may succeed later without change (network, server, token).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BackendError::NoAnswer | BackendError::Server { .. } | BackendError::Unauthorized
        )
    }

    /// The MobilePay code of a 409 answer.
    pub fn conflict_code(&self) -> Option<&str> {
        match self {
            BackendError::Conflict { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A new payment (initiate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPayment {
    pub pos_id: String,
    pub order_id: String,
    pub amount: Minor,
    pub currency: Currency,
    pub restrictions: Option<Restrictions>,
    pub label: Option<String>,
    pub planned_capture_delay: PlannedCaptureDelay,
}

/// The amount and terms given to a prepared payment (ready).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyPayment {
    pub amount: Minor,
    pub currency: Currency,
    pub restrictions: Option<Restrictions>,
    pub label: Option<String>,
    pub planned_capture_delay: PlannedCaptureDelay,
}

/// A new refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRefund {
    pub payment_id: String,
    pub refund_order_id: String,
    pub amount: Minor,
    pub currency: Currency,
}

/// A payment as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentInfo {
    pub payment_id: String,
    pub pos_id: String,
    pub order_id: String,
    pub status: PaymentStatus,
    /// `None` for a prepared payment without amount (and for an amount that is not a valid
    /// minor amount, which the adapter reports as missing rather than guessing).
    pub amount: Option<Minor>,
    pub currency: Option<Currency>,
    /// `None` = not looked up yet (poll again); empty = looked up, none.
    pub loyalty_ids: Option<Vec<String>>,
    pub customer_token: Option<String>,
    /// `None` = not looked up yet; empty = the customer has none.
    pub customer_receipt_token: Option<String>,
    pub partial_capture_possible: Option<bool>,
    pub poll_delay_ms: u32,
}

/// A refund as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundInfo {
    pub refund_id: String,
    pub payment_id: String,
    pub refund_order_id: String,
    pub status: RefundStatus,
    pub amount: Option<Minor>,
    pub currency: Currency,
    pub poll_delay_ms: u32,
}

/// A payment backend (MobilePay PoS V10 through our client, or the simulator behind it).
///
/// Every call names the business flow it belongs to (`flow`, MobilePay's `CorrelationId`): all
/// requests of one command carry the same id, so MobilePay support and our logs can follow a
/// payment across retries and restarts.
///
/// Creating calls take the idempotency key the engine made durable before the call; retries
/// pass the same key. Every other call is naturally idempotent at MobilePay.
pub trait Backend: Send + Sync + 'static {
    /// `POST /payments`; returns the payment id.
    fn initiate_payment(
        &self,
        flow: CorrelationId,
        idempotency_key: &str,
        payment: &NewPayment,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// `POST /payments/prepare`; returns the payment id.
    fn prepare_payment(
        &self,
        flow: CorrelationId,
        idempotency_key: &str,
        pos_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// `POST /payments/{id}/ready`.
    fn ready_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
        ready: &ReadyPayment,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// `GET /payments/{id}`.
    fn get_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
    ) -> impl Future<Output = Result<PaymentInfo, BackendError>> + Send;

    /// `GET /payments?posId&orderId[&state=Captured]`: active and reserved payments, or only
    /// captured ones.
    fn find_payments(
        &self,
        flow: CorrelationId,
        pos_id: Option<&str>,
        order_id: Option<&str>,
        captured_only: bool,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// `POST /payments/{id}/capture`.
    fn capture_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
        amount: Minor,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// `POST /payments/{id}/cancel`.
    fn cancel_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// `POST /refunds`; returns the refund id.
    fn create_refund(
        &self,
        flow: CorrelationId,
        idempotency_key: &str,
        refund: &NewRefund,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// `GET /refunds/{id}`.
    fn get_refund(
        &self,
        flow: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<RefundInfo, BackendError>> + Send;

    /// `GET /refunds?paymentId`.
    fn find_refunds(
        &self,
        flow: CorrelationId,
        payment_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// `POST /refunds/{id}/capture`.
    fn capture_refund(
        &self,
        flow: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// `POST /refunds/{id}/cancel`.
    fn cancel_refund(
        &self,
        flow: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}
