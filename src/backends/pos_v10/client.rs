//! The typed MobilePay PoS V10 client of one merchant (one VAT, one token).
//!
//! Every method is one PoS V10 endpoint; the wire rules (headers, timeouts, retries, token
//! renewal, poll pacing) live in the `http` module. Cloning is cheap and clones share
//! the token and the poll pacing, so one client per merchant can serve every flow.
use crate::correlation::Correlation;

use crate::{
    backends::pos_v10::{
        config::{ClientConfig, ConfigError},
        error::ApiError,
        http::{Call, Transport},
        idempotency::IdempotencyKey,
        model::{
            CreatePosRequest, CreateRefundRequest, GetCheckInResponse, GetRefundResponse,
            InitiatePaymentRequest, PaymentCaptureRequest, PaymentIdResponse, PaymentIdsResponse,
            PaymentReadyRequest, PosIdResponse, PosIdsResponse, PosResponse, PreparePaymentRequest,
            QueryPaymentResponse, RefundIdResponse, RefundIdsResponse, StoreIdsResponse, StoreResponse,
        },
        polling::{Pacer, PollEndpoint},
        tokens::{Clock, Credentials, SystemClock, TokenError, TokenManager, TokenSettings},
    },
    money::{MajorAmount, Minor},
    store::Db,
};
use serde::{de::DeserializeOwned, Serialize};
use std::sync::Arc;

#[derive(Clone)]
pub struct MobilePayClient {
    inner: Arc<Transport>,
}

