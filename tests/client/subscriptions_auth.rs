//! The Subscriptions API's credentials: the gateway's app pair, the merchant's bearer token and
//! the command's correlation id on every call; an access token refused with 401 renewed once
//! through the consent; a token that stays refused and a wrong app pair reported as
//! unauthorized; and no secret or token in any log line or error.

use super::subscriptions_support::*;
use super::support::{statuses, LogCapture};
use mposd::{
    backends::subscriptions_v1::SubscriptionsBackend,
    correlation::Correlation,
    engine::{
        agreements::{AgreementState, Agreements, NewAgreementRefund},
        backend::BackendError,
    },
    money::{Currency, Minor},
    sim::fixtures::{DK_VAT, INVOICE_GATEWAY_CLIENT_SECRET, INVOICE_USER, PORTAL_OWNER},
};
use std::time::Duration;

#[tokio::test]
async fn every_call_carries_the_app_pair_the_bearer_and_the_commands_correlation_id() {
    let m = Merchant::start().await;
    let agreements = m.backend();
    let command = correlation();
    let sign_up = sign_up(Some(2000));
    let created = agreements.create_agreement(command, &sign_up).await.unwrap();
    let payment_id = created.first_payment_id.clone().unwrap();
    agreements
        .find_agreement(command, &sign_up.reference)
        .await
        .unwrap()
        .expect("found");
    let accepted = m
        .user(
            INVOICE_USER,
            &format!("/agreements/v1/{}", created.agreement_id),
            serde_json::json!({"status": "Accepted"}),
        )
        .await;
    assert_eq!(accepted, 204);
    agreements
        .agreement(command, &created.agreement_id)
        .await
        .unwrap();
    agreements
        .capture_first_payment(command, &created.agreement_id, &payment_id)
        .await
        .unwrap();
    let refund = NewAgreementRefund {
        agreement_id: created.agreement_id.clone(),
        payment_id: payment_id.clone(),
        amount: Minor(1000),
        currency: Currency::DKK,
        reference: "rf-headers".into(),
    };
    agreements.refund(command, &refund).await.unwrap();
    agreements
        .find_refund(command, &created.agreement_id, &payment_id, "rf-headers")
        .await
        .unwrap();
    agreements
        .cancel_agreement(command, &created.agreement_id)
        .await
        .unwrap();

    let calls = m.api_calls().await;
    let endpoints: Vec<&str> = calls.iter().map(|c| c["endpoint"].as_str().unwrap()).collect();
    assert_eq!(
        endpoints,
        [
            "subscriptionsMerchantMe",
            "subscriptionsCreateAgreement",
            "subscriptionsListAgreements",
            "subscriptionsListOneOffs",
            "subscriptionsGetAgreement",
            "subscriptionsListOneOffs",
            "subscriptionsCaptureOneOff",
            "subscriptionsCreateRefund",
            "subscriptionsListRefunds",
            "subscriptionsCancelAgreement",
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
    let agreements = m.backend();
    let mut sign_up = sign_up(None);
    sign_up.expires_after_minutes = 10;
    let created = create(&agreements, &sign_up).await;
    let refreshes = m.refreshes().await;
    // The token in memory is still "usable" by the box's clock; MobilePay's says expired.
    m.h.advance(Duration::from_secs(301)).await;
    let info = agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    assert_eq!(info.state, AgreementState::Pending);
    assert_eq!(m.refreshes().await, refreshes + 1, "one refresh");
    assert_eq!(
        statuses(&m.h.control.log("subscriptionsGetAgreement").await),
        vec![Some(401), Some(200)]
    );
}

#[tokio::test]
async fn a_token_refused_again_after_renewal_is_unauthorized() {
    let m = Merchant::start().await;
    let log = LogCapture::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    // A consent for Invoice only: the gateway refuses its tokens for Subscriptions, fresh or not.
    let (invoice_only, _) = consent(&m.h, DK_VAT, PORTAL_OWNER, &["invoice"]).await;
    let agreements =
        SubscriptionsBackend::new(m.client_with(m.config(), INVOICE_GATEWAY_CLIENT_SECRET, invoice_only));
    let refused = agreements.create_agreement(correlation(), &sign_up(None)).await;
    assert_eq!(refused.unwrap_err(), BackendError::Unauthorized);
    assert_eq!(
        statuses(&m.h.control.log("subscriptionsMerchantMe").await),
        vec![Some(401), Some(401)]
    );
    assert_eq!(m.h.control.count("subscriptionsCreateAgreement").await, 0);
    assert!(
        log.text().contains("refused again after renewing it"),
        "the final 401 is logged with its reason: {}",
        log.text()
    );
}

#[tokio::test]
async fn a_wrong_app_pair_is_unauthorized_without_spending_a_refresh() {
    let m = Merchant::start().await;
    let agreements =
        SubscriptionsBackend::new(m.client_with(m.config(), "not-the-secret", m.consent.clone()));
    let refreshes = m.refreshes().await;
    let refused = agreements.create_agreement(correlation(), &sign_up(None)).await;
    assert_eq!(refused.unwrap_err(), BackendError::Unauthorized);
    assert_eq!(m.refreshes().await, refreshes);
    assert_eq!(m.h.control.count("subscriptionsMerchantMe").await, 1);
}

#[tokio::test]
async fn no_secret_or_token_reaches_a_log_line_or_an_error() {
    let m = Merchant::start().await;
    let log = LogCapture::default();
    let _guard = tracing::subscriber::set_default(log.subscriber());
    let agreements = m.backend();
    let mut errors = Vec::new();
    let mut long_plan = sign_up(None);
    long_plan.plan = "A plan with a name much longer than thirty characters".into();
    errors.push(format!(
        "{:?}",
        agreements.create_agreement(correlation(), &long_plan).await
    ));
    let created = create(&agreements, &sign_up(None)).await;
    m.h.advance(Duration::from_secs(301)).await;
    m.h.control
        .fault("subscriptionsGetAgreement", "serverError", 1, None)
        .await;
    agreements
        .agreement(correlation(), &created.agreement_id)
        .await
        .unwrap();
    let wrong = m.client_with(m.config(), "not-the-secret", m.consent.clone());
    errors.push(format!(
        "{:?}",
        SubscriptionsBackend::new(wrong.clone())
            .agreement(correlation(), &created.agreement_id)
            .await
    ));
    let client_error = wrong
        .agreement(&Correlation::new("agreement"), &created.agreement_id)
        .await
        .unwrap_err();
    errors.push(client_error.to_string());
    errors.push(format!("{:?}", m.client()));
    let token = m.consent.access_token().await.unwrap();
    let logged = log.text();
    assert!(logged.contains("renewing it"), "the 401 was logged: {logged}");
    assert!(logged.contains("plan must be at most 30"), "{logged}");
    assert!(logged.contains("Invalid client id or secret"), "{logged}");
    assert!(client_error.to_string().contains("app pair"), "{client_error}");
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
