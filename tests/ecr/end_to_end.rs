//! End to end: a cash register on a real pseudo-terminal (which the daemon's lane opens by
//! path), the real payment engine with its sled journal on disk, and the MobilePay simulator
//! over loopback HTTP. Every command and event, the prepared flow, reservations, refunds, and
//! an ECR that restarts mid-payment.

use super::engine_support::{
    client_for, lane as engine_lane, lane_without_engine, start_engine, Lane, CREDIT_USER, LOYALTY_USER,
    PARTIAL_USER,
};
use super::support::{ask, expect, refused, PtyLine};
use mposd::ecr::lane::LaneConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage, Event, PaymentOptions, QueryState, WireOutcome};
use mposd::ecr::register::Register;

use mposd::ecr::serial::{serve_serial, SerialSettings};
use mposd::engine::{DeclineReason, RejectCode};
use mposd::money::{Currency, Minor};
use std::time::Duration;
use tokio_util::sync::{CancellationToken, DropGuard};

struct Setup {
    lane: Lane,
    line: PtyLine,
    _daemon: DropGuard,
}

async fn setup() -> Setup {
    let lane = engine_lane().await;
    let line = PtyLine::new();
    let token = CancellationToken::new();
    tokio::spawn(serve_serial(
        SerialSettings::new(&line.path),
        lane.engine().clone(),
        LaneConfig::default(),
        token.clone(),
    ));
    Setup {
        lane,
        line,
        _daemon: token.drop_guard(),
    }
}

fn pay(id: &str, amount: i64, order: &str, reserve: bool) -> EcrMessage {
    EcrMessage::Pay {
        id: id.into(),
        amount: Minor(amount),
        currency: Some(Currency::DKK),
        order: order.into(),
        reserve,
        options: PaymentOptions::default(),
    }
}

/// Sends a financial command and collects its events up to and including its outcome.
async fn run(ecr: &mut Register, message: EcrMessage) -> (Vec<Event>, bool, WireOutcome) {
    let id = message.id().to_string();
    let reply = ask(ecr, message).await;
    assert_eq!(reply, DaemonMessage::Accepted { id: id.clone() }, "{id}");
    let mut events = Vec::new();
    let (approved, outcome) = expect(ecr, &format!("the outcome of {id}"), |m| match m {
        DaemonMessage::Event { id: Some(i), event } if *i == id => {
            events.push(event.clone());
            None
        }
        DaemonMessage::Outcome {
            id: i,
            approved,
            outcome,
            ..
        } if *i == id => Some((*approved, outcome.clone())),
        _ => None,
    })
    .await;
    (events, approved, outcome)
}

