//! Idempotency (reference §6, docs/simulator.md "Idempotency"): replay returns the original
//! answer and creates nothing; same key with another body is 409 1306; keys are scoped and
//! kept 24 h of virtual time; failed requests leave no trace.

use crate::common::*;
use mposd::sim::fixtures::{DK_STORE, FI_STORE, FI_VAT};
use serde_json::json;

#[tokio::test]
async fn initiate_replay_returns_the_original_payment_and_creates_nothing() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    let body = initiate_body(&pos.pos_id, 10.0);
    let first = api.post_idem("/payments", &key, body.clone()).await;
    let first_id = str_field(first.ok(), "paymentId");
    // The PoS now has an active payment, yet the retry is answered as the first call was.
    let again = api.post_idem("/payments", &key, body.clone()).await;
    assert_eq!(again.ok(), first.ok());
    assert_eq!(sim.ground_payments().await.len(), 1);
    assert_eq!(sim.ground_payment(&first_id).await["idempotencyKey"], json!(key));
    // Even after the payment moved on, the replay answers the same.
    api.cancel(&first_id).await.ok_empty();
    let late = api.post_idem("/payments", &key, body).await;
    assert_eq!(str_field(late.ok(), "paymentId"), first_id);
    assert_eq!(sim.ground_payments().await.len(), 1);
}

#[tokio::test]
async fn same_key_different_body_is_1306_on_every_creating_post() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let pos2 = api.create_pos().await;
    let payment = captured(&sim, &api).await;

    let key = new_key();
    api.post_idem("/pointofsales", &key, pos_body(DK_STORE, "a", None))
        .await
        .ok();
    api.post_idem("/pointofsales", &key, pos_body(DK_STORE, "b", None))
        .await
        .err(409, "1306");

    let key = new_key();
    api.post_idem("/payments", &key, initiate_body(&pos.pos_id, 10.0))
        .await
        .ok();
    api.post_idem("/payments", &key, initiate_body(&pos.pos_id, 11.0))
        .await
        .err(409, "1306");

    let key = new_key();
    api.post_idem(
        "/payments/prepare",
        &key,
        json!({"posId": pos2.pos_id, "orderId": "one"}),
    )
    .await
    .ok();
    api.post_idem(
        "/payments/prepare",
        &key,
        json!({"posId": pos2.pos_id, "orderId": "two"}),
    )
    .await
    .err(409, "1306");

    let key = new_key();
    api.post_idem("/refunds", &key, refund_body(&payment, 1.0, "DKK"))
        .await
        .ok();
    api.post_idem("/refunds", &key, refund_body(&payment, 2.0, "DKK"))
        .await
        .refund_err(409, "1306");

    assert_eq!(sim.ground_pos().await.len(), 4);
    assert_eq!(sim.ground_payments().await.len(), 3);
    assert_eq!(sim.ground_refunds().await.len(), 1);
}

#[tokio::test]
async fn pos_prepare_and_refund_replays_create_nothing() {
    let sim = start().await;
    let api = sim.api().await;
    let key = new_key();
    let body = pos_body(DK_STORE, "replayed", None);
    let a = api.post_idem("/pointofsales", &key, body.clone()).await;
    let b = api.post_idem("/pointofsales", &key, body).await;
    assert_eq!(a.ok(), b.ok());
    assert_eq!(sim.ground_pos().await.len(), 1);
    let pos_id = str_field(a.ok(), "posId");

    let key = new_key();
    let body = json!({"posId": pos_id, "orderId": "prep"});
    let a = api.post_idem("/payments/prepare", &key, body.clone()).await;
    let b = api.post_idem("/payments/prepare", &key, body).await;
    assert_eq!(a.ok(), b.ok());
    api.cancel(&str_field(a.ok(), "paymentId")).await.ok_empty();

    let payment = captured(&sim, &api).await;
    let key = new_key();
    let body = refund_body(&payment, 5.0, "DKK");
    let a = api.post_idem("/refunds", &key, body.clone()).await;
    let b = api.post_idem("/refunds", &key, body).await;
    assert_eq!(a.ok(), b.ok());
    assert_eq!(sim.ground_refunds().await.len(), 1);
}

#[tokio::test]
async fn a_failed_request_leaves_no_trace() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    api.post_idem("/payments", &key, initiate_body(&new_key(), 10.0))
        .await
        .err(409, "1000");
    // The same key with a different, valid body is handled afresh (no 1306).
    let resp = api
        .post_idem("/payments", &key, initiate_body(&pos.pos_id, 10.0))
        .await;
    resp.ok();
    assert_eq!(sim.ground_payments().await.len(), 1);
}

#[tokio::test]
async fn keys_are_scoped_by_endpoint_and_merchant() {
    let sim = start().await;
    let api = sim.api().await;
    let key = new_key();
    let resp = api
        .post_idem("/pointofsales", &key, pos_body(DK_STORE, "scoped", None))
        .await;
    let pos_id = str_field(resp.ok(), "posId");
    api.post_idem("/payments", &key, initiate_body(&pos_id, 1.0))
        .await
        .ok();
    api.with_vat(Some(FI_VAT))
        .post_idem("/pointofsales", &key, pos_body(FI_STORE, "scoped", None))
        .await
        .ok();
    assert_eq!(sim.ground_pos().await.len(), 2);
}

#[tokio::test]
async fn keys_are_kept_24_hours_of_virtual_time() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let key = new_key();
    let body = initiate_body(&pos.pos_id, 10.0);
    let first = str_field(
        api.post_idem("/payments", &key, body.clone()).await.ok(),
        "paymentId",
    );
    api.cancel(&first).await.ok_empty();
    sim.advance_ms(23 * HOUR_MS).await;
    let replay = api.post_idem("/payments", &key, body.clone()).await;
    assert_eq!(str_field(replay.ok(), "paymentId"), first);
    sim.advance_ms(HOUR_MS + MINUTE_MS).await;
    // Forgotten: the same request now creates a new payment.
    let fresh = api.post_idem("/payments", &key, body).await;
    assert_ne!(str_field(fresh.ok(), "paymentId"), first);
    assert_eq!(sim.ground_payments().await.len(), 2);
}

#[tokio::test]
async fn an_expired_key_may_carry_another_request() {
    let sim = start().await;
    let api = sim.api().await;
    let key = new_key();
    api.post_idem("/pointofsales", &key, pos_body(DK_STORE, "one", None))
        .await
        .ok();
    sim.advance_ms(DAY_MS + MINUTE_MS).await;
    api.post_idem("/pointofsales", &key, pos_body(DK_STORE, "two", None))
        .await
        .ok();
}