impl std::fmt::Debug for MobilePayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobilePayClient")
            .field("vat", &self.vat())
            .field("pos_base", &self.inner.config.endpoints.pos_base)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ClientSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl MobilePayClient {
    /// A client for merchant `vat` with production timing (system clock, default renewals).
    pub fn open(
        config: ClientConfig,
        vat: &str,
        credentials: Credentials,
        db: Arc<Db>,
    ) -> Result<MobilePayClient, ClientSetupError> {
        MobilePayClient::with_clock(
            config,
            vat,
            credentials,
            db,
            Arc::new(SystemClock),
            TokenSettings::default(),
        )
    }

    /// Like [`MobilePayClient::open`], with the clock and renewal timing given explicitly.
    pub fn with_clock(
        config: ClientConfig,
        vat: &str,
        credentials: Credentials,
        db: Arc<Db>,
        clock: Arc<dyn Clock>,
        settings: TokenSettings,
    ) -> Result<MobilePayClient, ClientSetupError> {
        let http = config.build_http()?;
        let tokens = TokenManager::new(&config, http.clone(), vat, credentials, db, clock, settings)?;
        Ok(MobilePayClient::new(config, http, tokens))
    }

    /// Assembles a client from parts (several merchants can share one `reqwest::Client`).
    pub fn new(config: ClientConfig, http: reqwest::Client, tokens: TokenManager) -> MobilePayClient {
        MobilePayClient {
            inner: Arc::new(Transport {
                http,
                config: Arc::new(config),
                tokens,
                pacer: Pacer::new(),
            }),
        }
    }

    pub fn vat(&self) -> &str {
        self.inner.tokens.vat()
    }

    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    // ---- stores (§8) ----

    /// `GET /stores`: all store ids of the merchant, or the one at a brand + location.
    pub async fn find_stores(
        &self,
        correlation: &Correlation,
        brand_and_location: Option<(&str, &str)>,
    ) -> Result<Vec<String>, ApiError> {
        let mut call = Call::get("listStores", "/stores".into());
        if let Some((brand, location)) = brand_and_location {
            call.query.push(("merchantBrandId", brand.to_string()));
            call.query.push(("merchantLocationId", location.to_string()));
        }
        let answer: StoreIdsResponse = self.json(correlation, call).await?;
        Ok(answer.store_ids)
    }

    /// `GET /stores/{storeId}`.
    pub async fn get_store(
        &self,
        correlation: &Correlation,
        store_id: &str,
    ) -> Result<StoreResponse, ApiError> {
        self.json(
            correlation,
            Call::get("getStore", format!("/stores/{}", seg(store_id))),
        )
        .await
    }

    // ---- points of sale (§9) ----

    /// `POST /pointofsales`. Persist `key` before calling and reuse it for every retry.
    pub async fn create_pos(
        &self,
        correlation: &Correlation,
        key: &IdempotencyKey,
        request: &CreatePosRequest,
    ) -> Result<PosIdResponse, ApiError> {
        let mut call = Call::post("createPos", "/pointofsales".into(), Some(body(request)?));
        call.idempotency_key = Some(key);
        self.json(correlation, call).await
    }

    /// `GET /pointofsales?...`: PoS ids matching every given filter (at least one is needed).
    pub async fn find_pos(
        &self,
        correlation: &Correlation,
        merchant_pos_id: Option<&str>,
        beacon_id: Option<&str>,
        store_id: Option<&str>,
    ) -> Result<Vec<String>, ApiError> {
        let mut call = Call::get("findPos", "/pointofsales".into());
        for (name, value) in [
            ("merchantPosId", merchant_pos_id),
            ("beaconId", beacon_id),
            ("storeId", store_id),
        ] {
            if let Some(value) = value {
                call.query.push((name, value.to_string()));
            }
        }
        let answer: PosIdsResponse = self.json(correlation, call).await?;
        Ok(answer.pos_ids)
    }

    /// `GET /pointofsales/{posId}`.
    pub async fn get_pos(&self, correlation: &Correlation, pos_id: &str) -> Result<PosResponse, ApiError> {
        self.json(
            correlation,
            Call::get("getPos", format!("/pointofsales/{}", seg(pos_id))),
        )
        .await
    }

    /// `DELETE /pointofsales/{posId}`.
    pub async fn delete_pos(&self, correlation: &Correlation, pos_id: &str) -> Result<(), ApiError> {
        self.empty(
            correlation,
            Call::delete("deletePos", format!("/pointofsales/{}", seg(pos_id))),
        )
        .await
    }

    /// `GET /pointofsales/{posId}/checkin`, paced by its `pollDelayInMs` (safe to call in a
    /// loop; poll only while the QR code is shown).
    pub async fn get_checkin(
        &self,
        correlation: &Correlation,
        pos_id: &str,
    ) -> Result<GetCheckInResponse, ApiError> {
        let mut call = Call::get("getCheckin", format!("/pointofsales/{}/checkin", seg(pos_id)));
        call.poll = Some((PollEndpoint::Checkin, pos_id));
        let answer: GetCheckInResponse = self
            .polled(correlation, call, PollEndpoint::Checkin, pos_id)
            .await?;
        self.inner
            .pacer
            .answered(PollEndpoint::Checkin, pos_id, answer.poll_delay_in_ms);
        Ok(answer)
    }

    // ---- payments (§12) ----

    /// `POST /payments`. Persist `key` before calling and reuse it for every retry. The new
    /// payment's first status poll waits one poll delay ([`Pacer::created`]).
    pub async fn initiate_payment(
        &self,
        correlation: &Correlation,
        key: &IdempotencyKey,
        request: &InitiatePaymentRequest,
    ) -> Result<PaymentIdResponse, ApiError> {
        let mut call = Call::post("initiatePayment", "/payments".into(), Some(body(request)?));
        call.idempotency_key = Some(key);
        let answer: PaymentIdResponse = self.json(correlation, call).await?;
        self.inner
            .pacer
            .created(PollEndpoint::Payment, &answer.payment_id);
        Ok(answer)
    }

    /// `POST /payments/prepare`. Persist `key` before calling and reuse it for every retry.
    pub async fn prepare_payment(
        &self,
        correlation: &Correlation,
        key: &IdempotencyKey,
        request: &PreparePaymentRequest,
    ) -> Result<PaymentIdResponse, ApiError> {
        let mut call = Call::post("preparePayment", "/payments/prepare".into(), Some(body(request)?));
        call.idempotency_key = Some(key);
        self.json(correlation, call).await
    }

    /// `POST /payments/{paymentId}/ready`.
    pub async fn ready_payment(
        &self,
        correlation: &Correlation,
        payment_id: &str,
        request: &PaymentReadyRequest,
    ) -> Result<(), ApiError> {
        let call = Call::post(
            "readyPayment",
            format!("/payments/{}/ready", seg(payment_id)),
            Some(body(request)?),
        );
        self.empty(correlation, call).await
    }

    /// `GET /payments/{paymentId}`, paced by its `pollDelayInMs`: calling it in a loop is safe,
    /// each call waits as long as MobilePay asked.
    pub async fn get_payment(
        &self,
        correlation: &Correlation,
        payment_id: &str,
    ) -> Result<QueryPaymentResponse, ApiError> {
        let mut call = Call::get("getPayment", format!("/payments/{}", seg(payment_id)));
        call.poll = Some((PollEndpoint::Payment, payment_id));
        let answer: QueryPaymentResponse = self
            .polled(correlation, call, PollEndpoint::Payment, payment_id)
            .await?;
        self.inner
            .pacer
            .answered(PollEndpoint::Payment, payment_id, answer.poll_delay_in_ms);
        Ok(answer)
    }

    /// `GET /payments?...`: ids of the active or reserved payments of a PoS and/or order, or,
    /// with `captured_only`, of the captured ones (at least one of `pos_id`/`order_id`).
    pub async fn find_payments(
        &self,
        correlation: &Correlation,
        pos_id: Option<&str>,
        order_id: Option<&str>,
        captured_only: bool,
    ) -> Result<Vec<String>, ApiError> {
        let mut call = Call::get("findPayments", "/payments".into());
        if let Some(pos_id) = pos_id {
            call.query.push(("posId", pos_id.to_string()));
        }
        if let Some(order_id) = order_id {
            call.query.push(("orderId", order_id.to_string()));
        }
        if captured_only {
            call.query.push(("state", "Captured".to_string()));
        }
        let answer: PaymentIdsResponse = self.json(correlation, call).await?;
        Ok(answer.payment_ids)
    }

    /// `POST /payments/{paymentId}/capture` of `amount` (full or, where possible, partial).
    pub async fn capture_payment(
        &self,
        correlation: &Correlation,
        payment_id: &str,
        amount: Minor,
    ) -> Result<(), ApiError> {
        let request = PaymentCaptureRequest {
            amount: MajorAmount::from_minor(amount),
        };
        let call = Call::post(
            "capturePayment",
            format!("/payments/{}/capture", seg(payment_id)),
            Some(body(&request)?),
        );
        self.empty(correlation, call).await
    }

    /// `POST /payments/{paymentId}/cancel`.
    pub async fn cancel_payment(&self, correlation: &Correlation, payment_id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            "cancelPayment",
            format!("/payments/{}/cancel", seg(payment_id)),
            None,
        );
        self.empty(correlation, call).await
    }

    // ---- refunds (§13) ----

    /// `POST /refunds`. Persist `key` before calling and reuse it for every retry.
    pub async fn create_refund(
        &self,
        correlation: &Correlation,
        key: &IdempotencyKey,
        request: &CreateRefundRequest,
    ) -> Result<RefundIdResponse, ApiError> {
        let mut call = Call::post("createRefund", "/refunds".into(), Some(body(request)?));
        call.idempotency_key = Some(key);
        self.json(correlation, call).await
    }

    /// `GET /refunds/{refundId}`, paced by its `pollDelayInMs` (safe to call in a loop).
    pub async fn get_refund(
        &self,
        correlation: &Correlation,
        refund_id: &str,
    ) -> Result<GetRefundResponse, ApiError> {
        let mut call = Call::get("getRefund", format!("/refunds/{}", seg(refund_id)));
        call.poll = Some((PollEndpoint::Refund, refund_id));
        let answer: GetRefundResponse = self
            .polled(correlation, call, PollEndpoint::Refund, refund_id)
            .await?;
        self.inner
            .pacer
            .answered(PollEndpoint::Refund, refund_id, answer.poll_delay_in_ms);
        Ok(answer)
    }

    /// `GET /refunds?paymentId=`.
    pub async fn find_refunds(
        &self,
        correlation: &Correlation,
        payment_id: &str,
    ) -> Result<Vec<String>, ApiError> {
        let mut call = Call::get("findRefunds", "/refunds".into());
        call.query.push(("paymentId", payment_id.to_string()));
        let answer: RefundIdsResponse = self.json(correlation, call).await?;
        Ok(answer.refund_ids)
    }

    /// `POST /refunds/{refundId}/capture`.
    pub async fn capture_refund(&self, correlation: &Correlation, refund_id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            "captureRefund",
            format!("/refunds/{}/capture", seg(refund_id)),
            None,
        );
        self.empty(correlation, call).await
    }

    /// `POST /refunds/{refundId}/cancel`.
    pub async fn cancel_refund(&self, correlation: &Correlation, refund_id: &str) -> Result<(), ApiError> {
        let call = Call::post(
            "cancelRefund",
            format!("/refunds/{}/cancel", seg(refund_id)),
            None,
        );
        self.empty(correlation, call).await
    }

    // ---- plumbing ----

    async fn json<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: Call<'_>,
    ) -> Result<T, ApiError> {
        let endpoint = call.endpoint;
        let body = self.inner.send(correlation, call).await?;
        parse(endpoint, &body)
    }

    async fn empty(&self, correlation: &Correlation, call: Call<'_>) -> Result<(), ApiError> {
        self.inner.send(correlation, call).await.map(drop)
    }

    /// A polling GET whose answer, if unreadable, still counts as "no answer" for the pacing.
    async fn polled<T: DeserializeOwned>(
        &self,
        correlation: &Correlation,
        call: Call<'_>,
        endpoint: PollEndpoint,
        id: &str,
    ) -> Result<T, ApiError> {
        let result = self.json(correlation, call).await;
        if let Err(ApiError::InvalidAnswer { .. }) = &result {
            self.inner.pacer.unanswered(endpoint, id);
        }
        result
    }
}

