//! Every endpoint the daemon uses, once, through the typed client: stores, PoS, check-in,
//! prepared and plain payments, capture, refunds. Also the headers every call carries.

use super::support::*;
use mposd::{
    backends::pos_v10::{
        model::{
            CreateRefundRequest, PaymentReadyRequest, PaymentStatus, PlannedCaptureDelay,
            PreparePaymentRequest, RefundStatus,
        },
        Correlation, Credentials, IdempotencyKey, MobilePayClient, TokenSettings,
    },
    money::{Currency, MajorAmount, Minor},
};
use std::time::Duration;

#[tokio::test]
async fn stores_prepared_payment_capture_and_refunds() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let correlation = Correlation::new("test");

    let stores = client.find_stores(&correlation, None).await.unwrap();
    assert!(stores.iter().any(|s| s == STORE), "{stores:?}");
    let store = client.get_store(&correlation, STORE).await.unwrap();
    assert_eq!(
        (
            store.merchant_brand_id.as_str(),
            store.merchant_location_id.as_str()
        ),
        ("POSDK12345", "00001")
    );
    assert_eq!(
        client
            .find_stores(&correlation, Some(("POSDK12345", "00001")))
            .await
            .unwrap(),
        vec![STORE.to_string()]
    );

    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    assert_eq!(
        client
            .find_pos(&correlation, None, Some(&pos.beacon_id), None)
            .await
            .unwrap(),
        vec![pos.pos_id.clone()]
    );
    assert!(
        !client
            .get_checkin(&correlation, &pos.pos_id)
            .await
            .unwrap()
            .is_user_checked_in
    );

    // Prepared payment: the customer checks in, we learn who it is, then set the amount.
    h.control.customer(&pos.beacon_id, "accept").await;
    let payment = client
        .prepare_payment(
            &correlation,
            &IdempotencyKey::generate(),
            &PreparePaymentRequest {
                pos_id: pos.pos_id.clone(),
                order_id: "order-1".into(),
            },
        )
        .await
        .unwrap()
        .payment_id;
    eventually("paired", || async {
        client.get_payment(&correlation, &payment).await.unwrap().status == PaymentStatus::Paired
    })
    .await;
    assert!(
        client
            .get_checkin(&correlation, &pos.pos_id)
            .await
            .unwrap()
            .is_user_checked_in
    );
    client
        .ready_payment(
            &correlation,
            &payment,
            &PaymentReadyRequest {
                amount: MajorAmount::from_minor(Minor(10_000)),
                currency_code: Currency::DKK,
                planned_capture_delay: PlannedCaptureDelay::None,
                restrictions: None,
                merchant_payment_label: Some("label".into()),
            },
        )
        .await
        .unwrap();
    eventually("reserved", || async {
        client.get_payment(&correlation, &payment).await.unwrap().status == PaymentStatus::Reserved
    })
    .await;
    assert_eq!(
        client
            .find_payments(&correlation, Some(&pos.pos_id), None, false)
            .await
            .unwrap(),
        vec![payment.clone()]
    );
    client
        .capture_payment(&correlation, &payment, Minor(10_000))
        .await
        .unwrap();
    // Capture is naturally idempotent.
    client
        .capture_payment(&correlation, &payment, Minor(10_000))
        .await
        .unwrap();
    assert_eq!(
        client
            .find_payments(&correlation, None, Some("order-1"), true)
            .await
            .unwrap(),
        vec![payment.clone()]
    );

    // Refund: reserved after a moment, then captured; a second one is cancelled.
    let refund = |order: &str, minor: i64| CreateRefundRequest {
        payment_id: payment.clone(),
        refund_order_id: order.into(),
        amount: MajorAmount::from_minor(Minor(minor)),
        currency_code: Currency::DKK,
    };
    let first = client
        .create_refund(
            &correlation,
            &IdempotencyKey::generate(),
            &refund("refund-1", 2_500),
        )
        .await
        .unwrap()
        .refund_id;
    h.advance(Duration::from_secs(2)).await;
    let status = client.get_refund(&correlation, &first).await.unwrap();
    assert_eq!(
        (status.status, status.amount.to_minor()),
        (RefundStatus::Reserved, Ok(Minor(2_500)))
    );
    client.capture_refund(&correlation, &first).await.unwrap();
    assert_eq!(
        client.get_refund(&correlation, &first).await.unwrap().status,
        RefundStatus::Captured
    );
    let second = client
        .create_refund(
            &correlation,
            &IdempotencyKey::generate(),
            &refund("refund-2", 1_000),
        )
        .await
        .unwrap()
        .refund_id;
    client.cancel_refund(&correlation, &second).await.unwrap();
    let mut ids = client.find_refunds(&correlation, &payment).await.unwrap();
    ids.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    let truth = h.control.get("/_sim/refunds").await;
    let statuses: Vec<_> = truth["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert!(statuses.contains(&"Captured".into()) && statuses.contains(&"CancelledByClient".into()));
}

#[tokio::test]
async fn every_call_of_a_flow_carries_its_correlation_id() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let correlation = Correlation::new("payment");
    let payment = client
        .initiate_payment(
            &correlation,
            &IdempotencyKey::generate(),
            &payment_request(&pos.pos_id, "order-1", Minor(100)),
        )
        .await
        .unwrap()
        .payment_id;
    client.get_payment(&correlation, &payment).await.unwrap();
    client.cancel_payment(&correlation, &payment).await.unwrap();
    let log = h.control.get("/_sim/requests").await;
    let ours: Vec<_> = log["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["correlationId"] == correlation.id().to_string().as_str())
        .map(|e| e["endpoint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ours, vec!["initiatePayment", "getPayment", "cancelPayment"]);
}

/// A token that is not merchant-locked needs the VAT header on every call; the simulator
/// answers 1151 without it.
#[tokio::test]
async fn a_token_not_locked_to_the_merchant_sends_the_vat_header() {
    let h = Harness::start().await;
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/integrator-authentication/connect/token",
            h.sim.base_url()
        ))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = h.dir.path().join("token");
    std::fs::write(&path, answer["access_token"].as_str().unwrap()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let db = h.open_db();
    let client = MobilePayClient::with_clock(
        h.config(),
        VAT,
        Credentials::ProvisionedToken(path),
        db.clone(),
        h.clock.clone(),
        TokenSettings::default(),
    )
    .unwrap();
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let truth = h.control.pointofsales().await;
    assert_eq!(truth[0]["merchantVat"], VAT);
    assert_eq!(truth[0]["posId"], pos.pos_id.as_str());
}
