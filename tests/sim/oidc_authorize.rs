//! The OIDC provider's front channel: discovery, JWKS and the hybrid flow's authorize
//! endpoint in both response modes, the portal user's login and consent, and every rule that
//! makes a request invalid (answered by the generic page, never by a redirect).

use super::common::str_field;
use super::oidc_support::*;
use mposd::sim::fixtures::{
    DK_MERCHANT_ID, OIDC_INVOICE_CLIENT_ID, OIDC_LOOPBACK_REDIRECT, OIDC_REUSE_CLIENT_ID,
    OIDC_REUSE_CLIENT_SECRET, OIDC_WEB_REDIRECT, PORTAL_KIOSK, PORTAL_OWNER, PORTAL_OWNER_SUB,
};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn discovery_points_at_the_simulator_under_a_foreign_issuer() {
    let oidc = start_oidc().await;
    let base = &oidc.sim.base;
    for path in [DISCOVERY, "/account/.well-known/openid-configuration"] {
        let doc = oidc.sim.get(path).await.ok().clone();
        assert_eq!(doc["issuer"], json!(ISSUER));
        assert!(!ISSUER.starts_with(base.as_str()));
        let endpoints = [
            (
                "jwks_uri",
                "/merchant-authentication-openidconnect/.well-known/openid-configuration/jwks",
            ),
            ("authorization_endpoint", AUTHORIZE),
            ("token_endpoint", TOKEN),
            ("end_session_endpoint", "/account/connect/endsession"),
            ("introspection_endpoint", INTROSPECT),
        ];
        for (name, path) in endpoints {
            assert_eq!(doc[name], json!(format!("{base}{path}")), "{name}");
        }
        assert_eq!(doc["response_types_supported"], json!(["code id_token"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }
    let doc = oidc.sim.get(DISCOVERY).await.ok().clone();
    let jwks = oidc
        .sim
        .http
        .get(str_field(&doc, "jwks_uri"))
        .send()
        .await
        .unwrap();
    let jwks: serde_json::Value = jwks.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"], &key["e"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"), &json!("AQAB"))
    );
    assert_eq!(str_field(key, "kid").len(), 40);
    assert!(str_field(key, "n").len() > 300, "a 2048-bit modulus");
}

#[tokio::test]
async fn fragment_mode_redirects_with_code_state_and_a_signed_id_token() {
    let oidc = start_oidc().await;
    let request = Request::new(OIDC_REUSE_CLIENT_ID);
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
    let fields = oidc.authorize(&request).await.fragment(OIDC_LOOPBACK_REDIRECT);
    assert_eq!(fields["state"], request.state);
    let code = &fields["code"];
    assert_eq!(code.len(), 64);
    let id = oidc.verified(&fields["id_token"], OIDC_REUSE_CLIENT_ID).await;
    assert_eq!(id["nonce"], json!(request.nonce));
    assert_eq!(id["c_hash"], json!(half_hash(code)));
    assert_eq!(id["sub"], json!(PORTAL_OWNER_SUB));
    assert_eq!(id["idp"], json!("local"));
    assert!(id["auth_time"].as_i64().is_some());

    let consents = oidc.consents().await;
    assert_eq!(consents.len(), 1);
    assert_eq!(consents[0]["clientId"], json!(OIDC_REUSE_CLIENT_ID));
    assert_eq!(consents[0]["merchantId"], json!(DK_MERCHANT_ID));
    assert_eq!(consents[0]["user"], json!(PORTAL_OWNER));
    assert_eq!(
        consents[0]["refreshTokens"],
        json!([]),
        "no refresh token before the code is redeemed"
    );
}

#[tokio::test]
async fn form_post_mode_answers_a_self_submitting_form_and_is_the_default() {
    let oidc = start_oidc().await;
    for mode in [Some("form_post"), None] {
        let request = Request::new(OIDC_REUSE_CLIENT_ID)
            .with("response_mode", mode)
            .with("redirect_uri", Some(OIDC_WEB_REDIRECT));
        oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
        let fields = oidc.authorize(&request).await.form_post(OIDC_WEB_REDIRECT);
        assert_eq!(fields["state"], request.state);
        let id = oidc.verified(&fields["id_token"], OIDC_REUSE_CLIENT_ID).await;
        assert_eq!(id["c_hash"], json!(half_hash(&fields["code"])));
        // The code is redeemed with HTTP Basic client authentication.
        let resp = oidc
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &fields["code"]),
                    ("redirect_uri", OIDC_WEB_REDIRECT),
                    ("code_verifier", &request.verifier),
                ],
                Some((OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET)),
            )
            .await;
        assert_eq!(resp.ok()["token_type"], json!("Bearer"));
    }
}

