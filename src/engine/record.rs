//! One journal record per command id: everything needed to finish the command after a crash.

use super::api::{Command, CommandId, CommandKind, CommandState, CommandView, Outcome, DEFAULT_DUE_DAYS};
use crate::money::{Currency, Minor};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Version of the record layout; stored in every record so a later release can migrate.
pub const SCHEMA_VERSION: u32 = 2;

/// What the engine has decided to do with a reserved payment (or refund). Stored before it is
/// carried out, so that a crash or an outage never turns a cancel into a capture or back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Capture(Minor),
    Cancel,
}

/// Where a command's flow stands. Each phase has exactly one backend request (or a wait);
/// resuming a phase after a crash repeats that request, which is safe: creating requests carry
/// the stored idempotency key, all others are naturally idempotent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Create the payment (initiate or prepare) with `create_key`.
    Create,
    /// Before creating, while the journal is in doubt (rebuilt after damage): look the order
    /// id up at the backend, in case a command the journal lost already paid it.
    CheckOrder(OrderCheck),
    /// Look our payment up by point of sale and order id (the create key is too old to replay).
    FindOwn,
    /// After "point of sale busy": list the point of sale's open payments and cancel stale
    /// ones.
    /// `pending` are the ids still to look at; `None` until the list is fetched.
    ClearStale { pending: Option<Vec<String>> },
    /// Give a checked-in payment its amount and terms.
    SetTerms,
    /// Poll the payment's status.
    Poll,
    /// Capture the payment.
    Capture,
    /// Cancel the payment.
    CancelPayment,
    /// A cancel command waits for the flow it cancels to end.
    AwaitTarget,
    /// Look up the captured payment to refund by its order id.
    FindRefundPayment,
    /// Create the refund with `create_key`.
    CreateRefund,
    /// Poll the refund's status.
    PollRefund,
    /// Confirm the refund awaiting confirmation, so it is paid out.
    ConfirmRefund,
    /// Cancel the refund.
    CancelRefund,
    /// Issue the invoice (reference: the create key, with the round after the first).
    CreateInvoice,
    /// Read the invoice's state.
    PollInvoice,
    /// Cancel the invoice.
    CancelInvoice,
    /// Create the agreement (reference: the create key).
    CreateAgreement,
    /// Before creating again after a create whose answer was lost: look for the agreement it
    /// may have made, by its reference.
    FindAgreement,
    /// Read the agreement (and its first payment).
    PollAgreement,
    /// Capture the agreement's reserved first payment.
    CaptureFirstPayment,
    /// Cancel the agreement.
    CancelAgreement,
    /// Refund (part of) an agreement's first payment (reference: the create key).
    CreateAgreementRefund,
    /// Before refunding again after a refund whose answer was lost: look for the refund it
    /// may have made, by its reference.
    FindAgreementRefund,
    /// Nothing left to do.
    Done,
}

/// The steps of [`Phase::CheckOrder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderCheck {
    /// List the point of sale's open payments (active or reserved) with the order id.
    Open,
    /// Read the open payment found.
    Inspect { payment_id: String },
    /// List captured payments with the order id.
    Captured,
}

/// Which progress events were already emitted, so a re-poll does not repeat them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announced {
    pub waiting: bool,
    pub checked_in: bool,
    pub reserved: bool,
    pub refund: bool,
}

