//! One-off payments (§3.7) and refunds (§3.9): capture once, cancel while not captured, the
//! reservation's expiry, one-offs on an accepted agreement confirmed by the user, by a
//! scripted customer or reserved automatically, and refunds full, partial, too large and too
//! late, in the refund endpoints' own error schema.

use super::common::{DAY_MS, MINUTE_MS};
use super::subs_support::{agreement_body, not_found, refund_err, start_subs, subs_err, with_one_off};
use mposd::sim::fixtures::{INVOICE_EXPIRED_CARD_USER, INVOICE_USER};
use reqwest::Method;
use serde_json::json;

fn one_off_body(external_id: &str) -> serde_json::Value {
    json!({
        "amount": "25.00",
        "external_id": external_id,
        "description": "Cake of the month",
        "links": [{"rel": "user-redirect", "href": "https://bageriet.example/paid"}],
    })
}

#[tokio::test]
async fn a_reserved_one_off_is_captured_once_and_cannot_then_be_cancelled() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("CAP-1")).await;
    let id = created.one_off.unwrap();
    let o = subs.one_off(&created.id, &id).await;
    assert_eq!(
        (o["status"].clone(), o["amount"].clone(), o["currency"].clone()),
        (json!("Reserved"), json!(100), json!("DKK"))
    );
    assert_eq!(o["external_id"], json!("CAP-1-first"));
    let resp = subs.capture(&created.id, &id).await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Captured");
    subs_err(
        &subs.capture(&created.id, &id).await,
        412,
        "PreconditionFailed",
        "already captured",
    );
    let delete = subs
        .call(Method::DELETE, &subs.one_off_path(&created.id, &id, ""), None)
        .await;
    subs_err(&delete, 412, "PreconditionFailed", "Captured");
    let ground = subs.ground_of("oneOffs", "paymentId", &id).await;
    assert_eq!(
        (
            ground["capturedAmountMinor"].clone(),
            ground["withAgreement"].clone()
        ),
        (json!(10_000), json!(true))
    );
    let counters = subs.ground().await["counters"].clone();
    assert_eq!(
        counters["reservationsPerAgreement"],
        json!({ created.id.clone(): 1 })
    );
    assert_eq!(counters["capturesPerAgreement"], json!({ created.id.clone(): 1 }));
    // A one-off that is not reserved cannot be captured.
    let pending = subs.agreement(with_one_off("CAP-2")).await;
    let requested = pending.one_off.unwrap();
    subs_err(
        &subs.capture(&pending.id, &requested).await,
        412,
        "PreconditionFailed",
        "Requested, not Reserved",
    );
    not_found(&subs.capture(&pending.id, &uuid::Uuid::new_v4().to_string()).await);
}

#[tokio::test]
async fn an_uncaptured_reservation_expires_after_six_days_twenty_three_hours_forty_five_minutes() {
    let mut subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("EXP-1")).await;
    let id = created.one_off.unwrap();
    let lifetime = 7 * DAY_MS - 15 * MINUTE_MS;
    // The virtual clock is real time plus an offset: margins cover a slow machine.
    subs.advance(lifetime - 30_000).await;
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Reserved");
    subs.advance(30_000).await;
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Expired");
    assert_eq!(subs.status(&created.id).await, "Accepted", "the agreement stays");
    subs_err(
        &subs.capture(&created.id, &id).await,
        412,
        "PreconditionFailed",
        "Expired",
    );
}

#[tokio::test]
async fn the_merchant_cancels_a_reserved_one_off() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("DEL-1")).await;
    let id = created.one_off.unwrap();
    let resp = subs
        .call(Method::DELETE, &subs.one_off_path(&created.id, &id, ""), None)
        .await;
    assert_eq!((resp.status, resp.text.as_str()), (204, ""));
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Cancelled");
    let again = subs
        .call(Method::DELETE, &subs.one_off_path(&created.id, &id, ""), None)
        .await;
    subs_err(&again, 412, "PreconditionFailed", "Cancelled");
}

