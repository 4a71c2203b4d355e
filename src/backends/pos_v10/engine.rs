//! The engine's [`Backend`] over the MobilePay PoS V10 client: a thin translation between
//! the engine's vocabulary and the wire types. The code table and the status mapping are in
//! `translate.rs`.

use super::client::MobilePayClient;
use super::idempotency::IdempotencyKey;
use super::model::{
    CreateRefundRequest, InitiatePaymentRequest, PaymentReadyRequest, PlannedCaptureDelay,
    PreparePaymentRequest, Restrictions,
};
use super::translate::{error as translate, payment_state, refund_state};
use crate::backends::invoice_v1::InvoiceBackend;
use crate::backends::products::CounterProducts;
use crate::backends::subscriptions_v1::SubscriptionsBackend;
use crate::correlation::Correlation;
use crate::engine::backend::{
    Backend, BackendError, Capabilities, CardRestrictions, CorrelationId, CustomerPrompt, NewCheckIn,
    NewPayment, NewRefund, PaymentInfo, PaymentQuery, PaymentTerms, RefundInfo, Refusal,
};
use crate::money::{MajorAmount, Minor};

/// What PoS V10 offers (reference §9-§13): prepared payments, listing a point of sale's
/// payments, refunds as resources confirmed by a capture, `partialCapturePossible` on the
/// reserved payment, polls paced by `pollDelayInMs` alone, reservations cancelled after 7
/// days, registered points of sale, payments named by MobilePay: the set the engine was first
/// built for. The customer always scans: V10 cannot push a payment to a phone.
const CAPABILITIES: Capabilities = Capabilities {
    pushes_to_customer: false,
    ..Capabilities::ALL
};

/// PoS V10 through [`MobilePayClient`] (which does the HTTP retries, token renewal and poll
/// pacing below the engine).
#[derive(Clone, Debug)]
pub struct PosV10Backend {
    client: MobilePayClient,
    /// The lane's invoices and sign-ups, when it offers them.
    products: CounterProducts,
}

impl PosV10Backend {
    pub fn new(client: MobilePayClient) -> PosV10Backend {
        PosV10Backend {
            client,
            products: CounterProducts::default(),
        }
    }

    /// The same backend, offering the lane's invoices and sign-ups as well.
    pub fn with_products(self, products: CounterProducts) -> PosV10Backend {
        PosV10Backend { products, ..self }
    }

    pub fn client(&self) -> &MobilePayClient {
        &self.client
    }
}

/// What a V10 customer is shown: the point of sale's beacon id as a QR code, the same one
/// printed on its sticker (reference §9.4).
pub fn prompt(beacon_id: &str) -> CustomerPrompt {
    CustomerPrompt::Qr {
        content: super::formats::qr_payload(beacon_id),
        sticker_id: Some(beacon_id.to_string()),
    }
}

fn key(text: &str) -> Result<IdempotencyKey, BackendError> {
    IdempotencyKey::parse(text).map_err(|_| BackendError::Refused {
        reason: Refusal::Invalid,
        detail: "bad request 1162: the stored idempotency key is not valid".into(),
    })
}

fn restrictions(r: Option<CardRestrictions>) -> Option<Restrictions> {
    r.map(|r| Restrictions {
        debit_card_disallowed: r.debit_card_disallowed,
        credit_card_disallowed: r.credit_card_disallowed,
    })
}

/// `None` for a sale captured at once; a kept reservation is expected to be captured within a
/// day (MobilePay support chases it later).
fn capture_delay(keep_reservation: bool) -> PlannedCaptureDelay {
    if keep_reservation {
        PlannedCaptureDelay::LessThan24Hours
    } else {
        PlannedCaptureDelay::None
    }
}

fn minor(amount: &Option<MajorAmount>) -> Option<Minor> {
    amount.as_ref().and_then(|a| a.to_minor().ok())
}

impl Backend for PosV10Backend {
    type Invoicing = InvoiceBackend;
    type Agreements = SubscriptionsBackend;

    fn invoicing(&self) -> Option<&InvoiceBackend> {
        self.products.invoicing.as_ref()
    }

    fn agreements(&self) -> Option<&SubscriptionsBackend> {
        self.products.agreements.as_ref()
    }

    fn capabilities(&self) -> &Capabilities {
        &CAPABILITIES
    }

    async fn create_payment(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        p: &NewPayment,
    ) -> Result<String, BackendError> {
        let request = InitiatePaymentRequest {
            pos_id: p.point_of_sale.clone(),
            order_id: p.order_id.clone(),
            amount: MajorAmount::from_minor(p.terms.amount),
            currency_code: p.terms.currency,
            restrictions: restrictions(p.terms.restrictions),
            merchant_payment_label: p.terms.label.clone(),
            planned_capture_delay: capture_delay(p.terms.keep_reservation),
        };
        self.client
            .initiate_payment(
                &Correlation::resume("payment", correlation),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.payment_id)
            .map_err(translate)
    }

