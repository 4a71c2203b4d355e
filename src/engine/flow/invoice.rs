//! Invoices: issue one, follow it while the customer is at the counter, answer how it stands
//! then, and go on following an unpaid one in the background until it is paid or ends; cancel
//! one on the cashier's request.
//!
//! The create is the one request that must not be repeated blindly (docs/engine.md, "Invoices").
//! Its reference is the command's key, so a repeat is the same request. Where the backend
//! answers a repeat with "already exists" and no id ([`CreateReplay::RefusedAsDuplicate`]):
//! - a link that was never shown is harmless: a new one is created under the next round's
//!   reference, and the lost one expires unseen; but a command accepted while the journal is in
//!   doubt may be the repeat of one a lost journal issued, whose link was shown and perhaps
//!   paid: that goes to a person too;
//! - an invoice pushed to a phone is on the customer's phone already, and cannot be found
//!   without its id: the cashier is told so and a person checks it. A second push never
//!   happens.

use super::{Action, Flow};
use crate::engine::api::{Command, CommandKind, EventKind, InvoiceEndReason, Outcome, RejectCode};
use crate::engine::backend::BackendError;
use crate::engine::invoicing::{
    CreateReplay, CreatedInvoice, InvoiceDelivery, InvoiceInfo, InvoiceState, NewInvoice,
};
use crate::engine::record::{Decision, Phase};

/// How often an invoice is read once the cashier has the answer: it changes on the day of a
/// scheduled payment or when it expires, so a few reads an hour are plenty.
pub const BACKGROUND_POLL_MS: u64 = 15 * 60 * 1000;

/// Fastest read of an invoice while the customer is at the counter, whatever the backend
/// allows.
const COUNTER_POLL_MIN_MS: u64 = 1000;

/// Cancels refused because of the invoice's state, after which it is read and the cancel
/// decided again; past them, a person looks at it.
const CANCEL_REFUSALS_RETRIED: u32 = 5;

