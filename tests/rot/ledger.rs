//! The cash register's memory of the rot torture: every sale (and, in the products lane, every
//! invoice, sign-up and refund), what it was told, and its judgement of every answer.

use mposd::ecr::message::{EcrMessage, PaymentOptions, WireOutcome};
use mposd::money::Minor;
use std::collections::BTreeMap;

/// One sale as the cash register knows it (or one command of the products lane).
pub struct Sale {
    /// The order id (a refund's refund order id).
    pub order: String,
    pub amount: Minor,
    pub reserve: bool,
    /// What the command is when it is not a sale.
    pub product: Option<Product>,
    /// The approved outcome the register was told first.
    pub approved: Option<WireOutcome>,
    /// The last final answer the register received.
    pub last: Option<WireOutcome>,
    /// A person was asked to check this sale; the register no longer follows it.
    pub flagged: bool,
    /// The round in which the register last heard about it.
    pub heard_in: usize,
    /// The journal (counted by [`Ledger::journal`]) that last said it holds this sale: by
    /// `accepted`, an outcome or a query answer. That journal must never forget it.
    pub held_by: Option<usize>,
    /// Sent under an installation id the daemon has since lost with every copy of it (see
    /// [`Ledger::keys_lost`]).
    pub old_keys: bool,
}

/// A command of the products lane.
#[derive(Clone)]
pub enum Product {
    /// An invoice of `amount`: by link when `phone` is `None`, else pushed to the phone.
    Invoice { phone: Option<String>, wait: u32 },
    /// A sign-up of the customer at `phone` to the plan `Club <command id>` (the simulator's
    /// ground truth keeps the plan, so it names the command), with `amount` as first payment
    /// unless `first_payment` is false.
    Signup { phone: String, first_payment: bool },
    /// A refund of `amount` of the first payment of the sign-up command `of`.
    Refund { of: String },
}

/// The plan of the sign-up command `id`.
pub fn plan(id: &str) -> String {
    format!("Club {id}")
}

impl Sale {
    pub fn message(&self, id: &str) -> EcrMessage {
        let id = id.to_string();
        match &self.product {
            None => EcrMessage::Pay {
                id,
                amount: self.amount,
                currency: None,
                order: self.order.clone(),
                reserve: self.reserve,
                options: PaymentOptions::default(),
            },
            Some(Product::Invoice { phone, wait }) => EcrMessage::Invoice {
                id,
                amount: self.amount,
                currency: None,
                order: self.order.clone(),
                phone: phone.clone(),
                due: None,
                wait: Some(*wait),
                label: None,
                lines: Vec::new(),
            },
            Some(Product::Signup { phone, first_payment }) => EcrMessage::Signup {
                plan: plan(&id),
                id,
                order: self.order.clone(),
                description: None,
                price: Some(Minor(4_900)),
                currency: None,
                per_year: Some(12),
                phone: Some(phone.clone()),
                first_payment: first_payment.then_some(self.amount),
                wait: Some(60),
            },
            Some(Product::Refund { of }) => EcrMessage::Refund {
                id,
                payment: Some(of.clone()),
                order: None,
                amount: self.amount,
                currency: None,
                refund_order: self.order.clone(),
            },
        }
    }
}

/// What happened, for the summary.
#[derive(Default)]
pub struct Tally {
    pub kills_mid_sale: usize,
    pub kills_between: usize,
    pub undamaged_restarts: usize,
    /// Rounds whose damage removed every file of the store.
    pub stores_lost: usize,
    /// (file, kind) → how often.
    pub damage: BTreeMap<(String, &'static str), usize>,
    /// Why the daemon set its journal aside → how often.
    pub set_aside: BTreeMap<String, usize>,
    pub queries: usize,
    pub confirmed: usize,
    pub not_found_resent: usize,
    pub replayed_same: usize,
    pub in_doubt: usize,
    pub needs_human: usize,
    pub ground_truth_checks: usize,
    /// Accepted sales forgotten by a kept journal whose data and mark were damaged together.
    pub lost_with_the_mark: usize,
    /// Times the installation id was lost with every copy of it.
    pub installation_ids_lost: usize,
    /// Sales paid again when repeated after the installation id was lost (see
    /// [`Ledger::keys_lost`]).
    pub paid_again_under_new_keys: usize,
}

/// The cash register's memory and its judgement of every answer.
pub struct Ledger {
    pub sales: BTreeMap<String, Sale>,
    pub tally: Tally,
    pub round: usize,
    /// Which journal the daemon runs on: counts the times it set its journal aside.
    pub journal: usize,
    /// The last damage hit both the journal's data and its mark. The mark keeps its newest two
    /// durability points in two slots, so that a write torn by a power cut leaves the older
    /// one; with the newer slot damaged too, records of the last durability point can be lost
    /// without the journal noticing. The register then hears `not_found` or `in_doubt` for a
    /// sale it was told was accepted, as after a journal set aside, and acts the same.
    pub mark_and_data_damaged: bool,
    /// The installation id can be lost with every copy of it (its file, the store's mark and
    /// the marks of the stores set aside); the daemon then derives new keys. A backend that can
    /// look an order up (PoS V10) still finds a repeated sale's payment; one that cannot
    /// (ePayment) takes a second payment for it. For such a backend a sale sent before the loss
    /// may be paid again when repeated: counted, and flagged for a person.
    pub keys_lost: bool,
}

impl Ledger {
    /// The daemon said (by `accepted`, an outcome or a query answer) that its journal holds `id`.
    pub fn held(&mut self, id: &str) {
        let journal = self.journal;
        if let Some(sale) = self.sales.get_mut(id) {
            sale.held_by = Some(journal);
        }
    }

