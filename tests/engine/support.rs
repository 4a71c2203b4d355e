//! One lane against the in-process simulator: a real PoS V10 client over loopback HTTP, a real
//! sled journal in a temporary directory, and the simulator's control API for customers,
//! faults and its virtual clock.

use super::sim_pos::{self, RegisteredPos};
use mposd::backends::pos_v10::client::MobilePayClient;
use mposd::backends::pos_v10::engine::{prompt, PosV10Backend};
use mposd::engine::api::{Command, CommandId, EngineHandle, Outcome};
use mposd::engine::flow::Policy;
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use mposd::sim::{SimConfig, Simulator};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

pub const CREDIT_USER: &str = "+4520031801";
pub const LOYALTY_USER: &str = "+4520031804";
pub const PARTIAL_USER: &str = "+4520031805";

pub struct Lane {
    pub sim: Arc<Simulator>,
    engine: Option<EngineHandle>,
    pub client: MobilePayClient,
    pub pos_id: String,
    pub beacon_id: String,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

pub fn id(s: &str) -> CommandId {
    CommandId::new(s).unwrap()
}

pub fn pay(amount: i64, order: &str, keep_reservation: bool) -> Command {
    Command::Pay {
        amount: Minor(amount),
        currency: Currency::DKK,
        order_id: order.into(),
        keep_reservation,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    }
}

pub fn test_policy() -> Policy {
    Policy {
        answer_unknown_after_ms: 4_000,
        retry_base_ms: 50,
        retry_max_ms: 500,
        ..Policy::default()
    }
}

/// A lane with a running engine.
pub async fn lane() -> Lane {
    lane_with(|_| {}).await
}

/// A lane whose engine runs with `tweak` applied to the test configuration.
pub async fn lane_with(tweak: impl FnOnce(&mut EngineConfig)) -> Lane {
    let mut lane = lane_without_engine().await;
    let client = client_for(&lane.sim, &lane.dir, "tokens").await;
    lane.engine = Some(start_engine_with(&client, &lane.dir, &lane.pos_id, &lane.beacon_id, tweak).await);
    lane
}

/// The simulator and a registered point of sale; engines are started by the test.
pub async fn lane_without_engine() -> Lane {
    lane_without_engine_with(|_| {}).await
}

/// Like [`lane_without_engine`], with `tweak` applied to the simulator's test configuration.
pub async fn lane_without_engine_with(tweak: impl FnOnce(&mut SimConfig)) -> Lane {
    let mut config = test_sim_config();
    tweak(&mut config);
    let sim = mposd::sim::start(config).await.unwrap();
    register_lane(Arc::new(sim)).await
}

/// A simulator started afresh that still keeps the point of sale `pos_id` (beacon
/// `beacon_id`, `merchant_pos_id`) of the test integrator on the fixture store, as MobilePay
/// keeps it across a restart of the box; no engine runs.
pub async fn lane_on_kept_pos(pos_id: &str, beacon_id: &str, merchant_pos_id: &str) -> Lane {
    let sim = Arc::new(mposd::sim::start(test_sim_config()).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let client = client_for(&sim, &dir, "onboarding-tokens").await;
    sim_pos::keep_pos(&sim.base_url(), pos_id, beacon_id, merchant_pos_id, "Lane 1").await;
    Lane {
        sim,
        engine: None,
        client,
        pos_id: pos_id.into(),
        beacon_id: beacon_id.into(),
        http: reqwest::Client::new(),
        dir,
    }
}

/// The simulator's configuration for these tests: short poll delays and refund timers.
fn test_sim_config() -> SimConfig {
    let mut config = sim_pos::polling_every(100);
    config.settings.refund_poll_delay_ms = 100;
    config.settings.refund_reserve_delay = Duration::from_millis(200);
    config
}

/// Another lane (point of sale and engine) on the simulator of `lane`.
pub async fn extra_lane(lane: &Lane, n: usize) -> Lane {
    let mut extra = register_lane(lane.sim.clone()).await;
    let client = client_for(&extra.sim, &extra.dir, &format!("tokens-{n}")).await;
    extra.engine = Some(start_engine(&client, &extra.dir, &extra.pos_id, &extra.beacon_id).await);
    extra
}

async fn register_lane(sim: Arc<Simulator>) -> Lane {
    let dir = tempfile::tempdir().unwrap();
    let pos = RegisteredPos::on(&sim.base_url(), &dir.path().join("onboarding-tokens"), None).await;
    Lane {
        sim,
        engine: None,
        client: pos.client,
        pos_id: pos.pos_id,
        beacon_id: pos.beacon_id,
        http: reqwest::Client::new(),
        dir,
    }
}

/// A client with its own token store `tokens` (each engine life gets its own).
pub async fn client_for(sim: &Simulator, dir: &tempfile::TempDir, tokens: &str) -> MobilePayClient {
    sim_pos::client(&sim.base_url(), &dir.path().join(tokens))
}

pub async fn start_engine(
    client: &MobilePayClient,
    dir: &tempfile::TempDir,
    pos_id: &str,
    beacon_id: &str,
) -> EngineHandle {
    start_engine_with(client, dir, pos_id, beacon_id, |_| {}).await
}

pub async fn start_engine_with(
    client: &MobilePayClient,
    dir: &tempfile::TempDir,
    pos_id: &str,
    beacon_id: &str,
    tweak: impl FnOnce(&mut EngineConfig),
) -> EngineHandle {
    let (journal, aside) = Journal::open_or_set_aside(&dir.path().join("journal"), 4 << 20, 1).unwrap();
    let mut config = EngineConfig::new(pos_id, Some(prompt(beacon_id)));
    config.policy = test_policy();
    tweak(&mut config);
    start(
        Arc::new(PosV10Backend::new(client.clone())),
        journal,
        config,
        aside,
    )
    .await
    .unwrap()
}

impl Lane {
    pub fn engine(&self) -> &EngineHandle {
        self.engine.as_ref().expect("this lane runs an engine")
    }

    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let response = self
            .http
            .request(method, format!("{}{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.unwrap_or(Value::Null)
    }

    /// An automatic customer on every point of sale.
    pub async fn customer_everywhere(&self, phone: &str, action: &str, delay_ms: u64) {
        sim_pos::customers_everywhere(&self.sim.base_url(), phone, action, delay_ms).await;
    }

    /// Removes every automatic customer.
    pub async fn no_customers(&self) {
        self.control(reqwest::Method::DELETE, "/_sim/behaviour", json!({}))
            .await;
    }

    /// An automatic customer on this lane's beacon.
    pub async fn customer(&self, phone: &str, action: &str, delay_ms: u64) {
        self.control(
            reqwest::Method::POST,
            "/_sim/behaviour",
            json!({"beaconId": self.beacon_id, "phoneNumber": phone, "action": action, "delayMs": delay_ms}),
        )
        .await;
    }

    pub async fn advance_clock(&self, ms: u64) {
        self.control(reqwest::Method::POST, "/_sim/clock/advance", json!({ "ms": ms }))
            .await;
    }

    pub async fn fault(&self, endpoint: &str, mode: &str, count: u32) {
        self.control(
            reqwest::Method::POST,
            "/_sim/faults",
            json!({"endpoint": endpoint, "mode": mode, "count": count, "delayMs": 2500}),
        )
        .await;
    }

    pub async fn clear_faults(&self) {
        self.control(reqwest::Method::DELETE, "/_sim/faults", json!({}))
            .await;
    }

    /// The simulator's ground truth about the payments on this lane.
    pub async fn payments(&self) -> Vec<Value> {
        let all = self
            .control(reqwest::Method::GET, "/_sim/payments", Value::Null)
            .await;
        all["payments"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p["posId"] == self.pos_id.as_str())
            .collect()
    }

    pub async fn payment(&self, payment_id: &str) -> Value {
        self.payments()
            .await
            .into_iter()
            .find(|p| p["paymentId"] == payment_id)
            .unwrap_or_else(|| panic!("the simulator has no payment {payment_id}"))
    }

    pub async fn refunds(&self) -> Vec<Value> {
        let all = self
            .control(reqwest::Method::GET, "/_sim/refunds", Value::Null)
            .await;
        all["refunds"].as_array().cloned().unwrap_or_default()
    }

    /// The simulator's log of the requests it received for `endpoint` (e.g. `createRefund`),
    /// oldest first.
    pub async fn requests_to(&self, endpoint: &str) -> Vec<Value> {
        let log = self
            .control(reqwest::Method::GET, "/_sim/requests", Value::Null)
            .await;
        log["log"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|entry| entry["endpoint"] == endpoint)
            .collect()
    }

    /// Runs a command to its outcome, with a generous deadline for a loaded machine.
    pub async fn run(&self, command_id: &str, command: Command) -> Outcome {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.engine().run(id(command_id), command),
        )
        .await
        .expect("the command finishes")
        .expect("the engine runs")
    }
}

pub fn payment_id_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Captured { payment_id, .. }
        | Outcome::CapturePending { payment_id, .. }
        | Outcome::Reserved { payment_id, .. }
        | Outcome::Paired { payment_id, .. } => payment_id.clone(),
        Outcome::Declined {
            payment_id: Some(p), ..
        } => p.clone(),
        other => panic!("no payment in {other:?}"),
    }
}