impl Flow<'_> {
    /// The invoice this command issues, as the backend is asked for it. The same record always
    /// gives the same request: a repeat after a lost answer must be recognisable as one.
    pub(super) fn new_invoice(&self) -> Option<NewInvoice> {
        let Command::Invoice {
            amount,
            currency,
            order_id,
            delivery,
            order_lines,
            label,
            ..
        } = &self.rec.command
        else {
            return None;
        };
        let reference = match self.rec.invoice_round {
            0 => self.key(),
            round => format!("{}-{round}", self.key()),
        };
        Some(NewInvoice {
            reference,
            order_id: order_id.clone(),
            amount: *amount,
            currency: *currency,
            delivery: delivery.clone(),
            issue_date: self.rec.invoice_issue_date(),
            due_date: self.rec.invoice_due_date()?,
            lines: order_lines.clone(),
            description: label.clone(),
        })
    }

    pub(super) fn invoice_id(&self) -> String {
        self.rec.invoice_id.clone().unwrap_or_default()
    }

    /// The invoice exists. Its id (and link) are durable before anything shows it: the customer
    /// may pay what the display shows, so the journal must never forget it.
    pub(super) fn invoice_created(&mut self, created: CreatedInvoice) {
        self.rec.invoice_id = Some(created.invoice_id);
        self.rec.customer_link = created.link;
        self.push(Action::Persist { durable: true });
        if self.wants_cancel() {
            return self.goto(Phase::CancelInvoice);
        }
        self.announce_invoice();
        self.rec.phase = Phase::PollInvoice;
        let delay = self.invoice_poll_delay();
        self.poll_again(delay);
    }

    /// The backend says the invoice exists already, without naming it.
    pub(super) fn invoice_exists(&mut self, error: &BackendError) {
        let replay = self.policy.invoices.map(|r| r.create_replay);
        match (&self.rec.command, replay) {
            (
                Command::Invoice {
                    delivery: InvoiceDelivery::Link,
                    order_id,
                    ..
                },
                Some(CreateReplay::RefusedAsDuplicate),
            ) if self.rec.accepted_in_doubt && self.rec.invoice_round == 0 => {
                let detail = format!(
                    "the invoice for order {order_id} exists already and mposd's journal was \
                     rebuilt after damage: it may have been shown and paid before, and MobilePay \
                     does not say its id, so mposd makes no second one: check the invoice in the \
                     MobilePay portal before issuing it again"
                );
                self.needs_human(&detail)
            }
            (
                Command::Invoice {
                    delivery: InvoiceDelivery::Link,
                    ..
                },
                Some(CreateReplay::RefusedAsDuplicate),
            ) => {
                self.rec.invoice_round = self.rec.invoice_round.saturating_add(1);
                self.push(Action::Persist { durable: true });
                self.issue()
            }
            (
                Command::Invoice {
                    delivery: InvoiceDelivery::Phone { .. },
                    order_id,
                    ..
                },
                Some(CreateReplay::RefusedAsDuplicate),
            ) => {
                // The number stays out: the detail is logged, and the cashier has it.
                let detail = format!(
                    "the invoice for order {order_id} was sent to the customer's phone by a \
                     request whose answer was lost, and MobilePay does not say its id, so mposd \
                     cannot follow it: ask the customer to look in the MobilePay app, and check \
                     the invoice in the MobilePay portal before issuing it again"
                );
                self.needs_human(&detail)
            }
            _ => self.needs_human(&format!(
                "MobilePay refused the invoice as existing already ({error})"
            )),
        }
    }

    /// An invoice's state, read by the command that issued it.
    pub(super) fn on_invoice(&mut self, invoice: InvoiceInfo) {
        if self.rec.kind() == CommandKind::Cancel {
            return self.cancel_target_invoice(invoice);
        }
        match invoice.state {
            InvoiceState::Issued => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelInvoice);
                }
                if !self.rec.answered && self.now >= self.rec.counter_until_ms() {
                    let outcome = Outcome::InvoiceOutstanding {
                        invoice_id: invoice.invoice_id,
                        amount: self.rec.payment_amount().unwrap_or_default(),
                        currency: self.currency(),
                        due_date: self.rec.invoice_due_date().unwrap_or_default(),
                    };
                    self.answer_and_follow(outcome);
                }
                let delay = self.invoice_poll_delay();
                self.poll_again(delay);
            }
            InvoiceState::Scheduled { payment_date } => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelInvoice);
                }
                let outcome = Outcome::InvoiceScheduled {
                    invoice_id: invoice.invoice_id.clone(),
                    amount: self.rec.payment_amount().unwrap_or_default(),
                    currency: self.currency(),
                    payment_date,
                };
                if self.rec.outcome.as_ref() != Some(&outcome) {
                    self.push(Action::Emit(EventKind::InvoiceScheduled {
                        invoice_id: invoice.invoice_id,
                        payment_date,
                    }));
                    if self.rec.answered {
                        self.rec.outcome = Some(outcome);
                        self.push(Action::Persist { durable: true });
                    } else {
                        self.answer_and_follow(outcome);
                    }
                }
                let delay = self.invoice_poll_delay();
                self.poll_again(delay);
            }
            InvoiceState::Paid
                if self.rec.decision == Some(Decision::Cancel) && !self.rec.cancel_requested =>
            {
                self.needs_human(&format!(
                    "invoice {} was paid after the cashier was told its outcome is unknown: check \
                     whether the sale was settled another way, and refund one of them",
                    invoice.invoice_id
                ))
            }
            InvoiceState::Paid => self.finish(Outcome::InvoicePaid {
                invoice_id: invoice.invoice_id,
                amount: self.rec.payment_amount().unwrap_or_default(),
                currency: self.currency(),
            }),
            InvoiceState::Rejected => self.invoice_ended(InvoiceEndReason::RejectedByCustomer),
            InvoiceState::Expired => self.invoice_ended(InvoiceEndReason::Expired),
            InvoiceState::Cancelled => {
                let reason = self.invoice_cancel_reason();
                self.invoice_ended(reason)
            }
            // Not understood: keep asking, as for a failed request.
            InvoiceState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    /// Our cancel of the invoice went through.
    pub(super) fn invoice_cancelled(&mut self) {
        if self.rec.kind() == CommandKind::Cancel {
            self.cancelled()
        } else {
            let reason = self.invoice_cancel_reason();
            self.invoice_ended(reason)
        }
    }

    /// The backend refused to cancel the invoice: read it and decide again (it may have been
    /// paid, or cancelled by the other of two cancels), a few times at most.
    pub(super) fn invoice_cancel_refused(&mut self, error: &BackendError) {
        if matches!(error, BackendError::NotFound) {
            return self.needs_human("the invoice to cancel is unknown to MobilePay");
        }
        if error.refusal().is_some() && self.rec.refused_changes <= CANCEL_REFUSALS_RETRIED {
            return self.goto(Phase::PollInvoice);
        }
        self.needs_human(&format!("the invoice could not be cancelled: {error}"))
    }

    /// A cancel command reads the invoice after its cancel was refused.
    fn cancel_target_invoice(&mut self, invoice: InvoiceInfo) {
        match invoice.state {
            InvoiceState::Paid => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the invoice is paid; it cannot be cancelled".into(),
            }),
            s if s.is_final() => self.cancelled(),
            InvoiceState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            _ if self.rec.refused_changes <= CANCEL_REFUSALS_RETRIED => self.goto(Phase::CancelInvoice),
            state => self.needs_human(&format!("the invoice stays {state:?} although it was cancelled")),
        }
    }

    /// Tells the cash register and the customer display, once, that the invoice is issued and
    /// what the customer is shown: its link, or the phone it went to.
    fn announce_invoice(&mut self) {
        if self.rec.announced.waiting {
            return;
        }
        self.rec.announced.waiting = true;
        let phone = match &self.rec.command {
            Command::Invoice {
                delivery: InvoiceDelivery::Phone { number },
                ..
            } => Some(masked_phone(number)),
            _ => None,
        };
        self.push(Action::Emit(EventKind::InvoiceIssued {
            invoice_id: self.invoice_id(),
            link: self.rec.customer_link.clone(),
            phone,
            amount: self.rec.payment_amount().unwrap_or_default(),
            currency: self.currency(),
            due_date: self.rec.invoice_due_date().unwrap_or_default(),
        }));
        self.push(Action::Persist { durable: false });
    }

    /// Answers the cash register now and keeps following the invoice.
    fn answer_and_follow(&mut self, outcome: Outcome) {
        self.rec.outcome = Some(outcome.clone());
        self.rec.answered = true;
        self.push(Action::Persist { durable: true });
        self.push(Action::Answer(outcome));
    }

    fn invoice_ended(&mut self, reason: InvoiceEndReason) {
        self.finish(Outcome::InvoiceEnded {
            invoice_id: self.rec.invoice_id.clone(),
            reason,
        })
    }

    fn invoice_cancel_reason(&self) -> InvoiceEndReason {
        if self.rec.cancel_requested {
            InvoiceEndReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            InvoiceEndReason::Abandoned
        } else {
            InvoiceEndReason::CancelledElsewhere
        }
    }

    /// The pace of reads: as fast as the backend allows while the cashier waits for the
    /// answer, then [`BACKGROUND_POLL_MS`]. Stored with the read's time, so a restart keeps
    /// the pace.
    fn invoice_poll_delay(&mut self) -> u64 {
        let delay = if self.rec.answered {
            BACKGROUND_POLL_MS
        } else {
            let per_minute = self.policy.invoices.map_or(30, |r| r.polls_per_minute.max(1));
            (60_000 / u64::from(per_minute)).max(COUNTER_POLL_MIN_MS)
        };
        self.rec.last_poll_delay_ms = u32::try_from(delay).unwrap_or(u32::MAX);
        self.rec.last_poll_at_ms = self.now;
        delay
    }

    fn currency(&self) -> crate::money::Currency {
        self.rec.currency.unwrap_or(crate::money::Currency::DKK)
    }
}

/// A phone number with all but its last four digits hidden, for the customer display and the
/// log: `+••••••5678`.
pub fn masked_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().collect();
    let shown = digits.len().saturating_sub(4);
    let mut masked = String::from("+");
    masked.extend(std::iter::repeat_n('•', shown));
    masked.extend(&digits[shown..]);
    masked
}

#[cfg(test)]
mod tests {
    use super::masked_phone;

    #[test]
    fn phones_are_masked_but_for_the_last_four_digits() {
        assert_eq!(masked_phone("4512345678"), "+••••••5678");
        assert_eq!(masked_phone("358401234567"), "+••••••••4567");
        assert_eq!(masked_phone("12"), "+12");
    }
}
