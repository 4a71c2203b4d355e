//! The flows as a pure state machine: `step(record, input) -> actions`.
//!
//! No I/O happens here. The driver executes the actions in order: it stores the record
//! (durably when asked), emits events, answers the caller, makes the one backend call or waits,
//! and feeds the result back as the next input. Because every effect is an explicit action,
//! the tests can run every flow against scripted backend answers and enumerate the points
//! where a crash could strike (between any two actions).
//!
//! Ordering rules the step function keeps (invariant I4):
//! - a command's record is durable before its first backend call (the driver persists it on
//!   acceptance), so a creating request never carries a key the journal could forget;
//! - an outcome is durable (`Persist { durable: true }`) before the `Answer` that reveals it.
//!
//! This module holds the vocabulary (inputs, actions, backend calls) and the `Flow` with the
//! helpers every flow shares; the child modules hold one job each: the request of each phase,
//! what a successful answer means, a payment's and a refund's states, failures and time-outs,
//! cancels, and the checks of a command's own fields.

pub(crate) mod agreement;
mod cancel;
mod errors;
pub(crate) mod invoice;
mod payment;
mod refund;
mod reply;
mod request;
mod validate;

pub use errors::reject_code;
pub use validate::validate;

use super::agreements::{AgreementInfo, AgreementRules, CreatedAgreement, NewAgreement, NewAgreementRefund};
use super::api::{EventKind, Outcome};
use super::backend::{
    BackendError, Capabilities, CustomerPrompt, NewCheckIn, NewPayment, NewRefund, PaymentInfo, PaymentQuery,
    PaymentTerms, RefundInfo,
};
use super::invoicing::{CreatedInvoice, InvoiceInfo, InvoiceRules, NewInvoice};
use super::record::{Decision, Phase, Record};
use crate::money::Minor;

/// Timing rules of the flows.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How long requests may keep failing before the caller is answered (`Unknown`, or
    /// `CapturePending` once the customer has approved). The flow goes on in the background.
    pub answer_unknown_after_ms: u64,
    /// First retry delay after a failed request; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay (the pace of background reconciliation).
    pub retry_max_ms: u64,
    /// A create request is never replayed with a key older than this; MobilePay keeps keys
    /// for at least 24 h, so 20 h leaves a safe margin (I5).
    pub create_key_max_age_ms: u64,
    /// What the backend can do; the flows choose their steps from it (the driver fills it in
    /// from the backend; [`Capabilities::ALL`] by default).
    pub capabilities: Capabilities,
    /// What the customer of the point of sale served now is shown to start paying.
    pub prompt: Option<CustomerPrompt>,
    /// The rules of the lane's invoices; `None` when the lane issues none (the driver fills
    /// it in from the backend).
    pub invoices: Option<InvoiceRules>,
    /// The rules of the lane's agreements; `None` when it makes none.
    pub agreements: Option<AgreementRules>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            answer_unknown_after_ms: 60_000,
            retry_base_ms: 250,
            retry_max_ms: 30_000,
            create_key_max_age_ms: 20 * 3600 * 1000,
            capabilities: Capabilities::ALL,
            prompt: None,
            invoices: None,
            agreements: None,
        }
    }
}

/// One backend request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCall {
    CreatePayment {
        key: String,
        payment: NewPayment,
    },
    CheckIn {
        key: String,
        check_in: NewCheckIn,
    },
    SetTerms {
        payment_id: String,
        terms: PaymentTerms,
    },
    GetPayment {
        payment_id: String,
    },
    FindPayments {
        query: PaymentQuery,
    },
    Capture {
        key: String,
        payment_id: String,
        amount: Minor,
    },
    CancelPayment {
        key: String,
        payment_id: String,
    },
    Refund {
        key: String,
        refund: NewRefund,
    },
    GetRefund {
        refund_id: String,
    },
    ConfirmRefund {
        refund_id: String,
    },
    CancelRefund {
        refund_id: String,
    },
    CreateInvoice {
        invoice: NewInvoice,
    },
    GetInvoice {
        invoice_id: String,
    },
    CancelInvoice {
        invoice_id: String,
    },
    CreateAgreement {
        agreement: NewAgreement,
    },
    FindAgreement {
        reference: String,
    },
    GetAgreement {
        agreement_id: String,
    },
    CaptureFirstPayment {
        agreement_id: String,
        payment_id: String,
    },
    CancelAgreement {
        agreement_id: String,
    },
    RefundAgreementPayment {
        refund: NewAgreementRefund,
    },
    FindAgreementRefund {
        agreement_id: String,
        payment_id: String,
        reference: String,
    },
}

