//! The Invoice client of one merchant: its calls and the rules every call follows.
//!
//! - Every call carries the gateway's app pair (`x-ibm-client-id`, `x-ibm-client-secret`),
//!   `Authorization: Bearer` with an access token of the merchant's consent, and the command's
//!   `CorrelationId`.
//! - 401 gets a fresh access token once and the call is repeated; a second 401 is final. A 401
//!   that names the app pair (the gateway's own body) is final at once: a new token cannot
//!   help.
//! - Reads are repeated (bounded, jittered back-off) after no answer or a 5xx. Creates and
//!   cancels are sent once: the API has no idempotency key, so whether to repeat them is the
//!   engine's decision (a create is repeated byte for byte, and MobilePay's duplicate check
//!   refuses it rather than pushing a second invoice to the phone).
//! - The merchant's `MerchantId` (and, when a lane names no issuer, its only enabled issuer)
//!   is looked up once and kept.

use super::config::{GatewayApp, InvoiceConfig, BASE_PATH};
use super::error::{InvoiceError, Problem};
use super::model::{headers, Created, Details, Issuer, IssuerList, MerchantMe};
use super::translate::only_enabled_issuer;
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
    pub const ISSUERS: &str = "getInvoiceIssuers";
    pub const CREATE_DIRECT: &str = "createInvoiceDirect";
    pub const CREATE_LINK: &str = "createInvoiceLink";
    pub const GET: &str = "getInvoice";
    pub const CANCEL: &str = "cancelInvoice";
}

/// Which kind of invoice a create makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Pushed to the phone number in the request's `ConsumerAlias`.
    Direct,
    /// A link anyone who scans it may pay.
    Link,
}

/// One merchant's client; cheap to clone, shared by the merchant's lanes.
#[derive(Clone)]
pub struct InvoiceClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: InvoiceConfig,
    app: GatewayApp,
    /// The consent the daemon's keeper refreshes too: one refresh state per merchant.
    consent: Arc<Consent>,
    merchant_id: Mutex<Option<String>>,
    enabled_issuer: Mutex<Option<String>>,
}

impl fmt::Debug for InvoiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvoiceClient")
            .field("vat", &self.inner.config.vat)
            .field("api", &self.inner.config.api)
            .finish_non_exhaustive()
    }
}

/// One call, described once and sent as often as the rules allow.
struct Call<'a> {
    endpoint: &'static str,
    method: Method,
    /// Path segments below `api/v1/merchants`; each is escaped on its own.
    segments: Vec<&'a str>,
    /// Serialised once by the caller, so that a repeat sends the very same bytes.
    body: Option<Vec<u8>>,
}

impl Call<'_> {
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

impl InvoiceClient {
    pub fn new(
        config: InvoiceConfig,
        app: GatewayApp,
        consent: Arc<Consent>,
    ) -> Result<InvoiceClient, HttpConfigError> {
        config.validate()?;
        let http = build_http(config.timeouts.write, config.extra_ca_file.as_deref())?;
        Ok(InvoiceClient {
            inner: Arc::new(Inner {
                http,
                config,
                app,
                consent,
                merchant_id: Mutex::new(None),
                enabled_issuer: Mutex::new(None),
            }),
        })
    }

    pub fn config(&self) -> &InvoiceConfig {
        &self.inner.config
    }

    /// `GET /api/v1/merchants/me`: the merchant the consent is for, asked once.
    pub async fn merchant_id(&self, correlation: &Correlation) -> Result<String, InvoiceError> {
        let mut known = self.inner.merchant_id.lock().await;
        if let Some(id) = known.as_ref() {
            return Ok(id.clone());
        }
        let call = Call::get(endpoints::MERCHANT_ME, vec!["me"]);
        let me: MerchantMe = self.json(correlation, &call).await?;
        *known = Some(me.merchant_id.clone());
        Ok(me.merchant_id)
    }

    /// `GET …/invoiceissuers`.
    pub async fn issuers(&self, correlation: &Correlation) -> Result<Vec<Issuer>, InvoiceError> {
        let merchant = self.merchant_id(correlation).await?;
        let call = Call::get(endpoints::ISSUERS, vec![&merchant, "invoiceissuers"]);
        let list: IssuerList = self.json(correlation, &call).await?;
        Ok(list.invoice_issuers)
    }

    /// The merchant's only enabled issuer, looked up once; an error that lists the issuers when
    /// there is none or several.
    pub async fn only_enabled_issuer(&self, correlation: &Correlation) -> Result<String, InvoiceError> {
        let mut known = self.inner.enabled_issuer.lock().await;
        if let Some(id) = known.as_ref() {
            return Ok(id.clone());
        }
        let issuers = self.issuers(correlation).await?;
        let id = only_enabled_issuer(&issuers).map_err(InvoiceError::Issuer)?;
        *known = Some(id.clone());
        Ok(id)
    }

