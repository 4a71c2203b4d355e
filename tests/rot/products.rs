//! The products lane of the rot torture: a lane that issues MobilePay invoices (by link and
//! pushed to a phone), signs customers up to agreements with a first payment and refunds part of
//! it, with the simulator's scripted customers, and the simulator's ground truth of it judged
//! against what the cash register was told.

use crate::ledger::{plan, Ledger, Product, Sale};
use crate::sim_products;
use crate::support::Setup;
use mposd::daemon::sim_config::add_merchant_products;
use mposd::ecr::message::WireOutcome;
use mposd::money::Minor;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Invoices pushed to one test user: below Invoice's limit of ten per phone and day, with room
/// for a repeat pushed again under new keys.
const INVOICES_PER_PHONE: usize = 8;
/// Phones of the customers who sign up, in turn.
const SIGNUP_PHONES: usize = 4;
/// Commands a round sends at most (see the torture's round).
const COMMANDS_PER_ROUND: usize = 4;

/// What the register keeps to make the products lane's commands.
pub struct Products {
    base: String,
    /// Test users for pushed invoices, [`sim_products::phone`] `0..phones`; the next is the
    /// customer who scans invoice links, the ones after sign up.
    phones: usize,
    /// Invoices pushed to phones so far, [`INVOICES_PER_PHONE`] to each phone in turn.
    pushed: usize,
    signups: usize,
}

impl Products {
    /// A daemon with one ePayment lane that also takes invoices and sign-ups for the
    /// simulator's merchant, whose consent is on the box, and test users enough for `rounds`.
    pub async fn lane(rounds: usize) -> (Setup, Products) {
        let phones = (rounds + 1) * COMMANDS_PER_ROUND / INVOICES_PER_PHONE + 1;
        let mut config = crate::sim_pos::polling_every(100);
        sim_products::add_users(&mut config, phones + 1 + SIGNUP_PHONES);
        let setup = Setup::epayment_on(config).await;
        let base = setup.sim.base_url();
        add_merchant_products(&setup.config, setup.dir.path(), &base).expect("the products' settings");
        sim_products::give_consent(&base, &setup.dir.path().join("state")).await;
        let products = Products {
            base,
            phones,
            pushed: 0,
            signups: 0,
        };
        (setup, products)
    }

    /// The next command, number `number`: an invoice or a sign-up, sometimes a refund of a
    /// sign-up's first payment. Its scripted customer is set before it is sent.
    pub async fn next(&mut self, ledger: &Ledger, number: usize, seed: u64, rng: &mut StdRng) -> Sale {
        let refundable = refundable(ledger);
        if !refundable.is_empty() && rng.gen_bool(0.2) {
            let (of, left) = refundable
                .iter()
                .nth(rng.gen_range(0..refundable.len()))
                .expect("a refundable sign-up");
            return sale(
                format!("RF{seed:x}-{number}"),
                Minor(rng.gen_range(1..=*left)),
                Product::Refund { of: of.clone() },
            );
        }
        let order = format!("P{seed:x}-{number}");
        let amount = Minor(rng.gen_range(100..10_000));
        let delay = rng.gen_range(0..1_500);
        if rng.gen_bool(0.35) {
            let phone = sim_products::phone(self.phones + 1 + self.signups % SIGNUP_PHONES);
            self.signups += 1;
            // Accepting or rejecting without the code: one whose code a kill kept from the
            // register does not wait out the agreement's minute (the crash torture covers
            // customers who let it expire or whose card fails).
            let action = ["accept", "accept", "accept", "accept", "reject"][rng.gen_range(0..5)];
            sim_products::signup_customer(&self.base, &phone, action, delay, true).await;
            let first_payment = rng.gen_bool(0.8);
            return sale(order, amount, Product::Signup { phone, first_payment });
        }
        if rng.gen_bool(0.5) {
            // By link: the customer at the counter scans it (the register opens every link it
            // is shown), then pays at once, schedules or rejects.
            let action = ["payNow", "schedule", "reject"][rng.gen_range(0..3)];
            let scanner = sim_products::phone(self.phones);
            sim_products::invoice_customer(&self.base, &scanner, action, delay, true).await;
            return sale(
                order,
                amount,
                Product::Invoice {
                    phone: None,
                    wait: 30,
                },
            );
        }
        let number = sim_products::phone(self.pushed / INVOICES_PER_PHONE);
        self.pushed += 1;
        assert!(
            self.pushed <= self.phones * INVOICES_PER_PHONE,
            "more phones needed"
        );
        let action = ["payNow", "schedule", "reject", "ignore"][rng.gen_range(0..4)];
        sim_products::invoice_customer(&self.base, &number, action, delay, false).await;
        let wait = rng.gen_range(1..=3);
        sale(
            order,
            amount,
            Product::Invoice {
                phone: Some(number),
                wait,
            },
        )
    }
}

