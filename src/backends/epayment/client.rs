//! The ePayment client of one sales unit: its calls and the rules every call follows.
//!
//! - Every call carries the bearer token, `Ocp-Apim-Subscription-Key`,
//!   `Merchant-Serial-Number` and the four `Vipps-System-*` headers; every modifying call
//!   (create, capture, cancel, refund) an `Idempotency-Key` chosen by the caller.
//! - No answer or a 5xx is retried (bounded, with jittered exponential back-off) with the very
//!   same key, path and body bytes: the API then carries the request out at most once.
//! - 429 waits for `Retry-After` (seconds or an HTTP date, capped), then repeats; 423 on a
//!   cancel (the customer is approving in the app) waits a pause, then repeats. Both are
//!   bounded.
//! - 401 drops the token and repeats once with a fresh one.
//! - Any other 4xx is an answer and returned at once: the API remembers it for that key.
//! - Reads wait for their slot of the read pacer, retries included.
//!
//! The test environment's force-approve is not offered: a till never approves in the
//! customer's place.

use crate::backends::epayment::{
    config::{EpaymentConfig, EpaymentConfigError, Keys},
    error::{EpError, ProblemInfo},
    model::{
        headers, Amount, CancelRequest, CreatePaymentRequest, CreatePaymentResponse, GetPaymentResponse,
        ModificationRequest, ModificationResponse, PaymentEvent,
    },
    pacing::ReadPacer,
    qr::PutMerchantCallbackRequest,
    tokens::Tokens,
    webhooks::{RegisterRequest, RegisterResponse, RegistrationList},
};
use crate::backends::http::{build_http, exchange, retry_after};
use crate::correlation::Correlation;
use crate::secrets::{AccessToken, SecretError};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};
use tracing::Instrument;

/// Endpoint names used in logs and errors.
pub mod endpoints {
    pub const CREATE: &str = "createPayment";
    pub const GET: &str = "getPayment";
    pub const EVENTS: &str = "getPaymentEventLog";
    pub const CAPTURE: &str = "capturePayment";
    pub const CANCEL: &str = "cancelPayment";
    pub const REFUND: &str = "refundPayment";
    pub const REGISTER_WEBHOOK: &str = "registerWebhook";
    pub const LIST_WEBHOOKS: &str = "getAllWebhooks";
    pub const DELETE_WEBHOOK: &str = "deleteWebhook";
    pub const PUT_CALLBACK_QR: &str = "putMerchantCallbackQr";
    pub const PUT_MOBILEPAY_CALLBACK_QR: &str = "putMerchantCallbackMobilePayQr";
}

const PAYMENTS: &str = "epayment/v1/payments";
const WEBHOOKS: &str = "webhooks/v1/webhooks";
const CALLBACK_QRS: &str = "qr/v1/merchant-callback";

#[derive(Debug, thiserror::Error)]
pub enum EpaymentSetupError {
    #[error(transparent)]
    Config(#[from] EpaymentConfigError),
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// One sales unit's client; cheap to clone, safe to share.
#[derive(Clone, Debug)]
pub struct EpaymentClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: EpaymentConfig,
    subscription_key: crate::secrets::Secret,
    tokens: Tokens,
    pacer: ReadPacer,
}

/// One call, described once and sent as often as the rules allow.
struct Call<'a> {
    endpoint: &'static str,
    method: Method,
    /// The API's path below the base URL.
    api: &'static str,
    /// Path segments below the API's path; each is escaped on its own.
    segments: Vec<&'a str>,
    /// Serialised once, so every retry sends identical bytes.
    body: Option<Vec<u8>>,
    idempotency_key: Option<&'a str>,
    /// A read of this reference: paced.
    paced: Option<&'a str>,
    /// Repeat after 423 (cancel only).
    retry_locked: bool,
}

/// What one attempt came to.
#[derive(Debug)]
enum Attempt {
    Done(Vec<u8>),
    Answer(u16, ProblemInfo),
    Unauthorized,
    Locked(ProblemInfo),
    RateLimited(Option<Duration>),
    Server(u16, ProblemInfo),
    Lost(String),
}

