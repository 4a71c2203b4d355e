//! Payments (reference §12): fields of the query answer, every row of the transition table
//! §12.4 and every illegal call with its code, capture rules, find.
//!
//! Timer-driven rows (inactivity, reservation expiry) are in `timers`; card restrictions and
//! the test users' effects are in `users`.

use crate::common::*;
use mposd::sim::fixtures::{DK_STORE_INACTIVE, FI_STORE, FI_VAT};
use serde_json::{json, Value};

/// Every state the table knows, each reachable through the public API.
const ALL_STATES: [&str; 10] = [
    "Prepared",
    "Paired",
    "Initiated",
    "IssuedToUser",
    "Reserved",
    "Captured",
    "CancelledByClient",
    "CancelledByUser",
    "CancelledByMobilePay",
    "ExpiredAndCancelled",
];

#[tokio::test]
async fn initiate_answers_payment_id_and_query_has_the_documented_fields() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let body = json!({
        "posId": pos.pos_id,
        "orderId": "ORDER-12345",
        "amount": 12.5,
        "currencyCode": "DKK",
        "restrictions": {"debitCardDisallowed": false, "creditCardDisallowed": true},
        "merchantPaymentLabel": "PaymentLabel",
        "plannedCaptureDelay": "LessThan24Hours",
    });
    let resp = api.initiate_with(body).await;
    let created = resp.ok();
    assert_eq!(created.as_object().map(|o| o.len()), Some(1), "{created}");
    let id = str_field(created, "paymentId");

    let p = api.payment(&id).await;
    assert_eq!(p["paymentId"], json!(id));
    assert_eq!(p["posId"], json!(pos.pos_id));
    assert_eq!(p["orderId"], json!("ORDER-12345"));
    assert_eq!(p["amount"], json!(12.5));
    assert_eq!(p["currencyCode"], json!("DKK"));
    assert_eq!(p["restrictions"]["creditCardDisallowed"], json!(true));
    assert_eq!(p["restrictions"]["debitCardDisallowed"], json!(false));
    assert_eq!(p["merchantPaymentLabel"], json!("PaymentLabel"));
    assert_eq!(p["plannedCaptureDelay"], json!("LessThan24Hours"));
    assert_eq!(p["status"], json!("Initiated"));
    assert_eq!(p["pollDelayInMs"], json!(POLL_DELAY_MS));
    assert!(p["paymentExpiresAt"].is_string(), "{p}");
    assert!(p.get("partialCapturePossible").is_none(), "{p}");
    assert!(p.get("loyaltyIds").is_none(), "no user, no loyalty lookup: {p}");
}

#[tokio::test]
async fn amounts_keep_two_decimals_exactly() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let id = api.initiate(&pos, 1234.56).await;
    assert_eq!(api.payment(&id).await["amount"], json!(1234.56));
    assert_eq!(sim.ground_payment(&id).await["amountMinor"], json!(123456));
}

#[tokio::test]
async fn field_validation_codes() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("orderId", json!("o".repeat(37)), "1113"),
        ("orderId", json!("order\n1"), "1113"),
        ("amount", json!(0), "1102"),
        ("amount", json!(-5), "1102"),
        ("amount", json!(1.234), "1102"),
        ("merchantPaymentLabel", json!("l".repeat(37)), "1117"),
        ("currencyCode", json!("SEK"), "1099"),
        ("plannedCaptureDelay", json!("Tomorrow"), "1099"),
        ("posId", json!("not-a-guid"), "1099"),
    ];
    for (field, value, code) in cases {
        let mut body = initiate_body(&pos.pos_id, 10.0);
        body[field] = value.clone();
        let resp = api.initiate_with(body).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (400, Some(code)),
            "{field} = {value}: {}",
            resp.text
        );
        resp.err(400, code);
    }
    let prepare_bad = api
        .post_idem(
            "/payments/prepare",
            &new_key(),
            json!({"posId": pos.pos_id, "orderId": "o".repeat(37)}),
        )
        .await;
    prepare_bad.err(400, "1113");
    assert!(sim.ground_payments().await.is_empty());
}

