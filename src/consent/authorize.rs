//! The loopback authorization flow of `mposd consent authorize`: for the sandbox (where
//! MobilePay allows an `http://127.0.0.1:…` redirect URI) or a laptop.
//!
//! The box (or laptop) listens on the redirect URI's loopback address and prints the authorize
//! URL; the merchant opens it in a browser (on a box, through `ssh -L`), logs in to the
//! MobilePay Portal and approves; the provider posts the answer (`response_mode=form_post`) to
//! the listener. The request carries a fresh `state` (checked on the answer, so a post that
//! did not come from this request is ignored), a fresh `nonce` (checked in the identity token)
//! and a PKCE S256 challenge, whose verifier goes with the code to the token endpoint.

use super::driver::Consent;
use super::provider::Tokens;
use super::store::{Record, RefreshToken};
use super::unix_now;
use axum::extract::State;
use axum::response::Html;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::sync::mpsc;

/// The address to listen on for `uri`: an `http://` URI on a loopback address with a port.
/// Anything else cannot be served by the box itself.
pub fn loopback_address(uri: &str) -> Result<SocketAddr, String> {
    let url = reqwest::Url::parse(uri).map_err(|e| format!("{uri:?} is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "{uri:?}: the loopback flow listens on http://127.0.0.1:PORT/ (an https redirect URI \
             belongs to the integrator's web service: use mposd consent import)"
        ));
    }
    let ip = match url.host_str() {
        Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| format!("{uri:?}: the host must be a loopback address"))?,
        None => return Err(format!("{uri:?} has no host")),
    };
    if !ip.is_loopback() {
        return Err(format!("{uri:?}: the host must be a loopback address"));
    }
    let port = url
        .port()
        .ok_or_else(|| format!("{uri:?} needs a port, e.g. http://127.0.0.1:7890/"))?;
    Ok(SocketAddr::new(ip, port))
}

/// `n` random bytes, base64url without padding.
fn random(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A PKCE pair: the verifier (64 characters, within RFC 7636's 43–128) and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random(48);
        Pkce {
            challenge: challenge(&verifier),
            verifier,
        }
    }
}

impl Default for Pkce {
    fn default() -> Pkce {
        Pkce::new()
    }
}

/// base64url(SHA-256(verifier)).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// One authorization request's secrets, and the URL that carries their public halves.
pub struct Request {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce: Pkce,
}

/// The authorize URL for `consent`'s client and merchant.
pub fn request(
    authorization_endpoint: &str,
    consent: &Consent,
    redirect_uri: &str,
) -> Result<Request, String> {
    let settings = consent.settings();
    let (state, nonce, pkce) = (random(24), random(24), Pkce::new());
    let scope = settings.requested_scope();
    let url = reqwest::Url::parse_with_params(
        authorization_endpoint,
        [
            ("client_id", settings.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("response_type", "code id_token"),
            ("response_mode", "form_post"),
            ("scope", &scope),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("merchant_vat", &settings.vat),
        ],
    )
    .map_err(|e| format!("the authorization endpoint is not a URL: {e}"))?;
    Ok(Request {
        url: url.into(),
        state,
        nonce,
        pkce,
    })
}

/// Checks the identity token the token endpoint answered: issued for this client (`aud`) and
/// for this request (`nonce`).
///
/// Its signature is not checked: the token came straight from the token endpoint over TLS, in
/// the answer to our own authenticated request, so TLS already vouches for its issuer (OpenID
/// Connect Core 1.0, 3.1.3.7, item 6). The `issuer` is not compared either: MobilePay's does not
/// match its discovery hosts.
pub fn check_id_token(id_token: &str, client_id: &str, nonce: &str) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Claims {
        aud: serde_json::Value,
        nonce: Option<String>,
    }
    let payload = id_token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok())
        .ok_or("the identity token is not a JWT")?;
    let claims: Claims =
        serde_json::from_slice(&payload).map_err(|_| "the identity token's claims are unreadable")?;
    let audience_ok = match &claims.aud {
        serde_json::Value::String(aud) => aud == client_id,
        serde_json::Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err("the identity token was issued for another client".into());
    }
    if claims.nonce.as_deref() != Some(nonce) {
        return Err("the identity token does not carry this request's nonce".into());
    }
    Ok(())
}

/// What the provider posted to the redirect URI.
enum Posted {
    Code(String),
    Error(String),
}

