//! The control API under `/_sim/` (docs/simulator.md "Control API"): fixtures, ground truth,
//! request counts and log, reset and automatic customers.

use crate::common::*;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_STORE, DK_VAT, FI_VAT, OTHER_CLIENT_ID};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn fixtures_have_the_documented_shape() {
    let sim = start().await;
    let resp = sim.get("/_sim/fixtures").await;
    let f = resp.ok();
    let integrators = f["integrators"].as_array().expect("integrators");
    assert!(integrators.contains(&json!({
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    })));
    assert!(integrators
        .iter()
        .any(|i| i["client_id"] == json!(OTHER_CLIENT_ID)));
    let merchants = f["merchants"].as_array().expect("merchants");
    let dk = merchants
        .iter()
        .find(|m| m["vat"] == json!(DK_VAT))
        .expect("DK merchant");
    assert!(merchants.iter().any(|m| m["vat"] == json!(FI_VAT)));
    let store = dk["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .find(|s| s["storeId"] == json!(DK_STORE))
        .expect("DK store");
    assert_eq!(store["merchantBrandId"], json!("POSDK12345"));
    assert_eq!(store["merchantLocationId"], json!("00001"));
    let users = f["users"].as_array().expect("users");
    assert_eq!(users.len(), 10);
    for u in users {
        assert!(u["phoneNumber"].is_string() && u["feature"].is_string(), "{u}");
    }
    assert!(users.contains(&json!({"phoneNumber": PARTIAL_USER, "feature": "partialCapture"})));
}

#[tokio::test]
async fn ground_truth_of_a_full_flow() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    let mut body = initiate_body(&pos.pos_id, 12.5);
    body["orderId"] = json!("TRUTH-1");
    let id = str_field(api.post_idem("/payments", &key, body).await.ok(), "paymentId");
    sim.checkin(&pos.beacon_id, PARTIAL_USER).await.ok_empty();
    sim.accept(&pos.beacon_id, PARTIAL_USER).await.ok_empty();
    api.capture(&id, 10.0).await.ok_empty();
    let refund = reserved_refund(&sim, &api, &id, 2.5).await;
    api.post_empty(&format!("/refunds/{refund}/capture"))
        .await
        .ok_empty();

    let p = sim.ground_payment(&id).await;
    assert_eq!(p["posId"], json!(pos.pos_id));
    assert_eq!(p["orderId"], json!("TRUTH-1"));
    assert_eq!(p["merchantVat"], json!(DK_VAT));
    assert_eq!(p["clientId"], json!(DEMO_CLIENT_ID));
    assert_eq!(p["status"], json!("Captured"));
    assert_eq!(p["currencyCode"], json!("DKK"));
    assert_eq!(p["amountMinor"], json!(1250));
    assert_eq!(p["reservedMinor"], json!(1250));
    assert_eq!(p["capturedMinor"], json!(1000));
    assert_eq!(p["refundedMinor"], json!(250));
    assert_eq!(p["partialCapturePossible"], json!(true));
    assert_eq!(p["user"], json!(PARTIAL_USER));
    assert_eq!(p["idempotencyKey"], json!(key));
    let history: Vec<Value> = p["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            assert!(h["at"].is_string(), "{h}");
            h["status"].clone()
        })
        .collect();
    assert_eq!(
        history,
        vec![
            json!("Initiated"),
            json!("IssuedToUser"),
            json!("Reserved"),
            json!("Captured")
        ]
    );

    let refunds = sim.ground_refunds().await;
    assert_eq!(refunds.len(), 1);
    let r = &refunds[0];
    assert_eq!(r["refundId"], json!(refund));
    assert_eq!(r["paymentId"], json!(id));
    assert_eq!(r["status"], json!("Captured"));
    assert_eq!(r["amountMinor"], json!(250));
    assert_eq!(r["currencyCode"], json!("DKK"));
    assert!(r["refundOrderId"].is_string() && r["idempotencyKey"].is_string());
    let statuses: Vec<Value> = r["history"]
        .as_array()
        .expect("refund history")
        .iter()
        .map(|h| h["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        vec![json!("Initiated"), json!("Reserved"), json!("Captured")]
    );
}

