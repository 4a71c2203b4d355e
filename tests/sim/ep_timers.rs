//! ePayment deadlines on the virtual clock: expiry after 10 minutes, the 14-day capture
//! deadline of Danish sales units, the 365-day refund window.

use super::common::{DAY_MS, MINUTE_MS};
use super::ep_support::*;
use mposd::sim::fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY};
use serde_json::json;

#[tokio::test]
async fn an_unanswered_payment_expires_after_ten_minutes() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    ep.sim.advance_ms(10 * MINUTE_MS - 5_000).await;
    assert_eq!(ep.state(&reference).await, "CREATED");
    ep.sim.advance_ms(5_000).await;
    assert_eq!(ep.state(&reference).await, "EXPIRED");
    assert_eq!(ep.event_names(&reference).await, ["CREATED", "EXPIRED"]);
    assert_eq!(ep.step(&reference, "approve", None).await.status, 400);
    problem(&ep.capture(&reference, 100).await, 400, Some("6080"));
}

#[tokio::test]
async fn what_is_not_captured_within_14_days_is_released() {
    let ep = start_ep().await;
    let reference = ep.authorized(1000).await;
    ep.capture(&reference, 400).await.ok();
    ep.sim.advance_ms(14 * DAY_MS - MINUTE_MS).await;
    ep.capture(&reference, 100).await.ok();
    ep.sim.advance_ms(2 * MINUTE_MS).await;
    let payment = ep.get(&reference).await.ok().clone();
    assert_eq!(payment["state"], json!("AUTHORIZED"));
    assert_eq!(
        payment["aggregate"]["cancelledAmount"],
        json!({"currency": "DKK", "value": 500})
    );
    assert_eq!(
        payment["aggregate"]["capturedAmount"],
        json!({"currency": "DKK", "value": 500})
    );
    assert_eq!(ep.event_names(&reference).await.last().unwrap(), "CANCELLED");
    problem(&ep.capture(&reference, 1).await, 400, Some("6070"));
    // The captured part can still be refunded.
    ep.refund(&reference, 500).await.ok();
}

#[tokio::test]
async fn refunds_end_365_days_after_the_authorization() {
    let mut ep = start_ep().await;
    let reference = ep.authorized(1000).await;
    ep.capture(&reference, 1000).await.ok();
    ep.sim.advance_ms(364 * DAY_MS).await;
    ep.refund(&reference, 100).await.ok();
    ep.sim.advance_ms(2 * DAY_MS).await;
    // The test's tokens live a year; a year later the till fetches a new one.
    ep.token = token_for(&ep.sim, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY).await;
    problem(&ep.refund(&reference, 100).await, 400, Some("6220"));
}