#[tokio::test]
async fn without_a_login_the_login_page_is_shown_and_the_same_request_works_after_it() {
    let oidc = start_oidc().await;
    let request = Request::new(OIDC_REUSE_CLIENT_ID);
    let page = oidc.authorize(&request).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.location.is_none());
    assert!(page.text.contains("/_sim/oidc/login"), "{}", page.text);
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
    // The reload carries the same nonce; it was not spent by the login page.
    let fields = oidc.authorize(&request).await.fragment(OIDC_LOOPBACK_REDIRECT);
    assert_eq!(fields["state"], request.state);
}

#[tokio::test]
async fn a_declined_consent_redirects_access_denied_and_grants_nothing() {
    let oidc = start_oidc().await;
    let request = Request::new(OIDC_REUSE_CLIENT_ID);
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "decline").await;
    let fields = oidc.authorize(&request).await.fragment(OIDC_LOOPBACK_REDIRECT);
    assert_eq!(fields["error"], "access_denied");
    assert_eq!(fields["state"], request.state);
    assert!(!fields.contains_key("code"));
    assert!(oidc.consents().await.is_empty());
}

#[tokio::test]
async fn a_consent_already_given_skips_the_consent_screen() {
    let oidc = start_oidc().await;
    oidc.consent(OIDC_REUSE_CLIENT_ID).await;
    // The user would decline the screen, but it is not shown.
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "decline").await;
    let fields = oidc
        .authorize(&Request::new(OIDC_REUSE_CLIENT_ID))
        .await
        .fragment(OIDC_LOOPBACK_REDIRECT);
    assert!(fields.contains_key("code"), "{fields:?}");
    assert_eq!(oidc.consents().await.len(), 1);
}

#[tokio::test]
async fn a_reused_nonce_is_refused() {
    let oidc = start_oidc().await;
    let consented = oidc.consent(OIDC_REUSE_CLIENT_ID).await;
    let (_, challenge) = pkce();
    let replay = Request::new(OIDC_REUSE_CLIENT_ID)
        .with("nonce", Some(&consented.request.nonce))
        .with("code_challenge", Some(&challenge));
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
    oidc.authorize(&replay)
        .await
        .unauthorized("nonce was used before");
}

#[tokio::test]
async fn invalid_requests_get_the_unauthorized_page_and_no_redirect() {
    let oidc = start_oidc().await;
    let base = || Request::new(OIDC_REUSE_CLIENT_ID);
    let cases = [
        (
            base().with("redirect_uri", Some("http://127.0.0.1:7890/other")),
            "redirect_uri is not registered",
        ),
        (
            base().with("redirect_uri", Some("http://127.0.0.1:7890")),
            "redirect_uri is not registered",
        ),
        (base().with("client_id", Some("unknown")), "unknown client_id"),
        (base().with("code_challenge", None), "code_challenge is missing"),
        (
            base().with("code_challenge_method", None),
            "code_challenge_method is missing",
        ),
        (
            base().with("code_challenge_method", Some("plain")),
            "code_challenge_method must be S256",
        ),
        (base().with("code_challenge", Some("too-short")), "43 to 128"),
        (
            base().with("merchant_vat", Some("DK1234567")),
            "merchant_vat is not DK or FI",
        ),
        (
            base().with("merchant_vat", Some("SE12345678")),
            "merchant_vat is not DK or FI",
        ),
        (base().with("merchant_vat", None), "merchant_vat is missing"),
        (
            base().with("merchant_vat", Some("DK00000000")),
            "not a MobilePay merchant",
        ),
        (base().with("state", None), "state is missing"),
        (base().with("nonce", None), "nonce is missing"),
        (base().with("response_type", Some("code")), "response_type"),
        (base().with("response_mode", Some("query")), "response_mode"),
        (base().with("scope", Some("openid invoice")), "offline_access"),
        (
            Request::new(OIDC_INVOICE_CLIENT_ID),
            "scope &quot;subscriptions&quot; is not allowed",
        ),
    ];
    for (request, reason) in cases {
        // A logged-in user makes no difference to an invalid request.
        oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
        oidc.authorize(&request).await.unauthorized(reason);
    }
    assert!(oidc.consents().await.is_empty());
}

