//! Figures of the daemon as a whole: binary size, memory when idle (split into the code and
//! constants mapped from files and the private memory) and while taking payments, and the time
//! from start to READY with an empty store and with a large journal.
//!
//! `cargo bench --bench daemon_figures` measures the host build: the production binary named by
//! `MPOSD_HOST_BIN` (built without the `sim` feature; scripts/figures.sh builds it), else the
//! default build cargo made for this benchmark, simulator included. With `MPOSD_AARCH64_BIN`
//! set to an aarch64 build of mposd and `MPOSD_ARMHF_BIN` to an armv7 (armhf) one
//! (scripts/figures.sh does this) the same is measured for 64-bit and 32-bit ARM under
//! qemu-user. `MPOSD_FIGURES_RECORDS` sets the journal size (default 100,000). Under
//! `cargo test` a small round checks that the measurement itself works.

#[allow(dead_code)] // shared with the tests; this benchmark uses part of it
#[path = "../tests/shared/sim_pos.rs"]
mod sim_pos;
#[path = "../tests/shared/store_copy.rs"]
mod store_copy;

use mposd::daemon::sim_config::{SimBackend, SimulatorLane};
use mposd::engine::journal::Journal;
use mposd::engine::record::{Phase, Record};
use mposd::engine::{Command, CommandId, Outcome};
use mposd::money::{Currency, Minor};
use mposd::store::Db;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command as Process};

/// The default build (with the simulator): the cash-register tool the payments are sent with.
const HOST_EXE: &str = env!("CARGO_BIN_EXE_mposd");

/// The host binary measured: the production build if `MPOSD_HOST_BIN` names one.
fn daemon_exe() -> String {
    std::env::var("MPOSD_HOST_BIN").unwrap_or_else(|_| HOST_EXE.to_string())
}

struct Figures {
    label: String,
    ready_empty: Duration,
    rss_idle_kib: u64,
    idle_parts: ResidentParts,
    rss_paying_kib: u64,
    payments: usize,
    ready_full: Duration,
    records: usize,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Where resident memory lies, in KiB: pages of files mapped unchanged (the program's code and
/// constants; under qemu-user the emulator's too), split into executable and not, and private
/// memory (heap, stacks, relocated pointers). The split says whether a change of the code's
/// size or of its allocations moved the total.
#[derive(Default)]
struct ResidentParts {
    code_kib: u64,
    constants_kib: u64,
    private_kib: u64,
}

fn resident_parts(pid: u32) -> ResidentParts {
    let mut parts = ResidentParts::default();
    let Ok(smaps) = std::fs::read_to_string(format!("/proc/{pid}/smaps")) else {
        return parts;
    };
    // Each mapping is a header "start-end perms offset dev inode [path]" and then "Key: n kB"
    // lines, Rss before Anonymous.
    let mut executable = false;
    let mut rss_kib: u64 = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(first), Some(second)) = (fields.next(), fields.next()) else {
            continue;
        };
        match first {
            "Rss:" => rss_kib = second.parse().unwrap_or(0),
            "Anonymous:" => {
                let anonymous_kib: u64 = second.parse().unwrap_or(0);
                let file_kib = rss_kib.saturating_sub(anonymous_kib);
                if executable {
                    parts.code_kib += file_kib;
                } else {
                    parts.constants_kib += file_kib;
                }
                parts.private_kib += anonymous_kib;
            }
            _ if !first.ends_with(':') => executable = second.contains('x'),
            _ => {}
        }
    }
    parts
}

fn write_config(dir: &Path, base: &str, ecr: &str) -> PathBuf {
    SimulatorLane {
        sim_url: base,
        backend: SimBackend::PosV10 {
            merchant_pos_id: "figures-till",
        },
        ecr: format!("tcp = {{ listen = \"{ecr}\" }}"),
        png_display: None,
    }
    .write(dir)
    .expect("config")
}

