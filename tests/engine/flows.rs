//! Every flow end to end.

use super::support::*;
use mposd::backends::pos_v10::idempotency::IdempotencyKey;
use mposd::backends::pos_v10::model::{InitiatePaymentRequest, PlannedCaptureDelay};
use mposd::correlation::Correlation;
use mposd::engine::api::{
    Command, CommandState, DeclineReason, EventKind, LaneEvent, Outcome, PaymentSelector, RejectCode,
    Submission, Submitter,
};
use mposd::money::{Currency, MajorAmount, Minor};
use tokio::sync::broadcast;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payment_is_captured_and_answered_again_for_the_same_command_id() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 50).await;
    let mut events = lane.engine().subscribe();
    let outcome = lane.run("sale-1", pay(4995, "order-1", false)).await;
    let Outcome::Captured {
        payment_id,
        amount,
        currency,
    } = outcome.clone()
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((amount, currency), (Minor(4995), Currency::DKK));
    let truth = lane.payment(&payment_id).await;
    assert_eq!(truth["status"], "Captured");
    assert_eq!(truth["capturedMinor"], 4995);

    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(event.kind);
    }
    assert!(kinds.iter().any(|k| matches!(k, EventKind::WaitingForCustomer { prompt: Some(prompt), amount: Some(Minor(4995)), .. } if prompt.sticker_id() == Some(lane.beacon_id.as_str()))));
    assert!(kinds.iter().any(|k| matches!(k, EventKind::Reserved { .. })));
    assert!(matches!(kinds.last(), Some(EventKind::Finished { .. })));

    // The same command again: the stored answer, no second payment.
    assert_eq!(lane.run("sale-1", pay(4995, "order-1", false)).await, outcome);
    assert_eq!(lane.payments().await.len(), 1);
    let view = lane.engine().query(&id("sale-1")).await.unwrap().unwrap();
    assert_eq!(view.state, CommandState::Finished(outcome));
    // The same id for another command is refused.
    assert!(matches!(
        lane.run("sale-1", pay(100, "order-9", false)).await,
        Outcome::Rejected {
            code: RejectCode::CommandIdReused,
            ..
        }
    ));
    assert_eq!(lane.engine().query(&id("never-used")).await.unwrap(), None);
}

/// Every event of a submission, until the engine ends it.
async fn events_of(mut submission: Submission) -> Vec<LaneEvent> {
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(std::time::Duration::from_secs(60), submission.next_event())
        .await
        .expect("the submission ends")
    {
        events.push(event);
    }
    events
}

/// The next event of command `wanted` on the lane broadcast.
async fn next_on_the_lane(broadcast: &mut broadcast::Receiver<LaneEvent>, wanted: &str) -> LaneEvent {
    loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(60), broadcast.recv())
            .await
            .expect("the lane's events")
            .expect("no lane event lost");
        if event.command_id == Some(id(wanted)) {
            return event;
        }
    }
}

