//! The Subscriptions client of one merchant: its calls and the rules every call follows.
//!
//! - Every call follows the rules of [`crate::backends::consent_api`]: the gateway's app pair
//!   and an access token of the merchant's consent, one token renewal after a 401, bounded
//!   repeats of reads.
//! - Creates, captures, cancels and refunds are sent once: the API has no idempotency key and
//!   no duplicate check, so a repeat would make a second agreement or refund; what a lost
//!   answer means is the engine's decision (it looks for what the request made first).
//! - The subscription provider, when none is configured, is the merchant's only enabled one,
//!   looked up once and kept.

use super::config::{SubscriptionsConfig, BASE_PATH};
use super::error::{Problem, SubscriptionsError};
use super::model::{Agreement, AgreementPage, CreatedAgreement, MerchantAnswer, OneOff, Provider, Refund};
use super::translate::only_enabled_provider;
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
    api: ConsentApi,
    config: SubscriptionsConfig,
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

impl SubscriptionsClient {
    pub fn new(
        config: SubscriptionsConfig,
        app: GatewayApp,
        consent: Arc<Consent>,
    ) -> Result<SubscriptionsClient, HttpConfigError> {
        config.validate()?;
        let settings = Settings {
            name: "MobilePay Subscriptions",
            base: format!("{}/{BASE_PATH}/api", config.api),
            timeouts: config.timeouts,
            retry: config.retry,
            extra_ca_file: config.extra_ca_file.as_deref(),
        };
        let api = ConsentApi::new(settings, app, consent)?;
        let provider = config.provider.clone();
        Ok(SubscriptionsClient {
            inner: Arc::new(Inner {
                api,
                config,
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
        let span = span(correlation, call);
        Ok(self.inner.api.json::<_, Problem>(span, correlation, call).await?)
    }

    async fn send(&self, correlation: &Correlation, call: &Call<'_>) -> Result<Vec<u8>, SubscriptionsError> {
        let span = span(correlation, call);
        Ok(self.inner.api.send::<Problem>(span, correlation, call).await?)
    }
}

/// The span a call is logged in.
fn span(correlation: &Correlation, call: &Call<'_>) -> tracing::Span {
    tracing::info_span!(
        "subscriptions",
        endpoint = call.endpoint,
        correlation_id = %correlation.id(),
        flow = correlation.kind(),
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::consent_api::{classify, Attempt};
    use reqwest::StatusCode;

    fn classify_status(status: u16, body: &str) -> Attempt<Problem> {
        classify(StatusCode::from_u16(status).unwrap(), body.as_bytes())
    }

    #[test]
    fn error_answers_carry_the_subscriptions_error_body() {
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
