//! Storage-rot torture: the real daemon (`mposd run`) takes payments from a cash register over
//! TCP against the simulator, is killed with SIGKILL (between sales or in the middle of one),
//! and then the files of its store are damaged at random before it is started again: bit
//! flips, truncations and zeroed tails of sled's `db`, `conf`, `snap.*` and `blobs/*`, of the
//! high-water mark `mposd.mark`, and of `store.installation` and `store.doubt` beside the store
//! (some rounds damage nothing, and now and then a file is lost whole). After every restart the
//! test acts as the cash register of the protocol (docs/ecr-protocol.md, section 5): it queries
//! every command without a final answer and a sample of answered ones; `running` → it waits for
//! the outcome, `not_found` → it sends the same command again, `in_doubt` → the cashier checks
//! (counted as flagged) and then sends it again, accepting `needs_human` as flagged. Then it
//! checks:
//! - the daemon always comes up again, whatever the damage;
//! - from the simulator's ground truth: no order is paid twice (at most one reserved or
//!   captured payment per order id; for ePayment the payment's reference is derived from the
//!   command, so a repeat finds the same payment), no payment is captured twice or for more
//!   than its amount, and a payment for an approved sale is in the state the register was told
//!   (one known exception, counted in the summary: ePayment, which has no listing to find an
//!   order in, pays a repeated sale again when the installation id its key was derived from
//!   was lost with every copy of it);
//! - no approved sale is silently forgotten: every sale the register was once told approved is
//!   answered again the same (by `query` or by the repeated command), or flagged for a person
//!   (`in_doubt`, `needs_human`); never `declined`, and never paid again;
//! - a journal the daemon did not set aside never forgets a sale it accepted: `not_found` and
//!   `in_doubt` are answers only for sales the daemon never had, or had in a journal it set
//!   aside since (damage it did not notice would show here).
//!
//! The products lane (`MPOSD_TORTURE_BACKEND=products`) is an ePayment lane that takes the
//! merchant's products instead of sales, with the same rounds of kills, damage and restarts:
//! invoices by link (the register opens every link it is shown, as the customer at the counter
//! scanning the code, who then pays at once, schedules or rejects) and pushed to a phone (whose
//! scripted customer pays, schedules, rejects or ignores it), sign-ups with a first payment four
//! times in five (the customer accepts or rejects), and refunds of part of a sign-up's first
//! payment. After every kill the simulator's whole ground truth of it is checked:
//! - no command has two invoices pushed to a phone, nor two invoices paid or scheduled: the
//!   invoice number is the command's derived key and MobilePay refuses an equal second invoice,
//!   so a repeat never makes one; a link invoice the journal forgot may have been shown and paid,
//!   so a repeat accepted while the journal is in doubt whose invoice exists goes to a person
//!   (`needs_human`) rather than to a new link;
//! - at most one agreement per sign-up (its plan names the command) and per reference, at most
//!   one reservation and one capture per agreement, one refund per reference, and never more
//!   refunded than captured: the capture is decided durably before it is made and read back,
//!   a refund's limit is checked by the daemon, and agreements and refunds are looked for by
//!   their derived reference when a create may have been sent or the journal is in doubt;
//! - what the register was told and acted on stays true: `signed_up` is an accepted agreement
//!   whose first payment is captured for that amount, an invoice answered paid is paid, a
//!   refund answered refunded is made; and it is never contradicted later (`signed_up` then
//!   `agreement_ended` or another agreement, paid then another invoice), unless flagged
//!   (`in_doubt`, `needs_human`).
//!
//! Not claimed after damage, and counted rather than failed: commands sent before the
//! installation id was lost with every copy of it (new keys make a new invoice number and
//! agreement reference, so a repeat may push a second invoice or make a second agreement, as
//! on ePayment). Not claimed either, and out of the torture's reach (a round lasts seconds): a
//! repeat, after midnight UTC, of an invoice the journal forgot is a new request (its issue
//! date is the day it is accepted), which MobilePay does not refuse.
//!
//! A sign-up repeated after its journal was set aside is looked up by its reference among the
//! agreements of every state, so one the customer accepted (and paid) since is found and
//! followed, never made again; an ended one is found and answered with its end.
//!
//! Not claimed, and beyond what the store can know: when the journal's data and its mark were
//! damaged together so that it forgot a command without noticing, nothing is in doubt, and a
//! repeated link invoice whose create is refused as a duplicate is taken for a lost answer and
//! issued anew under the next reference. The checks would fail on it; the damage the torture
//! makes has not reached it.
//!
//! A plain `cargo test` runs the PoS V10 lane, the ePayment lane and the products lane, one
//! after the other (`MPOSD_TORTURE_BACKEND=pos-v10`, `epayment` or `products` for one, `both`
//! for the two sales lanes). Quick mode (the default, run by `cargo test`): 30 rounds for each
//! sales lane, 8 for the products lane (about 20 s a round in a debug build on a loaded 2-core
//! machine). Long mode:
//! `MPOSD_ROT_ROUNDS=1000 cargo test --release --test rot_torture`. `MPOSD_ROT_SEED` picks the
//! random seed (printed at the start and with any failure; the timing of the daemon still
//! varies from run to run).

