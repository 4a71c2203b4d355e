//! The Invoice API's gateway: the app pair and a bearer token with scope `invoice` on every
//! call, the merchant found from the token, and no secret in the request log.

use super::inv_support::{consent_tokens, inv_err, start_inv, API, APP};
use mposd::sim::fixtures::{
    DK_ISSUER, DK_ISSUER_DISABLED, DK_ISSUER_PENDING, DK_MERCHANT_ID, FI_MERCHANT_ID, FI_VAT,
    INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, OTHER_DK_VAT, PORTAL_KIOSK, PORTAL_OWNER,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_call_needs_the_app_pair_then_a_valid_token() {
    let mut inv = start_inv().await;
    let me = format!("{API}/merchants/me");
    let auth = format!("Bearer {}", inv.token);
    let sim = &inv.oidc.sim;
    let cases: [(Vec<(&str, &str)>, &str); 3] = [
        (vec![("Authorization", &auth)], "Client id not registered."),
        (
            vec![
                ("x-ibm-client-id", "someone-else"),
                ("x-ibm-client-secret", INVOICE_GATEWAY_CLIENT_SECRET),
                ("Authorization", &auth),
            ],
            "Client id not registered.",
        ),
        (
            vec![
                ("x-ibm-client-id", INVOICE_GATEWAY_CLIENT_ID),
                ("x-ibm-client-secret", "wrong"),
                ("Authorization", &auth),
            ],
            "Invalid client id or secret.",
        ),
    ];
    for (headers, more) in cases {
        let resp = sim.raw(Method::GET, &me, &headers, None).await;
        assert_eq!(resp.status, 401, "{}", resp.text);
        assert_eq!(
            resp.json,
            json!({"httpCode": "401", "httpMessage": "Unauthorized", "moreInformation": more})
        );
    }
    // The app pair alone is not enough; a bad token gets the vague bare 401.
    for bearer in [None, Some("Bearer not-a-jwt".to_string())] {
        let mut headers = APP.to_vec();
        if let Some(b) = &bearer {
            headers.push(("Authorization", b));
        }
        let resp = sim.raw(Method::GET, &me, &headers, None).await;
        assert_eq!(resp.status, 401);
        assert!(resp.text.is_empty(), "{}", resp.text);
    }
    let ok = inv.call(Method::GET, &me, None).await;
    assert_eq!(ok.ok(), &json!({"MerchantId": DK_MERCHANT_ID}));
    // The access token lives 300 s on the virtual clock.
    let old = inv.token.clone();
    inv.advance(300_000).await;
    let fresh = inv.call(Method::GET, &me, None).await;
    fresh.ok();
    inv.token = old;
    assert_eq!(inv.call(Method::GET, &me, None).await.status, 401);
}

#[tokio::test]
async fn a_token_without_the_invoice_scope_is_refused() {
    let mut inv = start_inv().await;
    let tokens = consent_tokens(
        &inv.oidc,
        mposd::sim::fixtures::DK_VAT,
        PORTAL_OWNER,
        "openid offline_access subscriptions",
    )
    .await;
    inv.token = tokens["access_token"].as_str().unwrap().to_string();
    let resp = inv.call(Method::GET, &format!("{API}/merchants/me"), None).await;
    assert_eq!((resp.status, resp.text.as_str()), (401, ""));
}

#[tokio::test]
async fn me_and_issuers_answer_for_the_tokens_merchant_only() {
    let mut inv = start_inv().await;
    let issuers = inv.call(Method::GET, &inv.path("/invoiceissuers"), None).await;
    let list = issuers.ok()["InvoiceIssuers"].as_array().unwrap().clone();
    let statuses: Vec<_> = list
        .iter()
        .map(|i| (i["Id"].clone(), i["Status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![
            (json!(DK_ISSUER), json!("enabled")),
            (json!(DK_ISSUER_PENDING), json!("pending")),
            (json!(DK_ISSUER_DISABLED), json!("disabled")),
        ]
    );
    assert_eq!(list[0]["AccountType"], json!("Account"));
    assert_eq!(list[0]["Name"], json!("Bageriet"));
    // Another merchant's id in the path.
    let foreign = inv
        .call(
            Method::GET,
            &format!("{API}/merchants/{FI_MERCHANT_ID}/invoiceissuers"),
            None,
        )
        .await;
    inv_err(&foreign, 409, "DomainError", Some("10302"));
    // The FI merchant's own token sees its own issuer.
    let fi = consent_tokens(&inv.oidc, FI_VAT, PORTAL_OWNER, "openid offline_access invoice").await;
    inv.token = fi["access_token"].as_str().unwrap().to_string();
    inv.merchant = FI_MERCHANT_ID.into();
    let me = inv.call(Method::GET, &format!("{API}/merchants/me"), None).await;
    assert_eq!(me.ok()["MerchantId"], json!(FI_MERCHANT_ID));
    let fi_issuers = inv.call(Method::GET, &inv.path("/invoiceissuers"), None).await;
    assert_eq!(fi_issuers.ok()["InvoiceIssuers"].as_array().unwrap().len(), 1);
    // A merchant without Invoice.
    let kiosk = consent_tokens(
        &inv.oidc,
        OTHER_DK_VAT,
        PORTAL_KIOSK,
        "openid offline_access invoice",
    )
    .await;
    inv.token = kiosk["access_token"].as_str().unwrap().to_string();
    let me = inv.call(Method::GET, &format!("{API}/merchants/me"), None).await;
    inv_err(&me, 404, "DomainError", Some("10302"));
}

#[tokio::test]
async fn the_request_log_names_the_calls_but_keeps_no_secret() {
    let inv = start_inv().await;
    inv.call_with(
        Method::GET,
        &format!("{API}/merchants/me"),
        None,
        &[("CorrelationId", "corr-1")],
    )
    .await
    .ok();
    let log = inv.oidc.sim.get("/_sim/requests").await;
    assert_eq!(log.ok()["counts"]["invoiceMerchantMe"], json!(1));
    let entry = log.json["log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == json!("invoiceMerchantMe"))
        .unwrap()
        .clone();
    assert_eq!(entry["correlationId"], json!("corr-1"));
    let secrets = entry["secretHeaders"].to_string().to_lowercase();
    assert!(
        secrets.contains("x-ibm-client-secret") && secrets.contains("authorization"),
        "{secrets}"
    );
    for secret in [INVOICE_GATEWAY_CLIENT_SECRET, inv.token.as_str()] {
        assert!(!log.text.contains(secret), "{secret} leaked");
    }
}
