//! Shared helpers of the OIDC tests: PKCE pairs, authorize requests answered at once by a
//! portal user logged in through the control API, token requests with either client
//! authentication, and JWT checks against the JWKS the simulator serves.

use super::common::{http_client, start, Resp, Sim};
use base64::Engine;
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use mposd::sim::fixtures::{DK_VAT, OIDC_LOOPBACK_REDIRECT, PORTAL_OWNER};
use reqwest::{header, redirect::Policy, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

pub const DISCOVERY: &str = "/merchant-authentication-openidconnect/.well-known/openid-configuration";
pub const AUTHORIZE: &str = "/account/connect/authorize";
pub const TOKEN: &str = "/merchant-authentication-openidconnect/connect/token";
pub const INTROSPECT: &str = "/merchant-authentication-openidconnect/connect/introspect";
pub const ISSUER: &str = "https://api.mobilepay.dk/merchant";
pub const AUDIENCE: &str = "https://api.mobilepay.dk/merchant/resources";
pub const SCOPE: &str = "openid offline_access invoice subscriptions";

/// A simulator and a browser that does not follow redirects, so that the authorize answer
/// itself can be read.
pub struct Oidc {
    pub sim: Sim,
    pub browser: reqwest::Client,
}

pub async fn start_oidc() -> Oidc {
    oidc_on(start().await)
}

pub fn oidc_on(sim: Sim) -> Oidc {
    let browser = reqwest::Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    Oidc { sim, browser }
}

/// A fresh random PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    (verifier.clone(), s256(&verifier))
}

pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `at_hash` / `c_hash` as a client computes them for RS256.
pub fn half_hash(value: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&Sha256::digest(value.as_bytes())[..16])
}

/// What a client keeps of one authorize request.
#[derive(Clone, Debug)]
pub struct Request {
    pub params: Vec<(String, String)>,
    pub verifier: String,
    pub nonce: String,
    pub state: String,
}

impl Request {
    /// A valid request of `client` for the DK merchant, `fragment` mode, loopback redirect.
    pub fn new(client: &str) -> Request {
        let (verifier, challenge) = pkce();
        let nonce = uuid::Uuid::new_v4().to_string();
        let state = uuid::Uuid::new_v4().to_string();
        let params = [
            ("client_id", client),
            ("redirect_uri", OIDC_LOOPBACK_REDIRECT),
            ("response_type", "code id_token"),
            ("response_mode", "fragment"),
            ("scope", SCOPE),
            ("state", &state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("merchant_vat", DK_VAT),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Request {
            params,
            verifier,
            nonce,
            state,
        }
    }

    /// The same request with `name` set to `value`, or left out when `None`.
    pub fn with(mut self, name: &str, value: Option<&str>) -> Request {
        self.params.retain(|(k, _)| k != name);
        if let Some(v) = value {
            self.params.push((name.into(), v.into()));
        }
        self
    }

    pub fn get(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

/// The browser's view of an authorize answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub text: String,
}

impl Answer {
    /// The fields of a `fragment` redirect to `redirect_uri`.
    #[track_caller]
    pub fn fragment(&self, redirect_uri: &str) -> HashMap<String, String> {
        assert_eq!(self.status, StatusCode::FOUND, "expected a redirect: {self:?}");
        let location = self.location.as_deref().expect("Location");
        let fragment = location
            .strip_prefix(&format!("{redirect_uri}#"))
            .unwrap_or_else(|| panic!("{location} goes to {redirect_uri} with a fragment"));
        serde_urlencoded::from_str(fragment).expect("fragment is form-encoded")
    }

    /// The hidden fields of a `form_post` page posting to `redirect_uri`.
    #[track_caller]
    pub fn form_post(&self, redirect_uri: &str) -> HashMap<String, String> {
        assert_eq!(self.status, StatusCode::OK, "expected the form: {self:?}");
        assert!(self.location.is_none());
        assert!(
            self.text
                .contains(&format!("<form method=\"post\" action=\"{redirect_uri}\">")),
            "{}",
            self.text
        );
        assert!(self.text.contains("document.forms[0].submit()"), "{}", self.text);
        let mut fields = HashMap::new();
        for input in self.text.split("<input ").skip(1) {
            let attr = |name: &str| {
                let start = input.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
                let end = start + input[start..].find('"').expect("closing quote");
                input[start..end].replace("&amp;", "&")
            };
            fields.insert(attr("name"), attr("value"));
        }
        fields
    }

    /// The generic page of an invalid request: no redirect, and the rule that failed.
    #[track_caller]
    pub fn unauthorized(&self, reason: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{self:?}");
        assert!(
            self.location.is_none(),
            "an invalid request is never redirected: {self:?}"
        );
        assert!(self.text.contains("<h1>Unauthorized</h1>"), "{}", self.text);
        assert!(self.text.contains(reason), "expected {reason:?} in {}", self.text);
    }
}

/// A consent given in fragment mode: the front channel's fields and the request.
pub struct Consented {
    pub request: Request,
    pub code: String,
    pub id_token: String,
}

impl Oidc {
    pub async fn authorize(&self, request: &Request) -> Answer {
        let resp = self
            .browser
            .get(self.sim.url(AUTHORIZE))
            .query(&request.params)
            .send()
            .await
            .expect("authorize reaches the simulator");
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().expect("Location is text").to_string());
        let text = resp.text().await.expect("body");
        Answer {
            status,
            location,
            text,
        }
    }

    /// The portal user logs in for the client's next authorize request.
    pub async fn login(&self, client: &str, user: &str, decision: &str) {
        self.sim
            .post_json(
                "/_sim/oidc/login",
                json!({"clientId": client, "user": user, "decision": decision}),
            )
            .await
            .ok();
    }

    /// The owner of the DK merchant consents for `client`.
    pub async fn consent(&self, client: &str) -> Consented {
        let request = Request::new(client);
        self.login(client, PORTAL_OWNER, "approve").await;
        let fields = self.authorize(&request).await.fragment(OIDC_LOOPBACK_REDIRECT);
        assert_eq!(fields["state"], request.state);
        Consented {
            code: fields["code"].clone(),
            id_token: fields["id_token"].clone(),
            request,
        }
    }

    /// A token request with `client_secret_post`, or with HTTP Basic when `basic` is given.
    pub async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Resp {
        let mut req = http_client().post(self.sim.url(TOKEN)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        Resp::from(req.send().await.expect("token request")).await
    }

    /// Redeems a consent's code with `client_secret_post`.
    pub async fn exchange(&self, client: &str, secret: &str, consented: &Consented) -> Resp {
        self.token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &consented.code),
                ("redirect_uri", consented.request.get("redirect_uri")),
                ("code_verifier", &consented.request.verifier),
                ("client_id", client),
                ("client_secret", secret),
            ],
            None,
        )
        .await
    }

