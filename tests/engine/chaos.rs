//! Network chaos: many sales on several lanes at once while the simulator injects faults into
//! about a fifth of the calls (answers delayed past the client's timeout, 500s, changes
//! committed and the connection dropped, 401s). Every sale must end correctly: captured exactly
//! once for its amount when the engine says so, never captured otherwise, never paid twice.
//!
//! `MPOSD_CHAOS_FLOWS` sets the number of sales (default 100; the documented run uses 1000).

use super::support::*;
use mposd::engine::api::{CommandState, Outcome};
use rand::Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;

const LANES: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_end_correctly_despite_injected_network_faults() {
    let flows: usize = std::env::var("MPOSD_CHAOS_FLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let first = lane().await;
    let sim_url = first.sim.base_url();
    // Further lanes on the same simulator.
    let mut lanes = vec![first];
    for n in 1..LANES {
        lanes.push(extra_lane(&lanes[0], n).await);
    }
    lanes[0].customer_everywhere(PARTIAL_USER, "accept", 0).await;
    let lanes = std::sync::Arc::new(lanes);
    let mut tasks = Vec::new();
    for lane_no in 0..LANES {
        let lanes = lanes.clone();
        tasks.push(tokio::spawn(async move {
            let lane = &lanes[lane_no];
            let mut results = Vec::new();
            for n in 0..flows / LANES {
                // One or two faults per sale: about a fifth of all requests.
                let faults = 1 + usize::from(rand::thread_rng().gen_bool(0.5));
                for _ in 0..faults {
                    let (endpoint, mode) = {
                        let mut rng = rand::thread_rng();
                        let endpoint =
                            ["initiatePayment", "getPayment", "capturePayment"][rng.gen_range(0..3)];
                        let mode =
                            ["delay", "serverError", "commitThenDrop", "unauthorized"][rng.gen_range(0..4)];
                        (endpoint, mode)
                    };
                    lane.fault(endpoint, mode, 1).await;
                }
                let command_id = format!("l{lane_no}-s{n}");
                let amount = 100 + (n as i64 * 37) % 9000;
                let outcome = tokio::time::timeout(
                    Duration::from_secs(120),
                    lane.engine()
                        .run(id(&command_id), pay(amount, &command_id, false)),
                )
                .await
                .expect("the sale is answered")
                .unwrap();
                results.push((command_id, amount, outcome));
            }
            results
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    lanes[0].clear_faults().await;

    // Let interim answers resolve, then compare with the simulator's ground truth.
    let mut final_outcomes = HashMap::new();
    for (command_id, _, outcome) in &all {
        let lane = &lanes[command_id[1..2].parse::<usize>().unwrap()];
        let mut outcome = outcome.clone();
        for _ in 0..600 {
            if !matches!(outcome, Outcome::Unknown { .. } | Outcome::CapturePending { .. }) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(view) = lane.engine().query(&id(command_id)).await.unwrap() {
                if let CommandState::Finished(o) = view.state {
                    outcome = o;
                }
            }
        }
        final_outcomes.insert(command_id.clone(), outcome);
    }
    let payments: Vec<Value> = {
        let mut v = Vec::new();
        for lane in lanes.iter() {
            v.extend(lane.payments().await);
        }
        v
    };
    let mut captured = 0;
    for (command_id, amount, _) in &all {
        let mine: Vec<&Value> = payments
            .iter()
            .filter(|p| p["orderId"] == command_id.as_str())
            .collect();
        assert!(mine.len() <= 1, "{command_id} has {} payments", mine.len());
        match &final_outcomes[command_id] {
            Outcome::Captured { amount: a, .. } => {
                captured += 1;
                assert_eq!(a.0, *amount);
                assert_eq!(mine[0]["status"], "Captured", "{command_id}");
                assert_eq!(mine[0]["capturedMinor"].as_i64(), Some(*amount), "{command_id}");
            }
            Outcome::Declined { .. } => {
                if let Some(p) = mine.first() {
                    assert_ne!(p["status"], "Captured", "{command_id} declined but captured");
                    assert_ne!(p["status"], "Reserved", "{command_id} declined but left reserved");
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
        "chaos: {} sales on {LANES} lanes, {captured} captured, the rest declined; {faulted} of {} \
         requests faulted ({:.0}%)",
        all.len(),
        entries.len(),
        100.0 * faulted as f64 / entries.len().max(1) as f64
    );
    assert!(
        captured * 10 >= all.len() * 9,
        "most sales must succeed despite the faults"
    );
}