fn sale(order: String, amount: Minor, product: Product) -> Sale {
    Sale {
        order,
        amount,
        reserve: false,
        product: Some(product),
        approved: None,
        last: None,
        flagged: false,
        heard_in: 0,
        held_by: None,
        old_keys: false,
    }
}

/// The sign-ups the register was told signed up with a first payment, and what is left of it
/// after every refund sent for it (answered or not: the register does not ask for more than
/// may be left, so the daemon refuses none as too high).
fn refundable(ledger: &Ledger) -> BTreeMap<String, i64> {
    let mut left: BTreeMap<String, i64> = ledger
        .sales
        .iter()
        .filter(|(_, s)| !s.flagged)
        .filter_map(|(id, s)| match &s.approved {
            Some(WireOutcome::SignedUp {
                first_payment: Some(paid),
                ..
            }) => Some((id.clone(), paid.0)),
            _ => None,
        })
        .collect();
    for s in ledger.sales.values() {
        if let Some(Product::Refund { of }) = &s.product {
            if let Some(l) = left.get_mut(of) {
                *l -= s.amount.0;
            }
        }
    }
    left.retain(|_, l| *l > 0);
    left
}

/// The simulator's ground truth of invoices, agreements and refunds judged against what the
/// register was told; the rules are the torture's (see its module documentation). Commands
/// sent under an installation id since lost with every copy of it (`exempt`) may have made a
/// second invoice or agreement: counted by the ledger, not failed here.
pub async fn check(base: &str, ledger: &Ledger) {
    let exempt: BTreeSet<&str> = ledger
        .sales
        .iter()
        .filter(|(_, s)| ledger.keys_lost && s.old_keys)
        .map(|(id, _)| id.as_str())
        .collect();
    check_invoices(base, ledger, &exempt).await;
    check_agreements(base, ledger, &exempt).await;
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_lowercase()
}

