//! Fault injection (docs/simulator.md "Fault modes"): delay, serverError, commitThenDrop,
//! unauthorized and rateLimited, each for the next N calls of one endpoint only.

use crate::common::*;
use mposd::sim::fixtures::DK_STORE;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn server_error_answers_500_with_a_2xxx_code_and_changes_nothing() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.fault("initiatePayment", "serverError", 2, json!({})).await;
    let key = new_key();
    let body = initiate_body(&pos.pos_id, 10.0);
    for _ in 0..2 {
        let resp = api.post_idem("/payments", &key, body.clone()).await;
        resp.err(500, "2000");
    }
    assert!(sim.ground_payments().await.is_empty());
    // The fault is used up: the retry with the same key succeeds and creates one payment.
    api.post_idem("/payments", &key, body).await.ok();
    assert_eq!(sim.ground_payments().await.len(), 1);
}

#[tokio::test]
async fn server_error_uses_the_given_code() {
    let sim = start().await;
    let api = sim.api().await;
    sim.fault("listStores", "serverError", 1, json!({"code": "2345"}))
        .await;
    api.get("/stores").await.err(500, "2345");
    api.get("/stores").await.ok();
}

#[tokio::test]
async fn faults_touch_only_their_endpoint() {
    let sim = start().await;
    let api = sim.api().await;
    sim.fault("capturePayment", "serverError", 1, json!({})).await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    api.capture(&flow.payment_id, 100.0).await.err(500, "2000");
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
    api.capture(&flow.payment_id, 100.0).await.ok_empty();
}

#[tokio::test]
async fn unauthorized_and_rate_limited_answer_without_a_body_and_change_nothing() {
    let sim = start().await;
    let api = sim.api().await;
    let faults = [
        ("unauthorized", json!({}), 401),
        ("rateLimited", json!({"retryAfter": "3"}), 429),
    ];
    for (i, (mode, extra, status)) in faults.into_iter().enumerate() {
        sim.fault("createPos", mode, 1, extra).await;
        let key = new_key();
        let body = pos_body(DK_STORE, &format!("till {i}"), None);
        api.post_idem("/pointofsales", &key, body.clone())
            .await
            .bare(status);
        assert_eq!(sim.ground_pos().await.len(), i, "{mode}");
        api.post_idem("/pointofsales", &key, body).await.ok();
        assert_eq!(sim.ground_pos().await.len(), i + 1, "{mode}");
    }
}

#[tokio::test]
async fn commit_then_drop_commits_and_the_client_sees_a_connection_error() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.fault("initiatePayment", "commitThenDrop", 1, json!({})).await;
    let key = new_key();
    let body = initiate_body(&pos.pos_id, 10.0);
    let dropped = api
        .try_send(
            Method::POST,
            "/payments",
            Some(&key),
            Some(body.clone()),
            Duration::from_secs(20),
        )
        .await;
    let err = dropped.expect_err("the connection is closed without an answer");
    assert!(!err.is_timeout(), "dropped, not timed out: {err}");
    // The change was committed...
    let payments = sim.ground_payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["status"], json!("Initiated"));
    // ...and the retry with the same key gets the committed payment, not a second one.
    let retry = api.post_idem("/payments", &key, body).await;
    assert_eq!(retry.ok()["paymentId"], payments[0]["paymentId"]);
    assert_eq!(sim.ground_payments().await.len(), 1);
}

#[tokio::test]
async fn commit_then_drop_on_capture_captures() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    sim.fault("capturePayment", "commitThenDrop", 1, json!({})).await;
    let dropped = api
        .try_send(
            Method::POST,
            &format!("/payments/{}/capture", flow.payment_id),
            None,
            Some(json!({"amount": 100.0})),
            Duration::from_secs(20),
        )
        .await;
    assert!(dropped.is_err(), "no answer expected");
    assert_eq!(api.status(&flow.payment_id).await, "Captured");
    // The naturally idempotent retry succeeds.
    api.capture(&flow.payment_id, 100.0).await.ok_empty();
}

