//! The session and the whole lane, over a real pseudo-terminal: unknown outcomes resolved later,
//! lane-wide news, each event delivered once, the serial device vanishing and coming back, and
//! a daemon that stops.

use super::support::{ask, event_of, expect, outcome_of, pay, serve, PtyLine, ScriptedEngine};
use mposd::ecr::lane::LaneConfig;
use mposd::ecr::message::{
    DaemonMessage, EcrMessage, ErrorCode, Event, QueryState, Reachability, WireOutcome,
};
use mposd::ecr::serial::{serve_serial, SerialSettings};
use mposd::engine::{DeclineReason, EventKind, Outcome};
use mposd::money::{Currency, Minor};
use tokio_util::sync::CancellationToken;

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
