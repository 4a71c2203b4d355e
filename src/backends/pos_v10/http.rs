//! One PoS V10 call on the wire: headers, timeout, retries, token renewal, error mapping.
//!
//! The rules are MobilePay's (reference §4.1, §6, §7):
//! - every call carries the bearer token, `x-ibm-client-id`, the client version, the flow's
//!   `CorrelationId`, and the VAT header when the token is not merchant-locked;
//! - `POST`/`DELETE` time out after 2 s, `GET` after 0.5 s;
//! - no answer or a 5xx is retried (2 retries by default, never more than 5) after an
//!   exponential, jittered back-off, with the very same body and idempotency key;
//! - a 4xx is an answer and is returned at once, except 401: the token is renewed once and the
//!   call repeated once;
//! - polling endpoints wait for their pacer before every attempt, retries included.
use crate::correlation::Correlation;

use crate::backends::http::exchange;
use crate::backends::pos_v10::{
    config::ClientConfig,
    error::{ApiError, MobilePayError},
    idempotency::IdempotencyKey,
    model::headers,
    polling::{Pacer, PollEndpoint},
    tokens::TokenManager,
};
use reqwest::{Method, StatusCode};
use std::{sync::Arc, time::Duration};
use tracing::Instrument;

/// One call, described once and sent as often as the retry rules allow.
pub(crate) struct Call<'a> {
    /// MobilePay's name for the operation, used in logs and errors (`"createPos"`).
    pub endpoint: &'static str,
    pub method: Method,
    /// Path below the PoS API base, e.g. `/pointofsales`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    /// JSON body, serialised once so that every retry sends identical bytes.
    pub body: Option<Vec<u8>>,
    pub idempotency_key: Option<&'a IdempotencyKey>,
    /// For polling endpoints: which resource's pace to respect.
    pub poll: Option<(PollEndpoint, &'a str)>,
}

