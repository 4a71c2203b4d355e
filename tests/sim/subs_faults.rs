//! Faults on the Subscriptions endpoints, above all a create, capture or refund whose answer
//! is lost after it took effect: the resource exists, and the ground truth and the list
//! endpoints let a client find it instead of making a second agreement, reservation, capture
//! or refund. `/_sim/reset` forgets everything.

use super::inv_support::APP;
use super::subs_support::{agreement_body, refund_err, start_subs, subs_err, with_one_off, Subs};
use mposd::sim::fixtures::INVOICE_USER;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

/// Sends `body` to `path` and expects the connection to close without an answer.
async fn dropped(subs: &Subs, method: Method, path: &str, body: Option<serde_json::Value>) {
    let mut req = subs
        .oidc
        .sim
        .http
        .request(method, subs.oidc.sim.url(path))
        .header(APP[0].0, APP[0].1)
        .header(APP[1].0, APP[1].1)
        .bearer_auth(&subs.token)
        .timeout(Duration::from_secs(20));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let err = req
        .send()
        .await
        .expect_err("the connection closes without an answer");
    assert!(!err.is_timeout(), "dropped, not timed out: {err}");
}

#[tokio::test]
async fn an_agreement_whose_create_answer_was_lost_exists_and_is_found_by_external_id() {
    let subs = start_subs().await;
    subs.oidc
        .sim
        .fault("subscriptionsCreateAgreement", "commitThenDrop", 1, json!({}))
        .await;
    dropped(
        &subs,
        Method::POST,
        &subs.path("/agreements"),
        Some(with_one_off("LOST-1")),
    )
    .await;
    let ground = subs.ground().await;
    assert_eq!(
        ground["counters"]["agreementsPerExternalId"],
        json!({"LOST-1": 1})
    );
    let id = ground["agreements"][0]["agreementId"]
        .as_str()
        .unwrap()
        .to_string();
    let list = subs.list("status=Pending&pageNumber=1").await;
    let found: Vec<_> = list.ok()["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["external_id"] == json!("LOST-1"))
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found, [id]);
    assert_eq!(
        subs.oidc.sim.request_count("subscriptionsCreateAgreement").await,
        1
    );
}

#[tokio::test]
async fn commit_then_server_error_on_a_one_off_answers_500_and_the_one_off_exists() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, agreement_body("OF-1")).await;
    subs.oidc
        .sim
        .fault("subscriptionsCreateOneOff", "commitThenServerError", 1, json!({}))
        .await;
    let body = json!({"amount": 25, "external_id": "journal-7", "auto_reserve": true});
    let resp = subs
        .call_with(
            Method::POST,
            &subs.agreement_path(&created.id, "/oneoffpayments"),
            Some(body),
            &[("CorrelationId", "c-500")],
        )
        .await;
    subs_err(&resp, 500, "InternalServerError", "simulated");
    assert_eq!(resp.json["error_description"]["correlation_id"], json!("c-500"));
    let list = subs
        .call(
            Method::GET,
            &subs.agreement_path(&created.id, "/oneoffpayments"),
            None,
        )
        .await;
    let one_offs = list.ok().as_array().unwrap().clone();
    assert_eq!(one_offs.len(), 1);
    assert_eq!(
        (one_offs[0]["external_id"].clone(), one_offs[0]["status"].clone()),
        (json!("journal-7"), json!("Reserved"))
    );
    assert_eq!(
        subs.ground().await["counters"]["reservationsPerAgreement"],
        json!({ created.id.clone(): 1 })
    );
}

#[tokio::test]
async fn a_capture_whose_answer_was_lost_took_effect_and_its_retry_is_refused() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("CD-1")).await;
    let id = created.one_off.unwrap();
    subs.oidc
        .sim
        .fault("subscriptionsCaptureOneOff", "commitThenDrop", 1, json!({}))
        .await;
    dropped(
        &subs,
        Method::POST,
        &subs.one_off_path(&created.id, &id, "/capture"),
        None,
    )
    .await;
    assert_eq!(subs.one_off_status(&created.id, &id).await, "Captured");
    subs_err(
        &subs.capture(&created.id, &id).await,
        412,
        "PreconditionFailed",
        "already captured",
    );
    assert_eq!(
        subs.ground().await["counters"]["capturesPerAgreement"],
        json!({ created.id.clone(): 1 })
    );
}

#[tokio::test]
async fn a_refund_whose_answer_was_lost_exists_and_is_listed_with_its_external_id() {
    let subs = start_subs().await;
    let created = subs.accepted(INVOICE_USER, with_one_off("RD-1")).await;
    let payment = created.one_off.unwrap();
    subs.capture(&created.id, &payment).await;
    subs.oidc
        .sim
        .fault("subscriptionsCreateRefund", "commitThenServerError", 1, json!({}))
        .await;
    let body = json!({"amount": "10.00", "status_callback_url": "https://integrator.example/r", "external_id": "journal-9"});
    refund_err(&subs.refund(&created.id, &payment, body.clone()).await, 500, None);
    subs.oidc
        .sim
        .fault("subscriptionsCreateRefund", "commitThenDrop", 1, json!({}))
        .await;
    dropped(
        &subs,
        Method::POST,
        &subs.refunds_path(&created.id, &payment),
        Some(body),
    )
    .await;
    let list = subs
        .call(Method::GET, &subs.refunds_path(&created.id, &payment), None)
        .await;
    let matching = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["external_id"] == json!("journal-9"))
        .count();
    assert_eq!(matching, 2, "each lost answer was a refund made");
    assert_eq!(
        subs.ground().await["counters"]["refundsPerPayment"],
        json!({ payment.clone(): 2 })
    );
}

