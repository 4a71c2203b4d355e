//! Which commands the engine takes: the money rules checked before anything is stored or sent.
//!
//! A pure decision over the journal's records, so every rule has a unit test that needs no
//! backend, journal or runtime: one payment at a time per lane, a ready only for a prepared
//! payment whose customer checked in, a capture never above the reservation, a refund never
//! above what is left of the payment, a cancel only of something that can still be cancelled,
//! the refund's currency the payment's, and only features the backend has. The driver carries
//! the decision out: it stores the records, makes them durable and starts the flow.

use super::agreements::AgreementRules;
use super::api::{Command, CommandId, CommandKind, Outcome, PaymentSelector, RejectCode};
use super::backend::Capabilities;
use super::invoicing::InvoiceRules;
use super::record::{Decision, OrderCheck, Phase, Record};
use std::collections::HashMap;

/// What the journal knows, which the decision looks at besides the command.
pub(crate) struct Ledger<'a> {
    /// The records the engine holds (every record with work left).
    pub records: &'a HashMap<CommandId, Record>,
    /// The records of the journal this command names that the engine does not hold: its own,
    /// its target's, and for a refund those of the payment.
    pub from_disk: &'a HashMap<CommandId, Record>,
    /// The command's stored record is unreadable.
    pub unreadable: bool,
    /// Why new payments are refused now (the point of sale is being replaced), if they are.
    pub retiring: Option<String>,
    /// The journal was rebuilt after damage: look the order up before creating.
    pub in_doubt: bool,
    pub capabilities: &'a Capabilities,
    /// The rules of the lane's invoices; `None` when it issues none.
    pub invoices: Option<InvoiceRules>,
    /// The rules of the lane's agreements; `None` when it makes none.
    pub agreements: Option<AgreementRules>,
}

impl Ledger<'_> {
    fn get(&self, id: &CommandId) -> Option<&Record> {
        self.records.get(id).or_else(|| self.from_disk.get(id))
    }

    /// Every record the ledger knows, each once.
    fn all(&self) -> impl Iterator<Item = &Record> {
        let held = self.records;
        held.values()
            .chain(self.from_disk.values().filter(move |r| !held.contains_key(&r.id)))
    }
}

/// The decision about one command.
#[derive(Debug, PartialEq)]
pub(crate) enum Admission {
    /// Answer at once, from what the journal knows.
    Answer(Outcome),
    /// The same command is known and not answered yet: follow its flow (if it runs).
    Follow { payment_id: Option<String> },
    /// Refused; nothing is stored and nothing happened.
    Refuse(RejectCode, String),
    /// Store `record` (and the `updates` to the records it takes over) durably, then run it;
    /// a cancel also tells the flow of `cancel_victim`.
    Start {
        record: Box<Record>,
        updates: Vec<Record>,
        cancel_victim: Option<CommandId>,
    },
}

fn refuse(code: RejectCode, message: impl Into<String>) -> Admission {
    Admission::Refuse(code, message.into())
}

