//! A simulator, a state directory and a configuration file for one daemon under test.

use super::sim_pos;
use mposd::daemon::sim_config::{lane_name, write_lanes, SimBackend, SimulatorLane};
use mposd::sim::Simulator;
use serde_json::Value;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

pub const MPOSD: &str = env!("CARGO_BIN_EXE_mposd");

pub struct Setup {
    pub sim: Simulator,
    pub dir: tempfile::TempDir,
    /// The first lane's cash-register address.
    pub ecr_addr: String,
    /// Every lane's cash-register address, in lane order.
    pub ecr_addrs: Vec<String>,
    pub config: PathBuf,
}

/// A free loopback port (the listener is closed again; fine for a test that binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

impl Setup {
    pub async fn new() -> Setup {
        Setup::with_lanes(1).await
    }

    /// A daemon configuration with `lanes` checkout lanes, each with its own point of sale, a
    /// cash register on TCP and a PNG display.
    pub async fn with_lanes(lanes: usize) -> Setup {
        Setup::reaching_the_simulator(lanes, |sim| sim.base_url()).await
    }

    /// One lane that takes payments through the simulator's ePayment API (its fixture sales
    /// unit), with a cash register on TCP and a PNG display.
    pub async fn epayment() -> Setup {
        Setup::epayment_on(sim_pos::polling_every(100)).await
    }

    /// [`Setup::epayment`] against a simulator started with `config`.
    pub async fn epayment_on(config: mposd::sim::SimConfig) -> Setup {
        let sim = mposd::sim::start(config).await.expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let sim_url = sim.base_url();
        let ecr_addr = format!("127.0.0.1:{}", free_port());
        let lane = SimulatorLane {
            sim_url: &sim_url,
            backend: SimBackend::Epayment,
            ecr: format!("tcp = {{ listen = \"{ecr_addr}\" }}"),
            png_display: Some((320, 240, "header = \"Bageriet - Kasse 1\"\n")),
        };
        let config = lane.write(dir.path()).expect("config");
        Setup {
            sim,
            dir,
            ecr_addr: ecr_addr.clone(),
            ecr_addrs: vec![ecr_addr],
            config,
        }
    }

    /// [`Setup::epayment`], with the sales unit's webhooks on a free loopback port; returns
    /// the URL they are registered with (the listener's own address: no relay between).
    pub async fn epayment_with_webhooks() -> (Setup, String) {
        let setup = Setup::epayment().await;
        let listen = format!("127.0.0.1:{}", free_port());
        let url = format!("http://{listen}/hooks/bageriet");
        let mut config = std::fs::read_to_string(&setup.config).expect("config");
        // Appended after the lanes, the table still belongs to the last [[epayment]].
        config.push_str(&format!(
            "\n[epayment.webhooks]\nlisten = \"{listen}\"\nurl = \"{url}\"\n"
        ));
        std::fs::write(&setup.config, config).expect("config");
        (setup, url)
    }

    /// A one-lane configuration that reaches the simulator only through a [`Relay`], which
    /// starts switched off: MobilePay is unreachable until [`Relay::on`].
    pub async fn behind_relay() -> (Setup, Relay) {
        let mut relay = None;
        let setup = Setup::reaching_the_simulator(1, |sim| {
            let r = Relay::new(sim.addr());
            let url = r.url();
            relay = Some(r);
            url
        })
        .await;
        (setup, relay.expect("a relay"))
    }

    async fn reaching_the_simulator(lanes: usize, url: impl FnOnce(&Simulator) -> String) -> Setup {
        let sim = mposd::sim::start(sim_pos::polling_every(100))
            .await
            .expect("simulator");
        let dir = tempfile::tempdir().expect("temp dir");
        let sim_url = url(&sim);
        let ecr_addrs: Vec<String> = (0..lanes).map(|_| format!("127.0.0.1:{}", free_port())).collect();
        let pos_ids: Vec<String> = (0..lanes).map(lane_name).collect();
        let specs: Vec<SimulatorLane> = ecr_addrs
            .iter()
            .zip(&pos_ids)
            .map(|(addr, pos)| SimulatorLane {
                sim_url: &sim_url,
                backend: SimBackend::PosV10 { merchant_pos_id: pos },
                ecr: format!("tcp = {{ listen = \"{addr}\" }}"),
                png_display: Some((320, 240, "header = \"Bageriet - Kasse 1\"\n")),
            })
            .collect();
        let config = write_lanes(dir.path(), &specs).expect("config");
        Setup {
            sim,
            dir,
            ecr_addr: ecr_addrs[0].clone(),
            ecr_addrs,
            config,
        }
    }

    /// Starts `mposd run` and waits for its "ready" log line.
    pub async fn start_daemon(&self) -> Child {
        self.start_daemon_logged().await.0
    }

    /// [`Setup::start_daemon`], keeping the daemon's JSON log lines.
    pub async fn start_daemon_logged(&self) -> (Child, DaemonLog) {
        let (child, log) = self.spawn_daemon(&[]);
        log.wait_for(Duration::from_secs(60), |l| l.contains("mposd is ready"))
            .await
            .unwrap_or_else(|| panic!("mposd run did not become ready: {:?}", log.lines()));
        (child, log)
    }

