//! `mposd demo`: a narrated day at a checkout, run with the real parts.
//!
//! It starts the simulator and the daemon as child processes with a fresh state directory,
//! connects a virtual cash register over a pseudo-terminal (the daemon opens it like a serial
//! port), lets simulated customers act by themselves, and shows the customer display in the
//! terminal while saving every screen as a PNG. Everything it starts is stopped before it
//! exits, also on Ctrl-C.

mod days;

use crate::daemon::sim_config::{add_merchant_products, spawn_simulator, SimBackend, SimulatorLane};
use crate::display::output::terminal::TerminalSink;
use crate::display::picture::Picture;
use crate::ecr::link::LinkConfig;
use crate::ecr::message::{DaemonMessage, EcrMessage, Event, Flow, WireOutcome};
use crate::ecr::register::{Heard, Register};
use anyhow::{bail, Context};
use clap::Args;
use embedded_graphics::prelude::Size;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Run a narrated demo day: simulator, daemon, virtual cash register and customer display.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where logs and display PNGs go (default: a new folder under the system's temp dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Keep the simulator and daemon running for `mposd ecr --tcp 127.0.0.1:7410 ...` by hand
    /// (customers accept automatically); stop with Ctrl-C.
    #[arg(long)]
    pub interactive: bool,
    /// Do not draw the display in the terminal (the PNGs are still written).
    #[arg(long)]
    pub no_screens: bool,
    /// Which MobilePay API the checkout uses: `pos-v10` (the original PoS API) or `epayment`
    /// (Vipps MobilePay ePayment, the live one).
    #[arg(long, value_enum, default_value_t = DemoBackend::PosV10)]
    pub backend: DemoBackend,
}

/// The simulator's API a demo day runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoBackend {
    PosV10,
    Epayment,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = demo(&args) => result,
            _ = tokio::signal::ctrl_c() => {
                println!("\nInterrupted; everything the demo started is stopped.");
                Ok(())
            }
        }
    })
}

/// How long a customer takes in the demo (real time).
const CUSTOMER_MS: u64 = 1500;
const ECR_TCP: &str = "127.0.0.1:7410";
const PANEL: u32 = 240;

struct Stage {
    out: PathBuf,
    sim_url: String,
    backend: DemoBackend,
    /// Whether the payment being made shows a QR code (pushed ones do not).
    shows_code: bool,
    screens: usize,
    draw: bool,
    http: reqwest::Client,
    /// The display's picture when it was last saved, so each saved screen is a new one.
    last_png: Option<Vec<u8>>,
}

async fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find the mposd executable")?;
    let out = match &args.out {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("mposd-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(out.join("screens"))
        .with_context(|| format!("cannot create {}", out.display()))?;
    println!(
        "mposd demo: a day at the bakery's checkout. Logs and screens go to {}",
        out.display()
    );

    let (mut sim, sim_url) = start_simulator(&exe, &out).await?;
    println!("  MobilePay simulator: {sim_url}");
    let (master, slave) = tokio_serial::SerialStream::pair().context("cannot create a pseudo-terminal")?;
    let tty = tokio_serial::SerialPort::name(&slave).context("the pseudo-terminal has no path")?;
    let config = write_config(
        &out,
        &sim_url,
        args.backend,
        if args.interactive { None } else { Some(&tty) },
    )?;
    add_merchant_products(&config, &out, &sim_url)?;
    merchant_consent(&exe, &config, &sim_url).await?;
    println!("  the bakery's consent for MobilePay Invoice and Subscriptions: on the box");
    let mut daemon = start_daemon(&exe, &config, &out).await?;
    println!(
        "  mposd daemon: ready (cash register line {})",
        if args.interactive { ECR_TCP } else { &tty }
    );

    let mut stage = Stage {
        out: out.clone(),
        sim_url,
        backend: args.backend,
        shows_code: true,
        screens: 0,
        draw: !args.no_screens,
        http: reqwest::Client::new(),
        last_png: None,
    };
    stage.idle_screen().await;
    let result = if args.interactive {
        interactive(&mut stage).await
    } else {
        let mut register = Register::over(master, LinkConfig::default());
        let day = match args.backend {
            DemoBackend::PosV10 => days::pos_v10_day(&mut stage, &mut register).await,
            DemoBackend::Epayment => days::epayment_day(&mut stage, &mut register).await,
        };
        drop(slave);
        day
    };
    stop(&mut daemon, "daemon").await;
    stop(&mut sim, "simulator").await;
    result?;
    println!();
    println!("Done. Everything the demo started has stopped.");
    println!("  display screens: {}", out.join("screens").display());
    println!(
        "  logs:            {} and {}",
        out.join("mposd.log").display(),
        out.join("sim.log").display()
    );
    Ok(())
}

async fn start_simulator(exe: &Path, out: &Path) -> anyhow::Result<(Child, String)> {
    let log = std::fs::File::create(out.join("sim.log"))?;
    let args = ["--poll-delay-ms", "300", "--refund-reserve-delay-ms", "300"];
    spawn_simulator(exe, &args, log.into())
        .await
        .map_err(|err| anyhow::anyhow!("{err:#} (see sim.log)"))
}

fn write_config(
    out: &Path,
    sim_url: &str,
    backend: DemoBackend,
    tty: Option<&str>,
) -> anyhow::Result<PathBuf> {
    let ecr = match tty {
        Some(path) => format!("serial = {{ device = \"{path}\" }}"),
        None => format!("tcp = {{ listen = \"{ECR_TCP}\" }}"),
    };
    SimulatorLane {
        sim_url,
        backend: match backend {
            DemoBackend::PosV10 => SimBackend::PosV10 {
                merchant_pos_id: "demo-till-1",
            },
            DemoBackend::Epayment => SimBackend::Epayment,
        },
        ecr,
        png_display: Some((
            PANEL,
            PANEL,
            "language = \"da\"\nheader = \"Bageriet - Kasse 1\"\nresult_hold_ms = 60000\n",
        )),
    }
    .write(out)
}

/// What the integrator's web service does once for a merchant (docs/consent.md): the bakery's
/// owner logs in to the simulated MobilePay portal and consents, the web service exchanges the
/// code for a refresh token over its own redirect address, and hands the token to the box with
/// `mposd consent import`.
async fn merchant_consent(exe: &Path, config: &Path, sim_url: &str) -> anyhow::Result<()> {
    use crate::sim::fixtures;
    let refresh_token = crate::sim::WebServiceConsent {
        client_id: fixtures::OIDC_REUSE_CLIENT_ID,
        client_secret: fixtures::OIDC_REUSE_CLIENT_SECRET,
        vat: fixtures::DK_VAT,
        user: fixtures::PORTAL_OWNER,
        scopes: &["invoice", "subscriptions"],
    }
    .obtain(sim_url)
    .await?;
    let mut import = Command::new(exe)
        .args(["consent", "import", "--vat", fixtures::DK_VAT, "--config"])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot run mposd consent import")?;
    let mut stdin = import.stdin.take().context("stdin")?;
    stdin.write_all(refresh_token.as_bytes()).await?;
    drop(stdin);
    if !import.wait().await?.success() {
        bail!("mposd consent import refused the bakery's consent");
    }
    Ok(())
}

async fn start_daemon(exe: &Path, config: &Path, out: &Path) -> anyhow::Result<Child> {
    let mut log = tokio::fs::File::create(out.join("mposd.log")).await?;
    let mut child = Command::new(exe)
        .args(["run", "--log-format", "human", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the daemon")?;
    let stderr = child.stderr.take().context("daemon output")?;
    let mut lines = BufReader::new(stderr).lines();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log.write_all(format!("{line}\n").as_bytes()).await;
            if line.contains("mposd is ready") {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(());
                }
            }
        }
    });
    match tokio::time::timeout(Duration::from_secs(60), ready_rx).await {
        Ok(Ok(())) => Ok(child),
        _ => bail!(
            "the daemon did not become ready (see {})",
            out.join("mposd.log").display()
        ),
    }
}

/// SIGTERM, then SIGKILL if it does not stop in time.
async fn stop(child: &mut Child, what: &str) {
    if let Some(pid) = child.id() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        tracing::warn!(what, "did not stop on SIGTERM; killing it");
        let _ = child.kill().await;
    }
}

