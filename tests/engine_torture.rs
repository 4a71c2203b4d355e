//! Crash torture: the engine runs in a child process against the simulator and is killed with
//! SIGKILL at random moments, then restarted on the same journal. After every kill the
//! simulator's ground truth is checked:
//! - no command id has two payments (order id = command id here; for ePayment the payment's
//!   reference is derived from the command, so a repeat finds the same payment), no payment is
//!   captured twice or for more than its amount;
//! - every answer given before a kill is given again by a query after the restart, and names
//!   the payment the simulator has for the command;
//! - at the end, every reserved payment of a sale that was to be captured is captured (its
//!   persisted decision carried out); kept reservations stay reserved.
//!
//! The products lane (`MPOSD_TORTURE_BACKEND=products`) is an ePayment lane that also issues
//! MobilePay invoices (by link and pushed to a phone), signs customers up to agreements (most
//! with a first payment) and refunds first payments, beside its sales, up to four commands at a
//! time. Neither Invoice v1 nor Subscriptions v1 has an idempotency key, so a lost answer is
//! where an invoice, an agreement, a reservation, a capture or a refund could be doubled. After
//! every kill also:
//! - no command has two invoices pushed to a phone (the invoice's payment reference is the
//!   command's order id, unique per command), and every phone's pushes are the invoices it
//!   holds;
//! - of the invoices a command made (a lost link answer makes a new one), at most one is paid
//!   or scheduled, and it is the one the command was answered with: the customer pays only
//!   what was shown or pushed;
//! - every invoice answer names the command's invoice in a state that fits it (an invoice
//!   answered outstanding or scheduled may since have been paid or have ended);
//! - no sign-up has two agreements (its plan names the command in the ground truth), no
//!   engine reference (`external_id`) two agreements or two refunds, no agreement two
//!   reservations or captures of its first payment, and no payment more refunded than
//!   captured;
//! - a sign-up answered signed up has its agreement accepted and its first payment captured in
//!   full; one answered ended has its agreement ended and nothing captured; a refund answered
//!   refunded is made for its amount; at the end no first payment is left reserved.
//!
//! The simulator's customers act by themselves: each phone's scripted customer pays an
//! invoice at once, schedules, rejects or ignores it; a customer scans most invoice links the
//! display shows and pays, schedules or rejects; a customer who signs up scans most agreement
//! codes and accepts, rejects, lets it expire or has the first payment declined. The fixtures
//! get enough extra test users that no phone reaches Invoice's limit of ten invoices per
//! merchant and day. The simulator drops the answer of some invoice and agreement creates,
//! first-payment captures and refunds after carrying them out (`commitThenDrop`), so lost
//! answers happen without a kill too. Before the last engine life the simulator's clock moves a
//! minute on, so sign-ups nobody accepted expire rather than wait out their time.
//!
//! It runs against PoS V10, ePayment and the products lane, one after the other
//! (`MPOSD_TORTURE_BACKEND=pos-v10`, `epayment` or `products` for one; `both` for the two sales
//! backends; all three by default). Quick mode (the default, run by `cargo test`): 200 kills
//! for each. Long mode: `MPOSD_TORTURE_KILLS=5000 cargo test --release --test engine_torture`.
//!
//! The binary is its own child: with `MPOSD_TORTURE_CHILD=<backend>` it runs one engine and
//! speaks JSON lines on stdin/stdout.

#[allow(dead_code)] // shared with the engine tests and benchmarks; this test uses part of it
#[path = "shared/sim_ep.rs"]
mod sim_ep;
#[allow(dead_code)] // shared with the engine tests and benchmarks; this test uses part of it
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[path = "shared/sim_products.rs"]
mod sim_products;
#[allow(dead_code)] // shared with the rot torture and the chaos; this test uses part of it
#[path = "shared/truth.rs"]
mod truth;

use mposd::backends::pos_v10::engine::PosV10Backend;
use mposd::engine::api::{
    Command, CommandId, CommandState, EventKind, InvoiceEndReason, Outcome, PaymentSelector,
};
use mposd::engine::flow::Policy;
use mposd::engine::invoicing::InvoiceDelivery;
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use rand::seq::IteratorRandom;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use truth::{Api, Money, Paid};

/// Answers from earlier engine lives queried again after each kill (all of them at the end).
const OLD_ANSWERS_SAMPLED: usize = 25;

/// What the engine's lane runs: the sales of a backend, and with `products` its invoices,
/// sign-ups and refunds of first payments too.
#[derive(Clone, Copy, Debug)]
struct Lane {
    api: Api,
    products: bool,
}

