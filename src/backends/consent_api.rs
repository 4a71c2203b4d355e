//! A MobilePay API called with the merchant's consent and the API gateway's app pair: the
//! call machinery MobilePay Invoice and Subscriptions share.
//!
//! Both APIs sit behind the same API gateway on the same host and authorise the same way, so
//! every call follows the same rules whichever of them it goes to; keeping those rules in one
//! place keeps the two clients from drifting apart (a fix of the token renewal or of the
//! repeats reaches both). Each client keeps what is its own API's: paths, wire model, error
//! body and the error type its engine adapter reads.
//!
//! - Every call carries the gateway's app pair (`x-ibm-client-id`, `x-ibm-client-secret`),
//!   `Authorization: Bearer` with an access token of the merchant's consent, and the command's
//!   `CorrelationId`.
//! - 401 gets a fresh access token once and the call is repeated; a second 401 is final. A 401
//!   that names the app pair (the gateway's own body) is final at once: a new token cannot
//!   help.
//! - Reads are repeated (bounded, jittered back-off) after no answer or a 5xx. Calls that
//!   change something are sent once: neither API has an idempotency key, so what a lost answer
//!   means is the engine's decision.

use crate::backends::http::{build_http, exchange, HttpConfigError, RetryPolicy, Timeouts};
use crate::consent::driver::{Consent, RefreshError};
use crate::correlation::Correlation;
use crate::secrets::{AccessToken, Secret};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use tracing::Instrument;

/// MobilePay's API host in production.
pub const PRODUCTION: &str = "https://api.mobilepay.dk";
/// MobilePay's API host in the sandbox.
pub const SANDBOX: &str = "https://api.sandbox.mobilepay.dk";

/// Request headers of every call.
pub mod headers {
    pub const CLIENT_ID: &str = "x-ibm-client-id";
    pub const CLIENT_SECRET: &str = "x-ibm-client-secret";
    /// Optional, for logs on both sides; echoed in error bodies as their correlation id.
    pub const CORRELATION_ID: &str = "CorrelationId";
}

/// The API gateway's app pair (the developer portal's "My Apps"), sent as `x-ibm-client-id`
/// and `x-ibm-client-secret` on every call. Not the OpenID Connect client of the consent.
#[derive(Clone, Debug)]
pub struct GatewayApp {
    pub client_id: String,
    pub client_secret: Secret,
}

/// The readable part of an API's error answer: each API has its own error body.
pub trait Problem: fmt::Display + fmt::Debug {
    /// Reads an error body leniently: what cannot be read is "no details", never an error.
    fn read(body: &[u8]) -> Self;
}

/// One call, described once and sent as often as the rules allow.
pub struct Call<'a> {
    /// The endpoint's name in logs and errors.
    pub endpoint: &'static str,
    pub method: Method,
    /// Path segments below the API's base; each is escaped on its own.
    pub segments: Vec<&'a str>,
    pub query: Vec<(&'static str, String)>,
    /// Serialised once by the caller, so that a repeat sends the very same bytes.
    pub body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    pub fn new(endpoint: &'static str, method: Method, segments: Vec<&'a str>) -> Call<'a> {
        Call {
            endpoint,
            method,
            segments,
            query: Vec::new(),
            body: None,
        }
    }

    pub fn get(endpoint: &'static str, segments: Vec<&'a str>) -> Call<'a> {
        Call::new(endpoint, Method::GET, segments)
    }

    /// Reads change nothing, so they may be repeated after a lost answer or a 5xx.
    fn repeatable(&self) -> bool {
        self.method == Method::GET
    }
}

