//! An agreement's life on the virtual clock (§3.5, §3.7): expiry, the sandbox user simulation
//! accepting, rejecting and cancelling, a one-off in the create body reserved only together
//! with the acceptance, and scripted customers registered before the agreement exists.

use super::common::MINUTE_MS;
use super::inv_support::APP;
use super::subs_support::{agreement_body, not_found, start_subs, subs_err, with_one_off, USER_API};
use mposd::sim::fixtures::{INVOICE_EXPIRED_CARD_USER, INVOICE_USER};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_pending_agreement_expires_after_its_timeout_and_its_one_off_is_cancelled() {
    let mut subs = start_subs().await;
    let created = subs.agreement(with_one_off("E-1")).await;
    let one_off = created.one_off.clone().unwrap();
    // The virtual clock is real time plus an offset: margins cover a slow machine.
    subs.advance(5 * MINUTE_MS - 30_000).await;
    assert_eq!(subs.status(&created.id).await, "Pending");
    assert_eq!(subs.one_off_status(&created.id, &one_off).await, "Requested");
    subs.advance(30_000).await;
    assert_eq!(subs.status(&created.id).await, "Expired");
    assert_eq!(subs.one_off_status(&created.id, &one_off).await, "Cancelled");
    assert_eq!(subs.history(&created.id).await, ["Pending", "Expired"]);
    assert_eq!(subs.one_off_history(&one_off).await, ["Requested", "Cancelled"]);
    let ground = subs.ground_of("agreements", "agreementId", &created.id).await;
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(ground["history"][i]["at"].as_str().unwrap()).unwrap()
    };
    assert_eq!(
        (at(1) - at(0)).num_milliseconds(),
        5 * MINUTE_MS as i64,
        "expired at its own time"
    );
    assert_eq!(subs.open(&created.href).await.0, 404);
    subs_err(
        &subs.user_answer(INVOICE_USER, &created.id, "Accepted").await,
        412,
        "PreconditionFailed",
        "Expired",
    );
    subs_err(
        &subs.cancel(&created.id).await,
        412,
        "PreconditionFailed",
        "Expired",
    );
}

