//! Agreements in the engine's own words: a customer signs up at the counter to a membership or
//! subscription by scanning its QR code, optionally paying a first amount at once.
//!
//! A backend that makes agreements (MobilePay Subscriptions v1 today; the Recurring API could
//! serve later) implements [`Agreements`] and says in [`AgreementRules`] how the engine finds an
//! agreement whose create answer was lost, because neither v1 create nor its refunds carry an
//! idempotency key (docs/engine.md, "Agreements").

use super::backend::{BackendError, CorrelationId};
use crate::money::{Currency, Minor};
use std::future::Future;

/// A first payment taken with the sign-up: reserved when the customer accepts the agreement,
/// captured by the engine at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstPayment {
    pub amount: Minor,
    /// Shown to the customer with the amount.
    pub description: String,
}

/// A new agreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAgreement {
    /// The engine's own name for this agreement, derived from the command's key. A backend
    /// puts it where the API keeps the client's reference (Subscriptions v1: `external_id`),
    /// so [`Agreements::find_agreement`] finds the agreement a lost answer made.
    pub reference: String,
    /// The plan's name, shown to the customer ("Basic", "Premium").
    pub plan: String,
    pub description: Option<String>,
    /// The recurring price shown to the customer; `None` for a variable amount.
    pub price: Option<Minor>,
    pub currency: Currency,
    /// How many payments a year (1, 2, 4, 12, 26, 52 or 365); `None` for a flexible schedule.
    pub payments_per_year: Option<u32>,
    /// The customer's phone number (country code and number, digits only), to fill in the
    /// landing page when the customer opens the link on another device.
    pub phone: Option<String>,
    pub first_payment: Option<FirstPayment>,
    /// How long the customer has to accept, in minutes.
    pub expires_after_minutes: u32,
}

/// A created agreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedAgreement {
    pub agreement_id: String,
    /// What the customer scans to accept.
    pub link: String,
    /// The first payment's id, when the agreement has one.
    pub first_payment_id: Option<String>,
}

/// How far an agreement has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgreementState {
    /// Waiting for the customer to accept.
    Pending,
    /// The customer accepted: the agreement runs.
    Active,
    /// The customer rejected it.
    Rejected,
    /// Nobody accepted it in time.
    Expired,
    /// Cancelled by the merchant (ours or another system's request) or by the customer.
    Cancelled,
    /// A state this engine does not understand; it keeps asking, as for a failed request.
    Unrecognised(String),
}

/// How far the first payment has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FirstPaymentState {
    /// Waiting for the customer.
    Pending,
    /// The amount is reserved: the engine captures it.
    Reserved,
    Captured,
    Rejected,
    Expired,
    Cancelled,
    Unrecognised(String),
}

/// An agreement as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreementInfo {
    pub agreement_id: String,
    pub state: AgreementState,
    /// The first payment, when the agreement has one.
    pub first_payment: Option<FirstPaymentInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirstPaymentInfo {
    pub payment_id: String,
    pub state: FirstPaymentState,
    pub amount: Minor,
}

/// A refund of (part of) an agreement's captured first payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAgreementRefund {
    pub agreement_id: String,
    pub payment_id: String,
    pub amount: Minor,
    pub currency: Currency,
    /// The engine's own name for this refund, derived from the refund command's key: the
    /// backend puts it where the API keeps the client's reference (v1: `external_id`), so
    /// [`Agreements::find_refund`] finds a refund a lost answer made.
    pub reference: String,
}

/// How a backend lets the engine recover a create whose answer was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgreementReplay {
    /// Creates carry an idempotency key: a repeat answers with what the first request made.
    Idempotent,
    /// No idempotency key and no duplicate check (a repeat makes a second agreement, a second
    /// reservation, a second refund): before any repeat the engine looks for what a lost
    /// request made, by its reference (MobilePay Subscriptions v1).
    FindByReference,
}

/// What a backend's agreements can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgreementRules {
    pub create_replay: AgreementReplay,
    /// Most reads per minute of one agreement.
    pub polls_per_minute: u32,
}

/// A backend that makes agreements. Every call names the command it belongs to
/// (`correlation`).
pub trait Agreements: Send + Sync + 'static {
    fn rules(&self) -> AgreementRules;

    /// Creates an agreement waiting for the customer (with its first payment, if any).
    fn create_agreement(
        &self,
        correlation: CorrelationId,
        agreement: &NewAgreement,
    ) -> impl Future<Output = Result<CreatedAgreement, BackendError>> + Send;

    /// The agreement a request with `reference` made, if any (only with
    /// [`AgreementReplay::FindByReference`]).
    fn find_agreement(
        &self,
        correlation: CorrelationId,
        reference: &str,
    ) -> impl Future<Output = Result<Option<CreatedAgreement>, BackendError>> + Send;

    /// Reads an agreement and its first payment.
    fn agreement(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
    ) -> impl Future<Output = Result<AgreementInfo, BackendError>> + Send;

    /// Captures the reserved first payment in full.
    fn capture_first_payment(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
        payment_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Cancels an agreement (pending or active) and a reserved first payment with it.
    fn cancel_agreement(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Refunds (part of) a captured first payment; returns the refund's id.
    fn refund(
        &self,
        correlation: CorrelationId,
        refund: &NewAgreementRefund,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// The refund a request with `reference` made, if any: its id.
    fn find_refund(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
        payment_id: &str,
        reference: &str,
    ) -> impl Future<Output = Result<Option<String>, BackendError>> + Send;
}

/// The [`Agreements`] of a backend that makes none. It has no values, so such a backend's
/// [`super::backend::Backend::agreements`] can only answer `None`.
#[derive(Debug)]
pub enum NoAgreements {}

impl Agreements for NoAgreements {
    fn rules(&self) -> AgreementRules {
        match *self {}
    }

    async fn create_agreement(
        &self,
        _: CorrelationId,
        _: &NewAgreement,
    ) -> Result<CreatedAgreement, BackendError> {
        match *self {}
    }

    async fn find_agreement(
        &self,
        _: CorrelationId,
        _: &str,
    ) -> Result<Option<CreatedAgreement>, BackendError> {
        match *self {}
    }

    async fn agreement(&self, _: CorrelationId, _: &str) -> Result<AgreementInfo, BackendError> {
        match *self {}
    }

    async fn capture_first_payment(&self, _: CorrelationId, _: &str, _: &str) -> Result<(), BackendError> {
        match *self {}
    }

    async fn cancel_agreement(&self, _: CorrelationId, _: &str) -> Result<(), BackendError> {
        match *self {}
    }

    async fn refund(&self, _: CorrelationId, _: &NewAgreementRefund) -> Result<String, BackendError> {
        match *self {}
    }

    async fn find_refund(
        &self,
        _: CorrelationId,
        _: &str,
        _: &str,
        _: &str,
    ) -> Result<Option<String>, BackendError> {
        match *self {}
    }
}