impl Stage {
    /// Tells the simulator how the next customer behaves (`accept` or `cancel`).
    async fn customer(&self, phone: &str, action: &str) -> anyhow::Result<()> {
        let (path, body) = match self.backend {
            DemoBackend::PosV10 => (
                "/_sim/behaviour",
                json!({"beaconId": "*", "phoneNumber": phone, "action": action, "delayMs": CUSTOMER_MS}),
            ),
            DemoBackend::Epayment => (
                "/_sim/epayment/behaviour",
                json!({
                    "phoneNumber": phone.trim_start_matches('+'),
                    "action": if action == "accept" { "approve" } else { "abort" },
                    "delayMs": CUSTOMER_MS,
                    "scansQr": true,
                }),
            ),
        };
        self.http.delete(format!("{}{path}", self.sim_url)).send().await?;
        let r = self
            .http
            .post(format!("{}{path}", self.sim_url))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("the simulator refused the customer: {}", r.status());
        }
        Ok(())
    }

    /// Remembers the display's first (idle) picture, so that the first saved screen is the
    /// first one a payment brings.
    async fn idle_screen(&mut self) {
        let png = self.out.join("display.png");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            if let Ok(bytes) = std::fs::read(&png) {
                if Picture::read_png(&bytes[..]).is_ok() {
                    self.last_png = Some(bytes);
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the display shows a screen other than the one saved last, saves it and
    /// shows it. The display renders beside the engine, so its picture follows the events a
    /// moment later.
    async fn screen(&mut self, name: &str) -> anyhow::Result<()> {
        let png = self.out.join("display.png");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let picture = loop {
            if let Ok(bytes) = std::fs::read(&png) {
                if self.last_png.as_ref() != Some(&bytes) && Picture::read_png(&bytes[..]).is_ok() {
                    break bytes;
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.keep(name, picture)
    }

    /// Saves `picture`, the display's current screen, as the next screen `name`, and shows it.
    fn keep(&mut self, name: &str, picture: Vec<u8>) -> anyhow::Result<()> {
        self.last_png = Some(picture.clone());
        self.screens += 1;
        let target = self
            .out
            .join("screens")
            .join(format!("{:02}-{name}.png", self.screens));
        std::fs::write(&target, &picture)?;
        if self.draw {
            let picture = Picture::read_png(std::fs::File::open(&target)?)?;
            let sink = TerminalSink::new(Vec::new(), Size::new(PANEL, PANEL), 3);
            let text = sink.encode(&picture);
            println!("{}\x1b[0m", text.trim_start_matches("\x1b[H"));
        }
        println!("      (screen saved as {})", target.display());
        Ok(())
    }
}

impl Stage {
    /// Waits until the display shows a QR code and returns what it decodes to: what the
    /// customer's phone reads from the screen.
    async fn code_on_screen(&self) -> anyhow::Result<String> {
        let png = self.out.join("display.png");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(bytes) = std::fs::read(&png) {
                if let Ok(picture) = Picture::read_png(&bytes[..]) {
                    if let Some(code) = picture.decode_qr_codes().into_iter().next() {
                        return Ok(code);
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the display showed no readable QR code within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves the display's next screen (as [`Stage::screen`]) and returns the QR code on it:
    /// what the customer's phone reads from the display.
    async fn scan(&mut self, name: &str) -> anyhow::Result<String> {
        let png = self.out.join("display.png");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(bytes) = std::fs::read(&png) {
                let new = self.last_png.as_ref() != Some(&bytes);
                let code = Picture::read_png(&bytes[..])
                    .ok()
                    .and_then(|picture| picture.decode_qr_codes().into_iter().next());
                if let (true, Some(code)) = (new, code) {
                    self.keep(name, bytes)?;
                    return Ok(code);
                }
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the display showed no new QR code for the {name} screen within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The customer's phone opens what it scanned: MobilePay's landing page of an invoice or
    /// agreement, where the simulated customer takes over.
    async fn open_scanned(&self, link: &str) -> anyhow::Result<()> {
        self.http.get(link).send().await?.error_for_status()?;
        Ok(())
    }

    /// Tells the simulator what the next MobilePay Invoice and Subscriptions customers do
    /// once they open the link they scanned.
    async fn product_customers(&self) -> anyhow::Result<()> {
        let invoice = json!({
            "phone": crate::sim::fixtures::INVOICE_USER_PHONE,
            "action": "payNow",
            "delayMs": CUSTOMER_MS,
            "opensLinks": true,
        });
        let agreement = json!({"action": "accept", "delayMs": CUSTOMER_MS});
        for (path, body) in [
            ("/_sim/invoice/customers", invoice),
            ("/_sim/subscriptions/customers", agreement),
        ] {
            self.http
                .post(format!("{}{path}", self.sim_url))
                .json(&body)
                .send()
                .await?
                .error_for_status()?;
        }
        Ok(())
    }

    /// What the simulator's ePayment payments of `reference` hold as the QR content a phone
    /// must read.
    async fn payment_url(&self, reference: &str) -> anyhow::Result<String> {
        let all: serde_json::Value = self
            .http
            .get(format!("{}/_sim/epayment/payments", self.sim_url))
            .send()
            .await?
            .json()
            .await?;
        all["payments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["reference"] == reference)
            .and_then(|p| p["qrContent"].as_str())
            .map(str::to_string)
            .context("the simulator has no QR content for the payment")
    }
}

/// Sends one command and narrates its events until its outcome; returns the outcome.
async fn command(
    stage: &mut Stage,
    register: &mut Register,
    message: EcrMessage,
) -> anyhow::Result<WireOutcome> {
    let text = serde_json::to_string(&message)?;
    println!("  cash register → {text}");
    stage.shows_code = !matches!(&message, EcrMessage::Pay { options, .. } if options.flow != Flow::Qr);
    register.send(&message);
    command_answer(stage, register).await
}

/// Narrates the events of the command just sent until its outcome; returns the outcome.
async fn command_answer(stage: &mut Stage, register: &mut Register) -> anyhow::Result<WireOutcome> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let heard = tokio::time::timeout_at(deadline, register.next())
            .await
            .context("no answer from the terminal within 60 s")?;
        match heard {
            Some(Heard::Message(message)) => {
                println!("  terminal: {}", crate::ecr::cli::describe(&message));
                match message {
                    DaemonMessage::Event {
                        event: Event::WaitingForCustomer { .. },
                        ..
                    } => {
                        // The backend's own code is fetched by the display: save the screen
                        // once it shows it.
                        if stage.backend == DemoBackend::Epayment && stage.shows_code {
                            stage.code_on_screen().await?;
                        }
                        let name = if stage.shows_code {
                            "scan-to-pay"
                        } else {
                            "approve-in-app"
                        };
                        stage.screen(name).await?
                    }
                    DaemonMessage::Event {
                        event: Event::CustomerCheckedIn { .. },
                        ..
                    } => stage.screen("checked-in").await?,
                    DaemonMessage::Outcome { outcome, .. } => return Ok(outcome),
                    _ => {}
                }
            }
            Some(Heard::Unreadable(text)) => println!("  terminal sent something unreadable: {text}"),
            Some(Heard::GaveUp(text)) => bail!("the terminal did not acknowledge {text}"),
            Some(Heard::Closed) | None => bail!("the line to the terminal closed"),
        }
    }
}

fn expect(ok: bool, what: &str) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        bail!("the demo expected that {what}, but it did not happen")
    }
}

async fn interactive(stage: &mut Stage) -> anyhow::Result<()> {
    stage.customer("+4520031801", "accept").await?;
    println!();
    println!("The terminal is running. In another terminal, try:");
    println!("  mposd ecr --tcp {ECR_TCP} pay 49.95 --order R1-0001");
    println!("  mposd ecr --tcp {ECR_TCP} status");
    println!(
        "Customers accept automatically after {:.1} s. The display is {}.",
        CUSTOMER_MS as f64 / 1000.0,
        stage.out.join("display.png").display()
    );
    println!("Stop with Ctrl-C.");
    std::future::pending::<()>().await;
    Ok(())
}
