//! What a running engine finishes on its own: a capture or refund payout that failed while the
//! cashier was answered, and the pruning of old finished records by the periodic sweep.

use super::support::*;
use mposd::engine::api::{Command, CommandId, EventKind, LaneEvent, Outcome, PaymentSelector};
use mposd::money::{Currency, Minor};
use std::time::Duration;
use tokio::sync::broadcast;

/// The outcome a command resolves to later, as announced by the engine's `Resolved` event.
async fn resolution(events: &mut broadcast::Receiver<LaneEvent>, command: &CommandId) -> Outcome {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(LaneEvent {
                    command_id: Some(of),
                    kind: EventKind::Resolved { outcome },
                    ..
                }) if of == *command => return outcome,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the engine stopped"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait)
        .await
        .expect("the command was resolved")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_that_keeps_failing_is_completed_when_mobilepay_answers_again() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    lane.fault("capturePayment", "serverError", 100_000).await;
    let mut events = lane.engine().subscribe();
    let answered = lane.run("sale-1", pay(2500, "order-1", false)).await;
    let Outcome::CapturePending {
        payment_id,
        amount: Minor(2500),
        ..
    } = &answered
    else {
        panic!("the customer approved, so the cashier hears 'capture pending': {answered:?}")
    };
    assert_eq!(lane.payment(payment_id).await["status"], "Reserved");

    lane.clear_faults().await;
    let resolved = resolution(&mut events, &id("sale-1")).await;
    assert_eq!(
        resolved,
        Outcome::Captured {
            payment_id: payment_id.clone(),
            amount: Minor(2500),
            currency: Currency::DKK
        }
    );
    let truth = lane.payment(payment_id).await;
    assert_eq!(truth["status"], "Captured");
    assert_eq!(truth["capturedMinor"], 2500);
    // The same command id now answers the completed capture, and nothing else was created.
    assert_eq!(lane.run("sale-1", pay(2500, "order-1", false)).await, resolved);
    assert_eq!(lane.payments().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_payout_keeps_failing_is_paid_out_when_mobilepay_answers_again() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let sale = lane.run("sale-1", pay(4000, "order-1", false)).await;
    let payment_id = payment_id_of(&sale);
    lane.fault("captureRefund", "serverError", 100_000).await;
    let refund = Command::Refund {
        payment: PaymentSelector::Command(id("sale-1")),
        amount: Minor(1500),
        currency: Currency::DKK,
        refund_order_id: "r-1".into(),
    };
    let answered = lane.run("ref-1", refund.clone()).await;
    // A reserved refund is paid out by MobilePay after 24 h even without our capture, so the
    // cashier is told it is refunded while the engine goes on capturing it.
    let Outcome::Refunded {
        payment_id: refunded,
        amount: Minor(1500),
        ..
    } = &answered
    else {
        panic!("{answered:?}")
    };
    assert_eq!(*refunded, payment_id);
    let refunds = lane.refunds().await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["status"], "Reserved");

    lane.clear_faults().await;
    let mut paid_out = false;
    for _ in 0..600 {
        let refunds = lane.refunds().await;
        assert_eq!(refunds.len(), 1, "no second refund: {refunds:?}");
        if refunds[0]["status"] == "Captured" {
            paid_out = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(paid_out, "the reserved refund was never captured");
    assert_eq!(lane.payment(&payment_id).await["refundedMinor"], 1500);
    assert_eq!(lane.run("ref-1", refund).await, answered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_records_are_pruned_by_the_running_engine_and_open_ones_kept() {
    let lane = lane_with(|config| {
        config.retention = Duration::from_millis(300);
        config.reconcile_every = Duration::from_millis(100);
    })
    .await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    let engine = lane.engine();
    lane.run("old-sale", pay(1000, "order-1", false)).await;
    // A payment held open by a customer who never comes: running, so never pruned.
    lane.no_customers().await;
    let open = engine
        .submit(id("open-sale"), pay(500, "order-2", false))
        .await
        .unwrap();

    let mut pruned = false;
    for _ in 0..600 {
        if engine.query(&id("old-sale")).await.unwrap().is_none() {
            pruned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pruned, "the finished sale was never pruned");
    let still = engine.query(&id("open-sale")).await.unwrap();
    assert!(still.is_some(), "an open command was pruned");
    // Pruning forgets the record, never the money: the payment stays captured at MobilePay.
    let payments = lane.payments().await;
    let old = payments
        .iter()
        .find(|p| p["orderId"] == "order-1")
        .expect("the old payment");
    assert_eq!(old["status"], "Captured");
    let cancelled = lane
        .run(
            "cancel-open",
            Command::Cancel {
                target: id("open-sale"),
            },
        )
        .await;
    assert_eq!(
        cancelled,
        Outcome::Cancelled {
            target: id("open-sale")
        }
    );
    assert!(matches!(open.outcome().await.unwrap(), Outcome::Declined { .. }));
}