#[tokio::test]
async fn the_user_must_be_allowed_to_act_for_the_merchant_vat() {
    let oidc = start_oidc().await;
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_KIOSK, "approve").await;
    oidc.authorize(&Request::new(OIDC_REUSE_CLIENT_ID))
        .await
        .unauthorized("may not act for merchant_vat");
    // The owner of the DK merchant may; so may they for their Finnish company.
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
    let fi = Request::new(OIDC_REUSE_CLIENT_ID).with("merchant_vat", Some("FI12345678"));
    assert!(oidc
        .authorize(&fi)
        .await
        .fragment(OIDC_LOOPBACK_REDIRECT)
        .contains_key("code"));
    assert_eq!(oidc.consents().await[0]["merchantVat"], json!("FI12345678"));
}

#[tokio::test]
async fn end_session_logs_the_portal_user_out() {
    let oidc = start_oidc().await;
    oidc.login(OIDC_REUSE_CLIENT_ID, PORTAL_OWNER, "approve").await;
    let out = oidc.sim.get("/account/connect/endsession").await;
    assert_eq!(out.status, 200);
    let page = oidc.authorize(&Request::new(OIDC_REUSE_CLIENT_ID)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Log in"), "{}", page.text);
}

#[tokio::test]
async fn login_refuses_unknown_clients_and_users() {
    let oidc = start_oidc().await;
    let unknown_user = oidc
        .sim
        .post_json(
            "/_sim/oidc/login",
            json!({"clientId": OIDC_REUSE_CLIENT_ID, "user": "nobody"}),
        )
        .await;
    assert_eq!(unknown_user.status, 400, "{}", unknown_user.text);
    let unknown_client = oidc
        .sim
        .post_json(
            "/_sim/oidc/login",
            json!({"clientId": "nobody", "user": PORTAL_OWNER}),
        )
        .await;
    assert_eq!(unknown_client.status, 400, "{}", unknown_client.text);
}

#[tokio::test]
async fn fixtures_replace_the_clients_merchants_and_portal_users() {
    let mut fixtures = serde_json::to_value(mposd::sim::Fixtures::default()).unwrap();
    fixtures["oidc"] = json!({
        "clients": [{
            "clientId": "shop-app",
            "clientSecret": "shop-secret",
            "redirectUris": ["https://shop.example/consent"],
            "refreshTokenUsage": "OneTime",
            "scopes": ["subscriptions"]
        }],
        "merchants": [{"vat": "FI87654321", "merchantId": "11111111-2222-4333-8444-555555555555", "name": "Kauppa"}],
        "users": [{"login": "kauppias@example.fi", "sub": "66666666-7777-4888-9999-000000000000", "merchants": ["FI87654321"]}]
    });
    let fixtures: mposd::sim::Fixtures = serde_json::from_value(fixtures).unwrap();
    fixtures.validate().unwrap();
    let sim = super::common::start_with_fixtures(super::common::fast_settings(), fixtures).await;
    let oidc = oidc_on(sim);
    let request = Request::new("shop-app")
        .with("redirect_uri", Some("https://shop.example/consent"))
        .with("scope", Some("openid offline_access subscriptions"))
        .with("merchant_vat", Some("FI87654321"));
    oidc.login("shop-app", "kauppias@example.fi", "approve").await;
    let fields = oidc
        .authorize(&request)
        .await
        .fragment("https://shop.example/consent");
    let resp = oidc
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &fields["code"]),
                ("redirect_uri", "https://shop.example/consent"),
                ("code_verifier", &request.verifier),
            ],
            Some(("shop-app", "shop-secret")),
        )
        .await;
    let access = oidc
        .verified(&str_field(resp.ok(), "access_token"), AUDIENCE)
        .await;
    assert_eq!(
        access["merchant_id"],
        json!("11111111-2222-4333-8444-555555555555")
    );
    assert_eq!(access["sub"], json!("66666666-7777-4888-9999-000000000000"));
    // The built-in client and portal user are gone.
    oidc.authorize(&Request::new(OIDC_REUSE_CLIENT_ID))
        .await
        .unauthorized("unknown client_id");
    let login = oidc
        .sim
        .post_json(
            "/_sim/oidc/login",
            json!({"clientId": "shop-app", "user": PORTAL_OWNER}),
        )
        .await;
    assert_eq!(login.status, 400, "{}", login.text);
}
