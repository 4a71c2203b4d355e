//! The payment engine's interface: the one surface the cash-register protocol, the customer
//! display and the daemon use.
//!
//! A caller sends a [`Command`] under a [`CommandId`] it chose itself. The id is the key of the
//! engine's journal: sending the same id again never starts a second payment; it returns the
//! stored [`Outcome`] or joins the flow that is still running, and [`EngineHandle::query`]
//! answers for any past command, also after a crash or power cut.
//!
//! While a command runs, its lane (one MobilePay point of sale) emits [`LaneEvent`]s so that a
//! cashier and a customer can watch progress. Every command ends with exactly one final
//! [`EventKind::Finished`] event carrying its outcome.
//!
//! Everything here is plain data with serde support, so the same types are stored in the
//! journal and can be shown or forwarded by any front end.

use super::backend::{CardRestrictions as Restrictions, CustomerPrompt};
use crate::money::{Currency, Minor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Longest command id the engine accepts.
pub const COMMAND_ID_MAX_LEN: usize = 64;

/// A caller-chosen id for one command: 1–64 printable ASCII characters without spaces
/// (`!`..=`~`), so that it survives any line protocol and log line unchanged.
///
/// The caller must choose a fresh id for every new intent (a sale, a capture, a refund) and
/// reuse it only to repeat the same command, e.g. after its own restart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommandId(String);

/// Why a text is not a valid [`CommandId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandIdError {
    #[error("the command id is empty")]
    Empty,
    #[error("the command id is longer than 64 characters")]
    TooLong,
    #[error("the command id may only contain printable ASCII characters without spaces")]
    InvalidCharacter,
}

impl CommandId {
    pub fn new(text: impl Into<String>) -> Result<CommandId, CommandIdError> {
        let text = text.into();
        if text.is_empty() {
            return Err(CommandIdError::Empty);
        }
        if text.len() > COMMAND_ID_MAX_LEN {
            return Err(CommandIdError::TooLong);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CommandIdError::InvalidCharacter);
        }
        Ok(CommandId(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommandId {
    type Error = CommandIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        CommandId::new(text)
    }
}

impl From<CommandId> for String {
    fn from(id: CommandId) -> String {
        id.0
    }
}

impl std::str::FromStr for CommandId {
    type Err = CommandIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CommandId::new(s)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which payment a refund is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSelector {
    /// The payment made by this earlier `Pay` or `Ready` command of this engine.
    Command(CommandId),
    /// The captured payment with this order id, looked up at MobilePay
    /// (`GET /payments?orderId=…&state=Captured`); works for payments whose command the journal
    /// no longer holds.
    OrderId(String),
}

/// What a caller asks the engine to do.
///
/// Order ids, refund order ids and labels follow MobilePay's rules (at most 36 of its valid
/// characters); amounts must be positive. Invalid input is answered with
/// [`Outcome::Rejected`] before anything is stored or sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Take a payment: show the QR code, wait for the customer to approve, then capture the
    /// full amount. With `keep_reservation` the payment stays reserved and a later
    /// [`Command::Capture`] (or [`Command::Cancel`]) finishes it; the reservation lasts at most
    /// 7 days at MobilePay.
    Pay {
        amount: Minor,
        currency: Currency,
        order_id: String,
        keep_reservation: bool,
        restrictions: Option<Restrictions>,
        label: Option<String>,
    },
    /// Start a payment before the total is known, so the customer can check in first and their
    /// loyalty ids and customer tokens can be used to compute the total. Finishes with
    /// [`Outcome::Paired`]; continue with [`Command::Ready`] (or cancel).
    Prepare { order_id: String },
    /// Give the amount to a prepared payment (the `Prepare` command `target`) and finish it
    /// like [`Command::Pay`].
    Ready {
        target: CommandId,
        amount: Minor,
        currency: Currency,
        keep_reservation: bool,
        restrictions: Option<Restrictions>,
        label: Option<String>,
    },
    /// Capture a reservation made by the `Pay`/`Ready` command `target`: the full amount when
    /// `amount` is `None`, or less. A partial capture that MobilePay does not allow for this
    /// payment is answered with [`Outcome::PartialCaptureRefused`] and nothing is captured.
    Capture {
        target: CommandId,
        amount: Option<Minor>,
    },
    /// Cancel what the command `target` started: a payment still waiting for the customer, a
    /// prepared payment, a reservation, or a refund that is not paid out yet.
    Cancel { target: CommandId },
    /// Give money back for a captured payment. Several refunds per payment are allowed as long
    /// as their sum stays within the captured amount.
    Refund {
        payment: PaymentSelector,
        amount: Minor,
        currency: Currency,
        refund_order_id: String,
    },
}

/// The kind of a command, for listings and journal records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Pay,
    Prepare,
    Ready,
    Capture,
    Cancel,
    Refund,
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Pay { .. } => CommandKind::Pay,
            Command::Prepare { .. } => CommandKind::Prepare,
            Command::Ready { .. } => CommandKind::Ready,
            Command::Capture { .. } => CommandKind::Capture,
            Command::Cancel { .. } => CommandKind::Cancel,
            Command::Refund { .. } => CommandKind::Refund,
        }
    }

    /// The cash register's order id, for the commands that create a payment.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Command::Pay { order_id, .. } | Command::Prepare { order_id } => Some(order_id),
            _ => None,
        }
    }
}

