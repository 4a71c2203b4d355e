//! The OIDC provider's token endpoint: the code and refresh grants, the tokens' claims and
//! signature, both refresh-token rotation modes, the sliding lifetime on the virtual clock,
//! revocation, the refresh whose answer is lost, and the gateway's bearer check.

use super::common::{fast_settings, start_with, str_field, DAY_MS, MINUTE_MS};
use super::oidc_support::*;
use mposd::sim::fixtures::{
    DK_MERCHANT_ID, DK_VAT, OIDC_ONETIME_CLIENT_ID, OIDC_ONETIME_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID,
    OIDC_REUSE_CLIENT_SECRET, PORTAL_OWNER_SUB,
};
use mposd::sim::Settings;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const ONE: (&str, &str) = (OIDC_ONETIME_CLIENT_ID, OIDC_ONETIME_CLIENT_SECRET);
const RE: (&str, &str) = (OIDC_REUSE_CLIENT_ID, OIDC_REUSE_CLIENT_SECRET);

#[tokio::test]
async fn the_code_buys_signed_300_second_tokens_with_the_merchant() {
    let oidc = start_oidc().await;
    let consented = oidc.consent(RE.0).await;
    let resp = oidc.exchange(RE.0, RE.1, &consented).await;
    let body = resp.ok().clone();
    assert_eq!(body["expires_in"], json!(300));
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["scope"], json!(SCOPE));
    let refresh = str_field(&body, "refresh_token");
    assert!(
        refresh.len() == 64 && refresh.bytes().all(|b| b.is_ascii_hexdigit()),
        "{refresh}"
    );

    let access = oidc.verified(&str_field(&body, "access_token"), AUDIENCE).await;
    assert_eq!(access["iss"], json!(ISSUER));
    assert_eq!(access["client_id"], json!(RE.0));
    assert_eq!(access["sub"], json!(PORTAL_OWNER_SUB));
    assert_eq!(access["merchant_id"], json!(DK_MERCHANT_ID));
    assert_eq!(
        access["scope"],
        json!(["openid", "offline_access", "invoice", "subscriptions"])
    );
    assert_eq!(access["idp"], json!("local"));
    assert_eq!(access["amr"], json!(["UserEnteredCode", "ServerProvidedKey"]));
    assert!(access["auth_time"].as_i64().is_some());
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["nbf"].as_i64().unwrap(),
        300
    );

    let id_token = str_field(&body, "id_token");
    let id = oidc.verified(&id_token, RE.0).await;
    assert_eq!(id["nonce"], json!(consented.request.nonce));
    assert_eq!(id["at_hash"], json!(half_hash(&str_field(&body, "access_token"))));
    assert_eq!(id["sub"], json!(PORTAL_OWNER_SUB));
    assert_eq!(
        jsonwebtoken::decode_header(&id_token).unwrap().alg,
        jsonwebtoken::Algorithm::RS256
    );

    let consents = oidc.consents().await;
    assert_eq!(consents[0]["refreshTokens"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_code_is_refused_when_reused_expired_foreign_or_redirected_elsewhere() {
    let oidc = start_oidc().await;
    // Reused.
    let consented = oidc.consent(RE.0).await;
    oidc.exchange(RE.0, RE.1, &consented).await.ok();
    oauth_err(&oidc.exchange(RE.0, RE.1, &consented).await, 400, "invalid_grant");
    // Issued to another client.
    let consented = oidc.consent(RE.0).await;
    oauth_err(
        &oidc.exchange(ONE.0, ONE.1, &consented).await,
        400,
        "invalid_grant",
    );
    // ...which does not spend it for its own client.
    oidc.exchange(RE.0, RE.1, &consented).await.ok();
    // Redirect URI not the authorize request's.
    let consented = oidc.consent(RE.0).await;
    let resp = oidc
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &consented.code),
                ("redirect_uri", "https://integrator.example/mobilepay/consent"),
                ("code_verifier", &consented.request.verifier),
                ("client_id", RE.0),
                ("client_secret", RE.1),
            ],
            None,
        )
        .await;
    oauth_err(&resp, 400, "invalid_grant");
    // Wrong verifier; the code is spent with it.
    let consented = oidc.consent(RE.0).await;
    let mut wrong = Consented {
        request: consented.request.clone(),
        code: consented.code.clone(),
        id_token: consented.id_token.clone(),
    };
    wrong.request.verifier = pkce().0;
    oauth_err(&oidc.exchange(RE.0, RE.1, &wrong).await, 400, "invalid_grant");
    oauth_err(&oidc.exchange(RE.0, RE.1, &consented).await, 400, "invalid_grant");
    // Expired: codes live 5 minutes on the virtual clock.
    let consented = oidc.consent(RE.0).await;
    oidc.sim.advance_ms(5 * MINUTE_MS).await;
    oauth_err(&oidc.exchange(RE.0, RE.1, &consented).await, 400, "invalid_grant");
    // Just inside the 5 minutes it works.
    let consented = oidc.consent(RE.0).await;
    oidc.sim.advance_ms(5 * MINUTE_MS - 10_000).await;
    oidc.exchange(RE.0, RE.1, &consented).await.ok();
}