/// The journal record of one command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub schema: u32,
    pub id: CommandId,
    pub command: Command,
    /// The point of sale (the backend's id for it) the command runs on.
    pub pos_id: String,
    pub phase: Phase,
    /// The payment this command creates or acts on, once known.
    pub payment_id: Option<String>,
    /// The refund this command creates, once known.
    pub refund_id: Option<String>,
    /// The command's idempotency key, derived from the command: the key of the creating request
    /// (payment or refund), and the base of the keys of the changes it makes (capture, cancel).
    pub create_key: Option<String>,
    /// When `create_key` was made; a key older than the backend's retention is never replayed.
    pub create_key_at_ms: u64,
    /// The decision for the reserved payment or refund this command drives.
    pub decision: Option<Decision>,
    /// The cashier asked to cancel this command's payment or refund.
    pub cancel_requested: bool,
    /// The one cleanup of stale payments after "point of sale busy" was done.
    pub stale_cleared: bool,
    /// The create request may have reached the backend without our hearing the answer.
    pub create_unanswered: bool,
    /// Reserved amount and capture terms of the payment, once known.
    pub reserved: Option<Minor>,
    pub currency: Option<Currency>,
    pub partial_capture_possible: Option<bool>,
    /// The latest outcome; `answered` once it was given to the caller.
    pub outcome: Option<Outcome>,
    pub answered: bool,
    /// For a `Prepare`: the `Ready` or `Cancel` command that took the prepared payment over.
    pub followed_by: Option<CommandId>,
    /// Since when requests for this command keep failing (transient errors), if they do.
    pub failing_since_ms: Option<u64>,
    /// Consecutive failed attempts in the current phase, for back-off.
    pub attempts: u32,
    /// The backend's poll delay from the last status poll.
    pub last_poll_delay_ms: u32,
    /// Captures and cancels of this command definitively refused so far: a new attempt after a
    /// refusal gets a new key ([`crate::engine::keys::change_key`]).
    #[serde(default)]
    pub refused_changes: u32,
    /// When the last status poll was answered (milliseconds since the Unix epoch; 0 in
    /// records written before it was kept). With `last_poll_delay_ms` it paces the first poll
    /// after a restart.
    #[serde(default)]
    pub last_poll_at_ms: u64,
    pub announced: Announced,
    /// The invoice this command issues or cancels, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// What the customer scans: the invoice's link, or the agreement's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_link: Option<String>,
    /// The agreement this command makes, or whose first payment it refunds or cancels, once
    /// known. (The first payment itself is the record's `payment_id`.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_id: Option<String>,
    /// Invoice links created afresh because an earlier create of this command may have
    /// made one whose answer was lost (see [`crate::engine::invoicing::CreateReplay`]); part
    /// of the invoice's reference, so each create is a new request.
    #[serde(default)]
    pub invoice_round: u32,
    /// Accepted while the journal was in doubt (rebuilt after damage): the lost journal may
    /// have issued this very invoice, shown its link and seen it paid, so an invoice its first
    /// create finds existing is never replaced by a new one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub accepted_in_doubt: bool,
    pub accepted_at_ms: u64,
    pub updated_at_ms: u64,
    /// MobilePay `CorrelationId` of every request made for this command.
    #[serde(default)]
    pub correlation_id: super::backend::CorrelationId,
}

impl Record {
    /// A fresh record for an accepted command, in its first phase.
    pub fn new(id: CommandId, command: Command, pos_id: String, now_ms: u64) -> Record {
        let phase = match &command {
            Command::Pay { .. } | Command::Prepare { .. } => Phase::Create,
            Command::Ready { .. } => Phase::SetTerms,
            Command::Capture { .. } => Phase::Capture,
            Command::Cancel { .. } => Phase::AwaitTarget,
            Command::Refund { .. } => Phase::CreateRefund,
            Command::Invoice { .. } => Phase::CreateInvoice,
            Command::SignUp { .. } => Phase::CreateAgreement,
        };
        let currency = match &command {
            Command::Pay { currency, .. }
            | Command::Ready { currency, .. }
            | Command::Refund { currency, .. }
            | Command::Invoice { currency, .. }
            | Command::SignUp { currency, .. } => Some(*currency),
            _ => None,
        };
        Record {
            schema: SCHEMA_VERSION,
            id,
            command,
            pos_id,
            phase,
            payment_id: None,
            refund_id: None,
            create_key: None,
            create_key_at_ms: now_ms,
            decision: None,
            cancel_requested: false,
            stale_cleared: false,
            create_unanswered: false,
            reserved: None,
            currency,
            partial_capture_possible: None,
            outcome: None,
            answered: false,
            followed_by: None,
            failing_since_ms: None,
            attempts: 0,
            last_poll_delay_ms: 1000,
            refused_changes: 0,
            last_poll_at_ms: 0,
            announced: Announced::default(),
            invoice_id: None,
            customer_link: None,
            agreement_id: None,
            invoice_round: 0,
            accepted_in_doubt: false,
            accepted_at_ms: now_ms,
            updated_at_ms: now_ms,
            correlation_id: super::backend::CorrelationId::new(),
        }
    }