impl Lane {
    /// The lane of ePayment sales, invoices and sign-ups.
    const PRODUCTS: Lane = Lane {
        api: Api::Epayment,
        products: true,
    };

    fn name(self) -> &'static str {
        if self.products {
            "products"
        } else {
            self.api.name()
        }
    }

    fn named(name: &str) -> Option<Lane> {
        if name == Lane::PRODUCTS.name() {
            return Some(Lane::PRODUCTS);
        }
        Api::named(name).map(|api| Lane { api, products: false })
    }

    /// The lanes chosen by `MPOSD_TORTURE_BACKEND`: the backends of [`Api::chosen`], then the
    /// products lane when it is chosen or nothing is (a plain `cargo test` covers all three).
    fn chosen() -> Vec<Lane> {
        let mut lanes: Vec<Lane> = Api::chosen()
            .into_iter()
            .map(|api| Lane { api, products: false })
            .collect();
        if matches!(
            std::env::var("MPOSD_TORTURE_BACKEND").as_deref(),
            Err(_) | Ok("products")
        ) {
            lanes.push(Lane::PRODUCTS);
        }
        lanes
    }
}

fn main() {
    if let Ok(lane) = std::env::var("MPOSD_TORTURE_CHILD") {
        child(Lane::named(&lane).expect("a lane name"));
        return;
    }
    let kills: usize = std::env::var("MPOSD_TORTURE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for lane in Lane::chosen() {
        let report = runtime.block_on(torture(lane, kills));
        println!("{report}");
    }
}

/// The child: one engine on the journal in `MPOSD_TORTURE_DIR`; commands in, answers out.
fn child(lane: Lane) {
    let var = |name: &str| std::env::var(name).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = PathBuf::from(var("MPOSD_TORTURE_DIR"));
        let sim = var("MPOSD_TORTURE_SIM");
        let (journal, _) = Journal::open_or_set_aside(&dir.join("journal"), 4 << 20, 1).unwrap();
        let policy = Policy {
            answer_unknown_after_ms: 5_000,
            retry_base_ms: 50,
            retry_max_ms: 500,
            ..Policy::default()
        };
        let engine = match lane.api {
            Api::PosV10 => {
                let client = sim_pos::client(&sim, &dir.join(format!("tokens-{}", std::process::id())));
                let mut config = EngineConfig::new(
                    var("MPOSD_TORTURE_POS"),
                    Some(mposd::backends::pos_v10::engine::prompt(&var(
                        "MPOSD_TORTURE_BEACON",
                    ))),
                );
                config.policy = policy;
                start(Arc::new(PosV10Backend::new(client)), journal, config, None).await
            }
            Api::Epayment => {
                let mut config = EngineConfig::new(var("MPOSD_TORTURE_POS"), None);
                config.policy = policy;
                let backend = sim_ep::backend(&sim);
                let backend = match lane.products {
                    true => backend.with_products(sim_products::products(&sim, &dir.join("consent"))),
                    false => backend,
                };
                start(Arc::new(backend), journal, config, None).await
            }
        }
        .unwrap();
        let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let out = Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let say = move |value: Value| {
            let mut out = out.lock().unwrap();
            writeln!(out, "{value}").unwrap();
            out.flush().unwrap();
        };
        say(json!({"ready": true}));
        while let Some(line) = lines.recv().await {
            let request: Value = serde_json::from_str(&line).unwrap();
            let id: CommandId = serde_json::from_value(request["id"].clone()).unwrap();
            if request.get("query").is_some() {
                let view = engine.query(&id).await.unwrap();
                say(json!({"id": id, "view": view}));
                continue;
            }
            let command: Command = serde_json::from_value(request["command"].clone()).unwrap();
            let engine = engine.clone();
            let say = say.clone();
            tokio::spawn(async move {
                let mut submission = engine.submit(id.clone(), command).await.unwrap();
                while let Some(event) = submission.next_event().await {
                    match event.kind {
                        // The link the customer display shows, for the parent's customer to scan.
                        EventKind::InvoiceIssued { link: Some(link), .. }
                        | EventKind::AgreementPending { link, .. } => say(json!({"id": id, "link": link})),
                        EventKind::Finished { outcome } => {
                            say(json!({"id": id, "outcome": outcome}));
                            break;
                        }
                        _ => {}
                    }
                }
            });
        }
    });
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
}

impl Running {
    fn send(&mut self, value: Value) {
        // The child may already be dead (killed); a broken pipe is expected then.
        let _ = writeln!(self.stdin, "{value}");
        let _ = self.stdin.flush();
    }

    fn next(&self, until: Instant) -> Option<Value> {
        self.lines
            .recv_timeout(until.saturating_duration_since(Instant::now()))
            .ok()
    }
}

