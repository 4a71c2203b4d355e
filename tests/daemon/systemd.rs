//! `mposd run` as systemd sees it, through a real notify socket: status lines, READY once the
//! lanes serve, watchdog pings from the main loop that stop while a write into the store does
//! not return, STOPPING on SIGTERM, and a boot while
//! MobilePay is unreachable that asks for more start-up time instead of being killed, a
//! cash-register port taken by another program, named in the status until it is free, and a
//! settings change that waits for a kept reservation, named in the status until it is applied.

use super::support::{final_outcome, free_port, sigterm, stops_with_exit_0, Setup, MPOSD};
use mposd::daemon::sim_config::{SimBackend, SimulatorLane};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};

/// The service manager's end of `NOTIFY_SOCKET` for one daemon under test.
pub(super) struct NotifySocket {
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    pub(super) fn bind(dir: &Path) -> NotifySocket {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("notify socket");
        NotifySocket { path, socket }
    }

    /// Starts `mposd run` as systemd would: `NOTIFY_SOCKET`, and `WATCHDOG_USEC` when the
    /// unit has `WatchdogSec=`.
    pub(super) fn spawn(&self, config: &Path, watchdog: Option<Duration>) -> Child {
        let mut command = Command::new(MPOSD);
        command
            .args(["run", "--config"])
            .arg(config)
            .env("NOTIFY_SOCKET", &self.path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        if let Some(limit) = watchdog {
            command.env("WATCHDOG_USEC", limit.as_micros().to_string());
        }
        command.spawn().expect("start mposd run")
    }

    /// The environment systemd gives a unit with `WatchdogSec=watchdog`, as `env` arguments.
    fn env_args(&self, watchdog: Duration) -> Vec<String> {
        vec![
            "env".into(),
            format!("NOTIFY_SOCKET={}", self.path.display()),
            format!("WATCHDOG_USEC={}", watchdog.as_micros()),
        ]
    }

    /// Reads messages until one satisfies `wanted`; returns every message read.
    pub(super) async fn until(&self, within: Duration, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 4096];
        let found = tokio::time::timeout(within, async {
            loop {
                let n = self.socket.recv(&mut buf).await.expect("notify socket");
                let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = wanted(&message);
                seen.push(message);
                if done {
                    return;
                }
            }
        })
        .await;
        assert!(found.is_ok(), "the awaited notification never came; got {seen:?}");
        seen
    }
}

#[tokio::test]
async fn tells_systemd_its_state_pings_the_watchdog_once_ready_and_says_when_it_stops() {
    let setup = Setup::new().await;
    let notify = NotifySocket::bind(setup.dir.path());
    let daemon = notify.spawn(&setup.config, Some(Duration::from_secs(2)));

    let starting = notify
        .until(Duration::from_secs(60), |m| m.contains("READY=1"))
        .await;
    assert!(
        starting.iter().any(|m| m.contains("STATUS=opening the store")),
        "{starting:?}"
    );
    let ready = starting.last().expect("READY");
    assert!(ready.contains("STATUS=serving 1 lane(s): till-1"), "{ready}");
    assert!(
        !starting.iter().any(|m| m.contains("WATCHDOG=1")),
        "the watchdog is only armed once start-up is complete: {starting:?}"
    );

    // Pinged at half of WatchdogSec= while the lane's engine answers.
    for _ in 0..3 {
        notify
            .until(Duration::from_secs(10), |m| m.contains("WATCHDOG=1"))
            .await;
    }

    sigterm(&daemon);
    notify
        .until(Duration::from_secs(20), |m| m.contains("STOPPING=1"))
        .await;
    stops_with_exit_0(daemon).await;
}

