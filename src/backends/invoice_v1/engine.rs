//! A lane's [`Invoicing`] over its merchant's [`InvoiceClient`]: the lane's issuer, the rules
//! MobilePay Invoice sets, and the translation of each call.

use super::client::{InvoiceClient, Kind};
use super::translate;
use crate::correlation::Correlation;
use crate::engine::backend::{BackendError, CorrelationId, Refusal};
use crate::engine::invoicing::{
    CreateReplay, CreatedInvoice, InvoiceDelivery, InvoiceInfo, InvoiceRules, Invoicing, NewInvoice,
};

/// What MobilePay Invoice allows (reference §2.4, §2.14, §4.2): no idempotency key, so a
/// repeated create is refused as a duplicate without naming the invoice; a due date before
/// creation + 400 days; no published read limit, so one read every 3 seconds while the
/// customer is at the counter, the gentle end of the 2–3 s the integration notes suggest.
pub const RULES: InvoiceRules = InvoiceRules {
    create_replay: CreateReplay::RefusedAsDuplicate,
    max_due_days: 399,
    polls_per_minute: 20,
};

/// The `Rel` of an InvoiceLink's link that the customer opens.
const USER_REDIRECT: &str = "user-redirect";

/// The invoices of one lane: its merchant's client and the issuer the lane sends under.
#[derive(Clone, Debug)]
pub struct InvoiceBackend {
    client: InvoiceClient,
    /// The configured issuer; `None`: the merchant's only enabled one.
    issuer: Option<String>,
}

impl InvoiceBackend {
    pub fn new(client: InvoiceClient, issuer: Option<String>) -> InvoiceBackend {
        InvoiceBackend { client, issuer }
    }

    async fn issuer(&self, correlation: &Correlation) -> Result<String, BackendError> {
        match &self.issuer {
            Some(id) => Ok(id.clone()),
            None => self
                .client
                .only_enabled_issuer(correlation)
                .await
                .map_err(translate::error),
        }
    }
}

fn flow(correlation: CorrelationId) -> Correlation {
    Correlation::resume("invoice", correlation)
}

impl Invoicing for InvoiceBackend {
    fn rules(&self) -> InvoiceRules {
        RULES
    }

    async fn create_invoice(
        &self,
        correlation: CorrelationId,
        invoice: &NewInvoice,
    ) -> Result<CreatedInvoice, BackendError> {
        let currency = self.client.config().currency();
        if invoice.currency != currency {
            return Err(BackendError::Refused {
                reason: Refusal::CurrencyMismatch,
                detail: format!(
                    "MobilePay invoices merchant {} in {currency}, not {}",
                    self.client.config().vat,
                    invoice.currency
                ),
            });
        }
        let correlation = flow(correlation);
        let issuer = self.issuer(&correlation).await?;
        let body = translate::body(&translate::request(invoice, &issuer));
        let kind = match invoice.delivery {
            InvoiceDelivery::Link => Kind::Link,
            InvoiceDelivery::Phone { .. } => Kind::Direct,
        };
        let created = self
            .client
            .create(&correlation, kind, body)
            .await
            .map_err(translate::error)?;
        let link = match kind {
            Kind::Direct => None,
            Kind::Link => {
                let href = created
                    .links
                    .iter()
                    .find(|l| l.rel.eq_ignore_ascii_case(USER_REDIRECT))
                    .map(|l| l.href.clone());
                if href.is_none() {
                    tracing::warn!(invoice_id = %created.invoice_id, "the InvoiceLink came without its user-redirect link");
                }
                href
            }
        };
        Ok(CreatedInvoice {
            invoice_id: created.invoice_id,
            link,
        })
    }

    async fn invoice(
        &self,
        correlation: CorrelationId,
        invoice_id: &str,
    ) -> Result<InvoiceInfo, BackendError> {
        let details = self
            .client
            .details(&flow(correlation), invoice_id)
            .await
            .map_err(translate::error)?;
        Ok(InvoiceInfo {
            invoice_id: invoice_id.to_string(),
            state: translate::state(&details),
        })
    }

    async fn cancel_invoice(&self, correlation: CorrelationId, invoice_id: &str) -> Result<(), BackendError> {
        self.client
            .cancel(&flow(correlation), invoice_id)
            .await
            .map_err(translate::error)
    }
}