fn spawn_child(lane: Lane, base: &str, dir: &Path, pos: &str, beacon: &str) -> Running {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("MPOSD_TORTURE_CHILD", lane.name())
        .env("MPOSD_TORTURE_SIM", base)
        .env("MPOSD_TORTURE_DIR", dir)
        .env("MPOSD_TORTURE_POS", pos)
        .env("MPOSD_TORTURE_BEACON", beacon)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if tx.send(value).is_err() {
                    break;
                }
            }
        }
    });
    let running = Running { child, stdin, lines };
    let ready = running.next(Instant::now() + Duration::from_secs(60));
    assert!(
        ready.is_some_and(|v| v["ready"] == true),
        "the engine child did not start"
    );
    running
}

/// What the parent knows about one command.
struct Known {
    command: Command,
    keep: bool,
    answer: Option<Outcome>,
    /// The run (engine life) in which the answer was last given.
    answered_in_run: usize,
}

/// The simulator with a sales point of `lane` and customers who pay at once: the simulator
/// (kept running for the whole torture), the point of sale's id (the lane's name for ePayment)
/// and its beacon. A products lane gets the merchant's consent in `dir` and `phones` extra
/// test users.
async fn sales_point(lane: Lane, dir: &Path, phones: usize) -> (mposd::sim::Simulator, String, String) {
    if lane.products {
        let mut config = sim_pos::polling_every(50);
        sim_products::add_users(&mut config, phones);
        let sim = mposd::sim::start(config).await.unwrap();
        sim_ep::customers(&sim.base_url(), "approve", 0).await;
        sim_products::give_consent(&sim.base_url(), &dir.join("consent")).await;
        return (sim, "torture".into(), String::new());
    }
    match lane.api {
        Api::PosV10 => {
            let tokens = dir.join("tokens-onboarding");
            let sim_pos::SimPos { sim, pos } =
                sim_pos::SimPos::start(sim_pos::polling_every(50), &tokens, "torture").await;
            sim_pos::customers_everywhere(&sim.base_url(), "+4520031805", "accept", 0).await;
            (sim, pos.pos_id, pos.beacon_id)
        }
        Api::Epayment => {
            let sim = mposd::sim::start(sim_pos::polling_every(50)).await.unwrap();
            sim_ep::customers(&sim.base_url(), "approve", 0).await;
            (sim, "torture".into(), String::new())
        }
    }
}

/// Invoices pushed to one phone: Invoice refuses the eleventh of a merchant on one UTC day.
const INVOICES_PER_PHONE: usize = 10;

/// Phones of the customers who sign up, in turn, after those of invoices and the scanner.
const SIGNUP_PHONES: usize = 50;