    /// Consent and the first token answer.
    pub async fn tokens(&self, client: &str, secret: &str) -> Value {
        let consented = self.consent(client).await;
        self.exchange(client, secret, &consented).await.ok().clone()
    }

    pub async fn refresh(&self, client: &str, secret: &str, refresh_token: &str) -> Resp {
        self.token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client),
                ("client_secret", secret),
            ],
            None,
        )
        .await
    }

    /// The signature key from the served JWKS, found through discovery and the token's `kid`.
    pub async fn key_for(&self, token: &str) -> DecodingKey {
        let discovery = self.sim.get(DISCOVERY).await;
        let jwks_uri = discovery.ok()["jwks_uri"].as_str().expect("jwks_uri").to_string();
        let set: JwkSet = http_client()
            .get(jwks_uri)
            .send()
            .await
            .expect("JWKS")
            .json()
            .await
            .expect("JWKS is JSON");
        let kid = jsonwebtoken::decode_header(token)
            .expect("JWT header")
            .kid
            .expect("kid");
        DecodingKey::from_jwk(set.find(&kid).expect("the kid is in the JWKS")).expect("RSA key")
    }

    /// The claims of a token whose RS256 signature the served JWKS checks, for `audience`
    /// and the provider's issuer. Lifetime is left to the test (the virtual clock decides).
    pub async fn verified(&self, token: &str, audience: &str) -> Value {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.validate_exp = false;
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        let key = self.key_for(token).await;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("signature, issuer and audience check")
            .claims
    }

    /// The gateway's verdict on `Authorization: Bearer token`.
    pub async fn bearer(&self, token: &str) -> Resp {
        let auth = format!("Bearer {token}");
        self.sim
            .raw(
                reqwest::Method::GET,
                "/_sim/oidc/bearer",
                &[("Authorization", &auth)],
                None,
            )
            .await
    }

    pub async fn consents(&self) -> Vec<Value> {
        self.sim.get("/_sim/oidc/consents").await.ok()["consents"]
            .as_array()
            .expect("consents")
            .clone()
    }
}

/// An RFC 6749 §5.2 error answer.
#[track_caller]
pub fn oauth_err(resp: &Resp, status: u16, error: &str) {
    assert_eq!(
        (resp.status, resp.json["error"].as_str()),
        (status, Some(error)),
        "expected {status} {error}: {}",
        resp.text
    );
}
