//! Failed requests: a definitive refusal ends the command (or sends the flow on, where the
//! refusal tells the payment's state), a failure that may pass is retried with back-off, and a
//! backend unreachable for too long gets the caller the truth as far as it is known.

use super::{Action, Flow};
use crate::backoff::Backoff;
use crate::engine::api::{Command, CommandKind, DeclineReason, EventKind, Outcome, RejectCode};
use crate::engine::backend::{BackendError, Refusal};
use crate::engine::record::{Decision, Phase};
use crate::money::Minor;
use std::time::Duration;

/// Refusals of a capture or cancel because the payment was busy (ePayment's 423: another
/// change, or the customer's approval, in progress) after which the payment is read and the
/// change decided again; past them, a person looks at it.
const BUSY_REFUSALS_RETRIED: u32 = 5;

impl Flow<'_> {
    pub(super) fn on_error(&mut self, error: BackendError) {
        let phase = self.rec.phase.clone();
        let refusal = error.refusal();
        let is_capture_command = self.rec.kind() == CommandKind::Capture;
        if matches!(
            phase,
            Phase::Capture
                | Phase::CancelPayment
                | Phase::CancelInvoice
                | Phase::CaptureFirstPayment
                | Phase::CancelAgreement
        ) {
            self.rec.refused_changes = self.rec.refused_changes.saturating_add(1);
        }
        match phase {
            Phase::Create => match refusal {
                Some(Refusal::PointOfSaleBusy)
                    if !self.rec.stale_cleared && self.policy.capabilities.lists_open_payments =>
                {
                    self.goto(Phase::ClearStale { pending: None })
                }
                Some(Refusal::PointOfSaleBusy) => self.declined(DeclineReason::PointOfSaleBusy),
                // The reference exists: it is derived from this very command, so the payment
                // is ours (created by a request whose answer was lost). Follow it.
                Some(Refusal::KeyReused) if self.policy.capabilities.payment_named_by_reference => {
                    self.rec.payment_id = Some(self.key());
                    self.goto(Phase::Poll)
                }
                Some(Refusal::KeyReused) => self.key_refused(&error),
                _ => self.reject_from(&error),
            },
            Phase::ClearStale { pending: None } => self.declined(DeclineReason::PointOfSaleBusy),
            // A stale payment that cannot be read or cancelled: skip it; the retried create
            // will tell whether the point of sale is free.
            Phase::ClearStale { pending: Some(ids) } => self.goto(Phase::ClearStale {
                pending: Some(ids.get(1..).unwrap_or_default().to_vec()),
            }),
            // Refused because of the payment's state (e.g. the terms were already applied
            // before a crash): read it and go on from what it is.
            Phase::SetTerms => match (&error, refusal) {
                (_, Some(r)) if !r.is_about_the_request() => self.goto(Phase::Poll),
                (BackendError::NotFound, _) => {
                    self.needs_human("the prepared payment is unknown to MobilePay")
                }
                _ => self.reject_from(&error),
            },
            Phase::Capture => match refusal {
                Some(Refusal::StateConflict) if self.rec.refused_changes <= BUSY_REFUSALS_RETRIED => {
                    self.goto(Phase::Poll)
                }
                Some(Refusal::PartialCaptureNotAllowed) => {
                    let amount = match self.rec.decision {
                        Some(Decision::Capture(a)) => a,
                        _ => Minor(0),
                    };
                    self.rec.partial_capture_possible = Some(false);
                    self.partial_refused(amount)
                }
                Some(Refusal::NotCapturable) => self.goto(Phase::Poll),
                Some(Refusal::CapturedWithOtherAmount) => self.needs_human(&format!(
                    "the payment was already captured with a different amount ({error})"
                )),
                Some(Refusal::AmountAboveReserved) if is_capture_command => self.finish(Outcome::Rejected {
                    code: RejectCode::CaptureExceedsReservation,
                    message: "the capture amount exceeds the reserved amount".into(),
                }),
                _ if is_capture_command && !matches!(error, BackendError::NotFound) => {
                    self.reject_from(&error)
                }
                _ => self.needs_human(&format!("the reserved payment could not be captured: {error}")),
            },
            Phase::CancelPayment => match (&error, refusal) {
                (_, Some(Refusal::NotCancellable)) => self.goto(Phase::Poll),
                (_, Some(Refusal::StateConflict)) if self.rec.refused_changes <= BUSY_REFUSALS_RETRIED => {
                    self.goto(Phase::Poll)
                }
                (BackendError::Forbidden { .. }, _) if self.rec.kind() == CommandKind::Cancel => {
                    self.reject_from(&error)
                }
                _ => self.needs_human(&format!("the payment could not be cancelled: {error}")),
            },
            Phase::CreateRefund => match refusal {
                Some(Refusal::KeyReused) => self.key_refused(&error),
                _ => self.reject_from(&error),
            },
            Phase::ConfirmRefund | Phase::CancelRefund if refusal == Some(Refusal::RefundStateChanged) => {
                self.goto(Phase::PollRefund)
            }
            Phase::FindRefundPayment => self.reject_from(&error),
            Phase::CreateInvoice => match refusal {
                Some(Refusal::AlreadyExists) => self.invoice_exists(&error),
                _ => self.reject_from(&error),
            },
            Phase::CancelInvoice => self.invoice_cancel_refused(&error),
            Phase::CreateAgreement | Phase::CreateAgreementRefund => self.reject_from(&error),
            Phase::FindAgreement | Phase::FindAgreementRefund => self.lookup_failed(&error),
            Phase::CaptureFirstPayment | Phase::CancelAgreement => self.agreement_change_refused(&error),
            Phase::PollAgreement if matches!(error, BackendError::NotFound) => {
                self.needs_human("the agreement is unknown to MobilePay")
            }
            Phase::PollInvoice if matches!(error, BackendError::NotFound) => {
                self.needs_human("the invoice is unknown to MobilePay")
            }
            Phase::Poll if matches!(error, BackendError::NotFound) => {
                self.needs_human("the payment is unknown to MobilePay")
            }
            phase => self.needs_human(&format!(
                "MobilePay refused a request in phase {phase:?}: {error}"
            )),
        }
    }

    /// The backend refused our idempotency key as used for another request: nothing was done
    /// with this one, and repeating it cannot help.
    fn key_refused(&mut self, error: &BackendError) {
        self.needs_human(&format!("MobilePay refused our idempotency key ({error})"))
    }

    /// A request failed in a way that may pass: retry with back-off, and answer the caller once
    /// it has waited long enough.
    pub(super) fn on_transient(&mut self, error: &BackendError) {
        if matches!(
            self.rec.phase,
            Phase::Create | Phase::CreateRefund | Phase::CreateInvoice
        ) && matches!(error, BackendError::NoAnswer | BackendError::Server { .. })
        {
            self.rec.create_unanswered = true;
        }
        if let Some((since, attempts)) = self.earlier_failures.take() {
            self.rec.failing_since_ms = Some(since);
            self.rec.attempts = attempts;
        }
        self.rec.attempts = self.rec.attempts.saturating_add(1);
        let since = *self.rec.failing_since_ms.get_or_insert(self.now);
        if !self.rec.answered && self.now.saturating_sub(since) >= self.policy.answer_unknown_after_ms {
            self.answer_while_unreachable();
        }
        let backoff = Backoff::new(
            Duration::from_millis(self.policy.retry_base_ms),
            Duration::from_millis(self.policy.retry_max_ms),
        )
        .delay(self.rec.attempts);
        let backoff = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
        let delay = if matches!(
            self.rec.phase,
            Phase::Poll | Phase::PollRefund | Phase::PollInvoice | Phase::PollAgreement
        ) {
            backoff.max(u64::from(self.rec.last_poll_delay_ms))
        } else {
            backoff
        };
        self.push(Action::Persist { durable: false });
        self.push(Action::Sleep(delay));
    }

    /// The backend has been unreachable for too long: give the caller the truth as far as it is
    /// known, persist what happens next, and let the flow go on in the background.
    fn answer_while_unreachable(&mut self) {
        let outcome = match self.rec.phase {
            // The customer approved and the decision to capture is stored: the sale stands.
            Phase::Capture if self.rec.kind() != CommandKind::Cancel => Outcome::CapturePending {
                payment_id: self.payment_id(),
                amount: match self.rec.decision {
                    Some(Decision::Capture(a)) => a,
                    _ => self.rec.payment_amount().unwrap_or_default(),
                },
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
            },
            // The customer accepted and the decision to capture the first payment is stored:
            // the sign-up stands.
            Phase::CaptureFirstPayment => match &self.rec.command {
                Command::SignUp {
                    first_payment,
                    currency,
                    ..
                } => Outcome::SignedUp {
                    agreement_id: self.rec.agreement_id.clone().unwrap_or_default(),
                    first_payment_id: self.rec.payment_id.clone(),
                    first_payment: *first_payment,
                    currency: *currency,
                },
                _ => Outcome::Unknown {
                    payment_id: self.rec.payment_id.clone(),
                },
            },
            // A reserved refund is paid out by MobilePay after 24 h even without our capture.
            Phase::ConfirmRefund => Outcome::Refunded {
                refund_id: self.rec.refund_id.clone().unwrap_or_default(),
                payment_id: self.payment_id(),
                amount: self.refund_amount(),
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
            },
            _ => {
                // The cashier hears "unknown" and will not hand over goods (or will settle the
                // refund another way), so whatever turns up later is cancelled, never charged.
                if matches!(
                    self.rec.kind(),
                    CommandKind::Pay
                        | CommandKind::Prepare
                        | CommandKind::Ready
                        | CommandKind::Refund
                        | CommandKind::Invoice
                        | CommandKind::SignUp
                ) {
                    self.rec.decision = Some(Decision::Cancel);
                }
                Outcome::Unknown {
                    payment_id: self.rec.payment_id.clone(),
                }
            }
        };
        if matches!(outcome, Outcome::Unknown { .. }) {
            self.push(Action::Emit(EventKind::OutcomeUnknown {
                payment_id: self.rec.payment_id.clone(),
            }));
        }
        self.rec.outcome = Some(outcome.clone());
        self.rec.answered = true;
        self.push(Action::Persist { durable: true });
        self.push(Action::Answer(outcome));
    }

    fn reject_from(&mut self, error: &BackendError) {
        let (code, message) = reject_code(error);
        self.finish(Outcome::Rejected { code, message });
    }
}