async fn torture(lane: Lane, kills: usize) -> String {
    let api = lane.api;
    let dir = tempfile::tempdir().unwrap();
    // A life of the engine starts a few commands at most (it lives up to 0.7 s and runs four at
    // a time); phones for twenty times as many invoices as kills are more than enough.
    let phones = if lane.products { 2 * kills + 10 } else { 0 };
    let (sim, pos, beacon) = sales_point(lane, dir.path(), phones + 1 + SIGNUP_PHONES).await;
    let base = sim.base_url();
    let mut products = Products {
        base: base.clone(),
        phones,
        pushed: 0,
        signups: 0,
        refundable: Vec::new(),
    };
    // Invoices and sign-ups do not hold the lane: a products lane runs them beside a sale.
    let in_flight = if lane.products { 4 } else { 1 };

    let mut known: BTreeMap<String, Known> = BTreeMap::new();
    let mut next_id = 0usize;
    let started = Instant::now();
    let (base2, dir2, pos2, beacon2) = (
        base.clone(),
        dir.path().to_path_buf(),
        pos.clone(),
        beacon.clone(),
    );
    for run in 0..=kills {
        let last = run == kills;
        let (b, d, p, bc) = (base2.clone(), dir2.clone(), pos2.clone(), beacon2.clone());
        let mut child = tokio::task::spawn_blocking(move || spawn_child(lane, &b, &d, &p, &bc))
            .await
            .unwrap();
        // Every answer given before the last kill is given again; older answers (checked after
        // earlier kills already) are sampled, and all are checked at the end, so a long run
        // does not grow quadratically.
        let sample: BTreeSet<&String> = known
            .keys()
            .choose_multiple(&mut rand::thread_rng(), OLD_ANSWERS_SAMPLED)
            .into_iter()
            .collect();
        for (id, k) in &known {
            let recent = k.answered_in_run + 1 == run;
            if !(recent || last || sample.contains(id)) {
                continue;
            }
            if let Some(answer) = &k.answer {
                child.send(json!({"id": id, "query": true}));
                let reply = child
                    .next(Instant::now() + Duration::from_secs(30))
                    .expect("query answered");
                let view: Option<mposd::engine::api::CommandView> =
                    serde_json::from_value(reply["view"].clone()).unwrap();
                let state = view.map(|v| v.state);
                let same = match (&state, answer) {
                    // Refusals are not journaled.
                    (_, Outcome::Rejected { .. }) => true,
                    (Some(CommandState::Finished(now)), given) => still_answers(given, now),
                    _ => false,
                };
                assert!(same, "run {run}: {id} was answered {answer:?}, now {state:?}");
            }
        }
        if last && lane.products {
            // Sign-ups nobody scanned would wait out their minute: let it pass on the
            // simulator's clock, so they expire at MobilePay now and the engine sees them end.
            advance_clock(&base, 61_000).await;
        }
        let deadline = if last {
            Instant::now() + Duration::from_secs(120)
        } else {
            Instant::now() + Duration::from_millis(rand::thread_rng().gen_range(20..700))
        };
        // Repeat what was never answered (joins the resumed flow), then start new sales.
        let mut waiting: Vec<String> = known
            .iter()
            .filter(|(_, k)| k.answer.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        // What this engine life can change: the commands still open when it starts (never
        // answered, or answered "unknown" and resolved in the background) and the new sales.
        let mut touched: BTreeSet<String> = known
            .iter()
            .filter(|(_, k)| matches!(k.answer, None | Some(Outcome::Unknown { .. })))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &waiting {
            child.send(json!({"id": id, "command": known[id].command}));
        }
        loop {
            if waiting.is_empty() && last {
                break;
            }
            if waiting.len() < in_flight && !last {
                next_id += 1;
                let id = format!("t{next_id}");
                // One sale at a time: the lane takes one payment.
                let selling = waiting
                    .iter()
                    .any(|w| matches!(known[w].command, Command::Pay { .. }));
                let (command, keep) = match lane.products && (selling || rand::thread_rng().gen_bool(0.5)) {
                    true => (products.next(&id).await, false),
                    false => sale(&id),
                };
                child.send(json!({"id": id, "command": command}));
                touched.insert(id.clone());
                known.insert(
                    id.clone(),
                    Known {
                        command,
                        keep,
                        answer: None,
                        answered_in_run: 0,
                    },
                );
                waiting.push(id);
            }
            let Some(reply) = child.next(deadline) else { break };
            if let (Some(id), Some(link)) = (reply["id"].as_str(), reply["link"].as_str()) {
                products.scan(link, &known[id].command).await;
                continue;
            }
            if let (Some(id), Some(outcome)) = (reply["id"].as_str(), reply.get("outcome")) {
                let outcome: Outcome = serde_json::from_value(outcome.clone()).unwrap();
                waiting.retain(|w| w != id);
                if let Some(k) = known.get_mut(id) {
                    // A repeated command id must get the answer it got before.
                    if let Some(before) = &k.answer {
                        if !matches!(before, Outcome::Rejected { .. }) {
                            assert!(
                                still_answers(before, &outcome),
                                "{id} answered {before:?}, then {outcome:?}"
                            );
                        }
                    }
                    if let Outcome::SignedUp {
                        first_payment: Some(amount),
                        ..
                    } = &outcome
                    {
                        products.refundable.push((id.to_string(), amount.0));
                    }
                    k.answer = Some(outcome);
                    k.answered_in_run = run;
                }
            }
        }
        if last {
            assert!(waiting.is_empty(), "commands never answered: {waiting:?}");
        }
        let _ = child.child.kill(); // SIGKILL
        let _ = child.child.wait();
        // The whole ground truth every 100 kills and at the end; in between the payments of
        // the commands this engine life could touch, so a long run stays linear.
        let scope = (!last && run % 100 != 99).then_some(&touched);
        check_ground_truth(&base, api, &known, scope, last).await;
        if lane.products {
            check_invoices(&base, &known, scope).await;
            check_agreements(&base, &known, scope, last).await;
        }
        if run % 100 == 99 {
            println!(
                "{}: {} kills checked, {} commands, {:.0} s",
                lane.name(),
                run + 1,
                known.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for k in known.values() {
        let kind = match &k.answer {
            Some(Outcome::Rejected { code, .. }) => format!("rejected {code}"),
            Some(Outcome::InvoiceEnded { reason, .. }) => format!("invoice_ended {reason:?}"),
            Some(Outcome::AgreementEnded { reason, .. }) => format!("agreement_ended {reason:?}"),
            Some(Outcome::NeedsHuman { .. }) => format!("needs_human {:?}", k.command.kind()),
            Some(outcome) => serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                .unwrap_or_default(),
            None => "unanswered".into(),
        };
        *tally.entry(kind).or_default() += 1;
    }
    let products = match lane.products {
        true => {
            ", no invoice pushed twice, no lost invoice paid, no second agreement, reservation, \
                 capture or refund, nothing refunded beyond its capture"
        }
        false => "",
    };
    format!(
        "engine torture ({}): {kills} SIGKILLs, {} commands ({tally:?}), {:.0} s: no double \
         payment, no double capture{products}, every answer repeated, every decision carried out",
        lane.name(),
        known.len(),
        started.elapsed().as_secs_f64()
    )
}

async fn check_ground_truth(
    base: &str,
    api: Api,
    known: &BTreeMap<String, Known>,
    scope: Option<&BTreeSet<String>>,
    last: bool,
) {
    let payments = truth::payments(base, api, scope).await;
    let mut per_order: BTreeMap<&str, Vec<&Paid>> = BTreeMap::new();
    for p in &payments {
        per_order.entry(p.order_id.as_str()).or_default().push(p);
        p.assert_captured_once_at_most();
    }
    for (order, list) in &per_order {
        assert_eq!(list.len(), 1, "command {order} has {} payments", list.len());
    }
    for (id, k) in known {
        if scope.is_some_and(|ids| !ids.contains(id)) {
            continue;
        }
        let payment = per_order.get(id.as_str()).map(|l| l[0]);
        match (&k.answer, payment) {
            (
                Some(Outcome::Captured {
                    amount, payment_id, ..
                }),
                Some(p),
            ) => {
                assert_eq!(&p.payment_id, payment_id, "{id}");
                assert_eq!(p.money, Money::Captured, "{id}: {}", p.raw);
                assert_eq!(p.captured, amount.0, "{id}");
            }
            (Some(Outcome::Captured { .. }), None) => panic!("{id} answered captured without a payment"),
            (Some(Outcome::Reserved { payment_id, .. }), Some(p)) => {
                assert_eq!(&p.payment_id, payment_id, "{id}");
                assert_eq!(p.money, Money::Reserved, "{id}: {}", p.raw);
            }
            _ => {}
        }
        if last {
            if let Some(p) = payment {
                if k.keep {
                    assert_ne!(p.money, Money::Captured, "{id} kept as reservation but captured");
                } else {
                    assert_ne!(
                        p.money,
                        Money::Reserved,
                        "{id}: reserved payment left without its capture"
                    );
                }
            }
        }
    }
}

/// A sale under order id `id`; kept as a reservation one time in five. Returns the command and
/// whether it keeps its reservation.
fn sale(id: &str) -> (Command, bool) {
    let mut rng = rand::thread_rng();
    let keep = rng.gen_bool(0.2);
    let command = Command::Pay {
        amount: Minor(rng.gen_range(100..10_000)),
        currency: Currency::DKK,
        order_id: id.into(),
        keep_reservation: keep,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    };
    (command, keep)
}

/// What the parent keeps for the products lane's commands.
struct Products {
    base: String,
    /// Test users for pushed invoices, [`sim_products::phone`] `0..phones`; the next is the
    /// customer who scans links.
    phones: usize,
    /// Invoices pushed to phones so far, ten to each phone in turn.
    pushed: usize,
    /// Sign-ups so far.
    signups: usize,
    /// The sign-ups answered with a captured first payment, and its amount.
    refundable: Vec<(String, i64)>,
}

impl Products {
    /// The next product command under order id `id`: an invoice or a sign-up, sometimes a
    /// refund of a sign-up's first payment.
    async fn next(&mut self, id: &str) -> Command {
        let (refund, invoice) = {
            let mut rng = rand::thread_rng();
            (rng.gen_bool(0.2), rng.gen_bool(0.65))
        };
        match (refund && !self.refundable.is_empty(), invoice) {
            (true, _) => self.refund(id).await,
            (false, true) => self.invoice(id).await,
            (false, false) => self.signup(id).await,
        }
    }

    /// A sign-up under order id `id` to the plan `Club <id>` (the simulator's ground truth
    /// keeps the plan, so it names the command), with a first payment four times in five. The
    /// customer's phone is given, and its scripted customer set first: after scanning the
    /// code, accept, reject, let it expire or accept with a card that is declined. Sometimes
    /// the simulator is told to drop the answer of the next create, or of the next capture of
    /// a first payment, after carrying it out.
    async fn signup(&mut self, id: &str) -> Command {
        let (price, first, action, delay, lost_create, lost_capture) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_range(1_000..10_000),
                rng.gen_bool(0.8).then(|| Minor(rng.gen_range(100..10_000))),
                [
                    "accept",
                    "accept",
                    "accept",
                    "accept",
                    "reject",
                    "ignore",
                    "cardFails",
                ][rng.gen_range(0..7)],
                rng.gen_range(0..3_000),
                rng.gen_bool(0.15),
                rng.gen_bool(0.1),
            )
        };
        let phone = sim_products::phone(self.phones + 1 + self.signups % SIGNUP_PHONES);
        self.signups += 1;
        sim_products::signup_customer(&self.base, &phone, action, delay, false).await;
        if lost_create {
            fault(&self.base, "subscriptionsCreateAgreement", "commitThenDrop").await;
        }
        if lost_capture {
            fault(&self.base, "subscriptionsCaptureOneOff", "commitThenDrop").await;
        }
        Command::SignUp {
            order_id: id.into(),
            plan: plan(id),
            description: None,
            price: Some(Minor(price)),
            currency: Currency::DKK,
            payments_per_year: Some(12),
            phone: Some(phone),
            first_payment: first,
            counter_wait_s: 60,
        }
    }

    /// A refund of part or all of a sign-up's first payment; a second refund of the same
    /// payment may ask for more than is left, which the engine refuses. Sometimes the
    /// simulator drops the answer of the next refund after making it.
    async fn refund(&mut self, id: &str) -> Command {
        let (signup, amount, lost) = {
            let mut rng = rand::thread_rng();
            let (signup, paid) = self.refundable[rng.gen_range(0..self.refundable.len())].clone();
            (signup, rng.gen_range(1..=paid), rng.gen_bool(0.15))
        };
        if lost {
            fault(&self.base, "subscriptionsCreateRefund", "commitThenDrop").await;
        }
        Command::Refund {
            payment: PaymentSelector::Command(CommandId::new(signup).expect("a command id")),
            amount: Minor(amount),
            currency: Currency::DKK,
            refund_order_id: id.into(),
        }
    }

    /// An invoice under order id `id` (its payment reference), by link (the customer at the
    /// counter for the 30 s a code to scan needs at least) or pushed to a phone (1–3 s). A
    /// phone's scripted customer is set before the push: pay at once, schedule for the due
    /// date, reject or ignore, after up to 4 s. Sometimes the simulator is told to drop the
    /// answer of the next create after making the invoice.
    async fn invoice(&mut self, id: &str) -> Command {
        let (link, amount, wait, action, delay, lost) = {
            let mut rng = rand::thread_rng();
            let link = rng.gen_bool(0.5);
            (
                link,
                rng.gen_range(100..10_000),
                if link {
                    rng.gen_range(30..=35)
                } else {
                    rng.gen_range(1..=3)
                },
                ["payNow", "schedule", "reject", "ignore"][rng.gen_range(0..4)],
                rng.gen_range(0..4_000),
                rng.gen_bool(0.15),
            )
        };
        let delivery = if link {
            InvoiceDelivery::Link
        } else {
            let number = sim_products::phone(self.pushed / INVOICES_PER_PHONE);
            self.pushed += 1;
            assert!(
                self.pushed <= self.phones * INVOICES_PER_PHONE,
                "more phones needed"
            );
            sim_products::invoice_customer(&self.base, &number, action, delay, false).await;
            InvoiceDelivery::Phone { number }
        };
        if lost {
            let endpoint = if link {
                "invoiceCreateLink"
            } else {
                "invoiceCreate"
            };
            fault(&self.base, endpoint, "commitThenDrop").await;
        }
        Command::Invoice {
            amount: Minor(amount),
            currency: Currency::DKK,
            order_id: id.into(),
            delivery,
            due_date: None,
            counter_wait_s: wait,
            order_lines: Vec::new(),
            label: None,
        }
    }

    /// Most links shown are scanned: an invoice's by the customer after the phones, who then
    /// pays at once, schedules or rejects, after up to 4 s; an agreement's by the customer of
    /// the phone it was made for, who does as set.
    async fn scan(&self, link: &str, command: &Command) {
        if let Command::SignUp { .. } = command {
            if rand::thread_rng().gen_bool(0.9) {
                // The page answers 404 once nothing is left to confirm (shown again after a
                // restart): the scan is then a customer looking at an old code.
                reqwest::get(link).await.expect("the landing page answers");
            }
            return;
        }
        let (scans, action, delay) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_bool(0.85),
                ["payNow", "schedule", "reject"][rng.gen_range(0..3)],
                rng.gen_range(0..4_000),
            )
        };
        if !scans {
            return;
        }
        let scanner = sim_products::phone(self.phones);
        sim_products::invoice_customer(&self.base, &scanner, action, delay, true).await;
        let page = reqwest::get(link).await.expect("the landing page answers");
        assert!(page.status().is_success(), "{link}: {}", page.status());
    }
}

