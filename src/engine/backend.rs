//! The one interface between the engine and a payment backend, in the engine's own words.
//!
//! The engine decides what the money does; a backend (PoS V10 today, in `crate::backends`)
//! translates that into its API and translates the answers back: statuses into
//! [`PaymentState`]/[`RefundState`], refusals into the closed set of [`Refusal`]s. Nothing here
//! names a backend's endpoints, codes or wire types, so a new backend is a sibling folder
//! that implements [`Backend`] and declares its [`Capabilities`]; docs/engine.md says what each
//! method must do.

pub use super::agreements::{Agreements, NoAgreements};
pub use super::invoicing::{Invoicing, NoInvoicing};
pub use crate::correlation::CorrelationId;
use crate::money::{Currency, Minor};
use serde::{Deserialize, Serialize};
use std::future::Future;

/// Why a backend refused a request, in terms the engine acts on. A backend maps each of its
/// error codes to one of these; the engine never sees the code itself (only, for people, the
/// backend's own wording in [`BackendError::Refused`]'s `detail`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Another payment is active on the point of sale.
    PointOfSaleBusy,
    /// The point of sale is not known (deleted, or never registered).
    UnknownPointOfSale,
    /// The merchant's store cannot take payments yet.
    StoreNotActivated,
    /// The payment is not known (or not visible to us).
    UnknownPayment,
    /// The payment cannot be cancelled in its present state.
    NotCancellable,
    /// The payment is not a check-in waiting for its amount.
    NotCheckedIn,
    /// The payment is not reserved, so it cannot be captured.
    NotCapturable,
    /// The amount is above what is left to capture.
    AmountAboveReserved,
    /// Only the whole reserved amount may be captured.
    PartialCaptureNotAllowed,
    /// The payment was already captured with another amount.
    CapturedWithOtherAmount,
    /// The idempotency key was already used for another request.
    KeyReused,
    /// A refund of a payment that was never captured.
    NotCaptured,
    /// The currency differs from the payment's.
    CurrencyMismatch,
    /// The payment is too old to be refunded.
    PaymentTooOld,
    /// The refund is above what is left to refund.
    AmountAboveRefundable,
    /// The merchant's balance cannot cover the refund.
    InsufficientBalance,
    /// The refund is not waiting for confirmation, so it cannot be confirmed or cancelled.
    RefundStateChanged,
    /// The amount is not one the backend accepts.
    InvalidAmount,
    /// The order id is not one the backend accepts.
    InvalidOrderId,
    /// The refund's order id is not one the backend accepts.
    InvalidRefundOrderId,
    /// The label is not one the backend accepts.
    InvalidLabel,
    /// An identical request was already carried out (a create repeated without an idempotency
    /// key); the backend does not say what it made.
    AlreadyExists,
    /// The phone number belongs to nobody who can receive the request (no MobilePay user).
    RecipientUnknown,
    /// The recipient exists but cannot receive the request now.
    RecipientUnavailable,
    /// The recipient has had as many requests from the merchant today as the backend allows.
    DailyLimitReached,
    /// The due date is not one the backend accepts (in the past, or too far ahead).
    InvalidDueDate,
    /// The merchant's product is not set up for this (e.g. no enabled invoice issuer).
    NotSetUp,
    /// Already paid, so it cannot be cancelled.
    AlreadyPaid,
    /// The request conflicts with the payment's state in a way the engine has no rule for.
    StateConflict,
    /// The request was refused as invalid for a reason the engine has no rule for.
    Invalid,
}

/// How a backend request failed, sorted by what the engine can conclude from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// A definitive "no": nothing changed. `detail` is the backend's own wording, for people.
    #[error("{detail}")]
    Refused { reason: Refusal, detail: String },
    /// The resource does not exist (or is not visible to us).
    #[error("not found")]
    NotFound,
    /// The resource belongs to another integrator or merchant.
    #[error("forbidden {detail}")]
    Forbidden { detail: String },
    /// The credentials are refused even after a fresh token. Nothing changed.
    #[error("unauthorized")]
    Unauthorized,
    /// The backend failed. The engine treats it like a missing answer for anything that
    /// creates or moves money.
    #[error("server error {detail}")]
    Server { detail: String },
    /// No answer (timeout, connection lost): the request may or may not have taken effect.
    #[error("no answer from the backend")]
    NoAnswer,
}

impl Refusal {
    /// Whether the request itself was wrong (rather than the payment's state): repeating it
    /// after a re-read cannot help.
    pub fn is_about_the_request(self) -> bool {
        matches!(
            self,
            Refusal::InvalidAmount
                | Refusal::InvalidOrderId
                | Refusal::InvalidRefundOrderId
                | Refusal::InvalidLabel
                | Refusal::CurrencyMismatch
                | Refusal::InvalidDueDate
                | Refusal::Invalid
        )
    }
}