#[tokio::test]
async fn server_errors_and_401s_change_nothing() {
    let subs = start_subs().await;
    let created = subs.agreement(agreement_body("SE-1")).await;
    subs.oidc
        .sim
        .fault("subscriptionsCancelAgreement", "serverError", 1, json!({}))
        .await;
    subs_err(
        &subs.cancel(&created.id).await,
        500,
        "InternalServerError",
        "simulated",
    );
    subs.oidc
        .sim
        .fault("subscriptionsGetAgreement", "unauthorized", 1, json!({}))
        .await;
    let resp = subs
        .call(Method::GET, &subs.agreement_path(&created.id, ""), None)
        .await;
    assert_eq!(resp.status, 401);
    assert_eq!(subs.status(&created.id).await, "Pending");
    subs.oidc
        .sim
        .fault("subscriptionsListRefunds", "serverError", 1, json!({}))
        .await;
    refund_err(
        &subs
            .call(Method::GET, &subs.refunds_path(&created.id, "x"), None)
            .await,
        500,
        None,
    );
}

#[tokio::test]
async fn ground_truth_shows_every_resource_and_reset_forgets_them() {
    let subs = start_subs().await;
    let mut body = with_one_off("GT-1");
    body["mobile_phone_number"] = json!("4512345678");
    let created = subs.accepted(INVOICE_USER, body).await;
    let payment = created.one_off.clone().unwrap();
    subs.capture(&created.id, &payment).await;
    subs.refund(
        &created.id,
        &payment,
        json!({"status_callback_url": "https://integrator.example/r", "external_id": "GT-R"}),
    )
    .await;
    let ground = subs.ground().await;
    let a = &ground["agreements"][0];
    assert_eq!(a["agreementId"], json!(created.id));
    assert_eq!(a["providerId"], json!(subs.provider));
    assert_eq!(a["externalId"], json!("GT-1"));
    assert_eq!(a["plan"], json!("Brødklub"));
    assert_eq!(a["amountMinor"], json!(4_900));
    assert_eq!(a["mobilePhoneNumber"], json!("4512345678"));
    assert_eq!(a["oneOffPaymentId"], json!(payment));
    assert_eq!(a["history"].as_array().unwrap().len(), 2);
    let o = &ground["oneOffs"][0];
    assert_eq!(
        (o["amountMinor"].clone(), o["capturedAmountMinor"].clone()),
        (json!(10_000), json!(10_000))
    );
    assert_eq!(o["history"].as_array().unwrap().len(), 3);
    let r = &ground["refunds"][0];
    assert_eq!(
        (
            r["paymentId"].clone(),
            r["externalId"].clone(),
            r["amountMinor"].clone()
        ),
        (json!(payment), json!("GT-R"), json!(10_000))
    );
    subs.customer(json!({"action": "accept"})).await;
    subs.oidc.sim.post_json("/_sim/reset", json!({})).await.ok();
    let after = subs.ground().await;
    assert_eq!(after["agreements"], json!([]));
    assert_eq!(after["oneOffs"], json!([]));
    assert_eq!(after["refunds"], json!([]));
    let customers = subs.oidc.sim.get("/_sim/subscriptions/customers").await;
    assert_eq!(customers.ok()["customers"], json!([]));
}

#[tokio::test]
async fn the_other_lost_answers_of_create_one_off_and_capture_took_effect_too() {
    let subs = start_subs().await;
    subs.oidc
        .sim
        .fault(
            "subscriptionsCreateAgreement",
            "commitThenServerError",
            1,
            json!({}),
        )
        .await;
    subs_err(
        &subs.create(with_one_off("LS-1")).await,
        500,
        "InternalServerError",
        "simulated",
    );
    let ground = subs.ground().await;
    assert_eq!(ground["counters"]["agreementsPerExternalId"], json!({"LS-1": 1}));
    let id = ground["agreements"][0]["agreementId"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(subs.user_answer(INVOICE_USER, &id, "Accepted").await.status, 204);
    subs.oidc
        .sim
        .fault("subscriptionsCreateOneOff", "commitThenDrop", 1, json!({}))
        .await;
    let body = json!({"amount": "5.00", "external_id": "journal-11", "auto_reserve": true});
    dropped(
        &subs,
        Method::POST,
        &subs.agreement_path(&id, "/oneoffpayments"),
        Some(body),
    )
    .await;
    let list = subs
        .call(Method::GET, &subs.agreement_path(&id, "/oneoffpayments"), None)
        .await;
    let lost = list
        .ok()
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["external_id"] == json!("journal-11"))
        .cloned();
    let lost = lost.expect("the one-off whose answer was lost is listed");
    assert_eq!(lost["status"], json!("Reserved"));
    subs.oidc
        .sim
        .fault(
            "subscriptionsCaptureOneOff",
            "commitThenServerError",
            1,
            json!({}),
        )
        .await;
    let payment = lost["id"].as_str().unwrap();
    subs_err(
        &subs.capture(&id, payment).await,
        500,
        "InternalServerError",
        "simulated",
    );
    assert_eq!(subs.one_off_status(&id, payment).await, "Captured");
    let counters = subs.ground().await["counters"].clone();
    assert_eq!(
        counters["reservationsPerAgreement"],
        json!({ id.clone(): 2 }),
        "the first one-off and journal-11"
    );
    assert_eq!(counters["capturesPerAgreement"], json!({ id.clone(): 1 }));
}