impl EpaymentClient {
    /// Reads the keys from the configured secret sources and builds the client.
    pub fn new(config: EpaymentConfig) -> Result<EpaymentClient, EpaymentSetupError> {
        config.validate()?;
        let keys = Keys::load(&config)?;
        EpaymentClient::with_keys(config, keys)
    }

    /// Builds the client with keys already read.
    pub fn with_keys(config: EpaymentConfig, keys: Keys) -> Result<EpaymentClient, EpaymentSetupError> {
        config.validate()?;
        let http = build_http(config.timeouts.write, config.extra_ca_file.as_deref())
            .map_err(EpaymentConfigError::from)?;
        let subscription_key = keys.subscription_key.clone();
        let tokens = Tokens::new(
            http.clone(),
            &config.base_url,
            &config.msn,
            keys,
            config.system.clone(),
            config.timeouts.write,
        );
        let pacer = ReadPacer::new(config.waits.read_interval);
        Ok(EpaymentClient {
            inner: Arc::new(Inner {
                http,
                config,
                subscription_key,
                tokens,
                pacer,
            }),
        })
    }

    /// The sales unit this client acts for.
    pub fn msn(&self) -> &str {
        &self.inner.config.msn
    }

    /// `POST /epayment/v1/payments`. Repeating it with the same key and request (after an
    /// unknown outcome, even after a restart) gives the one payment.
    pub async fn create(
        &self,
        correlation: &Correlation,
        idempotency_key: &str,
        request: &CreatePaymentRequest,
    ) -> Result<CreatePaymentResponse, EpError> {
        let call = Call::post(endpoints::CREATE, vec![], body(request), idempotency_key);
        self.json(correlation, call).await
    }

    /// `GET /epayment/v1/payments/{reference}`.
    pub async fn payment(
        &self,
        correlation: &Correlation,
        reference: &str,
    ) -> Result<GetPaymentResponse, EpError> {
        let call = Call::read(endpoints::GET, vec![reference], reference);
        self.json(correlation, call).await
    }

    /// `GET /epayment/v1/payments/{reference}/events`.
    pub async fn events(
        &self,
        correlation: &Correlation,
        reference: &str,
    ) -> Result<Vec<PaymentEvent>, EpError> {
        let call = Call::read(endpoints::EVENTS, vec![reference, "events"], reference);
        self.json(correlation, call).await
    }

    /// `POST …/{reference}/capture`.
    pub async fn capture(
        &self,
        correlation: &Correlation,
        reference: &str,
        idempotency_key: &str,
        amount: &Amount,
    ) -> Result<ModificationResponse, EpError> {
        let call = Call::modify(endpoints::CAPTURE, reference, "capture", amount, idempotency_key);
        self.json(correlation, call).await
    }

    /// `POST …/{reference}/refund`.
    pub async fn refund(
        &self,
        correlation: &Correlation,
        reference: &str,
        idempotency_key: &str,
        amount: &Amount,
    ) -> Result<ModificationResponse, EpError> {
        let call = Call::modify(endpoints::REFUND, reference, "refund", amount, idempotency_key);
        self.json(correlation, call).await
    }

    /// `POST …/{reference}/cancel`, always with a body (some API versions refuse none).
    /// While the customer is approving (423) it waits and repeats.
    pub async fn cancel(
        &self,
        correlation: &Correlation,
        reference: &str,
        idempotency_key: &str,
        request: &CancelRequest,
    ) -> Result<ModificationResponse, EpError> {
        let call = Call {
            retry_locked: true,
            ..Call::post(
                endpoints::CANCEL,
                vec![reference, "cancel"],
                body(request),
                idempotency_key,
            )
        };
        self.json(correlation, call).await
    }

    /// `POST /webhooks/v1/webhooks`: `url` gets `events` from now on, signed with the secret
    /// in the answer, which is shown this once. Sent without an idempotency key (the API takes
    /// none), so a repeat after a lost answer may leave a second registration of the URL:
    /// callers list the registrations afterwards and delete the ones they do not hold.
    pub async fn register_webhook(
        &self,
        correlation: &Correlation,
        request: &RegisterRequest,
    ) -> Result<RegisterResponse, EpError> {
        let call = Call {
            method: Method::POST,
            body: Some(body(request)),
            ..Call::webhooks(endpoints::REGISTER_WEBHOOK, vec![])
        };
        self.json(correlation, call).await
    }

