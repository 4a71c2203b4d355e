//! An invoice's life on the virtual clock: paid now, scheduled and paid on the day, expired
//! after DueDate + 30 days, a failing card, rejection (an InvoiceLink only after acceptance),
//! the merchant's cancel rules, the sandbox user simulation and scripted customers.

use super::common::DAY_MS;
use super::inv_support::{id_of, inv_err, start_inv};
use mposd::sim::fixtures::{
    INVOICE_EXPIRED_CARD_PHONE, INVOICE_EXPIRED_CARD_USER, INVOICE_FI_USER, INVOICE_USER, INVOICE_USER_PHONE,
};
use serde_json::{json, Value};

fn without_alias(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("ConsumerAlias");
    body
}

#[tokio::test]
async fn the_user_pays_now_and_a_paid_invoice_cannot_be_canceled() {
    let inv = start_inv().await;
    let id = inv.direct(inv.body("P-1").await).await;
    let today = inv.day(0).await;
    let paid = inv
        .user(INVOICE_USER, &id, "accept", Some(json!({"paymentDate": today})))
        .await;
    assert_eq!(paid.ok()["invoicePaymentStatus"], json!("Paid"));
    assert_eq!(paid.json["receipt"]["amount"], json!(360));
    assert_eq!(inv.status(&id).await, "paid");
    inv_err(&inv.cancel(&id).await, 409, "DomainError", Some("10504"));
    let again = inv
        .user(INVOICE_USER, &id, "accept", Some(json!({"paymentDate": today})))
        .await;
    assert_eq!(
        (again.status, again.json["invoicePaymentStatus"].clone()),
        (400, json!("Failed"))
    );
    assert_eq!(inv.history(&id).await, ["created", "paid"]);
    assert_eq!(inv.ground_invoice(&id).await["payer"], json!(INVOICE_USER_PHONE));
}

#[tokio::test]
async fn a_scheduled_payment_is_accepted_then_paid_on_its_day() {
    let mut inv = start_inv().await;
    let id = inv.direct(inv.body("S-1").await).await;
    let day = inv.day(3).await;
    let accepted = inv
        .user(INVOICE_USER, &id, "accept", Some(json!({"paymentDate": day})))
        .await;
    assert_eq!(accepted.ok()["invoicePaymentStatus"], json!("Accepted"));
    assert_eq!(inv.status(&id).await, "accepted");
    inv.advance_to_day(2, 0).await;
    assert_eq!(inv.status(&id).await, "accepted", "accepted is not money");
    inv.advance(DAY_MS).await;
    assert_eq!(inv.status(&id).await, "paid");
    let details = inv
        .call(reqwest::Method::GET, &inv.path(&format!("/invoices/{id}")), None)
        .await;
    assert_eq!(details.ok()["PaymentDate"], json!(day));
    assert_eq!(inv.history(&id).await, ["created", "accepted", "paid"]);
}

#[tokio::test]
async fn payment_dates_must_lie_between_today_and_due_date_plus_30() {
    let inv = start_inv().await;
    let id = inv.direct(inv.body("PD-1").await).await;
    for day in [inv.day(-1).await, inv.day(7 + 31).await] {
        let resp = inv
            .user(INVOICE_USER, &id, "accept", Some(json!({"paymentDate": day})))
            .await;
        assert_eq!(resp.status, 400, "{}", resp.text);
        assert!(resp.json["errorText"].as_str().is_some(), "{}", resp.text);
    }
    let last = inv
        .user(
            INVOICE_USER,
            &id,
            "accept",
            Some(json!({"paymentDate": inv.day(37).await})),
        )
        .await;
    assert_eq!(last.ok()["invoicePaymentStatus"], json!("Accepted"));
}

