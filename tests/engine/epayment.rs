//! Every ePayment flow through the engine: the engine's ePayment backend over loopback HTTP to
//! the in-process simulator's fixture sales unit, a real sled journal on disk, and the
//! simulator's ground truth checked after each flow.

use super::sim_ep::{self, USER};
use super::support::{id, pay, test_policy};
use mposd::engine::api::{
    Command, CommandState, DeclineReason, EngineHandle, EventKind, LaneEvent, Outcome, PaymentSelector,
    RejectCode, Submission,
};
use mposd::engine::backend::{CustomerPrompt, OrderLine, Payer};
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use mposd::sim::fixtures::{personal_qr_of, EP_MSN};
use mposd::sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

/// The lane's name: ePayment has no registered point of sale.
const LANE: &str = "lane-1";

/// Generous for a loaded machine: the backend asks for a read every 2 s.
const PATIENCE: Duration = Duration::from_secs(90);

/// One ePayment lane: the simulator and the directory of the journal; engines are started on
/// it by [`start_engine`] (several lives in turn for the restart tests).
struct EpLane {
    sim: Arc<Simulator>,
    dir: tempfile::TempDir,
    http: reqwest::Client,
}

async fn ep_lane() -> EpLane {
    let sim = mposd::sim::start(SimConfig::default()).await.unwrap();
    EpLane {
        sim: Arc::new(sim),
        dir: tempfile::tempdir().unwrap(),
        http: reqwest::Client::new(),
    }
}

/// An engine with the ePayment backend on the lane's journal, `tweak` applied to the test
/// configuration.
async fn start_engine(lane: &EpLane, tweak: impl FnOnce(&mut EngineConfig)) -> EngineHandle {
    let (journal, aside) = Journal::open_or_set_aside(&lane.journal_path(), 4 << 20, 1).unwrap();
    let mut config = EngineConfig::new(LANE, None);
    config.policy = test_policy();
    tweak(&mut config);
    start(
        Arc::new(sim_ep::backend(&lane.sim.base_url())),
        journal,
        config,
        aside,
    )
    .await
    .unwrap()
}

