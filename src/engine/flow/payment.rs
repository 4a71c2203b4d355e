//! A payment's states as the flows read them: waiting, checked in, reserved, captured or
//! ended, for a sale as well as for the capture and cancel commands that act on one, and the
//! outcomes a payment can end in.

use super::{Action, Flow};
use crate::engine::api::{Command, CommandKind, CustomerInfo, DeclineReason, EventKind, Outcome, RejectCode};
use crate::engine::backend::{
    BackendError, CustomerPrompt, Decliner, PartialCapture, PaymentInfo, PaymentState,
};
use crate::engine::record::{Decision, Phase};
use crate::money::Minor;

impl Flow<'_> {
    pub(super) fn on_payment(&mut self, p: PaymentInfo) {
        let delay = self.polled(p.poll_delay_ms);
        if let PaymentState::Authorized(amounts) = &p.state {
            if self.rec.reserved.is_none() && p.state.is_reserved() {
                self.rec.reserved = Some(amounts.authorized);
            }
        }
        if let Some(currency) = p.currency {
            self.rec.currency.get_or_insert(currency);
        }
        match self.rec.kind() {
            CommandKind::Cancel => return self.cancel_target_state(p),
            CommandKind::Capture => return self.capture_target_state(p),
            _ => {}
        }
        let is_prepare = self.rec.kind() == CommandKind::Prepare;
        match &p.state {
            PaymentState::WaitingForCustomer => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                let prompt = p.prompt.clone().or_else(|| self.policy.prompt.clone());
                self.announce_waiting(&p.payment_id, prompt, p.amount);
                self.poll_again(delay);
            }
            PaymentState::CheckedIn => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                match self.rec.kind() {
                    CommandKind::Prepare => {
                        match (&p.loyalty_ids, &p.customer_receipt_token) {
                            (Some(loyalty), Some(receipt)) => {
                                let customer = CustomerInfo {
                                    loyalty_ids: loyalty.clone(),
                                    customer_token: p.customer_token.clone(),
                                    customer_receipt_token: Some(receipt.clone()),
                                };
                                self.announce_checkin(&p.payment_id, customer.clone());
                                self.finish(Outcome::Paired {
                                    payment_id: p.payment_id,
                                    customer,
                                });
                            }
                            // Looked up only after pairing: poll again until both are known.
                            _ => self.poll_again(delay),
                        }
                    }
                    // Our terms have not been applied (e.g. lost before a crash): send them again.
                    CommandKind::Ready => self.goto(Phase::SetTerms),
                    _ => self.poll_again(delay),
                }
            }
            PaymentState::CustomerIdentified => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                let customer = customer_of(&p);
                self.announce_checkin(&p.payment_id, customer);
                self.poll_again(delay);
            }
            PaymentState::Authorized(amounts) if amounts.captured.is_positive() => {
                if self.rec.decision == Some(Decision::Cancel) {
                    return self.needs_human("the payment is captured although it was to be cancelled");
                }
                self.captured();
            }
            // Released without a capture: cancelled by a merchant request.
            PaymentState::Authorized(amounts) if amounts.cancelled.is_positive() => {
                let reason = self.cancel_reason();
                self.declined(reason)
            }
            PaymentState::Authorized(_) => self.on_reserved(p, is_prepare),
            PaymentState::Declined(Decliner::Customer) => self.declined(DeclineReason::CancelledByUser),
            PaymentState::Declined(Decliner::Backend) => self.declined(DeclineReason::CancelledByMobilePay),
            PaymentState::Expired => self.declined(DeclineReason::ExpiredAndCancelled),
            PaymentState::Cancelled => {
                let reason = self.cancel_reason();
                self.declined(reason)
            }
            // Not successful and not understood: keep asking, as for a failed request.
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    /// Tells the cash register and the customer display, once, that the payment waits for the
    /// customer, with what the customer is shown and the amount (none yet for a prepared
    /// payment); `read_amount` is the backend's, when a status read gave one.
    pub(super) fn announce_waiting(
        &mut self,
        payment_id: &str,
        prompt: Option<CustomerPrompt>,
        read_amount: Option<Minor>,
    ) {
        if self.rec.announced.waiting {
            return;
        }
        self.rec.announced.waiting = true;
        let amount = if self.rec.kind() == CommandKind::Prepare {
            None
        } else {
            read_amount.or(self.rec.payment_amount())
        };
        self.push(Action::Emit(EventKind::WaitingForCustomer {
            payment_id: payment_id.to_string(),
            prompt,
            amount,
            currency: if amount.is_some() { self.rec.currency } else { None },
        }));
        self.push(Action::Persist { durable: false });
    }

    /// The customer approved: the money is reserved. Kept for a later capture, or captured now
    /// after the decision is stored.
    fn on_reserved(&mut self, p: PaymentInfo, is_prepare: bool) {
        let partial = self.partial_capture_possible(&p);
        self.rec.partial_capture_possible = partial;
        let amount = self
            .rec
            .reserved
            .or(self.rec.payment_amount())
            .unwrap_or_default();
        if !self.rec.announced.reserved {
            self.rec.announced.reserved = true;
            self.push(Action::Emit(EventKind::Reserved {
                payment_id: p.payment_id.clone(),
                amount,
                partial_capture_possible: partial.unwrap_or(false),
            }));
        }
        if self.wants_cancel() {
            return self.goto(Phase::CancelPayment);
        }
        if is_prepare {
            return self.needs_human("a prepared payment is reserved without a ready");
        }
        if self.rec.keep_reservation() {
            self.finish(Outcome::Reserved {
                payment_id: p.payment_id,
                amount,
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
                partial_capture_possible: partial.unwrap_or(false),
            });
        } else {
            self.rec.decision = Some(Decision::Capture(amount));
            self.push(Action::Persist { durable: false });
            self.goto(Phase::Capture);
        }
    }

    /// Whether less than the reserved amount may be captured. A backend that tells only by
    /// refusing a partial capture is tried: its refusal ends the command as
    /// `PartialCaptureRefused`, as a known "no" would.
    fn partial_capture_possible(&self, p: &PaymentInfo) -> Option<bool> {
        match self.policy.capabilities.partial_capture {
            PartialCapture::Announced => p.partial_capture_possible,
            PartialCapture::OnlyFromRefusal => Some(true),
        }
    }

    /// A cancel command re-reads the payment after the backend refused the cancel.
    fn cancel_target_state(&mut self, p: PaymentInfo) {
        match &p.state {
            PaymentState::Authorized(a) if a.captured.is_positive() => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the payment is captured; refund it instead".into(),
            }),
            s if s.is_ended() => self.cancelled(),
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            _ => self.goto(Phase::CancelPayment),
        }
    }

    /// A capture command re-reads the payment after the backend said it is not capturable.
    fn capture_target_state(&mut self, p: PaymentInfo) {
        match &p.state {
            s if s.is_reserved() => self.goto(Phase::Capture),
            PaymentState::Authorized(a) if a.captured.is_positive() => self.captured(),
            PaymentState::Authorized(_) | PaymentState::Cancelled => {
                self.declined(DeclineReason::CancelledElsewhere)
            }
            PaymentState::Declined(Decliner::Customer) => self.declined(DeclineReason::CancelledByUser),
            PaymentState::Declined(Decliner::Backend) => self.declined(DeclineReason::CancelledByMobilePay),
            PaymentState::Expired => self.declined(DeclineReason::ExpiredAndCancelled),
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            other => {
                let message = format!("the payment is {other}, not reserved");
                self.finish(Outcome::Rejected {
                    code: RejectCode::WrongState,
                    message,
                })
            }
        }
    }

    pub(super) fn cancel_reason(&self) -> DeclineReason {
        if self.rec.cancel_requested {
            DeclineReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            DeclineReason::Abandoned
        } else {
            DeclineReason::CancelledElsewhere
        }
    }

    /// Our cancel of the payment went through.
    pub(super) fn cancelled(&mut self) {
        if self.rec.kind() == CommandKind::Cancel {
            let target = match &self.rec.command {
                Command::Cancel { target } => target.clone(),
                _ => self.rec.id.clone(),
            };
            self.finish(Outcome::Cancelled { target });
        } else {
            let reason = self.cancel_reason();
            self.declined(reason);
        }
    }

    pub(super) fn captured(&mut self) {
        let amount = match self.rec.decision {
            Some(Decision::Capture(a)) => a,
            _ => self
                .rec
                .reserved
                .or(self.rec.payment_amount())
                .unwrap_or_default(),
        };
        self.finish(Outcome::Captured {
            payment_id: self.payment_id(),
            amount,
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        });
    }

    pub(super) fn declined(&mut self, reason: DeclineReason) {
        self.finish(Outcome::Declined {
            payment_id: self.rec.payment_id.clone(),
            reason,
        });
    }

    pub(super) fn partial_refused(&mut self, requested: Minor) {
        self.finish(Outcome::PartialCaptureRefused {
            payment_id: self.payment_id(),
            reserved: self.rec.reserved.unwrap_or_default(),
            requested,
        });
    }

    fn announce_checkin(&mut self, payment_id: &str, customer: CustomerInfo) {
        if !self.rec.announced.checked_in {
            self.rec.announced.checked_in = true;
            self.push(Action::Emit(EventKind::CustomerCheckedIn {
                payment_id: payment_id.to_string(),
                customer,
            }));
            self.push(Action::Persist { durable: false });
        }
    }
}

fn customer_of(p: &PaymentInfo) -> CustomerInfo {
    CustomerInfo {
        loyalty_ids: p.loyalty_ids.clone().unwrap_or_default(),
        customer_token: p.customer_token.clone(),
        customer_receipt_token: p.customer_receipt_token.clone(),
    }
}