/// The stable reject code for a definitive refusal.
pub fn reject_code(error: &BackendError) -> (RejectCode, String) {
    let code = match error {
        BackendError::Refused { reason, .. } => match reason {
            Refusal::InvalidAmount => RejectCode::InvalidAmount,
            Refusal::InvalidOrderId => RejectCode::InvalidOrderId,
            Refusal::InvalidRefundOrderId => RejectCode::InvalidRefundOrderId,
            Refusal::InvalidLabel => RejectCode::InvalidLabel,
            Refusal::UnknownPointOfSale => RejectCode::PointOfSaleNotFound,
            Refusal::StoreNotActivated => RejectCode::StoreNotActivated,
            Refusal::UnknownPayment => RejectCode::PaymentNotFound,
            Refusal::NotCaptured => RejectCode::PaymentNotCaptured,
            Refusal::CurrencyMismatch => RejectCode::CurrencyMismatch,
            Refusal::PaymentTooOld => RejectCode::PaymentTooOld,
            Refusal::AmountAboveRefundable => RejectCode::RefundTooHigh,
            Refusal::InsufficientBalance => RejectCode::InsufficientBalance,
            Refusal::AmountAboveReserved => RejectCode::CaptureExceedsReservation,
            Refusal::RecipientUnknown => RejectCode::NotAMobilepayUser,
            Refusal::RecipientUnavailable => RejectCode::CustomerUnavailable,
            Refusal::DailyLimitReached => RejectCode::DailyLimitReached,
            Refusal::InvalidDueDate => RejectCode::InvalidDueDate,
            Refusal::NotSetUp => RejectCode::ProductNotSetUp,
            Refusal::NotCheckedIn
            | Refusal::AlreadyPaid
            | Refusal::NotCapturable
            | Refusal::NotCancellable
            | Refusal::RefundStateChanged => RejectCode::WrongState,
            Refusal::PointOfSaleBusy
            | Refusal::PartialCaptureNotAllowed
            | Refusal::CapturedWithOtherAmount
            | Refusal::KeyReused
            | Refusal::AlreadyExists
            | Refusal::StateConflict
            | Refusal::Invalid => RejectCode::InvalidRequest,
        },
        BackendError::NotFound => RejectCode::PaymentNotFound,
        BackendError::Forbidden { .. } | BackendError::Unauthorized => RejectCode::Forbidden,
        BackendError::Server { .. } | BackendError::NoAnswer => RejectCode::InvalidRequest,
    };
    (code, format!("MobilePay refused the request: {error}"))
}