/// What the customer's MobilePay app told us about them once they checked in.
///
/// Empty `loyalty_ids` means "looked up, not enrolled"; the engine waits (re-polls) until
/// MobilePay has looked them up before reporting a check-in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInfo {
    pub loyalty_ids: Vec<String>,
    pub customer_token: Option<String>,
    pub customer_receipt_token: Option<String>,
}

/// Why a payment ended without money being taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// The customer declined in the app (`CancelledByUser`).
    CancelledByUser,
    /// MobilePay cancelled: the customer did not react in time, or reserving on the card or
    /// account failed (`CancelledByMobilePay`).
    CancelledByMobilePay,
    /// The reservation was neither captured nor cancelled within its lifetime
    /// (`ExpiredAndCancelled`).
    ExpiredAndCancelled,
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// The payment was cancelled at MobilePay although this engine did not ask for it
    /// (`CancelledByClient` seen without our cancel, e.g. from another system of the merchant).
    CancelledElsewhere,
    /// Another payment is active on this point of sale and it is not one of ours that could be
    /// cleaned up (409 `1301` after one cleanup attempt).
    PointOfSaleBusy,
    /// MobilePay was unreachable, so the command was answered [`Outcome::Unknown`]; once
    /// MobilePay answered again the engine cancelled the payment, because a cashier told
    /// "unknown" does not hand over the goods and the customer must not be charged.
    Abandoned,
}

/// Why a refund ended without money being paid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundCancelReason {
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// MobilePay could not carry it out (`CancelledByMobilePay`).
    CancelledByMobilePay,
    /// Cancelled at MobilePay without our asking (`CancelledByClient`).
    CancelledElsewhere,
    /// MobilePay was unreachable, the refund was answered [`Outcome::Unknown`], and the engine
    /// then cancelled it (a cashier told "unknown" settles the refund another way).
    Abandoned,
}

/// Stable codes for commands refused before anything happened at MobilePay, or refused by
/// MobilePay as invalid. A rejected command changed nothing: the caller may fix the input and
/// send it again under a new command id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The amount is zero, negative or too large (MobilePay `1102`).
    InvalidAmount,
    /// The order id is empty, too long or has characters MobilePay refuses (`1113`).
    InvalidOrderId,
    /// The refund order id is invalid (`1114`).
    InvalidRefundOrderId,
    /// The payment label is invalid (`1117`).
    InvalidLabel,
    /// This command id was already used for a different command.
    CommandIdReused,
    /// The target command id is not in the journal.
    UnknownTarget,
    /// The target command is of a kind this command cannot act on (e.g. capturing a refund).
    WrongTarget,
    /// The target is not in a state that allows this command (e.g. capturing a payment that is
    /// not reserved, readying one that is not prepared, cancelling a captured payment).
    WrongState,
    /// The capture amount exceeds the reserved amount (`1305`).
    CaptureExceedsReservation,
    /// The refund's currency differs from the payment's (`1365`).
    CurrencyMismatch,
    /// The refunds would exceed the captured amount (`1367`).
    RefundTooHigh,
    /// The payment is too old to be refunded (`1366`).
    PaymentTooOld,
    /// The store's balance cannot cover the refund (`1368`).
    InsufficientBalance,
    /// The payment to refund is not captured (`1354`).
    PaymentNotCaptured,
    /// No captured payment with that order id or payment id was found (`1001`, 404).
    PaymentNotFound,
    /// The point of sale is unknown to MobilePay (`1000`).
    PointOfSaleNotFound,
    /// The store is not activated for payments (`1204`).
    StoreNotActivated,
    /// MobilePay refused access: the payment or point of sale belongs to another integrator or
    /// merchant (`1400`–`1411`), or our credentials are refused.
    Forbidden,
    /// MobilePay refused the request as malformed (e.g. `1099`); a configuration or software
    /// fault, reported with MobilePay's code in the message.
    InvalidRequest,
    /// Another command is running on this lane (one payment at a time per point of sale), or
    /// the lane's point of sale is being re-created or registered again at MobilePay; the
    /// message says which. Send the payment again in a moment.
    LaneBusy,
    /// The payment backend in use has no such feature (e.g. a check-in before the amount is
    /// known); the message says which.
    NotSupported,
}