impl BackendError {
    /// Whether the same request may succeed later without change (network, server, token).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BackendError::NoAnswer | BackendError::Server { .. } | BackendError::Unauthorized
        )
    }

    /// The reason of a definitive refusal.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            BackendError::Refused { reason, .. } => Some(*reason),
            _ => None,
        }
    }
}

/// Card types the customer may not pay with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardRestrictions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_card_disallowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_card_disallowed: Option<bool>,
}

/// The terms of a payment's amount, given when it is created or, after a check-in, later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentTerms {
    pub amount: Minor,
    pub currency: Currency,
    pub restrictions: Option<CardRestrictions>,
    pub label: Option<String>,
    /// The reservation is kept for a later capture (instead of captured at once).
    pub keep_reservation: bool,
}

/// How the customer gets a payment onto their phone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum Payer {
    /// The customer scans a code: the one on the customer display, or the printed sticker.
    #[default]
    Scans,
    /// The payment is pushed to this phone number (country code and number, digits only),
    /// typed at the till.
    Phone { number: String },
    /// The payment is pushed to the customer whose personal QR code the till scanned
    /// (`code` is the scanned content, as it is).
    PersonalQr { code: String },
    /// The customer scanned the lane's printed sticker: the payment is pushed to whoever
    /// checked in there last. The command names no customer (the check-in's token is only
    /// good for minutes), so a repeated `pay` with the same id is the same command.
    Sticker,
}

impl Payer {
    pub fn is_scans(&self) -> bool {
        *self == Payer::Scans
    }
}

/// One line of the customer's receipt, sent with the payment where the backend shows receipts
/// in the app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The article's number or code.
    pub id: String,
    pub name: String,
    /// How many; `None` for a line without a count (a service, a weighed article).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The line's total, VAT included.
    pub total: Minor,
    /// The VAT rate in hundredths of a percent (2500 = 25 %).
    pub vat_rate: u16,
}

/// A new payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPayment {
    /// The engine's own name for this payment: stable across retries and restarts, unique per
    /// installation. Backends whose API takes a client-chosen reference use it; backends
    /// that name payments themselves ignore it.
    pub reference: String,
    /// The point of sale the payment starts on (the lane's name for backends without one).
    pub point_of_sale: String,
    pub order_id: String,
    pub terms: PaymentTerms,
    pub payer: Payer,
    /// The receipt's lines; empty for none.
    pub order_lines: Vec<OrderLine>,
}

/// A check-in started before the amount is known (a prepared payment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewCheckIn {
    pub reference: String,
    pub point_of_sale: String,
    pub order_id: String,
}

/// A new refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefund {
    pub payment_id: String,
    pub refund_order_id: String,
    pub amount: Minor,
    pub currency: Currency,
}

/// Which of a point of sale's payments to list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentQuery {
    /// `None`: any point of sale of ours.
    pub point_of_sale: Option<String>,
    pub order_id: Option<String>,
    /// Open payments (waiting, checked in, or reserved), or captured ones.
    pub captured: bool,
}

/// How far a payment has come, in the engine's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentState {
    /// Created and waiting for the customer.
    WaitingForCustomer,
    /// A check-in before the amount: the customer is there, the amount is still to come.
    CheckedIn,
    /// The customer has the payment on the phone.
    CustomerIdentified,
    /// Authorized: the money is reserved; `amounts` say how much of it has moved since.
    Authorized(Amounts),
    /// The customer or the backend said no.
    Declined(Decliner),
    /// Nobody approved it in time.
    Expired,
    /// Cancelled by a merchant request (ours or another system's).
    Cancelled,
    /// A state this engine does not understand; it keeps asking, as for a failed request.
    Unrecognised(String),
}

/// Who declined a payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decliner {
    Customer,
    Backend,
}

/// The amounts of an authorized payment. A backend that only reports "captured" says so with
/// `captured` equal to the amount it knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Amounts {
    pub authorized: Minor,
    pub captured: Minor,
    pub cancelled: Minor,
    pub refunded: Minor,
}

impl PaymentState {
    /// Waiting for the customer in some way: it blocks its point of sale and can be cancelled.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            PaymentState::WaitingForCustomer | PaymentState::CheckedIn | PaymentState::CustomerIdentified
        )
    }

    /// Authorized, nothing captured or released yet.
    pub fn is_reserved(&self) -> bool {
        matches!(self, PaymentState::Authorized(a) if !a.captured.is_positive() && !a.cancelled.is_positive())
    }

    /// Ended: nothing more will happen to it without a refund.
    pub fn is_ended(&self) -> bool {
        match self {
            PaymentState::Authorized(_) => !self.is_reserved(),
            PaymentState::Declined(_) | PaymentState::Expired | PaymentState::Cancelled => true,
            _ => false,
        }
    }
}

