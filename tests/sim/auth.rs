//! Integrator authentication (reference §3, docs/simulator.md "Tokens").

use crate::common::*;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_VAT, OTHER_CLIENT_ID};
use mposd::sim::Settings;
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const TOKEN_PATH: &str = "/integrator-authentication/connect/token";

#[tokio::test]
async fn token_answer_has_the_documented_fields_and_default_lifetime() {
    let sim = start_with(Settings::default()).await;
    let resp = sim
        .token_request(
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            &[("grant_type", "client_credentials")],
        )
        .await;
    let body = resp.ok();
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["expires_in"], json!(3700));
    assert_eq!(body["token_type"], json!("Bearer"));
    assert_eq!(body["scope"], json!("integrator_scope"));
    let claims = jwt_claims(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(claims["client_id"], json!(DEMO_CLIENT_ID));
    assert!(claims.get("merchant_vat").is_none(), "{claims}");
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    assert_eq!(exp.zip(iat).map(|(e, i)| e - i), Some(3700), "{claims}");
}

#[tokio::test]
async fn merchant_vat_makes_a_merchant_locked_token() {
    let sim = start().await;
    let token = sim.token(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Some(DK_VAT)).await;
    assert_eq!(jwt_claims(&token)["merchant_vat"], json!(DK_VAT));
}

#[tokio::test]
async fn expires_in_follows_the_setting() {
    let sim = start_with(Settings {
        token_lifetime: Duration::from_secs(120),
        ..fast_settings()
    })
    .await;
    let resp = sim
        .token_request(
            DEMO_CLIENT_ID,
            DEMO_CLIENT_SECRET,
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(resp.ok()["expires_in"], json!(120));
}

#[tokio::test]
async fn bad_credentials_get_401_invalid_client() {
    let sim = start().await;
    let grant = [("grant_type", "client_credentials")];
    for (id, secret) in [
        (DEMO_CLIENT_ID, "wrong-secret"),
        ("11111111-2222-3333-4444-555555555555", DEMO_CLIENT_SECRET),
        (OTHER_CLIENT_ID, DEMO_CLIENT_SECRET),
    ] {
        let resp = sim.token_request(id, secret, &grant).await;
        assert_eq!(resp.status, 401, "{id}: {}", resp.text);
        assert_eq!(resp.json["error"], json!("invalid_client"), "{}", resp.text);
    }
    let no_auth = sim
        .raw(
            Method::POST,
            TOKEN_PATH,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(b"grant_type=client_credentials".to_vec()),
        )
        .await;
    assert_eq!(no_auth.status, 401, "{}", no_auth.text);
}

#[tokio::test]
async fn x_ibm_client_id_is_optional_but_must_match() {
    let sim = start().await;
    let send = |client_header: &'static str| {
        sim.http
            .post(sim.url(TOKEN_PATH))
            .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
            .header("x-ibm-client-id", client_header)
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    let matching = send(DEMO_CLIENT_ID).await.expect("token request");
    assert_eq!(matching.status().as_u16(), 200);
    let other = send(OTHER_CLIENT_ID).await.expect("token request");
    assert_eq!(other.status().as_u16(), 401);
}

#[tokio::test]
async fn other_grant_types_and_malformed_vat_are_refused() {
    let sim = start().await;
    let resp = sim
        .token_request(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, &[("grant_type", "password")])
        .await;
    assert_eq!(resp.status, 400, "{}", resp.text);
    assert_eq!(resp.json["error"], json!("unsupported_grant_type"));

    for vat in ["DK-12345678", "SE12345678", "DK1234567"] {
        let resp = sim
            .token_request(
                DEMO_CLIENT_ID,
                DEMO_CLIENT_SECRET,
                &[("grant_type", "client_credentials"), ("merchant_vat", vat)],
            )
            .await;
        assert_eq!(resp.status, 400, "{vat}: {}", resp.text);
        assert_eq!(resp.json["error"], json!("invalid_request"), "{vat}");
    }
}

#[tokio::test]
async fn pos_calls_need_a_valid_bearer_token() {
    let sim = start().await;
    let api = sim.api().await;
    api.get("/stores").await.ok();

    let headers = [
        ("x-mobilepay-client-system-version", VERSION),
        ("x-mobilepay-merchant-vat-number", DK_VAT),
    ];
    sim.raw(Method::GET, "/pos/v10/stores", &headers, None)
        .await
        .bare(401);
    let garbage = Api {
        token: "not-a-jwt".into(),
        ..api.clone()
    };
    garbage.get("/stores").await.bare(401);
    // A token with the right claims but a signature the simulator did not make.
    let mut parts: Vec<String> = api.token.split('.').map(str::to_string).collect();
    parts[2] = "c2lnbmF0dXJlLWZyb20tc29tZW9uZS1lbHNl".into();
    let forged = Api {
        token: parts.join("."),
        ..api.clone()
    };
    forged.get("/stores").await.bare(401);
}

#[tokio::test]
async fn tokens_expire_on_the_virtual_clock() {
    let sim = start_with(Settings {
        token_lifetime: Duration::from_secs(3700),
        ..fast_settings()
    })
    .await;
    let api = sim.api().await;
    sim.advance_ms(3_600_000).await;
    api.get("/stores").await.ok();
    sim.advance_ms(200_000).await;
    api.get("/stores").await.bare(401);
    let fresh = sim.api().await;
    fresh.get("/stores").await.ok();
}