    /// `GET /webhooks/v1/webhooks`: this sales unit's registrations, without their secrets.
    pub async fn webhooks(&self, correlation: &Correlation) -> Result<RegistrationList, EpError> {
        let call = Call::webhooks(endpoints::LIST_WEBHOOKS, vec![]);
        self.json(correlation, call).await
    }

    /// `DELETE /webhooks/v1/webhooks/{id}`.
    pub async fn delete_webhook(&self, correlation: &Correlation, id: &str) -> Result<(), EpError> {
        let call = Call {
            method: Method::DELETE,
            ..Call::webhooks(endpoints::DELETE_WEBHOOK, vec![id])
        };
        self.send_plain(correlation, call).await
    }

    /// `PUT /qr/v1/merchant-callback/{merchantQrId}`: the merchant callback QR (a printed
    /// sticker customers check in at) exists with this description. Naturally idempotent.
    pub async fn put_callback_qr(
        &self,
        correlation: &Correlation,
        merchant_qr_id: &str,
        request: &PutMerchantCallbackRequest,
    ) -> Result<(), EpError> {
        let call = Call::put_qr(endpoints::PUT_CALLBACK_QR, vec![merchant_qr_id], body(request));
        self.send_plain(correlation, call).await
    }

    /// `PUT /qr/v1/merchant-callback/mobilepay/{beaconId}`: the printed MobilePay sticker
    /// `beacon_id` checks customers in at this sales unit (its check-ins name it as their
    /// `merchantQrId`). 409 when another sales unit has it.
    pub async fn put_mobilepay_callback_qr(
        &self,
        correlation: &Correlation,
        beacon_id: &str,
        request: &PutMerchantCallbackRequest,
    ) -> Result<(), EpError> {
        let call = Call::put_qr(
            endpoints::PUT_MOBILEPAY_CALLBACK_QR,
            vec!["mobilepay", beacon_id],
            body(request),
        );
        self.send_plain(correlation, call).await
    }

    /// Sends a call whose answer has no body worth reading.
    async fn send_plain(&self, correlation: &Correlation, call: Call<'_>) -> Result<(), EpError> {
        let span =
            tracing::info_span!("epayment", endpoint = call.endpoint, correlation_id = %correlation.id());
        self.send(&call).instrument(span).await.map(drop)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: Call<'_>,
    ) -> Result<T, EpError> {
        let endpoint = call.endpoint;
        if let Some(key) = call.idempotency_key {
            if key.is_empty() || key.len() > headers::MAX_IDEMPOTENCY_KEY {
                return Err(EpError::BadIdempotencyKey {
                    key: key.to_string(),
                    max: headers::MAX_IDEMPOTENCY_KEY,
                });
            }
        }
        let span = tracing::info_span!(
            "epayment",
            endpoint,
            correlation_id = %correlation.id(),
            flow = correlation.kind(),
            idempotency_key = call.idempotency_key,
        );
        let body = self.send(&call).instrument(span).await?;
        serde_json::from_slice(&body).map_err(|err| EpError::InvalidAnswer {
            endpoint,
            reason: err.to_string(),
        })
    }

