//! The MobilePay Subscriptions client against the simulator: a merchant's consent got through
//! the simulator's OpenID Connect provider (the portal user played through its control API),
//! the client and a lane's agreements over it, the sandbox's user simulation and scripted
//! customers, and the simulator's ground truth.

use super::support::*;
use mposd::{
    backends::subscriptions_v1::{
        AgreementLinks, GatewayApp, SubscriptionsBackend, SubscriptionsClient, SubscriptionsConfig,
    },
    consent::{
        driver::Consent,
        refresh::Rotation,
        store::{ConsentFile, Record, RefreshToken},
        ClientSettings,
    },
    engine::{
        agreements::{Agreements, CreatedAgreement, FirstPayment, NewAgreement},
        backend::{BackendError, CorrelationId, Refusal},
    },
    money::{Currency, Minor},
    secrets::Secret,
    sim::fixtures::{
        DK_VAT, INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID,
        OIDC_REUSE_CLIENT_SECRET, OIDC_WEB_REDIRECT, PORTAL_OWNER,
    },
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The consent of `user` for merchant `vat` with the product `scopes`, obtained the way the
/// integrator's web service obtains it (hybrid flow, its own redirect URI), then stored and
/// validated with one refresh as `mposd consent import` does.
pub async fn consent(h: &Harness, vat: &str, user: &str, scopes: &[&str]) -> (Arc<Consent>, String) {
    let base = h.sim.base_url();
    h.control
        .post(
            "/_sim/oidc/login",
            json!({"clientId": OIDC_REUSE_CLIENT_ID, "user": user, "decision": "approve"}),
        )
        .await;
    let scope = format!("openid offline_access {}", scopes.join(" "));
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let authorize = reqwest::Url::parse_with_params(
        &format!("{base}/account/connect/authorize"),
        [
            ("client_id", OIDC_REUSE_CLIENT_ID),
            ("redirect_uri", OIDC_WEB_REDIRECT),
            ("response_type", "code id_token"),
            ("response_mode", "fragment"),
            ("scope", &scope),
            ("state", "web-state"),
            ("nonce", &uuid::Uuid::new_v4().to_string()),
            // RFC 7636's example pair.
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
            ("merchant_vat", vat),
        ],
    )
    .expect("url");
    let answer = browser.get(authorize).send().await.expect("authorize");
    let location = answer.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let fragment = location.split_once('#').expect("fragment").1;
    let code = form_urlencoded::parse(fragment.as_bytes())
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    let tokens: Value = browser
        .post(format!(
            "{base}/merchant-authentication-openidconnect/connect/token"
        ))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", OIDC_WEB_REDIRECT),
            ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            ("client_id", OIDC_REUSE_CLIENT_ID),
            ("client_secret", OIDC_REUSE_CLIENT_SECRET),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let settings = ClientSettings {
        vat: vat.into(),
        authority: format!("{base}/merchant-authentication-openidconnect"),
        client_id: OIDC_REUSE_CLIENT_ID.into(),
        client_secret: Secret::new(OIDC_REUSE_CLIENT_SECRET),
        rotation: Rotation::Reuse,
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
    };
    let state = h.dir.path().join(format!("state-{vat}-{}", scopes.join("-")));
    std::fs::create_dir_all(&state).expect("state dir");
    let consent = Consent::new(settings, ConsentFile::new(&state, vat)).expect("consent");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let granted = scope.split(' ').map(str::to_string).collect();
    consent
        .store(Record::new(RefreshToken::new(&refresh_token), granted, now))
        .await
        .expect("store");
    consent.refresh().await.expect("the consent works");
    (Arc::new(consent), refresh_token)
}

pub fn correlation() -> CorrelationId {
    CorrelationId::new()
}

/// The refusal's reason, or the whole error when it is none.
#[track_caller]
pub fn refusal<T: std::fmt::Debug>(result: Result<T, BackendError>) -> Refusal {
    match result {
        Err(BackendError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal: {other:?}"),
    }
}