    /// The daemon says it does not know `id`: only a journal set aside since it last held the
    /// sale may say so, or one whose data and mark were damaged together (counted). Anything
    /// else is a journal that lost a record without noticing.
    pub fn forgotten(&mut self, id: &str, answer: &str) {
        let sale = &self.sales[id];
        if sale.held_by == Some(self.journal) && self.mark_and_data_damaged {
            self.tally.lost_with_the_mark += 1;
            return;
        }
        assert!(
            sale.held_by != Some(self.journal),
            "{id} (order {}) was held by this journal, which was never set aside since, yet the \
             query answers {answer}: the journal lost it without noticing",
            sale.order
        );
    }

    /// The register received `outcome` as the final answer to `id`.
    pub fn told(&mut self, id: &str, outcome: WireOutcome) {
        let round = self.round;
        self.held(id);
        let Some(sale) = self.sales.get_mut(id) else {
            return;
        };
        sale.heard_in = round;
        if let WireOutcome::NeedsHuman { .. } = outcome {
            if !sale.flagged {
                self.tally.needs_human += 1;
            }
            sale.flagged = true;
        }
        match &sale.approved {
            Some(before) if self.keys_lost && sale.old_keys && !same_payment(before, &outcome) => {
                if binding(&outcome) && !sale.flagged {
                    self.tally.paid_again_under_new_keys += 1;
                }
                sale.flagged = true;
            }
            Some(before) => {
                assert!(
                    same_payment(before, &outcome) || matches!(outcome, WireOutcome::NeedsHuman { .. }),
                    "{id} (order {}) was approved ({before:?}), now answered {outcome:?}",
                    sale.order
                );
            }
            None if binding(&outcome) => sale.approved = Some(outcome.clone()),
            None => {}
        }
        sale.last = Some(outcome);
    }
}

/// Whether the register may act on `outcome` as done for good: a payment approved, an invoice
/// paid, a customer signed up, a refund made. Such an answer must never be contradicted later.
pub fn binding(outcome: &WireOutcome) -> bool {
    outcome.is_approved() || matches!(outcome, WireOutcome::Refunded { .. })
}

/// Whether `now` tells the same approved payment as `before` (a pending capture may since have
/// been completed), the same paid invoice, the same agreement or the same refund.
fn same_payment(before: &WireOutcome, now: &WireOutcome) -> bool {
    use WireOutcome::{CapturePending, Captured, InvoicePaid, Refunded, Reserved, SignedUp};
    match (before, now) {
        (
            InvoicePaid {
                invoice_id: a,
                amount: x,
                ..
            },
            InvoicePaid {
                invoice_id: b,
                amount: y,
                ..
            },
        )
        | (
            Refunded {
                refund_id: a,
                amount: x,
                ..
            },
            Refunded {
                refund_id: b,
                amount: y,
                ..
            },
        ) => a == b && x == y,
        (
            SignedUp {
                agreement_id: a,
                first_payment: x,
                ..
            },
            SignedUp {
                agreement_id: b,
                first_payment: y,
                ..
            },
        ) => a == b && x == y,
        (
            Captured {
                payment_id: a,
                amount: x,
                ..
            }
            | CapturePending {
                payment_id: a,
                amount: x,
                ..
            },
            Captured {
                payment_id: b,
                amount: y,
                ..
            },
        )
        | (
            CapturePending {
                payment_id: a,
                amount: x,
                ..
            },
            CapturePending {
                payment_id: b,
                amount: y,
                ..
            },
        )
        | (
            Reserved {
                payment_id: a,
                amount: x,
                ..
            },
            Reserved {
                payment_id: b,
                amount: y,
                ..
            },
        ) => a == b && x == y,
        _ => false,
    }
}
