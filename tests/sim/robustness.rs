//! Robustness (docs/simulator.md, issue item 10): malformed JSON, wrong types, unknown fields,
//! oversize bodies and unknown routes get the documented 400 1099 / 404 and never take the
//! simulator down; concurrent initiates on one PoS are atomic.

use crate::common::*;
use reqwest::Method;
use serde_json::json;

const IDEM: &str = "x-mobilepay-idempotency-key";

#[tokio::test]
async fn malformed_bodies_are_1099() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"just a string\"".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        format!("{{\"posId\":\"{}\",", pos.pos_id).into_bytes(),
    ];
    for body in bodies {
        let resp = api
            .send_raw(
                Method::POST,
                "/payments",
                &[(IDEM, &new_key())],
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (400, Some("1099")),
            "{:?}: {}",
            String::from_utf8_lossy(&body),
            resp.text
        );
        resp.err(400, "1099");
    }
    assert!(sim.ground_payments().await.is_empty());
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_1099() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let cases = [
        ("amount", json!("12.50")),
        ("amount", json!(true)),
        ("orderId", json!(12345)),
        ("restrictions", json!("none")),
        ("restrictions", json!({"debitCardDisallowed": "yes"})),
        ("restrictions", json!({"userMinimumAge": 18})),
        ("currencyCode", json!(208)),
        ("tip", json!(5)),
    ];
    for (field, value) in cases {
        let mut body = initiate_body(&pos.pos_id, 10.0);
        body[field] = value.clone();
        let resp = api.initiate_with(body).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (400, Some("1099")),
            "{field} = {value}: {}",
            resp.text
        );
    }
    let mut missing = initiate_body(&pos.pos_id, 10.0);
    if let Some(o) = missing.as_object_mut() {
        o.remove("plannedCaptureDelay");
    }
    assert_eq!(api.initiate_with(missing).await.status, 400);
    let mut pos_extra = pos_body(mposd::sim::fixtures::DK_STORE, "x", None);
    pos_extra["calibrationType"] = json!(3);
    let resp = api.create_pos_with(pos_extra).await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    let mut wrong_bool = pos_body(mposd::sim::fixtures::DK_STORE, "y", None);
    wrong_bool["requirePaymentBeforeCheckin"] = json!("false");
    api.create_pos_with(wrong_bool).await.err(400, "1099");
    assert!(sim.ground_payments().await.is_empty());
}

#[tokio::test]
async fn oversize_bodies_are_1099() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let mut body = initiate_body(&pos.pos_id, 10.0);
    body["merchantPaymentLabel"] = json!("x".repeat(65 * 1024));
    let resp = api
        .send_raw(
            Method::POST,
            "/payments",
            &[(IDEM, &new_key())],
            Some(body.to_string().into_bytes()),
        )
        .await;
    resp.err(400, "1099");
    // Large enough to be refused by size alone, small enough to sit in loopback socket
    // buffers so the early answer cannot race the upload.
    let huge = vec![b' '; 256 * 1024];
    let resp = api
        .send_raw(Method::POST, "/payments", &[(IDEM, &new_key())], Some(huge))
        .await;
    resp.err(400, "1099");
    // A body just under the limit is parsed (and refused for its content, not its size).
    let mut near = initiate_body(&pos.pos_id, 10.0);
    near["merchantPaymentLabel"] = json!("x".repeat(60 * 1024));
    let resp = api.initiate_with(near).await;
    resp.err(400, "1117");
    api.get("/stores").await.ok();
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let sim = start().await;
    let api = sim.api().await;
    for path in ["/pos/v10/nothing", "/pos/v9/stores", "/", "/_sim/nothing"] {
        let resp = sim.get(path).await;
        assert_eq!(resp.status, 404, "{path}: {}", resp.text);
    }
    assert_eq!(api.get("/payments/a/b/c").await.status, 404);
}

#[tokio::test]
async fn two_simultaneous_initiates_on_one_pos_one_wins() {
    let sim = start().await;
    let api = sim.api().await;
    for round in 0..10 {
        let pos = api.create_pos().await;
        let (a, b) = tokio::join!(
            api.initiate_with(initiate_body(&pos.pos_id, 1.0)),
            api.initiate_with(initiate_body(&pos.pos_id, 2.0)),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        loser.err(409, "1301");
    }
    assert_eq!(sim.ground_payments().await.len(), 10);
}

#[tokio::test]
async fn simultaneous_replays_create_one_payment() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    let body = initiate_body(&pos.pos_id, 1.0);
    let (a, b, c) = tokio::join!(
        api.post_idem("/payments", &key, body.clone()),
        api.post_idem("/payments", &key, body.clone()),
        api.post_idem("/payments", &key, body.clone()),
    );
    let ids = [a.ok(), b.ok(), c.ok()].map(|v| v["paymentId"].clone());
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_eq!(sim.ground_payments().await.len(), 1);
}

#[tokio::test]
async fn many_concurrent_clients_keep_the_simulator_consistent() {
    let sim = start().await;
    let api = sim.api().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let api = api.clone();
        let base = sim.base.clone();
        tasks.push(tokio::spawn(async move {
            let pos = api.create_pos().await;
            let id = api.initiate(&pos, 3.0).await;
            let http = http_client();
            for (action, body) in [
                (
                    "checkin",
                    json!({"beaconId": pos.beacon_id, "phoneNumber": CREDIT_USER}),
                ),
                (
                    "acceptpayment",
                    json!({"beaconId": pos.beacon_id, "phoneNumber": CREDIT_USER}),
                ),
            ] {
                let resp = http
                    .post(format!("{base}/pos/app/usersimulation/{action}"))
                    .header("x-ibm-client-id", mposd::sim::fixtures::DEMO_CLIENT_ID)
                    .header("x-ibm-client-secret", mposd::sim::fixtures::DEMO_CLIENT_SECRET)
                    .json(&body)
                    .send()
                    .await
                    .expect("user simulation");
                assert_eq!(resp.status().as_u16(), 200);
            }
            api.capture(&id, 3.0).await.ok_empty();
            id
        }));
    }
    for task in tasks {
        task.await.expect("client task");
    }
    let payments = sim.ground_payments().await;
    assert_eq!(payments.len(), 16);
    assert!(payments.iter().all(|p| p["status"] == json!("Captured")));
}

/// The content types the reference lists for request bodies (§4.1) are all accepted.
#[tokio::test]
async fn documented_json_content_types_are_accepted() {
    let sim = start().await;
    let api = sim.api().await;
    let auth = format!("Bearer {}", api.token);
    for content_type in [
        "application/json",
        "application/json; charset=utf-8",
        "text/json",
        "application/*+json",
        "application/json-patch+json",
    ] {
        let pos = api.create_pos().await;
        let key = new_key();
        let resp = sim
            .http
            .post(sim.url("/pos/v10/payments"))
            .header("authorization", &auth)
            .header("x-mobilepay-client-system-version", VERSION)
            .header("x-mobilepay-merchant-vat-number", mposd::sim::fixtures::DK_VAT)
            .header(IDEM, &key)
            .header("content-type", content_type)
            .body(initiate_body(&pos.pos_id, 1.0).to_string())
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{content_type}");
    }
}
