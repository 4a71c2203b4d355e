//! MobilePay Invoice and Subscriptions on the simulator as the heavy suites need them: the
//! fixture merchant's consent got through the simulator's OpenID Connect provider (the portal
//! user played through its control API) and kept on disk, so that every engine life opens it
//! as a box does; a lane's invoices and sign-ups over it; many test users, so long runs stay
//! below Invoice's daily limit of ten invoices per phone; the customers' scripted behaviour
//! and the simulator's ground truth.

use mposd::backends::invoice_v1::{GatewayApp, InvoiceBackend, InvoiceClient, InvoiceConfig};
use mposd::backends::products::CounterProducts;
use mposd::backends::subscriptions_v1::{
    AgreementLinks, SubscriptionsBackend, SubscriptionsClient, SubscriptionsConfig,
};
use mposd::consent::driver::Consent;
use mposd::consent::refresh::Rotation;
use mposd::consent::store::{ConsentFile, Record, RefreshToken};
use mposd::consent::ClientSettings;
use mposd::secrets::Secret;
use mposd::sim::fixtures::{
    InvoiceUser, DK_VAT, INVOICE_GATEWAY_CLIENT_ID, INVOICE_GATEWAY_CLIENT_SECRET, OIDC_REUSE_CLIENT_ID,
    OIDC_REUSE_CLIENT_SECRET, PORTAL_OWNER,
};
use mposd::sim::SimConfig;
use mposd::sim::WebServiceConsent;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The product scopes the merchant consents to: both, so one consent serves invoices and
/// agreements.
const SCOPES: [&str; 2] = ["invoice", "subscriptions"];

/// The phone number (country code and digits, as the till types it) of extra test user `n`.
pub fn phone(n: usize) -> String {
    format!("4561{n:06}")
}

/// Adds `count` test users who pay, at [`phone`] `0..count`, to `config`'s fixtures (Invoice's
/// users are also Subscriptions').
pub fn add_users(config: &mut SimConfig, count: usize) {
    for n in 0..count {
        config.fixtures.invoice.users.push(InvoiceUser {
            authenticated_user: format!("7e570000-0000-4000-8000-{n:012}"),
            consumer_card: format!("7e57ca4d-0000-4000-8000-{n:012}"),
            phone: format!("+{}", phone(n)),
            card_expired: false,
            available: true,
        });
    }
}

/// The consent settings of the fixture merchant's integrator app at the simulator at
/// `base_url`: a `reUse` client, whose refresh token survives a refresh whose answer a crash
/// lost.
pub fn settings(base_url: &str) -> ClientSettings {
    ClientSettings {
        vat: DK_VAT.into(),
        authority: format!("{base_url}/merchant-authentication-openidconnect"),
        client_id: OIDC_REUSE_CLIENT_ID.into(),
        client_secret: Secret::new(OIDC_REUSE_CLIENT_SECRET),
        rotation: Rotation::Reuse,
        scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
    }
}

/// The merchant's consent kept in the directory `state`, as `mposd consent import` leaves it.
pub fn open_consent(base_url: &str, state: &Path) -> Arc<Consent> {
    Arc::new(Consent::new(settings(base_url), ConsentFile::new(state, DK_VAT)).expect("consent"))
}

/// The owner of the fixture merchant consents the way the integrator's web service obtains
/// it (hybrid flow, PKCE); the refresh token is stored in `state` and validated with one
/// refresh.
pub async fn give_consent(base_url: &str, state: &Path) {
    let refresh_token = WebServiceConsent {
        client_id: OIDC_REUSE_CLIENT_ID,
        client_secret: OIDC_REUSE_CLIENT_SECRET,
        vat: DK_VAT,
        user: PORTAL_OWNER,
        scopes: &SCOPES,
    }
    .obtain(base_url)
    .await
    .expect("the merchant's consent");
    std::fs::create_dir_all(state).expect("state dir");
    let consent = open_consent(base_url, state);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let scope = format!("openid offline_access {}", SCOPES.join(" "));
    let granted = scope.split(' ').map(str::to_string).collect();
    consent
        .store(Record::new(RefreshToken::new(refresh_token), granted, now))
        .await
        .expect("store");
    consent.refresh().await.expect("the consent works");
}