/// Removes the simulator's automatic customers.
async fn no_customers(lane: &Lane) {
    let response = lane
        .http
        .delete(format!("{}/_sim/behaviour", lane.sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

fn payment_id(outcome: &WireOutcome) -> String {
    match outcome {
        WireOutcome::Captured { payment_id, .. }
        | WireOutcome::CapturePending { payment_id, .. }
        | WireOutcome::Reserved { payment_id, .. }
        | WireOutcome::Paired { payment_id, .. } => payment_id.clone(),
        other => panic!("no payment in {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_from_the_cash_register_is_captured_once() {
    let s = setup().await;
    s.lane.customer(CREDIT_USER, "accept", 50).await;
    let mut ecr = s.line.register();
    let (events, approved, outcome) = run(&mut ecr, pay("sale-1", 4995, "R1-0001", false)).await;
    assert!(approved, "{outcome:?}");
    let WireOutcome::Captured {
        payment_id,
        amount,
        currency,
    } = outcome.clone()
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((amount, currency), (Minor(4995), Currency::DKK));
    assert!(
        matches!(
            &events[0],
            Event::WaitingForCustomer {
                amount: Some(Minor(4995)),
                ..
            }
        ),
        "{events:?}"
    );
    // (customer_checked_in is reported only if the engine's polling sees the payment in the
    // customer's app; a customer this quick may approve between two polls.)
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Reserved {
                amount: Minor(4995),
                ..
            }
        )),
        "{events:?}"
    );
    let truth = s.lane.payment(&payment_id).await;
    assert_eq!(truth["status"], "Captured");
    assert_eq!(truth["capturedMinor"], 4995);

    // Repeating the command returns the stored outcome, never a second payment.
    let (_, again_approved, again) = run(&mut ecr, pay("sale-1", 4995, "R1-0001", false)).await;
    assert!(again_approved);
    assert_eq!(again, outcome);
    assert_eq!(s.lane.payments().await.len(), 1);
    let result = ask(
        &mut ecr,
        EcrMessage::Query {
            id: "q".into(),
            command: "sale-1".into(),
        },
    )
    .await;
    match result {
        DaemonMessage::QueryResult {
            state: QueryState::Finished,
            outcome: Some(o),
            payment_id: Some(p),
            ..
        } => {
            assert_eq!(o.outcome, outcome);
            assert_eq!(p, payment_id);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_and_cancelled_payments_are_reported_with_their_reason() {
    let s = setup().await;
    let mut ecr = s.line.register();

    s.lane.customer(CREDIT_USER, "cancel", 50).await;
    let (_, approved, outcome) = run(&mut ecr, pay("sale-2", 1000, "R1-0002", false)).await;
    assert!(!approved);
    assert!(
        matches!(
            outcome,
            WireOutcome::Declined {
                reason: DeclineReason::CancelledByUser,
                ..
            }
        ),
        "{outcome:?}"
    );

    // Nobody comes: the cashier aborts.
    no_customers(&s.lane).await;
    let accepted = ask(&mut ecr, pay("sale-3", 2000, "R1-0003", false)).await;
    assert_eq!(accepted, DaemonMessage::Accepted { id: "sale-3".into() });
    expect(&mut ecr, "waiting for the customer", |m| {
        matches!(m, DaemonMessage::Event { id: Some(i), event: Event::WaitingForCustomer { .. } } if i == "sale-3").then_some(())
    })
    .await;
    // Commands refused before they are stored get their `rejected` outcome without
    // `accepted`, and leave nothing behind: their ids stay unused.
    let busy = refused(&mut ecr, pay("sale-4", 2000, "R1-0004", false)).await;
    assert_eq!(busy.0, RejectCode::LaneBusy, "{busy:?}");
    let zero = refused(&mut ecr, pay("sale-5", 0, "R1-0005", false)).await;
    assert_eq!(zero.0, RejectCode::InvalidAmount, "{zero:?}");
    let nothing = refused(
        &mut ecr,
        EcrMessage::Capture {
            id: "cap-6".into(),
            payment: "no-such-sale".into(),
            amount: None,
        },
    )
    .await;
    assert_eq!(nothing.0, RejectCode::UnknownTarget, "{nothing:?}");
    for unused in ["sale-4", "sale-5", "cap-6"] {
        let result = ask(
            &mut ecr,
            EcrMessage::Query {
                id: format!("q-{unused}"),
                command: unused.into(),
            },
        )
        .await;
        assert!(
            matches!(
                result,
                DaemonMessage::QueryResult {
                    state: QueryState::NotFound,
                    ..
                }
            ),
            "{result:?}"
        );
    }
    let status = ask(&mut ecr, EcrMessage::Status { id: "st-3".into() }).await;
    assert!(
        matches!(&status, DaemonMessage::Status { running, .. } if *running == ["sale-3"]),
        "{status:?}"
    );
    let (_, _, cancelled) = run(
        &mut ecr,
        EcrMessage::Cancel {
            id: "cancel-3".into(),
            target: "sale-3".into(),
        },
    )
    .await;
    assert_eq!(
        cancelled,
        WireOutcome::Cancelled {
            target: "sale-3".into()
        }
    );
    let result = ask(
        &mut ecr,
        EcrMessage::Query {
            id: "q3".into(),
            command: "sale-3".into(),
        },
    )
    .await;
    match result {
        DaemonMessage::QueryResult {
            state: QueryState::Finished,
            outcome: Some(o),
            ..
        } => {
            assert!(!o.approved);
            assert!(
                matches!(
                    o.outcome,
                    WireOutcome::Declined {
                        reason: DeclineReason::CancelledByCashier,
                        ..
                    }
                ),
                "{o:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let statuses: Vec<_> = s
        .lane
        .payments()
        .await
        .into_iter()
        .map(|p| p["status"].clone())
        .collect();
    assert_eq!(statuses, vec!["CancelledByUser", "CancelledByClient"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_payment_reports_the_customer_then_takes_the_amount() {
    let s = setup().await;
    s.lane.customer(LOYALTY_USER, "accept", 50).await;
    let mut ecr = s.line.register();
    let (events, approved, paired) = run(
        &mut ecr,
        EcrMessage::Prepare {
            id: "prep-1".into(),
            order: "R1-0010".into(),
        },
    )
    .await;
    assert!(!approved);
    let WireOutcome::Paired {
        payment_id: prepared_payment,
        customer,
    } = &paired
    else {
        panic!("{paired:?}")
    };
    assert!(!customer.loyalty_ids.is_empty(), "{paired:?}");
    assert!(
        matches!(&events[0], Event::WaitingForCustomer { amount: None, .. }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::CustomerCheckedIn { .. })),
        "{events:?}"
    );

    let ready = EcrMessage::Ready {
        id: "ready-1".into(),
        prepared: "prep-1".into(),
        amount: Minor(12000),
        currency: None,
        reserve: false,
        options: PaymentOptions::default(),
    };
    let (_, approved, outcome) = run(&mut ecr, ready).await;
    assert!(approved, "{outcome:?}");
    assert_eq!(payment_id(&outcome), *prepared_payment);
    assert!(
        matches!(
            outcome,
            WireOutcome::Captured {
                amount: Minor(12000),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(s.lane.payment(prepared_payment).await["status"], "Captured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_are_captured_partially_or_fully_and_refunded() {
    let s = setup().await;
    let mut ecr = s.line.register();

    // Account-to-account: a partial capture is possible.
    s.lane.customer(PARTIAL_USER, "accept", 50).await;
    let (events, approved, reserved) = run(&mut ecr, pay("sale-20", 4995, "R1-0020", true)).await;
    assert!(approved);
    assert!(
        matches!(
            reserved,
            WireOutcome::Reserved {
                partial_capture_possible: true,
                ..
            }
        ),
        "{reserved:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Captured { .. })),
        "a reservation is not captured by itself"
    );
    let (_, approved, captured) = run(
        &mut ecr,
        EcrMessage::Capture {
            id: "cap-20".into(),
            payment: "sale-20".into(),
            amount: Some(Minor(4000)),
        },
    )
    .await;
    assert!(approved, "{captured:?}");
    assert!(
        matches!(
            captured,
            WireOutcome::Captured {
                amount: Minor(4000),
                ..
            }
        ),
        "{captured:?}"
    );
    let pid = payment_id(&reserved);
    assert_eq!(s.lane.payment(&pid).await["capturedMinor"], 4000);

    // Refunds: by command id, by order id, and one too many.
    let refund = |id: &str, payment: Option<&str>, order: Option<&str>, amount: i64| EcrMessage::Refund {
        id: id.into(),
        payment: payment.map(Into::into),
        order: order.map(Into::into),
        amount: Minor(amount),
        currency: None,
        refund_order: format!("RF-{id}"),
    };
    let (events, _, refunded) = run(&mut ecr, refund("refund-1", Some("sale-20"), None, 1000)).await;
    assert!(
        matches!(
            refunded,
            WireOutcome::Refunded {
                amount: Minor(1000),
                ..
            }
        ),
        "{refunded:?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, Event::Refunded { .. })),
        "{events:?}"
    );
    let (_, _, refunded) = run(&mut ecr, refund("refund-2", None, Some("R1-0020"), 500)).await;
    assert!(
        matches!(
            refunded,
            WireOutcome::Refunded {
                amount: Minor(500),
                ..
            }
        ),
        "{refunded:?}"
    );
    // 40.00 captured, 15.00 refunded: the engine refuses 30.00 itself, before storing it.
    let (code, message) = refused(&mut ecr, refund("refund-3", Some("sale-20"), None, 3000)).await;
    assert_eq!(code, RejectCode::RefundTooHigh);
    assert!(message.contains("25.00 left to refund"), "{message}");

    // A credit card: no partial capture; the cashier then captures in full.
    no_customers(&s.lane).await;
    s.lane.customer(CREDIT_USER, "accept", 50).await;
    let (_, _, reserved) = run(&mut ecr, pay("sale-21", 3000, "R1-0021", true)).await;
    assert!(
        matches!(
            reserved,
            WireOutcome::Reserved {
                partial_capture_possible: false,
                ..
            }
        ),
        "{reserved:?}"
    );
    let (_, approved, refused) = run(
        &mut ecr,
        EcrMessage::Capture {
            id: "cap-21a".into(),
            payment: "sale-21".into(),
            amount: Some(Minor(2000)),
        },
    )
    .await;
    assert!(!approved);
    assert!(
        matches!(
            refused,
            WireOutcome::PartialCaptureRefused {
                reserved: Minor(3000),
                requested: Minor(2000),
                ..
            }
        ),
        "{refused:?}"
    );
    let (_, approved, captured) = run(
        &mut ecr,
        EcrMessage::Capture {
            id: "cap-21b".into(),
            payment: "sale-21".into(),
            amount: None,
        },
    )
    .await;
    assert!(approved);
    assert!(
        matches!(
            captured,
            WireOutcome::Captured {
                amount: Minor(3000),
                ..
            }
        ),
        "{captured:?}"
    );

    // A reservation that is cancelled instead.
    let (_, _, reserved) = run(&mut ecr, pay("sale-22", 700, "R1-0022", true)).await;
    let (_, _, cancelled) = run(
        &mut ecr,
        EcrMessage::Cancel {
            id: "cancel-22".into(),
            target: "sale-22".into(),
        },
    )
    .await;
    assert_eq!(
        cancelled,
        WireOutcome::Cancelled {
            target: "sale-22".into()
        }
    );
    assert_eq!(
        s.lane.payment(&payment_id(&reserved)).await["status"],
        "CancelledByClient"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecr_that_restarts_mid_payment_gets_the_same_payment_back() {
    let s = setup().await;
    // The customer takes a while: the register dies before the payment completes.
    s.lane.customer(CREDIT_USER, "accept", 1500).await;
    let mut first = s.line.register();
    let accepted = ask(&mut first, pay("sale-30", 2500, "R1-0030", false)).await;
    assert_eq!(accepted, DaemonMessage::Accepted { id: "sale-30".into() });
    expect(&mut first, "waiting for the customer", |m| {
        matches!(m, DaemonMessage::Event { id: Some(i), event: Event::WaitingForCustomer { .. } } if i == "sale-30").then_some(())
    })
    .await;
    drop(first.close().await);

    // Meanwhile the customer pays.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !s.lane.payments().await.iter().any(|p| p["status"] == "Captured") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment was never captured"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The restarted register repeats its command under the same id.
    let mut second = s.line.register();
    let (_, approved, outcome) = run(&mut second, pay("sale-30", 2500, "R1-0030", false)).await;
    assert!(approved, "{outcome:?}");
    let payments = s.lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payment_id(&outcome), payments[0]["paymentId"].as_str().unwrap());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// One life of the daemon (engine + lane on the serial device) in its own runtime; shutting
/// the runtime down kills every task at once, like a power cut kills the process.
fn daemon_life(
    main: &tokio::runtime::Runtime,
    lane: &Lane,
    line: &PtyLine,
    n: u32,
) -> tokio::runtime::Runtime {
    let life = runtime();
    let client = main.block_on(client_for(&lane.sim, &lane.dir, &format!("tokens-{n}")));
    let engine = life.block_on(start_engine(&client, &lane.dir, &lane.pos_id, &lane.beacon_id));
    life.spawn(serve_serial(
        SerialSettings::new(&line.path),
        engine,
        LaneConfig::default(),
        CancellationToken::new(),
    ));
    life
}

#[test]
fn after_the_daemon_loses_power_mid_payment_the_ecr_gets_the_same_payment() {
    let main = runtime();
    let lane = main.block_on(lane_without_engine());
    let line = main.block_on(async { PtyLine::new() });
    let first = daemon_life(&main, &lane, &line, 1);

    let mut ecr = main.block_on(async {
        lane.customer(CREDIT_USER, "accept", 1000).await;
        let mut ecr = line.register();
        let accepted = ask(&mut ecr, pay("sale-40", 3300, "R1-0040", false)).await;
        assert_eq!(accepted, DaemonMessage::Accepted { id: "sale-40".into() });
        expect(&mut ecr, "waiting for the customer", |m| {
            matches!(m, DaemonMessage::Event { id: Some(i), event: Event::WaitingForCustomer { .. } } if i == "sale-40").then_some(())
        })
        .await;
        ecr
    });

    // Power cut while the customer is paying.
    first.shutdown_timeout(Duration::from_secs(10));
    main.block_on(async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !lane.payments().await.iter().any(|p| p["status"] == "Reserved") {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the customer never approved"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    line.release_exclusive();
    let _second = daemon_life(&main, &lane, &line, 2);

    // The cash register, which kept running, asks again with the same id (it could not know
    // whether the daemon had finished): the payment that was made, captured, and no other.
    main.block_on(async {
        let (_, approved, outcome) = run(&mut ecr, pay("sale-40", 3300, "R1-0040", false)).await;
        assert!(approved, "{outcome:?}");
        let payments = lane.payments().await;
        assert_eq!(payments.len(), 1, "{payments:?}");
        assert_eq!(payment_id(&outcome), payments[0]["paymentId"].as_str().unwrap());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while lane.payment(&payment_id(&outcome)).await["status"] != "Captured" {
            assert!(tokio::time::Instant::now() < deadline, "never captured");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_line_noise_every_payment_is_made_once_and_exactly_as_asked() {
    use super::noisy_line::{noisy_copy, Noise};
    use mposd::ecr::link::LinkConfig;

    let lane = engine_lane().await;
    lane.customer(CREDIT_USER, "accept", 0).await;
    // ECR on pty 1's master; the noise source between pty 1's slave and pty 2's master; the
    // daemon opens pty 2's slave by path.
    let (ecr_end, proxy_a) = tokio_serial::SerialStream::pair().unwrap();
    let (proxy_b, daemon_slave) = tokio_serial::SerialStream::pair().unwrap();
    let daemon_path = tokio_serial::SerialPort::name(&daemon_slave).unwrap();
    let noise = || Noise {
        flip: 400,
        drop: 400,
        duplicate: 400,
        insert: 400,
        burst: 200,
    };
    let (a_read, a_write) = tokio::io::split(proxy_a);
    let (b_read, b_write) = tokio::io::split(proxy_b);
    tokio::spawn(noisy_copy(a_read, b_write, noise(), 0x5EED_0001));
    tokio::spawn(noisy_copy(b_read, a_write, noise(), 0x5EED_0002));
    let link = LinkConfig {
        ack_timeout: Duration::from_millis(300),
        max_retransmissions: 12,
        ..LinkConfig::default()
    };
    let token = CancellationToken::new();
    let _daemon = token.clone().drop_guard();
    tokio::spawn(serve_serial(
        SerialSettings::new(&daemon_path),
        lane.engine().clone(),
        LaneConfig {
            link: link.clone(),
            ..LaneConfig::default()
        },
        token,
    ));
    // Held open so pty 2's master never reads as hung up before the daemon opens the slave.
    let _daemon_slave = daemon_slave;
    let mut ecr = Register::over(ecr_end, link);

    let amounts = [4995, 1, 12345, 700, 99999];
    let mut outcomes = Vec::new();
    for (i, amount) in amounts.iter().enumerate() {
        let message = pay(&format!("noisy-{i}"), *amount, &format!("N-{i}"), false);
        let (_, approved, outcome) = run(&mut ecr, message.clone()).await;
        assert!(approved, "{outcome:?}");
        // And once more: the same answer, no second payment.
        let (_, _, again) = run(&mut ecr, message).await;
        assert_eq!(again, outcome);
        outcomes.push(outcome);
    }
    let payments = lane.payments().await;
    assert_eq!(payments.len(), amounts.len(), "{payments:#?}");
    for (outcome, amount) in outcomes.iter().zip(amounts) {
        let truth = lane.payment(&payment_id(outcome)).await;
        assert_eq!(truth["status"], "Captured");
        assert_eq!(truth["capturedMinor"], amount);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cash_register_unplugged_mid_payment_hears_the_outcome_once_it_is_back() {
    let lane = engine_lane().await;
    lane.customer(CREDIT_USER, "accept", 1000).await;
    let dir = tempfile::tempdir().unwrap();
    // A stable name for a USB-serial adapter that comes and goes, like /dev/serial/by-id/...
    let device = dir.path().join("ttyECR");
    let first = PtyLine::new();
    std::os::unix::fs::symlink(&first.path, &device).unwrap();
    let token = CancellationToken::new();
    let _daemon = token.clone().drop_guard();
    tokio::spawn(serve_serial(
        SerialSettings::new(&device),
        lane.engine().clone(),
        LaneConfig::default(),
        token,
    ));
    let mut ecr = first.register();
    let reply = ask(&mut ecr, pay("sale-1", 2500, "R9-0001", false)).await;
    assert_eq!(reply, DaemonMessage::Accepted { id: "sale-1".into() });

    // Unplugged while the customer is still deciding: the device and its name disappear.
    drop(ecr.close().await);
    drop(first);
    std::fs::remove_file(&device).unwrap();
    let mut captured = false;
    for _ in 0..600 {
        if lane.payments().await.iter().any(|p| p["status"] == "Captured") {
            captured = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(captured, "the payment went on while the cash register was away");

    // Plugged in again: the daemon reopens the device and delivers what it could not say.
    let second = PtyLine::new();
    std::os::unix::fs::symlink(&second.path, &device).unwrap();
    let mut ecr = second.register();
    let outcome = expect(&mut ecr, "the outcome kept while unplugged", |m| match m {
        DaemonMessage::Outcome { id, outcome, .. } if id == "sale-1" => Some(outcome.clone()),
        _ => None,
    })
    .await;
    let WireOutcome::Captured { amount, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(*amount, Minor(2500));
    // The register asks once more under the same id: the same payment, no second one.
    let (_, approved, again) = run(&mut ecr, pay("sale-1", 2500, "R9-0001", false)).await;
    assert!(approved);
    assert_eq!(payment_id(&again), payment_id(&outcome));
    let payments = lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], 2500);
}