#[tokio::test]
async fn unknown_pos_is_1000_and_inactive_store_is_1204() {
    let sim = start().await;
    let api = sim.api().await;
    api.initiate_with(initiate_body(&new_key(), 10.0))
        .await
        .err(409, "1000");
    api.post_idem(
        "/payments/prepare",
        &new_key(),
        json!({"posId": new_key(), "orderId": "o"}),
    )
    .await
    .err(409, "1000");
    let inactive = api.create_pos_on(DK_STORE_INACTIVE).await;
    api.initiate_with(initiate_body(&inactive.pos_id, 10.0))
        .await
        .err(409, "1204");
    api.post_idem(
        "/payments/prepare",
        &new_key(),
        json!({"posId": inactive.pos_id, "orderId": "o"}),
    )
    .await
    .err(409, "1204");
}

// ---- the rows of §12.4 ----

#[tokio::test]
async fn row_initiate_without_checkin_is_initiated() {
    let sim = start().await;
    let api = sim.api().await;
    payment_in(&sim, &api, "Initiated").await;
}

#[tokio::test]
async fn row_initiate_after_checkin_is_issued_to_user() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    let id = api.initiate(&pos, 10.0).await;
    assert_eq!(api.status(&id).await, "IssuedToUser");
    let history: Vec<Value> = sim.ground_payment(&id).await["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["status"].clone())
        .collect();
    assert_eq!(history.last(), Some(&json!("IssuedToUser")));
}

#[tokio::test]
async fn row_prepare_without_checkin_is_prepared_without_amount() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Prepared").await;
    let p = api.payment(&flow.payment_id).await;
    assert!(p.get("amount").is_none_or(Value::is_null), "{p}");
    assert!(p.get("partialCapturePossible").is_none(), "{p}");
    assert!(p["orderId"].is_string());
}

#[tokio::test]
async fn row_prepare_after_checkin_is_paired() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    let id = api.prepare(&pos).await;
    assert_eq!(api.status(&id).await, "Paired");
}

#[tokio::test]
async fn row_prepared_checkin_is_paired() {
    let sim = start().await;
    let api = sim.api().await;
    payment_in(&sim, &api, "Paired").await;
}

#[tokio::test]
async fn row_prepared_ready_is_initiated_then_checkin_issues_it() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Prepared").await;
    api.ready(&flow.payment_id, 42.5).await.ok_empty();
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("Initiated"));
    assert_eq!(p["amount"], json!(42.5));
    assert_eq!(p["currencyCode"], json!("DKK"));
    assert_eq!(p["plannedCaptureDelay"], json!("None"));
    sim.checkin(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    assert_eq!(api.status(&flow.payment_id).await, "IssuedToUser");
}

#[tokio::test]
async fn row_paired_ready_is_issued_to_user() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Paired").await;
    let mut body = ready_body(30.0);
    body["merchantPaymentLabel"] = json!("After discount");
    body["restrictions"] = json!({"debitCardDisallowed": true});
    api.post(&format!("/payments/{}/ready", flow.payment_id), body)
        .await
        .ok_empty();
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("IssuedToUser"));
    assert_eq!(p["amount"], json!(30.0));
    assert_eq!(p["merchantPaymentLabel"], json!("After discount"));
    assert_eq!(p["restrictions"]["debitCardDisallowed"], json!(true));
}

#[tokio::test]
async fn row_initiated_checkin_is_issued_to_user() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Initiated").await;
    sim.checkin(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    assert_eq!(api.status(&flow.payment_id).await, "IssuedToUser");
}