/// sled's write deadlock (its segment lock held by a writer that waits for an I/O thread that
/// waits for that lock) is held here for real: once a sale is accepted, sled's I/O threads are
/// stopped, so the sale's next write waits inside sled for one that never completes. The
/// watchdog pings stop, the status line and the log name the lane's journal, and killed and
/// restarted as systemd would, the daemon finishes the sale.
#[tokio::test]
async fn a_write_into_the_store_that_does_not_return_stops_the_watchdog_pings() {
    let setup = Setup::new().await;
    // Time enough to stop sled's I/O threads between the sale's acceptance and its reservation.
    setup.customers_accept(2000).await;
    let notify = NotifySocket::bind(setup.dir.path());
    let watchdog = Duration::from_secs(4);
    let env = notify.env_args(watchdog);
    let env: Vec<&str> = env.iter().map(String::as_str).collect();
    let (daemon, log) = setup.spawn_daemon(&env);
    notify
        .until(Duration::from_secs(60), |m| m.contains("READY=1"))
        .await;
    notify
        .until(Duration::from_secs(20), |m| m.contains("WATCHDOG=1"))
        .await;

    let sale = {
        let ecr_addr = setup.ecr_addr.clone();
        tokio::spawn(async move {
            Command::new(MPOSD)
                .args(["ecr", "--tcp", &ecr_addr, "--json", "--timeout", "60"])
                .args(["--id", "sale-1", "pay", "12.50", "--order", "R1-0001"])
                .kill_on_drop(true)
                .output()
                .await
        })
    };

    log.wait_for(Duration::from_secs(30), |l| l.contains("command accepted"))
        .await
        .unwrap_or_else(|| panic!("the sale was not accepted: {:?}", log.lines()));
    let frozen = SledIoStopped::start(daemon.id().expect("running"));

    // Within a ping interval (2 s here) of the write, the pings stop and the status names the
    // lane's journal; it is sent again at every interval, and no ping comes for longer than
    // WatchdogSec.
    let is_stuck = |m: &str| {
        m.contains("STATUS=serving 1 lane(s): till-1; store stuck: a ")
            && m.contains(" of lane till-1's journal has not returned for ")
    };
    let seen = notify.until(Duration::from_secs(60), is_stuck).await;
    let first = seconds_stuck(seen.last().expect("a status"));
    let later = notify
        .until(Duration::from_secs(30), |m| {
            is_stuck(m) && seconds_stuck(m) > first + watchdog.as_secs()
        })
        .await;
    assert!(
        !later.iter().any(|m| m.contains("WATCHDOG=1")),
        "pinged while a write was stuck: {later:?}"
    );
    assert!(
        !sale.is_finished(),
        "the cash register is still waiting for its answer"
    );
    let lines = log.lines();
    let alarms: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("ALARM: the store is stuck: "))
        .collect();
    assert_eq!(alarms.len(), 1, "logged once: {lines:?}");
    assert!(
        alarms[0].contains(" of lane till-1's journal has not returned for "),
        "{}",
        alarms[0]
    );

    // systemd kills the daemon and starts it again: the sale is resumed, and the cash
    // register sending it again gets its answer; it was paid once.
    let mut daemon = daemon;
    daemon.start_kill().expect("SIGKILL");
    drop(frozen);
    tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("killed")
        .expect("exit status");
    sale.abort();
    let daemon = setup.start_daemon().await;
    let (ok, messages) = setup
        .ecr(&["--id", "sale-1", "pay", "12.50", "--order", "R1-0001"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["status"], json!("Captured"), "{payments:?}");
    stops_with_exit_0(daemon).await;
}

/// The number of seconds in a `store stuck: ... has not returned for N s` status.
fn seconds_stuck(message: &str) -> u64 {
    let words = "has not returned for ";
    let after = &message[message.find(words).expect("a stuck status") + words.len()..];
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("seconds")
}

/// Keeps every I/O thread of sled in a running daemon stopped (ptrace), so that a write waiting
/// for them does not return: what sled's write deadlock does to them. Threads sled starts later
/// are stopped as they appear. Dropping this ends the tracing; a daemon killed meanwhile then
/// exits whole.
struct SledIoStopped {
    stop: mpsc::Sender<()>,
    tracer: Option<std::thread::JoinHandle<()>>,
}

