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
//!   captured payment per order id), no payment is captured twice or for more than its amount,
//!   and a payment for an approved sale is in the state the register was told;
//! - no approved sale is silently forgotten: every sale the register was once told approved is
//!   answered again the same (by `query` or by the repeated command), or flagged for a person
//!   (`in_doubt`, `needs_human`); never `declined`, and never paid again;
//! - a journal the daemon did not set aside never forgets a sale it accepted: `not_found` and
//!   `in_doubt` are answers only for sales the daemon never had, or had in a journal it set
//!   aside since (damage it did not notice would show here).
//!
//! Quick mode (the default, run by `cargo test`): 30 rounds. Long mode:
//! `MPOSD_ROT_ROUNDS=1000 cargo test --release --test rot_torture`. `MPOSD_ROT_SEED` picks the
//! random seed (printed at the start and with any failure; the timing of the daemon still
//! varies from run to run).

#[allow(dead_code)] // shared with the engine tests and benchmarks; this test uses part of it
#[path = "shared/sim_pos.rs"]
mod sim_pos;
#[allow(dead_code)] // shared with the daemon tests; this test uses part of it
#[path = "daemon/support.rs"]
mod support;

use mposd::ecr::link::LinkConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage, PaymentOptions, QueryState, WireOutcome};
use mposd::ecr::register::{Heard, Register};
use mposd::money::Minor;
use rand::rngs::StdRng;
use rand::seq::{IteratorRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use support::{DaemonLog, Setup};
use tokio::process::Child;

/// The longest the test waits for any answer of the daemon.
const WAIT: Duration = Duration::from_secs(90);
/// Answered sales queried again after each restart, besides those answered in the last life.
const OLD_ANSWERS_SAMPLED: usize = 10;
/// The whole ground truth is checked every this many rounds (and at the end); in between only
/// the orders the round touched.
const FULL_CHECK_EVERY: usize = 10;

/// Where the torture is, for the message of a failed check.
static CONTEXT: Mutex<String> = Mutex::new(String::new());

fn note(context: String) {
    *CONTEXT.lock().unwrap_or_else(|p| p.into_inner()) = context;
}

fn main() {
    let rounds: usize = std::env::var("MPOSD_ROT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("MPOSD_ROT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("rot torture: {rounds} rounds, seed {seed}");
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let context = CONTEXT.lock().unwrap_or_else(|p| p.into_inner()).clone();
        eprintln!("rot torture failed (seed {seed}): {context}");
        default_hook(info);
    }));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let report = runtime.block_on(torture(rounds, seed));
    println!("{report}");
}

/// One sale as the cash register knows it.
struct Sale {
    order: String,
    amount: Minor,
    reserve: bool,
    /// The approved outcome the register was told first.
    approved: Option<WireOutcome>,
    /// The last final answer the register received.
    last: Option<WireOutcome>,
    /// A person was asked to check this sale; the register no longer follows it.
    flagged: bool,
    /// The round in which the register last heard about it.
    heard_in: usize,
    /// The journal (counted by [`Ledger::journal`]) that last said it holds this sale: by
    /// `accepted`, an outcome or a query answer. That journal must never forget it.
    held_by: Option<usize>,
}