impl EpLane {
    fn journal_path(&self) -> std::path::PathBuf {
        self.dir.path().join("journal")
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// A step of the simulated customer [`USER`] on the payment `reference`.
    async fn step(&self, reference: &str, step: &str) {
        self.control(
            reqwest::Method::POST,
            &format!("/_sim/epayment/payments/{EP_MSN}/{reference}/{step}"),
            json!({ "phoneNumber": USER }),
        )
        .await;
    }

    async fn fault(&self, endpoint: &str, mode: &str, count: u32) {
        self.control(
            reqwest::Method::POST,
            "/_sim/faults",
            json!({"endpoint": endpoint, "mode": mode, "count": count}),
        )
        .await;
    }

    async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "/_sim/faults", json!({}))
            .await;
    }

    async fn no_customers(&self) {
        self.control(reqwest::Method::DELETE, "/_sim/epayment/behaviour", json!({}))
            .await;
    }

    async fn payments(&self) -> Vec<Value> {
        sim_ep::payments(&self.sim.base_url()).await
    }

    /// The simulator's ground truth about the payment `reference`.
    async fn truth(&self, reference: &str) -> Value {
        self.payments()
            .await
            .into_iter()
            .find(|p| p["reference"] == reference)
            .unwrap_or_else(|| panic!("the simulator has no payment {reference}"))
    }

    /// The simulator's log of the requests to `endpoint`, oldest first.
    async fn requests_to(&self, endpoint: &str) -> Vec<Value> {
        let log = self
            .control(reqwest::Method::GET, "/_sim/requests", Value::Null)
            .await;
        log["log"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| entry["endpoint"] == endpoint)
            .collect()
    }

    /// Waits until the simulator has a payment, and returns its reference.
    async fn first_payment(&self) -> String {
        for _ in 0..600 {
            if let Some(p) = self.payments().await.first() {
                return p["reference"].as_str().unwrap().to_string();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no payment was created");
    }

    /// Waits until a request to `endpoint` was answered with `status`.
    async fn answered(&self, endpoint: &str, status: u64) {
        for _ in 0..600 {
            if self
                .requests_to(endpoint)
                .await
                .iter()
                .any(|r| r["status"] == status)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {endpoint} request was answered {status}");
    }
}

async fn run(engine: &EngineHandle, command_id: &str, command: Command) -> Outcome {
    tokio::time::timeout(PATIENCE, engine.run(id(command_id), command))
        .await
        .expect("the command finishes")
        .expect("the engine runs")
}

/// The next event of `submission` that `pick` takes.
async fn event_of<T>(submission: &mut Submission, mut pick: impl FnMut(&EventKind) -> Option<T>) -> T {
    tokio::time::timeout(PATIENCE, async {
        loop {
            let LaneEvent { kind, .. } = submission
                .next_event()
                .await
                .expect("the submission ends with the event");
            if let Some(found) = pick(&kind) {
                return found;
            }
        }
    })
    .await
    .expect("the event comes")
}

/// What the customer of a waiting payment is shown.
async fn waiting_prompt(submission: &mut Submission) -> (String, CustomerPrompt) {
    event_of(submission, |kind| match kind {
        EventKind::WaitingForCustomer {
            payment_id,
            prompt: Some(prompt),
            ..
        } => Some((payment_id.clone(), prompt.clone())),
        _ => None,
    })
    .await
}

async fn outcome_of(submission: Submission) -> Outcome {
    tokio::time::timeout(PATIENCE, submission.outcome())
        .await
        .expect("the command finishes")
        .expect("the engine runs")
}

/// A sale paid by `payer`, with `order_lines` as its receipt.
fn sale(amount: i64, order: &str, payer: Payer, order_lines: Vec<OrderLine>) -> Command {
    Command::Pay {
        amount: Minor(amount),
        currency: Currency::DKK,
        order_id: order.into(),
        keep_reservation: false,
        restrictions: None,
        label: None,
        payer,
        order_lines,
    }
}

fn capture(target: &str, amount: i64) -> Command {
    Command::Capture {
        target: id(target),
        amount: Some(Minor(amount)),
    }
}

fn refund(target: &str, amount: i64, refund_order: &str) -> Command {
    Command::Refund {
        payment: PaymentSelector::Command(id(target)),
        amount: Minor(amount),
        currency: Currency::DKK,
        refund_order_id: refund_order.into(),
    }
}

fn events_named(truth: &Value, name: &str) -> usize {
    truth["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == name)
        .count()
}

fn rejected_with(outcome: &Outcome) -> RejectCode {
    match outcome {
        Outcome::Rejected { code, .. } => *code,
        other => panic!("not rejected: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qr_sale_shows_the_official_image_and_is_captured_once() {
    let lane = ep_lane().await;
    let engine = start_engine(&lane, |_| {}).await;
    let mut sale = engine
        .submit(id("sale-1"), pay(4995, "R1-0001", false))
        .await
        .unwrap();
    let (payment_id, prompt) = waiting_prompt(&mut sale).await;
    let CustomerPrompt::QrImage { url } = prompt else {
        panic!("{prompt:?}")
    };
    let image = reqwest::get(&url).await.unwrap();
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    let bytes = image.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");

    lane.step(&payment_id, "approve").await;
    let outcome = outcome_of(sale).await;
    assert_eq!(
        outcome,
        Outcome::Captured {
            payment_id: payment_id.clone(),
            amount: Minor(4995),
            currency: Currency::DKK
        }
    );
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["userFlow"], "QR");
    assert_eq!(truth["capturedMinor"], 4995);
    assert_eq!(events_named(&truth, "CAPTURED"), 1, "{truth}");
    assert_eq!(lane.requests_to("epCapture").await.len(), 1);
    // The same command again is answered from the journal.
    assert_eq!(run(&engine, "sale-1", pay(4995, "R1-0001", false)).await, outcome);
    assert_eq!(lane.payments().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_is_pushed_to_a_phone_number_or_a_personal_qr() {
    let lane = ep_lane().await;
    sim_ep::customers(&lane.sim.base_url(), "approve", 200).await;
    let engine = start_engine(&lane, |_| {}).await;
    let payers = [
        ("by-phone", Payer::Phone { number: USER.into() }),
        (
            "by-personal-qr",
            Payer::PersonalQr {
                code: personal_qr_of(USER),
            },
        ),
    ];
    for (n, (command, payer)) in payers.into_iter().enumerate() {
        let mut sale = engine
            .submit(id(command), sale(1500, &format!("R1-000{n}"), payer, Vec::new()))
            .await
            .unwrap();
        let (payment_id, prompt) = waiting_prompt(&mut sale).await;
        assert_eq!(prompt, CustomerPrompt::PushSent);
        let outcome = outcome_of(sale).await;
        assert!(
            matches!(
                outcome,
                Outcome::Captured {
                    amount: Minor(1500),
                    ..
                }
            ),
            "{outcome:?}"
        );
        let truth = lane.truth(&payment_id).await;
        assert_eq!(truth["userFlow"], "PUSH_MESSAGE", "{truth}");
        assert_eq!(truth["customer"], USER, "{truth}");
        assert_eq!(truth["capturedMinor"], 1500, "{truth}");
    }

    // A phone number or a personal QR the backend does not know: refused, nothing created.
    let unknown = [
        (
            "unknown-phone",
            Payer::Phone {
                number: "4599999999".into(),
            },
        ),
        (
            "unknown-qr",
            Payer::PersonalQr {
                code: personal_qr_of("4599999999"),
            },
        ),
    ];
    for (command, payer) in unknown {
        let outcome = run(&engine, command, sale(1500, "R1-0009", payer, Vec::new())).await;
        assert_eq!(rejected_with(&outcome), RejectCode::InvalidRequest, "{outcome:?}");
    }
    assert_eq!(lane.payments().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_lines_reach_the_app_as_the_receipt() {
    let lane = ep_lane().await;
    sim_ep::customers(&lane.sim.base_url(), "approve", 0).await;
    let engine = start_engine(&lane, |_| {}).await;
    let line = |id: &str, name: &str, quantity, total, vat_rate| OrderLine {
        id: id.into(),
        name: name.into(),
        quantity,
        total: Minor(total),
        vat_rate,
    };
    let lines = vec![
        line("4711", "Rugbrød", Some(2), 4500, 2500),
        line("0815", "Kaffe", None, 2995, 2500),
    ];
    let outcome = run(&engine, "sale-1", sale(7495, "R1-0001", Payer::Scans, lines)).await;
    let Outcome::Captured { payment_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    let receipt = lane.truth(&payment_id).await["receipt"].clone();
    let names: Vec<&str> = receipt["orderLines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Rugbrød", "Kaffe"], "{receipt}");
    assert_eq!(receipt["orderLines"][0]["totalAmount"], 4500);
    assert_eq!(receipt["orderLines"][0]["taxRate"], 2500);
    assert_eq!(receipt["orderLines"][0]["unitInfo"]["quantity"], "2");
    assert_eq!(receipt["bottomLine"]["currency"], "DKK");
    assert_eq!(receipt["bottomLine"]["receiptNumber"], "R1-0001");

    // A VAT rate above 100 %: refused before anything is stored or sent; nothing is created.
    let outcome = run(
        &engine,
        "sale-2",
        sale(
            7495,
            "R1-0002",
            Payer::Scans,
            vec![line("1", "Odd", None, 7495, 10_001)],
        ),
    )
    .await;
    assert_eq!(rejected_with(&outcome), RejectCode::InvalidOrderLines);
    assert_eq!(lane.payments().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_is_captured_in_parts_released_and_refunded_within_limits() {
    let lane = ep_lane().await;
    sim_ep::customers(&lane.sim.base_url(), "approve", 0).await;
    let engine = start_engine(&lane, |_| {}).await;
    let outcome = run(&engine, "sale-1", pay(12_000, "R1-0001", true)).await;
    let Outcome::Reserved { payment_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(matches!(
        run(&engine, "cap-1", capture("sale-1", 5000)).await,
        Outcome::Captured {
            amount: Minor(5000),
            ..
        }
    ));
    assert!(matches!(
        run(&engine, "cap-2", capture("sale-1", 4000)).await,
        Outcome::Captured {
            amount: Minor(4000),
            ..
        }
    ));
    // 3000 are left: a capture of 5000 is refused and moves nothing.
    let above = run(&engine, "cap-3", capture("sale-1", 5000)).await;
    assert_eq!(rejected_with(&above), RejectCode::CaptureExceedsReservation);
    assert_eq!(
        run(&engine, "release", Command::Cancel { target: id("sale-1") }).await,
        Outcome::Cancelled { target: id("sale-1") }
    );
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["capturedMinor"], 9000, "{truth}");
    assert_eq!(truth["cancelledMinor"], 3000, "{truth}");

    // Refunds of what was captured: two parts, then one above what is left.
    for (command, amount) in [("refund-1", 2000), ("refund-2", 3000)] {
        let outcome = run(&engine, command, refund("sale-1", amount, command)).await;
        assert!(
            matches!(outcome, Outcome::Refunded { amount: a, .. } if a == Minor(amount)),
            "{outcome:?}"
        );
    }
    let too_much = run(&engine, "refund-3", refund("sale-1", 4001, "refund-3")).await;
    assert_eq!(rejected_with(&too_much), RejectCode::RefundTooHigh);
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["refundedMinor"], 5000, "{truth}");
    assert_eq!(events_named(&truth, "REFUNDED"), 2, "{truth}");
    assert_eq!(events_named(&truth, "CAPTURED"), 2, "{truth}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_payment_and_a_reservation_are_cancelled() {
    let lane = ep_lane().await;
    let engine = start_engine(&lane, |_| {}).await;
    let mut sale = engine
        .submit(id("sale-1"), pay(1000, "R1-0001", false))
        .await
        .unwrap();
    let (waiting, _) = waiting_prompt(&mut sale).await;
    assert_eq!(
        run(&engine, "cancel-1", Command::Cancel { target: id("sale-1") }).await,
        Outcome::Cancelled { target: id("sale-1") }
    );
    assert_eq!(
        outcome_of(sale).await,
        Outcome::Declined {
            payment_id: Some(waiting.clone()),
            reason: DeclineReason::CancelledByCashier
        }
    );
    assert_eq!(lane.truth(&waiting).await["state"], "TERMINATED");

    sim_ep::customers(&lane.sim.base_url(), "approve", 0).await;
    let reserved = run(&engine, "sale-2", pay(2000, "R1-0002", true)).await;
    let Outcome::Reserved { payment_id, .. } = reserved else {
        panic!("{reserved:?}")
    };
    assert_eq!(
        run(&engine, "cancel-2", Command::Cancel { target: id("sale-2") }).await,
        Outcome::Cancelled { target: id("sale-2") }
    );
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["state"], "AUTHORIZED", "{truth}");
    assert_eq!(truth["cancelledMinor"], 2000, "{truth}");
    assert_eq!(truth["capturedMinor"], 0, "{truth}");
}

/// The customer has the payment open in the app: the backend refuses a cancel (423) until
/// they answer, and the engine keeps at it; approved meanwhile, the reservation is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_while_the_customer_approves_waits_for_their_answer() {
    let lane = ep_lane().await;
    let engine = start_engine(&lane, |_| {}).await;
    let mut sale = engine
        .submit(id("sale-1"), pay(3000, "R1-0001", false))
        .await
        .unwrap();
    let (payment_id, _) = waiting_prompt(&mut sale).await;
    lane.step(&payment_id, "open").await;
    let cancel = engine
        .submit(id("cancel-1"), Command::Cancel { target: id("sale-1") })
        .await
        .unwrap();
    lane.answered("epCancel", 423).await;
    lane.step(&payment_id, "approve").await;
    assert_eq!(
        outcome_of(cancel).await,
        Outcome::Cancelled { target: id("sale-1") }
    );
    let outcome = outcome_of(sale).await;
    assert!(matches!(outcome, Outcome::Declined { .. }), "{outcome:?}");
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["state"], "AUTHORIZED", "{truth}");
    assert_eq!(truth["cancelledMinor"], 3000, "{truth}");
    assert_eq!(truth["capturedMinor"], 0, "{truth}");
    assert!(lane.requests_to("epCapture").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_the_customer_aborts_or_lets_expire_is_declined() {
    let lane = ep_lane().await;
    sim_ep::customers(&lane.sim.base_url(), "abort", 0).await;
    let engine = start_engine(&lane, |_| {}).await;
    let aborted = run(&engine, "sale-1", pay(1000, "R1-0001", false)).await;
    let Outcome::Declined {
        payment_id: Some(reference),
        reason: DeclineReason::CancelledByUser,
    } = aborted
    else {
        panic!("{aborted:?}")
    };
    assert_eq!(lane.truth(&reference).await["state"], "ABORTED");

    lane.no_customers().await;
    let mut sale = engine
        .submit(id("sale-2"), pay(1000, "R1-0002", false))
        .await
        .unwrap();
    let (waiting, _) = waiting_prompt(&mut sale).await;
    lane.control(
        reqwest::Method::POST,
        "/_sim/clock/advance",
        json!({ "ms": 10 * 60 * 1000 + 1000 }),
    )
    .await;
    assert_eq!(
        outcome_of(sale).await,
        Outcome::Declined {
            payment_id: Some(waiting.clone()),
            reason: DeclineReason::ExpiredAndCancelled
        }
    );
    assert_eq!(lane.truth(&waiting).await["state"], "EXPIRED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_payment_is_not_supported() {
    let lane = ep_lane().await;
    let engine = start_engine(&lane, |_| {}).await;
    let outcome = run(
        &engine,
        "prep-1",
        Command::Prepare {
            order_id: "R1-0001".into(),
        },
    )
    .await;
    assert_eq!(rejected_with(&outcome), RejectCode::NotSupported);
    assert!(lane.payments().await.is_empty());
    assert!(lane.requests_to("epCreatePayment").await.is_empty());
}

/// The backend is unreachable until the engine has answered "unknown"; the customer approves
/// meanwhile. Once the backend answers, the engine follows its stored decision: the sale was
/// not confirmed to the cash register, so the reservation is released, never captured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_approval_after_an_unknown_answer_is_released() {
    let lane = ep_lane().await;
    let engine = start_engine(&lane, |config| {
        config.policy.answer_unknown_after_ms = 1000;
    })
    .await;
    lane.fault("epGetPayment", "serverError", 100_000).await;
    lane.fault("epCancel", "serverError", 100_000).await;
    let outcome = run(&engine, "sale-1", pay(2500, "R1-0001", false)).await;
    let Outcome::Unknown {
        payment_id: Some(payment_id),
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    lane.step(&payment_id, "approve").await;
    assert_eq!(lane.truth(&payment_id).await["state"], "AUTHORIZED");
    lane.clear_faults().await;

    let resolved = finished(&engine, "sale-1").await;
    assert!(
        matches!(&resolved, Outcome::Declined { payment_id: Some(p), .. } if *p == payment_id),
        "{resolved:?}"
    );
    let truth = lane.truth(&payment_id).await;
    assert_eq!(truth["cancelledMinor"], 2500, "{truth}");
    assert_eq!(truth["capturedMinor"], 0, "{truth}");
    assert!(lane.requests_to("epCapture").await.is_empty());
}

/// The command's final outcome, waiting past an interim `Unknown` until it is resolved.
async fn finished(engine: &EngineHandle, command: &str) -> Outcome {
    for _ in 0..1800 {
        if let Some(view) = engine.query(&id(command)).await.unwrap() {
            match view.state {
                CommandState::Finished(Outcome::Unknown { .. }) | CommandState::Running => {}
                CommandState::Finished(outcome) => return outcome,
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{command} did not finish");
}

/// One life of the engine in its own runtime; dropping it kills every engine task at once, like
/// a killed process.
struct Life {
    runtime: Runtime,
    engine: EngineHandle,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn life(lane: &EpLane, tweak: impl FnOnce(&mut EngineConfig)) -> Life {
    let runtime = runtime();
    let engine = runtime.block_on(start_engine(lane, tweak));
    Life { runtime, engine }
}

impl Life {
    fn kill(self) {
        drop(self.engine);
        self.runtime.shutdown_timeout(Duration::from_secs(10));
    }
}

#[test]
fn a_sale_interrupted_by_a_crash_is_found_by_its_reference_and_captured_once() {
    let main = runtime();
    let lane = main.block_on(ep_lane());
    let first = life(&lane, |_| {});
    let submission = main
        .block_on(first.engine.submit(id("sale-1"), pay(2000, "R1-0001", false)))
        .unwrap();
    let reference = main.block_on(lane.first_payment());
    drop(submission);
    first.kill();
    // The customer approves while no engine runs.
    main.block_on(lane.step(&reference, "approve"));

    let second = life(&lane, |_| {});
    let outcome = main.block_on(finished(&second.engine, "sale-1"));
    assert_eq!(
        outcome,
        Outcome::Captured {
            payment_id: reference.clone(),
            amount: Minor(2000),
            currency: Currency::DKK
        }
    );
    let payments = main.block_on(lane.payments());
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], 2000);
    assert_eq!(events_named(&payments[0], "CAPTURED"), 1);
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_reaches_the_same_payment_again() {
    let lane = ep_lane().await;
    sim_ep::customers(&lane.sim.base_url(), "approve", 0).await;
    let engine = start_engine(&lane, |_| {}).await;
    lane.fault("epCreatePayment", "commitThenDrop", 1).await;
    let outcome = run(&engine, "sale-1", pay(1200, "R1-0001", false)).await;
    assert!(
        matches!(
            outcome,
            Outcome::Captured {
                amount: Minor(1200),
                ..
            }
        ),
        "{outcome:?}"
    );
    let payments = lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], 1200);
    let creates = lane.requests_to("epCreatePayment").await;
    assert!(creates.len() >= 2, "{creates:?}");
    assert!(!creates[0]["fault"].is_null(), "{creates:?}");
    assert!(
        creates
            .iter()
            .all(|c| c["idempotencyKey"] == creates[0]["idempotencyKey"]),
        "{creates:?}"
    );
}

/// A kept reservation 11 days old (its record written back with that age, as a box that ran
/// that long would have it): the alarm is raised once, and nothing is captured.
#[test]
fn a_reservation_near_its_capture_deadline_raises_the_alarm_once() {
    let main = runtime();
    let lane = main.block_on(ep_lane());
    main.block_on(sim_ep::customers(&lane.sim.base_url(), "approve", 0));
    let first = life(&lane, |_| {});
    let outcome = first
        .runtime
        .block_on(first.engine.run(id("sale-1"), pay(5000, "R1-0001", true)))
        .unwrap();
    let Outcome::Reserved { payment_id, .. } = outcome else {
        panic!("{outcome:?}")
    };
    first.kill();

    {
        let (journal, _) = Journal::open_or_set_aside(&lane.journal_path(), 4 << 20, 1).unwrap();
        let mut record = journal.get(&id("sale-1")).unwrap().unwrap().unwrap();
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        record.updated_at_ms = now_ms - (11 * 24 + 1) * 3600 * 1000;
        journal.put(&record).unwrap();
        journal.durable_now().unwrap();
    }

    let second = life(&lane, |config| {
        config.reconcile_every = Duration::from_millis(100);
    });
    let deadline_alarms = || {
        main.block_on(second.engine.alarms())
            .unwrap()
            .into_iter()
            .filter(|a| a.contains("sale-1") && a.contains("must be captured or cancelled"))
            .collect::<Vec<_>>()
    };
    let mut alarms = Vec::new();
    for _ in 0..600 {
        alarms = deadline_alarms();
        if !alarms.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert!(alarms[0].contains(&payment_id), "{alarms:?}");
    // Many sweeps later it is still the one alarm.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(deadline_alarms().len(), 1);
    let truth = main.block_on(lane.truth(&payment_id));
    assert_eq!(truth["capturedMinor"], 0, "{truth}");
    assert_eq!(truth["state"], "AUTHORIZED", "{truth}");
    assert!(main.block_on(lane.requests_to("epCapture")).is_empty());
    second.kill();
}

/// A sales unit whose sticker `till-1` takes check-ins (its `user.checked-in.v1` webhook
/// points nowhere: the tests hand the tokens to the backend themselves).
async fn sticker_at(lane: &EpLane) {
    let client = sim_ep::backend(&lane.sim.base_url()).client().clone();
    let correlation = mposd::correlation::Correlation::new("test");
    client
        .register_webhook(
            &correlation,
            &mposd::backends::epayment::webhooks::RegisterRequest {
                url: "http://127.0.0.1:9/hooks".into(),
                events: vec![mposd::backends::epayment::qr::USER_CHECKED_IN.into()],
            },
        )
        .await
        .unwrap();
    client
        .put_callback_qr(
            &correlation,
            "till-1",
            &mposd::backends::epayment::qr::PutMerchantCallbackRequest {
                location_description: "Till 1".into(),
                category: None,
            },
        )
        .await
        .unwrap();
}

/// `phone` scans the sticker; the backend learns the check-in's token as the daemon's
/// webhook listener would tell it.
async fn checks_in(lane: &EpLane, backend: &mposd::backends::epayment::engine::EpaymentBackend, phone: &str) {
    let event = lane
        .control(
            reqwest::Method::POST,
            "/_sim/epayment/checkin",
            json!({
                "qrContent": format!("https://qr.vipps.no/sim/merchant-callback/{EP_MSN}/till-1"),
                "phoneNumber": phone
            }),
        )
        .await;
    let token = event["customerToken"].as_str().expect("a token");
    backend.check_ins().record(
        LANE,
        mposd::secrets::Secret::new(token),
        std::time::Instant::now(),
    );
}

async fn start_engine_on(
    lane: &EpLane,
    backend: mposd::backends::epayment::engine::EpaymentBackend,
) -> EngineHandle {
    let (journal, aside) = Journal::open_or_set_aside(&lane.journal_path(), 4 << 20, 1).unwrap();
    let mut config = EngineConfig::new(LANE, None);
    config.policy = test_policy();
    start(Arc::new(backend), journal, config, aside).await.unwrap()
}

fn sticker_sale(amount: i64, order: &str) -> Command {
    sale(amount, order, Payer::Sticker, Vec::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_for_the_sticker_is_pushed_to_whoever_checked_in_and_refused_without_one() {
    let lane = ep_lane().await;
    sticker_at(&lane).await;
    let backend = sim_ep::backend(&lane.sim.base_url());
    let engine = start_engine_on(&lane, backend.clone()).await;
    let refused = run(&engine, "sale-1", sticker_sale(1500, "R1-0001")).await;
    assert_eq!(rejected_with(&refused), RejectCode::InvalidRequest, "{refused:?}");
    assert!(lane.payments().await.is_empty());

    sim_ep::customers(&lane.sim.base_url(), "approve", 0).await;
    checks_in(&lane, &backend, USER).await;
    let outcome = run(&engine, "sale-2", sticker_sale(1500, "R1-0002")).await;
    assert!(
        matches!(
            outcome,
            Outcome::Captured {
                amount: Minor(1500),
                ..
            }
        ),
        "{outcome:?}"
    );
    let payments = lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["userFlow"], "PUSH_MESSAGE");
    assert_eq!(payments[0]["customer"], USER);
}

/// A sale for the sticker whose create was never answered is replayed after a crash while a
/// newer customer has checked in: the replay's body differs, the API refuses its key, and the
/// engine finds its payment by the reference; the first customer pays it, once.
#[test]
fn a_sticker_sale_replayed_with_a_newer_check_in_finds_its_payment_by_reference() {
    let (first_customer, newer_customer) = (
        mposd::sim::fixtures::EP_USERS[1],
        mposd::sim::fixtures::EP_USERS[2],
    );
    let main = runtime();
    let lane = main.block_on(ep_lane());
    main.block_on(sticker_at(&lane));
    let backend = sim_ep::backend(&lane.sim.base_url());
    main.block_on(checks_in(&lane, &backend, first_customer));
    // Every create is carried out and its answer lost, until the crash.
    main.block_on(lane.fault("epCreatePayment", "commitThenDrop", 1000));
    let runtime1 = runtime();
    let first = runtime1.block_on(start_engine_on(&lane, backend));
    let submission = main
        .block_on(first.submit(id("sale-1"), sticker_sale(2000, "R1-0001")))
        .unwrap();
    let reference = main.block_on(lane.first_payment());
    drop(submission);
    drop(first);
    runtime1.shutdown_timeout(Duration::from_secs(10));
    main.block_on(lane.clear_faults());

    let backend = sim_ep::backend(&lane.sim.base_url());
    main.block_on(checks_in(&lane, &backend, newer_customer));
    let runtime2 = runtime();
    let second = runtime2.block_on(start_engine_on(&lane, backend));
    main.block_on(lane.answered("epCreatePayment", 409));
    main.block_on(lane.control(
        reqwest::Method::POST,
        &format!("/_sim/epayment/payments/{EP_MSN}/{reference}/approve"),
        json!({ "phoneNumber": first_customer }),
    ));
    let outcome = main.block_on(finished(&second, "sale-1"));
    assert_eq!(
        outcome,
        Outcome::Captured {
            payment_id: reference.clone(),
            amount: Minor(2000),
            currency: Currency::DKK
        }
    );
    let payments = main.block_on(lane.payments());
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["customer"], first_customer);
    assert_eq!(events_named(&payments[0], "CAPTURED"), 1);
    drop(second);
    runtime2.shutdown_timeout(Duration::from_secs(10));
}
