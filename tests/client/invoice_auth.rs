//! The Invoice API's credentials: the gateway's app pair, the merchant's bearer token and the
//! command's correlation id on every call; an access token refused with 401 renewed once
//! through the consent; a token that stays refused, a revoked consent and a wrong app pair
//! reported as unauthorized; and no secret or token in any log line or error.

use super::invoice_support::*;
use super::support::statuses;
use super::support::LogCapture;
use mposd::{
    backends::invoice_v1::InvoiceBackend,
    engine::{
        backend::BackendError,
        invoicing::{InvoiceDelivery, InvoiceState, Invoicing},
    },
    sim::fixtures::{DK_VAT, INVOICE_GATEWAY_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER},
};
use serde_json::{json, Value};
use std::time::Duration;

/// The request log entries of the Invoice API (the user simulation and landing page aside).
async fn invoice_calls(m: &Merchant) -> Vec<Value> {
    let requests = m.h.control.get("/_sim/requests").await;
    requests["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["path"]
                .as_str()
                .unwrap_or_default()
                .starts_with("/invoice-restapi/api/v1/merchants")
        })
        .cloned()
        .collect()
}

#[tokio::test]
async fn every_call_carries_the_app_pair_the_bearer_and_the_commands_correlation_id() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let command = correlation();
    let invoice = m
        .invoice(1000, InvoiceDelivery::Phone { number: PHONE.into() })
        .await;
    let id = invoices
        .create_invoice(command, &invoice)
        .await
        .unwrap()
        .invoice_id;
    invoices.invoice(command, &id).await.unwrap();
    invoices.cancel_invoice(command, &id).await.unwrap();
    let calls = invoice_calls(&m).await;
    let endpoints: Vec<&str> = calls.iter().map(|c| c["endpoint"].as_str().unwrap()).collect();
    assert_eq!(
        endpoints,
        [
            "invoiceMerchantMe",
            "invoiceListIssuers",
            "invoiceCreate",
            "invoiceGet",
            "invoiceCancel"
        ]
    );
    for call in &calls {
        let sent = call["secretHeaders"].to_string().to_lowercase();
        for header in ["authorization", "x-ibm-client-id", "x-ibm-client-secret"] {
            assert!(sent.contains(header), "{header} missing: {call}");
        }
        assert_eq!(call["correlationId"], command.to_string(), "{call}");
        assert!(call["status"].as_u64().unwrap() < 300, "{call}");
    }
}

#[tokio::test]
async fn an_expired_access_token_is_renewed_once_and_the_call_repeated() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let id = invoices
        .create_invoice(correlation(), &invoice)
        .await
        .unwrap()
        .invoice_id;
    let refreshes = m.refreshes().await;
    // The token in memory is still "usable" by the box's clock; MobilePay's says expired.
    m.h.advance(Duration::from_secs(301)).await;
    let info = invoices.invoice(correlation(), &id).await.unwrap();
    assert_eq!(info.state, InvoiceState::Issued);
    assert_eq!(m.refreshes().await, refreshes + 1, "one refresh");
    assert_eq!(
        statuses(&m.h.control.log("invoiceGet").await),
        vec![Some(401), Some(200)]
    );
}

#[tokio::test]
async fn calls_refused_together_spend_one_refresh_between_them() {
    let m = Merchant::start().await;
    let first = m.consent.access_token().await.unwrap();
    let refreshes = m.refreshes().await;
    let renewed = m.consent.renew_access_token(&first).await.unwrap();
    assert_ne!(renewed.expose(), first.expose());
    assert_eq!(m.refreshes().await, refreshes + 1);
    // A second caller refused with the same old token gets the new one without a refresh.
    let again = m.consent.renew_access_token(&first).await.unwrap();
    assert_eq!(again.expose(), renewed.expose());
    assert_eq!(m.refreshes().await, refreshes + 1);
    assert_eq!(m.consent.access_token().await.unwrap().expose(), renewed.expose());
}