impl Sale {
    fn message(&self, id: &str) -> EcrMessage {
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
struct Tally {
    kills_mid_sale: usize,
    kills_between: usize,
    undamaged_restarts: usize,
    /// Rounds whose damage removed every file of the store.
    stores_lost: usize,
    /// (file, kind) → how often.
    damage: BTreeMap<(String, &'static str), usize>,
    /// Why the daemon set its journal aside → how often.
    set_aside: BTreeMap<String, usize>,
    queries: usize,
    confirmed: usize,
    not_found_resent: usize,
    replayed_same: usize,
    in_doubt: usize,
    needs_human: usize,
    ground_truth_checks: usize,
}

/// The cash register's memory and its judgement of every answer.
struct Ledger {
    sales: BTreeMap<String, Sale>,
    tally: Tally,
    round: usize,
    /// Which journal the daemon runs on: counts the times it set its journal aside.
    journal: usize,
}

impl Ledger {
    /// The daemon said (by `accepted`, an outcome or a query answer) that its journal holds `id`.
    fn held(&mut self, id: &str) {
        let journal = self.journal;
        if let Some(sale) = self.sales.get_mut(id) {
            sale.held_by = Some(journal);
        }
    }

    /// The daemon says it does not know `id`: only a journal set aside since it last held the
    /// sale may say so. Anything else is a journal that lost a record without noticing.
    fn forgotten(&self, id: &str, answer: &str) {
        let sale = &self.sales[id];
        assert!(
            sale.held_by != Some(self.journal),
            "{id} (order {}) was held by this journal, which was never set aside since, yet the \
             query answers {answer}: the journal lost it without noticing",
            sale.order
        );
    }

    /// The register received `outcome` as the final answer to `id`.
    fn told(&mut self, id: &str, outcome: WireOutcome) {
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

/// The final reply to one message of the register.
enum Reply {
    Outcome(WireOutcome),
    Query(QueryState, Option<WireOutcome>),
    Hello,
    Error(String),
    Closed,
}

/// One life of the daemon and the register's connection to it.
struct Life {
    daemon: Child,
    log: DaemonLog,
    register: Register,
    next_request: usize,
}

impl Life {
    async fn start(setup: &Setup, ledger: &mut Ledger) -> Life {
        let (mut daemon, log) = setup.start_daemon_logged().await;
        for line in log.lines() {
            if line.contains("was moved aside") {
                let entry: Value = serde_json::from_str(&line).unwrap_or_default();
                let reason = entry["fields"]["reason"].as_str().unwrap_or("unreadable");
                *ledger.tally.set_aside.entry(reason_kind(reason)).or_default() += 1;
                ledger.journal += 1;
            }
        }
        // "Ready" comes after each lane's cash-register line was opened.
        let stream = match tokio::net::TcpStream::connect(&setup.ecr_addr).await {
            Ok(stream) => stream,
            Err(error) => panic!(
                "cannot reach the daemon's cash-register listener ({error}); the daemon: {:?}; \
                 its log: {:#?}",
                daemon.try_wait(),
                log.lines()
            ),
        };
        let _ = stream.set_nodelay(true);
        let mut life = Life {
            daemon,
            log,
            register: Register::over(stream, LinkConfig::default()),
            next_request: 0,
        };
        let id = life.request_id();
        life.register.send(&EcrMessage::Hello {
            id: id.clone(),
            protocol: Some(1),
            ecr: Some("rot torture".into()),
        });
        match life.reply(&id, ledger).await {
            Reply::Hello => life,
            _ => panic!("no hello from the restarted daemon: {:?}", life.log.lines()),
        }
    }

    fn request_id(&mut self) -> String {
        self.next_request += 1;
        format!("q{}", self.next_request)
    }

    /// Reads until the final reply to `id`; every outcome heard on the way is given to the
    /// ledger (the register was told it).
    async fn reply(&mut self, id: &str, ledger: &mut Ledger) -> Reply {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let heard = tokio::time::timeout_at(deadline, self.register.next())
                .await
                .unwrap_or_else(|_| panic!("no answer to {id} within {WAIT:?}"));
            let message = match heard {
                None | Some(Heard::Closed) => return Reply::Closed,
                Some(Heard::GaveUp(body)) => panic!("the daemon did not acknowledge {body}"),
                Some(Heard::Unreadable(body)) => panic!("unreadable message from the daemon: {body}"),
                Some(Heard::Message(message)) => message,
            };
            match message {
                // Not final: the resolved outcome follows.
                DaemonMessage::Outcome {
                    outcome: WireOutcome::Unknown { .. },
                    ..
                } => {}
                DaemonMessage::Outcome { id: of, outcome, .. } => {
                    if of == id {
                        return Reply::Outcome(outcome);
                    }
                    ledger.told(&of, outcome);
                }
                DaemonMessage::QueryResult {
                    id: of,
                    state,
                    outcome,
                    ..
                } if of == id => return Reply::Query(state, outcome.map(|o| o.outcome)),
                DaemonMessage::Hello { id: of, .. } if of == id => return Reply::Hello,
                DaemonMessage::Accepted { id: of } => ledger.held(&of),
                DaemonMessage::Error {
                    id: Some(of),
                    code,
                    message,
                } if of == id => return Reply::Error(format!("{}: {message}", code.as_str())),
                _ => {}
            }
        }
    }

    /// Sends sale `id` (again) and waits for its final answer.
    async fn pay(&mut self, id: &str, ledger: &mut Ledger) {
        let message = ledger.sales[id].message(id);
        self.register.send(&message);
        match self.reply(id, ledger).await {
            Reply::Outcome(outcome) => ledger.told(id, outcome),
            Reply::Error(error) => panic!("{id} refused: {error}"),
            _ => panic!("the daemon went away while {id} ran: {:?}", self.log.lines()),
        }
    }

    /// What the register does after the daemon restarted: queries what it must know and acts
    /// on each answer as the protocol describes. Returns the ids it touched.
    async fn recheck(&mut self, ledger: &mut Ledger, all: bool, rng: &mut StdRng) -> BTreeSet<String> {
        let round = ledger.round;
        let open: Vec<String> = ledger
            .sales
            .iter()
            .filter(|(_, s)| !s.flagged)
            .filter(|(_, s)| all || s.last.is_none() || s.heard_in + 1 >= round)
            .map(|(id, _)| id.clone())
            .collect();
        let sample = ledger
            .sales
            .iter()
            .filter(|(id, s)| !s.flagged && s.last.is_some() && !open.contains(id))
            .map(|(id, _)| id.clone())
            .choose_multiple(rng, OLD_ANSWERS_SAMPLED);
        let mut again = Vec::new();
        for id in open.iter().chain(&sample) {
            let query = self.request_id();
            self.register.send(&EcrMessage::Query {
                id: query.clone(),
                command: id.clone(),
            });
            ledger.tally.queries += 1;
            let (state, outcome) = match self.reply(&query, ledger).await {
                Reply::Query(state, outcome) => (state, outcome),
                _ => panic!("query {id} not answered: {:?}", self.log.lines()),
            };
            match (state, outcome) {
                (QueryState::Finished, Some(outcome)) if !matches!(outcome, WireOutcome::Unknown { .. }) => {
                    if ledger.sales[id].approved.is_some() {
                        ledger.tally.confirmed += 1;
                    }
                    ledger.told(id, outcome);
                }
                (QueryState::Running | QueryState::Finished, _) => {
                    ledger.held(id);
                    match self.reply(id, ledger).await {
                        Reply::Outcome(outcome) => ledger.told(id, outcome),
                        _ => panic!("{id} was running but never answered: {:?}", self.log.lines()),
                    }
                }
                (QueryState::NotFound, _) => {
                    ledger.forgotten(id, "not_found");
                    ledger.tally.not_found_resent += 1;
                    again.push((id.clone(), false));
                }
                (QueryState::InDoubt, _) => {
                    ledger.forgotten(id, "in_doubt");
                    // The cashier checks the sale; then sends it again, which the protocol
                    // says is safe.
                    ledger.tally.in_doubt += 1;
                    again.push((id.clone(), true));
                }
            }
        }
        // Repeated only once every running command has ended: one payment at a time per lane.
        for (id, doubted) in &again {
            let approved = ledger.sales[id].approved.is_some();
            self.pay(id, ledger).await;
            if approved && !ledger.sales[id].flagged {
                ledger.tally.replayed_same += 1;
            }
            if *doubted {
                ledger.sales.get_mut(id).expect("a known sale").flagged = true;
            }
        }
        open.into_iter().chain(sample).collect()
    }

    /// SIGKILL; every outcome that reached the register before the line died counts.
    async fn kill(mut self, ledger: &mut Ledger) {
        self.daemon.kill().await.expect("SIGKILL");
        loop {
            match tokio::time::timeout(WAIT, self.register.next()).await {
                Ok(Some(Heard::Message(DaemonMessage::Outcome { id, outcome, .. }))) => {
                    if !matches!(outcome, WireOutcome::Unknown { .. }) {
                        ledger.told(&id, outcome);
                    }
                }
                Ok(Some(Heard::Message(DaemonMessage::Accepted { id }))) => ledger.held(&id),
                Ok(None | Some(Heard::Closed)) => return,
                Ok(Some(_)) => {}
                Err(_) => panic!("the line to the killed daemon did not close"),
            }
        }
    }
}

/// A short name for why the daemon set its journal aside.
fn reason_kind(reason: &str) -> String {
    let known = [
        ("latest records are gone", "journal behind its mark"),
        ("do not match its summary", "records lost or changed"),
        ("lost its summary", "summary lost"),
        ("summary is unreadable", "summary unreadable"),
        ("mark is unreadable", "mark unreadable"),
        ("mark is missing", "mark missing"),
        ("checksum", "record checksum"),
        ("cannot open the database", "sled refused to open"),
        ("sled failed", "sled panicked"),
        ("data file is missing", "data file lost"),
        ("cannot read the payment journal", "sled failed to read it"),
    ];
    known
        .iter()
        .find(|(words, _)| reason.contains(words))
        .map(|(_, kind)| kind.to_string())
        .unwrap_or_else(|| reason.chars().take(60).collect())
}

/// The ways a file is damaged; a file can also be lost whole (less often).
const KINDS: [&str; 3] = ["bit flips", "truncated", "zeroed tail"];
const REMOVED: &str = "removed";

/// Every file of the store in `state` and the files kept beside it.
fn store_files(state: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, found);
            } else {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&state.join("store"), &mut found);
    for beside in ["store.installation", "store.doubt"] {
        let path = state.join(beside);
        if path.exists() {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// The file's name as the summary counts it: `snap.*` and `blobs/*` together.
fn file_label(state: &Path, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with("snap.") {
        "snap.*".into()
    } else if path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|p| p == "blobs")
    {
        "blobs/*".into()
    } else {
        path.strip_prefix(state)
            .unwrap_or(path)
            .to_string_lossy()
            .replace("store/", "")
    }
}

/// A position in a file of `len` bytes: anywhere, or (as often) in its last 64 KiB, where the
/// latest writes of an append-only log are.
fn position(rng: &mut StdRng, len: u64) -> u64 {
    if rng.gen_bool(0.5) {
        rng.gen_range(0..len)
    } else {
        rng.gen_range(len.saturating_sub(64 << 10)..len)
    }
}

/// Damages 1–3 random files of the store (or none); returns what was done.
fn damage(state: &Path, rng: &mut StdRng, tally: &mut Tally) -> Vec<String> {
    if rng.gen_bool(0.25) {
        tally.undamaged_restarts += 1;
        return Vec::new();
    }
    let files: Vec<PathBuf> = store_files(state)
        .into_iter()
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    let count = rng.gen_range(1..=3).min(files.len());
    let mut done = Vec::new();
    for path in files.choose_multiple(rng, count) {
        let label = file_label(state, path);
        if rng.gen_bool(0.1) {
            std::fs::remove_file(path).expect("remove a store file");
            *tally.damage.entry((label.clone(), REMOVED)).or_default() += 1;
            done.push(format!("{label}: {REMOVED}"));
            continue;
        }
        let mut bytes = std::fs::read(path).expect("read a store file");
        let len = bytes.len() as u64;
        let kind = KINDS[rng.gen_range(0..KINDS.len())];
        let what = match kind {
            "bit flips" => {
                let flips = rng.gen_range(1..=8);
                for _ in 0..flips {
                    let at = position(rng, len) as usize;
                    bytes[at] ^= 1 << rng.gen_range(0..8);
                }
                format!("{flips} bit flips")
            }
            "truncated" => {
                let to = position(rng, len);
                bytes.truncate(to as usize);
                format!("truncated from {len} to {to} bytes")
            }
            _ => {
                let from = position(rng, len);
                bytes[from as usize..].fill(0);
                format!("zeroed from byte {from} of {len}")
            }
        };
        std::fs::write(path, &bytes).expect("write a store file");
        *tally.damage.entry((label.clone(), kind)).or_default() += 1;
        done.push(format!("{label}: {what}"));
    }
    done
}

/// Checks the simulator's ground truth for `orders` (all when `None`).
async fn check_ground_truth(setup: &Setup, ledger: &Ledger, orders: Option<&BTreeSet<String>>) {
    let path = match orders {
        Some(orders) if orders.is_empty() => return,
        Some(orders) => format!(
            "/_sim/payments?orderId={}",
            orders.iter().cloned().collect::<Vec<_>>().join(",")
        ),
        None => "/_sim/payments".to_string(),
    };
    let all = sim_pos::ground_truth(&setup.sim.base_url(), &path).await;
    let mut per_order: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for payment in all["payments"].as_array().expect("payments") {
        let captures = payment["history"]
            .as_array()
            .expect("history")
            .iter()
            .filter(|h| h["status"] == "Captured")
            .count();
        assert!(captures <= 1, "captured twice: {payment}");
        assert!(
            payment["capturedMinor"].as_i64().unwrap_or(0) <= payment["amountMinor"].as_i64().unwrap_or(0),
            "captured more than the amount: {payment}"
        );
        if let Some(order) = payment["orderId"].as_str() {
            per_order.entry(order.to_string()).or_default().push(payment);
        }
    }
    for (order, payments) in &per_order {
        let paid: Vec<&&Value> = payments
            .iter()
            .filter(|p| matches!(p["status"].as_str(), Some("Reserved" | "Captured")))
            .collect();
        assert!(
            paid.len() <= 1,
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
            if payment["status"] == "Captured" {
                assert!(
                    !sale.reserve,
                    "{id} was to be kept reserved, but is captured: {payment}"
                );
                assert_eq!(
                    payment["capturedMinor"].as_i64(),
                    Some(sale.amount.0),
                    "{id}: captured another amount: {payment}"
                );
            }
        }
        if sale.flagged {
            continue;
        }
        let told = |payment_id: &str| {
            payments
                .iter()
                .find(|p| p["paymentId"] == payment_id)
                .unwrap_or_else(|| panic!("{id} was told {:?}, MobilePay has {payments:?}", sale.last))
        };
        match &sale.last {
            Some(WireOutcome::Captured { payment_id, .. }) => {
                assert_eq!(told(payment_id)["status"], "Captured", "{id}");
            }
            Some(WireOutcome::Reserved { payment_id, .. }) => {
                assert_eq!(told(payment_id)["status"], "Reserved", "{id}");
            }
            _ => {}
        }
    }
}

async fn torture(rounds: usize, seed: u64) -> String {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let setup = Setup::new().await;
    sim_pos::customers_everywhere(&setup.sim.base_url(), "+4520031805", "accept", 150).await;
    let state = setup.dir.path().join("state");
    let mut ledger = Ledger {
        sales: BTreeMap::new(),
        tally: Tally::default(),
        round: 0,
        journal: 0,
    };
    let mut damaged: Vec<String> = Vec::new();
    for round in 0..=rounds {
        let last = round == rounds;
        ledger.round = round;
        note(format!(
            "round {round}, restart after damage {damaged:?} (state directory {})",
            state.display()
        ));
        let mut life = Life::start(&setup, &mut ledger).await;
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
            check_ground_truth(&setup, &ledger, None).await;
            ledger.tally.ground_truth_checks += 1;
            support::stops_with_exit_0(life.daemon).await;
            break;
        }
        note(format!("round {round}, sales"));
        let sales = rng.gen_range(1..=4);
        // The sale in whose middle the daemon dies, if any, and when.
        let cut = rng
            .gen_bool(0.5)
            .then(|| (rng.gen_range(0..sales), rng.gen_range(0..800u64)));
        for n in 0..sales {
            let number = ledger.sales.len() + 1;
            let id = format!("s{number}");
            let sale = Sale {
                order: format!("R{seed:x}-{number}"),
                amount: Minor(rng.gen_range(100..10_000)),
                reserve: rng.gen_bool(0.3),
                approved: None,
                last: None,
                flagged: false,
                heard_in: round,
                held_by: None,
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
        note(format!("round {round}, kill"));
        life.kill(&mut ledger).await;
        damaged = damage(&state, &mut rng, &mut ledger.tally);
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
        note(format!("round {round}, ground truth after the kill"));
        let full = round % FULL_CHECK_EVERY == FULL_CHECK_EVERY - 1;
        check_ground_truth(&setup, &ledger, (!full).then_some(&touched)).await;
        ledger.tally.ground_truth_checks += 1;
        if round % 25 == 24 {
            println!(
                "{} rounds, {} sales, {:.0} s",
                round + 1,
                ledger.sales.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    summary(&ledger, &state, rounds, started.elapsed())
}

fn summary(ledger: &Ledger, state: &Path, rounds: usize, took: Duration) -> String {
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
        "rot torture: {rounds} rounds, {} sales (approved: {captured} captured, {reserved} kept \
         reserved; {not_approved} never approved; {flagged} flagged for a person), {} SIGKILLs \
         ({} mid-sale, {} between sales), {} restarts without damage; damage: {}; {} stores lost \
         whole; journal set aside {} times ({}), {aside_dirs} stores kept aside; {} queries: {} \
         approved answers confirmed, {} not found and sent again ({} approved sales replayed the \
         same), {} in doubt, {} needs_human; {} ground-truth checks passed: no order paid twice, \
         no double capture, no approved sale forgotten or declined, no accepted sale lost by a \
         journal that was kept ({:.0} s)",
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
        took.as_secs_f64()
    )
}
