//! The merchant-consent OpenID Connect provider over HTTP: discovery and the token endpoint.
//!
//! Endpoints are read from the discovery document, as MobilePay asks: they sit on two hosts,
//! and the document's `issuer` matches neither (MobilePay's own sample switched issuer and
//! endpoint validation off), so the issuer is not compared with the authority. Each endpoint
//! must still be `https://` (or loopback), like every URL the daemon sends secrets to.
//!
//! Client authentication is `client_secret_post` (id and secret in the form), the one
//! MobilePay documents. No error message carries a token or the secret: the provider's
//! `error` code is kept, its free-text description is not.

use super::refresh::Answer;
use super::store::RefreshToken;
use super::ClientSettings;
use crate::backends::http::{build_http, check_url, exchange};
use crate::secrets::AccessToken;
use serde::Deserialize;
use std::time::Duration;

/// A refresh must not hold the consent file's lock for long when the network hangs.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The endpoints the discovery document names.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Endpoints {
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

/// A successful token answer.
#[derive(Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: u64,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
    /// Space-separated (RFC 6749 §5.1).
    #[serde(default)]
    pub scope: Option<String>,
}

impl Tokens {
    pub fn access_token(&self) -> AccessToken {
        AccessToken::new(self.access_token.clone())
    }

    pub fn scopes(&self) -> Option<Vec<String>> {
        self.scope
            .as_ref()
            .map(|s| s.split_whitespace().map(str::to_string).collect())
    }

    /// The refresh answer in the terms of the sans-IO core.
    pub fn answer(&self) -> Answer {
        Answer::Tokens {
            refresh_token: self.refresh_token.clone().map(RefreshToken::new),
            scopes: self.scopes(),
        }
    }
}

/// A failed token request in words (never a token).
pub fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Lost(reason) | Answer::Refused(reason) => reason.clone(),
        Answer::InvalidGrant => {
            "invalid_grant: the grant is expired, used, revoked or not for this client".into()
        }
        Answer::Tokens { .. } => "tokens".into(),
    }
}

pub struct Provider {
    http: reqwest::Client,
    pub settings: ClientSettings,
}

impl Provider {
    pub fn new(settings: ClientSettings) -> anyhow::Result<Provider> {
        Ok(Provider {
            http: build_http(CONNECT_TIMEOUT, None)?,
            settings,
        })
    }

    /// Reads the discovery document.
    pub async fn discover(&self) -> Result<Endpoints, String> {
        let url = format!("{}/.well-known/openid-configuration", self.settings.authority);
        let request = self.http.get(&url).timeout(REQUEST_TIMEOUT);
        let (status, _, body) = exchange(request)
            .await
            .map_err(|e| format!("discovery at {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("discovery at {url}: HTTP {}", status.as_u16()));
        }
        let endpoints: Endpoints = serde_json::from_slice(&body)
            .map_err(|e| format!("discovery at {url}: not a discovery document ({e})"))?;
        for (what, url) in [
            ("authorization_endpoint", &endpoints.authorization_endpoint),
            ("token_endpoint", &endpoints.token_endpoint),
        ] {
            check_url(what, url).map_err(|e| format!("discovery: {e}"))?;
        }
        Ok(endpoints)
    }

    /// Posts a grant to the token endpoint with `client_secret_post` authentication. `Err`
    /// holds the answer in the core's terms: no tokens.
    pub async fn token(&self, endpoints: &Endpoints, grant: &[(&str, &str)]) -> Result<Tokens, Answer> {
        let mut form: Vec<(&str, &str)> = grant.to_vec();
        form.push(("client_id", &self.settings.client_id));
        form.push(("client_secret", self.settings.client_secret.expose()));
        let request = self
            .http
            .post(&endpoints.token_endpoint)
            .timeout(REQUEST_TIMEOUT)
            .form(&form);
        let (status, _, body) = exchange(request).await.map_err(Answer::Lost)?;
        if status.is_success() {
            return serde_json::from_slice::<Tokens>(&body)
                .map_err(|_| Answer::Lost("the token endpoint answered an unreadable body".into()));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Answer::Lost(format!(
                "the token endpoint answered HTTP {}",
                status.as_u16()
            )));
        }
        #[derive(Deserialize)]
        struct Error {
            error: String,
        }
        match serde_json::from_slice::<Error>(&body) {
            Ok(e) if e.error == "invalid_grant" => Err(Answer::InvalidGrant),
            Ok(e) => Err(Answer::Refused(format!(
                "the token endpoint refused: {} (HTTP {})",
                e.error.chars().take(64).collect::<String>(),
                status.as_u16()
            ))),
            Err(_) => Err(Answer::Refused(format!(
                "the token endpoint refused with HTTP {}",
                status.as_u16()
            ))),
        }
    }
}