/// Starts the daemon with `runner` (empty for the host binary) and returns it once READY,
/// with the time that took.
async fn start(runner: &[String], config: &Path) -> (Child, Duration) {
    let (program, args) = match runner.split_first() {
        Some((program, rest)) => (program.clone(), rest.to_vec()),
        None => (daemon_exe(), Vec::new()),
    };
    let started = Instant::now();
    let mut child = Process::new(program)
        .args(args)
        .args(["run", "--log-format", "json", "--config"])
        .arg(config)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the daemon");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(600), async {
        while let Ok(Some(line)) = lines.next_line().await {
            // A journal set aside or any other alarm would make the start a different one.
            assert!(
                !line.contains("ALARM"),
                "the daemon raised an alarm at start: {line}"
            );
            if line.contains("mposd is ready") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the daemon did not become ready");
    let took = started.elapsed();
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, took)
}

async fn stop(mut child: Child) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(60), child.wait()).await;
}

/// Set in the child process that fills part of a journal: `<state dir>:<first>:<end>`.
const FILL_VARIABLE: &str = "MPOSD_FIGURES_FILL";
/// Records one child process writes.
const FILL_CHUNK: usize = 10_000;
/// Time a child gets for its records (it takes about a second) before it is taken as stuck.
const FILL_TIMEOUT: Duration = Duration::from_secs(60);
/// Times a chunk is tried.
const FILL_ATTEMPTS: usize = 5;

/// Fills the journal in `state` with `n` finished payments, [`FILL_CHUNK`] at a time, each in a
/// child process. A stream of writes this long now and then hangs inside sled 0.34 (its write
/// deadlock, spacejam/sled#1412; the daemon is restarted by the watchdog when it hits it). A
/// stuck child is killed, the state as it was before that chunk is put back from a copy, and
/// the chunk is written again.
async fn fill_journal_in_child(state: &Path, n: usize) {
    let before = state.with_extension("before-chunk");
    for first in (0..n).step_by(FILL_CHUNK) {
        let end = (first + FILL_CHUNK).min(n);
        let _ = std::fs::remove_dir_all(&before);
        store_copy::copy_dir(state, &before);
        let mut written = false;
        for attempt in 1..=FILL_ATTEMPTS {
            let mut child = Process::new(std::env::current_exe().expect("this benchmark"))
                .env(FILL_VARIABLE, format!("{}:{first}:{end}", state.display()))
                .kill_on_drop(true)
                .spawn()
                .expect("start the filling process");
            if let Ok(status) = tokio::time::timeout(FILL_TIMEOUT, child.wait()).await {
                assert!(status.expect("wait").success(), "filling the journal failed");
                written = true;
                break;
            }
            eprintln!("writing records {first}..{end} hung inside sled (attempt {attempt}); again");
            let _ = child.kill().await;
            std::fs::remove_dir_all(state).expect("remove the stuck state");
            store_copy::copy_dir(&before, state);
        }
        assert!(
            written,
            "writing records {first}..{end} hung {FILL_ATTEMPTS} times"
        );
    }
    let _ = std::fs::remove_dir_all(&before);
}

/// Adds finished payments `first..end` to the lane's journal, as months of trading leave it.
fn fill_journal(state: &Path, first: usize, end: usize) {
    let db = Arc::new(Db::open(&state.join("store"), 8 << 20).expect("store"));
    let journal = Journal::for_lane(db.clone(), "till-1").expect("journal");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    for i in first..end {
        let id = CommandId::new(format!("old-sale-{i}")).expect("id");
        let command = Command::Pay {
            amount: Minor(1000 + i as i64 % 5000),
            currency: Currency::DKK,
            order_id: format!("OLD-{i}"),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        };
        let mut record = Record::new(id, command, "figures-pos".into(), now);
        record.phase = Phase::Done;
        record.payment_id = Some(format!("00000000-0000-4000-8000-{i:012}"));
        record.outcome = Some(Outcome::Captured {
            payment_id: format!("00000000-0000-4000-8000-{i:012}"),
            amount: Minor(1000),
            currency: Currency::DKK,
        });
        record.answered = true;
        journal.put(&record).expect("put");
    }
    db.durable().expect("durable");
}

