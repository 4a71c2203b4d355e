//! Network chaos: many sales on several lanes at once while the simulator injects faults into
//! about a fifth of the calls (answers delayed past the client's timeout, 500s, changes
//! committed and the connection dropped, 401s; for ePayment also 429s and 423s). Every sale must
//! end correctly: captured exactly once for its amount when the engine says so, never captured
//! otherwise, never paid twice. One test per backend: `chaos::pos_v10_…` and `chaos::epayment_…`.
//!
//! `MPOSD_CHAOS_FLOWS` sets the number of sales of each test (default 100; the documented runs
//! use 1000 for PoS V10 and 300 for ePayment).

use super::sim_ep;
use super::support::*;
use super::truth::{self, Api, Money, Paid};
use mposd::engine::api::{CommandState, EngineHandle, Outcome};
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const LANES: usize = 4;

/// The PoS V10 endpoints that take faults, and the faults.
const POS_V10: Faults = Faults {
    endpoints: &["initiatePayment", "getPayment", "capturePayment"],
    modes: &["delay", "serverError", "commitThenDrop", "unauthorized"],
    only_on: &[],
};

/// The ePayment endpoints of a sale, and the faults ePayment's gateway can answer with; 423
/// (a concurrent change) only where ePayment answers it, on a change of the payment.
const EPAYMENT: Faults = Faults {
    endpoints: &["epCreatePayment", "epGetPayment", "epCapture"],
    modes: &[
        "delay",
        "serverError",
        "commitThenDrop",
        "unauthorized",
        "rateLimited",
    ],
    only_on: &[("epCapture", "locked")],
};

/// Every endpoint with every mode, and the pairs `only_on`.
struct Faults {
    endpoints: &'static [&'static str],
    modes: &'static [&'static str],
    only_on: &'static [(&'static str, &'static str)],
}

