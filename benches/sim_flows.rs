//! Throughput and memory of `mposd sim` under full payment flows.
//!
//! Starts the release build of the real `mposd sim` binary as a child process, then runs 64
//! concurrent clients over HTTP. Each client fetches its token and creates its PoS once, then
//! loops full flows: initiate → user check-in → user accept → capture (four requests per flow).
//! Prints flows per second and the simulator's resident memory (from /proc/PID/status).
//!
//! Flows run in rounds; between rounds every client is idle and the virtual clock jumps past
//! the retention of captured payments (refund window + 1 day) and of idempotency keys, so that
//! a simulator that evicts expired state keeps its memory flat over any number of flows.
//!
//! Environment: `SIM_BENCH_FLOWS` (default 100000 under `cargo bench`, 256 when run by
//! `cargo test --all-targets`), `SIM_BENCH_CLIENTS` (default 64).
//! Exits non-zero if any flow fails.

use mposd::daemon::sim_config::spawn_simulator;
use mposd::sim::fixtures::{
    DEMO_CLIENT_ID as CLIENT_ID, DEMO_CLIENT_SECRET as CLIENT_SECRET, DK_STORE as STORE, DK_VAT as VAT,
};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "+4520031801";
/// Flows each client runs between two clock jumps.
const FLOWS_PER_CLIENT_PER_ROUND: u64 = 32;
/// Past the 91-day retention of captured payments and the 24 h of idempotency keys.
const CLOCK_JUMP_MS: u64 = 92 * 24 * 3600 * 1000;
/// Tokens are fetched once per client, so they must outlive every clock jump (100 years).
const TOKEN_LIFETIME_S: &str = "3153600000";

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    pos_id: String,
    beacon_id: String,
}

type BenchResult<T> = Result<T, String>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

async fn json_of(resp: reqwest::Response, what: &str) -> BenchResult<Value> {
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{what}: {e}"))?;
    if !status.is_success() {
        return Err(format!("{what}: {status} {text}"));
    }
    if text.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(&text).map_err(|e| format!("{what}: {e}: {text}"))
}

impl Client {
    async fn new(base: &str, n: u64) -> BenchResult<Client> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| e.to_string())?;
        let token = json_of(
            http.post(format!("{base}/integrator-authentication/connect/token"))
                .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .map_err(|e| e.to_string())?,
            "token",
        )
        .await?["access_token"]
            .as_str()
            .ok_or("no access_token")?
            .to_string();
        let mut client = Client {
            http,
            base: base.to_string(),
            token,
            pos_id: String::new(),
            beacon_id: uuid::Uuid::new_v4().to_string(),
        };
        let created = client
            .pos(reqwest::Method::POST, "/pointofsales")
            .header("x-mobilepay-idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({
                "merchantPosId": format!("bench-{n}"),
                "storeId": STORE,
                "name": format!("Bench {n}"),
                "beaconId": client.beacon_id,
                "supportedBeaconTypes": ["QR"],
            }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        client.pos_id = json_of(created, "create PoS").await?["posId"]
            .as_str()
            .ok_or("no posId")?
            .to_string();
        Ok(client)
    }

    fn pos(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/pos/v10{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-mobilepay-client-system-version", "1.0.0")
            .header("x-mobilepay-merchant-vat-number", VAT)
    }

    async fn user(&self, action: &str) -> BenchResult<()> {
        let resp = self
            .http
            .post(format!("{}/pos/app/usersimulation/{action}", self.base))
            .header("x-ibm-client-id", CLIENT_ID)
            .header("x-ibm-client-secret", CLIENT_SECRET)
            .json(&json!({"beaconId": self.beacon_id, "phoneNumber": USER}))
            .send()
            .await
            .map_err(|e| format!("{action}: {e}"))?;
        json_of(resp, action).await.map(drop)
    }

    /// initiate → check-in → accept → capture.
    async fn flow(&self) -> BenchResult<()> {
        let initiated = self
            .pos(reqwest::Method::POST, "/payments")
            .header("x-mobilepay-idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&json!({
                "posId": self.pos_id,
                "orderId": uuid::Uuid::new_v4().simple().to_string()[..20].to_string(),
                "amount": 49.95,
                "currencyCode": "DKK",
                "plannedCaptureDelay": "None",
            }))
            .send()
            .await
            .map_err(|e| format!("initiate: {e}"))?;
        let payment_id = json_of(initiated, "initiate").await?["paymentId"]
            .as_str()
            .ok_or("no paymentId")?
            .to_string();
        self.user("checkin").await?;
        self.user("acceptpayment").await?;
        let captured = self
            .pos(reqwest::Method::POST, &format!("/payments/{payment_id}/capture"))
            .json(&json!({"amount": 49.95}))
            .send()
            .await
            .map_err(|e| format!("capture: {e}"))?;
        json_of(captured, "capture").await.map(drop)
    }
}

