//! The cash register's memory of the rot torture: every sale, what it was told, and its
//! judgement of every answer.

use mposd::ecr::message::{EcrMessage, PaymentOptions, WireOutcome};
use mposd::money::Minor;
use std::collections::BTreeMap;

/// One sale as the cash register knows it.
pub struct Sale {
    pub order: String,
    pub amount: Minor,
    pub reserve: bool,
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

impl Sale {
    pub fn message(&self, id: &str) -> EcrMessage {
        EcrMessage::Pay {
            id: id.to_string(),
            amount: self.amount,
            currency: None,
            order: self.order.clone(),
            reserve: self.reserve,
            options: PaymentOptions::default(),
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
                if outcome.is_approved() && !sale.flagged {
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
            None if outcome.is_approved() => sale.approved = Some(outcome.clone()),
            None => {}
        }
        sale.last = Some(outcome);
    }
}

/// Whether `now` tells the same approved payment as `before` (a pending capture may since have
/// been completed).
fn same_payment(before: &WireOutcome, now: &WireOutcome) -> bool {
    use WireOutcome::{CapturePending, Captured, Reserved};
    match (before, now) {
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