#[tokio::test]
async fn one_offs_on_an_accepted_agreement_are_confirmed_rejected_or_expire() {
    let mut subs = start_subs().await;
    let pending = subs.agreement(agreement_body("OO-0")).await;
    let refused = subs
        .call(
            Method::POST,
            &subs.agreement_path(&pending.id, "/oneoffpayments"),
            Some(one_off_body("x")),
        )
        .await;
    subs_err(&refused, 412, "PreconditionFailed", "not Accepted");
    let created = subs.accepted(INVOICE_USER, agreement_body("OO-1")).await;
    let (confirmed, href) = subs.new_one_off(&created.id, one_off_body("OO-1-a")).await;
    assert!(href.contains(&format!("oneOffPaymentId={confirmed}")), "{href}");
    let (rejected, _) = subs.new_one_off(&created.id, one_off_body("OO-1-b")).await;
    let mut short = one_off_body("OO-1-c");
    short["expiration_timeout_minutes"] = json!(10);
    let (ignored, _) = subs.new_one_off(&created.id, short).await;
    // No duplicate check: the same body again is a second one-off.
    let (twice, _) = subs.new_one_off(&created.id, one_off_body("OO-1-a")).await;
    assert_ne!(twice, confirmed);
    let answer = |id: &str, user: &'static str, status: &str| {
        let path = format!("/users/v1/me/agreements/{}/oneoffpayments/{id}", created.id);
        let subs = &subs;
        let body = json!([{"op": "replace", "path": "/status", "value": status}]);
        async move { subs.user(user, &path, body).await }
    };
    subs_err(
        &answer(&confirmed, INVOICE_EXPIRED_CARD_USER, "Accepted").await,
        412,
        "PreconditionFailed",
        "could not be reserved",
    );
    assert_eq!(answer(&confirmed, INVOICE_USER, "Accepted").await.status, 204);
    assert_eq!(answer(&rejected, INVOICE_USER, "Rejected").await.status, 204);
    subs_err(
        &answer(&rejected, INVOICE_USER, "Accepted").await,
        412,
        "PreconditionFailed",
        "Rejected",
    );
    assert_eq!(subs.one_off_status(&created.id, &confirmed).await, "Reserved");
    assert_eq!(subs.one_off_status(&created.id, &rejected).await, "Rejected");
    subs.advance(10 * MINUTE_MS).await;
    assert_eq!(subs.one_off_status(&created.id, &ignored).await, "Expired");
    assert_eq!(
        subs.one_off_status(&created.id, &twice).await,
        "Requested",
        "default timeout is a day"
    );
    subs.advance(DAY_MS).await;
    assert_eq!(subs.one_off_status(&created.id, &twice).await, "Expired");
    let list = subs
        .call(
            Method::GET,
            &subs.agreement_path(&created.id, "/oneoffpayments"),
            None,
        )
        .await;
    let ids: Vec<_> = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [confirmed.clone(), rejected, ignored, twice]);
    let found = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["external_id"] == json!("OO-1-a"))
        .count();
    assert_eq!(found, 2, "a client matching external_id sees both");
    // Body rules.
    for (body, message) in [
        (json!({"external_id": "x"}), "amount is required"),
        (json!({"amount": "1.00"}), "external_id is required"),
        (
            json!({"amount": "1.00", "external_id": "x", "links": [{"rel": "user-redirect", "href": "http://a.example"}]}),
            "https",
        ),
        (
            json!({"amount": "1.00", "external_id": "x", "auto_reserve": "yes"}),
            "auto_reserve must be true or false",
        ),
    ] {
        let resp = subs
            .call(
                Method::POST,
                &subs.agreement_path(&created.id, "/oneoffpayments"),
                Some(body),
            )
            .await;
        subs_err(&resp, 400, "BadRequest", message);
    }
}

#[tokio::test]
async fn auto_reserve_reserves_at_once_unless_the_card_fails() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, agreement_body("AR-1")).await;
    let mut body = one_off_body("AR-1-a");
    body["auto_reserve"] = json!(true);
    let (id, _) = subs.new_one_off(&created.id, body.clone()).await;
    assert_eq!(subs.one_off_history(&id).await, ["Requested", "Reserved"]);
    let card = subs
        .accepted(INVOICE_EXPIRED_CARD_USER, agreement_body("AR-2"))
        .await;
    let (waiting, _) = subs.new_one_off(&card.id, body).await;
    assert_eq!(subs.one_off_status(&card.id, &waiting).await, "Requested");
    assert_eq!(
        subs.ground_of("oneOffs", "paymentId", &waiting).await["reservationFailures"],
        json!(1)
    );
}

