//! The ePayment client against the simulator: a client for the built-in sales unit, payment
//! requests, and the simulated customer.

use super::support::*;
use mposd::{
    backends::epayment::{
        model::{
            Amount, CreatePaymentRequest, Currency, Customer, CustomerInteraction, PaymentMethod,
            PaymentMethodType, UserFlow,
        },
        EpaymentClient, EpaymentConfig, Keys,
    },
    correlation::Correlation,
    secrets::{Secret, SecretSource},
    sim::fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_SUBSCRIPTION_KEY, EP_USERS},
};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

pub const USER: &str = EP_USERS[0];

/// Generous timeouts and short back-offs and waits, so a loaded machine neither times out by
/// accident nor waits long.
pub fn ep_config(h: &Harness) -> EpaymentConfig {
    let source = || SecretSource::Credential("unused".into());
    let mut config = EpaymentConfig::new(&h.sim.base_url(), EP_MSN, source(), source(), source());
    config.timeouts.read = Duration::from_secs(10);
    config.timeouts.write = Duration::from_secs(10);
    config.retry.base_delay = Duration::from_millis(50);
    config.waits.locked = Duration::from_millis(100);
    config.waits.read_interval = Duration::from_millis(20);
    config.extra_ca_file = h.ca_file.clone();
    config
}

pub fn ep_keys() -> Keys {
    Keys {
        client_id: Secret::new(EP_CLIENT_ID),
        client_secret: Secret::new(EP_CLIENT_SECRET),
        subscription_key: Secret::new(EP_SUBSCRIPTION_KEY),
    }
}

pub fn ep_client(h: &Harness) -> EpaymentClient {
    ep_client_with(h, |_| {})
}

/// A client whose configuration `change` adjusts first.
pub fn ep_client_with(h: &Harness, change: impl FnOnce(&mut EpaymentConfig)) -> EpaymentClient {
    let mut config = ep_config(h);
    change(&mut config);
    EpaymentClient::with_keys(config, ep_keys()).unwrap()
}

pub fn correlation() -> Correlation {
    Correlation::new("payment")
}

pub fn new_reference() -> String {
    format!("till-{}", uuid::Uuid::new_v4().simple())
}

pub fn new_key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn dkk(value: i64) -> Amount {
    Amount {
        currency: Currency::Dkk,
        value,
    }
}

/// A push payment to [`USER`], present at the till.
pub fn push_request(reference: &str, value: i64) -> CreatePaymentRequest {
    CreatePaymentRequest {
        amount: dkk(value),
        payment_method: PaymentMethod {
            kind: PaymentMethodType::Wallet,
            blocked_sources: None,
        },
        reference: reference.into(),
        user_flow: UserFlow::PushMessage,
        customer: Some(Customer {
            phone_number: Some(USER.into()),
            ..Customer::default()
        }),
        customer_interaction: Some(CustomerInteraction::Present),
        qr_format: None,
        payment_description: Some("Bageriet".into()),
        return_url: None,
        expires_at: None,
        receipt: None,
        receipt_url: None,
        metadata: None,
        profile: None,
        minimum_user_age: None,
        industry_data: None,
    }
}

/// Creates a push payment of `value` øre; returns its reference.
pub async fn created(client: &EpaymentClient, value: i64) -> String {
    let reference = new_reference();
    client
        .create(&correlation(), &new_key(), &push_request(&reference, value))
        .await
        .expect("payment created");
    reference
}

/// The simulated customer takes `step` (`open`, `approve`, `abort`) on the payment.
pub async fn customer(h: &Harness, reference: &str, step: &str) {
    h.control
        .post(
            &format!("/_sim/epayment/payments/{EP_MSN}/{reference}/{step}"),
            json!({ "phoneNumber": USER }),
        )
        .await;
}

/// An authorized payment of `value` øre.
pub async fn authorized(h: &Harness, client: &EpaymentClient, value: i64) -> String {
    let reference = created(client, value).await;
    customer(h, &reference, "approve").await;
    reference
}

/// The simulator's own record of the payment (ground truth, not the API's answer).
pub async fn ground(h: &Harness, reference: &str) -> Vec<Value> {
    h.control.get("/_sim/epayment/payments").await["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reference"] == reference)
        .cloned()
        .collect()
}

/// The next call of `endpoint` is answered 429 with `Retry-After: retry_after`.
pub async fn rate_limit_once(h: &Harness, endpoint: &str, retry_after: &str) {
    h.control
        .post(
            "/_sim/faults",
            json!({ "endpoint": endpoint, "mode": "rateLimited", "retryAfter": retry_after }),
        )
        .await;
}

/// When the simulator logged a request (`at` of a request log entry).
pub fn logged_at(entry: &Value) -> SystemTime {
    let at = chrono::DateTime::parse_from_rfc3339(entry["at"].as_str().unwrap()).unwrap();
    SystemTime::from(at)
}