/// Runs the whole flow: discovery, the listener, the printed URL (`show`), the answer, the
/// code exchange and the stored consent. Gives up after `timeout`.
pub async fn run(
    consent: &Consent,
    redirect_uri: &str,
    timeout: Duration,
    show: impl Fn(&str),
) -> anyhow::Result<Record> {
    let address = loopback_address(redirect_uri).map_err(anyhow::Error::msg)?;
    let path = reqwest::Url::parse(redirect_uri)?.path().to_string();
    let endpoints = consent.provider().discover().await.map_err(anyhow::Error::msg)?;
    let request =
        request(&endpoints.authorization_endpoint, consent, redirect_uri).map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {address} (the redirect URI's address): {e}"))?;
    let (posted_tx, mut posted_rx) = mpsc::channel(1);
    let app = axum::Router::new()
        .route(&path, axum::routing::post(receive))
        .with_state((request.state.clone(), posted_tx));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    show(&request.url);
    let posted = tokio::time::timeout(timeout, posted_rx.recv()).await;
    server.abort();
    let code = match posted {
        Err(_) => anyhow::bail!(
            "no answer from MobilePay within {} s; nothing was stored (run the command again)",
            timeout.as_secs()
        ),
        Ok(None) => anyhow::bail!("the listener stopped"),
        Ok(Some(Posted::Error(error))) => anyhow::bail!("the consent was not given: {error}"),
        Ok(Some(Posted::Code(code))) => code,
    };
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", request.pkce.verifier.as_str()),
    ];
    let tokens: Tokens = consent
        .provider()
        .token(&endpoints, &grant)
        .await
        .map_err(|answer| {
            anyhow::anyhow!("the code exchange failed: {}", super::provider::describe(&answer))
        })?;
    let id_token = tokens
        .id_token
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("the token endpoint answered no identity token"))?;
    check_id_token(id_token, &consent.settings().client_id, &request.nonce).map_err(anyhow::Error::msg)?;
    let refresh_token = tokens.refresh_token.clone().ok_or_else(|| {
        anyhow::anyhow!("the token endpoint answered no refresh token (offline_access not granted)")
    })?;
    let now = unix_now();
    let scopes = tokens.scopes().unwrap_or_else(|| {
        consent
            .settings()
            .requested_scope()
            .split(' ')
            .map(str::to_string)
            .collect()
    });
    let record = Record {
        refreshed_at: Some(now),
        ..Record::new(RefreshToken::new(refresh_token), scopes, now)
    };
    consent.store(record.clone()).await?;
    Ok(record)
}

type ReceiveState = (String, mpsc::Sender<Posted>);

/// The redirect URI's handler: takes the first post that carries this request's `state`.
async fn receive(
    State((state, posted)): State<ReceiveState>,
    body: String,
) -> (axum::http::StatusCode, Html<&'static str>) {
    let fields: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if field("state").as_deref() != Some(state.as_str()) {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Html("<h1>This answer does not belong to the pending consent request.</h1>"),
        );
    }
    let answer = match (field("code"), field("error")) {
        (Some(code), None) => Posted::Code(code),
        (_, Some(error)) => Posted::Error(error.chars().take(64).collect()),
        (None, None) => Posted::Error("the answer has neither a code nor an error".into()),
    };
    let _ = posted.send(answer).await;
    (
        axum::http::StatusCode::OK,
        Html("<h1>Thank you. The consent was received; you can close this window.</h1>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_pair_follows_rfc_7636() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let pkce = Pkce::new();
        assert!(
            (43..=128).contains(&pkce.verifier.len()),
            "{}",
            pkce.verifier.len()
        );
        assert!(pkce
            .verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        assert_ne!(pkce.verifier, Pkce::new().verifier);
    }

    #[test]
    fn only_a_loopback_http_uri_with_a_port_can_be_listened_on() {
        assert_eq!(
            loopback_address("http://127.0.0.1:7890/").unwrap(),
            "127.0.0.1:7890".parse().unwrap()
        );
        assert_eq!(
            loopback_address("http://[::1]:7890/cb").unwrap(),
            "[::1]:7890".parse().unwrap()
        );
        assert!(loopback_address("http://localhost:7890/").is_ok());
        for bad in [
            "https://integrator.example/consent",
            "http://10.0.0.2:7890/",
            "http://127.0.0.1/",
            "no url",
        ] {
            assert!(loopback_address(bad).is_err(), "{bad}");
        }
    }

    fn jwt(claims: &str) -> String {
        format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(claims))
    }

    #[test]
    fn the_identity_token_must_name_the_client_and_the_nonce() {
        assert!(check_id_token(&jwt(r#"{"aud":"c","nonce":"n"}"#), "c", "n").is_ok());
        assert!(check_id_token(&jwt(r#"{"aud":["x","c"],"nonce":"n"}"#), "c", "n").is_ok());
        assert!(check_id_token(&jwt(r#"{"aud":"other","nonce":"n"}"#), "c", "n").is_err());
        assert!(check_id_token(&jwt(r#"{"aud":"c","nonce":"replayed"}"#), "c", "n").is_err());
        assert!(check_id_token(&jwt(r#"{"aud":"c"}"#), "c", "n").is_err());
        assert!(check_id_token("not a token", "c", "n").is_err());
    }
}