    pub fn kind(&self) -> CommandKind {
        self.command.kind()
    }

    /// Whether the flow has nothing left to do.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Whether the engine must hold this record from the start: its flow has work left, it holds
    /// the lane, or it is a reservation kept for a later capture or cancel (the reconciler warns
    /// of its capture deadline and the point-of-sale checks count it). Every other record is
    /// history, read from disk when a command or query names it.
    pub fn is_open_work(&self) -> bool {
        !self.is_finished() || self.holds_lane() || matches!(self.outcome, Some(Outcome::Reserved { .. }))
    }

    /// Whether this record's payment may be active (blocking the point of sale) and driven
    /// by this record, so no other payment may start on the lane.
    pub fn holds_lane(&self) -> bool {
        let payment_kind = matches!(
            self.kind(),
            CommandKind::Pay | CommandKind::Prepare | CommandKind::Ready
        );
        if !payment_kind {
            return false;
        }
        match self.phase {
            Phase::Create
            | Phase::CheckOrder(_)
            | Phase::FindOwn
            | Phase::ClearStale { .. }
            | Phase::SetTerms
            | Phase::Poll
            | Phase::CancelPayment => true,
            Phase::Done => matches!(self.outcome, Some(Outcome::Paired { .. })) && self.followed_by.is_none(),
            _ => false,
        }
    }

    /// The amount of the payment this record creates (Pay, Ready).
    pub fn payment_amount(&self) -> Option<Minor> {
        match &self.command {
            Command::Pay { amount, .. } | Command::Ready { amount, .. } | Command::Invoice { amount, .. } => {
                Some(*amount)
            }
            _ => self.reserved,
        }
    }

    /// The day an invoice is issued: the day (UTC) its command was accepted, so every repeat
    /// of the create, also after midnight, is the same request.
    pub fn invoice_issue_date(&self) -> NaiveDate {
        i64::try_from(self.accepted_at_ms)
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.date_naive())
            .unwrap_or_default()
    }

    /// The due date of the invoice this command issues: the one it names, or
    /// [`DEFAULT_DUE_DAYS`] after the issue date.
    pub fn invoice_due_date(&self) -> Option<NaiveDate> {
        match &self.command {
            Command::Invoice {
                due_date: Some(day), ..
            } => Some(*day),
            Command::Invoice { due_date: None, .. } => self
                .invoice_issue_date()
                .checked_add_days(chrono::Days::new(u64::from(DEFAULT_DUE_DAYS))),
            _ => None,
        }
    }

    /// When the customer's time at the counter is over, for an invoice or a sign-up (their
    /// `counter_wait_s` after the command was accepted).
    pub fn counter_until_ms(&self) -> u64 {
        let wait_s = match &self.command {
            Command::Invoice { counter_wait_s, .. } | Command::SignUp { counter_wait_s, .. } => {
                *counter_wait_s
            }
            _ => 0,
        };
        self.accepted_at_ms.saturating_add(u64::from(wait_s) * 1000)
    }

    pub fn keep_reservation(&self) -> bool {
        matches!(
            &self.command,
            Command::Pay {
                keep_reservation: true,
                ..
            } | Command::Ready {
                keep_reservation: true,
                ..
            }
        )
    }

    pub fn view(&self) -> CommandView {
        CommandView {
            id: self.id.clone(),
            command: self.command.clone(),
            state: match (&self.outcome, self.answered) {
                (Some(outcome), true) => CommandState::Finished(outcome.clone()),
                _ => CommandState::Running,
            },
            payment_id: self.payment_id.clone(),
            refund_id: self.refund_id.clone(),
            invoice_id: self.invoice_id.clone(),
            agreement_id: self.agreement_id.clone(),
            accepted_at_ms: self.accepted_at_ms,
        }
    }
}
