//! The engine's [`Backend`] over the MobilePay PoS V10 client: a thin translation between
//! engine terms (minor units, typed errors) and the wire types.

use crate::backends::pos_v10::client::MobilePayClient;
use crate::backends::pos_v10::error::{ApiError, MobilePayError};
use crate::backends::pos_v10::idempotency::IdempotencyKey;
use crate::backends::pos_v10::model::{
    CreateRefundRequest, InitiatePaymentRequest, PaymentReadyRequest, PreparePaymentRequest,
};
use crate::correlation::Correlation;
use crate::engine::backend::{
    Backend, BackendError, CorrelationId, NewPayment, NewRefund, PaymentInfo, ReadyPayment, RefundInfo,
};
use crate::money::{MajorAmount, Minor};

/// PoS V10 through [`MobilePayClient`] (which does the HTTP retries, token renewal and poll
/// pacing below the engine).
#[derive(Clone, Debug)]
pub struct PosV10Backend {
    client: MobilePayClient,
}

impl PosV10Backend {
    pub fn new(client: MobilePayClient) -> PosV10Backend {
        PosV10Backend { client }
    }

    pub fn client(&self) -> &MobilePayClient {
        &self.client
    }
}

fn key(text: &str) -> Result<IdempotencyKey, BackendError> {
    IdempotencyKey::parse(text).map_err(|_| BackendError::BadRequest {
        code: "1162".into(),
        message: "the stored idempotency key is not valid".into(),
    })
}

fn code_of(error: &MobilePayError) -> String {
    error.code.clone().unwrap_or_default()
}

fn translate(error: ApiError) -> BackendError {
    match error {
        ApiError::Conflict { error, .. } => BackendError::Conflict {
            code: code_of(&error),
            message: error.message.unwrap_or_default(),
        },
        ApiError::BadRequest { error, .. } => BackendError::BadRequest {
            code: code_of(&error),
            message: error.message.unwrap_or_default(),
        },
        ApiError::UnexpectedStatus { status, error, .. } => BackendError::BadRequest {
            code: error.code.unwrap_or_else(|| status.to_string()),
            message: error.message.unwrap_or_default(),
        },
        ApiError::NotFound { .. } => BackendError::NotFound,
        ApiError::Forbidden { error, .. } => BackendError::Forbidden {
            code: code_of(&error),
        },
        ApiError::Unauthorized { .. } | ApiError::Token(_) => BackendError::Unauthorized,
        ApiError::ServerError { error, status, .. } => BackendError::Server {
            code: error.code.unwrap_or_else(|| status.to_string()),
        },
        // A 2xx we could not read did take effect: treat it as a lost answer, so the engine
        // repeats (with the same key) or re-queries instead of guessing.
        ApiError::NoAnswer { .. } | ApiError::InvalidAnswer { .. } => BackendError::NoAnswer,
    }
}

fn minor(amount: &Option<MajorAmount>) -> Option<Minor> {
    amount.as_ref().and_then(|a| a.to_minor().ok())
}

impl Backend for PosV10Backend {
    async fn initiate_payment(
        &self,
        flow: CorrelationId,
        idempotency_key: &str,
        p: &NewPayment,
    ) -> Result<String, BackendError> {
        let request = InitiatePaymentRequest {
            pos_id: p.pos_id.clone(),
            order_id: p.order_id.clone(),
            amount: MajorAmount::from_minor(p.amount),
            currency_code: p.currency,
            restrictions: p.restrictions,
            merchant_payment_label: p.label.clone(),
            planned_capture_delay: p.planned_capture_delay,
        };
        self.client
            .initiate_payment(
                &Correlation::resume("payment", flow),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.payment_id)
            .map_err(translate)
    }

    async fn prepare_payment(
        &self,
        flow: CorrelationId,
        idempotency_key: &str,
        pos_id: &str,
        order_id: &str,
    ) -> Result<String, BackendError> {
        let request = PreparePaymentRequest {
            pos_id: pos_id.to_string(),
            order_id: order_id.to_string(),
        };
        self.client
            .prepare_payment(
                &Correlation::resume("payment", flow),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.payment_id)
            .map_err(translate)
    }