#[tokio::test]
async fn ground_truth_of_payments_filtered_by_order_id() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    for order in ["F-1", "F-2", "F-3"] {
        let mut body = initiate_body(&pos.pos_id, 1.0);
        body["orderId"] = json!(order);
        let id = str_field(api.initiate_with(body).await.ok(), "paymentId");
        // One active payment per point of sale: end it before the next.
        api.cancel(&id).await.ok_empty();
    }
    let orders = |body: &Value| -> Vec<String> {
        let mut list: Vec<String> = body["payments"]
            .as_array()
            .expect("payments")
            .iter()
            .map(|p| p["orderId"].as_str().unwrap_or_default().to_string())
            .collect();
        list.sort();
        list
    };
    let some = sim.get("/_sim/payments?orderId=F-1,F-3,NOPE").await;
    assert_eq!(orders(some.ok()), vec!["F-1", "F-3"]);
    let none = sim.get("/_sim/payments?orderId=NOPE").await;
    assert!(orders(none.ok()).is_empty());
    assert_eq!(sim.ground_payments().await.len(), 3);
}

#[tokio::test]
async fn ground_truth_of_points_of_sale() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos_requiring_payment().await;
    let id = api.initiate(&pos, 1.0).await;
    sim.checkin(&pos.beacon_id, DEBIT_USER).await.ok_empty();
    let all = sim.ground_pos().await;
    assert_eq!(all.len(), 1);
    let p = &all[0];
    assert_eq!(p["posId"], json!(pos.pos_id));
    assert_eq!(p["beaconId"], json!(pos.beacon_id));
    assert_eq!(p["merchantVat"], json!(DK_VAT));
    assert_eq!(p["clientId"], json!(DEMO_CLIENT_ID));
    assert_eq!(p["storeId"], json!(DK_STORE));
    assert_eq!(p["name"], json!("Kasse 1"));
    assert_eq!(p["supportedBeaconTypes"], json!(["QR"]));
    assert_eq!(p["requirePaymentBeforeCheckin"], json!(true));
    assert_eq!(p["deleted"], json!(false));
    assert!(p["merchantPosId"].is_string());
    assert!(p["checkedInUser"].to_string().contains(DEBIT_USER), "{p}");
    api.cancel(&id).await.ok_empty();
    api.delete(&format!("/pointofsales/{}", pos.pos_id))
        .await
        .ok_empty();
    let after = sim.ground_pos().await;
    assert!(
        after.is_empty() || after[0]["deleted"] == json!(true),
        "{after:?}"
    );
}

fn restore_body(pos_id: &str, beacon: &str) -> Value {
    json!({
        "posId": pos_id,
        "clientId": DEMO_CLIENT_ID,
        "merchantVat": DK_VAT,
        "merchantPosId": "till-1",
        "storeId": DK_STORE,
        "name": "Kasse 1",
        "beaconId": beacon,
    })
}

