//! A lane's [`Agreements`] over its merchant's [`SubscriptionsClient`]: the rules MobilePay
//! Subscriptions sets, and the translation of each call.
//!
//! Neither the agreement create nor the refund create has an idempotency key or a duplicate
//! check, so the engine looks for what a request with a lost answer made before it repeats it
//! ([`AgreementReplay::FindByReference`]): by the agreement's and the refund's `external_id`,
//! which carry the engine's reference.

use super::client::SubscriptionsClient;
use super::model::Agreement;
use super::translate;
use crate::correlation::Correlation;
use crate::engine::agreements::{
    AgreementInfo, AgreementReplay, AgreementRules, AgreementState, Agreements, CreatedAgreement,
    FirstPaymentInfo, NewAgreement, NewAgreementRefund,
};
use crate::engine::backend::{BackendError, CorrelationId, Refusal};

/// What MobilePay Subscriptions allows (reference §3.11): no idempotency key; one read of an
/// agreement (and, once it has left `Pending`, of its one-off) every 6 seconds, within the
/// 2024 facade's 10 reads a minute of a one-off.
pub const RULES: AgreementRules = AgreementRules {
    create_replay: AgreementReplay::FindByReference,
    polls_per_minute: 10,
};

/// The lists a look-up by reference searches, in this order. A lost create's agreement is
/// normally still `Pending`: its link was never shown, so nobody can have accepted or rejected
/// it. But a repeat accepted after the journal was rebuilt from damage may be of a sign-up whose
/// link was shown, accepted and its first payment captured, or that ended long ago: only every
/// state tells "never made" from "made", and a second agreement would charge the customer a
/// second first payment. Searching costs one read per page and list, only after a lost answer or
/// while the journal is in doubt.
const LOOKED_IN: [&str; 5] = ["Pending", "Accepted", "Rejected", "Expired", "Canceled"];

/// The agreements of one lane: its merchant's client.
#[derive(Clone, Debug)]
pub struct SubscriptionsBackend {
    client: SubscriptionsClient,
}

impl SubscriptionsBackend {
    pub fn new(client: SubscriptionsClient) -> SubscriptionsBackend {
        SubscriptionsBackend { client }
    }

    /// The one-off of `agreement` made with it, if it has one.
    async fn first_payment(
        &self,
        correlation: &Correlation,
        agreement: &Agreement,
    ) -> Result<Option<FirstPaymentInfo>, BackendError> {
        let one_offs = self
            .client
            .one_offs(correlation, &agreement.id)
            .await
            .map_err(translate::error)?;
        Ok(
            translate::first_payment(agreement.external_id.as_deref(), &one_offs).map(|o| FirstPaymentInfo {
                payment_id: o.id.clone(),
                state: translate::one_off_state(&o.status),
                amount: o.amount,
            }),
        )
    }