    /// `POST …/invoices` (InvoiceDirect) or `POST …/invoices/link` (InvoiceLink) with `body`
    /// as it is.
    pub async fn create(
        &self,
        correlation: &Correlation,
        kind: Kind,
        body: Vec<u8>,
    ) -> Result<Created, InvoiceError> {
        let merchant = self.merchant_id(correlation).await?;
        let (endpoint, segments) = match kind {
            Kind::Direct => (endpoints::CREATE_DIRECT, vec![merchant.as_str(), "invoices"]),
            Kind::Link => (
                endpoints::CREATE_LINK,
                vec![merchant.as_str(), "invoices", "link"],
            ),
        };
        let call = Call {
            endpoint,
            method: Method::POST,
            segments,
            body: Some(body),
        };
        self.json(correlation, &call).await
    }

    /// `GET …/invoices/{invoiceId}`: the details, with `Status` and `PaymentDate`.
    pub async fn details(
        &self,
        correlation: &Correlation,
        invoice_id: &str,
    ) -> Result<Details, InvoiceError> {
        let merchant = self.merchant_id(correlation).await?;
        let call = Call::get(endpoints::GET, vec![&merchant, "invoices", invoice_id]);
        self.json(correlation, &call).await
    }

    /// `PUT …/invoices/{invoiceId}/cancel`.
    pub async fn cancel(&self, correlation: &Correlation, invoice_id: &str) -> Result<(), InvoiceError> {
        let merchant = self.merchant_id(correlation).await?;
        let call = Call {
            endpoint: endpoints::CANCEL,
            method: Method::PUT,
            segments: vec![&merchant, "invoices", invoice_id, "cancel"],
            body: None,
        };
        self.send(correlation, &call).await.map(drop)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<T, InvoiceError> {
        let body = self.send(correlation, call).await?;
        serde_json::from_slice(&body).map_err(|err| InvoiceError::InvalidAnswer {
            endpoint: call.endpoint,
            reason: err.to_string(),
        })
    }

    async fn send(&self, correlation: &Correlation, call: &Call<'_>) -> Result<Vec<u8>, InvoiceError> {
        let span = tracing::info_span!(
            "invoice",
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
    ) -> Result<Vec<u8>, InvoiceError> {
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
                    tracing::info!(status, %problem, "MobilePay Invoice refused the call");
                    return Err(InvoiceError::Refused {
                        endpoint: call.endpoint,
                        status,
                        problem,
                    });
                }
                Attempt::Unauthorized(Some(gateway)) => {
                    // The engine's "unauthorized" carries no detail: the reason is told here.
                    tracing::warn!(reason = %gateway, "the API gateway refused the app pair (gateway_client_id, gateway_client_secret)");
                    return Err(InvoiceError::Unauthorized {
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
                    return Err(InvoiceError::Unauthorized {
                        endpoint: call.endpoint,
                        what: "the merchant's access token, also after renewing it,".into(),
                    });
                }
                Attempt::Server(status, problem) => {
                    if !call.repeatable() || failures >= retry.retries {
                        return Err(InvoiceError::Server {
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
                        return Err(InvoiceError::NoAnswer {
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
        let base = format!("{}/{BASE_PATH}/api/v1/merchants", inner.config.api);
        let mut url = match reqwest::Url::parse(&base) {
            Ok(url) => url,
            Err(err) => return Attempt::Lost(format!("bad URL: {err}")),
        };
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(&call.segments);
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
            // A PUT without a body still says its length, as the API expects.
            None if call.method == Method::PUT => request.header(reqwest::header::CONTENT_LENGTH, "0"),
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

impl<'a> Call<'a> {
    fn get(endpoint: &'static str, segments: Vec<&'a str>) -> Call<'a> {
        Call {
            endpoint,
            method: Method::GET,
            segments,
            body: None,
        }
    }
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
        assert!(matches!(classify_status(200, "{}"), Attempt::Done(_)));
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
        let domain = r#"{"correlation_id":"c","error":"DomainError","error_code":"10101","error_description":"MobilePay user not found","error_context":"Invoices"}"#;
        match classify_status(409, domain) {
            Attempt::Answer(409, problem) => {
                assert_eq!(problem.code().as_deref(), Some("10101"));
                assert_eq!(
                    problem.to_string(),
                    "10101 DomainError: MobilePay user not found [correlation_id c]"
                );
            }
            other => panic!("409 is an answer: {other:?}"),
        }
        assert!(matches!(classify_status(404, ""), Attempt::Answer(404, _)));
    }
}