impl<'a> Call<'a> {
    pub fn get(endpoint: &'static str, path: String) -> Call<'a> {
        Call {
            endpoint,
            method: Method::GET,
            path,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            poll: None,
        }
    }

    pub fn post(endpoint: &'static str, path: String, body: Option<Vec<u8>>) -> Call<'a> {
        Call {
            method: Method::POST,
            body,
            ..Call::get(endpoint, path)
        }
    }

    pub fn delete(endpoint: &'static str, path: String) -> Call<'a> {
        Call {
            method: Method::DELETE,
            ..Call::get(endpoint, path)
        }
    }
}

/// The HTTP side of one merchant's client.
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub config: Arc<ClientConfig>,
    pub tokens: TokenManager,
    pub pacer: Pacer,
}

/// What one attempt came to.
enum Attempt {
    Done(Vec<u8>),
    Answer(ApiError),
    Unauthorized,
    Server(u16, MobilePayError),
    Lost(String),
}

impl Transport {
    /// Sends `call` under the rules above; on success returns the answer's body.
    pub async fn send(&self, correlation: &Correlation, call: Call<'_>) -> Result<Vec<u8>, ApiError> {
        let span = tracing::info_span!(
            "mobilepay",
            endpoint = call.endpoint,
            correlation_id = %correlation.id(),
            flow = correlation.kind(),
            vat = %self.tokens.vat(),
            idempotency_key = call.idempotency_key.map(|k| k.as_str()),
        );
        self.send_with_retries(correlation, &call).instrument(span).await
    }

    async fn send_with_retries(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<Vec<u8>, ApiError> {
        let retries = self
            .config
            .retry
            .retries
            .min(crate::backends::pos_v10::config::MAX_RETRIES);
        let mut attempts = 0u32;
        let mut renewed_token = false;
        let mut any_lost = false;
        let mut token = self.tokens.token(correlation).await?;
        loop {
            attempts += 1;
            if let Some((endpoint, id)) = call.poll {
                self.pacer.begin(endpoint, id).await;
            }
            let outcome = self.attempt(correlation, call, &token).await;
            if let (Some((endpoint, id)), false) = (call.poll, matches!(outcome, Attempt::Done(_))) {
                self.pacer.unanswered(endpoint, id);
            }
            let problem = match outcome {
                Attempt::Done(body) => {
                    if attempts > 1 {
                        tracing::info!(attempts, "succeeded after retrying");
                    }
                    return Ok(body);
                }
                Attempt::Answer(err) => {
                    tracing::info!(error = %err, "MobilePay refused the call");
                    return Err(err);
                }
                Attempt::Unauthorized if !renewed_token => {
                    tracing::warn!("access token refused (401); renewing it and trying once more");
                    renewed_token = true;
                    token = match self.tokens.renew_rejected(correlation, &token.access_token).await {
                        Ok(token) => token,
                        Err(err) => {
                            return Err(unknown_if_lost(call.endpoint, any_lost, attempts, err.into()))
                        }
                    };
                    // The repeat after a 401 is not one of the §7.2 retries.
                    attempts -= 1;
                    continue;
                }
                Attempt::Unauthorized => {
                    let err = ApiError::Unauthorized {
                        endpoint: call.endpoint,
                    };
                    return Err(unknown_if_lost(call.endpoint, any_lost, attempts, err));
                }
                Attempt::Server(status, error) => {
                    if attempts > retries {
                        return Err(if any_lost {
                            ApiError::NoAnswer {
                                endpoint: call.endpoint,
                                attempts,
                                reason: format!("last attempt: HTTP {status} ({error})"),
                            }
                        } else {
                            ApiError::ServerError {
                                endpoint: call.endpoint,
                                status,
                                attempts,
                                error,
                            }
                        });
                    }
                    format!("HTTP {status} ({error})")
                }
                Attempt::Lost(reason) => {
                    any_lost = true;
                    if attempts > retries {
                        return Err(ApiError::NoAnswer {
                            endpoint: call.endpoint,
                            attempts,
                            reason,
                        });
                    }
                    reason
                }
            };
            let backoff = self.config.retry.backoff().delay(attempts);
            tracing::warn!(
                attempt = attempts,
                problem = %problem,
                retry_in_ms = backoff.as_millis() as u64,
                "MobilePay call failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            // A retry uses the newest token (the background refresher may have renewed it).
            token = match self.tokens.token(correlation).await {
                Ok(token) => token,
                Err(err) => return Err(unknown_if_lost(call.endpoint, any_lost, attempts, err.into())),
            };
        }
    }

    async fn attempt(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
        token: &crate::backends::pos_v10::tokens::Token,
    ) -> Attempt {
        let url = format!("{}{}", self.config.endpoints.pos_base, call.path);
        let timeout = self.timeout(&call.method);
        let mut request = self
            .http
            .request(call.method.clone(), &url)
            .timeout(timeout)
            .bearer_auth(token.access_token.expose())
            .header(headers::CLIENT_ID, &self.config.client_id)
            .header(headers::CLIENT_VERSION, &self.config.client_version)
            .header(headers::CORRELATION_ID, correlation.id().to_string())
            .header(reqwest::header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if !token.merchant_locked {
            request = request.header(headers::MERCHANT_VAT, self.tokens.vat());
        }
        if let Some(key) = call.idempotency_key {
            request = request.header(headers::IDEMPOTENCY_KEY, key.as_str());
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let (status, _, body) = match exchange(request).await {
            Ok(answer) => answer,
            Err(reason) => return Attempt::Lost(reason),
        };
        tracing::debug!(status = status.as_u16(), "answer");
        classify(call.endpoint, status, body)
    }

    fn timeout(&self, method: &Method) -> Duration {
        if *method == Method::GET {
            self.config.timeouts.read
        } else {
            self.config.timeouts.write
        }
    }
}

/// An attempt whose answer was lost may have taken effect; a later failure that prevents
/// further attempts (no token, 401) must not hide that.
fn unknown_if_lost(endpoint: &'static str, any_lost: bool, attempts: u32, err: ApiError) -> ApiError {
    if any_lost {
        ApiError::NoAnswer {
            endpoint,
            attempts,
            reason: format!("then: {err}"),
        }
    } else {
        err
    }
}

fn classify(endpoint: &'static str, status: StatusCode, body: Vec<u8>) -> Attempt {
    if status.is_success() {
        return Attempt::Done(body);
    }
    let error = MobilePayError::from_body(&body);
    match status.as_u16() {
        401 => Attempt::Unauthorized,
        400 => Attempt::Answer(ApiError::BadRequest { endpoint, error }),
        403 => Attempt::Answer(ApiError::Forbidden { endpoint, error }),
        404 => Attempt::Answer(ApiError::NotFound { endpoint, error }),
        409 => Attempt::Answer(ApiError::Conflict { endpoint, error }),
        s if status.is_server_error() => Attempt::Server(s, error),
        s => Attempt::Answer(ApiError::UnexpectedStatus {
            endpoint,
            status: s,
            error,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_status(status: u16, body: &str) -> Attempt {
        classify(
            "x",
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn statuses_map_to_the_retry_rules() {
        assert!(matches!(classify_status(200, "{}"), Attempt::Done(_)));
        assert!(matches!(classify_status(204, ""), Attempt::Done(_)));
        assert!(matches!(classify_status(401, ""), Attempt::Unauthorized));
        assert!(matches!(
            classify_status(500, r#"{"code":"2000"}"#),
            Attempt::Server(500, MobilePayError { code: Some(c), .. }) if c == "2000"
        ));
        assert!(matches!(classify_status(503, "<html>"), Attempt::Server(503, _)));
        match classify_status(409, r#"{"code":"1301","message":"active"}"#) {
            Attempt::Answer(err) => assert!(err.is_conflict("1301")),
            _ => panic!("409 is an answer"),
        }
        assert!(matches!(
            classify_status(403, r#"{"code":"1400"}"#),
            Attempt::Answer(ApiError::Forbidden { .. })
        ));
        assert!(matches!(
            classify_status(404, ""),
            Attempt::Answer(ApiError::NotFound { .. })
        ));
        assert!(matches!(
            classify_status(400, r#"{"code":"1113"}"#),
            Attempt::Answer(ApiError::BadRequest { .. })
        ));
        assert!(matches!(
            classify_status(418, ""),
            Attempt::Answer(ApiError::UnexpectedStatus { status: 418, .. })
        ));
    }
}