#[tokio::test]
async fn malformed_token_requests_and_bad_clients_get_rfc_6749_errors() {
    let oidc = start_oidc().await;
    let consented = oidc.consent(RE.0).await;
    let code_form = |secret: &'static str| {
        vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", consented.code.clone()),
            ("redirect_uri", consented.request.get("redirect_uri").to_string()),
            ("code_verifier", consented.request.verifier.clone()),
            ("client_id", RE.0.to_string()),
            ("client_secret", secret.to_string()),
        ]
    };
    let send = |form: Vec<(&'static str, String)>, basic: Option<(&'static str, &'static str)>| {
        let oidc = &oidc;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            oidc.token(&form, basic).await
        }
    };
    let wrong_secret = send(code_form("wrong"), None).await;
    oauth_err(&wrong_secret, 401, "invalid_client");
    let basic_wrong = send(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "x".into()),
        ],
        Some((RE.0, "wrong")),
    )
    .await;
    oauth_err(&basic_wrong, 401, "invalid_client");
    let unknown = send(
        vec![
            ("grant_type", "refresh_token".into()),
            ("refresh_token", "x".into()),
        ],
        Some(("nobody", RE.1)),
    )
    .await;
    oauth_err(&unknown, 401, "invalid_client");
    let no_secret: Vec<_> = code_form("")
        .into_iter()
        .filter(|(k, _)| *k != "client_secret")
        .collect();
    oauth_err(&send(no_secret, None).await, 401, "invalid_client");
    let mut two_ways = code_form(RE.1);
    two_ways.retain(|(k, _)| *k != "client_id");
    oauth_err(&send(two_ways, Some(RE)).await, 400, "invalid_request");
    let no_verifier: Vec<_> = code_form(RE.1)
        .into_iter()
        .filter(|(k, _)| *k != "code_verifier")
        .collect();
    oauth_err(&send(no_verifier, None).await, 400, "invalid_request");
    let no_redirect: Vec<_> = code_form(RE.1)
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();
    oauth_err(&send(no_redirect, None).await, 400, "invalid_request");
    let client_credentials = vec![("grant_type", "client_credentials".to_string())];
    oauth_err(
        &send(client_credentials, Some(RE)).await,
        400,
        "unauthorized_client",
    );
    let unknown_grant = vec![("grant_type", "urn:example:magic".to_string())];
    oauth_err(
        &send(unknown_grant, Some(RE)).await,
        400,
        "unsupported_grant_type",
    );
    let json_body = oidc
        .sim
        .raw(
            Method::POST,
            TOKEN,
            &[],
            Some(b"{\"grant_type\":\"refresh_token\"}".to_vec()),
        )
        .await;
    oauth_err(&json_body, 400, "invalid_request");
    // None of these spent the code: the proper request still redeems it.
    send(code_form(RE.1), None).await.ok();
}

