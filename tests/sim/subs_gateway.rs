//! The Subscriptions API's gateway, merchant and providers: the app pair and a bearer token
//! with scope `subscriptions` on every call, the merchant found from the token, its providers,
//! the callback URL, and no secret in the request log.

use super::inv_support::{consent_tokens, APP};
use super::subs_support::{agreement_body, not_found, start_subs, subs_err, API, SCOPE};
use mposd::sim::fixtures::{
    DK_MERCHANT_ID, DK_PROVIDER, DK_PROVIDER_PENDING, DK_VAT, FI_PROVIDER, INVOICE_GATEWAY_CLIENT_ID,
    OTHER_DK_VAT, PORTAL_KIOSK, PORTAL_OWNER,
};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn every_call_needs_the_app_pair_then_a_valid_token_with_the_subscriptions_scope() {
    let mut subs = start_subs().await;
    let me = format!("{API}/merchants/me");
    let auth = format!("Bearer {}", subs.token);
    let sim = &subs.oidc.sim;
    let cases: [(Vec<(&str, &str)>, &str); 2] = [
        (vec![("Authorization", &auth)], "Client id not registered."),
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
        assert_eq!(
            (resp.status, resp.json.clone()),
            (
                401,
                json!({"httpCode": "401", "httpMessage": "Unauthorized", "moreInformation": more})
            )
        );
    }
    for bearer in [None, Some("Bearer not-a-jwt".to_string())] {
        let mut headers = APP.to_vec();
        if let Some(b) = &bearer {
            headers.push(("Authorization", b));
        }
        let resp = sim.raw(Method::GET, &me, &headers, None).await;
        assert_eq!((resp.status, resp.text.as_str()), (401, ""));
    }
    subs.call(Method::GET, &me, None).await.ok();
    // A consent for Invoice only does not open Subscriptions.
    let invoice_only =
        consent_tokens(&subs.oidc, DK_VAT, PORTAL_OWNER, "openid offline_access invoice").await;
    let subs_token = subs.token.clone();
    subs.token = invoice_only["access_token"].as_str().unwrap().to_string();
    let refused = subs.create(agreement_body("S-1")).await;
    assert_eq!((refused.status, refused.text.as_str()), (401, ""));
    subs.token = subs_token;
    // The access token lives 300 s on the virtual clock.
    let old = subs.token.clone();
    subs.advance(300_000).await;
    subs.call(Method::GET, &me, None).await.ok();
    subs.token = old;
    assert_eq!(subs.call(Method::GET, &me, None).await.status, 401);
    // Nothing was made by refused calls; the log names secret headers without their values.
    assert_eq!(subs.ground().await["agreements"], json!([]));
    let log = subs.oidc.sim.get("/_sim/requests").await;
    let text = log.text.clone();
    assert!(!text.contains(&subs.token) && !text.contains("sim-secret-invoice-gateway"));
    assert!(log.ok()["counts"]["subscriptionsMerchantMe"].as_u64().unwrap() >= 5);
}

#[tokio::test]
async fn merchant_me_lists_the_providers_of_the_tokens_merchant() {
    let mut subs = start_subs().await;
    let me = subs.call(Method::GET, &format!("{API}/merchants/me"), None).await;
    let body = me.ok();
    assert_eq!(body["Id"], json!(DK_MERCHANT_ID));
    let providers = body["SubscriptionProviders"].as_array().unwrap();
    let ids: Vec<_> = providers
        .iter()
        .map(|p| p["SubscriptionProviderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [DK_PROVIDER, DK_PROVIDER_PENDING]);
    assert_eq!(providers[0]["Status"], json!("Enabled"));
    assert_eq!(providers[1]["Status"], json!("Pending"));
    for field in [
        "Name",
        "HomepageUrl",
        "CustomerServiceEmail",
        "SelfServicePortalUrl",
        "FaqUrl",
        "Address",
        "ZipCode",
        "City",
    ] {
        assert!(providers[0][field].is_string(), "{field}: {}", me.text);
    }
    // The kiosk has no provider; another merchant's provider is not found.
    let kiosk = consent_tokens(&subs.oidc, OTHER_DK_VAT, PORTAL_KIOSK, SCOPE).await;
    subs.token = kiosk["access_token"].as_str().unwrap().to_string();
    let me = subs.call(Method::GET, &format!("{API}/merchants/me"), None).await;
    assert_eq!(me.ok()["SubscriptionProviders"], json!([]));
    not_found(
        &subs
            .call(Method::GET, &format!("{API}/providers/{DK_PROVIDER}"), None)
            .await,
    );
    not_found(&subs.create(agreement_body("K-1")).await);
}

#[tokio::test]
async fn the_provider_callback_url_is_set_by_json_patch_with_https_only() {
    let subs = start_subs().await;
    let path = format!("{API}/providers/{DK_PROVIDER}");
    let before = subs.call(Method::GET, &path, None).await;
    assert_eq!(before.ok()["payment_status_callback_url"], json!(null));
    assert_eq!(before.json["status"], json!(1));
    assert_eq!(before.json["id"], json!(DK_PROVIDER));
    let patch = |url: &str| json!([{"op": "replace", "path": "/payment_status_callback_url", "value": url}]);
    let http = subs
        .call(Method::PATCH, &path, Some(patch("http://integrator.example/cb")))
        .await;
    subs_err(&http, 400, "BadRequest", "must use https scheme");
    let add = json!([{"op": "add", "path": "/payment_status_callback_url", "value": "https://x.example"}]);
    subs_err(
        &subs.call(Method::PATCH, &path, Some(add)).await,
        400,
        "BadRequest",
        "replace",
    );
    let other = json!([{"op": "replace", "path": "/name", "value": "x"}]);
    subs_err(
        &subs.call(Method::PATCH, &path, Some(other)).await,
        400,
        "BadRequest",
        "payment_status_callback_url",
    );
    let ok = subs
        .call(Method::PATCH, &path, Some(patch("https://integrator.example/cb")))
        .await;
    assert_eq!((ok.status, ok.text.as_str()), (204, ""));
    let after = subs.call(Method::GET, &path, None).await;
    assert_eq!(
        after.ok()["payment_status_callback_url"],
        json!("https://integrator.example/cb")
    );
    // The pending provider answers but may not create agreements; the FI merchant's is not ours.
    let pending = subs
        .call(
            Method::GET,
            &format!("{API}/providers/{DK_PROVIDER_PENDING}"),
            None,
        )
        .await;
    assert_eq!(pending.ok()["status"], json!(0));
    let refused = subs
        .call(
            Method::POST,
            &format!("{API}/providers/{DK_PROVIDER_PENDING}/agreements"),
            Some(agreement_body("P-1")),
        )
        .await;
    subs_err(&refused, 412, "PreconditionFailed", "not enabled");
    not_found(
        &subs
            .call(Method::GET, &format!("{API}/providers/{FI_PROVIDER}"), None)
            .await,
    );
}
