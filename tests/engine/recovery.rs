//! Restarts: an engine is stopped dead (its runtime dropped with every task in flight, like a
//! killed process) and a new one starts on the same sled journal on disk.

use super::store_copy::copy_dir;
use super::support::*;
use mposd::backends::pos_v10::idempotency::IdempotencyKey;
use mposd::backends::pos_v10::model::{InitiatePaymentRequest, PlannedCaptureDelay};
use mposd::correlation::Correlation;
use mposd::engine::api::{CommandState, DeclineReason, EngineError, EngineHandle, EventKind, Outcome};
use mposd::money::{Currency, MajorAmount, Minor};
use std::time::Duration;
use tokio::runtime::Runtime;

/// One life of the engine in its own runtime; dropping it kills every engine task at once.
struct Life {
    runtime: Runtime,
    engine: EngineHandle,
}

fn life(main: &Runtime, lane: &Lane, n: u32) -> Life {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = main.block_on(client_for(&lane.sim, &lane.dir, &format!("tokens-{n}")));
    let engine = runtime.block_on(start_engine(&client, &lane.dir, &lane.pos_id, &lane.beacon_id));
    Life { runtime, engine }
}

impl Life {
    fn kill(self) {
        drop(self.engine);
        self.runtime.shutdown_timeout(Duration::from_secs(10));
    }
}

fn main_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