#[tokio::test]
async fn row_issued_accept_is_reserved_with_partial_capture_flag() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "IssuedToUser").await;
    sim.accept(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("Reserved"));
    assert_eq!(p["partialCapturePossible"], json!(false));
    let truth = sim.ground_payment(&flow.payment_id).await;
    assert_eq!(truth["reservedMinor"], json!(10000));
    assert_eq!(truth["capturedMinor"], json!(0));
}

#[tokio::test]
async fn row_reserved_capture_is_captured() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    api.capture(&flow.payment_id, 100.0).await.ok_empty();
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("Captured"));
    assert!(
        p.get("partialCapturePossible").is_none(),
        "only while Reserved: {p}"
    );
    assert_eq!(
        sim.ground_payment(&flow.payment_id).await["capturedMinor"],
        json!(10000)
    );
}

#[tokio::test]
async fn rows_client_cancel_from_every_cancellable_state() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ["Prepared", "Paired", "Initiated", "IssuedToUser", "Reserved"] {
        let flow = payment_in(&sim, &api, state).await;
        api.cancel(&flow.payment_id).await.ok_empty();
        assert_eq!(
            api.status(&flow.payment_id).await,
            "CancelledByClient",
            "cancel from {state}"
        );
        // The PoS is free again.
        api.initiate(&flow.pos, 5.0).await;
    }
}

#[tokio::test]
async fn rows_user_cancel_from_paired_and_issued() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ["Paired", "IssuedToUser"] {
        let flow = payment_in(&sim, &api, state).await;
        sim.user_cancel(&flow.pos.beacon_id).await.ok_empty();
        assert_eq!(
            api.status(&flow.payment_id).await,
            "CancelledByUser",
            "user cancel from {state}"
        );
    }
}

#[tokio::test]
async fn user_cannot_cancel_outside_paired_and_issued() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    let resp = sim.user_cancel(&flow.pos.beacon_id).await;
    assert_eq!(resp.status, 409, "{}", resp.text);
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
}

// ---- illegal calls ----

#[tokio::test]
async fn ready_outside_prepared_or_paired_is_1303() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ALL_STATES {
        if state == "Prepared" || state == "Paired" {
            continue;
        }
        let flow = payment_in(&sim, &api, state).await;
        let resp = api.ready(&flow.payment_id, 10.0).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (409, Some("1303")),
            "ready in {state}: {}",
            resp.text
        );
        assert_eq!(api.status(&flow.payment_id).await, state, "unchanged");
    }
}

#[tokio::test]
async fn second_ready_is_1303() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Prepared").await;
    api.ready(&flow.payment_id, 10.0).await.ok_empty();
    api.ready(&flow.payment_id, 10.0).await.err(409, "1303");
}

#[tokio::test]
async fn ready_validates_its_fields() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Prepared").await;
    let path = format!("/payments/{}/ready", flow.payment_id);
    api.post(&path, ready_body(0.0)).await.err(400, "1102");
    let mut label = ready_body(10.0);
    label["merchantPaymentLabel"] = json!("l".repeat(37));
    api.post(&path, label).await.err(400, "1117");
    assert_eq!(api.status(&flow.payment_id).await, "Prepared");
}

#[tokio::test]
async fn capture_outside_reserved_is_1304() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ALL_STATES {
        if state == "Reserved" || state == "Captured" {
            continue;
        }
        let flow = payment_in(&sim, &api, state).await;
        let resp = api.capture(&flow.payment_id, 100.0).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (409, Some("1304")),
            "capture in {state}: {}",
            resp.text
        );
        resp.err(409, "1304");
    }
}

#[tokio::test]
async fn capture_above_reserved_is_1305() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Reserved", PARTIAL_USER).await;
    api.capture(&flow.payment_id, 100.01).await.err(409, "1305");
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
}

#[tokio::test]
async fn partial_capture_without_permission_is_1308() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    assert_eq!(
        api.payment(&flow.payment_id).await["partialCapturePossible"],
        json!(false)
    );
    api.capture(&flow.payment_id, 50.0).await.err(409, "1308");
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
}

