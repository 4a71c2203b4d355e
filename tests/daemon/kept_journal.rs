//! The real daemon started on a state directory holding the store an earlier release wrote
//! (`tests/fixtures/journal-v1`, lane `till-1`): it trusts the store and answers the cash
//! register's queries from it.

use super::sim_pos::keep_pos;
use super::store_copy::copy_dir;
use super::support::*;
use serde_json::{json, Value};
use std::path::Path;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/journal-v1");

async fn query(setup: &Setup, command: &str) -> Value {
    let (ok, messages) = setup.ecr(&["query", command]).await;
    assert!(ok, "{messages:?}");
    messages
        .into_iter()
        .find(|m| m["type"] == "query_result")
        .unwrap_or_else(|| panic!("no query_result for {command}"))
}

#[tokio::test]
async fn the_daemon_answers_queries_from_a_store_of_the_first_journal_schema() {
    let setup = Setup::new().await;
    // MobilePay still keeps the point of sale the lane ran on.
    keep_pos(
        &setup.sim.base_url(),
        "6ceaad86-fe21-4354-8a0f-248de9e93754",
        "403764044164484",
        "till-1",
        "Kasse 1",
    )
    .await;
    let state = setup.dir.path().join("state");
    let fixture = Path::new(FIXTURE);
    copy_dir(&fixture.join("store"), &state.join("store"));
    std::fs::copy(
        fixture.join("store.installation"),
        state.join("store.installation"),
    )
    .unwrap();

    let (_daemon, log) = setup.start_daemon_logged().await;
    assert!(
        !log.lines().iter().any(|l| l.contains("ALARM")),
        "{:?}",
        log.lines()
    );
    assert!(!state.join("store.doubt").exists());
    // The lane went on with its point of sale instead of registering another.
    assert_eq!(
        setup.live_pos("till-1").await["posId"],
        json!("6ceaad86-fe21-4354-8a0f-248de9e93754")
    );
    let sale = query(&setup, "sale-1").await;
    assert_eq!(sale["state"], json!("finished"), "{sale}");
    assert_eq!(
        sale["outcome"],
        json!({"approved": true, "result": "captured", "amount": 1500, "currency": "DKK",
               "payment_id": "94a26ce6-28f0-4e23-a6fe-6e749af39c68"}),
        "{sale}"
    );
    let refund = query(&setup, "refund-1").await;
    assert_eq!(refund["state"], json!("finished"), "{refund}");
    assert_eq!(refund["kind"], json!("refund"), "{refund}");
    assert_eq!(refund["outcome"]["result"], json!("refunded"), "{refund}");
    assert_eq!(refund["outcome"]["amount"], json!(500), "{refund}");
    assert_eq!(query(&setup, "sale-9").await["state"], json!("not_found"));
}
