//! The cash-register line of a lane as the configuration file describes it, and starting it.
//!
//! ```toml
//! serial = { device = "/dev/ttyUSB0", baud = 115200 }   # or: tcp = { listen = "127.0.0.1:7410" }
//! ack_timeout_ms = 1000
//! max_retransmissions = 3
//! ```
//!
//! Exactly one transport per lane: a lane has one cash register, and one protocol session.

use super::lane::{LaneConfig, LineReport};
use super::link::LinkConfig;
use super::serial::{serve_serial_with, SerialSettings, REOPEN_BACKOFF};
use super::session::{ConsentView, SessionConfig};
use super::tcp::{serve_tcp, DEFAULT_LISTEN};
use crate::backoff::Backoff;
use crate::engine::EngineHandle;
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A lane's cash-register line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcrSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<SerialSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpSettings>,
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
    #[serde(default = "default_max_retransmissions")]
    pub max_retransmissions: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpSettings {
    /// Loopback by default: opening the port to the network is a deliberate choice.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
}

fn default_ack_timeout_ms() -> u64 {
    1000
}

fn default_max_retransmissions() -> u32 {
    3
}

fn default_listen() -> SocketAddr {
    // A constant that parses.
    DEFAULT_LISTEN
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 7410)))
}

impl EcrSettings {
    /// Checks the settings; the message says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.serial, &self.tcp) {
            (Some(serial), None) => serial.validate()?,
            (None, Some(_)) => {}
            (Some(_), Some(_)) => {
                return Err("give the cash register either a serial line or tcp, not both".into())
            }
            (None, None) => {
                return Err("the cash register needs a serial line (serial = { device = ... }) or tcp (tcp = { listen = ... })".into())
            }
        }
        if !(50..=60_000).contains(&self.ack_timeout_ms) {
            return Err(format!(
                "ack_timeout_ms {} is outside 50..=60000",
                self.ack_timeout_ms
            ));
        }
        if self.max_retransmissions > 20 {
            return Err(format!(
                "max_retransmissions {} is above 20",
                self.max_retransmissions
            ));
        }
        Ok(())
    }

    pub fn lane_config(&self, currency: Currency) -> LaneConfig {
        LaneConfig {
            link: LinkConfig {
                ack_timeout: Duration::from_millis(self.ack_timeout_ms),
                max_retransmissions: self.max_retransmissions,
                ..LinkConfig::default()
            },
            session: SessionConfig {
                currency,
                ..SessionConfig::default()
            },
        }
    }
}

/// Serves the lane's cash register until `shutdown` is cancelled. Fails only on invalid
/// settings. A TCP address that cannot be bound (another program holds the port) and a serial
/// device that is missing are retried with growing pauses, and reported to `report`, because
/// both are usually fixed on the spot (the other program stopped, the adapter plugged in) and
/// a restart of the daemon would not help.
pub async fn serve_lane(
    settings: EcrSettings,
    engine: EngineHandle,
    currency: Currency,
    consents: ConsentView,
    shutdown: CancellationToken,
    report: LineReport,
) -> anyhow::Result<()> {
    settings.validate().map_err(anyhow::Error::msg)?;
    let mut config = settings.lane_config(currency);
    config.session.consents = consents;
    match (settings.serial, settings.tcp) {
        (Some(serial), _) => {
            serve_serial_with(serial, engine, config, shutdown, REOPEN_BACKOFF, &report).await
        }
        (None, Some(tcp)) => {
            if let Some(listener) = bind_until_done(tcp.listen, &shutdown, &report).await {
                serve_tcp(listener, engine, config, shutdown).await
            }
        }
        (None, None) => {}
    }
    Ok(())
}

/// Binds `listen`, retrying until it works; `None` if `shutdown` came first.
async fn bind_until_done(
    listen: SocketAddr,
    shutdown: &CancellationToken,
    report: &LineReport,
) -> Option<tokio::net::TcpListener> {
    let mut pauses = Backoff::new(Duration::from_millis(200), Duration::from_secs(5)).pauses();
    let mut failed = false;
    loop {
        match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => {
                report(None);
                tracing::info!(%listen, "listening for the cash register");
                return Some(listener);
            }
            Err(err) => {
                if !failed {
                    tracing::error!(%listen, "cannot listen for the cash register ({err}); retrying");
                    failed = true;
                }
                report(Some(format!("{listen}: {err}")));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(pauses.next_pause()) => {}
            () = shutdown.cancelled() => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_serial_line_with_defaults() {
        let settings: EcrSettings = toml::from_str("serial = { device = \"/dev/ttyUSB0\" }").unwrap();
        assert_eq!(settings.serial, Some(SerialSettings::new("/dev/ttyUSB0")));
        assert_eq!((settings.ack_timeout_ms, settings.max_retransmissions), (1000, 3));
        assert_eq!(settings.validate(), Ok(()));
        let serial = settings.serial.unwrap();
        assert_eq!((serial.baud, serial.stop_bits), (115_200, 1));
    }

    #[test]
    fn tcp_listens_on_loopback_unless_told_otherwise() {
        let settings: EcrSettings = toml::from_str("tcp = {}").unwrap();
        let listen = settings.tcp.unwrap().listen;
        assert!(listen.ip().is_loopback());
        assert_eq!(listen.port(), 7410);
    }

    #[test]
    fn refuses_unclear_settings() {
        let both: EcrSettings = toml::from_str("tcp = {}\nserial = { device = \"/dev/ttyS0\" }").unwrap();
        assert!(both.validate().unwrap_err().contains("not both"));
        let neither: EcrSettings = toml::from_str("").unwrap();
        assert!(neither.validate().is_err());
        let slow: EcrSettings = toml::from_str("serial = { device = \"/dev/ttyS0\", baud = 50 }").unwrap();
        assert!(slow.validate().unwrap_err().contains("baud"));
        assert!(toml::from_str::<EcrSettings>("serial = { device = \"x\", speed = 9600 }").is_err());
        assert!(toml::from_str::<EcrSettings>("tcp = {}\nack_timeout_ms = 5")
            .unwrap()
            .validate()
            .is_err());
    }
}
