//! ePayment: the state machine. `state` stays `AUTHORIZED` while `aggregate` moves; cancel
//! before authorization terminates; every step is an event with its own PSP reference.

use super::ep_support::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;

fn dkk(value: i64) -> serde_json::Value {
    json!({"currency": "DKK", "value": value})
}

#[tokio::test]
async fn cancel_before_authorization_terminates_the_payment() {
    let ep = start_ep().await;
    let reference = ep.push(1000).await;
    let resp = ep
        .cancel(&reference, json!({"cancelTransactionOnly": false}))
        .await;
    let body = resp.ok();
    assert_eq!(body["state"], json!("TERMINATED"));
    assert_eq!(body["aggregate"]["cancelledAmount"], dkk(1000));
    assert_eq!(body["aggregate"]["authorizedAmount"], dkk(0));
    assert_eq!(ep.state(&reference).await, "TERMINATED");
    assert_eq!(ep.event_names(&reference).await, ["CREATED", "TERMINATED"]);
    // The customer can no longer approve it.
    assert_eq!(ep.step(&reference, "approve", None).await.status, 400);
}

#[tokio::test]
async fn capture_and_refund_move_the_aggregate_while_the_state_stays_authorized() {
    let ep = start_ep().await;
    let reference = ep.authorized(1000).await;
    let first = ep.capture(&reference, 300).await;
    assert_eq!(first.ok()["state"], json!("AUTHORIZED"));
    let second = ep.capture(&reference, 700).await;
    let body = second.ok();
    assert_eq!(body["state"], json!("AUTHORIZED"));
    assert_eq!(body["aggregate"]["capturedAmount"], dkk(1000));
    assert_eq!(body["aggregate"]["authorizedAmount"], dkk(1000));
    ep.refund(&reference, 200).await.ok();
    problem(&ep.refund(&reference, 801).await, 400, Some("6150"));
    let refunded = ep.refund(&reference, 800).await;
    assert_eq!(refunded.ok()["aggregate"]["refundedAmount"], dkk(1000));
    assert_eq!(refunded.json["state"], json!("AUTHORIZED"));

    let events = ep.events(&reference).await;
    let names: Vec<_> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "CREATED",
            "AUTHORIZED",
            "CAPTURED",
            "CAPTURED",
            "REFUNDED",
            "REFUNDED"
        ]
    );
    let psp: HashSet<_> = events
        .iter()
        .map(|e| e["pspReference"].as_str().unwrap())
        .collect();
    assert_eq!(psp.len(), events.len(), "each event has its own pspReference");
    assert_eq!(
        ep.get(&reference).await.ok()["pspReference"],
        events[0]["pspReference"]
    );
    assert!(
        events[1].get("idempotencyKey").is_none(),
        "the customer's approval has no key"
    );
    assert!(
        events[2]["idempotencyKey"].is_string(),
        "captures carry their key"
    );
    assert_eq!(events[2]["amount"], dkk(300));
    assert_eq!(events[2]["pspReference"], first.json["pspReference"]);
}

#[tokio::test]
async fn captures_are_refused_before_authorization_beyond_the_rest_and_after_cancel() {
    let ep = start_ep().await;
    let created = ep.push(1000).await;
    problem(&ep.capture(&created, 100).await, 400, Some("6080"));
    problem(&ep.refund(&created, 100).await, 400, Some("6020"));

    let reference = ep.authorized(1000).await;
    problem(&ep.capture(&reference, 1001).await, 400, Some("6090"));
    let euro = ep
        .modify_keyed(
            &reference,
            "capture",
            &new_key(),
            json!({"modificationAmount": {"currency": "EUR", "value": 100}}),
        )
        .await;
    problem(&euro, 400, Some("5040"));
    let decimal = ep
        .modify_keyed(
            &reference,
            "capture",
            &new_key(),
            json!({"modificationAmount": {"currency": "DKK", "value": 1.5}}),
        )
        .await;
    problem(&decimal, 400, Some("4040"));
    ep.capture(&reference, 250).await.ok();
    problem(
        &ep.cancel(&reference, json!({"cancelTransactionOnly": true}))
            .await,
        400,
        Some("6060"),
    );

    // Cancelling after a partial capture releases the rest at once.
    let cancelled = ep.cancel(&reference, json!({})).await;
    let body = cancelled.ok();
    assert_eq!(body["state"], json!("AUTHORIZED"));
    assert_eq!(body["aggregate"]["cancelledAmount"], dkk(750));
    assert_eq!(body["aggregate"]["capturedAmount"], dkk(250));
    problem(&ep.capture(&reference, 1).await, 400, Some("6070"));
    let last = ep.events(&reference).await.pop().unwrap();
    assert_eq!(
        (last["name"].clone(), last["amount"].clone()),
        (json!("CANCELLED"), dkk(750))
    );
    assert!(last.get("idempotencyKey").is_none());

    let full = ep.authorized(500).await;
    ep.capture(&full, 500).await.ok();
    problem(&ep.cancel(&full, json!({})).await, 400, Some("6040"));
}