async fn wait_for(lane: &Lane, status: &str) -> String {
    for _ in 0..600 {
        if let Some(p) = lane.payments().await.into_iter().find(|p| p["status"] == status) {
            return p["paymentId"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no payment reached {status}");
}

/// The command's final outcome, waiting past an interim `Unknown` until it is resolved.
async fn finished(engine: &EngineHandle, command: &str) -> Outcome {
    for _ in 0..1200 {
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

/// Starts sale `sale-1` of 20.00 (order `order-1`) for a customer who accepts after 1.5 s, and
/// kills the engine once MobilePay has the payment `Initiated`.
fn crash_during_a_sale(main: &Runtime, lane: &Lane) {
    main.block_on(lane.customer(CREDIT_USER, "accept", 1500));
    let first = life(main, lane, 1);
    let submission = main
        .block_on(first.engine.submit(id("sale-1"), pay(2000, "order-1", false)))
        .unwrap();
    main.block_on(wait_for(lane, "Initiated"));
    drop(submission);
    first.kill();
}

#[test]
fn a_payment_interrupted_by_a_crash_is_resumed_and_captured_once() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    crash_during_a_sale(&main, &lane);

    let second = life(&main, &lane, 2);
    let outcome = main.block_on(finished(&second.engine, "sale-1"));
    assert!(
        matches!(
            outcome,
            Outcome::Captured {
                amount: Minor(2000),
                ..
            }
        ),
        "{outcome:?}"
    );
    // Asking again gives the same answer and no new payment.
    let again = main
        .block_on(second.engine.run(id("sale-1"), pay(2000, "order-1", false)))
        .unwrap();
    assert_eq!(again, outcome);
    let payments = main.block_on(lane.payments());
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], 2000);
    second.kill();
}

/// When the simulator received each `getPayment` request.
async fn polls(lane: &Lane) -> Vec<chrono::DateTime<chrono::FixedOffset>> {
    lane.requests_to("getPayment")
        .await
        .iter()
        .map(|entry| chrono::DateTime::parse_from_rfc3339(entry["at"].as_str().unwrap()).unwrap())
        .collect()
}

#[test]
fn a_resumed_payment_keeps_mobilepays_poll_delay_across_a_restart() {
    const DELAY_MS: i64 = 5000;
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine_with(|config| {
        config.settings.payment_poll_delay_ms = DELAY_MS as u32;
    }));
    // A customer who checks in and never approves: the poll that finds them is handled (its
    // time stored) when their check-in is announced.
    main.block_on(lane.customer(CREDIT_USER, "checkin", 0));
    let first = life(&main, &lane, 1);
    let mut submission = main
        .block_on(first.engine.submit(id("sale-1"), pay(2000, "order-1", false)))
        .unwrap();
    main.block_on(async {
        while let Some(event) = submission.next_event().await {
            if matches!(event.kind, EventKind::CustomerCheckedIn { .. }) {
                return;
            }
        }
        panic!("the customer's check-in was never announced");
    });
    first.kill();
    let before = main.block_on(polls(&lane));
    let last = *before.last().expect("polled before the restart");

    let second = life(&main, &lane, 2);
    let after = main.block_on(async {
        for _ in 0..600 {
            let after = polls(&lane).await;
            if after.len() > before.len() {
                return after;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the resumed payment was never polled");
    });
    let gap = (after[before.len()] - last).num_milliseconds();
    assert!(
        gap >= DELAY_MS,
        "the resumed poll came {gap} ms after the last one"
    );
    second.kill();
}

#[test]
fn every_answer_given_before_a_restart_is_answered_again() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    let first = life(&main, &lane, 1);
    let sale = main
        .block_on(first.engine.run(id("sale-1"), pay(1500, "order-1", false)))
        .unwrap();
    let reserved = main
        .block_on(first.engine.run(id("sale-2"), pay(700, "order-2", true)))
        .unwrap();
    first.kill();

    let second = life(&main, &lane, 2);
    for (command, outcome) in [("sale-1", &sale), ("sale-2", &reserved)] {
        let view = main.block_on(second.engine.query(&id(command))).unwrap().unwrap();
        assert_eq!(view.state, CommandState::Finished(outcome.clone()));
    }
    // The reservation is still ours to capture after the restart.
    let captured = main
        .block_on(second.engine.run(
            id("cap-2"),
            mposd::engine::api::Command::Capture {
                target: id("sale-2"),
                amount: None,
            },
        ))
        .unwrap();
    assert!(
        matches!(
            captured,
            Outcome::Captured {
                amount: Minor(700),
                ..
            }
        ),
        "{captured:?}"
    );
    second.kill();
}

#[test]
fn an_unreadable_journal_is_set_aside_and_open_work_rebuilt_without_capturing() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    let first = life(&main, &lane, 1);
    let reserved = main
        .block_on(first.engine.run(id("sale-1"), pay(900, "order-1", true)))
        .unwrap();
    let reserved_id = payment_id_of(&reserved);
    first.kill();
    // A payment left active on the point of sale (nobody comes to pay it), then the journal's
    // files are destroyed.
    main.block_on(lane.no_customers());
    let stale = main
        .block_on(lane.client.initiate_payment(
            &Correlation::new("payment"),
            &IdempotencyKey::generate(),
            &InitiatePaymentRequest {
                pos_id: lane.pos_id.clone(),
                order_id: "stale-order".into(),
                amount: MajorAmount::from_minor(Minor(300)),
                currency_code: Currency::DKK,
                restrictions: None,
                merchant_payment_label: None,
                planned_capture_delay: PlannedCaptureDelay::None,
            },
        ))
        .unwrap()
        .payment_id;
    for entry in std::fs::read_dir(lane.dir.path().join("journal")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::write(entry.path(), b"\x00not a sled file").unwrap();
        }
    }

    let second = life(&main, &lane, 2);
    let alarms = main.block_on(second.engine.alarms()).unwrap();
    assert!(alarms.iter().any(|a| a.contains("moved to")), "{alarms:?}");
    assert!(alarms.iter().any(|a| a.contains(&reserved_id)), "{alarms:?}");
    // The stale active payment is cancelled; the reservation is not captured.
    assert_eq!(main.block_on(lane.payment(&stale))["status"], "CancelledByClient");
    assert_eq!(main.block_on(lane.payment(&reserved_id))["status"], "Reserved");
    let recovered = format!("recovered-{reserved_id}");
    let view = main
        .block_on(second.engine.query(&id(&recovered)))
        .unwrap()
        .unwrap();
    assert!(matches!(
        view.state,
        CommandState::Finished(Outcome::Reserved { .. })
    ));
    // A person decides: capture it by its recovered command id.
    let captured = main
        .block_on(second.engine.run(
            id("cap-1"),
            mposd::engine::api::Command::Capture {
                target: id(&recovered),
                amount: None,
            },
        ))
        .unwrap();
    assert!(
        matches!(
            captured,
            Outcome::Captured {
                amount: Minor(900),
                ..
            }
        ),
        "{captured:?}"
    );
    second.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_answered_unknown_and_the_payment_cancelled_when_mobilepay_returns() {
    let lane = lane().await;
    lane.fault("getPayment", "serverError", 100_000).await;
    let outcome = lane.run("sale-1", pay(1000, "order-1", false)).await;
    let Outcome::Unknown {
        payment_id: Some(payment_id),
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    let mut events = lane.engine().subscribe();
    lane.clear_faults().await;
    let resolved = finished(lane.engine(), "sale-1").await;
    assert_eq!(
        resolved,
        Outcome::Declined {
            payment_id: Some(payment_id.clone()),
            reason: DeclineReason::Abandoned
        }
    );
    assert_eq!(lane.payment(&payment_id).await["status"], "CancelledByClient");
    // The record is visible to queries as soon as it is stored; the event follows its
    // durability point.
    let resolved_event = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(event) if matches!(event.kind, mposd::engine::api::EventKind::Resolved { .. }) => break,
                Ok(_) => {}
                Err(error) => panic!("{error}"),
            }
        }
    })
    .await;
    assert!(resolved_event.is_ok(), "no Resolved event");
}