fn body<T: Serialize>(request: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(request).map_err(|err| ApiError::InvalidAnswer {
        endpoint: "request",
        reason: format!("cannot encode the request: {err}"),
    })
}

fn parse<T: DeserializeOwned>(endpoint: &'static str, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| ApiError::InvalidAnswer {
        endpoint,
        reason: err.to_string(),
    })
}

/// A path segment: ids come from MobilePay or our configuration, but an id with a `/` or `?`
/// must not turn into another path.
fn seg(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(
            seg("c85916b1-8e17-4275-a388-551e16aa6293"),
            "c85916b1-8e17-4275-a388-551e16aa6293"
        );
        assert_eq!(seg("../x?y"), "%2E%2E%2Fx%3Fy");
        assert_eq!(seg("æ"), "%C3%A6");
    }

    #[test]
    fn unreadable_answers_are_errors_not_panics() {
        let err = parse::<PaymentIdResponse>("initiatePayment", b"{\"nope\":1}").unwrap_err();
        assert!(matches!(
            err,
            ApiError::InvalidAnswer {
                endpoint: "initiatePayment",
                ..
            }
        ));
        let ok: PaymentIdResponse = parse("initiatePayment", br#"{"paymentId":"p","extra":true}"#).unwrap();
        assert_eq!(ok.payment_id, "p");
    }

    fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

    #[test]
    fn the_client_can_be_shared_between_tasks() {
        assert_send_sync_clone::<MobilePayClient>();
        assert_send_sync_clone::<TokenManager>();
    }
}
