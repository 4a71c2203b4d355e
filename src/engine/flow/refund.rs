//! A refund's states as the flows read them, and the outcomes a refund can end in.

use super::{Action, Flow};
use crate::engine::api::{Command, EventKind, Outcome, RefundCancelReason};
use crate::engine::backend::{BackendError, RefundInfo, RefundState};
use crate::engine::record::{Decision, Phase};
use crate::money::Minor;

impl Flow<'_> {
    pub(super) fn on_refund(&mut self, r: RefundInfo) {
        let delay = self.polled(r.poll_delay_ms);
        match &r.state {
            RefundState::Pending => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelRefund);
                }
                self.poll_again(delay);
            }
            RefundState::AwaitingConfirmation => {
                if self.wants_cancel() {
                    self.goto(Phase::CancelRefund)
                } else {
                    self.goto(Phase::ConfirmRefund)
                }
            }
            RefundState::PaidOut => self.refunded(),
            RefundState::CancelledByBackend => self.finish(Outcome::RefundCancelled {
                refund_id: Some(r.refund_id),
                reason: RefundCancelReason::CancelledByMobilePay,
            }),
            RefundState::Cancelled => {
                let reason = self.refund_cancel_reason();
                self.finish(Outcome::RefundCancelled {
                    refund_id: Some(r.refund_id),
                    reason,
                })
            }
            RefundState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    pub(super) fn refund_cancel_reason(&self) -> RefundCancelReason {
        if self.rec.cancel_requested {
            RefundCancelReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            RefundCancelReason::Abandoned
        } else {
            RefundCancelReason::CancelledElsewhere
        }
    }

    pub(super) fn refunded(&mut self) {
        self.finish(Outcome::Refunded {
            refund_id: self.rec.refund_id.clone().unwrap_or_default(),
            payment_id: self.payment_id(),
            amount: self.refund_amount(),
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        });
    }

    pub(super) fn refund_amount(&self) -> Minor {
        match &self.rec.command {
            Command::Refund { amount, .. } => *amount,
            _ => Minor(0),
        }
    }

    pub(super) fn announce_refund(&mut self, refund_id: Option<String>) {
        if !self.rec.announced.refund {
            self.rec.announced.refund = true;
            self.push(Action::Emit(EventKind::RefundInProgress {
                refund_id,
                amount: self.refund_amount(),
            }));
        }
    }
}
