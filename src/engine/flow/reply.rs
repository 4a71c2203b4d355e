//! What a successful backend answer means in the phase that asked for it: the next phase, or
//! the end. Answers about a payment's or refund's state go on to [`super::payment`] and
//! [`super::refund`]; an answer the phase cannot have asked for goes to a person.

use super::{Action, ApiCall, Flow, Reply};
use crate::engine::api::{Outcome, RejectCode};
use crate::engine::backend::{PaymentInfo, RefundModel};
use crate::engine::record::{OrderCheck, Phase};

impl Flow<'_> {
    pub(super) fn on_reply(&mut self, reply: Reply) {
        let phase = self.rec.phase.clone();
        match (phase, reply) {
            (Phase::Create, Reply::Id(id)) => {
                self.rec.payment_id = Some(id.clone());
                let next = if self.wants_cancel() {
                    Phase::CancelPayment
                } else {
                    // A lane whose prompt is fixed (the PoS V10 beacon) shows it as soon as the
                    // payment exists instead of after a status read: the backend holds the first
                    // read back until the customer could have acted (docs/engine.md).
                    if let Some(prompt) = self.policy.prompt.clone() {
                        self.announce_waiting(&id, Some(prompt), None);
                    }
                    Phase::Poll
                };
                if self.out.last() != Some(&Action::Persist { durable: false }) {
                    self.push(Action::Persist { durable: false });
                }
                self.goto(next);
            }
            (Phase::FindOwn, Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(id) => {
                    self.rec.payment_id = Some(id);
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::Poll);
                }
                // Neither active nor reserved: it was never created, or it has ended without
                // money taken (only this engine captures, and it had not).
                None => {
                    let reason = self.cancel_reason();
                    self.finish(Outcome::Declined {
                        payment_id: None,
                        reason,
                    });
                }
            },
            (Phase::CheckOrder(OrderCheck::Open), Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(payment_id) => self.goto(Phase::CheckOrder(OrderCheck::Inspect { payment_id })),
                None => self.goto(Phase::CheckOrder(OrderCheck::Captured)),
            },
            (Phase::CheckOrder(OrderCheck::Inspect { .. }), Reply::Payment(p)) => self.check_open_payment(p),
            (Phase::CheckOrder(OrderCheck::Captured), Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(payment_id) => {
                    let detail = self.order_already_paid(&payment_id, "captured");
                    self.rec.payment_id = Some(payment_id);
                    self.needs_human(&detail);
                }
                None => self.goto(Phase::Create),
            },
            (Phase::ClearStale { pending: None }, Reply::Ids(ids)) => {
                self.goto(Phase::ClearStale { pending: Some(ids) })
            }
            (Phase::ClearStale { pending: Some(ids) }, Reply::Payment(p)) => {
                if self.is_our_lost_payment(&p) {
                    self.rec.payment_id = Some(p.payment_id);
                    self.rec.stale_cleared = true;
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::Poll);
                } else if p.state.is_open() {
                    self.push(Action::Call(ApiCall::CancelPayment {
                        key: crate::engine::keys::change_key(&p.payment_id, "cancel stale", 0),
                        payment_id: p.payment_id,
                    }));
                } else {
                    self.goto(Phase::ClearStale {
                        pending: Some(ids[1..].to_vec()),
                    });
                }
            }
            (Phase::ClearStale { pending: Some(ids) }, Reply::Done) => self.goto(Phase::ClearStale {
                pending: Some(ids.get(1..).unwrap_or_default().to_vec()),
            }),
            (Phase::SetTerms, Reply::Done) => self.goto(Phase::Poll),
            (Phase::Poll, Reply::Payment(p)) => self.on_payment(p),
            (Phase::Capture, Reply::Done) => self.captured(),
            (Phase::CancelPayment, Reply::Done) => self.cancelled(),
            (Phase::FindRefundPayment, Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(id) => {
                    self.rec.payment_id = Some(id);
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::CreateRefund);
                }
                None => self.finish(Outcome::Rejected {
                    code: RejectCode::PaymentNotFound,
                    message: "no captured payment has that order id".into(),
                }),
            },
            // A refund that is a change to the payment is done once accepted.
            (Phase::CreateRefund, Reply::Id(id))
                if self.policy.capabilities.refunds == RefundModel::Modification =>
            {
                self.rec.refund_id = Some(id.clone());
                self.announce_refund(Some(id));
                self.refunded();
            }
            (Phase::CreateRefund, Reply::Id(id)) => {
                self.rec.refund_id = Some(id.clone());
                self.announce_refund(Some(id));
                self.push(Action::Persist { durable: false });
                let next = if self.wants_cancel() {
                    Phase::CancelRefund
                } else {
                    Phase::PollRefund
                };
                self.goto(next);
            }
            (Phase::PollRefund, Reply::Refund(r)) => self.on_refund(r),
            (Phase::ConfirmRefund, Reply::Done) => self.refunded(),
            (Phase::CancelRefund, Reply::Done) => {
                let reason = self.refund_cancel_reason();
                self.finish(Outcome::RefundCancelled {
                    refund_id: self.rec.refund_id.clone(),
                    reason,
                });
            }
            (Phase::CreateInvoice, Reply::CreatedInvoice(created)) => self.invoice_created(created),
            (Phase::PollInvoice, Reply::Invoice(invoice)) => self.on_invoice(invoice),
            (Phase::CancelInvoice, Reply::Done) => self.invoice_cancelled(),
            (Phase::CreateAgreement, Reply::CreatedAgreement(created))
            | (Phase::FindAgreement, Reply::FoundAgreement(Some(created))) => self.agreement_created(created),
            (Phase::FindAgreement, Reply::FoundAgreement(None))
            | (Phase::FindAgreementRefund, Reply::FoundRefund(None)) => self.agreement_not_found(),
            (Phase::PollAgreement, Reply::Agreement(info)) => self.on_agreement(info),
            (Phase::CaptureFirstPayment, Reply::Done) => self.signed_up(),
            (Phase::CancelAgreement, Reply::Done) => self.agreement_cancelled(),
            (Phase::CreateAgreementRefund, Reply::Id(id))
            | (Phase::FindAgreementRefund, Reply::FoundRefund(Some(id))) => self.agreement_refunded(id),
            (phase, reply) => {
                self.needs_human(&format!("unexpected backend answer {reply:?} in phase {phase:?}"))
            }
        }
    }

    /// The order check found an open payment with our order id. One still waiting for the
    /// customer, for our amount, is the lost command's own sale in progress: it is taken over.
    /// Anything else (reserved, or another amount) may be money already taken for this order,
    /// or another sale that reused the order id: a person decides, nothing is created.
    fn check_open_payment(&mut self, p: PaymentInfo) {
        let same_amount = p.amount.is_none()
            || self.rec.payment_amount().is_none()
            || p.amount == self.rec.payment_amount();
        self.rec.payment_id = Some(p.payment_id.clone());
        self.push(Action::Persist { durable: false });
        if p.state.is_open() && same_amount {
            return self.goto(Phase::Poll);
        }
        let detail = self.order_already_paid(&p.payment_id, &p.state.to_string());
        self.needs_human(&detail);
    }

    fn order_already_paid(&self, payment_id: &str, status: &str) -> String {
        format!(
            "MobilePay already has payment {payment_id} ({status}) for order {}; the journal was \
             rebuilt after damage, so mposd cannot tell whether it is this sale: check it before \
             selling again",
            self.rec.command.order_id().unwrap_or_default()
        )
    }

    /// A retry after "point of sale busy" found an active payment with our order id and amount on our point of
    /// sale after our own create went unanswered: that is our payment, created by the request
    /// whose answer was lost, not a stale one.
    fn is_our_lost_payment(&self, p: &PaymentInfo) -> bool {
        self.rec.create_unanswered
            && p.state.is_open()
            && self.rec.command.order_id() == Some(p.order_id.as_str())
            && (p.amount.is_none() || p.amount == self.rec.payment_amount())
    }
}