#[tokio::test]
async fn a_token_refused_again_after_renewal_is_unauthorized() {
    let m = Merchant::start().await;
    // A consent for Subscriptions only: the gateway refuses its tokens for Invoice, fresh or not.
    let (other, _) = consent(&m.h, DK_VAT, PORTAL_OWNER, &["subscriptions"]).await;
    let invoices = InvoiceBackend::new(m.client_with(INVOICE_GATEWAY_CLIENT_SECRET, other), None);
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let refused = invoices.create_invoice(correlation(), &invoice).await;
    assert_eq!(refused.unwrap_err(), BackendError::Unauthorized);
    assert_eq!(
        statuses(&m.h.control.log("invoiceMerchantMe").await),
        vec![Some(401), Some(401)]
    );
}

#[tokio::test]
async fn a_revoked_consent_is_unauthorized_once_its_last_token_expires() {
    let m = Merchant::start().await;
    let invoices = m.backend();
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let id = invoices
        .create_invoice(correlation(), &invoice)
        .await
        .unwrap()
        .invoice_id;
    m.h.control
        .post(
            "/_sim/oidc/revoke",
            json!({"clientId": OIDC_REUSE_CLIENT_ID, "merchantVat": DK_VAT}),
        )
        .await;
    // Access tokens already issued keep working until they expire.
    invoices.invoice(correlation(), &id).await.unwrap();
    m.h.advance(Duration::from_secs(301)).await;
    assert_eq!(
        invoices.invoice(correlation(), &id).await.unwrap_err(),
        BackendError::Unauthorized
    );
    assert_eq!(
        statuses(&m.h.control.log("invoiceGet").await),
        vec![Some(200), Some(401)]
    );
}

#[tokio::test]
async fn a_wrong_app_pair_is_unauthorized_without_spending_a_refresh() {
    let m = Merchant::start().await;
    let invoices = InvoiceBackend::new(m.client_with("not-the-secret", m.consent.clone()), None);
    let refreshes = m.refreshes().await;
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let refused = invoices.create_invoice(correlation(), &invoice).await;
    assert_eq!(refused.unwrap_err(), BackendError::Unauthorized);
    assert_eq!(m.refreshes().await, refreshes);
    assert_eq!(m.h.control.count("invoiceMerchantMe").await, 1);
}

#[tokio::test]
async fn no_secret_or_token_reaches_a_log_line_or_an_error() {
    let m = Merchant::start().await;
    let log = LogCapture::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    let invoices = m.backend();
    let mut errors = Vec::new();
    let invoice = m
        .invoice(
            1000,
            InvoiceDelivery::Phone {
                number: "4511111111".into(),
            },
        )
        .await;
    errors.push(format!(
        "{:?}",
        invoices.create_invoice(correlation(), &invoice).await
    ));
    let invoice = m.invoice(1000, InvoiceDelivery::Link).await;
    let id = invoices
        .create_invoice(correlation(), &invoice)
        .await
        .unwrap()
        .invoice_id;
    m.h.advance(Duration::from_secs(301)).await;
    m.h.control.fault("invoiceGet", "serverError", 1, None).await;
    invoices.invoice(correlation(), &id).await.unwrap();
    let wrong = InvoiceBackend::new(m.client_with("not-the-secret", m.consent.clone()), None);
    errors.push(format!("{:?}", wrong.invoice(correlation(), &id).await));
    let client_error = m
        .client_with("not-the-secret", m.consent.clone())
        .details(&mposd::correlation::Correlation::new("invoice"), &id)
        .await
        .unwrap_err();
    errors.push(client_error.to_string());
    errors.push(format!("{:?}", m.client()));
    let token = m.consent.access_token().await.unwrap();
    let logged = log.text();
    assert!(logged.contains("renewing it"), "the 401 was logged: {logged}");
    assert!(logged.contains("Invalid client id or secret"), "{logged}");
    let text = format!("{logged}\n{}", errors.join("\n"));
    for secret in [
        INVOICE_GATEWAY_CLIENT_SECRET,
        "not-the-secret",
        token.expose(),
        &m.refresh_token,
        mposd::sim::fixtures::OIDC_REUSE_CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}
