//! The protocol session over a real pseudo-terminal that the daemon opens by path, against the
//! engine interface (scripted engine, see support.rs): every message type, the mapping of
//! commands, events and outcomes, repeats after an ECR restart, lane-wide events, and the
//! serial device vanishing and coming back.

use super::support::{ask, expect, refused, PtyLine, ScriptedEngine, POS_ID};
use mposd::ecr::lane::LaneConfig;
use mposd::ecr::message::{
    DaemonMessage, EcrMessage, ErrorCode, Event, PaymentOptions, QueryState, Reachability, WireOutcome,
};
use mposd::ecr::serial::{serve_serial, SerialSettings};
use mposd::engine::{Command, CommandId, CustomerInfo, DeclineReason, EventKind, Outcome, PaymentSelector};
use mposd::money::{Currency, Minor};
use tokio_util::sync::CancellationToken;

/// A daemon lane serving `line`, stopped when the returned token is dropped.
fn serve(line: &PtyLine, engine: &ScriptedEngine) -> tokio_util::sync::DropGuard {
    let token = CancellationToken::new();
    tokio::spawn(serve_serial(
        SerialSettings::new(&line.path),
        engine.handle.clone(),
        LaneConfig::default(),
        token.clone(),
    ));
    token.drop_guard()
}

fn pay(id: &str, amount: i64, order: &str) -> EcrMessage {
    EcrMessage::Pay {
        id: id.into(),
        amount: Minor(amount),
        currency: None,
        order: order.into(),
        reserve: false,
        options: PaymentOptions::default(),
    }
}

fn outcome_of<'a>(id: &'a str) -> impl FnMut(&DaemonMessage) -> Option<(bool, bool, WireOutcome)> + 'a {
    move |m| match m {
        DaemonMessage::Outcome {
            id: i,
            approved,
            resolved,
            outcome,
        } if i == id => Some((*approved, *resolved, outcome.clone())),
        _ => None,
    }
}