    async fn ready_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
        ready: &ReadyPayment,
    ) -> Result<(), BackendError> {
        let request = PaymentReadyRequest {
            amount: MajorAmount::from_minor(ready.amount),
            currency_code: ready.currency,
            planned_capture_delay: ready.planned_capture_delay,
            restrictions: ready.restrictions,
            merchant_payment_label: ready.label.clone(),
        };
        self.client
            .ready_payment(&Correlation::resume("payment", flow), payment_id, &request)
            .await
            .map_err(translate)
    }

    async fn get_payment(&self, flow: CorrelationId, payment_id: &str) -> Result<PaymentInfo, BackendError> {
        let p = self
            .client
            .get_payment(&Correlation::resume("payment", flow), payment_id)
            .await
            .map_err(translate)?;
        Ok(PaymentInfo {
            amount: minor(&p.amount),
            payment_id: p.payment_id,
            pos_id: p.pos_id,
            order_id: p.order_id,
            status: p.status,
            currency: p.currency_code,
            loyalty_ids: p.loyalty_ids,
            customer_token: p.customer_token,
            customer_receipt_token: p.customer_receipt_token,
            partial_capture_possible: p.partial_capture_possible,
            poll_delay_ms: p.poll_delay_in_ms,
        })
    }

    async fn find_payments(
        &self,
        flow: CorrelationId,
        pos_id: Option<&str>,
        order_id: Option<&str>,
        captured_only: bool,
    ) -> Result<Vec<String>, BackendError> {
        self.client
            .find_payments(
                &Correlation::resume("lookup", flow),
                pos_id,
                order_id,
                captured_only,
            )
            .await
            .map_err(translate)
    }

    async fn capture_payment(
        &self,
        flow: CorrelationId,
        payment_id: &str,
        amount: Minor,
    ) -> Result<(), BackendError> {
        self.client
            .capture_payment(&Correlation::resume("payment", flow), payment_id, amount)
            .await
            .map_err(translate)
    }

    async fn cancel_payment(&self, flow: CorrelationId, payment_id: &str) -> Result<(), BackendError> {
        self.client
            .cancel_payment(&Correlation::resume("payment", flow), payment_id)
            .await
            .map_err(translate)
    }

    async fn create_refund(
        &self,
        flow: CorrelationId,
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
                &Correlation::resume("refund", flow),
                &key(idempotency_key)?,
                &request,
            )
            .await
            .map(|r| r.refund_id)
            .map_err(translate)
    }

    async fn get_refund(&self, flow: CorrelationId, refund_id: &str) -> Result<RefundInfo, BackendError> {
        let r = self
            .client
            .get_refund(&Correlation::resume("refund", flow), refund_id)
            .await
            .map_err(translate)?;
        Ok(RefundInfo {
            amount: r.amount.to_minor().ok(),
            refund_id: r.refund_id,
            payment_id: r.payment_id,
            refund_order_id: r.refund_order_id,
            status: r.status,
            currency: r.currency_code,
            poll_delay_ms: r.poll_delay_in_ms,
        })
    }

    async fn find_refunds(&self, flow: CorrelationId, payment_id: &str) -> Result<Vec<String>, BackendError> {
        self.client
            .find_refunds(&Correlation::resume("refund", flow), payment_id)
            .await
            .map_err(translate)
    }

    async fn capture_refund(&self, flow: CorrelationId, refund_id: &str) -> Result<(), BackendError> {
        self.client
            .capture_refund(&Correlation::resume("refund", flow), refund_id)
            .await
            .map_err(translate)
    }

    async fn cancel_refund(&self, flow: CorrelationId, refund_id: &str) -> Result<(), BackendError> {
        self.client
            .cancel_refund(&Correlation::resume("refund", flow), refund_id)
            .await
            .map_err(translate)
    }
}