/// Moves the simulator's virtual clock `ms` ahead; its timers that fall due run at once.
async fn advance_clock(base: &str, ms: u64) {
    let response = reqwest::Client::new()
        .post(format!("{base}/_sim/clock/advance"))
        .json(&json!({ "ms": ms }))
        .send()
        .await
        .expect("the simulator's control API answers");
    assert!(response.status().is_success(), "clock: {}", response.status());
}

/// The next call of the simulator's `endpoint` meets the fault `mode`.
async fn fault(base: &str, endpoint: &str, mode: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/_sim/faults"))
        .json(&json!({"endpoint": endpoint, "mode": mode, "count": 1}))
        .send()
        .await
        .expect("the simulator's control API answers");
    assert!(response.status().is_success(), "fault: {}", response.status());
}

/// Whether `now` still gives the answer `given`: the same outcome, except that an interim
/// "unknown" may since be resolved, and an invoice answered outstanding or scheduled may since
/// have been scheduled, paid or have ended (the same invoice).
fn still_answers(given: &Outcome, now: &Outcome) -> bool {
    match given {
        Outcome::Unknown { .. } => true,
        Outcome::InvoiceOutstanding { invoice_id, .. } | Outcome::InvoiceScheduled { invoice_id, .. } => {
            invoice_of(now) == Some(invoice_id.as_str())
        }
        _ => now == given,
    }
}