    /// The agreement whose `external_id` is `reference`, in any state.
    async fn find(
        &self,
        correlation: &Correlation,
        reference: &str,
    ) -> Result<Option<Agreement>, BackendError> {
        for status in LOOKED_IN {
            if let Some(found) = self.find_in(correlation, status, reference).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The agreement of `reference` among those in `status`, page by page (oldest first), up
    /// to the first page that is not full.
    async fn find_in(
        &self,
        correlation: &Correlation,
        status: &str,
        reference: &str,
    ) -> Result<Option<Agreement>, BackendError> {
        let asked = self.client.config().page_size;
        for page_number in 1.. {
            let page = self
                .client
                .agreements(correlation, status, page_number)
                .await
                .map_err(translate::error)?;
            // A page shorter than its size is the last one.
            let size = page.page_size.filter(|s| *s > 0).unwrap_or(asked) as usize;
            let last = page.agreements.len() < size;
            if let Some(found) = page
                .agreements
                .into_iter()
                .find(|a| a.external_id.as_deref() == Some(reference))
            {
                return Ok(Some(found));
            }
            if last {
                break;
            }
        }
        Ok(None)
    }
}

fn flow(correlation: CorrelationId) -> Correlation {
    Correlation::resume("agreement", correlation)
}

/// An answer that lacks what it must hold: the call took effect, so the engine treats it as a
/// lost answer and looks again.
fn incomplete(what: String) -> BackendError {
    tracing::warn!("{what}");
    BackendError::Server { detail: what }
}

impl Agreements for SubscriptionsBackend {
    fn rules(&self) -> AgreementRules {
        RULES
    }

    async fn create_agreement(
        &self,
        correlation: CorrelationId,
        agreement: &NewAgreement,
    ) -> Result<CreatedAgreement, BackendError> {
        if agreement
            .first_payment
            .as_ref()
            .is_some_and(|f| !f.amount.is_positive())
            || agreement.price.is_some_and(|p| p.0 < 0)
        {
            return Err(BackendError::Refused {
                reason: Refusal::InvalidAmount,
                detail: "MobilePay takes a first payment above zero and a price of zero or more".into(),
            });
        }
        let request = translate::agreement_request(agreement, &self.client.config().links);
        let created = self
            .client
            .create_agreement(&flow(correlation), translate::body(&request))
            .await
            .map_err(translate::error)?;
        let link = translate::mobile_pay_link(&created.links).ok_or_else(|| {
            incomplete(format!(
                "agreement {} was created without its mobile-pay link",
                created.id
            ))
        })?;
        Ok(CreatedAgreement {
            agreement_id: created.id,
            link,
            first_payment_id: created.one_off_payment_id,
        })
    }

    /// Searches every state's list ([`LOOKED_IN`]): whatever the agreement became, the flow
    /// goes on from it (an accepted one to its first payment, read before any capture; an
    /// ended one to the same end), and never makes a second one.
    async fn find_agreement(
        &self,
        correlation: CorrelationId,
        reference: &str,
    ) -> Result<Option<CreatedAgreement>, BackendError> {
        let correlation = flow(correlation);
        let Some(found) = self.find(&correlation, reference).await? else {
            return Ok(None);
        };
        let link = translate::mobile_pay_link(&found.links).ok_or_else(|| {
            incomplete(format!(
                "agreement {} was listed without its mobile-pay link",
                found.id
            ))
        })?;
        let first_payment_id = self
            .first_payment(&correlation, &found)
            .await?
            .map(|p| p.payment_id);
        Ok(Some(CreatedAgreement {
            agreement_id: found.id,
            link,
            first_payment_id,
        }))
    }

    /// The agreement's one-off is read only once the agreement has left `Pending`: before, it
    /// is `Requested` with the agreement and the engine does not look at it, so a poll while
    /// the customer decides costs one read.
    async fn agreement(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
    ) -> Result<AgreementInfo, BackendError> {
        let correlation = flow(correlation);
        let agreement = self
            .client
            .agreement(&correlation, agreement_id)
            .await
            .map_err(translate::error)?;
        let state = translate::agreement_state(&agreement.status);
        let first_payment = match state {
            AgreementState::Pending => None,
            _ => self.first_payment(&correlation, &agreement).await?,
        };
        Ok(AgreementInfo {
            agreement_id: agreement_id.to_string(),
            state,
            first_payment,
        })
    }

    async fn capture_first_payment(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
        payment_id: &str,
    ) -> Result<(), BackendError> {
        self.client
            .capture(&flow(correlation), agreement_id, payment_id)
            .await
            .map_err(translate::error)
    }

    async fn cancel_agreement(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
    ) -> Result<(), BackendError> {
        self.client
            .cancel_agreement(&flow(correlation), agreement_id)
            .await
            .map_err(translate::error)
    }

    async fn refund(
        &self,
        correlation: CorrelationId,
        refund: &NewAgreementRefund,
    ) -> Result<String, BackendError> {
        if refund.amount < translate::REFUND_MINIMUM {
            return Err(BackendError::Refused {
                reason: Refusal::InvalidAmount,
                detail: format!(
                    "MobilePay refunds at least {}, not {}",
                    translate::REFUND_MINIMUM,
                    refund.amount
                ),
            });
        }
        let request = translate::refund_request(refund, self.client.config().links.refund_callback());
        let created = self
            .client
            .refund(
                &flow(correlation),
                &refund.agreement_id,
                &refund.payment_id,
                translate::body(&request),
            )
            .await
            .map_err(translate::error)?;
        Ok(created.id)
    }

    async fn find_refund(
        &self,
        correlation: CorrelationId,
        agreement_id: &str,
        payment_id: &str,
        reference: &str,
    ) -> Result<Option<String>, BackendError> {
        let refunds = self
            .client
            .refunds(&flow(correlation), agreement_id, payment_id)
            .await
            .map_err(translate::error)?;
        Ok(refunds
            .into_iter()
            .find(|r| r.external_id.as_deref() == Some(reference))
            .map(|r| r.id))
    }
}
