//! Cancels: the cashier's cancel of a command in flight, and a cancel command that waits for
//! the command it cancels to be answered before it acts on the payment.

use super::{Action, Flow};
use crate::engine::api::{DeclineReason, Outcome, RefundCancelReason, RejectCode};
use crate::engine::record::{Decision, Phase};

impl Flow<'_> {
    pub(super) fn on_cancel(&mut self) {
        if self.rec.phase == Phase::Done {
            return;
        }
        self.rec.cancel_requested = true;
        self.push(Action::Persist { durable: true });
        match self.rec.phase.clone() {
            Phase::SetTerms | Phase::Poll => self.goto(Phase::CancelPayment),
            Phase::PollInvoice => self.goto(Phase::CancelInvoice),
            Phase::PollAgreement => self.goto(Phase::CancelAgreement),
            Phase::PollRefund => self.goto(Phase::CancelRefund),
            Phase::ClearStale { .. } | Phase::CheckOrder(_) => {
                self.declined(DeclineReason::CancelledByCashier)
            }
            Phase::FindRefundPayment => self.finish(Outcome::RefundCancelled {
                refund_id: None,
                reason: RefundCancelReason::CancelledByCashier,
            }),
            // Nothing to interrupt: a cancel command cannot itself be cancelled.
            Phase::AwaitTarget => {}
            // Create: finish creating (the key makes it safe), then cancel what was created.
            // Capture: too late, the capture goes on. Cancel phases: already cancelling.
            _ => self.issue(),
        }
    }

    pub(super) fn on_target_finished(&mut self, outcome: Outcome) {
        if self.rec.phase != Phase::AwaitTarget {
            return;
        }
        match outcome {
            Outcome::Declined { .. }
            | Outcome::RefundCancelled { .. }
            | Outcome::Cancelled { .. }
            | Outcome::Rejected { .. } => self.cancelled(),
            Outcome::Reserved { payment_id, .. } | Outcome::Paired { payment_id, .. } => {
                self.rec.payment_id = Some(payment_id);
                self.rec.decision = Some(Decision::Cancel);
                self.push(Action::Persist { durable: true });
                self.goto(Phase::CancelPayment)
            }
            Outcome::Captured { .. }
            | Outcome::CapturePending { .. }
            | Outcome::PartialCaptureRefused { .. } => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the payment was approved before the cancel took effect".into(),
            }),
            Outcome::Refunded { .. } => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the refund was paid out before the cancel took effect".into(),
            }),
            Outcome::InvoiceOutstanding { invoice_id, .. } | Outcome::InvoiceScheduled { invoice_id, .. } => {
                self.rec.invoice_id = Some(invoice_id);
                self.push(Action::Persist { durable: true });
                self.goto(Phase::CancelInvoice)
            }
            Outcome::InvoiceEnded { .. } | Outcome::AgreementEnded { .. } => self.cancelled(),
            // Cancelling a signed-up agreement ends the subscription; a captured first payment
            // stays taken (refund it on its own).
            Outcome::SignedUp { agreement_id, .. } => {
                self.rec.agreement_id = Some(agreement_id);
                self.push(Action::Persist { durable: true });
                self.goto(Phase::CancelAgreement)
            }
            Outcome::InvoicePaid { .. } => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the invoice was paid before the cancel took effect".into(),
            }),
            Outcome::Unknown { payment_id } => self.finish(Outcome::Unknown { payment_id }),
            Outcome::NeedsHuman { payment_id, detail } => {
                self.finish(Outcome::NeedsHuman { payment_id, detail })
            }
        }
    }
}