/// The invoice an invoice outcome names.
fn invoice_of(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::InvoicePaid { invoice_id, .. }
        | Outcome::InvoiceScheduled { invoice_id, .. }
        | Outcome::InvoiceOutstanding { invoice_id, .. } => Some(invoice_id),
        Outcome::InvoiceEnded { invoice_id, .. } => invoice_id.as_deref(),
        _ => None,
    }
}

/// The simulator's invoices judged against what the engine answered: see the module's rules.
/// Only the commands in `scope` when given; the pushes to every phone always.
async fn check_invoices(base: &str, known: &BTreeMap<String, Known>, scope: Option<&BTreeSet<String>>) {
    let truth = sim_products::invoices(base).await;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut per_command: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    let mut direct_per_phone: BTreeMap<String, u64> = BTreeMap::new();
    for i in truth["invoices"].as_array().expect("invoices") {
        per_command
            .entry(text(&i["paymentReference"]))
            .or_default()
            .push(i);
        if i["kind"] == "Direct" {
            *direct_per_phone.entry(text(&i["alias"])).or_default() += 1;
        }
    }
    let pushes = truth["pushes"].as_object().expect("pushes");
    for (phone, count) in pushes {
        let held = direct_per_phone.get(phone).copied().unwrap_or(0);
        assert_eq!(count.as_u64(), Some(held), "{phone}: pushes and invoices differ");
    }
    for (id, k) in known {
        if scope.is_some_and(|ids| !ids.contains(id)) || !matches!(k.command, Command::Invoice { .. }) {
            continue;
        }
        let made = per_command.get(id).cloned().unwrap_or_default();
        let status = |i: &Value| text(&i["status"]).to_lowercase();
        let direct = made.iter().filter(|i| i["kind"] == "Direct").count();
        assert!(
            direct <= 1,
            "{id}: {direct} invoices pushed to the phone: {made:?}"
        );
        let taken: Vec<&&Value> = made
            .iter()
            .filter(|i| ["paid", "accepted"].contains(&status(i).as_str()))
            .collect();
        assert!(
            taken.len() <= 1,
            "{id}: {} invoices paid or scheduled: {made:?}",
            taken.len()
        );
        let Some(answer) = &k.answer else { continue };
        // A person is called for a pushed invoice only when a lost create did push it.
        if let (
            Outcome::NeedsHuman { .. },
            Command::Invoice {
                delivery: InvoiceDelivery::Phone { .. },
                ..
            },
        ) = (answer, &k.command)
        {
            assert_eq!(direct, 1, "{id}: answered {answer:?}, the simulator has {made:?}");
        }
        let Some(answered) = invoice_of(answer) else {
            continue;
        };
        // The customer pays only what was shown or pushed, which is the invoice the engine follows.
        for i in taken {
            assert_eq!(i["invoiceId"], answered, "{id}: answered {answer:?}, paid {i}");
        }
        let found: Vec<&&Value> = made.iter().filter(|i| i["invoiceId"] == answered).collect();
        assert_eq!(
            found.len(),
            1,
            "{id}: answered {answer:?}, the simulator has {made:?}"
        );
        let now = status(found[0]);
        let fits = match answer {
            Outcome::InvoicePaid { .. } => now == "paid",
            Outcome::InvoiceScheduled { .. } => ["accepted", "paid"].contains(&now.as_str()),
            Outcome::InvoiceEnded {
                reason: InvoiceEndReason::RejectedByCustomer,
                ..
            } => now == "rejected",
            Outcome::InvoiceEnded { .. } => ["canceled", "expired"].contains(&now.as_str()),
            // Outstanding: whatever the customer did since.
            _ => true,
        };
        assert!(
            fits,
            "{id}: answered {answer:?}, the invoice is {now}: {}",
            found[0]
        );
    }
}

