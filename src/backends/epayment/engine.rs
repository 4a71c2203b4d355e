//! The engine's [`Backend`] over the ePayment client: which in-store flow a sale takes, and the
//! translation between the engine's words and the wire types (the code table and the state
//! mapping are in `translate.rs`).
//!
//! ePayment names a payment by the reference its creator chooses, so the engine's reference
//! (derived from the command) *is* the payment's id: a create repeated at any age, after any
//! crash, reaches the one payment, and a second payment with that reference cannot exist.

use super::check_ins::CheckIns;
use super::client::EpaymentClient;
use super::model::{
    Amount, CancelRequest, CreatePaymentRequest, Currency as WireCurrency, Customer, CustomerInteraction,
    PaymentMethod, PaymentMethodType, QrFormat, QrImageFormat, UserFlow,
};
use super::receipt::receipt;
use super::translate::{error as translate, payment_state};
use crate::backends::invoice_v1::InvoiceBackend;
use crate::backends::products::CounterProducts;
use crate::backends::subscriptions_v1::SubscriptionsBackend;
use crate::correlation::Correlation;
use crate::engine::backend::{
    Backend, BackendError, Capabilities, CorrelationId, CustomerPrompt, NewCheckIn, NewPayment, NewRefund,
    PartialCapture, Payer, PaymentInfo, PaymentQuery, PaymentTerms, RefundInfo, RefundModel, Refusal,
};
use crate::money::{Currency, Minor};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Metadata key under which the cash register's order id travels with the payment, so a
/// payment read back names its order.
const ORDER_ID: &str = "orderId";

/// The pace §A12 of the reference gives: every 2 seconds.
const POLL_DELAY_MS: u32 = 2000;

/// Uncaptured reservations of Danish and Finnish sales units are cancelled after 14 days
/// (reference §A10); mposd takes DKK and EUR only.
const CAPTURE_DEADLINE_MS: u64 = 14 * 24 * 3600 * 1000;

/// What ePayment offers (reference §A, §B1): no check-in before the amount (prepared payments
/// are gone), no listing of payments, refunds as changes to the payment, partial captures
/// told only by a refusal, at most 120 reads per minute of one payment, a 14-day capture
/// deadline, no point-of-sale object, payments named by our reference, pushes to a phone
/// number, a scanned personal QR or whoever checked in at the lane's sticker, and no debit-only or credit-only payments (it can only
/// block commercial cards).
const CAPABILITIES: Capabilities = Capabilities {
    check_in_before_amount: false,
    lists_open_payments: false,
    refunds: RefundModel::Modification,
    partial_capture: PartialCapture::OnlyFromRefusal,
    polls_per_minute: Some(120),
    reservation_lifetime_ms: CAPTURE_DEADLINE_MS,
    point_of_sale_registered: false,
    payment_named_by_reference: true,
    pushes_to_customer: true,
    restricts_cards: false,
};

/// How the QR code of a sale the customer scans reaches the customer display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QrDrawing {
    /// The display fetches the official image (PNG of `size` pixels per side, 100–2000) and
    /// shows its modules. Every sales unit may do this.
    OfficialImage { size: u32 },
    /// The display draws the code from its target URL. Only for sales units Vipps MobilePay
    /// approved for self-drawn codes.
    FromTargetUrl,
}

impl Default for QrDrawing {
    fn default() -> QrDrawing {
        QrDrawing::OfficialImage { size: 600 }
    }
}

/// ePayment for one sales unit.
#[derive(Clone, Debug)]
pub struct EpaymentBackend {
    client: EpaymentClient,
    qr: QrDrawing,
    /// A sales unit takes one currency, that of its market (reference §A4): captures are in
    /// it.
    currency: Currency,
    /// The check-ins at the printed stickers of the sales unit's lanes.
    check_ins: Arc<CheckIns>,
    /// The lane's invoices and sign-ups, when it offers them.
    products: CounterProducts,
}

impl EpaymentBackend {
    pub fn new(client: EpaymentClient, qr: QrDrawing, currency: Currency) -> EpaymentBackend {
        EpaymentBackend {
            client,
            qr,
            currency,
            check_ins: Arc::default(),
            products: CounterProducts::default(),
        }
    }

    /// The same backend (the same client and sticker check-ins), offering the lane's invoices
    /// and sign-ups as well.
    pub fn with_products(self, products: CounterProducts) -> EpaymentBackend {
        EpaymentBackend { products, ..self }
    }

    pub fn client(&self) -> &EpaymentClient {
        &self.client
    }

    /// Where the webhook listener records check-ins at the stickers of this backend's lanes.
    pub fn check_ins(&self) -> &Arc<CheckIns> {
        &self.check_ins
    }