fn event_of<'a>(id: &'a str) -> impl FnMut(&DaemonMessage) -> Option<Event> + 'a {
    move |m| match m {
        DaemonMessage::Event { id: Some(i), event } if i == id => Some(event.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_status_and_refusals() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    let hello = ask(
        &mut ecr,
        EcrMessage::Hello {
            id: "h-1".into(),
            protocol: Some(1),
            ecr: Some("test register".into()),
        },
    )
    .await;
    assert!(
        matches!(&hello, DaemonMessage::Hello { lane, protocol: 1, product, .. } if lane == POS_ID && product == "mposd"),
        "{hello:?}"
    );
    let refused = ask(
        &mut ecr,
        EcrMessage::Hello {
            id: "h-2".into(),
            protocol: Some(2),
            ecr: None,
        },
    )
    .await;
    assert!(matches!(
        refused,
        DaemonMessage::Error {
            code: ErrorCode::UnsupportedProtocol,
            ..
        }
    ));

    let status = ask(&mut ecr, EcrMessage::Status { id: "st-1".into() }).await;
    assert_eq!(
        status,
        DaemonMessage::Status {
            id: "st-1".into(),
            lane: POS_ID.into(),
            backend: Reachability::Online,
            running: vec![],
            alarms: vec![],
        }
    );

    // Bodies the daemon cannot read: each gets an error with a stable code, nothing else.
    let cases: [(&[u8], Option<&str>, ErrorCode); 5] = [
        (b"not json", None, ErrorCode::InvalidMessage),
        (
            br#"{"type":"teleport","id":"t-1"}"#,
            Some("t-1"),
            ErrorCode::UnknownType,
        ),
        (
            br#"{"type":"pay","id":"p-1","amount":49.95,"order":"R"}"#,
            Some("p-1"),
            ErrorCode::InvalidMessage,
        ),
        (
            br#"{"type":"pay","id":"has space","amount":4995,"order":"R"}"#,
            Some("has space"),
            ErrorCode::InvalidCommandId,
        ),
        (
            br#"{"type":"refund","id":"r-1","payment":"a","order":"b","amount":1,"refund_order":"x"}"#,
            Some("r-1"),
            ErrorCode::InvalidMessage,
        ),
    ];
    for (body, id, code) in cases {
        ecr.send_raw(body.to_vec());
        let got = expect(&mut ecr, "an error reply", |m| match m {
            DaemonMessage::Error { id, code, message } => Some((id.clone(), *code, message.clone())),
            _ => None,
        })
        .await;
        assert_eq!((got.0.as_deref(), got.1), (id, code), "{}", got.2);
    }
    // Every message's id follows the same rules, and an invalid one gets the same error
    // whatever the message type.
    let too_long = "x".repeat(65);
    for bad_id in ["", too_long.as_str(), "has space", "bell\u{7}", "kø"] {
        let id = serde_json::to_string(bad_id).unwrap();
        let bodies = [
            format!(r#"{{"type":"pay","id":{id},"amount":4995,"order":"R"}}"#),
            format!(r#"{{"type":"status","id":{id}}}"#),
            format!(r#"{{"type":"hello","id":{id}}}"#),
            format!(r#"{{"type":"query","id":{id},"command":"sale-1"}}"#),
        ];
        let mut errors = Vec::new();
        for body in bodies {
            ecr.send_raw(body.into_bytes());
            let got = expect(&mut ecr, "an error reply", |m| match m {
                DaemonMessage::Error { id, code, message } => Some((id.clone(), *code, message.clone())),
                _ => None,
            })
            .await;
            errors.push(got);
        }
        for got in &errors {
            assert_eq!(got.0.as_deref(), Some(bad_id), "{errors:?}");
            assert_eq!(got, &errors[0], "{errors:?}");
        }
        assert_eq!(errors[0].1, ErrorCode::InvalidCommandId, "{errors:?}");
    }
    // None of them reached the engine.
    let status = ask(&mut ecr, EcrMessage::Status { id: "st-2".into() }).await;
    assert!(matches!(status, DaemonMessage::Status { running, .. } if running.is_empty()));
    assert!(
        engine.started.try_recv().is_err(),
        "a refused message reached the engine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_reports_every_event_and_its_outcome() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    let accepted = ask(&mut ecr, pay("sale-1", 4995, "R1-0001")).await;
    assert_eq!(accepted, DaemonMessage::Accepted { id: "sale-1".into() });
    let (id, command) = engine.next_started().await;
    assert_eq!(id.as_str(), "sale-1");
    assert_eq!(
        command,
        Command::Pay {
            amount: Minor(4995),
            currency: Currency::DKK,
            order_id: "R1-0001".into(),
            keep_reservation: false,
            restrictions: None,
            label: None,
        }
    );

    let pid = "3974eae6-e36f-4148-b5ee-22689e528c75".to_string();
    let steps = [
        EventKind::WaitingForCustomer {
            payment_id: pid.clone(),
            prompt: Some(mposd::backends::pos_v10::engine::prompt("100000000000001")),
            amount: Some(Minor(4995)),
            currency: Some(Currency::DKK),
        },
        EventKind::CustomerCheckedIn {
            payment_id: pid.clone(),
            customer: CustomerInfo::default(),
        },
        EventKind::Reserved {
            payment_id: pid.clone(),
            amount: Minor(4995),
            partial_capture_possible: true,
        },
        EventKind::Captured {
            payment_id: pid.clone(),
            amount: Minor(4995),
        },
    ];
    for step in steps {
        engine.emit("sale-1", step);
    }
    let mut events = Vec::new();
    for _ in 0..4 {
        events.push(expect(&mut ecr, "payment events", event_of("sale-1")).await);
    }
    assert_eq!(
        events,
        vec![
            Event::WaitingForCustomer {
                payment_id: pid.clone(),
                amount: Some(Minor(4995)),
                currency: Some(Currency::DKK)
            },
            Event::CustomerCheckedIn {
                payment_id: pid.clone(),
                customer: Default::default()
            },
            Event::Reserved {
                payment_id: pid.clone(),
                amount: Minor(4995),
                partial_capture_possible: true
            },
            Event::Captured {
                payment_id: pid.clone(),
                amount: Minor(4995)
            },
        ]
    );
    let status = ask(&mut ecr, EcrMessage::Status { id: "st".into() }).await;
    assert!(matches!(status, DaemonMessage::Status { running, .. } if running == vec!["sale-1".to_string()]));

    engine.emit(
        "sale-1",
        EventKind::Finished {
            outcome: Outcome::Captured {
                payment_id: pid.clone(),
                amount: Minor(4995),
                currency: Currency::DKK,
            },
        },
    );
    let (approved, resolved, outcome) = expect(&mut ecr, "the outcome", outcome_of("sale-1")).await;
    assert!(approved && !resolved);
    assert_eq!(
        outcome,
        WireOutcome::Captured {
            payment_id: pid.clone(),
            amount: Minor(4995),
            currency: Currency::DKK
        }
    );

    // The outcome can be asked for again, and a finished command is no longer running.
    let result = ask(
        &mut ecr,
        EcrMessage::Query {
            id: "q-1".into(),
            command: "sale-1".into(),
        },
    )
    .await;
    match result {
        DaemonMessage::QueryResult {
            state: QueryState::Finished,
            outcome: Some(o),
            ..
        } => assert!(o.approved && o.outcome == outcome),
        other => panic!("{other:?}"),
    }
    let unknown = ask(
        &mut ecr,
        EcrMessage::Query {
            id: "q-2".into(),
            command: "never-used".into(),
        },
    )
    .await;
    assert!(matches!(
        unknown,
        DaemonMessage::QueryResult {
            state: QueryState::NotFound,
            ..
        }
    ));
    let status = ask(&mut ecr, EcrMessage::Status { id: "st2".into() }).await;
    assert!(matches!(status, DaemonMessage::Status { running, .. } if running.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecr_restarting_mid_payment_gets_the_same_payment_for_its_command_id() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);

    let mut first = line.register();
    ask(&mut first, pay("sale-7", 1250, "R1-0007")).await;
    engine.next_started().await;
    let pid = "5b0e2c1d-3f4a-4b6c-8d7e-9f0a1b2c3d4e".to_string();
    engine.emit(
        "sale-7",
        EventKind::WaitingForCustomer {
            payment_id: pid.clone(),
            prompt: None,
            amount: Some(Minor(1250)),
            currency: Some(Currency::DKK),
        },
    );
    expect(&mut first, "waiting", event_of("sale-7")).await;
    // The cash register loses power; meanwhile the customer pays.
    drop(first.close().await);
    engine.emit(
        "sale-7",
        EventKind::Finished {
            outcome: Outcome::Captured {
                payment_id: pid.clone(),
                amount: Minor(1250),
                currency: Currency::DKK,
            },
        },
    );

    // After restart it repeats the command under the same id, with a fresh link session.
    let mut second = line.register();
    let accepted = ask(&mut second, pay("sale-7", 1250, "R1-0007")).await;
    assert_eq!(accepted, DaemonMessage::Accepted { id: "sale-7".into() });
    let (approved, _, outcome) = expect(&mut second, "the stored outcome", outcome_of("sale-7")).await;
    assert!(approved);
    assert_eq!(
        outcome,
        WireOutcome::Captured {
            payment_id: pid,
            amount: Minor(1250),
            currency: Currency::DKK
        }
    );
    // No second payment was started, and a different command under the same id is refused
    // without `accepted`: nothing of it was stored.
    let (code, _) = refused(&mut second, pay("sale-7", 9999, "R1-0007")).await;
    assert_eq!(code, mposd::engine::RejectCode::CommandIdReused);
    assert!(engine.started.try_recv().is_err(), "a second command was started");

    // A command stored and then refused by MobilePay is in the journal: it is accepted, and
    // so is its repeat, which gets the stored refusal.
    let refund = EcrMessage::Refund {
        id: "refund-7".into(),
        payment: Some("sale-7".into()),
        order: None,
        amount: Minor(1250),
        currency: None,
        refund_order: "RF-0007".into(),
    };
    let accepted = ask(&mut second, refund.clone()).await;
    assert_eq!(
        accepted,
        DaemonMessage::Accepted {
            id: "refund-7".into()
        }
    );
    engine.next_started().await;
    let too_old = Outcome::Rejected {
        code: mposd::engine::RejectCode::PaymentTooOld,
        message: "MobilePay refused the request".into(),
    };
    engine.emit(
        "refund-7",
        EventKind::Finished {
            outcome: too_old.clone(),
        },
    );
    let (_, _, first_answer) = expect(&mut second, "the refusal", outcome_of("refund-7")).await;
    let accepted = ask(&mut second, refund).await;
    assert_eq!(
        accepted,
        DaemonMessage::Accepted {
            id: "refund-7".into()
        }
    );
    let (_, _, repeated) = expect(&mut second, "the stored refusal", outcome_of("refund-7")).await;
    assert_eq!(first_answer, WireOutcome::from(too_old));
    assert_eq!(repeated, first_answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_payment_reservation_capture_cancel_and_refund_map_to_the_engine() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();
    let pid = "9a1c4f7e-2b5d-4e8a-9c3f-7d6e5b4a3c21".to_string();

    // prepare → paired with the customer's loyalty ids
    ask(
        &mut ecr,
        EcrMessage::Prepare {
            id: "prep-2".into(),
            order: "R1-0002".into(),
        },
    )
    .await;
    assert_eq!(
        engine.next_started().await.1,
        Command::Prepare {
            order_id: "R1-0002".into()
        }
    );
    let customer = CustomerInfo {
        loyalty_ids: vec!["123456".into()],
        customer_token: Some("09bee223".into()),
        customer_receipt_token: None,
    };
    engine.emit(
        "prep-2",
        EventKind::CustomerCheckedIn {
            payment_id: pid.clone(),
            customer: customer.clone(),
        },
    );
    engine.emit(
        "prep-2",
        EventKind::Finished {
            outcome: Outcome::Paired {
                payment_id: pid.clone(),
                customer,
            },
        },
    );
    match expect(&mut ecr, "checked in", event_of("prep-2")).await {
        Event::CustomerCheckedIn { customer, .. } => {
            assert_eq!(customer.loyalty_ids, vec!["123456".to_string()])
        }
        other => panic!("{other:?}"),
    }
    let (approved, _, paired) = expect(&mut ecr, "paired", outcome_of("prep-2")).await;
    assert!(!approved);
    assert!(
        matches!(paired, WireOutcome::Paired { customer, .. } if customer.customer_token.as_deref() == Some("09bee223"))
    );

    // ready with a reservation, in euros, with restrictions and a label
    ask(
        &mut ecr,
        EcrMessage::Ready {
            id: "ready-2".into(),
            prepared: "prep-2".into(),
            amount: Minor(12000),
            currency: Some(Currency::EUR),
            reserve: true,
            options: PaymentOptions {
                label: Some("Shop 1".into()),
                debit_card_disallowed: None,
                credit_card_disallowed: Some(true),
            },
        },
    )
    .await;
    match engine.next_started().await.1 {
        Command::Ready {
            target,
            amount,
            currency,
            keep_reservation,
            restrictions,
            label,
        } => {
            assert_eq!(
                (target.as_str(), amount, currency, keep_reservation),
                ("prep-2", Minor(12000), Currency::EUR, true)
            );
            let r = restrictions.expect("restrictions passed on");
            assert_eq!(
                (r.debit_card_disallowed, r.credit_card_disallowed),
                (None, Some(true))
            );
            assert_eq!(label.as_deref(), Some("Shop 1"));
        }
        other => panic!("{other:?}"),
    }
    engine.emit(
        "ready-2",
        EventKind::Finished {
            outcome: Outcome::Reserved {
                payment_id: pid.clone(),
                amount: Minor(12000),
                currency: Currency::EUR,
                partial_capture_possible: false,
            },
        },
    );
    let (approved, _, reserved) = expect(&mut ecr, "reserved", outcome_of("ready-2")).await;
    assert!(approved);
    assert!(matches!(
        reserved,
        WireOutcome::Reserved {
            partial_capture_possible: false,
            ..
        }
    ));

    // a partial capture MobilePay does not allow
    ask(
        &mut ecr,
        EcrMessage::Capture {
            id: "cap-2".into(),
            payment: "ready-2".into(),
            amount: Some(Minor(10000)),
        },
    )
    .await;
    assert_eq!(
        engine.next_started().await.1,
        Command::Capture {
            target: CommandId::new("ready-2").unwrap(),
            amount: Some(Minor(10000))
        }
    );
    engine.emit(
        "cap-2",
        EventKind::Finished {
            outcome: Outcome::PartialCaptureRefused {
                payment_id: pid.clone(),
                reserved: Minor(12000),
                requested: Minor(10000),
            },
        },
    );
    let (approved, _, refused) = expect(&mut ecr, "refused capture", outcome_of("cap-2")).await;
    assert!(!approved);
    assert_eq!(
        refused,
        WireOutcome::PartialCaptureRefused {
            payment_id: pid.clone(),
            reserved: Minor(12000),
            requested: Minor(10000)
        }
    );

    // cancel the reservation
    ask(
        &mut ecr,
        EcrMessage::Cancel {
            id: "cancel-2".into(),
            target: "ready-2".into(),
        },
    )
    .await;
    assert_eq!(
        engine.next_started().await.1,
        Command::Cancel {
            target: CommandId::new("ready-2").unwrap()
        }
    );
    engine.emit(
        "cancel-2",
        EventKind::Cancelled {
            payment_id: Some(pid.clone()),
        },
    );
    engine.emit(
        "cancel-2",
        EventKind::Finished {
            outcome: Outcome::Cancelled {
                target: CommandId::new("ready-2").unwrap(),
            },
        },
    );
    assert_eq!(
        expect(&mut ecr, "cancelled", event_of("cancel-2")).await,
        Event::Cancelled {
            payment_id: Some(pid.clone())
        }
    );
    let (_, _, cancelled) = expect(&mut ecr, "cancel outcome", outcome_of("cancel-2")).await;
    assert_eq!(
        cancelled,
        WireOutcome::Cancelled {
            target: "ready-2".into()
        }
    );

    // refunds: by command id, and by order id; the default currency applies
    for (id, payment, order) in [
        ("refund-1", Some("sale-1"), None),
        ("refund-2", None, Some("R1-0001")),
    ] {
        ask(
            &mut ecr,
            EcrMessage::Refund {
                id: id.into(),
                payment: payment.map(Into::into),
                order: order.map(Into::into),
                amount: Minor(1000),
                currency: None,
                refund_order: format!("RF-{id}"),
            },
        )
        .await;
        let expected_selector = match (payment, order) {
            (Some(p), _) => PaymentSelector::Command(CommandId::new(p).unwrap()),
            (_, Some(o)) => PaymentSelector::OrderId(o.into()),
            _ => unreachable!(),
        };
        assert_eq!(
            engine.next_started().await.1,
            Command::Refund {
                payment: expected_selector,
                amount: Minor(1000),
                currency: Currency::DKK,
                refund_order_id: format!("RF-{id}")
            }
        );
        engine.emit(
            id,
            EventKind::RefundInProgress {
                refund_id: Some("rf".into()),
                amount: Minor(1000),
            },
        );
        engine.emit(
            id,
            EventKind::Refunded {
                refund_id: "rf".into(),
                amount: Minor(1000),
            },
        );
        engine.emit(
            id,
            EventKind::Finished {
                outcome: Outcome::Refunded {
                    refund_id: "rf".into(),
                    payment_id: pid.clone(),
                    amount: Minor(1000),
                    currency: Currency::DKK,
                },
            },
        );
        assert!(matches!(
            expect(&mut ecr, "refund progress", event_of(id)).await,
            Event::RefundInProgress { .. }
        ));
        assert!(matches!(
            expect(&mut ecr, "refunded", event_of(id)).await,
            Event::Refunded { .. }
        ));
        let (approved, _, refunded) = expect(&mut ecr, "refund outcome", outcome_of(id)).await;
        assert!(!approved);
        assert!(matches!(
            refunded,
            WireOutcome::Refunded {
                amount: Minor(1000),
                ..
            }
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_outcomes_are_resolved_and_lane_news_is_forwarded() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    ask(&mut ecr, pay("sale-9", 500, "R1-0009")).await;
    engine.next_started().await;
    engine.broadcast(None, EventKind::BackendOffline);
    expect(&mut ecr, "backend offline", |m| {
        matches!(
            m,
            DaemonMessage::Event {
                id: None,
                event: Event::BackendOffline
            }
        )
        .then_some(())
    })
    .await;
    let status = ask(&mut ecr, EcrMessage::Status { id: "st".into() }).await;
    assert!(matches!(
        status,
        DaemonMessage::Status {
            backend: Reachability::Offline,
            ..
        }
    ));

    engine.emit("sale-9", EventKind::OutcomeUnknown { payment_id: None });
    engine.emit(
        "sale-9",
        EventKind::Finished {
            outcome: Outcome::Unknown { payment_id: None },
        },
    );
    assert_eq!(
        expect(&mut ecr, "unknown event", event_of("sale-9")).await,
        Event::OutcomeUnknown { payment_id: None }
    );
    let (approved, resolved, outcome) = expect(&mut ecr, "unknown outcome", outcome_of("sale-9")).await;
    assert_eq!(
        (approved, resolved, outcome),
        (false, false, WireOutcome::Unknown { payment_id: None })
    );

    engine.broadcast(None, EventKind::BackendOnline);
    engine.broadcast(
        Some("sale-9"),
        EventKind::Resolved {
            outcome: Outcome::Declined {
                payment_id: Some("p9".into()),
                reason: DeclineReason::CancelledByUser,
            },
        },
    );
    let (approved, resolved, outcome) = expect(&mut ecr, "resolved outcome", outcome_of("sale-9")).await;
    assert!(!approved && resolved);
    assert_eq!(
        outcome,
        WireOutcome::Declined {
            payment_id: Some("p9".into()),
            reason: DeclineReason::CancelledByUser
        }
    );

    // A command resumed by the engine after a restart (never submitted on this line) is
    // reported too.
    engine.broadcast(
        Some("sale-old"),
        EventKind::Finished {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::CancelledByMobilePay,
            },
        },
    );
    let (_, _, outcome) = expect(&mut ecr, "resumed outcome", outcome_of("sale-old")).await;
    assert!(matches!(
        outcome,
        WireOutcome::Declined {
            reason: DeclineReason::CancelledByMobilePay,
            ..
        }
    ));
    let status = ask(&mut ecr, EcrMessage::Status { id: "st2".into() }).await;
    assert!(matches!(
        status,
        DaemonMessage::Status {
            backend: Reachability::Online,
            ..
        }
    ));
}

/// Each event reaches the cash register once: a command's events through its submission (also
/// when the register repeats the running command), everything else on the lane through the
/// broadcast, and none of them both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_the_cash_register_exactly_once() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    let accepted = |id: &str| DaemonMessage::Accepted { id: id.into() };
    assert_eq!(
        ask(&mut ecr, pay("sale-1", 700, "R1-0001")).await,
        accepted("sale-1")
    );
    engine.next_started().await;
    let waiting = EventKind::WaitingForCustomer {
        payment_id: "p1".into(),
        prompt: None,
        amount: Some(Minor(700)),
        currency: Some(Currency::DKK),
    };
    engine.emit("sale-1", waiting.clone());
    expect(&mut ecr, "waiting", event_of("sale-1")).await;
    // The register repeats the running command: the new submission carries the rest.
    assert_eq!(
        ask(&mut ecr, pay("sale-1", 700, "R1-0001")).await,
        accepted("sale-1")
    );
    assert!(engine.started.try_recv().is_err(), "a repeat started a command");

    // A command resumed after a restart and lane news: on the broadcast only.
    engine.broadcast(Some("sale-old"), waiting);
    engine.broadcast(None, EventKind::BackendOffline);
    engine.emit(
        "sale-1",
        EventKind::Reserved {
            payment_id: "p1".into(),
            amount: Minor(700),
            partial_capture_possible: false,
        },
    );
    engine.emit(
        "sale-1",
        EventKind::Finished {
            outcome: Outcome::Captured {
                payment_id: "p1".into(),
                amount: Minor(700),
                currency: Currency::DKK,
            },
        },
    );
    engine.broadcast(None, EventKind::BackendOnline);

    let mut heard = Vec::new();
    let mut outcomes = 0;
    let mut news = 0;
    expect(&mut ecr, "the outcome and the lane news", |m| {
        heard.push(m.clone());
        match m {
            DaemonMessage::Outcome { .. } => outcomes += 1,
            DaemonMessage::Event { id: None, .. } => news += 1,
            _ => {}
        }
        (outcomes >= 1 && news >= 2).then_some(())
    })
    .await;
    // A copy sent twice would be sent by now: the status reply comes after a round trip to
    // the engine.
    ecr.send(&EcrMessage::Status { id: "st".into() });
    let running = expect(&mut ecr, "the status", |m| match m {
        DaemonMessage::Status { running, .. } => Some(running.clone()),
        other => {
            heard.push(other.clone());
            None
        }
    })
    .await;
    assert_eq!(running, ["sale-old"]);

    let count = |wanted: &dyn Fn(&DaemonMessage) -> bool| heard.iter().filter(|m| wanted(m)).count();
    let of = |id: &'static str, e: fn(&Event) -> bool| move |m: &DaemonMessage| matches!(m, DaemonMessage::Event { id: Some(i), event } if i == id && e(event));
    assert_eq!(
        count(&of("sale-1", |e| matches!(e, Event::Reserved { .. }))),
        1,
        "{heard:#?}"
    );
    assert_eq!(
        count(&|m| matches!(m, DaemonMessage::Outcome { id, .. } if id == "sale-1")),
        1,
        "{heard:#?}"
    );
    assert_eq!(
        count(&of("sale-old", |e| matches!(e, Event::WaitingForCustomer { .. }))),
        1,
        "{heard:#?}"
    );
    assert_eq!(
        count(&|m| matches!(
            m,
            DaemonMessage::Event {
                id: None,
                event: Event::BackendOffline
            }
        )),
        1
    );
    assert_eq!(
        count(&|m| matches!(
            m,
            DaemonMessage::Event {
                id: None,
                event: Event::BackendOnline
            }
        )),
        1
    );
    assert_eq!(heard.len(), 5, "nothing else: {heard:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reopens_a_serial_device_that_vanished_and_came_back() {
    let engine = ScriptedEngine::start();
    let dir = tempfile::tempdir().unwrap();
    // A stable name for a device that comes and goes, like /dev/serial/by-id/...
    let device = dir.path().join("ttyECR");
    let first = PtyLine::new();
    std::os::unix::fs::symlink(&first.path, &device).unwrap();
    let token = CancellationToken::new();
    let daemon = tokio::spawn(serve_serial(
        SerialSettings::new(&device),
        engine.handle.clone(),
        LaneConfig::default(),
        token.clone(),
    ));
    let mut ecr = first.register();
    assert!(matches!(
        ask(&mut ecr, EcrMessage::Status { id: "a".into() }).await,
        DaemonMessage::Status { .. }
    ));

    // Unplugged: the device and its name disappear.
    drop(ecr.close().await);
    drop(first);
    std::fs::remove_file(&device).unwrap();

    // Plugged in again (a new device behind the same name).
    let second = PtyLine::new();
    std::os::unix::fs::symlink(&second.path, &device).unwrap();
    let mut ecr = second.register();
    assert!(matches!(
        ask(&mut ecr, EcrMessage::Status { id: "b".into() }).await,
        DaemonMessage::Status { .. }
    ));

    token.cancel();
    tokio::time::timeout(super::support::WAIT, daemon)
        .await
        .expect("the lane stops on shutdown")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_mposd_stops_new_commands_are_refused_unstored_and_queries_still_answered() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();
    let accepted = ask(&mut ecr, pay("sale-1", 1000, "R1-0001")).await;
    assert!(matches!(accepted, DaemonMessage::Accepted { .. }), "{accepted:?}");
    assert_eq!(engine.next_started().await.0.as_str(), "sale-1");

    engine.handle.stop_accepting();
    let refused = ask(&mut ecr, pay("sale-2", 500, "R1-0002")).await;
    match &refused {
        DaemonMessage::Error {
            code: ErrorCode::EngineUnavailable,
            message,
            ..
        } => assert!(
            message.contains("stopping") && message.contains("same id"),
            "{message}"
        ),
        other => panic!("expected engine_unavailable, got {other:?}"),
    }
    let queried = ask(
        &mut ecr,
        EcrMessage::Query {
            id: "q-1".into(),
            command: "sale-1".into(),
        },
    )
    .await;
    assert!(
        matches!(
            &queried,
            DaemonMessage::QueryResult {
                state: QueryState::Running,
                ..
            }
        ),
        "{queried:?}"
    );
    assert!(
        engine.started.try_recv().is_err(),
        "the refused command reached the engine"
    );
}