/// Why a call did not succeed, sorted by what the caller may conclude; each client turns it
/// into its own error type.
#[derive(Debug)]
pub enum Failure<P> {
    /// A 4xx answer other than 401: nothing changed.
    Refused {
        endpoint: &'static str,
        status: u16,
        problem: P,
    },
    /// 401 also with a fresh access token, or a gateway that refuses the app pair itself;
    /// `what` names what was not accepted.
    Unauthorized { endpoint: &'static str, what: String },
    /// A 5xx on every attempt.
    Server {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        problem: P,
    },
    /// No answer: the call may or may not have taken effect.
    NoAnswer {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A 2xx answer that could not be read: it did take effect.
    InvalidAnswer { endpoint: &'static str, reason: String },
    /// No access token from the merchant's consent; nothing was sent.
    Token(RefreshError),
}

/// Writes `From<Failure<$problem>> for $error`, for an API's own error type that has the
/// variants of [`Failure`] by the same names. Each API keeps its own error type (its messages
/// name the API, and it has variants of its own), and the conversion is written once.
macro_rules! from_failure {
    ($error:ident, $problem:ty) => {
        impl From<$crate::backends::consent_api::Failure<$problem>> for $error {
            fn from(failure: $crate::backends::consent_api::Failure<$problem>) -> Self {
                use $crate::backends::consent_api::Failure;
                match failure {
                    Failure::Refused {
                        endpoint,
                        status,
                        problem,
                    } => $error::Refused {
                        endpoint,
                        status,
                        problem,
                    },
                    Failure::Unauthorized { endpoint, what } => $error::Unauthorized { endpoint, what },
                    Failure::Server {
                        endpoint,
                        status,
                        attempts,
                        problem,
                    } => $error::Server {
                        endpoint,
                        status,
                        attempts,
                        problem,
                    },
                    Failure::NoAnswer {
                        endpoint,
                        attempts,
                        reason,
                    } => $error::NoAnswer {
                        endpoint,
                        attempts,
                        reason,
                    },
                    Failure::InvalidAnswer { endpoint, reason } => $error::InvalidAnswer { endpoint, reason },
                    Failure::Token(err) => $error::Token(err),
                }
            }
        }
    };
}
pub(crate) use from_failure;

impl<P> From<RefreshError> for Failure<P> {
    fn from(err: RefreshError) -> Self {
        Failure::Token(err)
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt<P> {
    Done(Vec<u8>),
    Answer(u16, P),
    /// 401; `Some` with the gateway's reason when it refused the app pair.
    Unauthorized(Option<String>),
    Server(u16, P),
    Lost(String),
}

/// One merchant's access to one API: where it is, the app pair, the consent and the waits.
pub struct ConsentApi {
    http: reqwest::Client,
    /// The API's name in logs (`MobilePay Invoice`).
    name: &'static str,
    /// The URL the call's path segments are appended to.
    base: String,
    app: GatewayApp,
    /// The consent the daemon's keeper refreshes too: one refresh state per merchant.
    consent: Arc<Consent>,
    timeouts: Timeouts,
    retry: RetryPolicy,
}

/// How one merchant reaches one API.
pub struct Settings<'a> {
    /// The API's name in logs (`MobilePay Invoice`).
    pub name: &'static str,
    /// The URL the calls' path segments are appended to.
    pub base: String,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Extra certificates to trust (PEM).
    pub extra_ca_file: Option<&'a Path>,
}

impl ConsentApi {
    pub fn new(
        settings: Settings<'_>,
        app: GatewayApp,
        consent: Arc<Consent>,
    ) -> Result<ConsentApi, HttpConfigError> {
        let http = build_http(settings.timeouts.write, settings.extra_ca_file)?;
        Ok(ConsentApi {
            http,
            name: settings.name,
            base: settings.base,
            app,
            consent,
            timeouts: settings.timeouts,
            retry: settings.retry,
        })
    }

    /// Sends `call` in `span` by the rules and reads the answer's JSON body as `T`.
    pub async fn json<T: DeserializeOwned, P: Problem>(
        &self,
        span: tracing::Span,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<T, Failure<P>> {
        let body = self.send(span, correlation, call).await?;
        serde_json::from_slice(&body).map_err(|err| Failure::InvalidAnswer {
            endpoint: call.endpoint,
            reason: err.to_string(),
        })
    }

    /// Sends `call` in `span` by the rules: the successful answer's body.
    pub async fn send<P: Problem>(
        &self,
        span: tracing::Span,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<Vec<u8>, Failure<P>> {
        self.send_in_span(correlation, call).instrument(span).await
    }

    async fn send_in_span<P: Problem>(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<Vec<u8>, Failure<P>> {
        let (retry, consent) = (self.retry, &self.consent);
        let mut token = consent.access_token().await?;
        let (mut failures, mut renewed) = (0u32, false);
        loop {
            let attempts = 1 + failures + u32::from(renewed);
            let reason = match self.attempt(correlation, call, &token).await {
                Attempt::Done(body) => {
                    if attempts > 1 {
                        tracing::info!(attempts, "succeeded after repeating");
                    }
                    return Ok(body);
                }
                Attempt::Answer(status, problem) => {
                    tracing::info!(status, %problem, "{} refused the call", self.name);
                    return Err(Failure::Refused {
                        endpoint: call.endpoint,
                        status,
                        problem,
                    });
                }
                Attempt::Unauthorized(Some(gateway)) => {
                    // The engine's "unauthorized" carries no detail: the reason is told here.
                    tracing::warn!(reason = %gateway, "the API gateway refused the app pair (gateway_client_id, gateway_client_secret)");
                    return Err(Failure::Unauthorized {
                        endpoint: call.endpoint,
                        what: format!(
                            "the API gateway's app pair (gateway_client_id, gateway_client_secret): {gateway}"
                        ),
                    });
                }
                Attempt::Unauthorized(None) if !renewed => {
                    tracing::warn!("access token refused (401); renewing it and trying once more");
                    renewed = true;
                    token = consent.renew_access_token(&token).await?;
                    continue;
                }
                Attempt::Unauthorized(None) => {
                    tracing::warn!("the access token was refused again after renewing it; see the merchant's consent (mposd consent show)");
                    return Err(Failure::Unauthorized {
                        endpoint: call.endpoint,
                        what: "the merchant's access token, also after renewing it,".into(),
                    });
                }
                Attempt::Server(status, problem) => {
                    if !call.repeatable() || failures >= retry.retries {
                        return Err(Failure::Server {
                            endpoint: call.endpoint,
                            status,
                            attempts,
                            problem,
                        });
                    }
                    format!("HTTP {status}, {problem}")
                }
                Attempt::Lost(reason) => {
                    if !call.repeatable() || failures >= retry.retries {
                        return Err(Failure::NoAnswer {
                            endpoint: call.endpoint,
                            attempts,
                            reason,
                        });
                    }
                    reason
                }
            };
            failures += 1;
            let wait = retry.backoff().delay(failures);
            tracing::warn!(problem = %reason, retry_in_ms = wait.as_millis() as u64, "the read failed; repeating it");
            tokio::time::sleep(wait).await;
            // A repeat uses the newest token (the keeper may have refreshed it meanwhile).
            token = consent.access_token().await?;
        }
    }

    async fn attempt<P: Problem>(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
        token: &AccessToken,
    ) -> Attempt<P> {
        let mut url = match reqwest::Url::parse(&self.base) {
            Ok(url) => url,
            Err(err) => return Attempt::Lost(format!("bad URL: {err}")),
        };
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(&call.segments);
        }
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        let timeout = if call.repeatable() {
            self.timeouts.read
        } else {
            self.timeouts.write
        };
        let mut request = self
            .http
            .request(call.method.clone(), url)
            .timeout(timeout)
            .bearer_auth(token.expose())
            .header(headers::CLIENT_ID, &self.app.client_id)
            .header(headers::CLIENT_SECRET, self.app.client_secret.expose())
            .header(headers::CORRELATION_ID, correlation.id().to_string())
            .header(reqwest::header::ACCEPT, "application/json");
        request = match &call.body {
            Some(body) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()),
            // A PUT or POST without a body (an invoice's cancel, a one-off's capture) still says
            // its length, as the APIs expect.
            None if call.method == Method::PUT || call.method == Method::POST => {
                request.header(reqwest::header::CONTENT_LENGTH, "0")
            }
            None => request,
        };
        match exchange(request).await {
            Ok((status, _, body)) => {
                tracing::debug!(status = status.as_u16(), "answer");
                classify(status, &body)
            }
            Err(reason) => Attempt::Lost(reason),
        }
    }
}

pub(crate) fn classify<P: Problem>(status: StatusCode, body: &[u8]) -> Attempt<P> {
    if status.is_success() {
        return Attempt::Done(body.to_vec());
    }
    match status.as_u16() {
        401 => Attempt::Unauthorized(gateway_refusal(body)),
        s if status.is_server_error() => Attempt::Server(s, P::read(body)),
        s => Attempt::Answer(s, P::read(body)),
    }
}

/// The reason the API gateway (IBM API Connect) gives when it refuses the app pair:
/// `{"httpCode":"401","httpMessage":"Unauthorized","moreInformation":"…"}`. A refused token
/// gets a bare 401 instead.
fn gateway_refusal(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value
        .get("moreInformation")?
        .as_str()
        .map(|s| s.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error body kept as its text.
    #[derive(Debug)]
    struct Text(String);

    impl fmt::Display for Text {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl Problem for Text {
        fn read(body: &[u8]) -> Self {
            Text(String::from_utf8_lossy(body).into_owned())
        }
    }

    fn classify_status(status: u16, body: &str) -> Attempt<Text> {
        classify(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn statuses_map_to_the_rules() {
        assert!(matches!(classify_status(200, "{}"), Attempt::Done(_)));
        assert!(matches!(classify_status(201, "{}"), Attempt::Done(_)));
        assert!(matches!(classify_status(204, ""), Attempt::Done(_)));
        assert!(matches!(classify_status(401, ""), Attempt::Unauthorized(None)));
        match classify_status(
            401,
            r#"{"httpCode":"401","httpMessage":"Unauthorized","moreInformation":"Client id not registered."}"#,
        ) {
            Attempt::Unauthorized(Some(reason)) => assert_eq!(reason, "Client id not registered."),
            other => panic!("the gateway's refusal of the app pair: {other:?}"),
        }
        match classify_status(500, "<html>") {
            Attempt::Server(500, problem) => assert_eq!(problem.0, "<html>"),
            other => panic!("500 is a server failure: {other:?}"),
        }
        match classify_status(404, "") {
            Attempt::Answer(404, problem) => assert_eq!(problem.0, ""),
            other => panic!("404 is an answer: {other:?}"),
        }
    }
}
