//! Refunds (reference §13): creation rules and codes, the transition table §13.3, the refund
//! window, list and the `ErrorResponseV2` bodies with `origin`.

use crate::common::*;
use mposd::sim::fixtures::{DK_STORE, DK_STORE_PAID_OUT};
use mposd::sim::Fixtures;
use serde_json::{json, Value};

#[tokio::test]
async fn create_answers_refund_id_and_query_has_every_field() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let resp = api
        .create_refund_with(json!({
            "paymentId": payment,
            "refundOrderId": "REFUND-12345",
            "amount": 12.5,
            "currencyCode": "DKK",
        }))
        .await;
    let created = resp.ok();
    assert_eq!(created.as_object().map(|o| o.len()), Some(1), "{created}");
    let refund_id = str_field(created, "refundId");
    let r = api.get(&format!("/refunds/{refund_id}")).await;
    let r = r.ok();
    assert_eq!(r["refundId"], json!(refund_id));
    assert_eq!(r["paymentId"], json!(payment));
    assert_eq!(r["refundOrderId"], json!("REFUND-12345"));
    assert_eq!(r["amount"], json!(12.5));
    assert_eq!(r["currencyCode"], json!("DKK"));
    assert_eq!(r["status"], json!("Initiated"));
    assert_eq!(r["pollDelayInMs"], json!(REFUND_POLL_DELAY_MS));
    let truth = sim.ground_refunds().await;
    assert_eq!(truth.len(), 1);
    assert_eq!(truth[0]["amountMinor"], json!(1250));
}

// ---- the rows of §13.3 ----

#[tokio::test]
async fn row_initiated_becomes_reserved_after_the_reserve_delay() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = str_field(api.refund(&payment, 10.0).await.ok(), "refundId");
    sim.advance_ms(REFUND_RESERVE_DELAY.as_millis() as u64 / 2).await;
    assert_eq!(api.refund_status(&refund_id).await, "Initiated");
    sim.advance_ms(REFUND_RESERVE_DELAY.as_millis() as u64).await;
    assert_eq!(api.refund_status(&refund_id).await, "Reserved");
}

#[tokio::test]
async fn row_initiated_failed_by_mobilepay_is_cancelled_by_mobilepay_and_frees_the_amount() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = str_field(api.refund(&payment, 10.0).await.ok(), "refundId");
    let failed = sim
        .post_json(&format!("/_sim/refunds/{refund_id}/fail"), json!({}))
        .await;
    failed.ok();
    assert_eq!(api.refund_status(&refund_id).await, "CancelledByMobilePay");
    let truth = sim.ground_payment(&payment).await;
    assert_eq!(truth["refundedMinor"], json!(0), "{truth}");
    // A refund that is no longer Initiated cannot be failed, and cancelling it is refused.
    let again = sim
        .post_json(&format!("/_sim/refunds/{refund_id}/fail"), json!({}))
        .await;
    assert_eq!(again.status, 400, "{}", again.text);
    assert!(again.text.contains("not Initiated"), "{}", again.text);
    api.post_empty(&format!("/refunds/{refund_id}/cancel"))
        .await
        .refund_err(409, "1352");
}

#[tokio::test]
async fn row_initiated_cancel_is_cancelled_by_client() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = str_field(api.refund(&payment, 10.0).await.ok(), "refundId");
    api.post_empty(&format!("/refunds/{refund_id}/cancel"))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&refund_id).await, "CancelledByClient");
    // A cancelled refund is never reserved later.
    sim.advance_ms(2 * REFUND_RESERVE_DELAY.as_millis() as u64).await;
    assert_eq!(api.refund_status(&refund_id).await, "CancelledByClient");
}

#[tokio::test]
async fn row_reserved_capture_is_captured() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = reserved_refund(&sim, &api, &payment, 10.0).await;
    api.post_empty(&format!("/refunds/{refund_id}/capture"))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&refund_id).await, "Captured");
    assert_eq!(sim.ground_payment(&payment).await["refundedMinor"], json!(1000));
}

#[tokio::test]
async fn capture_tolerates_an_amount_body() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = reserved_refund(&sim, &api, &payment, 10.0).await;
    api.post(&format!("/refunds/{refund_id}/capture"), json!({"amount": 10.0}))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&refund_id).await, "Captured");
}

#[tokio::test]
async fn row_reserved_cancel_is_cancelled_by_client() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = reserved_refund(&sim, &api, &payment, 10.0).await;
    api.post_empty(&format!("/refunds/{refund_id}/cancel"))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&refund_id).await, "CancelledByClient");
}