#[tokio::test]
async fn reuse_clients_keep_their_refresh_token_and_its_lifetime_slides() {
    let oidc = start_oidc().await;
    let first = oidc.tokens(RE.0, RE.1).await;
    let refresh = str_field(&first, "refresh_token");
    // 13 months (395 days) after each use, not after the consent.
    for _ in 0..3 {
        oidc.sim.advance_ms(394 * DAY_MS).await;
        let body = oidc.refresh(RE.0, RE.1, &refresh).await.ok().clone();
        assert_eq!(str_field(&body, "refresh_token"), refresh);
        assert_eq!(body["expires_in"], json!(300));
        let access = oidc.verified(&str_field(&body, "access_token"), AUDIENCE).await;
        assert_eq!(access["merchant_id"], json!(DK_MERCHANT_ID));
        let id = oidc.verified(&str_field(&body, "id_token"), RE.0).await;
        assert_eq!(id["at_hash"], json!(half_hash(&str_field(&body, "access_token"))));
        assert!(id.get("nonce").is_none());
    }
    assert_eq!(oidc.consents().await[0]["refreshes"], json!(3));
    oidc.sim.advance_ms(395 * DAY_MS).await;
    oauth_err(&oidc.refresh(RE.0, RE.1, &refresh).await, 400, "invalid_grant");
    assert_eq!(oidc.consents().await[0]["refreshTokens"], json!([]));
}

#[tokio::test]
async fn the_refresh_lifetime_is_a_setting() {
    let settings = Settings {
        oidc_refresh_lifetime: Duration::from_secs(3600),
        ..fast_settings()
    };
    let oidc = oidc_on(start_with(settings).await);
    let refresh = str_field(&oidc.tokens(RE.0, RE.1).await, "refresh_token");
    oidc.sim.advance_ms(3_590_000).await;
    oidc.refresh(RE.0, RE.1, &refresh).await.ok();
    oidc.sim.advance_ms(3_600_000).await;
    oauth_err(&oidc.refresh(RE.0, RE.1, &refresh).await, 400, "invalid_grant");
}

#[tokio::test]
async fn one_time_clients_get_a_new_refresh_token_and_the_old_one_dies() {
    let oidc = start_oidc().await;
    let mut refresh = str_field(&oidc.tokens(ONE.0, ONE.1).await, "refresh_token");
    for round in 1..=2 {
        // A code_verifier sent with a refresh is ignored.
        let resp = oidc
            .token(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh),
                    ("code_verifier", &pkce().0),
                ],
                Some(ONE),
            )
            .await;
        let next = str_field(resp.ok(), "refresh_token");
        assert_ne!(next, refresh);
        oauth_err(&oidc.refresh(ONE.0, ONE.1, &refresh).await, 400, "invalid_grant");
        let consent = &oidc.consents().await[0];
        assert_eq!(consent["refreshes"], json!(round));
        assert_eq!(consent["refreshTokens"].as_array().unwrap().len(), 1);
        refresh = next;
    }
    // Another client cannot use it.
    oauth_err(&oidc.refresh(RE.0, RE.1, &refresh).await, 400, "invalid_grant");
    oidc.refresh(ONE.0, ONE.1, &refresh).await.ok();
}

#[tokio::test]
async fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
    let oidc = start_oidc().await;
    let refresh = str_field(&oidc.tokens(RE.0, RE.1).await, "refresh_token");
    let narrow = oidc
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "openid invoice"),
            ],
            Some(RE),
        )
        .await;
    let body = narrow.ok().clone();
    assert_eq!(body["scope"], json!("openid invoice"));
    let access = oidc.verified(&str_field(&body, "access_token"), AUDIENCE).await;
    assert_eq!(access["scope"], json!(["openid", "invoice"]));
    let wide = oidc
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "openid webhooks"),
            ],
            Some(RE),
        )
        .await;
    oauth_err(&wide, 400, "invalid_scope");
    // The full consent is still there for the next refresh.
    assert_eq!(
        oidc.refresh(RE.0, RE.1, &refresh).await.ok()["scope"],
        json!(SCOPE)
    );
}

