//! ePayment: the simulated customer, scripted step by step or automatic on the virtual clock.

use super::common::{DAY_MS, MINUTE_MS};
use super::ep_support::*;
use reqwest::Method;
use serde_json::json;

async fn behaviour(ep: &Ep, body: serde_json::Value) {
    ep.sim.post_json("/_sim/epayment/behaviour", body).await.ok();
}

#[tokio::test]
async fn an_automatic_customer_approves_a_push_after_its_delay() {
    let ep = start_ep().await;
    behaviour(
        &ep,
        json!({"phoneNumber": USER, "action": "approve", "delayMs": 30_000}),
    )
    .await;
    let reference = ep.push(1000).await;
    assert_eq!(ep.state(&reference).await, "CREATED");
    ep.sim.advance_ms(30_000).await;
    let payment = ep.get(&reference).await.ok().clone();
    assert_eq!(payment["state"], json!("AUTHORIZED"));
    assert_eq!(payment["aggregate"]["authorizedAmount"]["value"], json!(1000));
    assert_eq!(ep.ground(&reference).await["customer"], json!(USER));
}

#[tokio::test]
async fn automatic_customers_abort_or_ignore() {
    let ep = start_ep().await;
    behaviour(
        &ep,
        json!({"phoneNumber": USER, "action": "abort", "delayMs": 1_000}),
    )
    .await;
    let aborted = ep.push(100).await;
    ep.sim.advance_ms(1_000).await;
    assert_eq!(ep.state(&aborted).await, "ABORTED");
    assert_eq!(ep.event_names(&aborted).await, ["CREATED", "ABORTED"]);

    behaviour(&ep, json!({"phoneNumber": USER, "action": "ignore"})).await;
    let ignored = ep.push(100).await;
    ep.sim.advance_ms(9 * MINUTE_MS).await;
    assert_eq!(ep.state(&ignored).await, "CREATED");
    ep.sim.advance_ms(MINUTE_MS).await;
    assert_eq!(ep.state(&ignored).await, "EXPIRED");

    // A customer who answers later than the payment lives never answers it.
    ep.sim
        .raw(Method::DELETE, "/_sim/epayment/behaviour", &[], None)
        .await
        .ok();
    behaviour(
        &ep,
        json!({"phoneNumber": USER, "action": "approve", "delayMs": DAY_MS}),
    )
    .await;
    let late = ep.push(100).await;
    ep.sim.advance_ms(DAY_MS).await;
    assert_eq!(ep.state(&late).await, "EXPIRED");
}

#[tokio::test]
async fn a_qr_scanning_customer_pays_qr_payments_but_not_pushes_to_others() {
    let ep = start_ep().await;
    behaviour(
        &ep,
        json!({"phoneNumber": OTHER_USER, "action": "approve", "delayMs": 5_000, "scansQr": true}),
    )
    .await;
    let qr = ep.create(qr_body(&new_reference(), 100, None)).await;
    let qr_reference = qr.json["reference"].as_str().unwrap().to_string();
    let push = ep.push(100).await;
    ep.sim.advance_ms(5_000).await;
    assert_eq!(ep.state(&qr_reference).await, "AUTHORIZED");
    assert_eq!(ep.ground(&qr_reference).await["customer"], json!(OTHER_USER));
    assert_eq!(ep.state(&push).await, "CREATED", "the push went to another user");
}

#[tokio::test]
async fn scanning_the_decoded_qr_opens_the_payment_for_that_customer() {
    let ep = start_ep().await;
    let qr = ep
        .create(qr_body(
            &new_reference(),
            100,
            Some(json!({"format": "TEXT/TARGETURL"})),
        ))
        .await;
    let reference = qr.json["reference"].as_str().unwrap().to_string();
    let content = qr.json["redirectUrl"].as_str().unwrap();
    let scanned = ep
        .sim
        .post_json(
            "/_sim/epayment/scan",
            json!({"qrContent": content, "phoneNumber": USER}),
        )
        .await;
    assert_eq!(scanned.ok()["payment"]["reference"], json!(reference));
    let ground = ep.ground(&reference).await;
    assert_eq!(
        (ground["approving"].clone(), ground["customer"].clone()),
        (json!(true), json!(USER))
    );
    // GET shows nothing of the scan: the payment is CREATED until the customer answers.
    assert_eq!(ep.state(&reference).await, "CREATED");
    ep.step(&reference, "abort", None).await.ok();
    assert_eq!(ep.state(&reference).await, "ABORTED");
    let unknown = ep
        .sim
        .post_json(
            "/_sim/epayment/scan",
            json!({"qrContent": "https://elsewhere.example", "phoneNumber": USER}),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn behaviours_are_only_for_test_users() {
    let ep = start_ep().await;
    let resp = ep
        .sim
        .post_json(
            "/_sim/epayment/behaviour",
            json!({"phoneNumber": "4500000000", "action": "approve"}),
        )
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text);
}

#[tokio::test]
async fn injected_faults_answer_in_the_apis_own_format() {
    let ep = start_ep().await;
    ep.sim.fault("epCreatePayment", "serverError", 1, json!({})).await;
    let reference = new_reference();
    let failed = ep.create(push_body(&reference, 100)).await;
    problem(&failed, 500, Some("3010"));
    assert_eq!(ep.create(push_body(&reference, 100)).await.status, 201);
    assert_eq!(ep.sim.request_count("epCreatePayment").await, 2);
}

#[tokio::test]
async fn a_locked_fault_answers_423_and_changes_nothing() {
    let ep = start_ep().await;
    let reference = ep.authorized(100).await;
    ep.sim.fault("epCapture", "locked", 1, json!({})).await;
    problem(&ep.capture(&reference, 100).await, 423, Some("6250"));
    assert_eq!(ep.ground(&reference).await["capturedMinor"], json!(0));
    assert_eq!(ep.capture(&reference, 100).await.status, 200);
    assert_eq!(ep.ground(&reference).await["capturedMinor"], json!(100));
}

#[tokio::test]
async fn reset_forgets_epayment_payments_and_customers() {
    let ep = start_ep().await;
    behaviour(&ep, json!({"phoneNumber": USER, "action": "approve"})).await;
    let reference = ep.push(100).await;
    ep.sim.post_json("/_sim/reset", json!({})).await.ok();
    let listed = ep.sim.get("/_sim/epayment/payments").await;
    assert_eq!(listed.ok()["payments"], json!([]));
    let behaviours = ep.sim.get("/_sim/epayment/behaviour").await;
    assert_eq!(behaviours.ok()["behaviours"], json!([]));
    // Tokens are forgotten too.
    gateway_denied(&ep.get(&reference).await);
}