impl Faults {
    /// One random fault for the next call of a random endpoint of a sale. The client times
    /// out after 2 s, so a 2.5 s delay makes it give up while the call still takes effect.
    async fn inject_one(&self, sim_url: &str) {
        let body = {
            let every = self.endpoints.len() * self.modes.len();
            let pick = rand::thread_rng().gen_range(0..every + self.only_on.len());
            let (endpoint, mode) = match pick.checked_sub(every) {
                Some(extra) => self.only_on[extra],
                None => (
                    self.endpoints[pick / self.modes.len()],
                    self.modes[pick % self.modes.len()],
                ),
            };
            let mut body = json!({"endpoint": endpoint, "mode": mode, "count": 1, "delayMs": 2500});
            if mode == "rateLimited" {
                body["retryAfter"] = json!("1");
            }
            body
        };
        let response = reqwest::Client::new()
            .post(format!("{sim_url}/_sim/faults"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "fault: {}", response.status());
    }
}

fn flows() -> usize {
    std::env::var("MPOSD_CHAOS_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pos_v10_sales_end_correctly_despite_injected_network_faults() {
    let first = lane().await;
    let sim_url = first.sim.base_url();
    // Further lanes on the same simulator.
    let mut lanes = vec![first];
    for n in 1..LANES {
        lanes.push(extra_lane(&lanes[0], n).await);
    }
    lanes[0].customer_everywhere(PARTIAL_USER, "accept", 0).await;
    let engines = lanes.iter().map(|lane| lane.engine().clone()).collect();
    chaos(Api::PosV10, &sim_url, engines, &POS_V10).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epayment_sales_end_correctly_despite_injected_network_faults() {
    let sim = mposd::sim::start(mposd::sim::SimConfig::default()).await.unwrap();
    let sim_url = sim.base_url();
    sim_ep::customers(&sim_url, "approve", 0).await;
    // Lanes of one sales unit: each its own journal and its own references.
    let dirs: Vec<tempfile::TempDir> = (0..LANES).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut engines = Vec::new();
    for (n, dir) in dirs.iter().enumerate() {
        let (journal, aside) = Journal::open_or_set_aside(&dir.path().join("journal"), 4 << 20, 1).unwrap();
        let mut config = EngineConfig::new(format!("lane-{n}"), None);
        config.policy = test_policy();
        let backend = sim_ep::backend_with_timeout(&sim_url, Duration::from_secs(2));
        engines.push(start(Arc::new(backend), journal, config, aside).await.unwrap());
    }
    chaos(Api::Epayment, &sim_url, engines, &EPAYMENT).await;
}

/// Sells on every engine at once, one or two faults ahead of each sale, then checks every
/// sale's end against the simulator's ground truth.
async fn chaos(api: Api, sim_url: &str, engines: Vec<EngineHandle>, faults: &'static Faults) {
    let flows = flows();
    let mut tasks = Vec::new();
    for (lane_no, engine) in engines.iter().cloned().enumerate() {
        let sim_url = sim_url.to_string();
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in 0..flows / LANES {
                // One or two faults per sale: about a fifth of all requests.
                let count = 1 + usize::from(rand::thread_rng().gen_bool(0.5));
                for _ in 0..count {
                    faults.inject_one(&sim_url).await;
                }
                let command_id = format!("l{lane_no}-s{n}");
                let amount = 100 + (n as i64 * 37) % 9000;
                let outcome = tokio::time::timeout(
                    Duration::from_secs(120),
                    engine.run(id(&command_id), pay(amount, &command_id, false)),
                )
                .await
                .expect("the sale is answered")
                .unwrap();
                results.push((lane_no, command_id, amount, outcome));
            }
            results
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    reqwest::Client::new()
        .delete(format!("{sim_url}/_sim/faults"))
        .send()
        .await
        .unwrap();

    // Let interim answers resolve, then compare with the simulator's ground truth.
    let mut final_outcomes = HashMap::new();
    for (lane_no, command_id, _, outcome) in &all {
        let mut outcome = outcome.clone();
        for _ in 0..600 {
            if !matches!(outcome, Outcome::Unknown { .. } | Outcome::CapturePending { .. }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(view) = engines[*lane_no].query(&id(command_id)).await.unwrap() {
                if let CommandState::Finished(o) = view.state {
                    outcome = o;
                }
            }
        }
        final_outcomes.insert(command_id.clone(), outcome);
    }
    let payments = truth::payments(sim_url, api, None).await;
    let mut captured = 0;
    for (_, command_id, amount, _) in &all {
        let mine: Vec<&Paid> = payments.iter().filter(|p| p.order_id == *command_id).collect();
        assert!(mine.len() <= 1, "{command_id} has {} payments", mine.len());
        for p in &mine {
            p.assert_captured_once_at_most();
        }
        match &final_outcomes[command_id] {
            Outcome::Captured {
                amount: a,
                payment_id,
                ..
            } => {
                captured += 1;
                assert_eq!(a.0, *amount);
                assert_eq!(&mine[0].payment_id, payment_id, "{command_id}");
                assert_eq!(mine[0].money, Money::Captured, "{command_id}: {}", mine[0].raw);
                assert_eq!(mine[0].captured, *amount, "{command_id}");
            }
            Outcome::Declined { .. } => {
                if let Some(p) = mine.first() {
                    assert!(!p.is_paid(), "{command_id} declined but paid: {}", p.raw);
                }
            }
            other => panic!("{command_id} ended {other:?}"),
        }
    }
    let log: Value = reqwest::get(format!("{sim_url}/_sim/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["log"].as_array().cloned().unwrap_or_default();
    let faulted = entries.iter().filter(|e| !e["fault"].is_null()).count();
    println!(
        "chaos ({}): {} sales on {LANES} lanes, {captured} captured, the rest declined; {faulted} \
         of {} requests faulted ({:.0}%)",
        api.name(),
        all.len(),
        entries.len(),
        100.0 * faulted as f64 / entries.len().max(1) as f64
    );
    assert!(
        captured * 10 >= all.len() * 9,
        "most sales must succeed despite the faults"
    );
}