/// A front end that submits commands and watches the lane gets each event of its command once:
/// its submissions carry them all (a repeat of the running command takes over from the earlier
/// submission, which ends without the outcome), and their copies on the lane broadcast are
/// marked with it, so it can leave them out there. Another front end that joins the running
/// command gets every event from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_gets_each_event_of_its_command_once() {
    let lane = lane().await;
    let engine = lane.engine();
    let mut broadcast = engine.subscribe();
    let (cashier, display) = (Submitter::new(), Submitter::new());
    let sale = || pay(1000, "order-1", false);
    let first = engine.submit_as(cashier, id("sale-1"), sale()).await.unwrap();
    // The display joins once the customer is asked: the sale's first event.
    let mut on_the_lane = vec![next_on_the_lane(&mut broadcast, "sale-1").await];
    assert!(
        matches!(on_the_lane[0].kind, EventKind::WaitingForCustomer { .. }),
        "{on_the_lane:?}"
    );
    let watched = engine.submit_as(display, id("sale-1"), sale()).await.unwrap();
    let again = engine.submit_as(cashier, id("sale-1"), sale()).await.unwrap();
    let cancel = lane
        .run("cancel-1", Command::Cancel { target: id("sale-1") })
        .await;
    assert_eq!(cancel, Outcome::Cancelled { target: id("sale-1") });

    let (first, again, watched) = (
        events_of(first).await,
        events_of(again).await,
        events_of(watched).await,
    );
    while !matches!(
        on_the_lane.last(),
        Some(LaneEvent {
            kind: EventKind::Finished { .. },
            ..
        })
    ) {
        on_the_lane.push(next_on_the_lane(&mut broadcast, "sale-1").await);
    }
    assert!(matches!(
        watched.last(),
        Some(LaneEvent {
            kind: EventKind::Finished {
                outcome: Outcome::Declined { .. }
            },
            ..
        })
    ));
    assert_eq!(
        watched,
        on_the_lane[1..],
        "a submission carries every event of its command from the moment it joined"
    );
    assert_eq!(
        [first.clone(), again].concat(),
        on_the_lane,
        "the cashier's submissions, once each"
    );
    assert!(!first.iter().any(|e| matches!(e.kind, EventKind::Finished { .. })));
    assert!(on_the_lane[0].carried_to(cashier), "{:?}", on_the_lane[0]);
    for event in &on_the_lane[1..] {
        assert!(
            event.carried_to(cashier) && event.carried_to(display),
            "{event:?}"
        );
    }

    // Answered from the journal: through the submission only, not on the lane.
    let repeat = events_of(engine.submit_as(cashier, id("sale-1"), sale()).await.unwrap()).await;
    assert_eq!(repeat.len(), 1);
    assert_eq!(repeat[0].kind, watched.last().unwrap().kind);
    while let Ok(event) = broadcast.try_recv() {
        assert_ne!(event.command_id, Some(id("sale-1")), "{event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_declines_in_the_app() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "cancel", 50).await;
    let outcome = lane.run("sale-1", pay(1000, "order-1", false)).await;
    assert!(matches!(
        outcome,
        Outcome::Declined {
            reason: DeclineReason::CancelledByUser,
            ..
        }
    ));
    assert_eq!(
        lane.payment(&payment_id_of(&outcome)).await["status"],
        "CancelledByUser"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobilepay_cancels_when_nobody_comes() {
    let lane = lane().await;
    let submission = lane
        .engine()
        .submit(id("sale-1"), pay(1000, "order-1", false))
        .await
        .unwrap();
    wait_for_status(&lane, "Initiated").await;
    lane.advance_clock(301_000).await;
    let outcome = submission.outcome().await.unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Declined {
                reason: DeclineReason::CancelledByMobilePay,
                ..
            }
        ),
        "{outcome:?}"
    );
}

async fn wait_for_status(lane: &Lane, status: &str) -> String {
    for _ in 0..400 {
        if let Some(p) = lane.payments().await.into_iter().find(|p| p["status"] == status) {
            return p["paymentId"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no payment reached {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cashier_cancels_a_waiting_payment() {
    let lane = lane().await;
    let sale = lane
        .engine()
        .submit(id("sale-1"), pay(1000, "order-1", false))
        .await
        .unwrap();
    let payment_id = wait_for_status(&lane, "Initiated").await;
    let cancel = lane
        .run("cancel-1", Command::Cancel { target: id("sale-1") })
        .await;
    assert_eq!(cancel, Outcome::Cancelled { target: id("sale-1") });
    assert!(matches!(
        sale.outcome().await.unwrap(),
        Outcome::Declined {
            reason: DeclineReason::CancelledByCashier,
            ..
        }
    ));
    assert_eq!(lane.payment(&payment_id).await["status"], "CancelledByClient");
    // The lane is free again.
    lane.customer(CREDIT_USER, "accept", 20).await;
    assert!(matches!(
        lane.run("sale-2", pay(1000, "order-2", false)).await,
        Outcome::Captured { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_payment_at_a_time_per_lane() {
    let lane = lane().await;
    let _sale = lane
        .engine()
        .submit(id("sale-1"), pay(1000, "order-1", false))
        .await
        .unwrap();
    assert!(matches!(
        lane.run("sale-2", pay(1000, "order-2", false)).await,
        Outcome::Rejected {
            code: RejectCode::LaneBusy,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservation_is_captured_partially_later() {
    let lane = lane().await;
    lane.customer(PARTIAL_USER, "accept", 20).await;
    let reserved = lane.run("sale-1", pay(5000, "order-1", true)).await;
    let Outcome::Reserved {
        partial_capture_possible: true,
        ref payment_id,
        ..
    } = reserved
    else {
        panic!("{reserved:?}")
    };
    assert_eq!(lane.payment(payment_id).await["status"], "Reserved");
    let captured = lane
        .run(
            "cap-1",
            Command::Capture {
                target: id("sale-1"),
                amount: Some(Minor(3000)),
            },
        )
        .await;
    assert!(
        matches!(
            captured,
            Outcome::Captured {
                amount: Minor(3000),
                ..
            }
        ),
        "{captured:?}"
    );
    assert_eq!(lane.payment(payment_id).await["capturedMinor"], 3000);
    // A second capture of the same reservation is refused by the engine.
    assert!(matches!(
        lane.run(
            "cap-2",
            Command::Capture {
                target: id("cap-1"),
                amount: None
            }
        )
        .await,
        Outcome::Rejected {
            code: RejectCode::WrongTarget,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_capture_impossible_is_refused_and_the_caller_decides() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let reserved = lane.run("sale-1", pay(5000, "order-1", true)).await;
    let payment_id = payment_id_of(&reserved);
    assert!(matches!(
        reserved,
        Outcome::Reserved {
            partial_capture_possible: false,
            ..
        }
    ));
    let refused = lane
        .run(
            "cap-1",
            Command::Capture {
                target: id("sale-1"),
                amount: Some(Minor(1000)),
            },
        )
        .await;
    assert_eq!(
        refused,
        Outcome::PartialCaptureRefused {
            payment_id: payment_id.clone(),
            reserved: Minor(5000),
            requested: Minor(1000)
        }
    );
    assert_eq!(lane.payment(&payment_id).await["status"], "Reserved");
    // The cashier decides to cancel instead.
    assert_eq!(
        lane.run("cancel-1", Command::Cancel { target: id("sale-1") })
            .await,
        Outcome::Cancelled { target: id("sale-1") }
    );
    assert_eq!(lane.payment(&payment_id).await["status"], "CancelledByClient");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_cannot_be_captured() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let reserved = lane.run("sale-1", pay(5000, "order-1", true)).await;
    lane.advance_clock(8 * 24 * 3600 * 1000).await;
    let outcome = lane
        .run(
            "cap-1",
            Command::Capture {
                target: id("sale-1"),
                amount: None,
            },
        )
        .await;
    assert_eq!(
        outcome,
        Outcome::Declined {
            payment_id: Some(payment_id_of(&reserved)),
            reason: DeclineReason::ExpiredAndCancelled
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_payment_reports_loyalty_then_takes_the_amount() {
    let lane = lane().await;
    lane.customer(LOYALTY_USER, "checkin", 20).await;
    let paired = lane
        .run(
            "prep-1",
            Command::Prepare {
                order_id: "order-1".into(),
            },
        )
        .await;
    let Outcome::Paired {
        ref customer,
        ref payment_id,
    } = paired
    else {
        panic!("{paired:?}")
    };
    assert_eq!(customer.loyalty_ids.len(), 1, "{customer:?}");
    assert!(customer.customer_token.is_some());
    // While the prepared payment waits for its amount, the lane is busy.
    assert!(matches!(
        lane.run("sale-x", pay(100, "order-x", false)).await,
        Outcome::Rejected {
            code: RejectCode::LaneBusy,
            ..
        }
    ));
    lane.customer(LOYALTY_USER, "accept", 20).await;
    let ready = Command::Ready {
        target: id("prep-1"),
        amount: Minor(2500),
        currency: Currency::DKK,
        keep_reservation: false,
        restrictions: None,
        label: Some("Bageriet".into()),
    };
    let outcome = lane.run("ready-1", ready).await;
    assert!(
        matches!(
            outcome,
            Outcome::Captured {
                amount: Minor(2500),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(lane.payment(payment_id).await["capturedMinor"], 2500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_partial_multiple_and_over_the_limit() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let sale = lane.run("sale-1", pay(5000, "order-1", false)).await;
    let refund = |id_: &str, amount: i64, selector: PaymentSelector| Command::Refund {
        payment: selector,
        amount: Minor(amount),
        currency: Currency::DKK,
        refund_order_id: format!("r-{id_}"),
    };
    let first = lane
        .run("ref-1", refund("1", 3000, PaymentSelector::Command(id("sale-1"))))
        .await;
    assert!(
        matches!(
            first,
            Outcome::Refunded {
                amount: Minor(3000),
                ..
            }
        ),
        "{first:?}"
    );
    let second = lane
        .run(
            "ref-2",
            refund("2", 2000, PaymentSelector::OrderId("order-1".into())),
        )
        .await;
    assert!(
        matches!(second, Outcome::Refunded { ref payment_id, .. } if *payment_id == payment_id_of(&sale)),
        "{second:?}"
    );
    let third = lane
        .run("ref-3", refund("3", 1, PaymentSelector::Command(id("sale-1"))))
        .await;
    assert!(
        matches!(
            third,
            Outcome::Rejected {
                code: RejectCode::RefundTooHigh,
                ..
            }
        ),
        "{third:?}"
    );
    let refunds = lane.refunds().await;
    assert_eq!(refunds.iter().filter(|r| r["status"] == "Captured").count(), 2);
    let eur = Command::Refund {
        payment: PaymentSelector::Command(id("sale-1")),
        amount: Minor(1),
        currency: Currency::EUR,
        refund_order_id: "r-4".into(),
    };
    assert!(matches!(
        lane.run("ref-4", eur).await,
        Outcome::Rejected {
            code: RejectCode::CurrencyMismatch,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_above_what_is_left_is_refused_without_asking_mobilepay() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let sale = lane.run("sale-1", pay(1000, "order-1", false)).await;
    assert!(matches!(sale, Outcome::Captured { .. }), "{sale:?}");
    let refund = |n: &str, amount: i64| Command::Refund {
        payment: PaymentSelector::Command(id("sale-1")),
        amount: Minor(amount),
        currency: Currency::DKK,
        refund_order_id: format!("r-{n}"),
    };
    let first = lane.run("ref-1", refund("1", 600)).await;
    assert!(
        matches!(
            first,
            Outcome::Refunded {
                amount: Minor(600),
                ..
            }
        ),
        "{first:?}"
    );
    let second = lane.run("ref-2", refund("2", 500)).await;
    assert_eq!(
        second,
        Outcome::Rejected {
            code: RejectCode::RefundTooHigh,
            message: "5.00 is more than the 4.00 left to refund of this payment".into(),
        }
    );
    // MobilePay never saw it, and nothing was stored: the id is still free.
    let creates = lane.requests_to("createRefund").await;
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert!(lane.engine().query(&id("ref-2")).await.unwrap().is_none());
    // What is left can still be refunded.
    let rest = lane.run("ref-3", refund("3", 400)).await;
    assert!(
        matches!(
            rest,
            Outcome::Refunded {
                amount: Minor(400),
                ..
            }
        ),
        "{rest:?}"
    );
    assert_eq!(lane.requests_to("createRefund").await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_payment_on_the_point_of_sale_is_cancelled_and_the_sale_goes_on() {
    let lane = lane().await;
    // A payment left active on the PoS (e.g. by a register before a crash and a lost journal).
    let stale = lane
        .client
        .initiate_payment(
            &Correlation::new("payment"),
            &IdempotencyKey::generate(),
            &InitiatePaymentRequest {
                pos_id: lane.pos_id.clone(),
                order_id: "stale-order".into(),
                amount: MajorAmount::from_minor(Minor(700)),
                currency_code: Currency::DKK,
                restrictions: None,
                merchant_payment_label: None,
                planned_capture_delay: PlannedCaptureDelay::None,
            },
        )
        .await
        .unwrap()
        .payment_id;
    lane.customer(CREDIT_USER, "accept", 50).await;
    let outcome = lane.run("sale-1", pay(1000, "order-1", false)).await;
    assert!(matches!(outcome, Outcome::Captured { .. }), "{outcome:?}");
    assert_eq!(lane.payment(&stale).await["status"], "CancelledByClient");
    assert_eq!(lane.payments().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_are_retried_with_the_same_key_and_never_pay_twice() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 50).await;
    lane.fault("initiatePayment", "commitThenDrop", 1).await;
    lane.fault("capturePayment", "commitThenDrop", 1).await;
    let outcome = lane.run("sale-1", pay(1000, "order-1", false)).await;
    assert!(matches!(outcome, Outcome::Captured { .. }), "{outcome:?}");
    let payments = lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_happens() {
    let lane = lane().await;
    assert!(matches!(
        lane.run("sale-1", pay(0, "order-1", false)).await,
        Outcome::Rejected {
            code: RejectCode::InvalidAmount,
            ..
        }
    ));
    assert!(matches!(
        lane.run(
            "cap-1",
            Command::Capture {
                target: id("nothing"),
                amount: None
            }
        )
        .await,
        Outcome::Rejected {
            code: RejectCode::UnknownTarget,
            ..
        }
    ));
    assert!(lane.payments().await.is_empty());
    assert_eq!(lane.engine().query(&id("sale-1")).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_payment_can_be_cancelled_before_ready() {
    let lane = lane().await;
    lane.customer(LOYALTY_USER, "checkin", 20).await;
    let paired = lane
        .run(
            "prep-1",
            Command::Prepare {
                order_id: "order-1".into(),
            },
        )
        .await;
    let payment_id = payment_id_of(&paired);
    assert_eq!(
        lane.run("cancel-1", Command::Cancel { target: id("prep-1") })
            .await,
        Outcome::Cancelled { target: id("prep-1") }
    );
    assert_eq!(lane.payment(&payment_id).await["status"], "CancelledByClient");
    // The prepared payment no longer blocks the lane; it cannot be readied any more.
    let ready = Command::Ready {
        target: id("prep-1"),
        amount: Minor(100),
        currency: Currency::DKK,
        keep_reservation: false,
        restrictions: None,
        label: None,
    };
    assert!(matches!(
        lane.run("ready-1", ready).await,
        Outcome::Rejected {
            code: RejectCode::WrongState,
            ..
        }
    ));
    lane.customer(CREDIT_USER, "accept", 20).await;
    assert!(matches!(
        lane.run("sale-2", pay(100, "order-2", false)).await,
        Outcome::Captured { .. }
    ));
}