    async fn check_in(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        c: &NewCheckIn,
    ) -> Result<String, BackendError> {
        let request = PreparePaymentRequest {
            pos_id: c.point_of_sale.clone(),
            order_id: c.order_id.clone(),
        };
        self.client
            .prepare_payment(
                &Correlation::resume("payment", correlation),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.payment_id)
            .map_err(translate)
    }

    async fn set_terms(
        &self,
        correlation: CorrelationId,
        payment_id: &str,
        terms: &PaymentTerms,
    ) -> Result<(), BackendError> {
        let request = PaymentReadyRequest {
            amount: MajorAmount::from_minor(terms.amount),
            currency_code: terms.currency,
            planned_capture_delay: capture_delay(terms.keep_reservation),
            restrictions: restrictions(terms.restrictions),
            merchant_payment_label: terms.label.clone(),
        };
        self.client
            .ready_payment(&Correlation::resume("payment", correlation), payment_id, &request)
            .await
            .map_err(translate)
    }

    async fn payment(
        &self,
        correlation: CorrelationId,
        payment_id: &str,
    ) -> Result<PaymentInfo, BackendError> {
        let p = self
            .client
            .get_payment(&Correlation::resume("payment", correlation), payment_id)
            .await
            .map_err(translate)?;
        let amount = minor(&p.amount);
        Ok(PaymentInfo {
            state: payment_state(&p.status, amount),
            amount,
            payment_id: p.payment_id,
            order_id: p.order_id,
            currency: p.currency_code,
            loyalty_ids: p.loyalty_ids,
            customer_token: p.customer_token,
            customer_receipt_token: p.customer_receipt_token,
            partial_capture_possible: p.partial_capture_possible,
            poll_delay_ms: p.poll_delay_in_ms,
            prompt: None,
        })
    }

    async fn find_payments(
        &self,
        correlation: CorrelationId,
        query: &PaymentQuery,
    ) -> Result<Vec<String>, BackendError> {
        self.client
            .find_payments(
                &Correlation::resume("lookup", correlation),
                query.point_of_sale.as_deref(),
                query.order_id.as_deref(),
                query.captured,
            )
            .await
            .map_err(translate)
    }

    /// V10 captures are naturally idempotent (a repeated capture of the same amount is
    /// answered as done), so no key is sent.
    async fn capture(
        &self,
        correlation: CorrelationId,
        _idempotency_key: &str,
        payment_id: &str,
        amount: Minor,
    ) -> Result<(), BackendError> {
        self.client
            .capture_payment(&Correlation::resume("payment", correlation), payment_id, amount)
            .await
            .map_err(translate)
    }

    /// V10 cancels are naturally idempotent, so no key is sent.
    async fn cancel(
        &self,
        correlation: CorrelationId,
        _idempotency_key: &str,
        payment_id: &str,
    ) -> Result<(), BackendError> {
        self.client
            .cancel_payment(&Correlation::resume("payment", correlation), payment_id)
            .await
            .map_err(translate)
    }

    async fn refund(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        r: &NewRefund,
    ) -> Result<String, BackendError> {
        let request = CreateRefundRequest {
            payment_id: r.payment_id.clone(),
            refund_order_id: r.refund_order_id.clone(),
            amount: MajorAmount::from_minor(r.amount),
            currency_code: r.currency,
        };
        self.client
            .create_refund(
                &Correlation::resume("refund", correlation),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.refund_id)
            .map_err(translate)
    }

    async fn refund_status(
        &self,
        correlation: CorrelationId,
        refund_id: &str,
    ) -> Result<RefundInfo, BackendError> {
        let r = self
            .client
            .get_refund(&Correlation::resume("refund", correlation), refund_id)
            .await
            .map_err(translate)?;
        Ok(RefundInfo {
            amount: r.amount.to_minor().ok(),
            state: refund_state(&r.status),
            refund_id: r.refund_id,
            payment_id: r.payment_id,
            currency: r.currency_code,
            poll_delay_ms: r.poll_delay_in_ms,
        })
    }

    async fn confirm_refund(&self, correlation: CorrelationId, refund_id: &str) -> Result<(), BackendError> {
        self.client
            .capture_refund(&Correlation::resume("refund", correlation), refund_id)
            .await
            .map_err(translate)
    }

    async fn cancel_refund(&self, correlation: CorrelationId, refund_id: &str) -> Result<(), BackendError> {
        self.client
            .cancel_refund(&Correlation::resume("refund", correlation), refund_id)
            .await
            .map_err(translate)
    }
}