#[tokio::test]
async fn row_reserved_for_24h_is_expired_and_captured() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund_id = reserved_refund(&sim, &api, &payment, 10.0).await;
    sim.advance_ms(23 * HOUR_MS).await;
    assert_eq!(api.refund_status(&refund_id).await, "Reserved");
    sim.advance_ms(HOUR_MS + MINUTE_MS).await;
    assert_eq!(api.refund_status(&refund_id).await, "ExpiredAndCaptured");
    assert_eq!(sim.ground_payment(&payment).await["refundedMinor"], json!(1000));
}

// ---- illegal refund calls ----

#[tokio::test]
async fn capture_when_not_reserved_is_1351_and_repeat_on_captured_is_200() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;

    let initiated = str_field(api.refund(&payment, 1.0).await.ok(), "refundId");
    api.post_empty(&format!("/refunds/{initiated}/capture"))
        .await
        .refund_err(409, "1351");
    api.post_empty(&format!("/refunds/{initiated}/cancel"))
        .await
        .ok_empty();
    api.post_empty(&format!("/refunds/{initiated}/capture"))
        .await
        .refund_err(409, "1351");

    let done = reserved_refund(&sim, &api, &payment, 1.0).await;
    api.post_empty(&format!("/refunds/{done}/capture"))
        .await
        .ok_empty();
    api.post_empty(&format!("/refunds/{done}/capture"))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&done).await, "Captured");

    let expired = reserved_refund(&sim, &api, &payment, 1.0).await;
    sim.advance_ms(DAY_MS + MINUTE_MS).await;
    assert_eq!(api.refund_status(&expired).await, "ExpiredAndCaptured");
    api.post_empty(&format!("/refunds/{expired}/capture"))
        .await
        .refund_err(409, "1351");
}

#[tokio::test]
async fn cancel_of_paid_out_refunds_is_1352_and_repeat_cancel_is_200() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;

    let done = reserved_refund(&sim, &api, &payment, 1.0).await;
    api.post_empty(&format!("/refunds/{done}/capture"))
        .await
        .ok_empty();
    api.post_empty(&format!("/refunds/{done}/cancel"))
        .await
        .refund_err(409, "1352");

    let expired = reserved_refund(&sim, &api, &payment, 1.0).await;
    sim.advance_ms(DAY_MS + MINUTE_MS).await;
    api.post_empty(&format!("/refunds/{expired}/cancel"))
        .await
        .refund_err(409, "1352");

    let cancelled = str_field(api.refund(&payment, 1.0).await.ok(), "refundId");
    api.post_empty(&format!("/refunds/{cancelled}/cancel"))
        .await
        .ok_empty();
    api.post_empty(&format!("/refunds/{cancelled}/cancel"))
        .await
        .ok_empty();
    assert_eq!(api.refund_status(&cancelled).await, "CancelledByClient");
}

#[tokio::test]
async fn refund_of_an_uncaptured_payment_is_1354() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ["Initiated", "Reserved", "CancelledByClient"] {
        let flow = payment_in(&sim, &api, state).await;
        let resp = api.refund(&flow.payment_id, 1.0).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (409, Some("1354")),
            "refund in {state}: {}",
            resp.text
        );
        resp.refund_err(409, "1354");
    }
    assert!(sim.ground_refunds().await.is_empty());
}

#[tokio::test]
async fn refund_in_another_currency_is_1365() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    api.create_refund_with(refund_body(&payment, 1.0, "EUR"))
        .await
        .refund_err(409, "1365");
}

#[tokio::test]
async fn refund_window_is_90_days_after_capture_1366() {
    let sim = start().await;
    let api = sim.api().await;
    let old = captured(&sim, &api).await;
    sim.advance_ms(89 * DAY_MS).await;
    let young = captured(&sim, &api).await;
    api.refund(&old, 1.0).await.ok();
    sim.advance_ms(DAY_MS + HOUR_MS).await;
    api.refund(&old, 1.0).await.refund_err(409, "1366");
    api.refund(&young, 1.0).await.ok();
}

