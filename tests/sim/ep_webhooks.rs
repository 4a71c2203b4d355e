//! The Webhooks API and the deliveries of payment events: registrations and their errors,
//! signed deliveries to a real listener, event filtering, order, retries and duplicates.

use super::ep_receiver::Receiver;
use super::ep_support::{gateway_denied, start_ep, Ep};
use base64::{engine::general_purpose::STANDARD, Engine};
use reqwest::Method;
use serde_json::{json, Value};

const HOOKS: &str = "/webhooks/v1/webhooks";

/// Registers `url` for `events`; returns the id and the secret.
async fn register(ep: &Ep, url: &str, events: &[&str]) -> (String, String) {
    let resp = ep
        .send(
            Method::POST,
            HOOKS,
            None,
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(resp.status, 201, "register: {}", resp.text);
    let body: Value = serde_json::from_str(&resp.text).expect("json");
    (
        body["id"].as_str().expect("id").to_string(),
        body["secret"].as_str().expect("secret").to_string(),
    )
}

fn event(name: &str) -> String {
    format!("epayments.payment.{name}.v1")
}

#[tokio::test]
async fn registrations_are_listed_without_secret_and_deleted() {
    let ep = start_ep().await;
    let (id, secret) = register(
        &ep,
        "https://shop.example/hooks?till=1",
        &[&event("created"), &event("captured")],
    )
    .await;
    assert_eq!(STANDARD.decode(&secret).expect("base64 secret").len(), 64);

    let listed = ep.send(Method::GET, HOOKS, None, None).await;
    assert_eq!(
        listed.ok(),
        &json!({"webhooks": [{
            "id": id,
            "url": "https://shop.example/hooks?till=1",
            "events": [event("created"), event("captured")]
        }]})
    );

    let path = format!("{HOOKS}/{id}");
    assert_eq!(ep.send(Method::DELETE, &path, None, None).await.status, 204);
    let again = ep.send(Method::DELETE, &path, None, None).await;
    assert_eq!(again.status, 404, "{}", again.text);
    assert_eq!(
        ep.send(Method::GET, HOOKS, None, None).await.ok(),
        &json!({"webhooks": []})
    );
}

#[tokio::test]
async fn invalid_registrations_are_refused_with_the_reason() {
    let ep = start_ep().await;
    let cases = [
        (json!({"url": "not a url", "events": [event("created")]}), "url"),
        (
            json!({"url": "ftp://shop.example/x", "events": [event("created")]}),
            "url",
        ),
        (json!({"url": "https://shop.example/x", "events": []}), "events"),
        (
            json!({"url": "https://shop.example/x", "events": ["epayments.payment.paid.v1"]}),
            "events",
        ),
        (
            json!({"url": "https://shop.example/x", "events": [event("created"), event("created")]}),
            "events",
        ),
        (json!({"url": "https://shop.example/x"}), "body"),
    ];
    for (body, field) in cases {
        let resp = ep.send(Method::POST, HOOKS, None, Some(body.clone())).await;
        assert_eq!(resp.status, 400, "{body}: {}", resp.text);
        assert!(resp.text.contains(field), "{body}: {}", resp.text);
    }
    for i in 0..25 {
        register(&ep, &format!("https://shop.example/{i}"), &[&event("authorized")]).await;
    }
    let over = ep
        .send(
            Method::POST,
            HOOKS,
            None,
            Some(json!({"url": "https://shop.example/26", "events": [event("authorized")]})),
        )
        .await;
    assert_eq!(over.status, 400, "{}", over.text);
    assert!(over.text.contains("25"), "{}", over.text);

    let unauthenticated = ep
        .send_with(
            Method::GET,
            HOOKS,
            ep.headers(None, &[], &["Authorization"]),
            None,
        )
        .await;
    gateway_denied(&unauthenticated);
}

#[tokio::test]
async fn payment_events_arrive_signed_in_order_and_filtered() {
    let ep = start_ep().await;
    let mut all = Receiver::start().await;
    let mut captures = Receiver::start().await;
    let every = ["created", "authorized", "captured", "refunded"].map(event);
    let every: Vec<&str> = every.iter().map(String::as_str).collect();
    let (_, all_secret) = register(&ep, &format!("{}/vipps/events?shop=1", all.base), &every).await;
    let (_, capture_secret) =
        register(&ep, &format!("{}/captures", captures.base), &[&event("captured")]).await;

    let reference = ep.authorized(1500).await;
    assert_eq!(ep.capture(&reference, 1000).await.status, 200);
    assert_eq!(ep.refund(&reference, 400).await.status, 200);
    let log = ep.events(&reference).await;

    for expected in &log {
        let delivery = all.next().await;
        delivery.assert_signed_with(&all_secret);
        assert_eq!(delivery.path, "/vipps/events?shop=1");
        let mut body = expected.clone();
        body["msn"] = json!(ep.msn);
        assert_eq!(delivery.body, body, "the event as the event log has it, plus msn");
    }

    // Only CAPTURED reaches the second registration, and it is signed with its own secret.
    let delivery = captures.next().await;
    delivery.assert_signed_with(&capture_secret);
    assert_eq!(delivery.name(), "CAPTURED");
    assert_eq!(delivery.body["amount"], json!({"currency": "DKK", "value": 1000}));
    assert_eq!(delivery.body["success"], json!(true));
}

#[tokio::test]
async fn a_refused_delivery_is_retried_and_holds_back_later_events() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let (_, secret) = register(
        &ep,
        &format!("{}/hook", receiver.base),
        &[&event("created"), &event("authorized")],
    )
    .await;
    receiver.fail_next(2);

    let reference = ep.authorized(2500).await;

    let mut seen = Vec::new();
    for _ in 0..4 {
        let delivery = receiver.next().await;
        delivery.assert_signed_with(&secret);
        assert_eq!(delivery.body["reference"], json!(reference));
        seen.push((delivery.name().to_string(), delivery.status));
    }
    assert_eq!(
        seen,
        [
            ("CREATED".to_string(), 500),
            ("CREATED".to_string(), 500),
            ("CREATED".to_string(), 200),
            ("AUTHORIZED".to_string(), 200),
        ]
    );
}

