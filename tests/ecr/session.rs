//! The protocol session over a real pseudo-terminal that the daemon opens by path, against the
//! engine interface (scripted engine, see support.rs): every message type, the mapping of
//! commands, events and outcomes, and repeats after an ECR restart.

use super::support::{
    ask, event_of, expect, outcome_of, pay, refused, reply_id, serve, PtyLine, ScriptedEngine, POS_ID,
};
use mposd::ecr::message::{
    DaemonMessage, EcrMessage, ErrorCode, Event, Flow, PaymentOptions, QueryState, Reachability, WireOutcome,
};
use mposd::engine::backend::{OrderLine, Payer};
use mposd::engine::{Command, CommandId, CustomerInfo, EventKind, Outcome, PaymentSelector};
use mposd::money::{Currency, Minor};

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
            consents: vec![],
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
            payer: Default::default(),
            order_lines: Vec::new(),
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
                ..PaymentOptions::default()
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

/// The in-store flows reach the engine as its payer and order lines: a phone number as the
/// cashier typed it arrives in the engine's form, a scanned code as it was scanned. Fields
/// that contradict each other, and a `ready` with a flow or receipt, are refused before the
/// engine sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_store_flows_and_receipt_lines_map_to_the_engine() {
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    let body = r#"{"type":"pay","id":"sale-push","amount":4995,"order":"R1-0010","flow":"phone","phone":"+45 12 34 56 78","lines":[{"id":"5701234567890","name":"Rugbrød","quantity":2,"total":3990,"vat_rate":2500},{"id":"bag","name":"Bærepose","total":1005,"vat_rate":0}]}"#;
    ecr.send_raw(body.as_bytes().to_vec());
    assert_eq!(
        expect(&mut ecr, "accepted", |m| (reply_id(m) == Some("sale-push"))
            .then(|| m.clone()))
        .await,
        DaemonMessage::Accepted {
            id: "sale-push".into()
        }
    );
    let (id, command) = engine.next_started().await;
    assert_eq!(id.as_str(), "sale-push");
    assert_eq!(
        command,
        Command::Pay {
            amount: Minor(4995),
            currency: Currency::DKK,
            order_id: "R1-0010".into(),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Payer::Phone {
                number: "4512345678".into()
            },
            order_lines: vec![
                OrderLine {
                    id: "5701234567890".into(),
                    name: "Rugbrød".into(),
                    quantity: Some(2),
                    total: Minor(3990),
                    vat_rate: 2500,
                },
                OrderLine {
                    id: "bag".into(),
                    name: "Bærepose".into(),
                    quantity: None,
                    total: Minor(1005),
                    vat_rate: 0,
                },
            ],
        }
    );
    engine.emit(
        "sale-push",
        EventKind::Finished {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: mposd::engine::DeclineReason::CancelledByUser,
            },
        },
    );
    expect(&mut ecr, "the pushed sale's outcome", outcome_of("sale-push")).await;

    let scanned = EcrMessage::Pay {
        id: "sale-qr".into(),
        amount: Minor(700),
        currency: None,
        order: "R1-0011".into(),
        reserve: false,
        options: PaymentOptions {
            flow: Flow::PersonalQr,
            personal_qr: Some("https://qr.example/p/3f9a2c".into()),
            ..PaymentOptions::default()
        },
    };
    assert_eq!(
        ask(&mut ecr, scanned).await,
        DaemonMessage::Accepted { id: "sale-qr".into() }
    );
    match engine.next_started().await.1 {
        Command::Pay {
            payer, order_lines, ..
        } => {
            assert_eq!(
                payer,
                Payer::PersonalQr {
                    code: "https://qr.example/p/3f9a2c".into()
                }
            );
            assert!(order_lines.is_empty());
        }
        other => panic!("{other:?}"),
    }

    let refusals = [
        r#"{"type":"pay","id":"p-1","amount":1,"order":"R","phone":"4512345678"}"#,
        r#"{"type":"pay","id":"p-2","amount":1,"order":"R","flow":"phone"}"#,
        r#"{"type":"pay","id":"p-3","amount":1,"order":"R","flow":"personal_qr","phone":"4512345678"}"#,
        r#"{"type":"pay","id":"p-4","amount":1,"order":"R","flow":"phone","phone":"4512345678","personal_qr":"q"}"#,
        r#"{"type":"pay","id":"p-5","amount":1,"order":"R","flow":"nfc"}"#,
        r#"{"type":"ready","id":"p-6","prepared":"prep-1","amount":1,"lines":[{"id":"a","name":"b","total":1,"vat_rate":0}]}"#,
        r#"{"type":"ready","id":"p-7","prepared":"prep-1","amount":1,"flow":"phone","phone":"4512345678"}"#,
    ];
    for body in refusals {
        ecr.send_raw(body.as_bytes().to_vec());
        let (id, code, message) = expect(&mut ecr, "an error reply", |m| match m {
            DaemonMessage::Error { id, code, message } => Some((id.clone(), *code, message.clone())),
            _ => None,
        })
        .await;
        let expected_id = serde_json::from_str::<serde_json::Value>(body).unwrap()["id"].clone();
        assert_eq!(id.as_deref(), expected_id.as_str(), "{body}");
        assert_eq!(code, ErrorCode::InvalidMessage, "{body}: {message}");
    }
    // None of them reached the engine.
    let status = ask(&mut ecr, EcrMessage::Status { id: "st".into() }).await;
    assert!(matches!(status, DaemonMessage::Status { .. }));
    assert!(
        engine.started.try_recv().is_err(),
        "a refused message reached the engine"
    );
}