/// Decides about `command` under `id`. `record` is its fresh record (with its create key for
/// a creating command).
pub(crate) fn admit(ledger: &Ledger<'_>, id: &CommandId, command: &Command, mut record: Record) -> Admission {
    if ledger.unreadable {
        return Admission::Answer(Outcome::NeedsHuman {
            payment_id: None,
            detail: format!("the journal record of command {id} is unreadable"),
        });
    }
    if let Some(existing) = ledger.get(id) {
        if existing.command != *command {
            return refuse(
                RejectCode::CommandIdReused,
                format!("command id {id} was used for a different command"),
            );
        }
        if existing.answered {
            return Admission::Answer(existing.outcome.clone().unwrap_or(Outcome::Unknown {
                payment_id: existing.payment_id.clone(),
            }));
        }
        return Admission::Follow {
            payment_id: existing.payment_id.clone(),
        };
    }
    if let Err((code, message)) = super::flow::validate(command) {
        return refuse(code, message);
    }
    let target_of = |target: &CommandId| ledger.get(target).cloned();
    let mut updates = Vec::new();
    let mut cancel_victim = None;
    match command {
        Command::Pay { .. } | Command::Prepare { .. } => {
            if matches!(command, Command::Prepare { .. }) && !ledger.capabilities.check_in_before_amount {
                return refuse(
                    RejectCode::NotSupported,
                    "this backend has no check-in before the amount; send the payment with its amount",
                );
            }
            if let Command::Pay {
                payer, restrictions, ..
            } = command
            {
                if !payer.is_scans() && !ledger.capabilities.pushes_to_customer {
                    return refuse(
                        RejectCode::NotSupported,
                        "this backend cannot push a payment to the customer's phone; let the customer scan",
                    );
                }
                let restricted = restrictions.is_some_and(|r| {
                    r.debit_card_disallowed == Some(true) || r.credit_card_disallowed == Some(true)
                });
                if restricted && !ledger.capabilities.restricts_cards {
                    return refuse(
                        RejectCode::NotSupported,
                        "this backend cannot refuse debit or credit cards; send the payment without the restriction",
                    );
                }
            }
            if let Some(reason) = &ledger.retiring {
                return refuse(RejectCode::LaneBusy, reason.clone());
            }
            if let Some(holder) = ledger.all().find(|r| r.holds_lane()) {
                return refuse(
                    RejectCode::LaneBusy,
                    format!("command {} is still using this point of sale", holder.id),
                );
            }
            if ledger.in_doubt {
                record.phase = Phase::CheckOrder(OrderCheck::Open);
            }
        }
        Command::Ready { target, currency, .. } => {
            let Some(mut prepare) = target_of(target) else {
                return refuse(RejectCode::UnknownTarget, format!("no command {target}"));
            };
            if prepare.kind() != CommandKind::Prepare {
                return refuse(RejectCode::WrongTarget, format!("{target} is not a prepare"));
            }
            let payment_id = match (&prepare.outcome, prepare.answered, &prepare.followed_by) {
                (Some(Outcome::Paired { payment_id, .. }), true, None) => payment_id.clone(),
                _ => {
                    return refuse(
                        RejectCode::WrongState,
                        format!("{target} is not a prepared payment with a checked-in customer"),
                    )
                }
            };
            record.payment_id = Some(payment_id);
            record.currency = Some(*currency);
            prepare.followed_by = Some(id.clone());
            updates.push(prepare);
        }
        Command::Capture { target, amount } => {
            let Some(sale) = target_of(target) else {
                return refuse(RejectCode::UnknownTarget, format!("no command {target}"));
            };
            if !matches!(sale.kind(), CommandKind::Pay | CommandKind::Ready) {
                return refuse(RejectCode::WrongTarget, format!("{target} is not a payment"));
            }
            match &sale.outcome {
                Some(Outcome::Reserved {
                    payment_id,
                    amount: reserved,
                    currency,
                    partial_capture_possible,
                }) if sale.answered => {
                    let amount = amount.unwrap_or(*reserved);
                    if amount > *reserved {
                        return refuse(
                            RejectCode::CaptureExceedsReservation,
                            format!("{amount} is more than the reserved {reserved}"),
                        );
                    }
                    record.payment_id = Some(payment_id.clone());
                    record.reserved = Some(*reserved);
                    record.currency = Some(*currency);
                    record.partial_capture_possible = Some(*partial_capture_possible);
                    record.decision = Some(Decision::Capture(amount));
                }
                _ => {
                    return refuse(
                        RejectCode::WrongState,
                        format!("{target} is not a reservation waiting for capture"),
                    )
                }
            }
        }
        Command::Cancel { target } => {
            let Some(mut victim) = target_of(target) else {
                return refuse(RejectCode::UnknownTarget, format!("no command {target}"));
            };
            if matches!(victim.kind(), CommandKind::Cancel | CommandKind::Capture) {
                return refuse(
                    RejectCode::WrongTarget,
                    format!("{target} cannot be cancelled; cancel the payment instead"),
                );
            }
            // A prepared payment taken over by a ready: cancel the ready's flow.
            if let Some(next) = victim.followed_by.clone() {
                match target_of(&next) {
                    Some(follower) if follower.kind() == CommandKind::Ready => victim = follower,
                    _ => {
                        return refuse(
                            RejectCode::WrongState,
                            format!("{target} is already being cancelled by {next}"),
                        )
                    }
                }
            }
            if matches!(victim.outcome, Some(Outcome::Paired { .. })) && victim.followed_by.is_none() {
                victim.followed_by = Some(id.clone());
                updates.push(victim.clone());
            }
            cancel_victim = Some(victim.id.clone());
            record.payment_id = victim.payment_id.clone();
            record.invoice_id = victim.invoice_id.clone();
            record.agreement_id = victim.agreement_id.clone();
        }
        Command::Refund {
            payment,
            currency,
            amount,
            ..
        } => match payment {
            PaymentSelector::Command(target) => {
                let Some(sale) = target_of(target) else {
                    return refuse(RejectCode::UnknownTarget, format!("no command {target}"));
                };
                let Some(payment_id) = sale.payment_id.clone() else {
                    return refuse(RejectCode::WrongTarget, format!("{target} made no payment"));
                };
                if sale.currency.is_some_and(|c| c != *currency) {
                    return refuse(
                        RejectCode::CurrencyMismatch,
                        "the refund's currency differs from the payment's",
                    );
                }
                if let Err((code, message)) = super::refund_limit::check(&payment_id, *amount, ledger.all()) {
                    return refuse(code, message);
                }
                record.payment_id = Some(payment_id);
                // A sign-up's first payment is refunded through the lane's agreements.
                if sale.kind() == CommandKind::SignUp {
                    if ledger.agreements.is_none() {
                        return refuse(
                            RejectCode::ProductNotSetUp,
                            "this lane makes no agreements any more: refund the first payment in the MobilePay portal",
                        );
                    }
                    if !matches!(sale.outcome, Some(Outcome::SignedUp { .. })) {
                        return refuse(
                            RejectCode::PaymentNotCaptured,
                            format!("{target} has no captured first payment"),
                        );
                    }
                    record.agreement_id = sale.agreement_id.clone();
                    record.phase = Phase::CreateAgreementRefund;
                }
            }
            PaymentSelector::OrderId(_) if !ledger.capabilities.lists_open_payments => {
                return refuse(
                    RejectCode::NotSupported,
                    "this backend cannot look a payment up by its order id; name the sale's command id",
                )
            }
            PaymentSelector::OrderId(_) => record.phase = Phase::FindRefundPayment,
        },
        Command::SignUp { .. } => {
            if ledger.agreements.is_none() {
                return refuse(
                    RejectCode::ProductNotSetUp,
                    "this lane makes no agreements: its merchant's subscription product is not configured",
                );
            }
        }
        Command::Invoice { .. } => {
            let Some(rules) = ledger.invoices else {
                return refuse(
                    RejectCode::ProductNotSetUp,
                    "this lane issues no invoices: its merchant's invoice product is not configured",
                );
            };
            let issued = record.invoice_issue_date();
            let days = record.invoice_due_date().map(|due| (due - issued).num_days());
            if !days.is_some_and(|d| (0..=i64::from(rules.max_due_days)).contains(&d)) {
                return refuse(
                    RejectCode::InvalidDueDate,
                    format!(
                        "the due date must be from today ({issued}) to {} days ahead",
                        rules.max_due_days
                    ),
                );
            }
        }
    }
    // A journal rebuilt after damage may have lost the record of this very command, and with
    // it the mark that its create was sent: an agreement or refund (no idempotency key) is
    // looked for by its reference before it is made.
    if ledger.in_doubt
        && matches!(
            record.phase,
            Phase::CreateAgreement | Phase::CreateAgreementRefund
        )
    {
        record.create_unanswered = true;
    }
    // An invoice has no look-up: what it may have made is recognised only by the create being
    // refused as a duplicate, which must then not be taken for a link nobody saw.
    if ledger.in_doubt && record.phase == Phase::CreateInvoice {
        record.accepted_in_doubt = true;
    }
    Admission::Start {
        record: Box::new(record),
        updates,
        cancel_victim,
    }
}

#[cfg(test)]
#[path = "admission_tests.rs"]
mod tests;