#[tokio::test]
async fn a_point_of_sale_is_put_back_under_its_old_id_for_its_owner_only() {
    let sim = start().await;
    let pos_id = "3f8e0b5c-7d1a-4c2e-9b6f-0a1d2c3e4f5a";
    let restored = sim
        .post_json("/_sim/pointofsales", restore_body(pos_id, "101234567890123"))
        .await;
    assert_eq!(restored.ok()["posId"], json!(pos_id));
    let pos = Pos {
        pos_id: pos_id.into(),
        beacon_id: "101234567890123".into(),
    };
    // Its owner finds it by beacon and pays on it; another integrator may not use it.
    let api = sim.api().await;
    let found = api.get("/pointofsales?beaconId=101234567890123").await;
    assert_eq!(found.ok()["posIds"], json!([pos_id]));
    let payment_id = api.initiate(&pos, 1.0).await;
    assert_eq!(sim.ground_payment(&payment_id).await["posId"], json!(pos_id));
    sim.other_api()
        .await
        .initiate_with(initiate_body(pos_id, 1.0))
        .await
        .err(403, "1400");
    // The same id, merchantPosId or beacon again, a store of another merchant, an unknown
    // integrator or an id that is no GUID: refused with the reason, nothing added.
    let mut refused = vec![
        restore_body(pos_id, "109999999999999"),
        restore_body("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "101234567890123"),
        restore_body("not-a-guid", "109999999999998"),
    ];
    let mut other_store = restore_body("1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "109999999999997");
    other_store["merchantVat"] = json!(FI_VAT);
    let mut other_integrator = restore_body("2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "109999999999996");
    other_integrator["clientId"] = json!("00000000-0000-4000-8000-000000000000");
    refused.extend([other_store, other_integrator]);
    for body in refused {
        let answer = sim.post_json("/_sim/pointofsales", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(
            answer.json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{}",
            answer.text
        );
    }
    assert_eq!(sim.ground_pos().await.len(), 1);
}

#[tokio::test]
async fn a_point_of_sale_deleted_behind_its_owners_back_refuses_payments_but_keeps_reservations() {
    let sim = start().await;
    let api = sim.api().await;
    let Correlation {
        pos,
        payment_id: reserved,
    } = payment_in(&sim, &api, "Reserved").await;
    let url = format!("/_sim/pointofsales/{}", pos.pos_id);
    let deleted = http_client().delete(sim.url(&url)).send().await.expect("delete");
    assert_eq!(deleted.status(), 200);
    assert_eq!(sim.ground_pos().await[0]["deleted"], json!(true));
    // Its owner no longer finds it, new payments are refused with 1000, and the reservation
    // can still be captured.
    let found = api
        .get(&format!("/pointofsales?beaconId={}", pos.beacon_id))
        .await;
    assert_eq!(found.ok()["posIds"], json!([]));
    api.initiate_with(initiate_body(&pos.pos_id, 1.0))
        .await
        .err(409, "1000");
    api.capture(&reserved, 100.0).await.ok_empty();
    // A second delete, or an unknown point of sale: 404.
    let again = http_client().delete(sim.url(&url)).send().await.expect("delete");
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn requests_are_counted_and_logged_per_endpoint() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    let id = str_field(
        api.post_idem("/payments", &key, initiate_body(&pos.pos_id, 1.0))
            .await
            .ok(),
        "paymentId",
    );
    for _ in 0..3 {
        api.payment(&id).await;
    }
    api.get("/payments").await.err(400, "1109");
    let resp = sim.get("/_sim/requests").await;
    let r = resp.ok();
    let counts = &r["counts"];
    assert_eq!(counts["token"], json!(1), "{counts}");
    assert_eq!(counts["createPos"], json!(1), "{counts}");
    assert_eq!(counts["initiatePayment"], json!(1), "{counts}");
    assert_eq!(counts["getPayment"], json!(3), "{counts}");
    assert_eq!(counts["findPayments"], json!(1), "{counts}");
    assert!(counts.get("capturePayment").is_none_or(|c| c == &json!(0)));

    let log = r["log"].as_array().expect("log");
    let initiate = log
        .iter()
        .find(|e| e["endpoint"] == json!("initiatePayment"))
        .expect("initiate logged");
    assert_eq!(initiate["method"], json!("POST"));
    assert_eq!(initiate["path"], json!("/pos/v10/payments"));
    assert_eq!(initiate["status"], json!(200));
    assert_eq!(initiate["idempotencyKey"], json!(key));
    assert!(initiate["at"].is_string(), "{initiate}");
    let failed = log
        .iter()
        .find(|e| e["endpoint"] == json!("findPayments"))
        .expect("find logged");
    assert_eq!(failed["status"], json!(400));
    // The control API itself is not counted as PoS traffic.
    assert!(sim.request_count("getPayment").await >= 3);
    let text = resp.text.clone();
    assert!(!text.contains(DEMO_CLIENT_SECRET), "no secrets in the log");
    assert!(!text.contains(&api.token), "no tokens in the log");
}

#[tokio::test]
async fn correlation_id_of_the_request_is_logged() {
    let sim = start().await;
    let api = sim.api().await;
    let correlation = new_key();
    api.send_raw(Method::GET, "/stores", &[("CorrelationId", &correlation)], None)
        .await
        .ok();
    let log = sim.get("/_sim/requests").await.ok()["log"].clone();
    assert!(
        log.as_array()
            .expect("log")
            .iter()
            .any(|e| e["correlationId"] == json!(correlation)),
        "{log}"
    );
}

#[tokio::test]
async fn reset_drops_everything_but_the_fixtures() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    sim.fault("listStores", "serverError", 5, json!({})).await;
    behaviour(&sim, "*", CREDIT_USER, "accept", 10).await;
    sim.post_json("/_sim/reset", json!({})).await.ok();
    assert!(sim.ground_payments().await.is_empty());
    assert!(sim.ground_pos().await.is_empty());
    assert!(sim.ground_refunds().await.is_empty());
    let fresh = sim.api().await;
    // The fault is gone.
    fresh.get("/stores").await.ok();
    fresh
        .get(&format!("/payments/{}", flow.payment_id))
        .await
        .bare(404);
    assert!(sim.get("/_sim/fixtures").await.ok()["integrators"].is_array());
    // The automatic customer is gone.
    let pos = fresh.create_pos().await;
    let id = fresh.initiate(&pos, 1.0).await;
    // Absence of an event: give a (wrongly) remaining customer ample time to act.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fresh.status(&id).await, "Initiated");
}

#[tokio::test]
async fn reset_drops_tokens() {
    let sim = start().await;
    let api = sim.api().await;
    api.get("/stores").await.ok();
    sim.post_json("/_sim/reset", json!({})).await.ok();
    api.get("/stores").await.bare(401);
    sim.api().await.get("/stores").await.ok();
}

async fn behaviour(sim: &Sim, beacon: &str, phone: &str, action: &str, delay_ms: u64) {
    sim.post_json(
        "/_sim/behaviour",
        json!({"beaconId": beacon, "phoneNumber": phone, "action": action, "delayMs": delay_ms}),
    )
    .await
    .ok();
}

#[tokio::test]
async fn automatic_customer_accepts_on_every_pos() {
    let sim = start().await;
    let api = sim.api().await;
    behaviour(&sim, "*", CREDIT_USER, "accept", 20).await;
    let a = api.create_pos().await;
    let b = api.create_pos().await;
    let pa = api.initiate(&a, 10.0).await;
    let pb = api.initiate(&b, 11.0).await;
    let reserved = api.wait_status(&pa, "Reserved").await;
    assert_eq!(reserved["partialCapturePossible"], json!(false));
    api.wait_status(&pb, "Reserved").await;
    api.capture(&pa, 10.0).await.ok_empty();
    assert_eq!(sim.ground_payment(&pa).await["user"], json!(CREDIT_USER));
}

#[tokio::test]
async fn automatic_customer_on_one_beacon_only() {
    let sim = start().await;
    let api = sim.api().await;
    let served = api.create_pos().await;
    let ignored = api.create_pos().await;
    behaviour(&sim, &served.beacon_id, PARTIAL_USER, "accept", 10).await;
    let other = api.initiate(&ignored, 5.0).await;
    let mine = api.initiate(&served, 5.0).await;
    let p = api.wait_status(&mine, "Reserved").await;
    assert_eq!(p["partialCapturePossible"], json!(true));
    assert_eq!(api.status(&other).await, "Initiated");
}

#[tokio::test]
async fn automatic_customer_cancels() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    behaviour(&sim, &pos.beacon_id, CREDIT_USER, "cancel", 10).await;
    let id = api.initiate(&pos, 5.0).await;
    api.wait_status(&id, "CancelledByUser").await;
}

#[tokio::test]
async fn automatic_customer_only_checks_in_for_prepared_payments() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    behaviour(&sim, &pos.beacon_id, LOYALTY_USER, "checkin", 10).await;
    let id = api.prepare(&pos).await;
    api.wait_status(&id, "Paired").await;
    let p = api.payment(&id).await;
    assert_eq!(p["loyaltyIds"].as_array().map(Vec::len), Some(1), "{p}");
    api.ready(&id, 20.0).await.ok_empty();
    assert_eq!(api.status(&id).await, "IssuedToUser");
    sim.accept(&pos.beacon_id, LOYALTY_USER).await.ok_empty();
    assert_eq!(api.status(&id).await, "Reserved");
}

#[tokio::test]
async fn nobody_comes_and_the_payment_times_out() {
    let sim = start().await;
    let api = sim.api().await;
    behaviour(&sim, "*", CREDIT_USER, "never", 0).await;
    let pos = api.create_pos().await;
    let id = api.initiate(&pos, 5.0).await;
    // Give an automatic customer, were there one, ample real time to act.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.status(&id).await, "Initiated");
    sim.advance_ms(6 * MINUTE_MS).await;
    assert_eq!(api.status(&id).await, "CancelledByMobilePay");
}

#[tokio::test]
async fn deleting_behaviour_removes_automatic_customers() {
    let sim = start().await;
    let api = sim.api().await;
    behaviour(&sim, "*", CREDIT_USER, "accept", 10).await;
    let pos = api.create_pos().await;
    let first = api.initiate(&pos, 1.0).await;
    api.wait_status(&first, "Reserved").await;
    let resp = sim.raw(Method::DELETE, "/_sim/behaviour", &[], None).await;
    assert_eq!(resp.status, 200, "{}", resp.text);
    let second = api.initiate(&pos, 2.0).await;
    // Absence of an event: give a (wrongly) remaining customer ample time to act.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.status(&second).await, "Initiated");
}

#[tokio::test]
async fn the_request_log_keeps_the_last_10000_requests() {
    use futures::StreamExt;
    let sim = start().await;
    let api = sim.api().await;
    let calls = 10_050;
    let statuses: Vec<u16> = futures::stream::iter(0..calls)
        .map(|_| {
            let api = api.clone();
            async move { api.get("/stores").await.status }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 200));
    let r = sim.get("/_sim/requests").await.ok().clone();
    assert_eq!(r["counts"]["listStores"], json!(calls), "counts are not capped");
    assert_eq!(r["log"].as_array().map(Vec::len), Some(10_000));
}