#[tokio::test]
async fn delay_outlasts_the_client_timeout_but_the_change_happens() {
    let sim = start().await;
    let api = sim.api().await;
    sim.fault("createPos", "delay", 1, json!({"delayMs": 1500})).await;
    let key = new_key();
    let body = pos_body(DK_STORE, "slow", None);
    let timed_out = api
        .try_send(
            Method::POST,
            "/pointofsales",
            Some(&key),
            Some(body.clone()),
            Duration::from_millis(300),
        )
        .await;
    assert!(
        timed_out.as_ref().is_err_and(reqwest::Error::is_timeout),
        "the client gave up: {:?}",
        timed_out.map(|r| r.status)
    );
    // The delayed call still completes on the server: wait for it in the ground truth.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sim.ground_pos().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delayed call never committed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let retry = api.post_idem("/pointofsales", &key, body).await;
    assert_eq!(retry.ok()["posId"], sim.ground_pos().await[0]["posId"]);
    assert_eq!(sim.ground_pos().await.len(), 1);
}

#[tokio::test]
async fn delay_with_a_patient_client_answers_normally() {
    let sim = start().await;
    let api = sim.api().await;
    sim.fault("listStores", "delay", 1, json!({"delayMs": 200})).await;
    api.get("/stores").await.ok();
}

#[tokio::test]
async fn faults_are_listed_counted_down_and_cleared() {
    let sim = start().await;
    let api = sim.api().await;
    sim.fault("getStore", "serverError", 3, json!({})).await;
    sim.fault("listStores", "unauthorized", 1, json!({})).await;
    let listed = sim.get("/_sim/faults").await;
    assert!(
        listed.text.contains("getStore") && listed.text.contains("listStores"),
        "{}",
        listed.text
    );
    api.get(&format!("/stores/{DK_STORE}")).await.err(500, "2000");
    api.get("/stores").await.bare(401);
    api.get("/stores").await.ok();
    let after = sim.get("/_sim/faults").await;
    assert!(!after.text.contains("listStores"), "used up: {}", after.text);
    let cleared = sim.raw(Method::DELETE, "/_sim/faults", &[], None).await;
    assert_eq!(cleared.status, 200, "{}", cleared.text);
    api.get(&format!("/stores/{DK_STORE}")).await.ok();
    // The request log marks the faulted calls.
    let log = sim.get("/_sim/requests").await.ok()["log"].clone();
    let faulted = log
        .as_array()
        .expect("log")
        .iter()
        .filter(|e| e["fault"].as_str().is_some_and(|f| !f.is_empty()))
        .count();
    assert_eq!(faulted, 2, "{log}");
}

#[tokio::test]
async fn user_simulation_endpoints_take_faults_too() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.fault("userCheckin", "serverError", 1, json!({})).await;
    let resp = sim.checkin(&pos.beacon_id, CREDIT_USER).await;
    assert_eq!(resp.status, 500, "{}", resp.text);
    let checkin = api.get(&format!("/pointofsales/{}/checkin", pos.pos_id)).await;
    assert_eq!(checkin.ok()["isUserCheckedIn"], json!(false));
}

#[tokio::test]
async fn unknown_endpoint_or_mode_is_refused() {
    let sim = start().await;
    let bad_endpoint = sim
        .post_json(
            "/_sim/faults",
            json!({"endpoint": "noSuchEndpoint", "mode": "delay", "count": 1}),
        )
        .await;
    assert!((400..500).contains(&bad_endpoint.status), "{}", bad_endpoint.text);
    let bad_mode = sim
        .post_json(
            "/_sim/faults",
            json!({"endpoint": "listStores", "mode": "explode", "count": 1}),
        )
        .await;
    assert!((400..500).contains(&bad_mode.status), "{}", bad_mode.text);
    assert!(sim
        .get("/_sim/faults")
        .await
        .text
        .find("noSuchEndpoint")
        .is_none());
}

#[tokio::test]
async fn the_token_endpoint_takes_faults_too() {
    let sim = start().await;
    sim.fault("token", "serverError", 1, json!({})).await;
    let grant = [("grant_type", "client_credentials")];
    let id = mposd::sim::fixtures::DEMO_CLIENT_ID;
    let secret = mposd::sim::fixtures::DEMO_CLIENT_SECRET;
    let failed = sim.token_request(id, secret, &grant).await;
    assert_eq!(failed.status, 500, "{}", failed.text);
    sim.token_request(id, secret, &grant).await.ok();
}