async fn measure(label: &str, runner: Vec<String>, payments: usize, records: usize) -> Figures {
    let sim = mposd::sim::start(sim_pos::polling_every(50))
        .await
        .expect("simulator");
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let ecr = format!("127.0.0.1:{port}");
    let config = write_config(dir.path(), &sim.base_url(), &ecr);

    let (daemon, ready_empty) = start(&runner, &config).await;
    let pid = daemon.id().expect("pid");
    let rss_idle_kib = rss_kib(pid);
    let idle_parts = resident_parts(pid);
    sim_pos::customers_everywhere(&sim.base_url(), "+4520031805", "accept", 0).await;
    let sampling = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = sampling.clone();
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    for i in 0..payments {
        let out = Process::new(HOST_EXE)
            .args([
                "ecr",
                "--tcp",
                &ecr,
                "--timeout",
                "120",
                "pay",
                "12.50",
                "--order",
            ])
            .arg(format!("FIG-{i}"))
            .output()
            .await
            .expect("mposd ecr");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    sampler.abort();
    let rss_paying_kib = sampling.load(std::sync::atomic::Ordering::Relaxed);
    stop(daemon).await;

    fill_journal_in_child(&dir.path().join("state"), records).await;
    let (daemon, ready_full) = start(&runner, &config).await;
    stop(daemon).await;
    sim.shutdown().await;
    Figures {
        label: label.to_string(),
        ready_empty,
        rss_idle_kib,
        idle_parts,
        rss_paying_kib,
        payments,
        ready_full,
        records,
    }
}

fn main() {
    if let Ok(fill) = std::env::var(FILL_VARIABLE) {
        let mut parts = fill.rsplitn(3, ':');
        let (Some(end), Some(first), Some(state)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("{FILL_VARIABLE}={fill}: expected <state dir>:<first>:<end>");
        };
        let record = |v: &str| v.parse().expect("a record number");
        fill_journal(Path::new(state), record(first), record(end));
        return;
    }
    let benching = std::env::args().any(|a| a == "--bench");
    let records = match std::env::var("MPOSD_FIGURES_RECORDS") {
        Ok(v) => v.parse().expect("MPOSD_FIGURES_RECORDS is a number"),
        Err(_) if benching => 100_000,
        Err(_) => 500,
    };
    let payments = if benching { 20 } else { 2 };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows = vec![runtime.block_on(measure("host (x86_64)", Vec::new(), payments, records))];
    let mut sizes = vec![(
        "host (x86_64)".to_string(),
        std::fs::metadata(daemon_exe())
            .map(|m| m.len())
            .expect("the host binary exists"),
    )];
    if std::env::var_os("MPOSD_HOST_BIN").is_some() {
        sizes.push((
            "host (x86_64) with the simulator (default features)".to_string(),
            std::fs::metadata(HOST_EXE).map(|m| m.len()).unwrap_or(0),
        ));
    }
    // An ARM build, the variable naming it and how qemu-user runs it (-L: the cross C
    // library, for hosts without the foreign architecture's libc6).
    let arm_builds: [(&str, &str, &[&str]); 2] = [
        ("aarch64", "MPOSD_AARCH64_BIN", &["qemu-aarch64-static"]),
        (
            "armhf",
            "MPOSD_ARMHF_BIN",
            &["qemu-arm-static", "-L", "/usr/arm-linux-gnueabihf"],
        ),
    ];
    for (arch, variable, qemu) in arm_builds {
        let Ok(arm) = std::env::var(variable) else {
            continue;
        };
        sizes.push((
            arch.into(),
            std::fs::metadata(&arm)
                .map(|m| m.len())
                .unwrap_or_else(|e| panic!("the {arch} binary {arm}: {e}")),
        ));
        let mut runner: Vec<String> = qemu.iter().map(|s| s.to_string()).collect();
        runner.push(arm);
        let label = format!("{arch} under qemu-user");
        rows.push(runtime.block_on(measure(&label, runner, payments, records)));
    }
    println!(
        "daemon figures ({}):",
        if benching { "bench" } else { "quick check" }
    );
    for (label, bytes) in sizes {
        println!(
            "  binary size, {label}: {:.1} MiB",
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    for f in rows {
        println!(
            "  {}: READY after {:.2} s with an empty store, {:.2} s with {} journal records; RSS {:.1} MiB idle ({} KiB: code {}, constants {}, private {}), {:.1} MiB peak over {} payments",
            f.label,
            f.ready_empty.as_secs_f64(),
            f.ready_full.as_secs_f64(),
            f.records,
            f.rss_idle_kib as f64 / 1024.0,
            f.rss_idle_kib,
            f.idle_parts.code_kib,
            f.idle_parts.constants_kib,
            f.idle_parts.private_kib,
            f.rss_paying_kib as f64 / 1024.0,
            f.payments
        );
    }
}