#[test]
fn a_payment_left_active_on_the_point_of_sale_is_cancelled_at_start() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    let stale = main
        .block_on(lane.client.initiate_payment(
            &Correlation::new("payment"),
            &IdempotencyKey::generate(),
            &InitiatePaymentRequest {
                pos_id: lane.pos_id.clone(),
                order_id: "left-over".into(),
                amount: MajorAmount::from_minor(Minor(300)),
                currency_code: Currency::DKK,
                restrictions: None,
                merchant_payment_label: None,
                planned_capture_delay: PlannedCaptureDelay::None,
            },
        ))
        .unwrap()
        .payment_id;
    let engine = life(&main, &lane, 1);
    assert_eq!(main.block_on(lane.payment(&stale))["status"], "CancelledByClient");
    engine.kill();
}

async fn payments_of_order(lane: &Lane, order: &str) -> Vec<serde_json::Value> {
    lane.payments()
        .await
        .into_iter()
        .filter(|p| p["orderId"] == order)
        .collect()
}

#[test]
fn a_journal_that_lost_its_latest_records_is_caught_and_a_repeated_sale_is_not_paid_again() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    let journal = lane.dir.path().join("journal");
    let early = lane.dir.path().join("journal-early");

    let first = life(&main, &lane, 1);
    let sale1 = main
        .block_on(first.engine.run(id("sale-1"), pay(1200, "order-1", false)))
        .unwrap();
    first.kill();
    copy_dir(&journal, &early);
    let second = life(&main, &lane, 2);
    let sale2 = main
        .block_on(second.engine.run(id("sale-2"), pay(7700, "order-2", false)))
        .unwrap();
    assert!(matches!(sale2, Outcome::Captured { .. }), "{sale2:?}");
    second.kill();

    // What sled can do after a bad power cut: open cleanly with the latest writes gone. The
    // store's files go back to the copy; the mark beside them says more was durable.
    let mark = journal.join(mposd::store::mark::FILE_NAME);
    let newer_mark = std::fs::read(&mark).unwrap();
    std::fs::remove_dir_all(&journal).unwrap();
    std::fs::rename(&early, &journal).unwrap();
    std::fs::write(&mark, newer_mark).unwrap();

    let third = life(&main, &lane, 3);
    let alarms = main.block_on(third.engine.alarms()).unwrap();
    assert!(
        alarms.iter().any(|a| a.contains("latest records are gone")),
        "{alarms:?}"
    );
    // The journal cannot vouch for sale-2 any more: in doubt, not "never used".
    assert!(matches!(
        main.block_on(third.engine.query(&id("sale-2"))),
        Err(EngineError::InDoubt)
    ));
    assert!(third.engine.journal_doubt().is_some());
    // The register repeats sale-2 as the protocol tells it: MobilePay already has the order
    // captured, so nothing is created and a person is asked to look.
    let repeated = main
        .block_on(third.engine.run(id("sale-2"), pay(7700, "order-2", false)))
        .unwrap();
    match &repeated {
        Outcome::NeedsHuman { payment_id, detail } => {
            assert_eq!(payment_id.as_deref(), Some(payment_id_of(&sale2).as_str()));
            assert!(detail.contains("check it before selling again"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(main.block_on(payments_of_order(&lane, "order-2")).len(), 1);
    // The whole damaged journal was set aside, so sale-1 is in doubt too: flagged, not paid.
    let repeated = main
        .block_on(third.engine.run(id("sale-1"), pay(1200, "order-1", false)))
        .unwrap();
    assert!(
        matches!(&repeated, Outcome::NeedsHuman { payment_id: Some(p), .. } if *p == payment_id_of(&sale1)),
        "{repeated:?}"
    );
    assert_eq!(main.block_on(payments_of_order(&lane, "order-1")).len(), 1);
    // New sales go on, each looked up first.
    let sale3 = main
        .block_on(third.engine.run(id("sale-3"), pay(500, "order-3", false)))
        .unwrap();
    assert!(
        matches!(
            sale3,
            Outcome::Captured {
                amount: Minor(500),
                ..
            }
        ),
        "{sale3:?}"
    );
    assert_eq!(main.block_on(payments_of_order(&lane, "order-3")).len(), 1);
    third.kill();

    // The doubt outlives a restart (it is kept beside the store, not in the new journal).
    let fourth = life(&main, &lane, 4);
    assert!(fourth.engine.journal_doubt().is_some());
    let alarms = main.block_on(fourth.engine.alarms()).unwrap();
    assert!(alarms.iter().any(|a| a.contains("in doubt")), "{alarms:?}");
    fourth.kill();
}

#[test]
fn a_journal_lost_without_trace_still_cannot_pay_a_repeated_command_twice() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    let first = life(&main, &lane, 1);
    let sale = main
        .block_on(first.engine.run(id("sale-1"), pay(1200, "order-1", false)))
        .unwrap();
    first.kill();
    // Storage that lies completely: the store and its mark are gone, nothing says so. Only the
    // installation id beside the store survives.
    std::fs::remove_dir_all(lane.dir.path().join("journal")).unwrap();

    let second = life(&main, &lane, 2);
    assert!(second.engine.journal_doubt().is_none());
    // The repeated command carries the same derived key: MobilePay replays its first answer.
    let repeated = main
        .block_on(second.engine.run(id("sale-1"), pay(1200, "order-1", false)))
        .unwrap();
    assert_eq!(payment_id_of(&repeated), payment_id_of(&sale));
    assert!(
        matches!(
            repeated,
            Outcome::Captured {
                amount: Minor(1200),
                ..
            }
        ),
        "{repeated:?}"
    );
    assert_eq!(main.block_on(payments_of_order(&lane, "order-1")).len(), 1);
    second.kill();
    // A register that reuses the id for another sale (another amount) once the journal no
    // longer knows it gets a new payment, never the old sale's answer.
    std::fs::remove_dir_all(lane.dir.path().join("journal")).unwrap();
    let third = life(&main, &lane, 3);
    let other = main
        .block_on(third.engine.run(id("sale-1"), pay(1300, "order-1", false)))
        .unwrap();
    assert!(
        matches!(
            other,
            Outcome::Captured {
                amount: Minor(1300),
                ..
            }
        ),
        "{other:?}"
    );
    assert_ne!(payment_id_of(&other), payment_id_of(&sale));
    third.kill();
}

fn refund_of(target: &str, amount: i64, order: &str) -> mposd::engine::api::Command {
    mposd::engine::api::Command::Refund {
        payment: mposd::engine::api::PaymentSelector::Command(id(target)),
        amount: Minor(amount),
        currency: Currency::DKK,
        refund_order_id: order.into(),
    }
}

/// After a restart the engine holds only open work; a sale finished before it is read from the
/// journal on disk, and its refunds are limited and replayed exactly as before.
#[test]
fn history_read_from_disk_after_a_restart_answers_and_limits_refunds() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    let first = life(&main, &lane, 1);
    main.block_on(first.engine.run(id("sale-1"), pay(1000, "order-1", false)))
        .unwrap();
    let refunded = main
        .block_on(first.engine.run(id("refund-1"), refund_of("sale-1", 600, "r-1")))
        .unwrap();
    assert!(matches!(refunded, Outcome::Refunded { .. }), "{refunded:?}");
    first.kill();

    let second = life(&main, &lane, 2);
    let again = main
        .block_on(second.engine.run(id("refund-1"), refund_of("sale-1", 600, "r-1")))
        .unwrap();
    assert_eq!(again, refunded, "a repeat is answered from the journal");
    let too_much = main
        .block_on(second.engine.run(id("refund-2"), refund_of("sale-1", 401, "r-2")))
        .unwrap();
    assert!(
        matches!(
            too_much,
            Outcome::Rejected {
                code: mposd::engine::api::RejectCode::RefundTooHigh,
                ..
            }
        ),
        "{too_much:?}"
    );
    let rest = main
        .block_on(second.engine.run(id("refund-3"), refund_of("sale-1", 400, "r-3")))
        .unwrap();
    assert!(matches!(rest, Outcome::Refunded { .. }), "{rest:?}");
    assert_eq!(main.block_on(lane.refunds()).len(), 2, "one refund per command");
    second.kill();
}

/// A sale whose entry in the open-work index was lost to damage is not read at start; the check
/// of the whole journal right after finds it, resumes it, and says so.
#[test]
fn a_sale_the_open_work_index_lost_is_resumed_by_the_check_of_the_whole_journal() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    crash_during_a_sale(&main, &lane);
    {
        let db = sled::open(lane.dir.path().join("journal")).unwrap();
        let tree = db.open_tree("engine.commands").unwrap();
        assert!(
            tree.remove(b"\x01sale-1").unwrap().is_some(),
            "the index named the sale"
        );
        db.flush().unwrap();
    }

    let second = life(&main, &lane, 2);
    let outcome = main.block_on(finished(&second.engine, "sale-1"));
    assert!(matches!(outcome, Outcome::Captured { .. }), "{outcome:?}");
    let alarms = main.block_on(second.engine.alarms()).unwrap();
    assert!(
        alarms.iter().any(|a| a.contains("index had lost command sale-1")),
        "{alarms:?}"
    );
    assert_eq!(main.block_on(lane.payments()).len(), 1);
    second.kill();
}

