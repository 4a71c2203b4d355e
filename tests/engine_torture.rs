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
//! It runs against PoS V10 and ePayment, one after the other (`MPOSD_TORTURE_BACKEND=pos-v10`,
//! `epayment` or `both`, the default). Quick mode (the default, run by `cargo test`): 200 kills
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
#[allow(dead_code)] // shared with the rot torture and the chaos; this test uses part of it
#[path = "shared/truth.rs"]
mod truth;

use mposd::backends::pos_v10::engine::PosV10Backend;
use mposd::engine::api::{Command, CommandId, CommandState, Outcome};
use mposd::engine::flow::Policy;
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

fn main() {
    if let Ok(api) = std::env::var("MPOSD_TORTURE_CHILD") {
        child(Api::named(&api).expect("a backend name"));
        return;
    }
    let kills: usize = std::env::var("MPOSD_TORTURE_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for api in Api::chosen() {
        let report = runtime.block_on(torture(api, kills));
        println!("{report}");
    }
}

/// The child: one engine on the journal in `MPOSD_TORTURE_DIR`; commands in, answers out.
fn child(api: Api) {
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
        let engine = match api {
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
                start(Arc::new(sim_ep::backend(&sim)), journal, config, None).await
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
                let outcome = engine.run(id.clone(), command).await.unwrap();
                say(json!({"id": id, "outcome": outcome}));
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

fn spawn_child(api: Api, base: &str, dir: &Path, pos: &str, beacon: &str) -> Running {
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("MPOSD_TORTURE_CHILD", api.name())
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

/// The simulator with a sales point of `api` and customers who pay at once: the simulator (kept
/// running for the whole torture), the point of sale's id (the lane's name for ePayment) and
/// its beacon.
async fn sales_point(api: Api, dir: &Path) -> (mposd::sim::Simulator, String, String) {
    match api {
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

async fn torture(api: Api, kills: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (sim, pos, beacon) = sales_point(api, dir.path()).await;
    let base = sim.base_url();

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
        let mut child = tokio::task::spawn_blocking(move || spawn_child(api, &b, &d, &p, &bc))
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
                    // Refusals are not journaled; an interim "unknown" may since be resolved.
                    (_, Outcome::Rejected { .. }) => true,
                    (Some(CommandState::Finished(_)), Outcome::Unknown { .. }) => true,
                    (Some(CommandState::Finished(now)), given) => now == given,
                    _ => false,
                };
                assert!(same, "run {run}: {id} was answered {answer:?}, now {state:?}");
            }
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
            if waiting.is_empty() {
                if last {
                    break;
                }
                next_id += 1;
                let id = format!("t{next_id}");
                let keep = rand::thread_rng().gen_bool(0.2);
                let command = Command::Pay {
                    amount: Minor(rand::thread_rng().gen_range(100..10_000)),
                    currency: Currency::DKK,
                    order_id: id.clone(),
                    keep_reservation: keep,
                    restrictions: None,
                    label: None,
                    payer: Default::default(),
                    order_lines: Vec::new(),
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
            if let (Some(id), Some(outcome)) = (reply["id"].as_str(), reply.get("outcome")) {
                let outcome: Outcome = serde_json::from_value(outcome.clone()).unwrap();
                waiting.retain(|w| w != id);
                if let Some(k) = known.get_mut(id) {
                    // A repeated command id must get the answer it got before.
                    if let Some(before) = &k.answer {
                        if !matches!(before, Outcome::Unknown { .. } | Outcome::Rejected { .. }) {
                            assert_eq!(&outcome, before, "{id} answered differently");
                        }
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
        if run % 100 == 99 {
            println!(
                "{}: {} kills checked, {} sales, {:.0} s",
                api.name(),
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
            Some(outcome) => serde_json::to_value(outcome)
                .ok()
                .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                .unwrap_or_default(),
            None => "unanswered".into(),
        };
        *tally.entry(kind).or_default() += 1;
    }
    format!(
        "engine torture ({}): {kills} SIGKILLs, {} sales ({tally:?}), {:.0} s: no double payment, \
         no double capture, every answer repeated, every decision carried out",
        api.name(),
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
