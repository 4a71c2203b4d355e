//! The Subscriptions client of one merchant: its calls and the rules every call follows.
//!
//! - Every call carries the gateway's app pair (`x-ibm-client-id`, `x-ibm-client-secret`),
//!   `Authorization: Bearer` with an access token of the merchant's consent, and the command's
//!   `CorrelationId`.
//! - 401 gets a fresh access token once and the call is repeated; a second 401 is final. A 401
//!   that names the app pair (the gateway's own body) is final at once: a new token cannot
//!   help.
//! - Reads are repeated (bounded, jittered back-off) after no answer or a 5xx. Creates,
//!   captures, cancels and refunds are sent once: the API has no idempotency key and no
//!   duplicate check, so a repeat would make a second agreement or refund; what a lost answer
//!   means is the engine's decision (it looks for what the request made first).
//! - The subscription provider, when none is configured, is the merchant's only enabled one,
//!   looked up once and kept.

use super::config::{GatewayApp, SubscriptionsConfig, BASE_PATH};
use super::error::{Problem, SubscriptionsError};
use super::model::{
    headers, Agreement, AgreementPage, CreatedAgreement, MerchantAnswer, OneOff, Provider, Refund,
};
use super::translate::only_enabled_provider;
use crate::backends::http::{build_http, exchange, HttpConfigError};
use crate::consent::driver::Consent;
use crate::correlation::Correlation;
use crate::secrets::AccessToken;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use tokio::sync::Mutex;
use tracing::Instrument;

/// Endpoint names used in logs and errors.
pub mod endpoints {
    pub const MERCHANT_ME: &str = "getMerchantMe";
    pub const CREATE_AGREEMENT: &str = "createAgreement";
    pub const LIST_AGREEMENTS: &str = "listAgreements";
    pub const GET_AGREEMENT: &str = "getAgreement";
    pub const CANCEL_AGREEMENT: &str = "cancelAgreement";
    pub const LIST_ONE_OFFS: &str = "listOneOffPayments";
    pub const CAPTURE_ONE_OFF: &str = "captureOneOffPayment";
    pub const CREATE_REFUND: &str = "createRefund";
    pub const LIST_REFUNDS: &str = "listRefunds";
}

/// One merchant's client; cheap to clone, shared by the merchant's lanes.
#[derive(Clone)]
pub struct SubscriptionsClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: SubscriptionsConfig,
    app: GatewayApp,
    /// The consent the daemon's keeper refreshes too: one refresh state per merchant.
    consent: Arc<Consent>,
    provider: Mutex<Option<String>>,
}

impl fmt::Debug for SubscriptionsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionsClient")
            .field("api", &self.inner.config.api)
            .field("provider", &self.inner.config.provider)
            .finish_non_exhaustive()
    }
}

/// One call, described once and sent as often as the rules allow.
struct Call<'a> {
    endpoint: &'static str,
    method: Method,
    /// Path segments below `subscriptions/api`; each is escaped on its own.
    segments: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
    /// Serialised once by the caller, so that a repeat sends the very same bytes.
    body: Option<Vec<u8>>,
}

impl<'a> Call<'a> {
    fn new(endpoint: &'static str, method: Method, segments: Vec<&'a str>) -> Call<'a> {
        Call {
            endpoint,
            method,
            segments,
            query: Vec::new(),
            body: None,
        }
    }

    fn get(endpoint: &'static str, segments: Vec<&'a str>) -> Call<'a> {
        Call::new(endpoint, Method::GET, segments)
    }

    /// Reads change nothing, so they may be repeated after a lost answer or a 5xx.
    fn repeatable(&self) -> bool {
        self.method == Method::GET
    }
}

/// What one attempt came to.
#[derive(Debug)]
enum Attempt {
    Done(Vec<u8>),
    Answer(u16, Problem),
    /// 401; `Some` with the gateway's reason when it refused the app pair.
    Unauthorized(Option<String>),
    Server(u16, Problem),
    Lost(String),
}

impl SubscriptionsClient {
    pub fn new(
        config: SubscriptionsConfig,
        app: GatewayApp,
        consent: Arc<Consent>,
    ) -> Result<SubscriptionsClient, HttpConfigError> {
        config.validate()?;
        let http = build_http(config.timeouts.write, config.extra_ca_file.as_deref())?;
        let provider = config.provider.clone();
        Ok(SubscriptionsClient {
            inner: Arc::new(Inner {
                http,
                config,
                app,
                consent,
                provider: Mutex::new(provider),
            }),
        })
    }

