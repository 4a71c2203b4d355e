//! The MobilePay simulator in this process with a point of sale registered on it, as the
//! engine and daemon tests, the torture tests and the benchmarks need it. Credentials,
//! merchant and store come from the simulator's own fixtures, so they always match what it
//! accepts. The real `mposd sim` process is started by
//! [`mposd::daemon::sim_config::spawn_simulator`], as the demo does.

use mposd::backends::pos_v10::client::MobilePayClient;
use mposd::backends::pos_v10::config::{ClientConfig, Endpoints};
use mposd::backends::pos_v10::idempotency::IdempotencyKey;
use mposd::backends::pos_v10::model::{BeaconType, CreatePosRequest};
use mposd::backends::pos_v10::tokens::Credentials;
use mposd::correlation::Correlation;
use mposd::secrets::Secret;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_STORE, DK_VAT};
use mposd::sim::{SimConfig, Simulator};
use mposd::store::Db;
use rand::Rng;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;

/// The simulator's default configuration, answering status polls with `pollDelayInMs` =
/// `poll_delay_ms`: tests and figures show the daemon, not a slow customer.
pub fn polling_every(poll_delay_ms: u32) -> SimConfig {
    let mut config = SimConfig::default();
    config.settings.payment_poll_delay_ms = poll_delay_ms;
    config
}

/// The simulator running in this process, with one registered point of sale.
pub struct SimPos {
    pub sim: Simulator,
    pub pos: RegisteredPos,
}

impl SimPos {
    /// Starts the simulator with `config` and registers a point of sale `merchant_pos_id` on
    /// it, the client's tokens kept in the sled database at `tokens`.
    pub async fn start(config: SimConfig, tokens: &Path, merchant_pos_id: &str) -> SimPos {
        let sim = mposd::sim::start(config).await.expect("the simulator starts");
        let pos = RegisteredPos::on(&sim.base_url(), tokens, Some(merchant_pos_id)).await;
        SimPos { sim, pos }
    }
}

/// A point of sale of the fixture merchant's store, and the client that registered it.
pub struct RegisteredPos {
    pub client: MobilePayClient,
    pub pos_id: String,
    pub beacon_id: String,
}

impl RegisteredPos {
    /// Registers a point of sale with a fresh QR beacon at the simulator at `base_url`;
    /// `merchant_pos_id` defaults to `lane-<beacon>`, so many can share one simulator.
    pub async fn on(base_url: &str, tokens: &Path, merchant_pos_id: Option<&str>) -> RegisteredPos {
        let client = client(base_url, tokens);
        let beacon_id = random_beacon();
        let merchant_pos_id = merchant_pos_id.map_or_else(|| format!("lane-{beacon_id}"), str::to_string);
        let pos_id = register_pos(&client, &merchant_pos_id, &beacon_id).await;
        RegisteredPos {
            client,
            pos_id,
            beacon_id,
        }
    }
}

/// A PoS V10 client of the simulator's demo integrator for the fixture merchant, its tokens
/// in the sled database at `tokens` (each engine life gets its own).
pub fn client(base_url: &str, tokens: &Path) -> MobilePayClient {
    let config = ClientConfig::new(Endpoints::single_host(base_url).unwrap(), DEMO_CLIENT_ID);
    let db = Arc::new(Db::open(tokens, 1 << 20).unwrap());
    MobilePayClient::open(
        config,
        DK_VAT,
        Credentials::ClientSecret(Secret::new(DEMO_CLIENT_SECRET)),
        db,
    )
    .unwrap()
}

/// Registers a point of sale on the fixture store with the QR beacon `beacon_id`, as the
/// daemon does; returns its `posId`.
pub async fn register_pos(client: &MobilePayClient, merchant_pos_id: &str, beacon_id: &str) -> String {
    client
        .create_pos(
            &Correlation::new("onboarding"),
            &IdempotencyKey::generate(),
            &CreatePosRequest {
                merchant_pos_id: merchant_pos_id.into(),
                store_id: DK_STORE.into(),
                name: "Lane 1".into(),
                beacon_id: Some(beacon_id.into()),
                callback_alias: None,
                supported_beacon_types: vec![BeaconType::QR],
                require_payment_before_checkin: None,
            },
        )
        .await
        .expect("the point of sale is registered")
        .pos_id
}

/// A random 15-digit beacon id, as printed on a QR sticker.
pub fn random_beacon() -> String {
    let digits = rand::thread_rng().gen_range(100_000_000_000_000u64..999_999_999_999_999);
    format!("{digits:015}")
}

/// Puts a point of sale of the demo integrator on the fixture store straight into the
/// simulator, as MobilePay still keeps it across a restart of the box.
pub async fn keep_pos(base_url: &str, pos_id: &str, beacon_id: &str, merchant_pos_id: &str, name: &str) {
    control(
        base_url,
        "/_sim/pointofsales",
        json!({
            "posId": pos_id,
            "clientId": DEMO_CLIENT_ID,
            "merchantVat": DK_VAT,
            "merchantPosId": merchant_pos_id,
            "storeId": DK_STORE,
            "name": name,
            "beaconId": beacon_id,
        }),
    )
    .await;
}

/// An automatic customer with `phone` on every point of sale, doing `action` (`accept`,
/// `cancel`, ...) after `delay_ms`.
pub async fn customers_everywhere(base_url: &str, phone: &str, action: &str, delay_ms: u64) {
    control(
        base_url,
        "/_sim/behaviour",
        json!({"beaconId": "*", "phoneNumber": phone, "action": action, "delayMs": delay_ms}),
    )
    .await;
}

/// The simulator's ground truth at `path` (`/_sim/payments`, `/_sim/requests`, ...).
pub async fn ground_truth(base_url: &str, path: &str) -> Value {
    let response = reqwest::get(format!("{base_url}{path}"))
        .await
        .expect("the simulator's control API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("ground truth as JSON")
}

/// A POST to the simulator's control API that must succeed.
async fn control(base_url: &str, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}{path}"))
        .json(&body)
        .send()
        .await
        .expect("the simulator's control API answers");
    assert!(response.status().is_success(), "{path}: {}", response.status());
}