/// `invoice` and `signup` arrive as the engine's commands, with the defaults the protocol
/// documents (14 days, 120 s at the counter; 300 s to accept a sign-up), a typed phone number in
/// the engine's form; their outcomes and a resolution reach the cash register with `approved`
/// true only for money taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_and_sign_ups_map_to_the_engine() {
    use mposd::engine::invoicing::InvoiceDelivery;
    let mut engine = ScriptedEngine::start();
    let line = PtyLine::new();
    let _daemon = serve(&line, &engine);
    let mut ecr = line.register();

    let body = r#"{"type":"invoice","id":"inv-1","amount":34900,"order":"R1-0020","phone":"+45 12 34 56 78","due":"2026-12-31"}"#;
    ecr.send_raw(body.as_bytes().to_vec());
    expect(&mut ecr, "accepted", |m| {
        (reply_id(m) == Some("inv-1")).then_some(())
    })
    .await;
    let (_, command) = engine.next_started().await;
    assert_eq!(
        command,
        Command::Invoice {
            amount: Minor(34900),
            currency: Currency::DKK,
            order_id: "R1-0020".into(),
            delivery: InvoiceDelivery::Phone {
                number: "4512345678".into()
            },
            due_date: Some("2026-12-31".parse().unwrap()),
            counter_wait_s: 120,
            order_lines: Vec::new(),
            label: None,
        }
    );
    let outstanding = Outcome::InvoiceOutstanding {
        invoice_id: "invoice-1".into(),
        amount: Minor(34900),
        currency: Currency::DKK,
        due_date: "2026-12-31".parse().unwrap(),
    };
    engine.emit("inv-1", EventKind::Finished { outcome: outstanding });
    let first = expect(&mut ecr, "the invoice's outcome", outcome_of("inv-1")).await;
    assert!(
        matches!(&first, (false, false, WireOutcome::InvoiceOutstanding { .. })),
        "{first:?}"
    );
    engine.emit(
        "inv-1",
        EventKind::Resolved {
            outcome: Outcome::InvoicePaid {
                invoice_id: "invoice-1".into(),
                amount: Minor(34900),
                currency: Currency::DKK,
            },
        },
    );
    let resolved = expect(&mut ecr, "the invoice's resolution", outcome_of("inv-1")).await;
    assert!(
        matches!(&resolved, (true, true, WireOutcome::InvoicePaid { .. })),
        "{resolved:?}"
    );

    let body = r#"{"type":"signup","id":"join-1","order":"M-1042","plan":"Brødklubben","price":9900,"per_year":12,"first_payment":4900}"#;
    ecr.send_raw(body.as_bytes().to_vec());
    expect(&mut ecr, "accepted", |m| {
        (reply_id(m) == Some("join-1")).then_some(())
    })
    .await;
    let (_, command) = engine.next_started().await;
    assert_eq!(
        command,
        Command::SignUp {
            order_id: "M-1042".into(),
            plan: "Brødklubben".into(),
            description: None,
            price: Some(Minor(9900)),
            currency: Currency::DKK,
            payments_per_year: Some(12),
            phone: None,
            first_payment: Some(Minor(4900)),
            counter_wait_s: 300,
        }
    );
    // A decimal amount is refused before the engine sees it.
    ecr.send_raw(br#"{"type":"invoice","id":"inv-2","amount":349.00,"order":"R"}"#.to_vec());
    let code = expect(&mut ecr, "an error", |m| match m {
        DaemonMessage::Error { code, .. } => Some(*code),
        _ => None,
    })
    .await;
    assert_eq!(code, ErrorCode::InvalidMessage);
}
