//! The simulator's ePayment sales unit as the engine tests, the torture tests and the
//! benchmarks need it: the engine's ePayment backend for the fixture sales unit, the simulated
//! customers and the ground truth. Keys come from the simulator's own fixtures.

use mposd::backends::epayment::engine::{EpaymentBackend, QrDrawing};
use mposd::backends::epayment::{EpaymentClient, EpaymentConfig, Keys};
use mposd::money::Currency;
use mposd::secrets::{Secret, SecretSource};
use mposd::sim::fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_SUBSCRIPTION_KEY, EP_USERS};
use serde_json::{json, Value};
use std::time::Duration;

/// The test user every automatic customer here is.
pub const USER: &str = EP_USERS[0];

/// Timeouts generous enough for a loaded machine.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The engine's ePayment backend for the fixture sales unit at `base_url`, in DKK, over
/// [`client`].
pub fn backend(base_url: &str) -> EpaymentBackend {
    backend_with_timeout(base_url, TIMEOUT)
}

/// Like [`backend`], giving up on a call after `timeout`: for tests whose simulator holds
/// answers back on purpose.
pub fn backend_with_timeout(base_url: &str, timeout: Duration) -> EpaymentBackend {
    EpaymentBackend::new(
        client_with_timeout(base_url, timeout),
        QrDrawing::OfficialImage { size: 200 },
        Currency::DKK,
    )
}

/// The fixture sales unit's client at `base_url`, with timeouts generous enough for a loaded
/// machine and short waits, so tests show the engine rather than the pauses a production
/// client keeps.
pub fn client(base_url: &str) -> EpaymentClient {
    client_with_timeout(base_url, TIMEOUT)
}

fn client_with_timeout(base_url: &str, timeout: Duration) -> EpaymentClient {
    let source = || SecretSource::Credential("unused".into());
    let mut config = EpaymentConfig::new(base_url, EP_MSN, source(), source(), source());
    config.timeouts.read = timeout;
    config.timeouts.write = timeout;
    config.retry.base_delay = Duration::from_millis(50);
    config.waits.locked = Duration::from_millis(100);
    config.waits.read_interval = Duration::from_millis(20);
    let keys = Keys {
        client_id: Secret::new(EP_CLIENT_ID),
        client_secret: Secret::new(EP_CLIENT_SECRET),
        subscription_key: Secret::new(EP_SUBSCRIPTION_KEY),
    };
    EpaymentClient::with_keys(config, keys).expect("a valid client configuration")
}

/// Replaces the automatic customers by one who scans every QR payment (and takes pushes to
/// [`USER`]) and answers `action` (`approve`, `abort`, `ignore`) after `delay_ms` of the
/// simulator's clock.
pub async fn customers(base_url: &str, action: &str, delay_ms: u64) {
    let http = reqwest::Client::new();
    http.delete(format!("{base_url}/_sim/epayment/behaviour"))
        .send()
        .await
        .expect("the simulator answers");
    let r = http
        .post(format!("{base_url}/_sim/epayment/behaviour"))
        .json(&json!({"phoneNumber": USER, "action": action, "delayMs": delay_ms, "scansQr": true}))
        .send()
        .await
        .expect("the simulator answers");
    assert!(r.status().is_success(), "behaviour: {}", r.status());
}

/// The simulator's ePayment payments: `{msn, reference, state, amountMinor, capturedMinor, …}`.
pub async fn payments(base_url: &str) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{base_url}/_sim/epayment/payments"))
        .await
        .expect("the simulator answers")
        .json()
        .await
        .expect("JSON");
    v["payments"].as_array().cloned().unwrap_or_default()
}
