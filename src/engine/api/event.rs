//! What happens on a lane while commands run, and who already hears it through a submission.

use super::command::CommandId;
use super::outcome::{AgreementEndReason, CustomerInfo, DeclineReason, InvoiceEndReason, Outcome};
use crate::engine::backend::CustomerPrompt;
use crate::money::{Currency, Minor};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// An invoice is issued: show `link` as a QR code to scan, or, when it was pushed to a
    /// phone, ask the customer to open MobilePay (`phone` is the number with all but its last
    /// digits masked).
    InvoiceIssued {
        invoice_id: String,
        link: Option<String>,
        phone: Option<String>,
        amount: Minor,
        currency: Currency,
        due_date: NaiveDate,
    },
    /// The customer scheduled the invoice's payment for a later day (not paid yet).
    InvoiceScheduled {
        invoice_id: String,
        payment_date: Option<NaiveDate>,
    },
    /// The invoice is paid.
    InvoicePaid { invoice_id: String, amount: Minor },
    /// The invoice ended unpaid.
    InvoiceEnded {
        invoice_id: Option<String>,
        reason: InvoiceEndReason,
    },
    /// An agreement waits for the customer: show `link` as a QR code to scan, with the plan,
    /// its price (due `payments_per_year` times a year; `None`: a flexible schedule) and the
    /// first payment, until `expires_at_ms`.
    AgreementPending {
        agreement_id: String,
        link: String,
        plan: String,
        price: Option<Minor>,
        payments_per_year: Option<u32>,
        first_payment: Option<Minor>,
        currency: Currency,
        expires_at_ms: u64,
    },
    /// The customer accepted the agreement; its first payment is being captured.
    AgreementAccepted { agreement_id: String },
    /// The customer signed up.
    SignedUp {
        agreement_id: String,
        first_payment: Option<Minor>,
    },
    /// The agreement did not come about, or was cancelled.
    AgreementEnded {
        agreement_id: Option<String>,
        reason: AgreementEndReason,
    },
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
    /// The lane now serves a point of sale whose customers are shown `prompt` (it was
    /// re-created or registered again): what waits for a customer between payments changes.
    PromptChanged { prompt: CustomerPrompt },
    /// A customer scanned the lane's printed sticker and checked in (`location` is the
    /// sticker's description): a `pay` for the sticker is pushed to them for the next minutes.
    /// Told by the daemon, not by a command.
    StickerCheckIn { location: String },
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