/// Damage that the check of the whole journal finds while the engine runs: a finished sale,
/// which start-up does not read, no longer passes its checksum. From then on the journal
/// cannot vouch that an id was never used, so a query of an unknown id, like one of the damaged
/// record, is answered in doubt, not "not found".
#[test]
fn damage_found_while_running_puts_queries_of_unknown_ids_in_doubt() {
    let main = main_runtime();
    let lane = main.block_on(lane_without_engine());
    main.block_on(lane.customer(CREDIT_USER, "accept", 0));
    let first = life(&main, &lane, 1);
    let outcome = main
        .block_on(first.engine.run(id("sale-1"), pay(2000, "order-1", false)))
        .unwrap();
    assert!(matches!(outcome, Outcome::Captured { .. }), "{outcome:?}");
    assert!(main
        .block_on(first.engine.query(&id("never-used")))
        .unwrap()
        .is_none());
    first.kill();
    {
        let db = sled::open(lane.dir.path().join("journal")).unwrap();
        let tree = db.open_tree("engine.commands").unwrap();
        let mut value = tree.get(b"sale-1").unwrap().expect("the sale's record").to_vec();
        let middle = value.len() / 2;
        value[middle] ^= 0x55;
        tree.insert(b"sale-1", value).unwrap();
        db.flush().unwrap();
    }

    let second = life(&main, &lane, 2);
    for asked in ["never-used", "sale-1"] {
        let answer = main.block_on(second.engine.query(&id(asked)));
        assert!(matches!(answer, Err(EngineError::InDoubt)), "{asked}: {answer:?}");
    }
    let alarms = main.block_on(second.engine.alarms()).unwrap();
    assert!(
        alarms
            .iter()
            .any(|a| a.contains("the payment journal is damaged")),
        "{alarms:?}"
    );
    second.kill();
}