/// Twelve failures in a row would take over an hour of back-off in real time; advancing the
/// virtual clock brings every retry forward.
#[tokio::test]
async fn retries_follow_the_virtual_clock() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let (_, secret) = register(&ep, &format!("{}/hook", receiver.base), &[&event("created")]).await;
    receiver.fail_next(12);
    ep.push(600).await;

    let started = std::time::Instant::now();
    let mut attempts = 0;
    loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "retries stalled after {attempts}"
        );
        ep.sim.advance_ms(3_600_000).await;
        let Some(delivery) = receiver.next_within(std::time::Duration::from_millis(500)).await else {
            continue;
        };
        delivery.assert_signed_with(&secret);
        assert_eq!(delivery.name(), "CREATED");
        attempts += 1;
        if delivery.status == 200 {
            break;
        }
    }
    assert_eq!(attempts, 13, "twelve refusals, then the accepted delivery");
}

#[tokio::test]
async fn the_duplicate_switch_delivers_every_event_twice() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let (_, secret) = register(
        &ep,
        &format!("{}/hook", receiver.base),
        &[&event("created"), &event("aborted")],
    )
    .await;
    let on = ep
        .sim
        .post_json(
            "/_sim/epayment/webhooks/duplicates",
            json!({"everyDelivery": true}),
        )
        .await;
    assert_eq!(on.ok(), &json!({"everyDelivery": true}));

    let reference = ep.push(700).await;
    let first = receiver.next().await;
    let second = receiver.next().await;
    first.assert_signed_with(&secret);
    second.assert_signed_with(&secret);
    assert_eq!(first.name(), "CREATED");
    assert_eq!(first.raw, second.raw, "a duplicate is the same event");

    ep.sim
        .post_json(
            "/_sim/epayment/webhooks/duplicates",
            json!({"everyDelivery": false}),
        )
        .await
        .ok();
    ep.step(&reference, "abort", None).await.ok();
    assert_eq!(receiver.next().await.name(), "ABORTED");
    ep.push(800).await;
    assert_eq!(
        receiver.next().await.name(),
        "CREATED",
        "no second ABORTED once switched off"
    );

    let bad = ep
        .sim
        .post_json("/_sim/epayment/webhooks/duplicates", json!({"every": true}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
}

#[tokio::test]
async fn a_failed_registration_registers_nothing() {
    let ep = start_ep().await;
    ep.sim
        .fault("epRegisterWebhook", "serverError", 1, json!({}))
        .await;
    let body = json!({"url": "https://shop.example/hook", "events": [event("created")]});
    let failed = ep.send(Method::POST, HOOKS, None, Some(body)).await;
    super::ep_support::problem(&failed, 500, Some("3010"));
    assert_eq!(
        ep.send(Method::GET, HOOKS, None, None).await.ok(),
        &json!({"webhooks": []})
    );
    assert_eq!(ep.sim.request_count("epRegisterWebhook").await, 1);
}

#[tokio::test]
async fn a_reset_forgets_registrations() {
    let ep = start_ep().await;
    register(&ep, "https://shop.example/hook", &[&event("created")]).await;
    ep.sim.post_json("/_sim/reset", json!({})).await.ok();
    let token = super::ep_support::token_for(
        &ep.sim,
        mposd::sim::fixtures::EP_CLIENT_ID,
        mposd::sim::fixtures::EP_CLIENT_SECRET,
        &ep.subscription_key,
    )
    .await;
    let fresh = Ep { token, ..ep };
    assert_eq!(
        fresh.send(Method::GET, HOOKS, None, None).await.ok(),
        &json!({"webhooks": []})
    );
}

#[tokio::test]
async fn an_expiry_is_delivered_without_any_further_request() {
    let ep = start_ep().await;
    let mut receiver = Receiver::start().await;
    let (_, secret) = register(&ep, &format!("{}/hook", receiver.base), &[&event("expired")]).await;
    let reference = ep.push(900).await;

    ep.sim.advance_ms(11 * 60_000).await;
    let delivery = receiver.next().await;
    delivery.assert_signed_with(&secret);
    assert_eq!(delivery.name(), "EXPIRED");
    assert_eq!(delivery.body["reference"], json!(reference));
}