#[tokio::test]
async fn refunds_may_not_exceed_the_captured_amount_1367() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    api.refund(&payment, 100.01).await.refund_err(409, "1367");
    let a = str_field(api.refund(&payment, 60.0).await.ok(), "refundId");
    api.refund(&payment, 40.01).await.refund_err(409, "1367");
    // Initiated, Reserved, Captured and ExpiredAndCaptured refunds all count.
    let b = reserved_refund(&sim, &api, &payment, 30.0).await;
    api.refund(&payment, 10.01).await.refund_err(409, "1367");
    // A cancelled refund frees its amount.
    api.post_empty(&format!("/refunds/{b}/cancel")).await.ok_empty();
    api.refund(&payment, 40.0).await.ok();
    api.refund(&payment, 0.01).await.refund_err(409, "1367");
    assert_eq!(api.refund_status(&a).await, "Reserved");
}

#[tokio::test]
async fn partial_capture_limits_refunds_to_the_captured_amount() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Reserved", PARTIAL_USER).await;
    api.capture(&flow.payment_id, 25.0).await.ok_empty();
    api.refund(&flow.payment_id, 25.01).await.refund_err(409, "1367");
    api.refund(&flow.payment_id, 25.0).await.ok();
}

#[tokio::test]
async fn refund_beyond_the_store_balance_is_1368() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos_on(DK_STORE_PAID_OUT).await;
    let payment = api.initiate(&pos, 50.0).await;
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.accept(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    api.capture(&payment, 50.0).await.ok_empty();
    api.refund(&payment, 10.0).await.refund_err(409, "1368");
    assert!(sim.ground_refunds().await.is_empty());
}

#[tokio::test]
async fn create_validation_and_unknown_payment() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        ("amount", json!(0), 400, "1102"),
        ("amount", json!(-1), 400, "1102"),
        ("amount", json!(0.001), 400, "1102"),
        ("refundOrderId", json!("r".repeat(37)), 400, "1114"),
        ("refundOrderId", json!(""), 400, "1114"),
        ("paymentId", json!(new_key()), 409, "1001"),
    ];
    for (field, value, status, code) in cases {
        let mut body = refund_body(&payment, 1.0, "DKK");
        body[field] = value.clone();
        let resp = api.create_refund_with(body).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (status, Some(code)),
            "{field} = {value}: {}",
            resp.text
        );
        resp.refund_err(status, code);
    }
    assert!(sim.ground_refunds().await.is_empty());
}

#[tokio::test]
async fn unknown_refunds_are_404_and_capture_says_1004() {
    let sim = start().await;
    let api = sim.api().await;
    let id = new_key();
    api.get(&format!("/refunds/{id}")).await.bare(404);
    api.post_empty(&format!("/refunds/{id}/cancel")).await.bare(404);
    api.post_empty(&format!("/refunds/{id}/capture"))
        .await
        .refund_err(404, "1004");
}

#[tokio::test]
async fn list_needs_payment_id_1110() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let other = captured(&sim, &api).await;
    let a = str_field(api.refund(&payment, 1.0).await.ok(), "refundId");
    let b = str_field(api.refund(&payment, 2.0).await.ok(), "refundId");
    api.refund(&other, 3.0).await.ok();
    let resp = api.get(&format!("/refunds?paymentId={payment}")).await;
    let mut ids = resp.ok()["refundIds"].as_array().expect("refundIds").clone();
    ids.sort_by_key(|v| v.to_string());
    let mut expected = vec![json!(a), json!(b)];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(ids, expected);
    api.get("/refunds").await.refund_err(400, "1110");
}

/// Store balance = opening balance + captures − counted refunds (docs/simulator.md "Refund
/// sums"); a cancelled refund gives its amount back.
#[tokio::test]
async fn store_balance_follows_captures_and_refunds() {
    let mut fixtures = Fixtures::default();
    for merchant in &mut fixtures.merchants {
        for store in &mut merchant.stores {
            if store.store_id == DK_STORE {
                store.opening_balance_minor = -10_000;
            }
        }
    }
    let sim = start_with_fixtures(fast_settings(), fixtures).await;
    let api = sim.api().await;
    let a = captured(&sim, &api).await;
    let b = captured(&sim, &api).await;
    // Balance: -100.00 + 2 × 100.00 = 100.00.
    let refund_a = str_field(api.refund(&a, 100.0).await.ok(), "refundId");
    api.refund(&b, 0.01).await.refund_err(409, "1368");
    api.post_empty(&format!("/refunds/{refund_a}/cancel"))
        .await
        .ok_empty();
    api.refund(&b, 60.0).await.ok();
    api.refund(&a, 40.0).await.ok();
    api.refund(&a, 0.01).await.refund_err(409, "1368");
}