/// A successful backend answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A created payment's or refund's id.
    Id(String),
    /// A call without an answer body succeeded.
    Done,
    Payment(PaymentInfo),
    Ids(Vec<String>),
    Refund(RefundInfo),
    CreatedInvoice(CreatedInvoice),
    Invoice(InvoiceInfo),
    CreatedAgreement(CreatedAgreement),
    /// What a look-up by reference found (`None`: nothing).
    FoundAgreement(Option<CreatedAgreement>),
    Agreement(AgreementInfo),
    /// The refund a look-up by reference found, by id (`None`: nothing).
    FoundRefund(Option<String>),
}

/// What drives a flow forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Begin, or resume after a restart: issue the current phase's request.
    Start,
    /// The answer to the last [`Action::Call`].
    Reply(Result<Reply, BackendError>),
    /// The last [`Action::Sleep`] is over.
    Timer,
    /// The cashier cancels this command's payment or refund.
    CancelRequested,
    /// For a cancel command: the command it cancels has been answered with this outcome.
    TargetFinished(Outcome),
    /// News that the payment or refund may have changed (a webhook said so): a flow waiting
    /// for its next status poll polls now. In any other phase nothing changes, and a wait the
    /// news interrupted goes on (the driver keeps it).
    Nudge,
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Store the record; with `durable`, wait until it survives a power cut.
    Persist { durable: bool },
    /// Tell the lane's watchers.
    Emit(EventKind),
    /// Give the caller its final answer (already stored durably).
    Answer(Outcome),
    /// Make this request, then step with its [`Input::Reply`].
    Call(ApiCall),
    /// Wait this long, then step with [`Input::Timer`] (a cancel request may come first).
    Sleep(u64),
    /// The flow is over.
    Stop,
}

/// Advances `record` by one input and says what to do. `now_ms` is wall-clock time.
pub fn step(record: &mut Record, input: Input, now_ms: u64, policy: &Policy) -> Vec<Action> {
    let mut flow = Flow {
        rec: record,
        now: now_ms,
        policy,
        out: Vec::new(),
        earlier_failures: None,
    };
    match input {
        Input::Start => flow.resume(),
        Input::Timer => flow.issue(),
        Input::CancelRequested => flow.on_cancel(),
        Input::TargetFinished(outcome) => flow.on_target_finished(outcome),
        Input::Nudge => flow.on_nudge(),
        Input::Reply(Ok(reply)) => {
            // A status the engine does not understand counts as a failure, so remember the
            // streak until the answer has been looked at.
            flow.earlier_failures = flow.rec.failing_since_ms.take().map(|s| (s, flow.rec.attempts));
            flow.rec.attempts = 0;
            flow.on_reply(reply);
        }
        Input::Reply(Err(error)) if error.is_transient() => flow.on_transient(&error),
        Input::Reply(Err(error)) => {
            flow.rec.failing_since_ms = None;
            flow.rec.attempts = 0;
            flow.on_error(error);
        }
    }
    flow.rec.updated_at_ms = now_ms;
    flow.out
}

struct Flow<'a> {
    rec: &'a mut Record,
    now: u64,
    policy: &'a Policy,
    out: Vec<Action>,
    /// The failure streak before a successful answer that may still count as a failure.
    earlier_failures: Option<(u64, u32)>,
}

