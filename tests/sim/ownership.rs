//! Ownership (reference §14.2, 14xx codes): another integrator's resources and the same
//! integrator acting for another merchant, plus stores of other merchants.

use crate::common::*;
use mposd::sim::fixtures::{FI_VAT, OTHER_DK_STORE, OTHER_DK_VAT};
use serde_json::json;

#[tokio::test]
async fn another_integrators_pos_is_1400() {
    let sim = start().await;
    let api = sim.api().await;
    let other = sim.other_api().await;
    let pos = api.create_pos().await;
    other
        .get(&format!("/pointofsales/{}", pos.pos_id))
        .await
        .err(403, "1400");
    other
        .get(&format!("/pointofsales/{}/checkin", pos.pos_id))
        .await
        .err(403, "1400");
    other
        .initiate_with(initiate_body(&pos.pos_id, 1.0))
        .await
        .err(403, "1400");
    other
        .post_idem(
            "/payments/prepare",
            &new_key(),
            json!({"posId": pos.pos_id, "orderId": "o"}),
        )
        .await
        .err(403, "1400");
    other
        .delete(&format!("/pointofsales/{}", pos.pos_id))
        .await
        .err(403, "1400");
    // The other integrator does not see it when searching either.
    let found = other
        .get(&format!("/pointofsales?beaconId={}", pos.beacon_id))
        .await;
    assert_eq!(found.ok()["posIds"], json!([]));
    api.get(&format!("/pointofsales/{}", pos.pos_id)).await.ok();
    assert!(sim.ground_payments().await.is_empty());
}

#[tokio::test]
async fn another_integrators_payment_is_1401() {
    let sim = start().await;
    let api = sim.api().await;
    let other = sim.other_api().await;
    let prepared = payment_in(&sim, &api, "Prepared").await;
    let reserved = payment_in(&sim, &api, "Reserved").await;
    let done = captured(&sim, &api).await;
    other
        .get(&format!("/payments/{}", reserved.payment_id))
        .await
        .err(403, "1401");
    other.ready(&prepared.payment_id, 1.0).await.err(403, "1401");
    other.capture(&reserved.payment_id, 100.0).await.err(403, "1401");
    other.cancel(&reserved.payment_id).await.err(403, "1401");
    other.refund(&done, 1.0).await.refund_err(403, "1401");
    assert_eq!(api.status(&reserved.payment_id).await, "Reserved");
    assert_eq!(api.status(&prepared.payment_id).await, "Prepared");
}

#[tokio::test]
async fn another_integrators_refund_is_1402() {
    let sim = start().await;
    let api = sim.api().await;
    let other = sim.other_api().await;
    let payment = captured(&sim, &api).await;
    let refund = reserved_refund(&sim, &api, &payment, 1.0).await;
    other
        .get(&format!("/refunds/{refund}"))
        .await
        .refund_err(403, "1402");
    other
        .post_empty(&format!("/refunds/{refund}/capture"))
        .await
        .refund_err(403, "1402");
    other
        .post_empty(&format!("/refunds/{refund}/cancel"))
        .await
        .refund_err(403, "1402");
    assert_eq!(api.refund_status(&refund).await, "Reserved");
}

#[tokio::test]
async fn same_integrator_other_merchant_gets_merchant_codes() {
    let sim = start().await;
    let api = sim.api().await;
    let fi = api.with_vat(Some(FI_VAT));
    let prepared = payment_in(&sim, &api, "Prepared").await;
    let reserved = payment_in(&sim, &api, "Reserved").await;
    fi.get(&format!("/pointofsales/{}", reserved.pos.pos_id))
        .await
        .err(403, "1410");
    fi.get(&format!("/payments/{}", reserved.payment_id))
        .await
        .err(403, "1411");
    fi.ready(&prepared.payment_id, 1.0).await.err(403, "1406");
    fi.capture(&reserved.payment_id, 100.0).await.err(403, "1407");
    fi.cancel(&reserved.payment_id).await.err(403, "1408");
    fi.delete(&format!("/pointofsales/{}", reserved.pos.pos_id))
        .await
        .err(403, "1409");
    // No merchant-specific code exists for these: the integrator codes are used.
    fi.get(&format!("/pointofsales/{}/checkin", reserved.pos.pos_id))
        .await
        .err(403, "1400");
    fi.initiate_with(initiate_body(&reserved.pos.pos_id, 1.0))
        .await
        .err(403, "1400");
    assert_eq!(api.status(&reserved.payment_id).await, "Reserved");
    api.get(&format!("/pointofsales/{}", reserved.pos.pos_id))
        .await
        .ok();
}

#[tokio::test]
async fn same_integrator_other_merchant_refunds_use_1401_and_1402() {
    let sim = start().await;
    let api = sim.api().await;
    let fi = api.with_vat(Some(FI_VAT));
    let payment = captured(&sim, &api).await;
    let refund = reserved_refund(&sim, &api, &payment, 1.0).await;
    fi.refund(&payment, 1.0).await.refund_err(403, "1401");
    fi.get(&format!("/refunds/{refund}"))
        .await
        .refund_err(403, "1402");
    fi.post_empty(&format!("/refunds/{refund}/capture"))
        .await
        .refund_err(403, "1402");
    fi.post_empty(&format!("/refunds/{refund}/cancel"))
        .await
        .refund_err(403, "1402");
}

#[tokio::test]
async fn pos_on_another_merchants_store_is_1403() {
    let sim = start().await;
    let api = sim.api().await;
    api.create_pos_with(pos_body(OTHER_DK_STORE, "x", None))
        .await
        .err(403, "1403");
    // The store's own merchant may.
    api.with_vat(Some(OTHER_DK_VAT))
        .create_pos_with(pos_body(OTHER_DK_STORE, "x", None))
        .await
        .ok();
}

/// A merchant-locked token acts for its merchant exactly as the VAT header does.
#[tokio::test]
async fn merchant_locked_token_of_another_merchant_gets_merchant_codes() {
    let sim = start().await;
    let api = sim.api().await;
    let reserved = payment_in(&sim, &api, "Reserved").await;
    let fi_locked = Api {
        token: sim
            .token(
                mposd::sim::fixtures::DEMO_CLIENT_ID,
                mposd::sim::fixtures::DEMO_CLIENT_SECRET,
                Some(FI_VAT),
            )
            .await,
        ..api.with_vat(None)
    };
    fi_locked
        .get(&format!("/pointofsales/{}", reserved.pos.pos_id))
        .await
        .err(403, "1410");
    fi_locked
        .get(&format!("/payments/{}", reserved.payment_id))
        .await
        .err(403, "1411");
    fi_locked
        .capture(&reserved.payment_id, 100.0)
        .await
        .err(403, "1407");
}