#[tokio::test]
async fn an_ignored_invoice_expires_after_due_date_plus_30_days_and_its_link_is_gone() {
    let mut inv = start_inv().await;
    let direct = inv.direct(inv.body("E-1").await).await;
    let (link, href) = inv.link(without_alias(inv.body("E-2").await)).await;
    // Due in 7 days: payable through day 37, expired from day 38.
    inv.advance_to_day(37, 0).await;
    assert_eq!(inv.status(&direct).await, "created");
    assert_eq!(inv.open(&href).await.0, 200);
    inv.advance(DAY_MS).await;
    assert_eq!(inv.status(&direct).await, "expired");
    assert_eq!(inv.status(&link).await, "expired");
    assert_eq!(inv.open(&href).await.0, 404);
    assert_eq!(inv.history(&direct).await, ["created", "expired"]);
    inv_err(&inv.cancel(&direct).await, 409, "DomainError", None);
}

#[tokio::test]
async fn an_expired_card_fails_now_and_on_the_scheduled_day_until_the_invoice_expires() {
    let mut inv = start_inv().await;
    let mut body = inv.body("C-1").await;
    body["ConsumerAlias"]["Alias"] = json!(INVOICE_EXPIRED_CARD_PHONE);
    let id = inv.direct(body).await;
    let now = inv
        .user(
            INVOICE_EXPIRED_CARD_USER,
            &id,
            "accept",
            Some(json!({"paymentDate": inv.day(0).await})),
        )
        .await;
    assert_eq!(
        (now.status, now.json["invoicePaymentStatus"].clone()),
        (400, json!("Failed"))
    );
    assert_eq!(inv.status(&id).await, "created");
    let later = inv
        .user(
            INVOICE_EXPIRED_CARD_USER,
            &id,
            "accept",
            Some(json!({"paymentDate": inv.day(2).await})),
        )
        .await;
    later.ok();
    inv.advance_to_day(2, 60_000).await;
    assert_eq!(inv.status(&id).await, "accepted");
    assert_eq!(inv.ground_invoice(&id).await["paymentFailures"], json!(2));
    inv.advance_to_day(36, 0).await;
    assert_eq!(inv.status(&id).await, "expired");
    assert_eq!(inv.history(&id).await, ["created", "accepted", "expired"]);
}

#[tokio::test]
async fn a_direct_invoice_can_be_rejected_a_link_only_after_acceptance() {
    let inv = start_inv().await;
    let direct = inv.direct(inv.body("R-1").await).await;
    // Only the recipient sees an InvoiceDirect.
    inv_err(
        &inv.user(INVOICE_FI_USER, &direct, "reject", None).await,
        404,
        "DomainError",
        None,
    );
    let rejected = inv.user(INVOICE_USER, &direct, "reject", None).await;
    assert_eq!(rejected.ok(), &json!({"InvoiceId": direct}));
    assert_eq!(inv.status(&direct).await, "rejected");
    inv_err(&inv.cancel(&direct).await, 409, "DomainError", None);

    let (link, _) = inv.link(without_alias(inv.body("R-2").await)).await;
    inv_err(
        &inv.user(INVOICE_FI_USER, &link, "reject", None).await,
        409,
        "DomainError",
        None,
    );
    assert_eq!(inv.status(&link).await, "created");
    inv.user(
        INVOICE_FI_USER,
        &link,
        "accept",
        Some(json!({"paymentDate": inv.day(5).await})),
    )
    .await
    .ok();
    inv.user(INVOICE_FI_USER, &link, "reject", None).await.ok();
    assert_eq!(inv.history(&link).await, ["created", "accepted", "rejected"]);
}

#[tokio::test]
async fn the_merchant_cancels_created_and_scheduled_invoices_and_the_schedule_is_void() {
    let mut inv = start_inv().await;
    let created = inv.direct(inv.body("X-1").await).await;
    assert_eq!(inv.cancel(&created).await.status, 204);
    assert_eq!(inv.status(&created).await, "canceled");
    inv_err(&inv.cancel(&created).await, 409, "DomainError", None);
    let scheduled = inv.direct(inv.body("X-2").await).await;
    inv.user(
        INVOICE_USER,
        &scheduled,
        "accept",
        Some(json!({"paymentDate": inv.day(1).await})),
    )
    .await
    .ok();
    let cancel = inv.cancel(&scheduled).await;
    assert_eq!((cancel.status, cancel.text.as_str()), (204, ""));
    inv.advance_to_day(2, 0).await;
    assert_eq!(inv.status(&scheduled).await, "canceled");
    let late = inv
        .user(
            INVOICE_USER,
            &scheduled,
            "accept",
            Some(json!({"paymentDate": inv.day(0).await})),
        )
        .await;
    assert_eq!(late.status, 400);
}