#[tokio::test]
async fn cancel_takes_an_empty_body_and_refuses_while_the_customer_approves() {
    let ep = start_ep().await;
    let reference = ep.push(1000).await;
    ep.step(&reference, "open", None).await.ok();
    let key = new_key();
    let locked = ep
        .send(
            Method::POST,
            &format!("{PAYMENTS}/{reference}/cancel"),
            Some(&key),
            None,
        )
        .await;
    problem(&locked, 423, Some("6250"));
    assert_eq!(ep.state(&reference).await, "CREATED");
    ep.step(&reference, "approve", None).await.ok();
    // A 423 is not remembered for its key: the retry acts, and releases the authorization.
    let retry = ep
        .send(
            Method::POST,
            &format!("{PAYMENTS}/{reference}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(retry.ok()["aggregate"]["cancelledAmount"], dkk(1000));
}

#[tokio::test]
async fn force_approve_needs_a_known_customer_and_the_payments_token() {
    let ep = start_ep().await;
    let resp = ep.create(qr_body(&new_reference(), 100, None)).await;
    let reference = resp.json["reference"].as_str().unwrap().to_string();
    let url = resp.json["redirectUrl"].as_str().unwrap();
    let token = url.split('=').next_back().unwrap().to_string();
    let path = format!("/epayment/v1/test/payments/{reference}/approve");
    let approve = |body| ep.send(Method::POST, &path, None, Some(body));

    field_error(
        &approve(json!({"token": "not-this-one", "customer": {"phoneNumber": USER}})).await,
        "token",
    );
    field_error(&approve(json!({"token": token})).await, "customer.phoneNumber");
    problem(
        &approve(json!({"customer": {"phoneNumber": "4599999999"}})).await,
        400,
        Some("7010"),
    );
    let ok = approve(json!({"token": token, "customer": {"phoneNumber": USER}})).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ep.state(&reference).await, "AUTHORIZED");
    problem(
        &approve(json!({"customer": {"phoneNumber": USER}})).await,
        400,
        Some("6230"),
    );
    assert_eq!(ep.ground(&reference).await["customer"], json!(USER));

    // A push payment knows its customer.
    let push = ep.push(100).await;
    let ok = ep
        .send(
            Method::POST,
            &format!("/epayment/v1/test/payments/{push}/approve"),
            None,
            Some(json!({})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ep.state(&push).await, "AUTHORIZED");
}

#[tokio::test]
async fn unknown_references_are_404_problems() {
    let ep = start_ep().await;
    let reference = new_reference();
    problem(&ep.get(&reference).await, 404, Some("5090"));
    problem(&ep.capture(&reference, 100).await, 404, Some("5090"));
    let events = ep
        .send(Method::GET, &format!("{PAYMENTS}/{reference}/events"), None, None)
        .await;
    problem(&events, 404, Some("5090"));
}

#[tokio::test]
async fn cancelling_an_ended_payment_answers_it_unchanged() {
    let ep = start_ep().await;
    let aborted = ep.push(100).await;
    ep.step(&aborted, "abort", None).await.ok();
    let resp = ep.cancel(&aborted, json!({})).await;
    assert_eq!(resp.ok()["state"], json!("ABORTED"));
    assert_eq!(resp.json["aggregate"]["cancelledAmount"], dkk(0));
    assert_eq!(ep.event_names(&aborted).await, ["CREATED", "ABORTED"]);
    let force = ep
        .send(
            Method::POST,
            &format!("/epayment/v1/test/payments/{aborted}/approve"),
            None,
            Some(json!({})),
        )
        .await;
    problem(&force, 400, Some("6080"));

    let released = ep.authorized(100).await;
    ep.cancel(&released, json!({})).await.ok();
    let again = ep.cancel(&released, json!({})).await;
    assert_eq!(again.ok()["aggregate"]["cancelledAmount"], dkk(100));
    assert_eq!(
        ep.event_names(&released).await,
        ["CREATED", "AUTHORIZED", "CANCELLED"]
    );
}

#[tokio::test]
async fn metadata_is_echoed_and_limited() {
    let ep = start_ep().await;
    let mut body = push_body(&new_reference(), 100);
    body["metadata"] = json!({"till": "1", "receipt": "000042"});
    let reference = body["reference"].as_str().unwrap().to_string();
    assert_eq!(ep.create(body).await.status, 201);
    assert_eq!(
        ep.get(&reference).await.ok()["metadata"],
        json!({"till": "1", "receipt": "000042"})
    );
    assert_eq!(
        ep.ground(&reference).await["metadata"],
        json!({"till": "1", "receipt": "000042"})
    );
    let mut order = push_body(&new_reference(), 100);
    order["metadata"] = json!({"orderId": "R-7"});
    assert_eq!(ep.create(order.clone()).await.status, 201);
    for (filter, wanted) in [("R-7", vec![&order["reference"]]), ("R-8,R-9", vec![])] {
        let listed = ep
            .sim
            .get(&format!("/_sim/epayment/payments?orderId={filter}"))
            .await;
        let references: Vec<&Value> = listed.ok()["payments"]
            .as_array()
            .expect("payments")
            .iter()
            .map(|p| &p["reference"])
            .collect();
        assert_eq!(references, wanted, "{filter}");
    }
    let mut six = push_body(&new_reference(), 100);
    six["metadata"] = json!({"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"});
    field_error(&ep.create(six).await, "metadata");
    let mut long = push_body(&new_reference(), 100);
    long["metadata"] = json!({"note": "x".repeat(501)});
    field_error(&ep.create(long).await, "metadata");
}
