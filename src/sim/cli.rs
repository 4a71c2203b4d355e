//! `mposd sim`: command-line front of the simulator.

use super::{fixtures::Fixtures, settings::Settings, SimConfig};
use anyhow::Context;
use clap::Args;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// Serve a MobilePay PoS V10 backend simulator on loopback.
///
/// The simulator implements integrator authentication, the whole PoS V10 API, the sandbox user
/// simulation and a control API under /_sim/ (virtual clock, fault injection, automatic
/// customers, ground truth). See docs/simulator.md.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Address to listen on (port 0 picks a free port; the address is printed at start).
    #[arg(long, default_value = "127.0.0.1:18080")]
    pub listen: SocketAddr,
    /// Serve HTTPS with a self-signed certificate generated at start.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: another host name or IP address the certificate is valid for (repeatable),
    /// e.g. the address under which a virtual machine reaches this host.
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
    pub tls_names: Vec<String>,
    /// With --tls: write the certificate (PEM) that clients must trust to this file.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub ca_out: Option<PathBuf>,
    /// Replace the built-in integrators, merchants, stores and users (JSON, same shape as
    /// GET /_sim/fixtures).
    #[arg(long, value_name = "FILE")]
    pub fixtures: Option<PathBuf>,
    /// Lifetime of access tokens in seconds (`expires_in`).
    #[arg(long, default_value_t = 3700, value_name = "SECONDS")]
    pub token_lifetime: u64,
    /// `pollDelayInMs` on payment and check-in polling.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub poll_delay_ms: u32,
    /// `pollDelayInMs` on refund polling.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub refund_poll_delay_ms: u32,
    /// An active payment with no progress for this long is cancelled by MobilePay.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub inactivity_timeout: u64,
    /// A refund goes from Initiated to Reserved after this long.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub refund_reserve_delay_ms: u64,
    /// Sliding lifetime of OIDC refresh tokens (Invoice and Subscriptions consent) in days;
    /// each refresh restarts it.
    #[arg(long, default_value_t = 395, value_name = "DAYS")]
    pub oidc_refresh_lifetime_days: u64,
}

impl SimArgs {
    pub fn config(&self) -> anyhow::Result<SimConfig> {
        let fixtures = match &self.fixtures {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read fixtures file {}", path.display()))?;
                let fixtures: Fixtures = serde_json::from_str(&text)
                    .with_context(|| format!("fixtures file {} is not valid", path.display()))?;
                fixtures
                    .validate()
                    .map_err(|e| anyhow::anyhow!("fixtures file {}: {e}", path.display()))?;
                fixtures
            }
            None => Fixtures::default(),
        };
        let settings = Settings {
            token_lifetime: Duration::from_secs(self.token_lifetime),
            payment_poll_delay_ms: self.poll_delay_ms,
            checkin_poll_delay_ms: self.poll_delay_ms,
            refund_poll_delay_ms: self.refund_poll_delay_ms,
            inactivity_timeout: Duration::from_secs(self.inactivity_timeout),
            refund_reserve_delay: Duration::from_millis(self.refund_reserve_delay_ms),
            oidc_refresh_lifetime: Duration::from_secs(
                self.oidc_refresh_lifetime_days.saturating_mul(24 * 3600),
            ),
            ..Settings::default()
        };
        Ok(SimConfig {
            listen: self.listen,
            tls: self.tls,
            tls_names: self.tls_names.clone(),
            fixtures,
            settings,
        })
    }
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let sim = super::start(config).await?;
        if let (Some(path), Some(pem)) = (&args.ca_out, sim.ca_pem()) {
            std::fs::write(path, pem)
                .with_context(|| format!("cannot write the CA file {}", path.display()))?;
        }
        println!("mposd sim listening on {}", sim.base_url());
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
        sim.shutdown().await;
        Ok(())
    })
}
