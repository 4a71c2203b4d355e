//! The MobilePay Subscriptions client against the simulator: a merchant's consent got through
//! the simulator's OpenID Connect provider as the Invoice tests get it, the client and a lane's
//! agreements over it, the sandbox's user simulation and scripted customers, and the
//! simulator's ground truth.

pub use super::invoice_support::{consent, correlation, refusal};
use super::support::*;
use mposd::{
    backends::subscriptions_v1::{
        AgreementLinks, GatewayApp, SubscriptionsBackend, SubscriptionsClient, SubscriptionsConfig,
    },
    consent::driver::Consent,
    engine::agreements::{Agreements, CreatedAgreement, FirstPayment, NewAgreement},
    money::{Currency, Minor},
    secrets::Secret,
    sim::fixtures::{
        DK_VAT, INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID, PORTAL_OWNER,
    },
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The merchant's web page the customer lands on, and the integrator's notification sink.
pub const USER_REDIRECT: &str = "https://bageriet.example/welcome";
pub const SUCCESS_CALLBACK: &str = "https://integrator.example/mobilepay/agreement-ok";
pub const CANCEL_CALLBACK: &str = "https://integrator.example/mobilepay/agreement-cancel";

/// A simulator and one merchant's consent on disk, as `mposd consent import` leaves it.
pub struct Merchant {
    pub h: Harness,
    pub consent: Arc<Consent>,
    /// The refresh token the consent holds (never to be seen in a log).
    pub refresh_token: String,
}

impl Merchant {
    /// The owner of `DK12345678` consents to `subscriptions`.
    pub async fn start() -> Merchant {
        let h = Harness::start().await;
        let (consent, refresh_token) = consent(&h, DK_VAT, PORTAL_OWNER, &["subscriptions"]).await;
        Merchant {
            h,
            consent,
            refresh_token,
        }
    }

    /// Generous timeouts and quick repeats, the merchant's only enabled provider.
    pub fn config(&self) -> SubscriptionsConfig {
        let links = AgreementLinks {
            user_redirect: USER_REDIRECT.into(),
            success_callback: SUCCESS_CALLBACK.into(),
            cancel_callback: CANCEL_CALLBACK.into(),
            refund_callback: None,
        };
        let mut config = SubscriptionsConfig::new(&self.h.sim.base_url(), links);
        config.timeouts.read = Duration::from_secs(10);
        config.timeouts.write = Duration::from_secs(10);
        config.retry.base_delay = Duration::from_millis(50);
        config.extra_ca_file = self.h.ca_file.clone();
        config
    }

    pub fn client(&self) -> SubscriptionsClient {
        self.client_with(self.config(), INVOICE_GATEWAY_CLIENT_SECRET, self.consent.clone())
    }

    /// A client with `config`, the gateway secret `secret`, over `consent`.
    pub fn client_with(
        &self,
        config: SubscriptionsConfig,
        secret: &str,
        consent: Arc<Consent>,
    ) -> SubscriptionsClient {
        let app = GatewayApp {
            client_id: INVOICE_GATEWAY_CLIENT_ID.into(),
            client_secret: Secret::new(secret),
        };
        SubscriptionsClient::new(config, app, consent).expect("client")
    }

    /// A lane's agreements under the merchant's only enabled provider.
    pub fn backend(&self) -> SubscriptionsBackend {
        SubscriptionsBackend::new(self.client())
    }

    pub fn backend_with(&self, config: SubscriptionsConfig) -> SubscriptionsBackend {
        SubscriptionsBackend::new(self.client_with(
            config,
            INVOICE_GATEWAY_CLIENT_SECRET,
            self.consent.clone(),
        ))
    }

    /// The simulator's agreements, one-offs, refunds and counters.
    pub async fn truth(&self) -> Value {
        self.h.control.get("/_sim/subscriptions/agreements").await
    }

    /// The ground truth entries of `kind` (`agreements`, `oneOffs`, `refunds`) whose `key` is
    /// `value`.
    pub async fn ground(&self, kind: &str, key: &str, value: &str) -> Vec<Value> {
        self.truth().await[kind]
            .as_array()
            .expect("list")
            .iter()
            .filter(|e| e[key] == value)
            .cloned()
            .collect()
    }

    /// The one agreement the simulator has with `external_id`.
    pub async fn the_agreement(&self, external_id: &str) -> Value {
        let found = self.ground("agreements", "externalId", external_id).await;
        assert_eq!(found.len(), 1, "one agreement for {external_id}: {found:?}");
        found[0].clone()
    }

    /// The next agreement's customer does `action` (`accept`, `reject`, `ignore`,
    /// `cardFails`) as soon as it is created, without scanning the link.
    pub async fn next_customer(&self, action: &str) {
        self.h
            .control
            .post(
                "/_sim/subscriptions/customers",
                json!({"action": action, "withoutLink": true}),
            )
            .await;
    }

    /// The sandbox user simulation: `PATCH {path}` as test user `user`.
    pub async fn user(&self, user: &str, path: &str, body: Value) -> u16 {
        reqwest::Client::new()
            .patch(format!(
                "{}/recurringpayments-restapi/api{path}",
                self.h.sim.base_url()
            ))
            .header("x-ibm-client-id", INVOICE_GATEWAY_CLIENT_ID)
            .header("x-ibm-client-secret", INVOICE_GATEWAY_CLIENT_SECRET)
            .header("authenticateduser", user)
            .json(&body)
            .send()
            .await
            .expect("user simulation")
            .status()
            .as_u16()
    }

    /// The request log entries of the Subscriptions API (the user simulation aside).
    pub async fn api_calls(&self) -> Vec<Value> {
        let requests = self.h.control.get("/_sim/requests").await;
        requests["log"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["path"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("/subscriptions/api/")
            })
            .cloned()
            .collect()
    }

    /// How many refreshes the simulator's provider answered for the consent.
    pub async fn refreshes(&self) -> u64 {
        let consents = self.h.control.get("/_sim/oidc/consents").await;
        consents["consents"]
            .as_array()
            .expect("consents")
            .iter()
            .filter(|c| c["clientId"] == OIDC_REUSE_CLIENT_ID && c["merchantVat"] == DK_VAT)
            .map(|c| c["refreshes"].as_u64().unwrap_or(0))
            .sum()
    }
}

/// A sign-up to 49 DKK a month, five minutes to accept, with a fresh reference, and a first
/// payment of `first` minor units when given.
pub fn sign_up(first: Option<i64>) -> NewAgreement {
    NewAgreement {
        reference: format!("su-{}", uuid::Uuid::new_v4().simple()),
        plan: "Brødklub".into(),
        description: Some("Fresh bread every month".into()),
        price: Some(Minor(4900)),
        currency: Currency::DKK,
        payments_per_year: Some(12),
        phone: Some("4512345678".into()),
        first_payment: first.map(|amount| FirstPayment {
            amount: Minor(amount),
            description: "Brødklub".into(),
        }),
        expires_after_minutes: 5,
    }
}

/// Creates `agreement`, expecting success.
pub async fn create(backend: &SubscriptionsBackend, agreement: &NewAgreement) -> CreatedAgreement {
    backend
        .create_agreement(correlation(), agreement)
        .await
        .expect("agreement created")
}