#[tokio::test]
async fn partial_capture_when_possible_captures_the_smaller_amount() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Reserved", PARTIAL_USER).await;
    assert_eq!(
        api.payment(&flow.payment_id).await["partialCapturePossible"],
        json!(true)
    );
    api.capture(&flow.payment_id, 60.25).await.ok_empty();
    assert_eq!(api.status(&flow.payment_id).await, "Captured");
    assert_eq!(
        sim.ground_payment(&flow.payment_id).await["capturedMinor"],
        json!(6025)
    );
    // One capture per payment: the rest was released.
    api.capture(&flow.payment_id, 39.75).await.err(409, "1307");
}

#[tokio::test]
async fn capture_again_same_amount_is_200_other_amount_is_1307() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Captured").await;
    api.capture(&flow.payment_id, 100.0).await.ok_empty();
    api.capture(&flow.payment_id, 99.0).await.err(409, "1307");
    assert_eq!(
        sim.ground_payment(&flow.payment_id).await["capturedMinor"],
        json!(10000)
    );
}

#[tokio::test]
async fn capture_validates_the_amount() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    let path = format!("/payments/{}/capture", flow.payment_id);
    api.post(&path, json!({"amount": 0})).await.err(400, "1102");
    api.post(&path, json!({"amount": -1})).await.err(400, "1102");
    let missing = api.post(&path, json!({})).await;
    assert_eq!(missing.status, 400, "{}", missing.text);
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
}

#[tokio::test]
async fn cancel_of_ended_payments_is_1300() {
    let sim = start().await;
    let api = sim.api().await;
    for state in [
        "Captured",
        "ExpiredAndCancelled",
        "CancelledByUser",
        "CancelledByMobilePay",
    ] {
        let flow = payment_in(&sim, &api, state).await;
        let resp = api.cancel(&flow.payment_id).await;
        assert_eq!(
            (resp.status, resp.json["code"].as_str()),
            (409, Some("1300")),
            "cancel in {state}: {}",
            resp.text
        );
        resp.err(409, "1300");
        assert_eq!(api.status(&flow.payment_id).await, state);
    }
}

#[tokio::test]
async fn cancel_again_after_client_cancel_is_200() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "CancelledByClient").await;
    api.cancel(&flow.payment_id).await.ok_empty();
    assert_eq!(api.status(&flow.payment_id).await, "CancelledByClient");
}

#[tokio::test]
async fn active_payment_blocks_initiate_and_prepare_with_1301() {
    let sim = start().await;
    let api = sim.api().await;
    for state in ["Prepared", "Paired", "Initiated", "IssuedToUser"] {
        let flow = payment_in(&sim, &api, state).await;
        api.initiate_with(initiate_body(&flow.pos.pos_id, 1.0))
            .await
            .err(409, "1301");
        api.post_idem(
            "/payments/prepare",
            &new_key(),
            json!({"posId": flow.pos.pos_id, "orderId": "o"}),
        )
        .await
        .err(409, "1301");
    }
}