impl RejectCode {
    /// The code's stable text, for line protocols and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidAmount => "invalid_amount",
            RejectCode::InvalidOrderId => "invalid_order_id",
            RejectCode::InvalidRefundOrderId => "invalid_refund_order_id",
            RejectCode::InvalidLabel => "invalid_label",
            RejectCode::CommandIdReused => "command_id_reused",
            RejectCode::UnknownTarget => "unknown_target",
            RejectCode::WrongTarget => "wrong_target",
            RejectCode::WrongState => "wrong_state",
            RejectCode::CaptureExceedsReservation => "capture_exceeds_reservation",
            RejectCode::CurrencyMismatch => "currency_mismatch",
            RejectCode::RefundTooHigh => "refund_too_high",
            RejectCode::PaymentTooOld => "payment_too_old",
            RejectCode::InsufficientBalance => "insufficient_balance",
            RejectCode::PaymentNotCaptured => "payment_not_captured",
            RejectCode::PaymentNotFound => "payment_not_found",
            RejectCode::PointOfSaleNotFound => "point_of_sale_not_found",
            RejectCode::StoreNotActivated => "store_not_activated",
            RejectCode::Forbidden => "forbidden",
            RejectCode::InvalidRequest => "invalid_request",
            RejectCode::LaneBusy => "lane_busy",
            RejectCode::NotSupported => "not_supported",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final answer to a command. Stored durably before the caller sees it, and returned again
/// for a repeated command id or a query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The customer paid and the money is taken (`Captured`).
    Captured {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The customer paid (`Reserved` at MobilePay) and the engine's decision to capture is
    /// stored, but MobilePay has not confirmed the capture yet; the reconciler keeps trying.
    /// The sale is approved: goods may be handed over.
    CapturePending {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The customer approved and the amount is reserved, as the command asked
    /// (`keep_reservation`). Finish it with [`Command::Capture`] or [`Command::Cancel`].
    Reserved {
        payment_id: String,
        amount: Minor,
        currency: Currency,
        partial_capture_possible: bool,
    },
    /// A prepared payment has a checked-in customer; send [`Command::Ready`] with the amount.
    Paired {
        payment_id: String,
        customer: CustomerInfo,
    },
    /// A partial capture was asked for, but MobilePay does not allow one for this payment (card
    /// scheme rules). Nothing was captured; the reservation stands. The caller decides: capture
    /// the full amount or cancel.
    PartialCaptureRefused {
        payment_id: String,
        reserved: Minor,
        requested: Minor,
    },
    /// The payment ended without money being taken.
    Declined {
        payment_id: Option<String>,
        reason: DeclineReason,
    },
    /// The target of a [`Command::Cancel`] is cancelled (or was already over without money
    /// taken).
    Cancelled { target: CommandId },
    /// The refund is paid out to the customer (`Captured`, or `ExpiredAndCaptured`).
    Refunded {
        refund_id: String,
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The refund ended without money being paid out.
    RefundCancelled {
        refund_id: Option<String>,
        reason: RefundCancelReason,
    },
    /// The command was refused; nothing happened. See [`RejectCode`].
    Rejected { code: RejectCode, message: String },
    /// Something only a person can resolve (e.g. MobilePay reports a state the engine cannot
    /// act on). The detail says what to check; the payment id is given when known.
    NeedsHuman {
        payment_id: Option<String>,
        detail: String,
    },
    /// MobilePay could not be reached long enough to know how the command ended. Do not hand
    /// over goods. The engine keeps reconciling and emits [`EventKind::Resolved`]; a query
    /// then returns the resolved outcome.
    Unknown { payment_id: Option<String> },
}

impl Outcome {
    /// Whether the customer has paid (the goods may be handed over).
    pub fn is_approved(&self) -> bool {
        matches!(
            self,
            Outcome::Captured { .. } | Outcome::CapturePending { .. } | Outcome::Reserved { .. }
        )
    }
}

/// Where a command stands, as [`EngineHandle::query`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Still running; the final outcome will follow.
    Running,
    /// Finished with this outcome. An [`Outcome::Unknown`] may still be replaced by the
    /// resolved outcome later.
    Finished(Outcome),
}

/// A command as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandView {
    pub id: CommandId,
    pub command: Command,
    pub state: CommandState,
    /// MobilePay's payment id once known.
    pub payment_id: Option<String>,
    /// MobilePay's refund id once known.
    pub refund_id: Option<String>,
    /// When the command was first accepted (milliseconds since the Unix epoch).
    pub accepted_at_ms: u64,
}

/// What happened on a lane. Several front ends (the cash register, the customer display, the
/// daemon's log) may watch the same lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The payment waits for the customer to scan the QR code or tap: show `prompt` (`None`
    /// when the lane has nothing to show). `amount` is `None` for a prepared payment that has
    /// no amount yet.
    WaitingForCustomer {
        payment_id: String,
        prompt: Option<CustomerPrompt>,
        amount: Option<Minor>,
        currency: Option<Currency>,
    },
    /// The customer checked in (the payment is `Paired` or issued to their app).
    CustomerCheckedIn {
        payment_id: String,
        customer: CustomerInfo,
    },
    /// The customer approved: the amount is reserved.
    Reserved {
        payment_id: String,
        amount: Minor,
        partial_capture_possible: bool,
    },
    /// The money is taken.
    Captured { payment_id: String, amount: Minor },
    /// The payment ended without money being taken.
    Declined {
        payment_id: Option<String>,
        reason: DeclineReason,
    },
    /// What a cancel command targeted is cancelled.
    Cancelled { payment_id: Option<String> },
    /// A refund was asked for at MobilePay and is on its way.
    RefundInProgress {
        refund_id: Option<String>,
        amount: Minor,
    },
    /// The refund is paid out.
    Refunded { refund_id: String, amount: Minor },
    /// MobilePay cannot be reached; the engine keeps retrying and will resolve the command.
    OutcomeUnknown { payment_id: Option<String> },
    /// A command answered with [`Outcome::Unknown`] (or left unfinished by a crash) now has its
    /// real outcome.
    Resolved { outcome: Outcome },
    /// A person must look at something (see [`Outcome::NeedsHuman`]); also raised at start
    /// when the journal was unreadable and had to be set aside.
    NeedsHuman {
        payment_id: Option<String>,
        detail: String,
    },
    /// Requests to MobilePay fail (network, server errors); commands wait and retry.
    BackendOffline,
    /// MobilePay answers again.
    BackendOnline,
    /// The command's final answer. Always the last event of a command.
    Finished { outcome: Outcome },
}