/// A lane's invoices and sign-ups at the simulator at `base_url`, over the consent kept in
/// `state`, under the merchant's only enabled issuer and provider; timeouts generous enough
/// for a loaded machine.
pub fn products(base_url: &str, state: &Path) -> CounterProducts {
    let consent = open_consent(base_url, state);
    let timeout = Duration::from_secs(10);
    let mut invoices = InvoiceConfig::new(base_url, DK_VAT);
    invoices.timeouts.read = timeout;
    invoices.timeouts.write = timeout;
    invoices.retry.base_delay = Duration::from_millis(50);
    let app = GatewayApp {
        client_id: INVOICE_GATEWAY_CLIENT_ID.into(),
        client_secret: Secret::new(INVOICE_GATEWAY_CLIENT_SECRET),
    };
    let invoicing = InvoiceClient::new(invoices, app.clone(), consent.clone()).expect("client");
    let links = AgreementLinks {
        user_redirect: "https://bageriet.example/welcome".into(),
        success_callback: "https://integrator.example/mobilepay/agreement-ok".into(),
        cancel_callback: "https://integrator.example/mobilepay/agreement-cancel".into(),
        refund_callback: None,
    };
    let mut agreements = SubscriptionsConfig::new(base_url, links);
    agreements.timeouts.read = timeout;
    agreements.timeouts.write = timeout;
    agreements.retry.base_delay = Duration::from_millis(50);
    let app = mposd::backends::subscriptions_v1::GatewayApp {
        client_id: app.client_id,
        client_secret: app.client_secret,
    };
    let agreements = SubscriptionsClient::new(agreements, app, consent).expect("client");
    CounterProducts {
        invoicing: Some(InvoiceBackend::new(invoicing, None)),
        agreements: Some(SubscriptionsBackend::new(agreements)),
    }
}

/// The scripted customer at `phone` (as the till types it) does `action` (`payNow`,
/// `schedule`, `reject`, `ignore`, …) `delay_ms` of the simulator's clock after each invoice
/// pushed to the phone from now on, and with `opens_links` after opening an invoice link.
pub async fn invoice_customer(base_url: &str, phone: &str, action: &str, delay_ms: u64, opens_links: bool) {
    let r = reqwest::Client::new()
        .post(format!("{base_url}/_sim/invoice/customers"))
        .json(&json!({
            "phone": format!("+{phone}"),
            "action": action,
            "delayMs": delay_ms,
            "opensLinks": opens_links,
        }))
        .send()
        .await
        .expect("the simulator answers");
    assert!(r.status().is_success(), "invoice customer: {}", r.status());
}

/// The customer at `phone` (as the till types it) does `action` (`accept`, `reject`,
/// `ignore`, `cardFails`) with the agreements made for the phone from now on, `delay_ms` of the
/// simulator's clock after opening the agreement's link, or `without_link` after the agreement
/// is made (a customer who never needs the code shown, so a register that missed it does not
/// keep them waiting).
pub async fn signup_customer(base_url: &str, phone: &str, action: &str, delay_ms: u64, without_link: bool) {
    let r = reqwest::Client::new()
        .post(format!("{base_url}/_sim/subscriptions/customers"))
        .json(&json!({"phone": phone, "action": action, "delayMs": delay_ms, "withoutLink": without_link}))
        .send()
        .await
        .expect("the simulator answers");
    assert!(r.status().is_success(), "sign-up customer: {}", r.status());
}

/// The simulator's invoices and the pushes per phone: `{"invoices":[…],"pushes":{…}}`.
pub async fn invoices(base_url: &str) -> Value {
    truth(base_url, "/_sim/invoice/invoices").await
}

/// The simulator's agreements, one-offs, refunds and counters:
/// `{"agreements":[…],"oneOffs":[…],"refunds":[…],"counters":{…}}`.
pub async fn agreements(base_url: &str) -> Value {
    truth(base_url, "/_sim/subscriptions/agreements").await
}

async fn truth(base_url: &str, path: &str) -> Value {
    let r = reqwest::get(format!("{base_url}{path}"))
        .await
        .expect("the simulator answers");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("ground truth as JSON")
}