/// The plan of the sign-up `id`: it names the command in the simulator's ground truth.
fn plan(id: &str) -> String {
    format!("Club {id}")
}

/// The simulator's agreements judged against what the engine answered: see the module's
/// rules. Only the commands in `scope` when given; the counters and refunds always.
async fn check_agreements(
    base: &str,
    known: &BTreeMap<String, Known>,
    scope: Option<&BTreeSet<String>>,
    last: bool,
) {
    let truth = sim_products::agreements(base).await;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_lowercase();
    let list = |name: &str| truth[name].as_array().cloned().unwrap_or_default();
    let counters = &truth["counters"];
    for (counter, most) in [
        ("agreementsPerExternalId", "agreements"),
        ("reservationsPerAgreement", "reservations"),
        ("capturesPerAgreement", "captures"),
    ] {
        for (key, count) in counters[counter].as_object().expect("counters") {
            assert!(count.as_u64() <= Some(1), "{key}: {count} {most}: {truth}");
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
    let one_off = |id: &str| {
        one_offs
            .iter()
            .find(|o| text(&o["paymentId"]) == id.to_lowercase())
    };
    for (id, k) in known {
        if scope.is_some_and(|ids| !ids.contains(id)) {
            continue;
        }
        match (&k.command, &k.answer) {
            (
                Command::Refund { .. },
                Some(Outcome::Refunded {
                    refund_id, amount, ..
                }),
            ) => {
                let made = refunds
                    .iter()
                    .find(|r| text(&r["refundId"]) == refund_id.to_lowercase());
                let made = made.unwrap_or_else(|| panic!("{id}: refund {refund_id} is not made"));
                assert_eq!(made["amountMinor"].as_i64(), Some(amount.0), "{id}: {made}");
            }
            (Command::SignUp { .. }, answer) => {
                let made: Vec<&Value> = agreements.iter().filter(|a| a["plan"] == plan(id)).collect();
                assert!(made.len() <= 1, "{id}: {} agreements: {made:?}", made.len());
                let agreement = made.first();
                let first = agreement.and_then(|a| one_off(&text(&a["oneOffPaymentId"])));
                let status = |v: Option<&Value>| v.map(|v| text(&v["status"])).unwrap_or_default();
                match answer {
                    Some(Outcome::SignedUp {
                        agreement_id,
                        first_payment,
                        ..
                    }) => {
                        let a = agreement.unwrap_or_else(|| panic!("{id}: signed up without an agreement"));
                        assert_eq!(&text(&a["agreementId"]), &agreement_id.to_lowercase(), "{id}");
                        assert_eq!(status(Some(a)), "accepted", "{id}: {a}");
                        if let Some(amount) = first_payment {
                            let o = first.unwrap_or_else(|| panic!("{id}: no first payment: {a}"));
                            assert_eq!(status(Some(o)), "captured", "{id}: {o}");
                            assert_eq!(o["capturedAmountMinor"].as_i64(), Some(amount.0), "{id}: {o}");
                        }
                    }
                    Some(Outcome::AgreementEnded {
                        agreement_id: Some(agreement_id),
                        ..
                    }) => {
                        let a = agreement.unwrap_or_else(|| panic!("{id}: ended without an agreement"));
                        assert_eq!(&text(&a["agreementId"]), &agreement_id.to_lowercase(), "{id}");
                        let ended = ["rejected", "expired", "canceled"].contains(&status(Some(a)).as_str());
                        assert!(ended, "{id}: answered ended, the agreement is {a}");
                        assert_ne!(
                            status(first),
                            "captured",
                            "{id}: ended, but its first payment was captured"
                        );
                    }
                    _ => {}
                }
                // Every stored decision carried out: no first payment is left reserved.
                if last && !matches!(answer, Some(Outcome::NeedsHuman { .. })) {
                    assert_ne!(
                        status(first),
                        "reserved",
                        "{id}: first payment left reserved: {first:?}"
                    );
                }
            }
            _ => {}
        }
    }
}