    /// What the customer of a payment is shown: the QR behind `redirect_url` in the way this
    /// sales unit may show it; a push when there is none (`PUSH_MESSAGE` has no `redirectUrl`).
    fn prompt(&self, redirect_url: Option<String>) -> CustomerPrompt {
        match (redirect_url, self.qr) {
            (None, _) => CustomerPrompt::PushSent,
            (Some(url), QrDrawing::OfficialImage { .. }) => CustomerPrompt::QrImage { url },
            (Some(content), QrDrawing::FromTargetUrl) => CustomerPrompt::Qr {
                content,
                sticker_id: None,
            },
        }
    }

    fn qr_format(&self) -> QrFormat {
        match self.qr {
            QrDrawing::OfficialImage { size } => QrFormat {
                format: QrImageFormat::Png,
                size: Some(size),
            },
            QrDrawing::FromTargetUrl => QrFormat {
                format: QrImageFormat::TargetUrl,
                size: None,
            },
        }
    }
}

fn wire(currency: Currency) -> WireCurrency {
    match currency {
        Currency::DKK => WireCurrency::Dkk,
        Currency::EUR => WireCurrency::Eur,
    }
}

fn amount(value: Minor, currency: Currency) -> Amount {
    Amount {
        currency: wire(currency),
        value: value.0,
    }
}

fn engine_currency(currency: &WireCurrency) -> Option<Currency> {
    match currency {
        WireCurrency::Dkk => Some(Currency::DKK),
        WireCurrency::Eur => Some(Currency::EUR),
        _ => None,
    }
}

/// The text the customer sees in the app (3–100 characters): the label when the cash register
/// gave one, and the order id.
fn description(order_id: &str, label: Option<&str>) -> String {
    let text = match label {
        Some(label) => format!("{label}, order {order_id}"),
        None => format!("Order {order_id}"),
    };
    text.chars().take(100).collect()
}

/// Why a sale for the sticker cannot be pushed to anyone.
const NO_CHECK_IN: &str = "no customer has checked in at the sticker in the last 14 minutes";

/// A call the engine makes only on backends that declare the capability ePayment lacks.
fn lacking(what: &str) -> BackendError {
    BackendError::Refused {
        reason: Refusal::Invalid,
        detail: format!("ePayment has no {what}"),
    }
}