/// One event on a lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneEvent {
    /// The MobilePay `posId` of the point of sale the event happened on.
    #[serde(rename = "lane")]
    pub point_of_sale: String,
    /// The command the event belongs to; `None` for lane-wide news (backend offline/online,
    /// alarms found at start).
    pub command_id: Option<CommandId>,
    /// When it happened (milliseconds since the Unix epoch).
    pub at_ms: u64,
    pub kind: EventKind,
    /// On the lane broadcast: the submitters whose submissions carry this event too (see
    /// [`EngineHandle::submit_as`]). Delivery bookkeeping, not part of what happened, so
    /// it is never stored or shown.
    #[serde(skip)]
    pub submitters: Vec<Submitter>,
}

impl LaneEvent {
    /// Whether `submitter` gets this event through one of its submissions, so a front end
    /// watching the lane as `submitter` must leave this copy out.
    pub fn carried_to(&self, submitter: Submitter) -> bool {
        self.submitters.contains(&submitter)
    }
}

/// A front end that both submits commands and watches the lane, such as a cash register's
/// session. The events of a command it submits as this submitter reach it through the
/// command's [`Submission`] (reliable, in order, after the caller learnt that the command is
/// stored), and the engine marks their copies on the lane broadcast with it
/// ([`LaneEvent::carried_to`]), so that it sees every event exactly once: a lagging
/// broadcast can lose none of its own commands' events, and nothing has to be deduplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Submitter(u64);

