//! Engine figures against the in-process simulator, journal on disk:
//! - overhead from a command to its first HTTP request (p50/p99), which includes the durability
//!   point (flush + fsync) that makes the intent and its idempotency key survive a power cut;
//! - HTTP calls per sale compared with the minimum (initiate, one status poll, capture);
//! - sales per second through one point of sale.
//!
//! `cargo bench --bench engine` (`MPOSD_BENCH_SALES` sets the number of sales, default 200).
//! The simulator answers status polls with `pollDelayInMs` = 20 and the customer approves at
//! once, so the figures show the engine, not a customer.

#[allow(dead_code)] // shared with the tests; this benchmark uses part of it
#[path = "../tests/shared/sim_pos.rs"]
mod sim_pos;

use mposd::backends::pos_v10::engine::PosV10Backend;
use mposd::engine::api::{Command, CommandId, Outcome};
use mposd::engine::backend::{
    Backend, BackendError, Capabilities, CorrelationId, NewCheckIn, NewPayment, NewRefund, PaymentInfo,
    PaymentQuery, PaymentTerms, RefundInfo,
};
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The real PoS V10 backend, with the moment of each create request noted.
struct Timed {
    inner: PosV10Backend,
    creates: Mutex<Vec<Instant>>,
}

impl Backend for Timed {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }
    async fn create_payment(
        &self,
        c: CorrelationId,
        key: &str,
        p: &NewPayment,
    ) -> Result<String, BackendError> {
        self.creates.lock().unwrap().push(Instant::now());
        self.inner.create_payment(c, key, p).await
    }
    async fn check_in(&self, c: CorrelationId, key: &str, n: &NewCheckIn) -> Result<String, BackendError> {
        self.inner.check_in(c, key, n).await
    }
    async fn set_terms(&self, c: CorrelationId, id: &str, t: &PaymentTerms) -> Result<(), BackendError> {
        self.inner.set_terms(c, id, t).await
    }
    async fn payment(&self, c: CorrelationId, id: &str) -> Result<PaymentInfo, BackendError> {
        self.inner.payment(c, id).await
    }
    async fn find_payments(&self, c: CorrelationId, q: &PaymentQuery) -> Result<Vec<String>, BackendError> {
        self.inner.find_payments(c, q).await
    }
    async fn capture(
        &self,
        c: CorrelationId,
        key: &str,
        id: &str,
        amount: Minor,
    ) -> Result<(), BackendError> {
        self.inner.capture(c, key, id, amount).await
    }
    async fn cancel(&self, c: CorrelationId, key: &str, id: &str) -> Result<(), BackendError> {
        self.inner.cancel(c, key, id).await
    }
    async fn refund(&self, c: CorrelationId, key: &str, r: &NewRefund) -> Result<String, BackendError> {
        self.inner.refund(c, key, r).await
    }
    async fn refund_status(&self, c: CorrelationId, id: &str) -> Result<RefundInfo, BackendError> {
        self.inner.refund_status(c, id).await
    }
    async fn confirm_refund(&self, c: CorrelationId, id: &str) -> Result<(), BackendError> {
        self.inner.confirm_refund(c, id).await
    }
    async fn cancel_refund(&self, c: CorrelationId, id: &str) -> Result<(), BackendError> {
        self.inner.cancel_refund(c, id).await
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let sales: usize = std::env::var("MPOSD_BENCH_SALES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    // On disk (the working directory), not tmpfs: the fsync must be real.
    let dir = tempfile::tempdir_in(".").unwrap();
    let sim_pos::SimPos { sim, pos } =
        sim_pos::SimPos::start(sim_pos::polling_every(20), &dir.path().join("tokens"), "bench").await;
    let base = sim.base_url();
    let sim_pos::RegisteredPos {
        client,
        pos_id: pos,
        beacon_id: beacon,
    } = pos;
    sim_pos::customers_everywhere(&base, "+4520031805", "accept", 0).await;
    let backend = Arc::new(Timed {
        inner: PosV10Backend::new(client),
        creates: Mutex::new(Vec::new()),
    });
    let (journal, _) = Journal::open_or_set_aside(&dir.path().join("journal"), 4 << 20, 1).unwrap();
    let engine_config = EngineConfig::new(&pos, Some(mposd::backends::pos_v10::engine::prompt(&beacon)));
    let engine = start(backend.clone(), journal, engine_config, None)
        .await
        .unwrap();
    let before = sim_pos::ground_truth(&base, "/_sim/requests").await;

    let mut overheads = Vec::new();
    let started = Instant::now();
    for n in 0..sales {
        let id = CommandId::new(format!("bench-{n}")).unwrap();
        let command = Command::Pay {
            amount: Minor(1000 + n as i64),
            currency: Currency::DKK,
            order_id: format!("bench-{n}"),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        };
        let sent = Instant::now();
        let outcome = engine.run(id, command).await.unwrap();
        assert!(matches!(outcome, Outcome::Captured { .. }), "{outcome:?}");
        let first_request = *backend.creates.lock().unwrap().last().unwrap();
        overheads.push(first_request - sent);
    }
    let elapsed = started.elapsed();
    let after = sim_pos::ground_truth(&base, "/_sim/requests").await;
    let count = |v: &Value, e: &str| v["counts"][e].as_u64().unwrap_or(0);
    let calls: u64 = ["initiatePayment", "getPayment", "capturePayment", "token"]
        .iter()
        .map(|e| count(&after, e) - count(&before, e))
        .sum();
    overheads.sort();
    println!("engine benchmark, {sales} sales through one point of sale, journal on disk");
    println!(
        "  command -> first HTTP request: p50 {:.2} ms, p99 {:.2} ms (includes the fsync of the intent)",
        percentile(&overheads, 0.5).as_secs_f64() * 1e3,
        percentile(&overheads, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "  HTTP calls per sale: {:.2} (minimum 3: initiate, one status poll, capture)",
        calls as f64 / sales as f64
    );
    println!(
        "  throughput: {:.1} sales/s (status poll delay 20 ms, customer approves at once)",
        sales as f64 / elapsed.as_secs_f64()
    );
}