    async fn send(&self, call: &Call<'_>) -> Result<Vec<u8>, EpError> {
        let config = &self.inner.config;
        let retries = config.retry.retries;
        let (mut failures, mut limited, mut locked) = (0u32, 0u32, 0u32);
        let mut renewed = false;
        let mut lost: Option<String> = None;
        let mut token = self.inner.tokens.token().await?;
        loop {
            if let Some(reference) = call.paced {
                self.inner.pacer.wait(call.endpoint, reference).await;
            }
            let attempts = 1 + failures + limited + locked + u32::from(renewed);
            let wait = match self.attempt(call, &token).await {
                Attempt::Done(body) => {
                    if attempts > 1 {
                        tracing::info!(attempts, "succeeded after repeating");
                    }
                    return Ok(body);
                }
                Attempt::Answer(status, info) => {
                    tracing::info!(status, problem = %info, "ePayment refused the call");
                    return Err(unknown_if_lost(
                        call.endpoint,
                        &lost,
                        attempts,
                        EpError::Refused {
                            endpoint: call.endpoint,
                            status,
                            info,
                        },
                    ));
                }
                Attempt::Unauthorized if !renewed => {
                    tracing::warn!("access token refused (401); renewing it and trying once more");
                    renewed = true;
                    token = match self.inner.tokens.renew_rejected(&token).await {
                        Ok(token) => token,
                        Err(err) => return Err(unknown_if_lost(call.endpoint, &lost, attempts, err.into())),
                    };
                    continue;
                }
                Attempt::Unauthorized => {
                    let err = EpError::Unauthorized {
                        endpoint: call.endpoint,
                    };
                    return Err(unknown_if_lost(call.endpoint, &lost, attempts, err));
                }
                Attempt::Locked(info) => {
                    locked += 1;
                    if !call.retry_locked || locked >= config.waits.locked_attempts {
                        let err = EpError::Locked {
                            endpoint: call.endpoint,
                            attempts: locked,
                            info,
                        };
                        return Err(unknown_if_lost(call.endpoint, &lost, attempts, err));
                    }
                    tracing::info!("the customer is approving the payment (423); waiting before repeating");
                    config.waits.locked
                }
                Attempt::RateLimited(retry_after) => {
                    limited += 1;
                    if limited >= config.waits.rate_limited_attempts {
                        let err = EpError::RateLimited {
                            endpoint: call.endpoint,
                            attempts: limited,
                        };
                        return Err(unknown_if_lost(call.endpoint, &lost, attempts, err));
                    }
                    let wait = retry_after
                        .unwrap_or(config.waits.rate_limited)
                        .min(config.waits.max_retry_after);
                    tracing::warn!(
                        wait_ms = wait.as_millis() as u64,
                        "rate-limited (429); waiting before repeating"
                    );
                    wait
                }
                Attempt::Server(status, info) => {
                    failures += 1;
                    if failures > retries {
                        return Err(match lost {
                            Some(reason) => EpError::NoAnswer {
                                endpoint: call.endpoint,
                                attempts,
                                reason: format!("{reason}; last attempt: HTTP {status} ({info})"),
                            },
                            None => EpError::Server {
                                endpoint: call.endpoint,
                                status,
                                attempts,
                                info,
                            },
                        });
                    }
                    let wait = config.retry.backoff().delay(failures);
                    tracing::warn!(status, problem = %info, retry_in_ms = wait.as_millis() as u64, "ePayment failed the call; repeating it");
                    wait
                }
                Attempt::Lost(reason) => {
                    failures += 1;
                    if failures > retries {
                        return Err(EpError::NoAnswer {
                            endpoint: call.endpoint,
                            attempts,
                            reason,
                        });
                    }
                    let wait = config.retry.backoff().delay(failures);
                    tracing::warn!(problem = %reason, retry_in_ms = wait.as_millis() as u64, "no answer from ePayment; repeating the call");
                    lost = Some(reason);
                    wait
                }
            };
            tokio::time::sleep(wait).await;
            // A repeat uses the newest token (it may have been renewed meanwhile).
            token = match self.inner.tokens.token().await {
                Ok(token) => token,
                Err(err) => return Err(unknown_if_lost(call.endpoint, &lost, attempts, err.into())),
            };
        }
    }

    async fn attempt(&self, call: &Call<'_>, token: &AccessToken) -> Attempt {
        let inner = &self.inner;
        let mut url = match reqwest::Url::parse(&format!("{}/{}", inner.config.base_url, call.api)) {
            Ok(url) => url,
            Err(err) => return Attempt::Lost(format!("bad URL: {err}")),
        };
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(&call.segments);
        }
        let timeout = if call.method == Method::GET {
            inner.config.timeouts.read
        } else {
            inner.config.timeouts.write
        };
        let mut request = inner
            .http
            .request(call.method.clone(), url)
            .timeout(timeout)
            .bearer_auth(token.expose())
            .header(headers::SUBSCRIPTION_KEY, inner.subscription_key.expose())
            .header(headers::MSN, &inner.config.msn)
            .header(
                reqwest::header::ACCEPT,
                "application/json, application/problem+json",
            );
        for (name, value) in inner.config.system.pairs() {
            request = request.header(name, value);
        }
        if let Some(key) = call.idempotency_key {
            request = request.header(headers::IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let (status, headers, body) = match exchange(request).await {
            Ok(answer) => answer,
            Err(reason) => return Attempt::Lost(reason),
        };
        tracing::debug!(status = status.as_u16(), "answer");
        classify(status, retry_after(&headers, SystemTime::now()), body)
    }
}

impl<'a> Call<'a> {
    fn read(endpoint: &'static str, segments: Vec<&'a str>, reference: &'a str) -> Call<'a> {
        Call {
            endpoint,
            method: Method::GET,
            api: PAYMENTS,
            segments,
            body: None,
            idempotency_key: None,
            paced: Some(reference),
            retry_locked: false,
        }
    }

    /// A read of the Webhooks API; the others change `method` and `body`.
    fn webhooks(endpoint: &'static str, segments: Vec<&'a str>) -> Call<'a> {
        Call {
            endpoint,
            method: Method::GET,
            api: WEBHOOKS,
            segments,
            body: None,
            idempotency_key: None,
            paced: None,
            retry_locked: false,
        }
    }