#[tokio::test]
async fn the_user_simulation_accepts_with_the_one_off_reserved_or_rejects() {
    let subs = start_subs().await;
    let accepted = subs.agreement(with_one_off("U-1")).await;
    let resp = subs.user_answer(INVOICE_USER, &accepted.id, "Accepted").await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    let a = subs.get(&accepted.id).await;
    assert_eq!(a["status"], json!("Accepted"));
    assert!(a["date_accepted"].is_string(), "{a}");
    let one_off = accepted.one_off.unwrap();
    assert_eq!(subs.one_off_status(&accepted.id, &one_off).await, "Reserved");
    let ground = subs.ground_of("agreements", "agreementId", &accepted.id).await;
    assert_eq!(ground["acceptedBy"], json!("4557373259"));
    subs_err(
        &subs.user_answer(INVOICE_USER, &accepted.id, "Accepted").await,
        412,
        "PreconditionFailed",
        "Accepted",
    );
    let rejected = subs.agreement(with_one_off("U-2")).await;
    let resp = subs.user_answer(INVOICE_USER, &rejected.id, "Rejected").await;
    assert_eq!(resp.status, 204, "{}", resp.text);
    assert_eq!(subs.status(&rejected.id).await, "Rejected");
    assert_eq!(
        subs.one_off_status(&rejected.id, &rejected.one_off.unwrap())
            .await,
        "Cancelled"
    );
    // Bad answers, unknown users and agreements.
    let other = subs.agreement(agreement_body("U-3")).await;
    subs_err(
        &subs.user_answer(INVOICE_USER, &other.id, "Active").await,
        400,
        "BadRequest",
        "Accepted or Rejected",
    );
    assert_eq!(
        subs.user_answer("00000000-0000-4000-8000-000000000000", &other.id, "Accepted")
            .await
            .status,
        401
    );
    let no_app = subs
        .oidc
        .sim
        .raw(
            Method::PATCH,
            &format!("{USER_API}/agreements/v1/{}", other.id),
            &[("authenticateduser", INVOICE_USER)],
            Some(br#"{"status":"Accepted"}"#.to_vec()),
        )
        .await;
    assert_eq!(no_app.status, 401);
    assert_eq!(no_app.json["moreInformation"], json!("Client id not registered."));
    not_found(
        &subs
            .user_answer(INVOICE_USER, &uuid::Uuid::new_v4().to_string(), "Accepted")
            .await,
    );
    assert_eq!(subs.status(&other.id).await, "Pending");
}

#[tokio::test]
async fn an_expired_card_cannot_reserve_the_one_off_so_the_agreement_stays_pending() {
    let mut subs = start_subs().await;
    let created = subs.agreement(with_one_off("K-1")).await;
    let refused = subs
        .user_answer(INVOICE_EXPIRED_CARD_USER, &created.id, "Accepted")
        .await;
    subs_err(&refused, 412, "PreconditionFailed", "could not be reserved");
    assert_eq!(subs.status(&created.id).await, "Pending");
    // Another card (user) may still accept before the agreement expires.
    subs.advance(MINUTE_MS).await;
    assert_eq!(
        subs.user_answer(INVOICE_USER, &created.id, "Accepted")
            .await
            .status,
        204
    );
    let ground = subs.ground_of("agreements", "agreementId", &created.id).await;
    assert_eq!(ground["reservationFailures"], json!(1));
    // Without a one-off there is nothing to reserve: the same user accepts.
    let plain = subs.agreement(agreement_body("K-2")).await;
    assert_eq!(
        subs.user_answer(INVOICE_EXPIRED_CARD_USER, &plain.id, "Accepted")
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn the_user_cancels_an_accepted_agreement_after_its_retention_and_without_a_reservation() {
    let mut subs = start_subs().await;
    let mut body = with_one_off("R-1");
    body["retention_period_hours"] = json!(2);
    let created = subs.accepted(INVOICE_USER, body).await;
    let one_off = created.one_off.unwrap();
    let path = format!("/users/v1/me/agreements/{}", created.id);
    let canceled = json!({"status": "Canceled"});
    subs_err(
        &subs.user(INVOICE_USER, &path, canceled.clone()).await,
        412,
        "PreconditionFailed",
        "reserved one-off",
    );
    assert_eq!(subs.capture(&created.id, &one_off).await.status, 204);
    subs_err(
        &subs.user(INVOICE_USER, &path, canceled.clone()).await,
        412,
        "PreconditionFailed",
        "retention period",
    );
    not_found(
        &subs
            .user(INVOICE_EXPIRED_CARD_USER, &path, canceled.clone())
            .await,
    );
    subs.advance(2 * 60 * MINUTE_MS).await;
    let resp = subs.user(INVOICE_USER, &path, canceled).await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    assert_eq!(subs.status(&created.id).await, "Canceled");
    assert_eq!(subs.one_off_status(&created.id, &one_off).await, "Captured");
    assert_eq!(
        subs.history(&created.id).await,
        ["Pending", "Accepted", "Canceled"]
    );
}

#[tokio::test]
async fn the_merchant_cancels_an_accepted_agreement_and_its_reservation_with_it() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("M-1")).await;
    assert_eq!(subs.cancel(&created.id).await.status, 204);
    let one_off = created.one_off.unwrap();
    assert_eq!(
        subs.one_off_history(&one_off).await,
        ["Requested", "Reserved", "Cancelled"]
    );
    subs_err(
        &subs.capture(&created.id, &one_off).await,
        412,
        "PreconditionFailed",
        "not Reserved",
    );
}

#[tokio::test]
async fn the_next_customer_accepts_when_the_link_is_opened() {
    let mut subs = start_subs().await;
    subs.customer(json!({"action": "accept", "delayMs": 60_000}))
        .await;
    let created = subs.agreement(with_one_off("S-1")).await;
    subs.advance(MINUTE_MS).await;
    assert_eq!(
        subs.status(&created.id).await,
        "Pending",
        "nobody scanned the code yet"
    );
    assert_eq!(subs.open(&created.href).await.0, 200);
    subs.advance(30_000).await;
    assert_eq!(subs.status(&created.id).await, "Pending");
    subs.advance(30_000).await;
    assert_eq!(subs.status(&created.id).await, "Accepted");
    assert_eq!(
        subs.one_off_status(&created.id, &created.one_off.unwrap()).await,
        "Reserved"
    );
    let ground = subs.ground_of("agreements", "agreementId", &created.id).await;
    assert_eq!(ground["opened"], json!(1));
    // The customer was used up: the next agreement has none.
    let next = subs.agreement(agreement_body("S-2")).await;
    subs.open(&next.href).await;
    subs.advance(MINUTE_MS).await;
    assert_eq!(subs.status(&next.id).await, "Pending");
    let customers = subs.oidc.sim.get("/_sim/subscriptions/customers").await;
    assert_eq!(customers.ok()["customers"], json!([]));
}

#[tokio::test]
async fn customers_registered_for_a_phone_act_on_its_agreements_without_a_scan() {
    let mut subs = start_subs().await;
    for (phone, action) in [
        ("4511111111", "reject"),
        ("4522222222", "cardFails"),
        ("4533333333", "ignore"),
    ] {
        subs.customer(json!({"phone": phone, "action": action, "delayMs": 1000, "withoutLink": true}))
            .await;
    }
    let with_phone = |phone: &str| {
        let mut body = with_one_off(&format!("P-{phone}"));
        body["mobile_phone_number"] = json!(phone);
        body
    };
    let rejects = subs.agreement(with_phone("4511111111")).await;
    let card = subs.agreement(with_phone("4522222222")).await;
    let ignores = subs.agreement(with_phone("4533333333")).await;
    let again = subs.agreement(with_phone("4511111111")).await;
    subs.advance(1_000).await;
    assert_eq!(subs.status(&rejects.id).await, "Rejected");
    assert_eq!(
        subs.status(&again.id).await,
        "Rejected",
        "a phone's customer stays"
    );
    assert_eq!(subs.status(&card.id).await, "Pending");
    assert_eq!(subs.status(&ignores.id).await, "Pending");
    subs.advance(5 * MINUTE_MS).await;
    for id in [&card.id, &ignores.id] {
        assert_eq!(subs.history(id).await, ["Pending", "Expired"]);
    }
    assert_eq!(
        subs.one_off_history(&card.one_off.unwrap()).await,
        ["Requested", "Cancelled"]
    );
    let ground = subs.ground_of("agreements", "agreementId", &card.id).await;
    assert_eq!(ground["reservationFailures"], json!(1));
    assert_eq!(
        subs.ground().await["counters"]["reservationsPerAgreement"],
        json!({})
    );
    // Control errors, and clearing.
    let bad = subs
        .oidc
        .sim
        .post_json(
            "/_sim/subscriptions/customers",
            json!({"phone": "+4511111111", "action": "accept"}),
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let bad = subs
        .oidc
        .sim
        .post_json("/_sim/subscriptions/customers", json!({"action": "pay"}))
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    subs.oidc
        .sim
        .raw(Method::DELETE, "/_sim/subscriptions/customers", &APP, None)
        .await
        .ok();
    let customers = subs.oidc.sim.get("/_sim/subscriptions/customers").await;
    assert_eq!(customers.ok()["customers"], json!([]));
}
