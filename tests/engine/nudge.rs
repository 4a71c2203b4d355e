//! News of a payment (`EngineHandle::nudge`) that its flow cannot use while it waits to retry a
//! failed status poll leaves that wait running: the flow still finishes.

use super::support::{id, lane, pay, CREDIT_USER};
use mposd::engine::api::Outcome;
use std::time::Duration;

#[tokio::test]
async fn news_during_a_retry_wait_leaves_the_wait_running() {
    let lane = lane().await;
    lane.customer(CREDIT_USER, "accept", 50).await;
    // Every status read fails: the flow backs off in its poll phase, where news changes nothing.
    lane.fault("getPayment", "serverError", 100_000).await;
    let engine = lane.engine().clone();
    let sale = tokio::spawn(async move { engine.run(id("sale-1"), pay(4995, "order-1", false)).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let payment_id = loop {
        let failed = lane.requests_to("getPayment").await;
        if let Some(read) = failed.iter().find(|r| r["status"] == 500) {
            let path = read["path"].as_str().expect("path");
            break path.rsplit('/').next().expect("payment id").to_string();
        }
        assert!(tokio::time::Instant::now() < deadline, "no status read failed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for _ in 0..3 {
        lane.engine().nudge(&payment_id);
    }
    // Let the retries see the news before the reads work again.
    let reads = lane.requests_to("getPayment").await.len();
    while lane.requests_to("getPayment").await.len() < reads + 2 {
        assert!(tokio::time::Instant::now() < deadline, "the flow stopped reading");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    lane.clear_faults().await;
    let outcome = tokio::time::timeout(Duration::from_secs(60), sale)
        .await
        .expect("the sale finishes: a wait interrupted by news went on")
        .expect("task")
        .expect("engine");
    assert!(
        matches!(
            outcome,
            Outcome::Captured { .. } | Outcome::Unknown { .. } | Outcome::CapturePending { .. }
        ),
        "{outcome:?}"
    );
    let payment = lane.payment(&payment_id).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while lane.payment(&payment_id).await["status"] != "Captured" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flow never captured: {payment}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
