//! User simulation (reference §16.2, docs/simulator.md "Loyalty and tokens", "Accepting"):
//! the test users' effects and the sandbox endpoints' own errors.

use crate::common::*;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, OTHER_CLIENT_SECRET};
use reqwest::Method;
use serde_json::{json, Value};

/// A payment issued to `user` (checked in first), with the given restrictions.
async fn issued(sim: &Sim, api: &Api, user: &str, restrictions: Value) -> (Pos, String) {
    let pos = api.create_pos().await;
    sim.checkin(&pos.beacon_id, user).await.ok_empty();
    let mut body = initiate_body(&pos.pos_id, 80.0);
    body["restrictions"] = restrictions;
    let id = str_field(api.initiate_with(body).await.ok(), "paymentId");
    (pos, id)
}

#[tokio::test]
async fn loyalty_and_receipt_token_are_absent_on_first_poll_then_present() {
    let sim = start().await;
    let api = sim.api().await;
    let (_, id) = issued(&sim, &api, LOYALTY_USER, Value::Null).await;
    let first = api.payment(&id).await;
    assert_eq!(first["status"], json!("IssuedToUser"));
    assert!(first.get("loyaltyIds").is_none(), "first poll: {first}");
    assert!(first.get("customerReceiptToken").is_none(), "first poll: {first}");
    let second = api.payment(&id).await;
    let loyalty = second["loyaltyIds"].as_array().expect("loyaltyIds now present");
    assert_eq!(loyalty.len(), 1, "{second}");
    assert!(loyalty[0].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(second["customerReceiptToken"], json!(""), "{second}");
    let token = second["customerToken"].as_str().expect("customerToken");
    assert_eq!(token.len(), 40);
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric()));
}

#[tokio::test]
async fn receipt_token_user_gets_a_32_character_token_and_no_loyalty() {
    let sim = start().await;
    let api = sim.api().await;
    let (_, id) = issued(&sim, &api, RECEIPT_USER, Value::Null).await;
    api.payment(&id).await;
    let p = api.payment(&id).await;
    assert_eq!(p["customerReceiptToken"].as_str().map(str::len), Some(32), "{p}");
    assert_eq!(p["loyaltyIds"], json!([]));
}

#[tokio::test]
async fn paired_prepared_payment_shows_loyalty_before_ready() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Paired", LOYALTY_USER).await;
    // payment_in_as polled once already; the lookup is done now.
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("Paired"));
    assert_eq!(p["loyaltyIds"].as_array().map(Vec::len), Some(1), "{p}");
    api.ready(&flow.payment_id, 70.0).await.ok_empty();
    sim.accept(&flow.pos.beacon_id, LOYALTY_USER).await.ok_empty();
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
}

#[tokio::test]
async fn first_poll_after_initiated_is_paired_by_checkin_omits_lookups() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let id = api.initiate(&pos, 10.0).await;
    api.payment(&id).await;
    sim.checkin(&pos.beacon_id, LOYALTY_USER).await.ok_empty();
    let first = api.payment(&id).await;
    assert_eq!(first["status"], json!("IssuedToUser"));
    assert!(first.get("loyaltyIds").is_none(), "{first}");
    let second = api.payment(&id).await;
    assert!(second["loyaltyIds"].is_array(), "{second}");
}

#[tokio::test]
async fn partial_capture_flag_per_user() {
    let sim = start().await;
    let api = sim.api().await;
    for (user, possible) in [
        (CREDIT_USER, false),
        (DEBIT_USER, false),
        (RECEIPT_USER, false),
        (LOYALTY_USER, false),
        (PARTIAL_USER, true),
    ] {
        let (pos, id) = issued(&sim, &api, user, Value::Null).await;
        sim.accept(&pos.beacon_id, user).await.ok_empty();
        let p = api.payment(&id).await;
        assert_eq!(p["status"], json!("Reserved"), "{user}");
        assert_eq!(p["partialCapturePossible"], json!(possible), "{user}");
    }
}

