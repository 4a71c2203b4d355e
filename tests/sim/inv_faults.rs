//! Faults on the Invoice endpoints, above all a create whose answer is lost after the invoice
//! was made: the retry must not push a second invoice to the phone, and the ground truth
//! proves it. `/_sim/reset` forgets every invoice.

use super::inv_support::{inv_err, start_inv, APP};
use mposd::sim::fixtures::INVOICE_USER_PHONE;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_create_whose_connection_drops_after_commit_exists_and_its_retry_is_a_duplicate() {
    let inv = start_inv().await;
    inv.oidc
        .sim
        .fault("invoiceCreate", "commitThenDrop", 1, json!({}))
        .await;
    let body = inv.body("CD-1").await;
    let dropped = inv
        .oidc
        .sim
        .http
        .post(inv.oidc.sim.url(&inv.path("/invoices")))
        .header(APP[0].0, APP[0].1)
        .header(APP[1].0, APP[1].1)
        .bearer_auth(&inv.token)
        .json(&body)
        .timeout(Duration::from_secs(20))
        .send()
        .await;
    let err = dropped.expect_err("the connection closes without an answer");
    assert!(!err.is_timeout(), "dropped, not timed out: {err}");
    let ground = inv.ground().await;
    let invoices = ground["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["invoiceNumber"], json!("CD-1"));
    assert_eq!(ground["pushes"][INVOICE_USER_PHONE], json!(1));
    // The byte-identical retry is refused and pushes nothing.
    inv_err(&inv.create(body).await, 409, "DomainError", Some("10104"));
    assert_eq!(inv.pushes(INVOICE_USER_PHONE).await, 1);
    assert_eq!(inv.ground().await["invoices"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn commit_then_server_error_answers_500_in_the_invoice_format_after_creating() {
    let inv = start_inv().await;
    inv.oidc
        .sim
        .fault("invoiceCreateLink", "commitThenServerError", 1, json!({}))
        .await;
    let mut body = inv.body("CS-1").await;
    body.as_object_mut().unwrap().remove("ConsumerAlias");
    let resp = inv
        .call_with(
            Method::POST,
            &inv.path("/invoices/link"),
            Some(body.clone()),
            &[("CorrelationId", "c-500")],
        )
        .await;
    inv_err(&resp, 500, "ServerError", None);
    assert_eq!(resp.json["correlation_id"], json!("c-500"));
    let ground = inv.ground().await;
    assert_eq!(ground["invoices"][0]["kind"], json!("Link"));
    inv_err(&inv.create_link(body).await, 409, "DomainError", Some("10301"));
}

#[tokio::test]
async fn server_errors_and_401s_change_nothing() {
    let inv = start_inv().await;
    let id = inv.direct(inv.body("SE-1").await).await;
    inv.oidc
        .sim
        .fault("invoiceCancel", "serverError", 1, json!({}))
        .await;
    inv_err(&inv.cancel(&id).await, 500, "ServerError", None);
    assert_eq!(inv.status(&id).await, "created");
    inv.oidc
        .sim
        .fault("invoiceGetStatus", "unauthorized", 1, json!({}))
        .await;
    let status = inv
        .call(Method::GET, &inv.path(&format!("/invoices/{id}/status")), None)
        .await;
    assert_eq!(status.status, 401);
    assert_eq!(inv.status(&id).await, "created");
    assert_eq!(inv.oidc.sim.request_count("invoiceGetStatus").await, 3);
    assert_eq!(inv.oidc.sim.request_count("invoiceCancel").await, 1);
}

#[tokio::test]
async fn ground_truth_lists_every_invoice_and_reset_forgets_them() {
    let inv = start_inv().await;
    let id = inv.direct(inv.body("GT-1").await).await;
    let (link, _) = inv
        .link(json!({
            "InvoiceIssuer": mposd::sim::fixtures::DK_ISSUER,
            "TotalAmount": 99.5,
            "PaymentReference": "REF-2",
            "DueDate": inv.day(1).await,
            "InvoiceArticles": [{"ArticleDescription": "Coffee"}],
        }))
        .await;
    let ground = inv.ground().await;
    let list = ground["invoices"].as_array().unwrap();
    assert_eq!(list[0]["invoiceId"], json!(id));
    assert_eq!(list[0]["issuerId"], json!(mposd::sim::fixtures::DK_ISSUER));
    assert_eq!(list[0]["invoiceNumber"], json!("GT-1"));
    assert_eq!(list[0]["kind"], json!("Direct"));
    assert_eq!(list[0]["alias"], json!(INVOICE_USER_PHONE));
    assert_eq!(list[0]["totalAmountMinor"], json!(36_000));
    assert_eq!(list[0]["history"][0]["status"], json!("created"));
    assert_eq!(list[1]["invoiceId"], json!(link));
    assert_eq!(list[1]["paymentReference"], json!("REF-2"));
    assert_eq!(list[1]["alias"], json!(null));
    assert_eq!(list[1]["totalAmountMinor"], json!(9_950));
    assert_eq!(ground["pushes"], json!({INVOICE_USER_PHONE: 1}));
    inv.customer(json!({"phone": INVOICE_USER_PHONE, "action": "payNow"}))
        .await;
    inv.oidc.sim.post_json("/_sim/reset", json!({})).await.ok();
    let after = inv.ground().await;
    assert_eq!(after, json!({"invoices": [], "pushes": {}}));
    let customers = inv.oidc.sim.get("/_sim/invoice/customers").await;
    assert_eq!(customers.ok()["customers"], json!([]));
}