impl Flow<'_> {
    fn push(&mut self, action: Action) {
        self.out.push(action);
    }

    fn goto(&mut self, phase: Phase) {
        self.rec.phase = phase;
        self.issue();
    }

    fn payment_id(&self) -> String {
        self.rec.payment_id.clone().unwrap_or_default()
    }

    fn key(&self) -> String {
        self.rec.create_key.clone().unwrap_or_default()
    }

    /// The key of this command's capture or cancel (`change`), see
    /// [`crate::engine::keys::change_key`]. Records stored before every command had a key
    /// derive it from the command id.
    fn change_key(&self, change: &str) -> String {
        let base = self.rec.create_key.as_deref().unwrap_or(self.rec.id.as_str());
        crate::engine::keys::change_key(base, change, self.rec.refused_changes)
    }

    fn key_too_old(&self) -> bool {
        self.now.saturating_sub(self.rec.create_key_at_ms) > self.policy.create_key_max_age_ms
    }

    /// Begins the flow, or resumes it after a restart. A resumed poll keeps MobilePay's pace:
    /// it waits until the backend's poll delay has passed since the last poll before the restart. The
    /// wait is never longer than one delay, so a clock that went backwards (a board without a
    /// real-time clock that booted with an old time) cannot hold the flow up.
    fn resume(&mut self) {
        if matches!(
            self.rec.phase,
            Phase::Poll | Phase::PollRefund | Phase::PollInvoice | Phase::PollAgreement
        ) {
            let delay = u64::from(self.rec.last_poll_delay_ms);
            let wait = self
                .rec
                .last_poll_at_ms
                .saturating_add(delay)
                .saturating_sub(self.now)
                .min(delay);
            if wait > 0 {
                return self.push(Action::Sleep(wait));
            }
        }
        self.issue()
    }

    /// Notes a status poll's answer: its time and MobilePay's delay until the next poll.
    /// A backend that limits polls per minute is never asked faster than that, whatever delay
    /// it suggests.
    fn polled(&mut self, poll_delay_ms: u32) -> u64 {
        let floor = self
            .policy
            .capabilities
            .polls_per_minute
            .map_or(1, |n| 60_000u32.div_ceil(n.max(1)));
        self.rec.last_poll_delay_ms = poll_delay_ms.max(floor);
        self.rec.last_poll_at_ms = self.now;
        u64::from(self.rec.last_poll_delay_ms)
    }

    /// Polls again after `delay`. The poll's time and delay are stored first (not durably: a
    /// power cut may cost one early poll, nothing more), so that a restart keeps the pace.
    fn poll_again(&mut self, delay: u64) {
        if self.out.last() != Some(&Action::Persist { durable: false }) {
            self.push(Action::Persist { durable: false });
        }
        self.push(Action::Sleep(delay));
    }

    /// Polls now instead of at the next scheduled poll. Only a poll is brought forward: a
    /// retry after a failure keeps its back-off, and a request is never repeated early.
    fn on_nudge(&mut self) {
        let polling = matches!(
            self.rec.phase,
            Phase::Poll | Phase::PollRefund | Phase::PollInvoice | Phase::PollAgreement
        );
        if polling && self.rec.failing_since_ms.is_none() {
            self.issue()
        }
    }

    fn wants_cancel(&self) -> bool {
        self.rec.cancel_requested || self.rec.decision == Some(Decision::Cancel)
    }

    fn needs_human(&mut self, detail: &str) {
        self.finish(Outcome::NeedsHuman {
            payment_id: self.rec.payment_id.clone(),
            detail: detail.to_string(),
        });
    }

    /// Ends the flow: the outcome is stored durably, then told to the caller (or, when the
    /// caller already had an answer, announced as the resolution).
    fn finish(&mut self, outcome: Outcome) {
        if let Some(event) = progress_event(&outcome, self.rec.payment_id.clone()) {
            self.push(Action::Emit(event));
        }
        self.rec.phase = Phase::Done;
        let changed = self.rec.outcome.as_ref() != Some(&outcome);
        self.rec.outcome = Some(outcome.clone());
        self.push(Action::Persist { durable: true });
        if !self.rec.answered {
            self.rec.answered = true;
            self.push(Action::Answer(outcome));
        } else if changed {
            self.push(Action::Emit(EventKind::Resolved { outcome }));
        }
        self.push(Action::Stop);
    }
}

/// The event that tells watchers how a command ended (besides its `Finished` event).
fn progress_event(outcome: &Outcome, payment_id: Option<String>) -> Option<EventKind> {
    Some(match outcome {
        Outcome::Captured {
            payment_id, amount, ..
        } => EventKind::Captured {
            payment_id: payment_id.clone(),
            amount: *amount,
        },
        Outcome::Declined { payment_id, reason } => EventKind::Declined {
            payment_id: payment_id.clone(),
            reason: *reason,
        },
        Outcome::Cancelled { .. } => EventKind::Cancelled { payment_id },
        Outcome::Refunded {
            refund_id, amount, ..
        } => EventKind::Refunded {
            refund_id: refund_id.clone(),
            amount: *amount,
        },
        Outcome::InvoicePaid {
            invoice_id, amount, ..
        } => EventKind::InvoicePaid {
            invoice_id: invoice_id.clone(),
            amount: *amount,
        },
        Outcome::InvoiceEnded { invoice_id, reason } => EventKind::InvoiceEnded {
            invoice_id: invoice_id.clone(),
            reason: *reason,
        },
        Outcome::SignedUp {
            agreement_id,
            first_payment,
            ..
        } => EventKind::SignedUp {
            agreement_id: agreement_id.clone(),
            first_payment: *first_payment,
        },
        Outcome::AgreementEnded { agreement_id, reason } => EventKind::AgreementEnded {
            agreement_id: agreement_id.clone(),
            reason: *reason,
        },
        Outcome::NeedsHuman { payment_id, detail } => EventKind::NeedsHuman {
            payment_id: payment_id.clone(),
            detail: detail.clone(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