#[tokio::test]
async fn revocation_stops_refreshes_while_issued_access_tokens_live_out_their_300_seconds() {
    let oidc = start_oidc().await;
    let body = oidc.tokens(RE.0, RE.1).await;
    let access = str_field(&body, "access_token");
    let revoke = json!({"clientId": RE.0, "merchantVat": DK_VAT});
    oidc.sim.post_json("/_sim/oidc/revoke", revoke.clone()).await.ok();
    assert!(oidc.consents().await.is_empty());
    oauth_err(
        &oidc.refresh(RE.0, RE.1, &str_field(&body, "refresh_token")).await,
        400,
        "invalid_grant",
    );
    oidc.sim.advance_ms(290_000).await;
    assert_eq!(
        oidc.bearer(&access).await.ok()["merchantId"],
        json!(DK_MERCHANT_ID)
    );
    oidc.sim.advance_ms(10_000).await;
    assert_eq!(oidc.bearer(&access).await.status, 401);
    // Nothing left to revoke; a new consent needs a new authorize round and works again.
    assert_eq!(oidc.sim.post_json("/_sim/oidc/revoke", revoke).await.status, 404);
    let again = oidc.tokens(RE.0, RE.1).await;
    oidc.refresh(RE.0, RE.1, &str_field(&again, "refresh_token"))
        .await
        .ok();
}

#[tokio::test]
async fn a_one_time_refresh_whose_answer_is_lost_leaves_only_a_dead_refresh_token() {
    let oidc = start_oidc().await;
    let refresh = str_field(&oidc.tokens(ONE.0, ONE.1).await, "refresh_token");
    oidc.sim
        .fault("oidcToken", "commitThenServerError", 1, json!({}))
        .await;
    let lost = oidc.refresh(ONE.0, ONE.1, &refresh).await;
    oauth_err(&lost, 500, "server_error");
    assert!(lost.json.get("refresh_token").is_none());
    // The rotation happened: the token the client still has is dead.
    oauth_err(&oidc.refresh(ONE.0, ONE.1, &refresh).await, 400, "invalid_grant");
    let consent = &oidc.consents().await[0];
    assert_eq!(consent["refreshes"], json!(1));
    assert_eq!(
        consent["refreshTokens"].as_array().unwrap().len(),
        1,
        "alive, but nobody has it"
    );

    // The same with the connection dropped instead of a 500.
    let refresh = str_field(&oidc.tokens(ONE.0, ONE.1).await, "refresh_token");
    oidc.sim.fault("oidcToken", "commitThenDrop", 1, json!({})).await;
    let dropped = super::common::http_client()
        .post(oidc.sim.url(TOKEN))
        .basic_auth(ONE.0, Some(ONE.1))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await;
    let err = dropped.expect_err("the connection is closed without an answer");
    assert!(!err.is_timeout(), "dropped, not timed out: {err}");
    oauth_err(&oidc.refresh(ONE.0, ONE.1, &refresh).await, 400, "invalid_grant");
}

#[tokio::test]
async fn a_reuse_refresh_whose_answer_is_lost_can_be_retried() {
    let oidc = start_oidc().await;
    let refresh = str_field(&oidc.tokens(RE.0, RE.1).await, "refresh_token");
    oidc.sim
        .fault("oidcToken", "commitThenServerError", 1, json!({}))
        .await;
    oauth_err(&oidc.refresh(RE.0, RE.1, &refresh).await, 500, "server_error");
    oidc.refresh(RE.0, RE.1, &refresh).await.ok();
    assert_eq!(oidc.consents().await[0]["refreshes"], json!(2));
}