    pub fn config(&self) -> &SubscriptionsConfig {
        &self.inner.config
    }

    /// `GET /api/merchants/me`: the merchant's subscription providers.
    pub async fn providers(&self, correlation: &Correlation) -> Result<Vec<Provider>, SubscriptionsError> {
        let call = Call::get(endpoints::MERCHANT_ME, vec!["merchants", "me"]);
        let me: MerchantAnswer = self.json(correlation, &call).await?;
        Ok(me.providers())
    }

    /// The provider agreements are made under: the configured one, else the merchant's only
    /// enabled one, looked up once; an error that lists the providers when there is none or
    /// several.
    pub async fn provider_id(&self, correlation: &Correlation) -> Result<String, SubscriptionsError> {
        let mut known = self.inner.provider.lock().await;
        if let Some(id) = known.as_ref() {
            return Ok(id.clone());
        }
        let providers = self.providers(correlation).await?;
        let id = only_enabled_provider(&providers).map_err(SubscriptionsError::Provider)?;
        *known = Some(id.clone());
        Ok(id)
    }

    /// `POST …/agreements` with `body` as it is.
    pub async fn create_agreement(
        &self,
        correlation: &Correlation,
        body: Vec<u8>,
    ) -> Result<CreatedAgreement, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let mut call = Call::new(
            endpoints::CREATE_AGREEMENT,
            Method::POST,
            vec!["providers", &provider, "agreements"],
        );
        call.body = Some(body);
        self.json(correlation, &call).await
    }

    /// `GET …/agreements?status=…&pageSize=…&pageNumber=…` (pages count from 1).
    pub async fn agreements(
        &self,
        correlation: &Correlation,
        status: &str,
        page_number: u32,
    ) -> Result<AgreementPage, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let mut call = Call::get(
            endpoints::LIST_AGREEMENTS,
            vec!["providers", &provider, "agreements"],
        );
        call.query = vec![
            ("status", status.to_string()),
            ("pageSize", self.inner.config.page_size.to_string()),
            ("pageNumber", page_number.to_string()),
        ];
        self.json(correlation, &call).await
    }

    /// `GET …/agreements/{agreementId}`.
    pub async fn agreement(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
    ) -> Result<Agreement, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let call = Call::get(
            endpoints::GET_AGREEMENT,
            vec!["providers", &provider, "agreements", agreement_id],
        );
        self.json(correlation, &call).await
    }

    /// `DELETE …/agreements/{agreementId}`: cancels a pending or accepted agreement and a
    /// reserved one-off on it.
    pub async fn cancel_agreement(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
    ) -> Result<(), SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let call = Call::new(
            endpoints::CANCEL_AGREEMENT,
            Method::DELETE,
            vec!["providers", &provider, "agreements", agreement_id],
        );
        self.send(correlation, &call).await.map(drop)
    }

    /// `GET …/agreements/{agreementId}/oneoffpayments`: the agreement's one-offs. The agreement
    /// does not name its one-off, and a list costs one read like a single one-off does.
    pub async fn one_offs(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
    ) -> Result<Vec<OneOff>, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let call = Call::get(
            endpoints::LIST_ONE_OFFS,
            vec![
                "providers",
                &provider,
                "agreements",
                agreement_id,
                "oneoffpayments",
            ],
        );
        self.json(correlation, &call).await
    }

    /// `POST …/oneoffpayments/{paymentId}/capture` (no body): the whole reserved amount.
    pub async fn capture(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
        payment_id: &str,
    ) -> Result<(), SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let call = Call::new(
            endpoints::CAPTURE_ONE_OFF,
            Method::POST,
            vec![
                "providers",
                &provider,
                "agreements",
                agreement_id,
                "oneoffpayments",
                payment_id,
                "capture",
            ],
        );
        self.send(correlation, &call).await.map(drop)
    }

    /// `POST …/agreements/{agreementId}/payments/{paymentId}/refunds` with `body` as it is.
    pub async fn refund(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
        payment_id: &str,
        body: Vec<u8>,
    ) -> Result<Refund, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let mut call = Call::new(
            endpoints::CREATE_REFUND,
            Method::POST,
            refunds_path(&provider, agreement_id, payment_id),
        );
        call.body = Some(body);
        self.json(correlation, &call).await
    }

    /// `GET …/agreements/{agreementId}/payments/{paymentId}/refunds`.
    pub async fn refunds(
        &self,
        correlation: &Correlation,
        agreement_id: &str,
        payment_id: &str,
    ) -> Result<Vec<Refund>, SubscriptionsError> {
        let provider = self.provider_id(correlation).await?;
        let call = Call::get(
            endpoints::LIST_REFUNDS,
            refunds_path(&provider, agreement_id, payment_id),
        );
        self.json(correlation, &call).await
    }

    async fn json<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<T, SubscriptionsError> {
        let body = self.send(correlation, call).await?;
        serde_json::from_slice(&body).map_err(|err| SubscriptionsError::InvalidAnswer {
            endpoint: call.endpoint,
            reason: err.to_string(),
        })
    }

    async fn send(&self, correlation: &Correlation, call: &Call<'_>) -> Result<Vec<u8>, SubscriptionsError> {
        let span = tracing::info_span!(
            "subscriptions",
            endpoint = call.endpoint,
            correlation_id = %correlation.id(),
            flow = correlation.kind(),
        );
        self.send_in_span(correlation, call).instrument(span).await
    }

    async fn send_in_span(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<Vec<u8>, SubscriptionsError> {
        let retry = self.inner.config.retry;
        let consent = &self.inner.consent;
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
                    tracing::info!(status, %problem, "MobilePay Subscriptions refused the call");
                    return Err(SubscriptionsError::Refused {
                        endpoint: call.endpoint,
                        status,
                        problem,
                    });
                }
                Attempt::Unauthorized(Some(gateway)) => {
                    // The engine's "unauthorized" carries no detail: the reason is told here.
                    tracing::warn!(reason = %gateway, "the API gateway refused the app pair (gateway_client_id, gateway_client_secret)");
                    return Err(SubscriptionsError::Unauthorized {
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
                    return Err(SubscriptionsError::Unauthorized {
                        endpoint: call.endpoint,
                        what: "the merchant's access token, also after renewing it,".into(),
                    });
                }
                Attempt::Server(status, problem) => {
                    if !call.repeatable() || failures >= retry.retries {
                        return Err(SubscriptionsError::Server {
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
                        return Err(SubscriptionsError::NoAnswer {
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

    async fn attempt(&self, correlation: &Correlation, call: &Call<'_>, token: &AccessToken) -> Attempt {
        let inner = &self.inner;
        let base = format!("{}/{BASE_PATH}/api", inner.config.api);
        let mut url = match reqwest::Url::parse(&base) {
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
            inner.config.timeouts.read
        } else {
            inner.config.timeouts.write
        };
        let mut request = inner
            .http
            .request(call.method.clone(), url)
            .timeout(timeout)
            .bearer_auth(token.expose())
            .header(headers::CLIENT_ID, &inner.app.client_id)
            .header(headers::CLIENT_SECRET, inner.app.client_secret.expose())
            .header(headers::CORRELATION_ID, correlation.id().to_string())
            .header(reqwest::header::ACCEPT, "application/json");
        request = match &call.body {
            Some(body) => request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone()),
            // A POST without a body (capture) still says its length, as the API expects.
            None if call.method == Method::POST => request.header(reqwest::header::CONTENT_LENGTH, "0"),
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

fn refunds_path<'a>(provider: &'a str, agreement_id: &'a str, payment_id: &'a str) -> Vec<&'a str> {
    vec![
        "providers",
        provider,
        "agreements",
        agreement_id,
        "payments",
        payment_id,
        "refunds",
    ]
}

fn classify(status: StatusCode, body: &[u8]) -> Attempt {
    if status.is_success() {
        return Attempt::Done(body.to_vec());
    }
    match status.as_u16() {
        401 => Attempt::Unauthorized(gateway_refusal(body)),
        s if status.is_server_error() => Attempt::Server(s, Problem::from_body(body)),
        s => Attempt::Answer(s, Problem::from_body(body)),
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

    fn classify_status(status: u16, body: &str) -> Attempt {
        classify(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn statuses_map_to_the_rules() {
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
        assert!(matches!(classify_status(500, "<html>"), Attempt::Server(500, _)));
        match classify_status(
            412,
            r#"{"error":"PreconditionFailed","error_description":{"message":"One-off is already captured.","error_type":"PreconditionError","correlation_id":"c","error_code":null}}"#,
        ) {
            Attempt::Answer(412, problem) => {
                assert_eq!(problem.kind.as_deref(), Some("PreconditionFailed"))
            }
            other => panic!("412 is an answer: {other:?}"),
        }
        assert!(matches!(classify_status(404, ""), Attempt::Answer(404, _)));
    }
}
