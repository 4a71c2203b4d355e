//! Engine figures for each backend (PoS V10 and ePayment) against the in-process simulator,
//! journal on disk:
//! - overhead from a command to its first HTTP request (p50/p99), which includes the durability
//!   point (flush + fsync) that makes the intent and its idempotency key survive a power cut;
//! - HTTP calls per sale, by endpoint, from the simulator's request log, split into the calls
//!   the protocol needs (compared with its minimum: create, one status read, capture) and the
//!   status reads that found the customer still deciding (those come from the simulated
//!   customer's pace, not the engine);
//! - sales per second through one lane.
//!
//! `cargo bench --bench engine` (`MPOSD_BENCH_SALES` sets the number of sales per backend,
//! default 200). The PoS V10 simulator answers status polls with `pollDelayInMs` = 20 and the
//! customers approve at once, so the figures show the engine, not a customer.

#[allow(dead_code)] // shared with the tests; this benchmark uses part of it
#[path = "../tests/shared/sim_ep.rs"]
mod sim_ep;
#[allow(dead_code)] // shared with the tests; this benchmark uses part of it
#[path = "../tests/shared/sim_pos.rs"]
mod sim_pos;

use mposd::backends::pos_v10::engine::PosV10Backend;
use mposd::engine::api::{Command, CommandId, Outcome};
use mposd::engine::backend::{
    Backend, BackendError, Capabilities, CorrelationId, CustomerPrompt, NewCheckIn, NewPayment, NewRefund,
    PaymentInfo, PaymentQuery, PaymentTerms, RefundInfo,
};
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A real backend, with the moment of each create request noted, and the status reads that
/// found the customer still deciding counted (the engine cannot save those: they come from
/// the customer's pace).
struct Timed<B> {
    inner: B,
    creates: Mutex<Vec<Instant>>,
    reads_before_answer: AtomicU64,
}

impl<B: Backend> Backend for Timed<B> {
    type Invoicing = B::Invoicing;
    type Agreements = B::Agreements;

    fn invoicing(&self) -> Option<&Self::Invoicing> {
        self.inner.invoicing()
    }

    fn agreements(&self) -> Option<&Self::Agreements> {
        self.inner.agreements()
    }

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
        let info = self.inner.payment(c, id).await;
        if info.as_ref().is_ok_and(|i| i.state.is_open()) {
            self.reads_before_answer.fetch_add(1, Ordering::Relaxed);
        }
        info
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

/// The simulator's request counts by endpoint.
async fn request_counts(base_url: &str) -> BTreeMap<String, u64> {
    let log = sim_pos::ground_truth(base_url, "/_sim/requests").await;
    log["counts"]
        .as_object()
        .map(|counts| {
            counts
                .iter()
                .map(|(endpoint, n)| (endpoint.clone(), n.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// One backend's run: `sales` captured sales through one lane whose journal is at `journal`.
struct Run<'a> {
    name: &'a str,
    base_url: &'a str,
    lane: &'a str,
    prompt: Option<CustomerPrompt>,
    journal: &'a Path,
    sales: usize,
    /// The protocol's minimum per sale, and its endpoints.
    minimum: &'a str,
}

impl Run<'_> {
    async fn measure<B: Backend>(&self, backend: B) {
        let backend = Arc::new(Timed {
            inner: backend,
            creates: Mutex::new(Vec::new()),
            reads_before_answer: AtomicU64::new(0),
        });
        let (journal, _) = Journal::open_or_set_aside(self.journal, 4 << 20, 1).unwrap();
        let engine = start(
            backend.clone(),
            journal,
            EngineConfig::new(self.lane, self.prompt.clone()),
            None,
        )
        .await
        .unwrap();
        let before = request_counts(self.base_url).await;
        let mut overheads = Vec::new();
        let started = Instant::now();
        for n in 0..self.sales {
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
        let after = request_counts(self.base_url).await;
        overheads.sort();
        let waiting = backend.reads_before_answer.load(Ordering::Relaxed);
        self.report(&overheads, elapsed, &before, &after, waiting);
    }

    fn report(
        &self,
        overheads: &[Duration],
        elapsed: Duration,
        before: &BTreeMap<String, u64>,
        after: &BTreeMap<String, u64>,
        reads_before_answer: u64,
    ) {
        let sales = self.sales as f64;
        // Every request in the log is the engine's: the simulated customers act inside the
        // simulator.
        let made: Vec<(&str, u64)> = after
            .iter()
            .map(|(endpoint, n)| (endpoint.as_str(), n - before.get(endpoint).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let total = made.iter().map(|(_, n)| n).sum::<u64>();
        let per_sale = total as f64 / sales;
        let needed = total.saturating_sub(reads_before_answer) as f64 / sales;
        let by_endpoint = made
            .iter()
            .map(|(endpoint, n)| format!("{endpoint} {:.2}", *n as f64 / sales))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{}: {} sales through one lane, journal on disk",
            self.name, self.sales
        );
        println!(
            "  command -> first HTTP request: p50 {:.2} ms, p99 {:.2} ms (includes the fsync of the intent)",
            percentile(overheads, 0.5).as_secs_f64() * 1e3,
            percentile(overheads, 0.99).as_secs_f64() * 1e3
        );
        println!("  HTTP calls per sale: {per_sale:.2}: {by_endpoint}");
        println!(
            "    made by the engine as the protocol needs: {needed:.2} (minimum {})",
            self.minimum,
        );
        println!(
            "    status reads that found the customer still deciding: {:.2} (the simulated customer's pace)",
            reads_before_answer as f64 / sales
        );
        println!(
            "  throughput: {:.1} sales/s (customer approves at once)",
            sales / elapsed.as_secs_f64()
        );
    }
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
    Run {
        name: "PoS V10",
        base_url: &base,
        lane: &pos,
        prompt: Some(mposd::backends::pos_v10::engine::prompt(&beacon)),
        journal: &dir.path().join("journal-v10"),
        sales,
        minimum: "3: initiate, one status poll, capture",
    }
    .measure(PosV10Backend::new(client))
    .await;

    sim_ep::customers(&base, "approve", 0).await;
    Run {
        name: "ePayment",
        base_url: &base,
        lane: "bench",
        prompt: None,
        journal: &dir.path().join("journal-epayment"),
        sales,
        minimum: "3: create, one read, capture",
    }
    .measure(sim_ep::backend(&base))
    .await;
}