async fn check_invoices(base: &str, ledger: &Ledger, exempt: &BTreeSet<&str>) {
    let truth = sim_products::invoices(base).await;
    let mut per_order: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for i in truth["invoices"].as_array().expect("invoices") {
        per_order
            .entry(i["paymentReference"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(i);
    }
    for (id, s) in &ledger.sales {
        if !matches!(s.product, Some(Product::Invoice { .. })) {
            continue;
        }
        let made = per_order.get(&s.order).cloned().unwrap_or_default();
        if !exempt.contains(id.as_str()) {
            let pushed = made.iter().filter(|i| i["kind"] == "Direct").count();
            assert!(
                pushed <= 1,
                "{id}: {pushed} invoices pushed to the phone: {made:?}"
            );
            let taken = made
                .iter()
                .filter(|i| ["paid", "accepted"].contains(&text(&i["status"]).as_str()))
                .count();
            assert!(taken <= 1, "{id}: {taken} invoices paid or scheduled: {made:?}");
        }
        if s.flagged {
            continue;
        }
        if let Some(WireOutcome::InvoicePaid {
            invoice_id, amount, ..
        }) = &s.last
        {
            let paid = made
                .iter()
                .find(|i| text(&i["invoiceId"]) == invoice_id.to_lowercase())
                .unwrap_or_else(|| panic!("{id} was told paid ({invoice_id}), the simulator has {made:?}"));
            assert_eq!(text(&paid["status"]), "paid", "{id}: told paid: {paid}");
            assert_eq!(paid["totalAmountMinor"].as_i64(), Some(amount.0), "{id}: {paid}");
        }
    }
}

async fn check_agreements(base: &str, ledger: &Ledger, exempt: &BTreeSet<&str>) {
    let truth = sim_products::agreements(base).await;
    let list = |name: &str| truth[name].as_array().cloned().unwrap_or_default();
    for counter in [
        "agreementsPerExternalId",
        "reservationsPerAgreement",
        "capturesPerAgreement",
    ] {
        for (key, count) in truth["counters"][counter].as_object().expect("counters") {
            assert!(count.as_u64() <= Some(1), "{counter}[{key}] = {count}: {truth}");
        }
    }
    let (agreements, one_offs, refunds) = (list("agreements"), list("oneOffs"), list("refunds"));
    let mut refunded: BTreeMap<String, i64> = BTreeMap::new();
    let mut per_reference: BTreeMap<String, usize> = BTreeMap::new();
    for r in &refunds {
        *refunded.entry(text(&r["paymentId"])).or_default() += r["amountMinor"].as_i64().unwrap_or(0);
        *per_reference.entry(text(&r["externalId"])).or_default() += 1;
    }
    for (reference, count) in per_reference {
        assert_eq!(count, 1, "refund {reference} made {count} times: {refunds:?}");
    }
    for o in &one_offs {
        let captured = o["capturedAmountMinor"].as_i64().unwrap_or(0);
        let back = refunded.get(&text(&o["paymentId"])).copied().unwrap_or(0);
        assert!(back <= captured, "refunded {back} of {captured}: {o}");
    }
    for (id, s) in &ledger.sales {
        match (&s.product, &s.last) {
            (Some(Product::Signup { .. }), last) => {
                let made: Vec<&Value> = agreements.iter().filter(|a| a["plan"] == plan(id)).collect();
                if !exempt.contains(id.as_str()) {
                    assert!(made.len() <= 1, "{id}: {} agreements: {made:?}", made.len());
                }
                let Some(WireOutcome::SignedUp {
                    agreement_id,
                    first_payment,
                    ..
                }) = last.as_ref().filter(|_| !s.flagged)
                else {
                    continue;
                };
                let a = made
                    .iter()
                    .find(|a| text(&a["agreementId"]) == agreement_id.to_lowercase())
                    .unwrap_or_else(|| {
                        panic!("{id} was told signed up ({agreement_id}), the simulator has {made:?}")
                    });
                assert_eq!(text(&a["status"]), "accepted", "{id}: told signed up: {a}");
                if let Some(amount) = first_payment {
                    let o = one_offs
                        .iter()
                        .find(|o| text(&o["paymentId"]) == text(&a["oneOffPaymentId"]))
                        .unwrap_or_else(|| panic!("{id}: no first payment: {a}"));
                    assert_eq!(text(&o["status"]), "captured", "{id}: {o}");
                    assert_eq!(o["capturedAmountMinor"].as_i64(), Some(amount.0), "{id}: {o}");
                }
            }
            (
                Some(Product::Refund { .. }),
                Some(WireOutcome::Refunded {
                    refund_id, amount, ..
                }),
            ) if !s.flagged => {
                let made = refunds
                    .iter()
                    .find(|r| text(&r["refundId"]) == refund_id.to_lowercase())
                    .unwrap_or_else(|| panic!("{id}: told refunded, refund {refund_id} is not made"));
                assert_eq!(made["amountMinor"].as_i64(), Some(amount.0), "{id}: {made}");
            }
            _ => {}
        }
    }
}

/// How the products lane's commands were last answered, for the summary.
pub fn summary(ledger: &Ledger) -> String {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for s in ledger.sales.values() {
        let what = match &s.product {
            Some(Product::Invoice { phone: None, .. }) => "invoice by link",
            Some(Product::Invoice { .. }) => "pushed invoice",
            Some(Product::Signup { .. }) => "sign-up",
            Some(Product::Refund { .. }) => "refund",
            None => "sale",
        };
        let answer = match &s.last {
            Some(outcome) => serde_json::to_value(outcome).expect("an outcome")["result"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            None => "unanswered".into(),
        };
        *kinds.entry(format!("{what} {answer}")).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("last answers: {}", kinds.join(", "))
}