#[tokio::test]
async fn the_user_simulation_needs_the_app_pair_and_a_known_user() {
    let inv = start_inv().await;
    let id = inv.direct(inv.body("U-1").await).await;
    let unknown = inv
        .user(&uuid::Uuid::new_v4().to_string(), &id, "reject", None)
        .await;
    assert_eq!(unknown.status, 401);
    let no_app = inv
        .oidc
        .sim
        .raw(
            reqwest::Method::PUT,
            &format!("{}/consumers/me/invoices/{id}/reject", super::inv_support::API),
            &[("AuthenticatedUser", INVOICE_USER)],
            None,
        )
        .await;
    assert_eq!(no_app.json["httpCode"], json!("401"));
    assert_eq!(inv.status(&id).await, "created");
}

#[tokio::test]
async fn scripted_customers_act_on_invoices_pushed_to_their_phone() {
    let mut inv = start_inv().await;
    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "payNow", "delayMs": 5000}))
        .await;
    let id = inv.direct(inv.body("SC-1").await).await;
    assert_eq!(inv.status(&id).await, "created");
    inv.advance(5_000).await;
    assert_eq!(inv.status(&id).await, "paid");

    let day = inv.day(2).await;
    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "schedule", "paymentDate": day}))
        .await;
    let scheduled = inv.direct(inv.body("SC-2").await).await;
    assert_eq!(inv.status(&scheduled).await, "accepted");
    inv.advance_to_day(2, 0).await;
    assert_eq!(inv.status(&scheduled).await, "paid");

    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "reject"}))
        .await;
    let rejected = inv.direct(inv.body("SC-3").await).await;
    assert_eq!(inv.status(&rejected).await, "rejected");

    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "cardFails"}))
        .await;
    let failing = inv.direct(inv.body("SC-4").await).await;
    assert_eq!(inv.status(&failing).await, "accepted");
    inv.advance_to_day(7, 60_000).await;
    assert_eq!(inv.status(&failing).await, "accepted");
    assert_eq!(inv.ground_invoice(&failing).await["paymentFailures"], json!(1));

    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "ignore"}))
        .await;
    let ignored = inv.direct(inv.body("SC-5").await).await;
    inv.advance(DAY_MS).await;
    assert_eq!(inv.status(&ignored).await, "created");

    let unknown = inv
        .oidc
        .sim
        .post_json(
            "/_sim/invoice/customers",
            json!({"phone": "+4511111111", "action": "payNow"}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let listed = inv.oidc.sim.get("/_sim/invoice/customers").await;
    assert_eq!(listed.ok()["customers"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_scanned_link_is_paid_or_rejected_by_whoever_opens_it() {
    let inv = start_inv().await;
    let (id, href) = inv.link(without_alias(inv.body("SL-1").await)).await;
    // Nobody scripted: opening the page changes nothing.
    assert_eq!(inv.open(&href).await.0, 200);
    assert_eq!(inv.status(&id).await, "created");
    inv.customer(json!({"phone": INVOICE_EXPIRED_CARD_PHONE, "action": "payNow", "opensLinks": true}))
        .await;
    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "payNow", "opensLinks": true}))
        .await;
    inv.open(&href).await;
    assert_eq!(inv.status(&id).await, "paid");
    let ground = inv.ground_invoice(&id).await;
    assert_eq!(ground["payer"], json!(INVOICE_USER_PHONE));
    assert_eq!(ground["openedBy"], json!([INVOICE_USER_PHONE]));

    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "reject", "opensLinks": true}))
        .await;
    let (other, href) = inv.link(without_alias(inv.body("SL-2").await)).await;
    inv.open(&href).await;
    assert_eq!(inv.history(&other).await, ["created", "accepted", "rejected"]);
    // A link's alias only prefills the page: no push, and nobody acts until it is opened.
    let with_alias = inv.body("SL-3").await;
    let resp = inv.create_link(with_alias).await;
    assert_eq!(inv.status(&id_of(&resp)).await, "created");
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 0);
}