impl std::fmt::Display for PaymentState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaymentState::WaitingForCustomer => f.write_str("waiting for the customer"),
            PaymentState::CheckedIn => f.write_str("checked in"),
            PaymentState::CustomerIdentified => f.write_str("with the customer"),
            PaymentState::Authorized(a) if a.captured.is_positive() => f.write_str("captured"),
            PaymentState::Authorized(a) if a.cancelled.is_positive() => f.write_str("released"),
            PaymentState::Authorized(_) => f.write_str("reserved"),
            PaymentState::Declined(Decliner::Customer) => f.write_str("declined by the customer"),
            PaymentState::Declined(Decliner::Backend) => f.write_str("declined"),
            PaymentState::Expired => f.write_str("expired"),
            PaymentState::Cancelled => f.write_str("cancelled"),
            PaymentState::Unrecognised(s) => write!(f, "in an unknown state ({s})"),
        }
    }
}

/// A payment as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentInfo {
    /// The backend's id, opaque to the engine.
    pub payment_id: String,
    pub order_id: String,
    pub state: PaymentState,
    /// `None` before a checked-in payment has its amount (and for an amount the backend did
    /// not give as a valid minor amount: reported as missing rather than guessed).
    pub amount: Option<Minor>,
    pub currency: Option<Currency>,
    /// `None` = not looked up yet (poll again); empty = looked up, none.
    pub loyalty_ids: Option<Vec<String>>,
    pub customer_token: Option<String>,
    /// `None` = not looked up yet; empty = the customer has none.
    pub customer_receipt_token: Option<String>,
    /// Whether less than the reserved amount may be captured, when the backend says.
    pub partial_capture_possible: Option<bool>,
    /// When to ask again, as the backend wants it.
    pub poll_delay_ms: u32,
    /// What this payment's customer is shown, for backends that draw a prompt per payment
    /// (`None`: the point of sale's own prompt).
    pub prompt: Option<CustomerPrompt>,
}

/// How far a refund has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundState {
    /// Asked for; the backend has not decided yet.
    Pending,
    /// Reserved: waits for our confirmation (or cancel) before it is paid out.
    AwaitingConfirmation,
    /// Paid out to the customer.
    PaidOut,
    /// The backend cancelled it.
    CancelledByBackend,
    /// Cancelled by a merchant request.
    Cancelled,
    /// A state this engine does not understand; it keeps asking.
    Unrecognised(String),
}

/// A refund as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundInfo {
    pub refund_id: String,
    pub payment_id: String,
    pub state: RefundState,
    pub amount: Option<Minor>,
    pub currency: Currency,
    pub poll_delay_ms: u32,
}

/// How a backend handles refunds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundModel {
    /// A refund is a resource of its own: created, followed, then confirmed (or cancelled)
    /// before it is paid out.
    Resource,
    /// A refund is a change to the payment: once accepted it is done.
    Modification,
}

/// How a backend tells whether less than the reserved amount may be captured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartialCapture {
    /// The reserved payment says so ([`PaymentInfo::partial_capture_possible`]).
    Announced,
    /// Only a capture refused with [`Refusal::PartialCaptureNotAllowed`] tells.
    OnlyFromRefusal,
}

/// What a backend can do, and the limits it sets. The engine chooses its flows from these, so
/// a backend never has to pretend to have a feature it lacks.
///
/// [`Capabilities::ALL`] is a backend with every feature the engine can use; a backend turns
/// off what it lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Whether a customer can check in before the amount is known (prepare, then ready).
    pub check_in_before_amount: bool,
    /// Whether a point of sale's open payments can be listed (to find our own payment when its
    /// create key is too old to replay, and to clear stale payments off a busy point of sale).
    pub lists_open_payments: bool,
    pub refunds: RefundModel,
    pub partial_capture: PartialCapture,
    /// Most status polls per minute for one payment (`None`: the backend paces polls itself).
    pub polls_per_minute: Option<u32>,
    /// How long an uncaptured reservation lives at the backend: its capture deadline. The
    /// backend cancels it afterwards, so the reconciler warns a person well before.
    pub reservation_lifetime_ms: u64,
    /// Whether payments start on a point of sale registered at the backend.
    pub point_of_sale_registered: bool,
    /// Whether the backend names a payment by [`NewPayment::reference`] (its payment id *is* the
    /// reference) and never lets two payments share one. Then a create repeated at any age is
    /// safe, and a create refused because the reference exists found our own payment.
    pub payment_named_by_reference: bool,
    /// Whether a payment can be pushed to the customer's phone ([`Payer::Phone`],
    /// [`Payer::PersonalQr`], [`Payer::Sticker`]) instead of being scanned.
    pub pushes_to_customer: bool,
    /// Whether a payment can refuse debit or credit cards ([`CardRestrictions`]).
    pub restricts_cards: bool,
}