#[tokio::test]
async fn reserved_payments_do_not_block_the_pos() {
    let sim = start().await;
    let api = sim.api().await;
    let first = payment_in(&sim, &api, "Reserved").await;
    let second = api.initiate(&first.pos, 7.0).await;
    sim.checkin(&first.pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.accept(&first.pos.beacon_id, CREDIT_USER).await.ok_empty();
    assert_eq!(api.status(&second).await, "Reserved");
    assert_eq!(api.status(&first.payment_id).await, "Reserved");
    api.prepare(&first.pos).await;
}

#[tokio::test]
async fn unknown_payment_is_404_everywhere() {
    let sim = start().await;
    let api = sim.api().await;
    let id = new_key();
    api.get(&format!("/payments/{id}")).await.bare(404);
    api.ready(&id, 1.0).await.bare(404);
    api.capture(&id, 1.0).await.bare(404);
    api.cancel(&id).await.bare(404);
    api.get("/payments/not-a-guid").await.err(400, "1099");
}

// ---- find (§12.5) ----

fn payment_ids(v: &Value) -> Vec<Value> {
    let mut ids = v["paymentIds"]
        .as_array()
        .unwrap_or_else(|| panic!("paymentIds array in {v}"))
        .clone();
    ids.sort_by_key(|v| v.to_string());
    ids
}

#[tokio::test]
async fn find_by_pos_lists_active_and_reserved_only() {
    let sim = start().await;
    let api = sim.api().await;
    let reserved = payment_in(&sim, &api, "Reserved").await;
    let active = api.initiate(&reserved.pos, 3.0).await;
    let resp = api.get(&format!("/payments?posId={}", reserved.pos.pos_id)).await;
    let mut expected = vec![json!(reserved.payment_id), json!(active)];
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(payment_ids(resp.ok()), expected);
    api.cancel(&active).await.ok_empty();
    api.capture(&reserved.payment_id, 100.0).await.ok_empty();
    let after = api.get(&format!("/payments?posId={}", reserved.pos.pos_id)).await;
    assert_eq!(payment_ids(after.ok()), Vec::<Value>::new());
    let captured = api
        .get(&format!("/payments?posId={}&state=Captured", reserved.pos.pos_id))
        .await;
    assert_eq!(payment_ids(captured.ok()), vec![json!(reserved.payment_id)]);
}

#[tokio::test]
async fn find_by_order_id_gives_the_latest_payment() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let mut body = initiate_body(&pos.pos_id, 5.0);
    body["orderId"] = json!("REUSED-1");
    let first = str_field(api.initiate_with(body.clone()).await.ok(), "paymentId");
    api.cancel(&first).await.ok_empty();
    let second = str_field(api.initiate_with(body).await.ok(), "paymentId");
    let resp = api
        .get(&format!("/payments?orderId=REUSED-1&posId={}", pos.pos_id))
        .await;
    assert_eq!(payment_ids(resp.ok()), vec![json!(second)]);
    let by_order = api.get("/payments?orderId=REUSED-1").await;
    assert_eq!(payment_ids(by_order.ok()), vec![json!(second)]);
    // The documented lookup of a lost paymentId before a refund (§13.1).
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.accept(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    api.capture(&second, 5.0).await.ok_empty();
    let captured = api.get("/payments?orderId=REUSED-1&state=Captured").await;
    assert_eq!(payment_ids(captured.ok()), vec![json!(second)]);
    let open = api.get("/payments?orderId=REUSED-1").await;
    assert_eq!(payment_ids(open.ok()), Vec::<Value>::new());
}

#[tokio::test]
async fn find_needs_pos_or_order_and_state_only_captured() {
    let sim = start().await;
    let api = sim.api().await;
    api.get("/payments").await.err(400, "1109");
    api.get("/payments?state=Captured").await.err(400, "1109");
    let resp = api
        .get(&format!("/payments?posId={}&state=Reserved", new_key()))
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text);
}

#[tokio::test]
async fn eur_payments_on_the_fi_merchant() {
    let sim = start().await;
    let api = sim.api().await.with_vat(Some(FI_VAT));
    let pos = api.create_pos_on(FI_STORE).await;
    let mut body = initiate_body(&pos.pos_id, 9.95);
    body["currencyCode"] = json!("EUR");
    let id = str_field(api.initiate_with(body).await.ok(), "paymentId");
    sim.checkin(&pos.beacon_id, FI_CREDIT_USER).await.ok_empty();
    sim.accept(&pos.beacon_id, FI_CREDIT_USER).await.ok_empty();
    let p = api.payment(&id).await;
    assert_eq!(
        (p["status"].clone(), p["currencyCode"].clone()),
        (json!("Reserved"), json!("EUR"))
    );
    api.capture(&id, 9.95).await.ok_empty();
}
