//! ePayment idempotency keys and rate limits.

use super::ep_support::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer_even_a_4xx() {
    let ep = start_ep().await;
    let key = new_key();
    let bad = push_body("short", 100);
    let first = ep.create_keyed(&key, bad.clone()).await;
    field_error(&first, "reference");
    let again = ep.create_keyed(&key, bad).await;
    assert_eq!(
        (again.status, &again.text),
        (first.status, &first.text),
        "same problem, same traceId"
    );

    let key = new_key();
    let reference = new_reference();
    let created = ep.create_keyed(&key, push_body(&reference, 100)).await;
    assert_eq!(created.status, 201);
    let replayed = ep.create_keyed(&key, push_body(&reference, 100)).await;
    assert_eq!((replayed.status, &replayed.text), (201, &created.text));
    assert_eq!(ep.event_names(&reference).await, ["CREATED"]);

    ep.step(&reference, "approve", None).await.ok();
    let capture_key = new_key();
    let captured = ep
        .modify_keyed(&reference, "capture", &capture_key, amount_body(40))
        .await;
    let retried = ep
        .modify_keyed(&reference, "capture", &capture_key, amount_body(40))
        .await;
    assert_eq!(retried.text, captured.text);
    assert_eq!(
        ep.get(&reference).await.ok()["aggregate"]["capturedAmount"]["value"],
        json!(40)
    );
    // The same key on another operation is another request.
    let refund = ep
        .modify_keyed(&reference, "refund", &capture_key, amount_body(40))
        .await;
    assert_eq!(refund.ok()["aggregate"]["refundedAmount"]["value"], json!(40));
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let ep = start_ep().await;
    let key = new_key();
    assert_eq!(
        ep.create_keyed(&key, push_body(&new_reference(), 100))
            .await
            .status,
        201
    );
    problem(
        &ep.create_keyed(&key, push_body(&new_reference(), 100)).await,
        409,
        Some("4020"),
    );

    let reference = ep.authorized(1000).await;
    let capture_key = new_key();
    ep.modify_keyed(&reference, "capture", &capture_key, amount_body(100))
        .await
        .ok();
    let other = ep
        .modify_keyed(&reference, "capture", &capture_key, amount_body(200))
        .await;
    problem(&other, 409, Some("4010"));
    assert_eq!(
        ep.get(&reference).await.ok()["aggregate"]["capturedAmount"]["value"],
        json!(100)
    );
}

#[tokio::test]
async fn modifications_are_limited_to_five_a_minute_per_reference() {
    let ep = start_ep().await;
    let reference = ep.authorized(1000).await;
    for _ in 0..5 {
        ep.capture(&reference, 1).await.ok();
    }
    let headers: Vec<_> = ep.headers(Some("rate-6"), &[], &[]);
    let mut req = ep
        .sim
        .http
        .post(ep.sim.url(&format!("{PAYMENTS}/{reference}/capture")));
    for (name, value) in &headers {
        req = req.header(*name, value);
    }
    let resp = req
        .header("content-type", "application/json")
        .body(amount_body(1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let retry_after: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    // Another reference is counted on its own.
    let other = ep.authorized(1000).await;
    ep.capture(&other, 1).await.ok();
    ep.sim.advance_ms(60_000).await;
    ep.capture(&reference, 1).await.ok();
    assert_eq!(
        ep.get(&reference).await.ok()["aggregate"]["capturedAmount"]["value"],
        json!(6)
    );
}

#[tokio::test]
async fn reads_are_limited_to_120_a_minute_per_reference() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    for _ in 0..120 {
        ep.get(&reference).await.ok();
    }
    problem(&ep.get(&reference).await, 429, None);
    // The event log has its own count.
    ep.send(Method::GET, &format!("{PAYMENTS}/{reference}/events"), None, None)
        .await
        .ok();
    ep.sim.advance_ms(60_000).await;
    ep.get(&reference).await.ok();
}

#[tokio::test]
async fn answers_about_credentials_or_locks_are_not_remembered_for_the_key() {
    let ep = start_ep().await;
    let key = new_key();
    let reference = new_reference();
    let body = push_body(&reference, 100);
    let headers = ep.headers(
        Some(&key),
        &[("Authorization", "Bearer expired")],
        &["Authorization"],
    );
    gateway_denied(
        &ep.send_with(Method::POST, PAYMENTS, headers, Some(body.clone()))
            .await,
    );
    let headers = ep.headers(
        Some(&key),
        &[("Merchant-Serial-Number", "654321")],
        &["Merchant-Serial-Number"],
    );
    problem(
        &ep.send_with(Method::POST, PAYMENTS, headers, Some(body.clone()))
            .await,
        403,
        None,
    );
    assert_eq!(ep.create_keyed(&key, body).await.status, 201);
}

#[tokio::test]
async fn a_rate_limited_fault_answers_429_with_the_retry_after_it_was_given() {
    let ep = start_ep().await;
    let reference = ep.push(100).await;
    let date = "Wed, 21 Oct 2026 07:28:00 GMT";
    ep.sim
        .fault("epGetPayment", "rateLimited", 1, json!({ "retryAfter": date }))
        .await;
    let mut req = ep.sim.http.get(ep.sim.url(&format!("{PAYMENTS}/{reference}")));
    for (name, value) in ep.headers(None, &[], &[]) {
        req = req.header(name, value);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], date);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    // One answer only; without `retryAfter` it is a 429 problem all the same.
    ep.get(&reference).await.ok();
    ep.sim.fault("epGetPayment", "rateLimited", 1, json!({})).await;
    problem(&ep.get(&reference).await, 429, None);

    for (mode, retry_after) in [("serverError", "5"), ("rateLimited", "5\n")] {
        let refused = ep
            .sim
            .post_json(
                "/_sim/faults",
                json!({ "endpoint": "epGetPayment", "mode": mode, "retryAfter": retry_after }),
            )
            .await;
        assert_eq!(refused.status, 400, "{mode}: {}", refused.text);
    }
}