impl Submitter {
    /// A submitter distinct from every other of this process.
    pub fn new() -> Submitter {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Submitter(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

impl Default for Submitter {
    fn default() -> Submitter {
        Submitter::new()
    }
}

/// Why the engine could not take or answer a request at all. Refusals of a command itself are
/// [`Outcome::Rejected`], not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine has stopped (shut down, or its journal failed): nothing was accepted.
    #[error("the payment engine is not running")]
    Stopped,
    /// mposd is stopping and takes no new commands; nothing was stored, so the same command
    /// (same id) can be sent again once it runs again. Queries are still answered.
    #[error("mposd is stopping; send the command again (same id) once it has restarted")]
    Stopping,
    /// mposd serves its front ends already but cannot take payments before its point of sale
    /// is registered at MobilePay; nothing was stored. Queries are answered.
    #[error("mposd is registering its point of sale at MobilePay; send the command again (same id) later")]
    NotReady,
    /// The journal cannot be read or written; the command was not accepted.
    #[error("the payment journal is not available: {0}")]
    Journal(String),
}

/// A submitted command: its events as they happen, ending with [`EventKind::Finished`].
///
/// A [`Submitter`] gets a command's events through its newest submission: when the same
/// submitter submits a running command again, the earlier submission ends (without its
/// `Finished`) and the new one carries the rest, so the submitter gets each event once.
///
/// Dropping a submission does not cancel the command; it runs on, and its outcome can be
/// queried.
#[derive(Debug)]
pub struct Submission {
    events: mpsc::UnboundedReceiver<LaneEvent>,
    stored: bool,
}

impl Submission {
    /// Whether the command is in the journal: stored durably now, or a repeat of a stored
    /// command. `false` for a command refused before anything was stored (its only event is
    /// the `Finished` with [`Outcome::Rejected`]), so a front end can tell "your command is
    /// safe" from "your command was refused".
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// The next event of this command; `None` after [`EventKind::Finished`].
    pub async fn next_event(&mut self) -> Option<LaneEvent> {
        self.events.recv().await
    }

    /// Waits for the final outcome, skipping progress events.
    pub async fn outcome(mut self) -> Result<Outcome, EngineError> {
        while let Some(event) = self.events.recv().await {
            if let EventKind::Finished { outcome } = event.kind {
                return Ok(outcome);
            }
        }
        Err(EngineError::Stopped)
    }

    /// A submission of a stored command, fed by the engine's driver through `events`.
    pub fn new(events: mpsc::UnboundedReceiver<LaneEvent>) -> Submission {
        Submission { events, stored: true }
    }

    /// A submission of a command refused before anything was stored; `events` carries its
    /// `Finished` event.
    pub fn refused(events: mpsc::UnboundedReceiver<LaneEvent>) -> Submission {
        Submission {
            events,
            stored: false,
        }
    }
}

/// A request from an [`EngineHandle`] to the engine's driver (the channel between them).
#[derive(Debug)]
pub enum Request {
    Submit {
        id: CommandId,
        command: Command,
        /// Who gets the command's events through the returned submission.
        submitter: Submitter,
        reply: oneshot::Sender<Result<Submission, EngineError>>,
    },
    Query {
        id: CommandId,
        reply: oneshot::Sender<Result<Option<CommandView>, EngineError>>,
    },
    Alarms {
        reply: oneshot::Sender<Result<Vec<String>, EngineError>>,
    },
    /// About the point of sale the engine serves (see [`EngineHandle::retire`]).
    PointOfSale(PosRequest),
}

/// What the daemon asks the engine about its point of sale, when the point of sale must be
/// re-created at MobilePay or registered again.
#[derive(Debug)]
pub enum PosRequest {
    /// Our payments still open on the point of sale (see [`EngineHandle::open_payments`]).
    OpenPayments { reply: oneshot::Sender<Vec<String>> },
    /// Stop starting payments and report the open ones (see [`EngineHandle::retire`]).
    Retire {
        reason: String,
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Serve this point of sale from now on (see [`EngineHandle::move_to`]).
    MoveTo {
        pos_id: String,
        prompt: CustomerPrompt,
        reply: oneshot::Sender<()>,
    },
    /// Something a person must look at, found outside the engine.
    Alarm { detail: String },
}

/// Whether an [`EngineHandle`] takes commands (shared by all its clones).
const GATE_OPEN: u8 = 0;
const GATE_NOT_READY: u8 = 1;
const GATE_STOPPING: u8 = 2;

/// A cheap, cloneable handle to a running engine (one lane = one point of sale).
#[derive(Clone, Debug)]
pub struct EngineHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<LaneEvent>,
    /// The lane's `posId`, shared by every clone; empty only on a handle made ahead of a lane
    /// that never ran. It changes when the point of sale is re-created or registered again.
    point_of_sale: Arc<RwLock<String>>,
    /// Shared by every clone: open, not ready yet, or stopping.
    gate: Arc<AtomicU8>,
    /// The journal was rebuilt after damage, and until when that matters. Shared by every
    /// clone, so a handle made ahead of its engine learns it when the engine is attached.
    doubt: Arc<OnceLock<(super::doubt::Doubt, u64)>>,
}

impl EngineHandle {
    /// A handle that sends its requests to the driver reading `requests` and subscribes to the
    /// lane events sent on `events`.
    pub fn new(
        requests: mpsc::Sender<Request>,
        events: broadcast::Sender<LaneEvent>,
        pos_id: String,
    ) -> EngineHandle {
        EngineHandle {
            requests,
            events,
            point_of_sale: Arc::new(RwLock::new(pos_id)),
            gate: Arc::new(AtomicU8::new(GATE_OPEN)),
            doubt: Arc::new(OnceLock::new()),
        }
    }

    /// The same handle, telling callers that the journal is in doubt until `until_ms`.
    pub fn with_doubt(self, doubt: super::doubt::Doubt, until_ms: u64) -> EngineHandle {
        let _ = self.doubt.set((doubt, until_ms));
        self
    }

    /// While the journal is in doubt (rebuilt after damage, within the engine's doubt window),
    /// a command id [`EngineHandle::query`] does not find may still have been used before the
    /// damage: callers must not present it as "never used". `None` otherwise.
    pub fn journal_doubt(&self) -> Option<&super::doubt::Doubt> {
        self.doubt
            .get()
            .filter(|(_, until_ms)| super::clock::now_ms() < *until_ms)
            .map(|(doubt, _)| doubt)
    }

    /// A handle for front ends that start before the lane's engine may take commands: the
    /// daemon serves the cash register while the point of sale is still being registered at
    /// MobilePay, so the register gets clear answers instead of silence. Commands are refused
    /// with [`EngineError::NotReady`] until [`EngineSlot::open`]. Until an engine is attached
    /// with [`EngineSlot::attach`] the lane has never run, so queries find nothing, there are
    /// no alarms and [`EngineHandle::point_of_sale`] is empty; from then on every request goes to that
    /// engine and its events reach this handle's subscribers. Must be called inside a tokio
    /// runtime.
    pub fn ahead_of_engine() -> (EngineHandle, EngineSlot) {
        let (requests, inbox) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let front = EngineHandle {
            requests,
            events: events.clone(),
            point_of_sale: Arc::default(),
            gate: Arc::new(AtomicU8::new(GATE_NOT_READY)),
            doubt: Arc::new(OnceLock::new()),
        };
        let (attach, attached) = oneshot::channel();
        tokio::spawn(forward_ahead(inbox, attached, events));
        let slot = EngineSlot {
            front: front.clone(),
            attach: Some(attach),
        };
        (front, slot)
    }

    /// From now on, commands are refused with [`EngineError::Stopping`] before anything is
    /// stored, through every clone of this handle. Commands already accepted run on (their
    /// durability points are reached or they are resumed at the next start); queries are
    /// still answered.
    pub fn stop_accepting(&self) {
        self.gate.store(GATE_STOPPING, Ordering::SeqCst);
    }

    /// Why a command would be refused right now before anything is stored, if it would (see
    /// [`EngineHandle::stop_accepting`] and [`EngineHandle::ahead_of_engine`]).
    pub fn refusal(&self) -> Option<EngineError> {
        match self.gate.load(Ordering::SeqCst) {
            GATE_OPEN => None,
            GATE_NOT_READY => Some(EngineError::NotReady),
            _ => Some(EngineError::Stopping),
        }
    }

    /// The lane's MobilePay `posId`, the point of sale new payments start on; empty on a
    /// handle made by [`EngineHandle::ahead_of_engine`] until its engine is attached.
    pub fn point_of_sale(&self) -> String {
        self.point_of_sale
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Hands a command to the engine. Returns once the command is accepted (its intent is
    /// durable, or it was recognised as a repeat) or refused ([`Submission::is_stored`] tells
    /// which); follow its progress and final outcome through the returned [`Submission`].
    pub async fn submit(&self, id: CommandId, command: Command) -> Result<Submission, EngineError> {
        self.submit_as(Submitter::new(), id, command).await
    }

    /// [`EngineHandle::submit`] for a front end that also watches the lane as `submitter`: the
    /// copies of the command's events on the lane broadcast are marked with it.
    pub async fn submit_as(
        &self,
        submitter: Submitter,
        id: CommandId,
        command: Command,
    ) -> Result<Submission, EngineError> {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Submit {
                id,
                command,
                submitter,
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Submits a command and waits for its final outcome.
    pub async fn run(&self, id: CommandId, command: Command) -> Result<Outcome, EngineError> {
        self.submit(id, command).await?.outcome().await
    }

    /// The journal's view of a command, or `None` if the id was never used (or its record was
    /// pruned after the retention period).
    pub async fn query(&self, id: &CommandId) -> Result<Option<CommandView>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Query {
                id: id.clone(),
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// What a person must look at (unreadable journal records, a journal set aside at start,
    /// reservations found at MobilePay that no command owns), oldest first.
    pub async fn alarms(&self) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Alarms { reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Our payments still open on the point of sale the engine serves: payments running,
    /// prepared payments waiting for their amount, and reservations kept for a later capture or
    /// cancel that has not happened yet (a reservation older than MobilePay's 7 days has
    /// expired there and no longer counts). MobilePay's best practice is to delete a point of
    /// sale only when none is left. Payment ids, or command ids for payments not created yet.
    pub async fn open_payments(&self) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.pos_request(PosRequest::OpenPayments { reply }).await?;
        answer.await.map_err(|_| EngineError::Stopped)
    }

    /// Before the point of sale is deleted and re-created (or registered again): from now on
    /// new payments are refused with [`RejectCode::LaneBusy`] and `reason`, until
    /// [`EngineHandle::move_to`]. Returns our payments still open at this moment (see
    /// [`EngineHandle::open_payments`]); none can start after it, so an empty answer means the
    /// point of sale may go.
    pub async fn retire(&self, reason: &str) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let reason = reason.to_string();
        self.pos_request(PosRequest::Retire { reason, reply }).await?;
        answer.await.map_err(|_| EngineError::Stopped)
    }

    /// Serve the point of sale `pos_id` (its customers shown `prompt`) from now on and take payments
    /// again. Work begun on the previous point of sale finishes there: every journal record
    /// keeps the point of sale it started on. [`EngineHandle::point_of_sale`] of this handle and its
    /// clones follows.
    pub async fn move_to(&self, pos_id: &str, prompt: CustomerPrompt) -> Result<(), EngineError> {
        let (reply, answer) = oneshot::channel();
        self.pos_request(PosRequest::MoveTo {
            pos_id: pos_id.to_string(),
            prompt,
            reply,
        })
        .await?;
        answer.await.map_err(|_| EngineError::Stopped)?;
        *self.point_of_sale.write().unwrap_or_else(|p| p.into_inner()) = pos_id.to_string();
        Ok(())
    }

    /// Adds something a person must look at to the engine's alarms (logged and announced on
    /// the lane like the engine's own).
    pub async fn raise_alarm(&self, detail: &str) -> Result<(), EngineError> {
        let detail = detail.to_string();
        self.pos_request(PosRequest::Alarm { detail }).await
    }

    async fn pos_request(&self, request: PosRequest) -> Result<(), EngineError> {
        self.requests
            .send(Request::PointOfSale(request))
            .await
            .map_err(|_| EngineError::Stopped)
    }

    /// Every event of this lane from now on (all commands and lane-wide news). A subscriber
    /// that falls behind loses the oldest events (`RecvError::Lagged`), never blocks the
    /// engine; a front end that must not lose its own commands' events gets them through
    /// their submissions ([`Submitter`]).
    pub fn subscribe(&self) -> broadcast::Receiver<LaneEvent> {
        self.events.subscribe()
    }
}

/// Where the daemon plugs a lane's engine into the handle made by
/// [`EngineHandle::ahead_of_engine`], and opens it for commands.
#[derive(Debug)]
pub struct EngineSlot {
    front: EngineHandle,
    attach: Option<oneshot::Sender<(EngineHandle, broadcast::Receiver<LaneEvent>)>>,
}

impl EngineSlot {
    /// From now on the front handle's requests go to `engine`, and its events to the front
    /// handle's subscribers. Attaching a second engine does nothing.
    pub fn attach(&mut self, engine: &EngineHandle) {
        let Some(attach) = self.attach.take() else {
            return;
        };
        *self
            .front
            .point_of_sale
            .write()
            .unwrap_or_else(|p| p.into_inner()) = engine.point_of_sale();
        if let Some(doubt) = engine.doubt.get() {
            let _ = self.front.doubt.set(doubt.clone());
        }
        // Subscribed here, not in the forwarding task, so no event after this call is missed.
        let _ = attach.send((engine.clone(), engine.subscribe()));
    }

    /// The front handle takes commands (unless it is already stopping).
    pub fn open(&self) {
        let _ =
            self.front
                .gate
                .compare_exchange(GATE_NOT_READY, GATE_OPEN, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// The task behind a handle made ahead of its engine: answers for a lane with an empty journal
/// until the engine is attached, then passes requests and events through. Ends when the slot is
/// dropped unattached or every front handle is gone; callers then get [`EngineError::Stopped`].
async fn forward_ahead(
    mut inbox: mpsc::Receiver<Request>,
    attached: oneshot::Receiver<(EngineHandle, broadcast::Receiver<LaneEvent>)>,
    events: broadcast::Sender<LaneEvent>,
) {
    tokio::pin!(attached);
    let (engine, mut engine_events) = loop {
        tokio::select! {
            biased;
            engine = &mut attached => match engine {
                Ok(engine) => break engine,
                Err(_) => return,
            },
            request = inbox.recv() => match request {
                Some(Request::Submit { reply, .. }) => {
                    let _ = reply.send(Err(EngineError::NotReady));
                }
                Some(Request::Query { reply, .. }) => {
                    let _ = reply.send(Ok(None));
                }
                Some(Request::Alarms { reply }) => {
                    let _ = reply.send(Ok(Vec::new()));
                }
                // No engine, no point of sale yet: the caller sees the engine as stopped.
                Some(Request::PointOfSale(_)) => {}
                None => return,
            },
        }
    };
    tokio::spawn(async move {
        loop {
            match engine_events.recv().await {
                Ok(event) => {
                    let _ = events.send(event);
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "lane events were lost on their way to the front ends");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(request) = inbox.recv().await {
        if engine.requests.send(request).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handle_made_ahead_of_its_engine_refuses_commands_until_opened() {
        let (front, mut slot) = EngineHandle::ahead_of_engine();
        let id = CommandId::new("sale-1").unwrap();
        let pay = Command::Prepare {
            order_id: "R1".into(),
        };
        // A lane that never ran: nothing to find, no posId yet, commands refused.
        assert_eq!(front.query(&id).await, Ok(None));
        assert_eq!(front.alarms().await, Ok(Vec::new()));
        assert_eq!(front.point_of_sale(), "");
        assert_eq!(
            front.submit(id.clone(), pay.clone()).await.err(),
            Some(EngineError::NotReady)
        );

        // Once attached, requests reach the engine's driver and its events the front's watchers.
        let (requests, mut driver) = mpsc::channel(4);
        let (events, _) = broadcast::channel(4);
        let engine = EngineHandle::new(requests, events.clone(), "pos-1".into());
        slot.attach(&engine);
        assert_eq!(front.point_of_sale(), "pos-1");
        let mut watcher = front.subscribe();
        let asked = tokio::spawn({
            let front = front.clone();
            let id = id.clone();
            async move { front.query(&id).await }
        });
        match driver.recv().await {
            Some(Request::Query { id: asked_for, reply }) => {
                assert_eq!(asked_for, id);
                reply.send(Ok(None)).unwrap();
            }
            other => panic!("expected a query, got {other:?}"),
        }
        assert_eq!(asked.await.unwrap(), Ok(None));
        assert_eq!(
            front.submit(id.clone(), pay.clone()).await.err(),
            Some(EngineError::NotReady)
        );
        let news = LaneEvent {
            point_of_sale: "pos-1".into(),
            command_id: None,
            at_ms: 0,
            kind: EventKind::BackendOnline,
            submitters: Vec::new(),
        };
        events.send(news.clone()).unwrap();
        assert_eq!(watcher.recv().await.unwrap(), news);

        slot.open();
        let submitted = tokio::spawn(async move { front.submit(id, pay).await.map(|_| ()) });
        match driver.recv().await {
            Some(Request::Submit { reply, .. }) => {
                let (_, rx) = mpsc::unbounded_channel();
                reply.send(Ok(Submission::new(rx))).unwrap();
            }
            other => panic!("expected a command, got {other:?}"),
        }
        assert_eq!(submitted.await.unwrap(), Ok(()));
    }

    #[test]
    fn command_ids_are_validated() {
        assert!(CommandId::new("sale-0001").is_ok());
        assert!(CommandId::new("x".repeat(64)).is_ok());
        assert_eq!(CommandId::new(""), Err(CommandIdError::Empty));
        assert_eq!(CommandId::new("x".repeat(65)), Err(CommandIdError::TooLong));
        assert_eq!(CommandId::new("a b"), Err(CommandIdError::InvalidCharacter));
        assert_eq!(CommandId::new("kø"), Err(CommandIdError::InvalidCharacter));
        assert!(serde_json::from_str::<CommandId>("\"a\\nb\"").is_err());
        let id: CommandId = serde_json::from_str("\"sale-1\"").unwrap();
        assert_eq!(id.as_str(), "sale-1");
    }

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcome = Outcome::Declined {
            payment_id: Some("p".into()),
            reason: DeclineReason::CancelledByUser,
        };
        let text = serde_json::to_string(&outcome).unwrap();
        assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), outcome);
        assert!(!outcome.is_approved());
        assert!(Outcome::CapturePending {
            payment_id: "p".into(),
            amount: Minor(100),
            currency: Currency::DKK
        }
        .is_approved());
    }
}