#[tokio::test]
async fn the_gateway_check_returns_merchant_and_scopes_or_401() {
    let oidc = start_oidc().await;
    let body = oidc.tokens(RE.0, RE.1).await;
    let access = str_field(&body, "access_token");
    let ok = oidc.bearer(&access).await;
    let seen = ok.ok();
    assert_eq!(seen["merchantId"], json!(DK_MERCHANT_ID));
    assert_eq!(seen["clientId"], json!(RE.0));
    assert_eq!(
        seen["scopes"],
        json!(["openid", "offline_access", "invoice", "subscriptions"])
    );

    let missing = oidc.sim.get("/_sim/oidc/bearer").await;
    assert_eq!(missing.status, 401);
    assert!(missing.text.is_empty());
    // Another signature, a token of another API, a refresh token: all the same vague 401.
    let mut parts: Vec<String> = access.split('.').map(String::from).collect();
    parts[2] = parts[2].chars().rev().collect();
    let v10 = oidc
        .sim
        .token(
            mposd::sim::fixtures::DEMO_CLIENT_ID,
            mposd::sim::fixtures::DEMO_CLIENT_SECRET,
            None,
        )
        .await;
    for token in [parts.join("."), v10, str_field(&body, "refresh_token")] {
        assert_eq!(oidc.bearer(&token).await.status, 401);
    }
    oidc.sim.advance_ms(300_000).await;
    assert_eq!(oidc.bearer(&access).await.status, 401);
}

#[tokio::test]
async fn introspection_needs_a_client_and_tells_whether_a_token_is_active() {
    let oidc = start_oidc().await;
    let body = oidc.tokens(RE.0, RE.1).await;
    let access = str_field(&body, "access_token");
    let introspect = |token: String, basic: Option<(&'static str, &'static str)>| {
        let oidc = &oidc;
        async move {
            let mut req = super::common::http_client()
                .post(oidc.sim.url(INTROSPECT))
                .form(&[("token", token.as_str())]);
            if let Some((id, secret)) = basic {
                req = req.basic_auth(id, Some(secret));
            }
            super::common::Resp::from(req.send().await.unwrap()).await
        }
    };
    oauth_err(&introspect(access.clone(), None).await, 401, "invalid_client");
    let active = introspect(access.clone(), Some(ONE)).await;
    let seen = active.ok();
    assert_eq!(seen["active"], json!(true));
    assert_eq!(seen["merchant_id"], json!(DK_MERCHANT_ID));
    assert_eq!(seen["client_id"], json!(RE.0));
    assert_eq!(seen["scope"], json!(SCOPE));
    let refresh = introspect(str_field(&body, "refresh_token"), Some(RE)).await;
    assert_eq!(refresh.ok(), &json!({"active": false}));
    oidc.sim.advance_ms(300_000).await;
    assert_eq!(introspect(access, Some(RE)).await.ok(), &json!({"active": false}));
}

#[tokio::test]
async fn the_request_log_keeps_no_secret_code_or_token() {
    let oidc = start_oidc().await;
    let consented = oidc.consent(ONE.0).await;
    let body = oidc.exchange(ONE.0, ONE.1, &consented).await.ok().clone();
    let refreshed = oidc
        .refresh(ONE.0, ONE.1, &str_field(&body, "refresh_token"))
        .await
        .ok()
        .clone();
    let basic = oidc
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &str_field(&refreshed, "refresh_token")),
            ],
            Some(ONE),
        )
        .await;
    basic.ok();
    let log = oidc.sim.get("/_sim/requests").await;
    assert_eq!(log.ok()["counts"]["oidcToken"], json!(3));
    assert_eq!(log.json["counts"]["oidcAuthorize"], json!(1));
    let consents = oidc.sim.get("/_sim/oidc/consents").await;
    for text in [&log.text, &consents.text] {
        for secret in [
            ONE.1.to_string(),
            consented.code.clone(),
            str_field(&body, "refresh_token"),
            str_field(&refreshed, "refresh_token"),
            str_field(&body, "access_token"),
        ] {
            assert!(!text.contains(&secret), "{secret} leaked into {text}");
        }
    }
}