#[tokio::test]
async fn card_restrictions_refuse_the_users_card() {
    let sim = start().await;
    let api = sim.api().await;
    let cases = [
        (
            DEBIT_USER,
            json!({"debitCardDisallowed": true}),
            "CancelledByMobilePay",
        ),
        (
            CREDIT_USER,
            json!({"creditCardDisallowed": true}),
            "CancelledByMobilePay",
        ),
        (
            LOYALTY_USER,
            json!({"creditCardDisallowed": true}),
            "CancelledByMobilePay",
        ),
        (DEBIT_USER, json!({"creditCardDisallowed": true}), "Reserved"),
        (CREDIT_USER, json!({"debitCardDisallowed": true}), "Reserved"),
        (
            PARTIAL_USER,
            json!({"debitCardDisallowed": true, "creditCardDisallowed": true}),
            "Reserved",
        ),
        (
            CREDIT_USER,
            json!({"debitCardDisallowed": false, "creditCardDisallowed": false}),
            "Reserved",
        ),
    ];
    for (user, restrictions, expected) in cases {
        let (pos, id) = issued(&sim, &api, user, restrictions.clone()).await;
        let resp = sim.accept(&pos.beacon_id, user).await;
        assert!(
            resp.status == 200 || expected == "CancelledByMobilePay",
            "{user} {restrictions}: {}",
            resp.text
        );
        assert_eq!(api.status(&id).await, expected, "{user} with {restrictions}");
    }
}

#[tokio::test]
async fn user_simulation_needs_developer_portal_credentials() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let body = json!({"beaconId": pos.beacon_id, "phoneNumber": CREDIT_USER})
        .to_string()
        .into_bytes();
    let path = "/pos/app/usersimulation/checkin";
    let none = sim.raw(Method::POST, path, &[], Some(body.clone())).await;
    assert_eq!(none.status, 401, "{}", none.text);
    let wrong = sim
        .raw(
            Method::POST,
            path,
            &[
                ("x-ibm-client-id", DEMO_CLIENT_ID),
                ("x-ibm-client-secret", OTHER_CLIENT_SECRET),
            ],
            Some(body),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let checkin = api.get(&format!("/pointofsales/{}/checkin", pos.pos_id)).await;
    assert_eq!(checkin.ok()["isUserCheckedIn"], json!(false));
}

#[tokio::test]
async fn impossible_user_actions_are_409_with_a_reason() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    sim.checkin(&new_key(), CREDIT_USER).await.err(409, "1099");
    sim.checkin(&pos.beacon_id, "+4599999999").await.err(409, "1099");
    sim.accept(&pos.beacon_id, CREDIT_USER).await.err(409, "1099");
    sim.user_cancel(&pos.beacon_id).await.err(409, "1099");
    // Initiated but not issued to anybody: nothing to accept yet.
    let id = api.initiate(&pos, 5.0).await;
    sim.accept(&pos.beacon_id, CREDIT_USER).await.err(409, "1099");
    assert_eq!(api.status(&id).await, "Initiated");
    // A deleted PoS's beacon is unknown.
    api.cancel(&id).await.ok_empty();
    api.delete(&format!("/pointofsales/{}", pos.pos_id))
        .await
        .ok_empty();
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.err(409, "1099");
}

#[tokio::test]
async fn payment_user_is_recorded_in_ground_truth() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Reserved", RECEIPT_USER).await;
    assert_eq!(
        sim.ground_payment(&flow.payment_id).await["user"],
        json!(RECEIPT_USER)
    );
}

#[tokio::test]
async fn restrictions_given_on_ready_apply_to_the_paired_user() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in_as(&sim, &api, "Paired", DEBIT_USER).await;
    let mut body = ready_body(15.0);
    body["restrictions"] = json!({"debitCardDisallowed": true});
    api.post(&format!("/payments/{}/ready", flow.payment_id), body)
        .await
        .ok_empty();
    sim.accept(&flow.pos.beacon_id, DEBIT_USER).await;
    assert_eq!(api.status(&flow.payment_id).await, "CancelledByMobilePay");
}

#[tokio::test]
async fn nothing_to_accept_or_cancel_before_a_user_is_paired_and_ready() {
    let sim = start().await;
    let api = sim.api().await;
    // Paired but not ready: the amount is unknown, the user cannot accept yet.
    let paired = payment_in(&sim, &api, "Paired").await;
    sim.accept(&paired.pos.beacon_id, CREDIT_USER)
        .await
        .err(409, "1099");
    assert_eq!(api.status(&paired.payment_id).await, "Paired");
    // Initiated: no user has the payment, so no user can decline it.
    let initiated = payment_in(&sim, &api, "Initiated").await;
    sim.user_cancel(&initiated.pos.beacon_id).await.err(409, "1099");
    assert_eq!(api.status(&initiated.payment_id).await, "Initiated");
}