impl Backend for EpaymentBackend {
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
        let (user_flow, customer) = match &p.payer {
            Payer::Scans => (UserFlow::Qr, None),
            Payer::Phone { number } => (
                UserFlow::PushMessage,
                Some(Customer {
                    phone_number: Some(number.clone()),
                    ..Customer::default()
                }),
            ),
            Payer::PersonalQr { code } => (
                UserFlow::PushMessage,
                Some(Customer {
                    personal_qr: Some(code.clone()),
                    ..Customer::default()
                }),
            ),
            // The lane's name is the engine's point of sale on ePayment lanes. A repeat after
            // a crash may find a newer check-in: its body then differs from the first
            // attempt's, the API refuses the key, and the engine finds its payment by the
            // reference.
            Payer::Sticker => match self.check_ins.latest(&p.point_of_sale, Instant::now()) {
                Some(token) => (
                    UserFlow::PushMessage,
                    Some(Customer {
                        customer_token: Some(token.expose().to_string()),
                        ..Customer::default()
                    }),
                ),
                None => {
                    return Err(BackendError::Refused {
                        reason: Refusal::Invalid,
                        detail: NO_CHECK_IN.into(),
                    })
                }
            },
        };
        let request = CreatePaymentRequest {
            amount: amount(p.terms.amount, p.terms.currency),
            payment_method: PaymentMethod {
                kind: PaymentMethodType::Wallet,
                blocked_sources: None,
            },
            reference: p.reference.clone(),
            qr_format: (user_flow == UserFlow::Qr).then(|| self.qr_format()),
            user_flow,
            customer,
            customer_interaction: Some(CustomerInteraction::Present),
            payment_description: Some(description(&p.order_id, p.terms.label.as_deref())),
            return_url: None,
            expires_at: None,
            receipt: receipt(&p.order_lines, p.terms.currency, &p.order_id),
            receipt_url: None,
            metadata: Some(BTreeMap::from([(ORDER_ID.to_string(), p.order_id.clone())])),
            profile: None,
            minimum_user_age: None,
            industry_data: None,
        };
        self.client
            .create(
                &Correlation::resume("payment", correlation),
                idempotency_key,
                &request,
            )
            .await
            .map(|r| r.reference)
            .map_err(translate)
    }

    async fn check_in(
        &self,
        _correlation: CorrelationId,
        _idempotency_key: &str,
        _check_in: &NewCheckIn,
    ) -> Result<String, BackendError> {
        Err(lacking("check-in before the amount"))
    }

    async fn set_terms(
        &self,
        _correlation: CorrelationId,
        _payment_id: &str,
        _terms: &PaymentTerms,
    ) -> Result<(), BackendError> {
        Err(lacking("check-in before the amount"))
    }

    async fn payment(
        &self,
        correlation: CorrelationId,
        payment_id: &str,
    ) -> Result<PaymentInfo, BackendError> {
        let p = self
            .client
            .payment(&Correlation::resume("payment", correlation), payment_id)
            .await
            .map_err(translate)?;
        let state = payment_state(&p.state, &p.amount, &p.aggregate);
        let prompt = state.is_open().then(|| self.prompt(p.redirect_url.clone()));
        Ok(PaymentInfo {
            payment_id: p.reference,
            order_id: p
                .metadata
                .as_ref()
                .and_then(|m| m.get(ORDER_ID).cloned())
                .unwrap_or_default(),
            state,
            amount: (p.amount.value >= 0).then_some(Minor(p.amount.value)),
            currency: engine_currency(&p.amount.currency),
            // No loyalty look-up and no receipt token: known to be none, not "not yet".
            loyalty_ids: Some(Vec::new()),
            customer_token: None,
            customer_receipt_token: Some(String::new()),
            partial_capture_possible: None,
            poll_delay_ms: POLL_DELAY_MS,
            prompt,
        })
    }

    async fn find_payments(
        &self,
        _correlation: CorrelationId,
        _query: &PaymentQuery,
    ) -> Result<Vec<String>, BackendError> {
        Err(lacking("listing of payments"))
    }

    async fn capture(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        payment_id: &str,
        value: Minor,
    ) -> Result<(), BackendError> {
        self.client
            .capture(
                &Correlation::resume("payment", correlation),
                payment_id,
                idempotency_key,
                &amount(value, self.currency),
            )
            .await
            .map(drop)
            .map_err(translate)
    }

    async fn cancel(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        payment_id: &str,
    ) -> Result<(), BackendError> {
        self.client
            .cancel(
                &Correlation::resume("payment", correlation),
                payment_id,
                idempotency_key,
                &CancelRequest::default(),
            )
            .await
            .map(drop)
            .map_err(translate)
    }

    async fn refund(
        &self,
        correlation: CorrelationId,
        idempotency_key: &str,
        r: &NewRefund,
    ) -> Result<String, BackendError> {
        self.client
            .refund(
                &Correlation::resume("refund", correlation),
                &r.payment_id,
                idempotency_key,
                &amount(r.amount, r.currency),
            )
            .await
            .map(|m| m.psp_reference)
            .map_err(translate)
    }

    async fn refund_status(
        &self,
        _correlation: CorrelationId,
        _refund_id: &str,
    ) -> Result<RefundInfo, BackendError> {
        Err(lacking("refund resources"))
    }

    async fn confirm_refund(
        &self,
        _correlation: CorrelationId,
        _refund_id: &str,
    ) -> Result<(), BackendError> {
        Err(lacking("refund resources"))
    }

    async fn cancel_refund(&self, _correlation: CorrelationId, _refund_id: &str) -> Result<(), BackendError> {
        Err(lacking("refund resources"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::epayment::{EpaymentConfig, Keys};
    use crate::secrets::{Secret, SecretSource};

    fn backend(qr: QrDrawing) -> EpaymentBackend {
        let source = || SecretSource::Credential("unused".into());
        let config = EpaymentConfig::new("http://127.0.0.1:9", "123456", source(), source(), source());
        let keys = Keys {
            client_id: Secret::new("id"),
            client_secret: Secret::new("secret"),
            subscription_key: Secret::new("key"),
        };
        let client = EpaymentClient::with_keys(config, keys).expect("a valid configuration");
        EpaymentBackend::new(client, qr, Currency::DKK)
    }

    #[test]
    fn the_official_image_is_asked_for_as_png_and_shown_as_an_image() {
        let official = backend(QrDrawing::OfficialImage { size: 400 });
        assert_eq!(
            official.qr_format(),
            QrFormat {
                format: QrImageFormat::Png,
                size: Some(400)
            }
        );
        let url = "https://qr.example/v1?token=t".to_string();
        assert_eq!(
            official.prompt(Some(url.clone())),
            CustomerPrompt::QrImage { url }
        );
        assert_eq!(official.prompt(None), CustomerPrompt::PushSent);
    }

    #[test]
    fn a_self_drawn_code_is_asked_for_as_its_target_url_and_drawn_from_it() {
        let drawn = backend(QrDrawing::FromTargetUrl);
        assert_eq!(drawn.qr_format().format, QrImageFormat::TargetUrl);
        assert_eq!(drawn.qr_format().size, None);
        let target = "https://pay.example/landing?token=t".to_string();
        assert_eq!(
            drawn.prompt(Some(target.clone())),
            CustomerPrompt::Qr {
                content: target,
                sticker_id: None
            }
        );
    }

    #[test]
    fn the_description_names_the_order_and_fits_the_apis_limit() {
        assert_eq!(description("R1-0001", None), "Order R1-0001");
        assert_eq!(description("R1", Some("Bakery")), "Bakery, order R1");
        assert_eq!(description("R1", Some(&"x".repeat(200))).chars().count(), 100);
    }
}