    /// A `PUT` of the QR API's merchant callback QRs.
    fn put_qr(endpoint: &'static str, segments: Vec<&'a str>, body: Vec<u8>) -> Call<'a> {
        Call {
            endpoint,
            method: Method::PUT,
            api: CALLBACK_QRS,
            segments,
            body: Some(body),
            idempotency_key: None,
            paced: None,
            retry_locked: false,
        }
    }

    /// Capture or refund of `amount`.
    fn modify(
        endpoint: &'static str,
        reference: &'a str,
        operation: &'a str,
        amount: &Amount,
        key: &'a str,
    ) -> Call<'a> {
        let request = ModificationRequest {
            modification_amount: amount.clone(),
        };
        Call::post(endpoint, vec![reference, operation], body(&request), key)
    }

    fn post(endpoint: &'static str, segments: Vec<&'a str>, body: Vec<u8>, key: &'a str) -> Call<'a> {
        Call {
            endpoint,
            method: Method::POST,
            api: PAYMENTS,
            segments,
            body: Some(body),
            idempotency_key: Some(key),
            paced: None,
            retry_locked: false,
        }
    }
}

fn body<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // The wire types are plain data: serialising them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// A failure that ends the repeats must not hide that an earlier attempt may have taken effect.
fn unknown_if_lost(endpoint: &'static str, lost: &Option<String>, attempts: u32, err: EpError) -> EpError {
    match lost {
        Some(reason) => EpError::NoAnswer {
            endpoint,
            attempts,
            reason: format!("{reason}; then: {err}"),
        },
        None => err,
    }
}

fn classify(status: StatusCode, retry_after: Option<Duration>, body: Vec<u8>) -> Attempt {
    if status.is_success() {
        return Attempt::Done(body);
    }
    let info = ProblemInfo::from_body(&body);
    match status.as_u16() {
        401 => Attempt::Unauthorized,
        423 => Attempt::Locked(info),
        429 => Attempt::RateLimited(retry_after),
        s if status.is_server_error() => Attempt::Server(s, info),
        s => Attempt::Answer(s, info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify_status(status: u16, body: &str) -> Attempt {
        classify(
            StatusCode::from_u16(status).unwrap(),
            None,
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn statuses_map_to_the_rules() {
        assert!(matches!(classify_status(201, "{}"), Attempt::Done(_)));
        assert!(matches!(classify_status(401, "{}"), Attempt::Unauthorized));
        assert!(matches!(classify_status(423, "{}"), Attempt::Locked(_)));
        assert!(matches!(classify_status(429, ""), Attempt::RateLimited(None)));
        assert!(matches!(classify_status(500, ""), Attempt::Server(500, _)));
        assert!(matches!(classify_status(502, "<html>"), Attempt::Server(502, _)));
        let problem = r#"{"type":"t","title":"Conflict","status":409,"extraDetails":[{"name":"ErrorCode","reason":"4150"}]}"#;
        match classify_status(409, problem) {
            Attempt::Answer(409, info) => assert_eq!(info.code(), Some("4150")),
            other => panic!("409 is an answer: {other:?}"),
        }
        assert!(matches!(classify_status(422, ""), Attempt::Answer(422, _)));
    }
}
