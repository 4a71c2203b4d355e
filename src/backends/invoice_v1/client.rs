//! The Invoice client of one merchant: its calls and the rules every call follows.
//!
//! - Every call follows the rules of [`crate::backends::consent_api`]: the gateway's app pair
//!   and an access token of the merchant's consent, one token renewal after a 401, bounded
//!   repeats of reads.
//! - Creates and cancels are sent once: the API has no idempotency key, so whether to repeat
//!   them is the engine's decision (a create is repeated byte for byte, and MobilePay's
//!   duplicate check refuses it rather than pushing a second invoice to the phone).
//! - The merchant's `MerchantId` (and, when a lane names no issuer, its only enabled issuer)
//!   is looked up once and kept.

use super::config::{InvoiceConfig, BASE_PATH};
use super::error::{InvoiceError, Problem};
use super::model::{Created, Details, Issuer, IssuerList, MerchantMe};
use super::translate::only_enabled_issuer;
use crate::backends::consent_api::{Call, ConsentApi, GatewayApp, Settings};
use crate::backends::http::HttpConfigError;
use crate::consent::driver::Consent;
use crate::correlation::Correlation;
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use tokio::sync::Mutex;

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
    api: ConsentApi,
    config: InvoiceConfig,
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

impl InvoiceClient {
    pub fn new(
        config: InvoiceConfig,
        app: GatewayApp,
        consent: Arc<Consent>,
    ) -> Result<InvoiceClient, HttpConfigError> {
        config.validate()?;
        let settings = Settings {
            name: "MobilePay Invoice",
            base: format!("{}/{BASE_PATH}/api/v1/merchants", config.api),
            timeouts: config.timeouts,
            retry: config.retry,
            extra_ca_file: config.extra_ca_file.as_deref(),
        };
        let api = ConsentApi::new(settings, app, consent)?;
        Ok(InvoiceClient {
            inner: Arc::new(Inner {
                api,
                config,
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
        let mut call = Call::new(endpoint, Method::POST, segments);
        call.body = Some(body);
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
        let call = Call::new(
            endpoints::CANCEL,
            Method::PUT,
            vec![&merchant, "invoices", invoice_id, "cancel"],
        );
        self.send(correlation, &call).await.map(drop)
    }

    async fn json<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: &Call<'_>,
    ) -> Result<T, InvoiceError> {
        let span = span(correlation, call);
        Ok(self.inner.api.json::<_, Problem>(span, correlation, call).await?)
    }

    async fn send(&self, correlation: &Correlation, call: &Call<'_>) -> Result<Vec<u8>, InvoiceError> {
        let span = span(correlation, call);
        Ok(self.inner.api.send::<Problem>(span, correlation, call).await?)
    }
}

/// The span a call is logged in.
fn span(correlation: &Correlation, call: &Call<'_>) -> tracing::Span {
    tracing::info_span!(
        "invoice",
        endpoint = call.endpoint,
        correlation_id = %correlation.id(),
        flow = correlation.kind(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::consent_api::{classify, Attempt};
    use reqwest::StatusCode;

    fn classify_status(status: u16, body: &str) -> Attempt<Problem> {
        classify(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn error_answers_carry_the_invoice_error_body() {
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