async fn run(default_flows: u64) -> BenchResult<()> {
    let total = env_u64("SIM_BENCH_FLOWS", default_flows).max(1);
    let clients = env_u64("SIM_BENCH_CLIENTS", 64).max(1);
    let exe = Path::new(env!("CARGO_BIN_EXE_mposd"));
    let (mut child, base) = spawn_simulator(exe, &["--token-lifetime", TOKEN_LIFETIME_S], Stdio::inherit())
        .await
        .map_err(|e| format!("{e:#}"))?;
    let pid = child.id().ok_or("simulator has no pid")?;
    let build = if cfg!(debug_assertions) {
        "debug build: figures are not meaningful, run `cargo bench --bench sim_flows`"
    } else {
        "release build"
    };
    println!("sim_flows: real `mposd sim` ({build}) as child process {pid} at {base}");
    println!("sim_flows: {total} flows, {clients} concurrent clients, 4 HTTP requests per flow");

    let mut set = Vec::new();
    for n in 0..clients {
        set.push(Client::new(&base, n).await?);
    }
    let set: Vec<Arc<Client>> = set.into_iter().map(Arc::new).collect();
    let control = reqwest::Client::new();
    let rss_start = rss_kib(pid, "VmRSS:");
    println!("sim_flows: setup done, simulator RSS {}", mib(rss_start));

    let done = Arc::new(AtomicU64::new(0));
    let mut flow_time = Duration::ZERO;
    let started = Instant::now();
    let round_size = clients * FLOWS_PER_CLIENT_PER_ROUND;
    let report_every = (total / 10).max(1);
    let mut next_report = report_every;
    let mut rss_max = rss_start.unwrap_or(0);
    let mut remaining = total;
    while remaining > 0 {
        let this_round = remaining.min(round_size);
        let round_start = Instant::now();
        let mut tasks = Vec::new();
        for (i, client) in set.iter().enumerate() {
            let share = this_round / clients + u64::from((i as u64) < this_round % clients);
            let client = client.clone();
            let done = done.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..share {
                    client.flow().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                BenchResult::Ok(())
            }));
        }
        for task in tasks {
            task.await.map_err(|e| format!("client task: {e}"))??;
        }
        flow_time += round_start.elapsed();
        remaining -= this_round;
        control
            .post(format!("{base}/_sim/clock/advance"))
            .json(&json!({"ms": CLOCK_JUMP_MS}))
            .send()
            .await
            .map_err(|e| format!("clock advance: {e}"))?
            .error_for_status()
            .map_err(|e| format!("clock advance: {e}"))?;
        let rss = rss_kib(pid, "VmRSS:");
        rss_max = rss_max.max(rss.unwrap_or(0));
        let flows = done.load(Ordering::Relaxed);
        if flows >= next_report || remaining == 0 {
            next_report = flows + report_every;
            println!(
                "sim_flows: {flows:>7} flows  {:>8.0} flows/s so far  simulator RSS {}",
                flows as f64 / flow_time.as_secs_f64(),
                mib(rss)
            );
        }
    }
    let wall = started.elapsed();
    let flows = done.load(Ordering::Relaxed);
    let payments = json_of(
        control
            .get(format!("{base}/_sim/payments"))
            .send()
            .await
            .map_err(|e| e.to_string())?,
        "ground truth",
    )
    .await?["payments"]
        .as_array()
        .map_or(0, Vec::len);
    let rss_end = rss_kib(pid, "VmRSS:");
    println!(
        "sim_flows: RESULT {:.0} flows/s ({flows} flows in {:.2} s of flow time, {:.2} s wall incl. clock jumps; target >= 1000 on 2 cores)",
        flows as f64 / flow_time.as_secs_f64(),
        flow_time.as_secs_f64(),
        wall.as_secs_f64(),
    );
    println!(
        "sim_flows: RESULT simulator RSS start {}  max {}  end {}  peak (VmHWM) {}; payments still held after the last clock jump: {payments}",
        mib(rss_start),
        mib(Some(rss_max)),
        mib(rss_end),
        mib(rss_kib(pid, "VmHWM:")),
    );
    child.kill().await.map_err(|e| format!("stop simulator: {e}"))?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and then a short smoke run (unless SIM_BENCH_FLOWS says otherwise) keeps tests quick.
    let benching = std::env::args().any(|a| a == "--bench");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sim_flows: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(if benching { 100_000 } else { 256 })) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim_flows: FAILED: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