#[path = "rot/damage.rs"]
mod damage;
#[path = "rot/ledger.rs"]
mod ledger;
#[path = "rot/life.rs"]
mod life;
#[path = "rot/products.rs"]
mod products;
#[allow(dead_code)] // shared with the engine tests and benchmarks; this test uses part of it
#[path = "shared/sim_ep.rs"]
mod sim_ep;
#[allow(dead_code)] // shared with the engine tests and benchmarks; this test uses part of it
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[allow(dead_code)] // shared with the crash torture; this test uses part of it
#[path = "shared/sim_products.rs"]
mod sim_products;
#[allow(dead_code)] // shared with the daemon tests; this test uses part of it
#[path = "daemon/support.rs"]
mod support;
#[allow(dead_code)] // shared with the crash torture and the chaos; this test uses part of it
#[path = "shared/truth.rs"]
mod truth;

use damage::{damage, store_files};
use ledger::{Ledger, Sale, Tally};
use life::Life;
use mposd::ecr::message::WireOutcome;
use mposd::money::Minor;
use products::Products;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::Setup;
use truth::{Api, Money, Paid};

/// The whole ground truth is checked every this many rounds (and at the end); in between only
/// the orders the round touched.
const FULL_CHECK_EVERY: usize = 10;

/// Where the torture is, for the message of a failed check.
static CONTEXT: Mutex<String> = Mutex::new(String::new());

fn note(context: String) {
    *CONTEXT.lock().unwrap_or_else(|p| p.into_inner()) = context;
}

/// A lane of the torture: the sales of one backend, or the merchant's products.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    Sales(Api),
    Products,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Sales(api) => api.name(),
            Lane::Products => "products",
        }
    }

    /// The lanes `MPOSD_TORTURE_BACKEND` chooses: the sales lanes of [`Api::chosen`], then the
    /// products lane when it is chosen or nothing is (a plain `cargo test` covers all three).
    fn chosen() -> Vec<Lane> {
        let mut lanes: Vec<Lane> = Api::chosen().into_iter().map(Lane::Sales).collect();
        if matches!(
            std::env::var("MPOSD_TORTURE_BACKEND").as_deref(),
            Err(_) | Ok("products")
        ) {
            lanes.push(Lane::Products);
        }
        lanes
    }

    /// Rounds of quick mode: fewer for the products lane, whose rounds take about 20 s in a
    /// debug build (invoices keep the customer at the counter for seconds).
    fn quick_rounds(self) -> usize {
        match self {
            Lane::Sales(_) => 30,
            Lane::Products => 8,
        }
    }

    /// Whether a command repeated after the installation id was lost with every copy of it can
    /// make a second payment, invoice, agreement or refund: the backend cannot find what the
    /// lost command made by its order (ePayment; Invoice, which has no look-up; Subscriptions,
    /// which looks up by a reference derived from the lost id).
    fn needs_the_keys(self) -> bool {
        self != Lane::Sales(Api::PosV10)
    }
}

fn main() {
    let rounds: Option<usize> = std::env::var("MPOSD_ROT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok());
    let seed: u64 = std::env::var("MPOSD_ROT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("rot torture: seed {seed}");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let context = CONTEXT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        eprintln!("rot torture failed (seed {seed}): {context}");
        default_hook(info);
    }));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    for lane in Lane::chosen() {
        let rounds = rounds.unwrap_or(lane.quick_rounds());
        let report = runtime.block_on(torture(lane, rounds, seed));
        println!("{report}");
    }
}