impl SledIoStopped {
    /// Returns once the I/O threads running now are stopped.
    fn start(pid: u32) -> SledIoStopped {
        let (stop, stopped) = mpsc::channel();
        let (first, first_done) = mpsc::channel();
        // Every ptrace request must come from the thread that attached.
        let tracer = std::thread::spawn(move || {
            let mut held = BTreeSet::new();
            let _ = first.send(stop_new_sled_io_threads(pid, &mut held));
            while stopped.recv_timeout(Duration::from_millis(20)) == Err(mpsc::RecvTimeoutError::Timeout) {
                if let Err(error) = stop_new_sled_io_threads(pid, &mut held) {
                    eprintln!("{error}");
                }
            }
        });
        let count = first_done
            .recv()
            .expect("the tracer answers")
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(count > 0, "the daemon runs sled I/O threads");
        SledIoStopped {
            stop,
            tracer: Some(tracer),
        }
    }
}

impl Drop for SledIoStopped {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(tracer) = self.tracer.take() {
            let _ = tracer.join();
        }
    }
}

/// Stops the threads of `pid` named `sled-io-*` that are not in `held` yet; returns how many
/// are held.
fn stop_new_sled_io_threads(pid: u32, held: &mut BTreeSet<i32>) -> Result<usize, String> {
    use nix::sys::ptrace;
    use nix::sys::wait::{waitpid, WaitPidFlag};
    use nix::unistd::Pid;
    let tasks =
        std::fs::read_dir(format!("/proc/{pid}/task")).map_err(|e| format!("threads of {pid}: {e}"))?;
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse::<i32>().ok()) else {
            continue;
        };
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !name.starts_with("sled-io") || held.contains(&tid) {
            continue;
        }
        let thread = Pid::from_raw(tid);
        match ptrace::seize(thread, ptrace::Options::empty()) {
            Ok(()) => {}
            Err(nix::errno::Errno::ESRCH) => continue,
            Err(e) => return Err(format!("cannot trace sled's I/O thread {tid} (ptrace): {e}")),
        }
        ptrace::interrupt(thread).map_err(|e| format!("cannot stop thread {tid}: {e}"))?;
        waitpid(thread, Some(WaitPidFlag::__WALL)).map_err(|e| format!("thread {tid} did not stop: {e}"))?;
        held.insert(tid);
    }
    Ok(held.len())
}

