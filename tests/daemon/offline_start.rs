//! A start while MobilePay cannot be reached (the shop's internet is down): the cash register is
//! served at once, its queries are answered from the journal, and new commands are refused with
//! `not_ready` (nothing stored) until the point of sale is registered; then they go through.

use super::support::{final_outcome, stops_with_exit_0, DaemonLog, Setup};
use serde_json::{json, Value};
use std::time::Duration;

/// Waits until the daemon serves its cash-register line.
async fn line_served(log: &DaemonLog) {
    log.wait_for(Duration::from_secs(60), |l| {
        l.contains("listening for the cash register")
    })
    .await
    .unwrap_or_else(|| panic!("the cash register line was not served: {:?}", log.lines()));
}

async fn ready(log: &DaemonLog) {
    log.wait_for(Duration::from_secs(90), |l| l.contains("mposd is ready"))
        .await
        .unwrap_or_else(|| panic!("mposd did not become ready: {:?}", log.lines()));
}

/// The reply of `mposd ecr` to its request (the last message it printed).
fn reply(messages: &[Value]) -> Value {
    messages.last().cloned().unwrap_or(Value::Null)
}

/// Asserts that `pay` is refused with `not_ready` and that nothing was stored for it.
async fn pay_refused_not_ready(setup: &Setup, id: &str, order: &str) {
    let (ok, messages) = setup.ecr(&["pay", "10.00", "--order", order, "--id", id]).await;
    let refusal = reply(&messages);
    assert!(!ok, "{messages:?}");
    assert_eq!(refusal["type"], json!("error"), "{messages:?}");
    assert_eq!(refusal["id"], json!(id), "{refusal}");
    assert_eq!(refusal["code"], json!("not_ready"), "{refusal}");
    assert!(
        refusal["message"]
            .as_str()
            .is_some_and(|m| m.contains("registering its point of sale")),
        "{refusal}"
    );
    let (ok, messages) = setup.ecr(&["query", id]).await;
    assert!(ok, "{messages:?}");
    assert_eq!(reply(&messages)["state"], json!("not_found"), "{messages:?}");
}

#[tokio::test]
async fn the_cash_register_is_answered_while_mobilepay_is_unreachable_at_start() {
    let (setup, mut mobilepay) = Setup::behind_relay().await;
    setup.customers_accept(100).await;

    // A lane that never ran, started while MobilePay is unreachable: the line answers, there
    // is nothing in the journal yet, and a payment is refused until the lane is registered.
    let (daemon, log) = setup.spawn_daemon(&[]);
    line_served(&log).await;
    let (ok, messages) = setup.ecr(&["hello"]).await;
    assert!(ok, "{messages:?}");
    let hello = reply(&messages);
    assert_eq!(hello["type"], json!("hello"), "{messages:?}");
    assert_eq!(hello["lane"], json!(""), "no point of sale yet: {hello}");
    let (ok, messages) = setup.ecr(&["status"]).await;
    assert!(ok && reply(&messages)["type"] == json!("status"), "{messages:?}");
    pay_refused_not_ready(&setup, "sale-1", "R1-0001").await;

    // MobilePay answers: the same command (same id) goes through.
    mobilepay.on().await;
    ready(&log).await;
    let (ok, messages) = setup
        .ecr(&["pay", "10.00", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    stops_with_exit_0(daemon).await;

    // The lane ran before: started again while MobilePay is unreachable, its journal answers
    // at once, and a new payment waits for the registration.
    mobilepay.off().await;
    let (daemon, log) = setup.spawn_daemon(&[]);
    line_served(&log).await;
    let (ok, messages) = setup.ecr(&["query", "sale-1"]).await;
    assert!(ok, "{messages:?}");
    let answer = reply(&messages);
    assert_eq!(answer["state"], json!("finished"), "{answer}");
    assert_eq!(answer["outcome"]["result"], json!("captured"), "{answer}");
    assert!(
        !log.lines().iter().any(|l| l.contains("mposd is ready")),
        "the query was answered before the point of sale was registered"
    );
    pay_refused_not_ready(&setup, "sale-2", "R1-0002").await;

    mobilepay.on().await;
    ready(&log).await;
    let (ok, messages) = setup
        .ecr(&["pay", "20.00", "--order", "R1-0002", "--id", "sale-2"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 2, "one payment per sale: {payments:?}");
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_store_rebuilt_after_damage_answers_in_doubt_while_mobilepay_is_unreachable() {
    let (setup, mut mobilepay) = Setup::behind_relay().await;
    setup.customers_accept(100).await;
    mobilepay.on().await;
    let daemon = setup.start_daemon().await;
    let (ok, messages) = setup
        .ecr(&["pay", "10.00", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    assert!(ok, "{messages:?}");
    stops_with_exit_0(daemon).await;

    // The store was found damaged and set aside, as mposd does it: moved away, the rebuild
    // recorded beside it. The lane's point of sale is forgotten with it.
    let store = setup.dir.path().join("state/store");
    std::fs::rename(&store, setup.dir.path().join("state/store.corrupt-1")).expect("move aside");
    let doubt = mposd::engine::doubt::Doubt {
        since_ms: u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis(),
        )
        .expect("millis"),
        reason: "the store was damaged".into(),
    };
    mposd::engine::doubt::record(&store, &doubt).expect("record the rebuild");

    // Started while MobilePay is unreachable, the lane cannot vouch that sale-1 was never
    // used, so it does not say `not_found`.
    mobilepay.off().await;
    let (daemon, log) = setup.spawn_daemon(&[]);
    line_served(&log).await;
    let (ok, messages) = setup.ecr(&["query", "sale-1"]).await;
    assert!(ok, "{messages:?}");
    assert_eq!(reply(&messages)["state"], json!("in_doubt"), "{messages:?}");
    let (ok, messages) = setup
        .ecr(&["pay", "10.00", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    assert!(!ok, "{messages:?}");
    assert_eq!(reply(&messages)["code"], json!("not_ready"), "{messages:?}");
    stops_with_exit_0(daemon).await;
}
