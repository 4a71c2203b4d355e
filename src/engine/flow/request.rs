//! The request each phase makes. A phase names where a flow stands; this decides the one
//! backend call it needs next (or skips ahead when the backend lacks the means, e.g. a list of
//! open payments), so a resumed flow repeats exactly the request it was waiting for.

use super::{Action, ApiCall, Flow};
use crate::engine::api::{Command, CommandKind, PaymentSelector};
use crate::engine::backend::{NewCheckIn, NewPayment, NewRefund, PaymentQuery, PaymentTerms};
use crate::engine::record::{Decision, OrderCheck, Phase};

impl Flow<'_> {
    /// Makes the request of the current phase.
    pub(super) fn issue(&mut self) {
        let rec = &*self.rec;
        let lists = self.policy.capabilities.lists_open_payments;
        let by_reference = self.policy.capabilities.payment_named_by_reference;
        let call = match &rec.phase {
            // A backend that names payments by our reference refuses a second payment with it,
            // so the create can be repeated at any age.
            Phase::Create if self.key_too_old() && !by_reference => return self.goto(Phase::FindOwn),
            Phase::Create => match &rec.command {
                Command::Pay {
                    order_id,
                    payer,
                    order_lines,
                    ..
                } => match self.terms() {
                    Some(terms) => ApiCall::CreatePayment {
                        key: self.key(),
                        payment: NewPayment {
                            reference: self.key(),
                            point_of_sale: rec.pos_id.clone(),
                            order_id: order_id.clone(),
                            terms,
                            payer: payer.clone(),
                            order_lines: order_lines.clone(),
                        },
                    },
                    None => return self.needs_human("a sale without its amount"),
                },
                Command::Prepare { order_id } => ApiCall::CheckIn {
                    key: self.key(),
                    check_in: NewCheckIn {
                        reference: self.key(),
                        point_of_sale: rec.pos_id.clone(),
                        order_id: order_id.clone(),
                    },
                },
                _ => return self.needs_human("a create phase on a command that creates nothing"),
            },
            // Without a list to look in, our own payment cannot be found by its order: a person
            // checks it (the create key alone can no longer be replayed safely).
            Phase::FindOwn if !lists => {
                return self.needs_human(
                    "the payment was never confirmed and its request is too old to repeat; \
                     check the order's payments at the backend",
                )
            }
            // Without a list, a replay is safe anyway: the create key (and the reference) are
            // derived from the command, so a lost journal repeats them unchanged.
            Phase::CheckOrder(_) if !lists => return self.goto(Phase::Create),
            Phase::FindOwn | Phase::CheckOrder(OrderCheck::Open) => self.find_own(false),
            Phase::CheckOrder(OrderCheck::Inspect { payment_id }) => ApiCall::GetPayment {
                payment_id: payment_id.clone(),
            },
            Phase::CheckOrder(OrderCheck::Captured) => self.find_own(true),
            Phase::ClearStale { pending: None } => ApiCall::FindPayments {
                query: PaymentQuery {
                    point_of_sale: Some(rec.pos_id.clone()),
                    order_id: None,
                    captured: false,
                },
            },
            Phase::ClearStale { pending: Some(ids) } => match ids.first() {
                Some(id) => ApiCall::GetPayment {
                    payment_id: id.clone(),
                },
                None => {
                    self.rec.stale_cleared = true;
                    return self.goto(Phase::Create);
                }
            },
            Phase::SetTerms => match self.terms() {
                Some(terms) if rec.kind() == CommandKind::Ready => ApiCall::SetTerms {
                    payment_id: self.payment_id(),
                    terms,
                },
                _ => return self.needs_human("a ready phase on a command that is not ready"),
            },
            Phase::Poll => ApiCall::GetPayment {
                payment_id: self.payment_id(),
            },
            Phase::Capture => {
                let amount = match rec.decision {
                    Some(Decision::Capture(amount)) => amount,
                    _ => return self.needs_human("a capture without a capture decision"),
                };
                let partial = rec.reserved.is_some_and(|r| amount < r);
                if partial && rec.partial_capture_possible == Some(false) {
                    return self.partial_refused(amount);
                }
                ApiCall::Capture {
                    key: self.change_key("capture"),
                    payment_id: self.payment_id(),
                    amount,
                }
            }
            Phase::CancelPayment => ApiCall::CancelPayment {
                key: self.change_key("cancel"),
                payment_id: self.payment_id(),
            },
            Phase::AwaitTarget => return,
            Phase::FindRefundPayment => ApiCall::FindPayments {
                query: PaymentQuery {
                    point_of_sale: None,
                    order_id: match &rec.command {
                        Command::Refund {
                            payment: PaymentSelector::OrderId(order),
                            ..
                        } => Some(order.clone()),
                        _ => None,
                    },
                    captured: true,
                },
            },
            Phase::CreateRefund if self.key_too_old() => {
                return self.needs_human(
                    "the refund was never confirmed and its request is too old to repeat; \
                     check the payment's refunds at MobilePay",
                )
            }
            Phase::CreateRefund => match &rec.command {
                Command::Refund {
                    amount,
                    currency,
                    refund_order_id,
                    ..
                } => ApiCall::Refund {
                    key: self.key(),
                    refund: NewRefund {
                        payment_id: self.payment_id(),
                        refund_order_id: refund_order_id.clone(),
                        amount: *amount,
                        currency: *currency,
                    },
                },
                _ => return self.needs_human("a refund phase on a command that is not a refund"),
            },
            Phase::PollRefund => ApiCall::GetRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::ConfirmRefund => ApiCall::ConfirmRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::CancelRefund => ApiCall::CancelRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::CreateInvoice => match self.new_invoice() {
                Some(invoice) => ApiCall::CreateInvoice { invoice },
                None => return self.needs_human("an invoice phase on a command that is not an invoice"),
            },
            Phase::PollInvoice => ApiCall::GetInvoice {
                invoice_id: self.invoice_id(),
            },
            Phase::CancelInvoice => ApiCall::CancelInvoice {
                invoice_id: self.invoice_id(),
            },
            Phase::CreateAgreement
            | Phase::FindAgreement
            | Phase::PollAgreement
            | Phase::CaptureFirstPayment
            | Phase::CancelAgreement
            | Phase::CreateAgreementRefund
            | Phase::FindAgreementRefund => match self.agreement_call() {
                Some(call) => call,
                None => return,
            },
            Phase::Done => return self.push(Action::Stop),
        };
        self.push(Action::Call(call));
    }

    /// Lists our point of sale's open (or captured) payments with this command's order id.
    fn find_own(&self, captured: bool) -> ApiCall {
        ApiCall::FindPayments {
            query: PaymentQuery {
                point_of_sale: Some(self.rec.pos_id.clone()),
                order_id: self.rec.command.order_id().map(str::to_string),
                captured,
            },
        }
    }

    /// The amount and terms of a `Pay` or `Ready` command.
    fn terms(&self) -> Option<PaymentTerms> {
        match &self.rec.command {
            Command::Pay {
                amount,
                currency,
                restrictions,
                label,
                ..
            }
            | Command::Ready {
                amount,
                currency,
                restrictions,
                label,
                ..
            } => Some(PaymentTerms {
                amount: *amount,
                currency: *currency,
                restrictions: *restrictions,
                label: label.clone(),
                keep_reservation: self.rec.keep_reservation(),
            }),
            _ => None,
        }
    }
}