#[tokio::test]
async fn the_agreements_scripted_customer_confirms_a_one_off_when_its_link_is_opened() {
    let mut subs = start_subs().await;
    subs.customer(json!({"action": "accept", "delayMs": 500})).await;
    let created = subs.agreement(agreement_body("SC-1")).await;
    subs.open(&created.href).await;
    subs.advance(500).await;
    assert_eq!(subs.status(&created.id).await, "Accepted");
    let (id, href) = subs.new_one_off(&created.id, one_off_body("SC-1-a")).await;
    subs.advance(MINUTE_MS).await;
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Requested");
    let (status, page) = subs.open(&href).await;
    assert_eq!(status, 200);
    assert!(page.contains("25 DKK"), "{page}");
    subs.advance(500).await;
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Reserved");
    assert_eq!(subs.open(&href).await.0, 404, "nothing left to confirm");
}

#[tokio::test]
async fn refunds_full_partial_too_large_too_late_and_listed_with_their_external_id() {
    let mut subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("RF-1")).await;
    let payment = created.one_off.unwrap();
    let body = |amount: Option<serde_json::Value>, external_id: &str| {
        let mut b =
            json!({"status_callback_url": "https://integrator.example/refunds", "external_id": external_id});
        if let Some(a) = amount {
            b["amount"] = a;
        }
        b
    };
    refund_err(
        &subs.refund(&created.id, &payment, body(None, "R-0")).await,
        412,
        Some("60004"),
    );
    assert_eq!(subs.capture(&created.id, &payment).await.status, 204);
    refund_err(
        &subs
            .refund(&created.id, &payment, body(Some(json!(0.09)), "R-x"))
            .await,
        400,
        None,
    );
    refund_err(
        &subs
            .refund(&created.id, &payment, body(Some(json!("1,00")), "R-x"))
            .await,
        400,
        None,
    );
    let http = json!({"status_callback_url": "http://integrator.example/refunds"});
    refund_err(&subs.refund(&created.id, &payment, http).await, 400, None);
    let first = subs
        .refund(&created.id, &payment, body(Some(json!("30.00")), "R-1"))
        .await;
    assert_eq!(first.status, 202, "{}", first.text);
    assert_eq!(first.json["amount"], json!(30));
    assert_eq!(first.json["external_id"], json!("R-1"));
    assert_eq!(
        first.json["status_callback_url"],
        json!("https://integrator.example/refunds")
    );
    assert!(first.json["id"].is_string());
    // No duplicate check: the same request refunds again.
    assert_eq!(
        subs.refund(&created.id, &payment, body(Some(json!(30)), "R-1"))
            .await
            .status,
        202
    );
    refund_err(
        &subs
            .refund(&created.id, &payment, body(Some(json!(40.01)), "R-2"))
            .await,
        412,
        Some("60002"),
    );
    // Allowed on a cancelled agreement; no amount refunds the rest.
    assert_eq!(subs.cancel(&created.id).await.status, 204);
    let rest = subs.refund(&created.id, &payment, body(None, "R-3")).await;
    assert_eq!((rest.status, rest.json["amount"].clone()), (202, json!(40)));
    refund_err(
        &subs.refund(&created.id, &payment, body(None, "R-4")).await,
        412,
        Some("60001"),
    );
    let list = subs
        .call(Method::GET, &subs.refunds_path(&created.id, &payment), None)
        .await;
    let ext: Vec<_> = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["external_id"].as_str().unwrap())
        .collect();
    assert_eq!(ext, ["R-1", "R-1", "R-3"]);
    let counters = subs.ground().await["counters"].clone();
    assert_eq!(counters["refundsPerPayment"], json!({ payment.clone(): 3 }));
    not_found(
        &subs
            .call(
                Method::GET,
                &subs.refunds_path(&created.id, &uuid::Uuid::new_v4().to_string()),
                None,
            )
            .await,
    );
    // 90 days after the capture, no more.
    let late = subs.accepted(INVOICE_USER, with_one_off("RF-2")).await;
    let late_payment = late.one_off.unwrap();
    subs.capture(&late.id, &late_payment).await;
    subs.advance(90 * DAY_MS - 30_000).await;
    assert_eq!(
        subs.refund(&late.id, &late_payment, body(Some(json!(1)), "L-1"))
            .await
            .status,
        202
    );
    subs.advance(30_000).await;
    refund_err(
        &subs
            .refund(&late.id, &late_payment, body(Some(json!(1)), "L-2"))
            .await,
        412,
        Some("60006"),
    );
}