/// Checks the simulator's ground truth for `orders` (all when `None`; always all of the
/// products lane, whose ground truth is small).
async fn check_ground_truth(setup: &Setup, lane: Lane, ledger: &Ledger, orders: Option<&BTreeSet<String>>) {
    let api = match lane {
        Lane::Sales(api) => api,
        Lane::Products => return products::check(&setup.sim.base_url(), ledger).await,
    };
    if orders.is_some_and(BTreeSet::is_empty) {
        return;
    }
    let mut per_order: BTreeMap<String, Vec<Paid>> = BTreeMap::new();
    for payment in truth::payments(&setup.sim.base_url(), api, orders).await {
        payment.assert_captured_once_at_most();
        per_order
            .entry(payment.order_id.clone())
            .or_default()
            .push(payment);
    }
    let repeated_under_new_keys: BTreeSet<&str> = ledger
        .sales
        .values()
        .filter(|s| ledger.keys_lost && s.old_keys)
        .map(|s| s.order.as_str())
        .collect();
    for (order, payments) in &per_order {
        let paid: Vec<&Value> = payments.iter().filter(|p| p.is_paid()).map(|p| &p.raw).collect();
        assert!(
            paid.len() <= 1 || repeated_under_new_keys.contains(order.as_str()),
            "order {order} is paid {} times: {paid:?}",
            paid.len()
        );
    }
    for (id, sale) in &ledger.sales {
        if orders.is_some_and(|o| !o.contains(&sale.order)) {
            continue;
        }
        let payments = per_order.get(&sale.order).cloned().unwrap_or_default();
        for payment in &payments {
            if payment.money == Money::Captured {
                assert!(
                    !sale.reserve,
                    "{id} was to be kept reserved, but is captured: {}",
                    payment.raw
                );
                assert_eq!(
                    payment.captured, sale.amount.0,
                    "{id}: captured another amount: {}",
                    payment.raw
                );
            }
        }
        if sale.flagged {
            continue;
        }
        let told = |payment_id: &str| {
            payments
                .iter()
                .find(|p| p.payment_id == payment_id)
                .unwrap_or_else(|| panic!("{id} was told {:?}, MobilePay has {payments:?}", sale.last))
        };
        match &sale.last {
            Some(WireOutcome::Captured { payment_id, .. }) => {
                assert_eq!(told(payment_id).money, Money::Captured, "{id}");
            }
            Some(WireOutcome::Reserved { payment_id, .. }) => {
                assert_eq!(told(payment_id).money, Money::Reserved, "{id}");
            }
            _ => {}
        }
    }
}

/// The daemon with one lane of `lane`: customers who pay after 150 ms, or the products lane's
/// scripted customers.
async fn lane(lane: Lane, rounds: usize) -> (Setup, Option<Products>) {
    match lane {
        Lane::Sales(Api::PosV10) => {
            let setup = Setup::new().await;
            sim_pos::customers_everywhere(&setup.sim.base_url(), "+4520031805", "accept", 150).await;
            (setup, None)
        }
        Lane::Sales(Api::Epayment) => {
            let setup = Setup::epayment().await;
            sim_ep::customers(&setup.sim.base_url(), "approve", 150).await;
            (setup, None)
        }
        Lane::Products => {
            let (setup, products) = Products::lane(rounds).await;
            (setup, Some(products))
        }
    }
}