    /// Starts `mposd run` on this setup's configuration without waiting for it to become
    /// ready, through `wrapper` (a program and its arguments that end by running the daemon's
    /// command line given after them) unless it is empty; collects its JSON log lines.
    pub fn spawn_daemon(&self, wrapper: &[&str]) -> (Child, DaemonLog) {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(MPOSD);
                command
            }
            None => Command::new(MPOSD),
        };
        let mut child = command
            .args(["run", "--log-format", "json", "--config"])
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start mposd run");
        let stderr = child.stderr.take().expect("stderr");
        let log = DaemonLog::default();
        let collected = log.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                collected.push(line);
            }
        });
        (child, log)
    }

    /// Runs `mposd ecr --json ...` against the daemon's first lane; returns its exit success
    /// and the JSON messages it printed.
    pub async fn ecr(&self, args: &[&str]) -> (bool, Vec<Value>) {
        self.ecr_on(0, args).await
    }

    /// Runs `mposd ecr --json ...` against the lane with index `lane`.
    pub async fn ecr_on(&self, lane: usize, args: &[&str]) -> (bool, Vec<Value>) {
        let out = Command::new(MPOSD)
            .args(["ecr", "--tcp", &self.ecr_addrs[lane], "--json", "--timeout", "60"])
            .args(args)
            .output()
            .await
            .expect("run mposd ecr");
        let messages = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (out.status.success(), messages)
    }

    /// An automatic customer on every point of sale who approves each payment after `delay_ms`.
    pub async fn customers_accept(&self, delay_ms: u64) {
        sim_pos::customers_everywhere(&self.sim.base_url(), "+4520031801", "accept", delay_ms).await;
    }

    pub async fn payments(&self) -> Vec<Value> {
        let v = sim_pos::ground_truth(&self.sim.base_url(), "/_sim/payments").await;
        v["payments"].as_array().cloned().unwrap_or_default()
    }

    /// The simulator's points of sale (deleted ones too, while they hold payments).
    pub async fn points_of_sale(&self) -> Vec<Value> {
        let v = sim_pos::ground_truth(&self.sim.base_url(), "/_sim/pointofsales").await;
        v["pointOfSales"].as_array().cloned().unwrap_or_default()
    }

    /// The live (not deleted) point of sale with this `merchantPosId`.
    pub async fn live_pos(&self, merchant_pos_id: &str) -> Value {
        let live: Vec<Value> = self
            .points_of_sale()
            .await
            .into_iter()
            .filter(|p| p["merchantPosId"] == merchant_pos_id && p["deleted"] == false)
            .collect();
        assert_eq!(
            live.len(),
            1,
            "one live point of sale {merchant_pos_id}: {live:?}"
        );
        live[0].clone()
    }
}

/// A loopback TCP relay to the simulator that can be switched off and on, cutting MobilePay
/// off from the daemon as a shop's internet outage would: while it is off nothing listens on
/// its port, so every connection is refused.
pub struct Relay {
    port: u16,
    target: SocketAddr,
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    /// A relay to `target`, switched off.
    pub fn new(target: SocketAddr) -> Relay {
        Relay {
            port: free_port(),
            target,
            running: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub async fn on(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("the relay's port");
        let target = self.target;
        self.running = Some(tokio::spawn(async move {
            // Dropped with the task when the relay is switched off: every connection ends too.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        }));
    }

    pub async fn off(&mut self) {
        if let Some(running) = self.running.take() {
            running.abort();
            let _ = running.await;
        }
    }
}

pub fn sigterm(child: &Child) {
    let pid = child.id().expect("running") as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM)
        .expect("signal");
}

/// Sends SIGTERM and asserts the daemon exits 0 within systemd's stop timeout.
pub async fn stops_with_exit_0(mut daemon: Child) {
    sigterm(&daemon);
    let status = tokio::time::timeout(Duration::from_secs(20), daemon.wait())
        .await
        .expect("stops in time");
    let status = status.expect("exit status");
    assert!(status.success(), "exit 0 after SIGTERM, not {status}");
}

/// The log lines a daemon under test has written so far.
#[derive(Clone, Default)]
pub struct DaemonLog {
    lines: Arc<Mutex<Vec<String>>>,
    grew: Arc<Notify>,
}

impl DaemonLog {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.grew.notify_waiters();
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line satisfies `wanted`; `None` if none did `within`.
    pub async fn wait_for(&self, within: Duration, wanted: impl Fn(&str) -> bool) -> Option<String> {
        tokio::time::timeout(within, async {
            loop {
                let grew = self.grew.notified();
                if let Some(line) = self.lines().into_iter().find(|l| wanted(l)) {
                    return line;
                }
                grew.await;
            }
        })
        .await
        .ok()
    }
}

/// The final answer among the messages `mposd ecr --json` printed: the `outcome` message of
/// a command, or the stored outcome in a `query_result`.
pub fn final_outcome(messages: &[Value]) -> Value {
    messages
        .iter()
        .rev()
        .find_map(|m| match m["type"].as_str() {
            Some("outcome") => Some(m.clone()),
            Some("query_result") => m.get("outcome").cloned(),
            _ => None,
        })
        .unwrap_or(Value::Null)
}