#[tokio::test]
async fn a_boot_without_mobilepay_waits_for_it_under_systemd_and_becomes_ready_when_it_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let ecr_addr = format!("127.0.0.1:{}", free_port());
    let config = SimulatorLane {
        sim_url: &format!("http://127.0.0.1:{port}"),
        backend: SimBackend::PosV10 {
            merchant_pos_id: "till-1",
        },
        ecr: format!("tcp = {{ listen = \"{ecr_addr}\" }}"),
        png_display: None,
    }
    .write(dir.path())
    .expect("config");
    let notify = NotifySocket::bind(dir.path());
    let daemon = notify.spawn(&config, None);

    // Nothing listens on MobilePay's address yet: systemd is asked for more start-up time and
    // told why (once the first attempt has failed), instead of READY.
    let waiting = notify
        .until(Duration::from_secs(60), |m| {
            m.contains("STATUS=waiting for MobilePay to register till-1 (")
        })
        .await;
    let extension = waiting.last().expect("a message");
    assert!(
        extension.contains("EXTEND_TIMEOUT_USEC=30000000\n"),
        "{extension}"
    );
    assert!(extension.contains("cannot connect"), "{extension}");
    assert!(!waiting.iter().any(|m| m.contains("READY=1")), "{waiting:?}");

    // MobilePay comes back: the lane registers and the daemon reports READY.
    let sim = mposd::sim::start(mposd::sim::SimConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        ..Default::default()
    })
    .await
    .expect("simulator on the configured port");
    notify
        .until(Duration::from_secs(90), |m| m.contains("READY=1"))
        .await;
    let pos: serde_json::Value = reqwest::get(format!("{}/_sim/pointofsales", sim.base_url()))
        .await
        .expect("pos")
        .json()
        .await
        .expect("json");
    assert_eq!(pos["pointOfSales"].as_array().map(Vec::len), Some(1), "{pos}");
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_cash_register_port_in_use_is_named_in_the_status_and_served_once_it_is_free() {
    let setup = Setup::new().await;
    setup.customers_accept(100).await;
    // Another program holds the lane's cash-register port.
    let squatter = std::net::TcpListener::bind(&setup.ecr_addr).expect("occupy the port");
    let notify = NotifySocket::bind(setup.dir.path());
    let daemon = notify.spawn(&setup.config, None);

    // The engine serves, so systemd gets READY; the status keeps naming the broken line.
    let broken = format!("till-1: cash register link cannot start ({}: ", setup.ecr_addr);
    let mut seen = notify
        .until(Duration::from_secs(60), |m| m.contains(&broken))
        .await;
    let named = seen.last().expect("a status").clone();
    assert!(named.contains("); retrying"), "{named}");
    if !seen.iter().any(|m| m.contains("READY=1")) {
        seen = notify
            .until(Duration::from_secs(60), |m| m.contains("READY=1"))
            .await;
    }
    let ready = seen.iter().find(|m| m.contains("READY=1")).expect("READY");
    assert!(ready.contains("STATUS=serving 1 lane(s): till-1"), "{ready}");
    if !ready.contains(&broken) {
        // READY came before the first attempt to listen; the status named the line after it.
        assert!(named.contains("STATUS=serving 1 lane(s): till-1; "), "{named}");
    }

    // The port is freed: the line comes up, the status says so and a payment goes through it.
    drop(squatter);
    notify
        .until(Duration::from_secs(30), |m| {
            m.contains("STATUS=serving 1 lane(s): till-1") && !m.contains("cannot start")
        })
        .await;
    let (ok, messages) = setup
        .ecr(&["pay", "12.50", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        serde_json::json!("captured"),
        "{messages:?}"
    );
    stops_with_exit_0(daemon).await;
}

/// A changed setting (here the point of sale's name) cannot be applied while a reservation is
/// kept on the point of sale: the status line says what it waits for, and once the reservation
/// is captured the point of sale is re-created and served without a restart.
#[tokio::test]
async fn a_settings_change_waits_for_a_kept_reservation_then_is_applied_without_a_restart() {
    let setup = Setup::new().await;
    setup.customers_accept(100).await;
    let daemon = setup.start_daemon().await;
    let (ok, messages) = setup
        .ecr(&["--id", "sale-1", "pay", "10.00", "--order", "R-0001", "--reserve"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("reserved"),
        "{messages:?}"
    );
    let old = setup.live_pos("till-1").await;
    stops_with_exit_0(daemon).await;

    let text = std::fs::read_to_string(&setup.config).expect("config");
    assert!(text.contains("name = \"Kasse 1\""), "{text}");
    std::fs::write(
        &setup.config,
        text.replace("name = \"Kasse 1\"", "name = \"Kasse 1 (ny)\""),
    )
    .expect("config");
    let notify = NotifySocket::bind(setup.dir.path());
    let mut daemon = notify.spawn(&setup.config, None);
    let started = notify
        .until(Duration::from_secs(60), |m| m.contains("READY=1"))
        .await;
    let ready = started.last().expect("READY");
    assert!(
        ready.contains(
            "STATUS=serving 1 lane(s): till-1; till-1: point of sale settings changed; kept until 1 open payment ends"
        ),
        "{ready}"
    );
    assert_eq!(
        setup.live_pos("till-1").await,
        old,
        "kept while the reservation is open"
    );

    let (ok, messages) = setup.ecr(&["--id", "capture-1", "capture", "sale-1"]).await;
    assert!(ok, "{messages:?}");
    notify
        .until(Duration::from_secs(90), |m| {
            m.trim_end() == "STATUS=serving 1 lane(s): till-1"
        })
        .await;
    let new = setup.live_pos("till-1").await;
    assert_eq!(new["name"], json!("Kasse 1 (ny)"), "{new}");
    assert_ne!(new["posId"], old["posId"]);

    let (ok, messages) = setup
        .ecr(&["--id", "sale-2", "pay", "20.00", "--order", "R-0002"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let payments = setup.payments().await;
    let sale_2 = payments
        .iter()
        .find(|p| p["orderId"] == "R-0002")
        .expect("sale-2");
    assert_eq!(sale_2["posId"], new["posId"]);
    let sale_1 = payments
        .iter()
        .find(|p| p["orderId"] == "R-0001")
        .expect("sale-1");
    assert_eq!(sale_1["status"], json!("Captured"));
    assert!(daemon.try_wait().expect("wait").is_none(), "mposd kept running");
    stops_with_exit_0(daemon).await;
}