async fn torture(lane: Lane, rounds: usize, seed: u64) -> String {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let (setup, mut products) = self::lane(lane, rounds).await;
    let state = setup.dir.path().join("state");
    let mut ledger = Ledger {
        sales: BTreeMap::new(),
        tally: Tally::default(),
        round: 0,
        journal: 0,
        mark_and_data_damaged: false,
        keys_lost: false,
    };
    let installation = state.join("store.installation");
    let mut installation_id = None;
    let mut damaged: Vec<String> = Vec::new();
    for round in 0..=rounds {
        let last = round == rounds;
        ledger.round = round;
        note(format!(
            "{}: round {round}, restart after damage {damaged:?} (state directory {})",
            lane.name(),
            state.display(),
        ));
        let mut life = Life::start(&setup, &mut ledger).await;
        let id_now = std::fs::read_to_string(&installation).ok();
        if installation_id.is_some() && id_now != installation_id {
            ledger.tally.installation_ids_lost += 1;
            ledger.keys_lost = lane.needs_the_keys();
            for sale in ledger.sales.values_mut() {
                sale.old_keys = true;
            }
        }
        installation_id = id_now;
        let mut touched: BTreeSet<String> = life
            .recheck(&mut ledger, last, &mut rng)
            .await
            .into_iter()
            .map(|id| ledger.sales[&id].order.clone())
            .collect();
        if last {
            let unanswered: Vec<&String> = ledger
                .sales
                .iter()
                .filter(|(_, s)| s.last.is_none())
                .map(|(id, _)| id)
                .collect();
            assert!(unanswered.is_empty(), "sales never answered: {unanswered:?}");
            check_ground_truth(&setup, lane, &ledger, None).await;
            ledger.tally.ground_truth_checks += 1;
            support::stops_with_exit_0(life.daemon).await;
            break;
        }
        note(format!("{}: round {round}, sales", lane.name()));
        let sales = rng.gen_range(1..=4);
        // The sale in whose middle the daemon dies, if any, and when.
        let cut = rng
            .gen_bool(0.5)
            .then(|| (rng.gen_range(0..sales), rng.gen_range(0..800u64)));
        for n in 0..sales {
            let number = ledger.sales.len() + 1;
            let id = format!("s{number}");
            let sale = match products.as_mut() {
                Some(products) => Sale {
                    heard_in: round,
                    ..products.next(&ledger, number, seed, &mut rng).await
                },
                None => Sale {
                    order: format!("R{seed:x}-{number}"),
                    amount: Minor(rng.gen_range(100..10_000)),
                    reserve: rng.gen_bool(0.3),
                    product: None,
                    approved: None,
                    last: None,
                    flagged: false,
                    heard_in: round,
                    held_by: None,
                    old_keys: false,
                },
            };
            touched.insert(sale.order.clone());
            ledger.sales.insert(id.clone(), sale);
            match cut {
                Some((at, delay_ms)) if at == n => {
                    let message = ledger.sales[&id].message(&id);
                    life.register.send(&message);
                    // The moment of the kill, not a synchronisation.
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    break;
                }
                _ => life.pay(&id, &mut ledger).await,
            }
        }
        match cut {
            Some(_) => ledger.tally.kills_mid_sale += 1,
            None => ledger.tally.kills_between += 1,
        }
        note(format!("{}: round {round}, kill", lane.name()));
        life.kill(&mut ledger).await;
        damaged = damage(&state, &mut rng, &mut ledger.tally);
        let hit = |files: &[&str]| damaged.iter().any(|d| files.iter().any(|f| d.starts_with(f)));
        ledger.mark_and_data_damaged = hit(&["mposd.mark"]) && hit(&["db:", "snap.*", "blobs/*"]);
        if !store_files(&state)
            .iter()
            .any(|f| f.starts_with(state.join("store")))
        {
            // Every file of the store is gone: nothing is left to show a store was there, so
            // the daemon starts a new one, and only the keys derived from the installation id
            // beside it keep repeated commands from paying twice.
            ledger.tally.stores_lost += 1;
            ledger.journal += 1;
        }
        note(format!(
            "{}: round {round}, ground truth after the kill",
            lane.name()
        ));
        let full = round % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1;
        check_ground_truth(&setup, lane, &ledger, (!full).then_some(&touched)).await;
        ledger.tally.ground_truth_checks += 1;
        if round % 25 == 24 {
            println!(
                "{}: {} rounds, {} sales, {:.0} s",
                lane.name(),
                round + 1,
                ledger.sales.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let mut report = summary(lane, &ledger, &state, rounds, started.elapsed());
    if lane == Lane::Products {
        report.push_str(&format!("; {}", products::summary(&ledger)));
    }
    report
}

fn summary(lane: Lane, ledger: &Ledger, state: &Path, rounds: usize, took: Duration) -> String {
    let t = &ledger.tally;
    let sales = &ledger.sales;
    let count = |f: &dyn Fn(&Sale) -> bool| sales.values().filter(|s| f(s)).count();
    let captured = count(&|s| {
        matches!(
            s.approved,
            Some(WireOutcome::Captured { .. } | WireOutcome::CapturePending { .. })
        )
    });
    let reserved = count(&|s| matches!(s.approved, Some(WireOutcome::Reserved { .. })));
    let flagged = count(&|s| s.flagged);
    let not_approved = count(&|s| s.approved.is_none());
    let aside_dirs = std::fs::read_dir(state)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("store.corrupt-"))
                .count()
        })
        .unwrap_or(0);
    let damage: Vec<String> = t
        .damage
        .iter()
        .map(|((file, kind), n)| format!("{file} {kind} {n}"))
        .collect();
    let aside: Vec<String> = t.set_aside.iter().map(|(why, n)| format!("{why} {n}")).collect();
    format!(
        "rot torture ({}): {rounds} rounds, {} sales (approved: {captured} captured, {reserved} kept \
         reserved; {not_approved} never approved; {flagged} flagged for a person), {} SIGKILLs \
         ({} mid-sale, {} between sales), {} restarts without damage; damage: {}; {} stores lost \
         whole; journal set aside {} times ({}), {aside_dirs} stores kept aside; {} queries: {} \
         approved answers confirmed, {} not found and sent again ({} approved sales replayed the \
         same), {} in doubt, {} needs_human; {} ground-truth checks passed: no order paid twice, \
         no double capture, no approved sale forgotten or declined, no accepted sale lost by a \
         journal that was kept, but for {} lost with the newest slot of the mark; installation \
         id lost with all its copies {} times, {} sales paid again under the new keys ({:.0} s)",
        lane.name(),
        sales.len(),
        t.kills_mid_sale + t.kills_between,
        t.kills_mid_sale,
        t.kills_between,
        t.undamaged_restarts,
        damage.join(", "),
        t.stores_lost,
        t.set_aside.values().sum::<usize>(),
        aside.join(", "),
        t.queries,
        t.confirmed,
        t.not_found_resent,
        t.replayed_same,
        t.in_doubt,
        t.needs_human,
        t.ground_truth_checks,
        t.lost_with_the_mark,
        t.installation_ids_lost,
        t.paid_again_under_new_keys,
        took.as_secs_f64()
    )
}