impl Capabilities {
    /// Every feature the engine can use, no poll limit of the backend's own, reservations kept
    /// 7 days, payments named by the backend (the reference is not their id).
    pub const ALL: Capabilities = Capabilities {
        check_in_before_amount: true,
        lists_open_payments: true,
        refunds: RefundModel::Resource,
        partial_capture: PartialCapture::Announced,
        polls_per_minute: None,
        reservation_lifetime_ms: 7 * 24 * 3600 * 1000,
        point_of_sale_registered: true,
        payment_named_by_reference: false,
        pushes_to_customer: true,
        restricts_cards: true,
    };
}

/// What the customer is shown to start paying.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CustomerPrompt {
    /// A QR code to draw (`content`), printed on the sticker `sticker_id` as well when there is
    /// one (the cashier can point to it).
    Qr {
        content: String,
        sticker_id: Option<String>,
    },
    /// A QR image the backend draws, to fetch from `url`.
    QrImage { url: String },
    /// A request was pushed to the customer's phone.
    PushSent,
}

impl CustomerPrompt {
    /// The printed sticker's id, if the customer can scan one.
    pub fn sticker_id(&self) -> Option<&str> {
        match self {
            CustomerPrompt::Qr { sticker_id, .. } => sticker_id.as_deref(),
            _ => None,
        }
    }
}

/// A payment backend.
///
/// Every call names the command it belongs to (`correlation`): all requests of one command
/// carry the same id, so the backend's support and our logs can follow a payment across retries
/// and restarts. Creating calls take the idempotency key the engine made durable before the
/// call; retries pass the same key. Every other call must be naturally idempotent.
pub trait Backend: Send + Sync + 'static {
    /// The invoices this backend issues beside its payments ([`NoInvoicing`] for none).
    type Invoicing: Invoicing;

    /// The agreements this backend makes beside its payments ([`NoAgreements`] for none).
    type Agreements: Agreements;

    /// What this backend can do; constant for its lifetime.
    fn capabilities(&self) -> &Capabilities;

    /// The lane's invoices, when the merchant's invoice product is configured for it.
    fn invoicing(&self) -> Option<&Self::Invoicing>;

    /// The lane's agreements, when the merchant's subscription product is configured for it.
    fn agreements(&self) -> Option<&Self::Agreements>;

    /// Creates a payment; returns its id.
    fn create_payment(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        payment: &NewPayment,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Starts a check-in before the amount is known; returns the payment's id. Only called
    /// when [`Capabilities::check_in_before_amount`].
    fn check_in(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        check_in: &NewCheckIn,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Gives a checked-in payment its amount and terms.
    fn set_terms(
        &self,
        correlation: CorrelationId,
        payment_id: &str,
        terms: &PaymentTerms,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Reads a payment.
    fn payment(
        &self,
        correlation: CorrelationId,
        payment_id: &str,
    ) -> impl Future<Output = Result<PaymentInfo, BackendError>> + Send;

    /// Lists payment ids. Only called when [`Capabilities::lists_open_payments`].
    fn find_payments(
        &self,
        correlation: CorrelationId,
        query: &PaymentQuery,
    ) -> impl Future<Output = Result<Vec<String>, BackendError>> + Send;

    /// Captures `amount` of a reserved payment. `idempotency_key` is the same for every repeat
    /// of this one capture (and differs between two captures of one payment).
    fn capture(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        payment_id: &str,
        amount: Minor,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Cancels a payment (before approval), or releases its reservation. `idempotency_key` is
    /// the same for every repeat of this one cancel.
    fn cancel(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        payment_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Refunds part or all of a captured payment; returns the refund's id. With
    /// [`RefundModel::Modification`] success means refunded.
    fn refund(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        refund: &NewRefund,
    ) -> impl Future<Output = Result<String, BackendError>> + Send;

    /// Reads a refund ([`RefundModel::Resource`] only).
    fn refund_status(
        &self,
        correlation: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<RefundInfo, BackendError>> + Send;

    /// Confirms a refund awaiting confirmation, so it is paid out ([`RefundModel::Resource`]).
    fn confirm_refund(
        &self,
        correlation: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;

    /// Cancels a refund awaiting confirmation ([`RefundModel::Resource`]).
    fn cancel_refund(
        &self,
        correlation: CorrelationId,
        refund_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}
