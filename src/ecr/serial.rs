//! The serial transport: a lane's cash register on an RS-232 or USB-serial device.
//!
//! The device is kept open. When it goes away (a USB adapter unplugged, end of file, read
//! errors) it is reopened with [`Backoff`] pauses, never in a busy loop. Note that after the
//! other end of a pseudo-terminal closes, reads may return end of file over and over: that
//! ends the connection like any other end of file, and the device is reopened after a pause.

use super::lane::{Lane, LaneConfig, LineReport};
use crate::backoff::Backoff;
use crate::engine::EngineHandle;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_serial::SerialPortBuilderExt;
use tokio_util::sync::CancellationToken;

/// Pauses between attempts to reopen a device: growing while attempts fail, so a missing
/// device costs no CPU, and short again once a connection worked.
pub const REOPEN_BACKOFF: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));

/// Line settings of a serial device. Defaults: 115200 baud, 8 data bits, no parity, 1 stop
/// bit, no flow control.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SerialSettings {
    /// The device, e.g. `/dev/ttyUSB0` or a stable `/dev/serial/by-id/...` link.
    pub device: PathBuf,
    #[serde(default = "default_baud")]
    pub baud: u32,
    #[serde(default)]
    pub parity: Parity,
    #[serde(default = "default_stop_bits")]
    pub stop_bits: u8,
    #[serde(default)]
    pub flow_control: FlowControl,
}

fn default_baud() -> u32 {
    115_200
}

fn default_stop_bits() -> u8 {
    1
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parity {
    #[default]
    None,
    Even,
    Odd,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowControl {
    #[default]
    None,
    /// RTS/CTS.
    Hardware,
}

impl std::str::FromStr for Parity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Parity::None),
            "even" => Ok(Parity::Even),
            "odd" => Ok(Parity::Odd),
            other => Err(format!("unknown parity {other:?} (none, even or odd)")),
        }
    }
}

impl SerialSettings {
    pub fn new(device: impl Into<PathBuf>) -> SerialSettings {
        SerialSettings {
            device: device.into(),
            baud: default_baud(),
            parity: Parity::None,
            stop_bits: default_stop_bits(),
            flow_control: FlowControl::None,
        }
    }

    /// Checks the settings; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.device.as_os_str().is_empty() {
            return Err("the serial device path is empty".into());
        }
        if !(1200..=921_600).contains(&self.baud) {
            return Err(format!("baud rate {} is outside 1200..=921600", self.baud));
        }
        if !matches!(self.stop_bits, 1 | 2) {
            return Err(format!("stop bits must be 1 or 2, not {}", self.stop_bits));
        }
        Ok(())
    }

    /// Opens the device with these settings (raw mode, exclusive).
    pub fn open(&self) -> std::io::Result<tokio_serial::SerialStream> {
        let path = self.device.to_string_lossy();
        let builder = tokio_serial::new(path, self.baud)
            .data_bits(tokio_serial::DataBits::Eight)
            .parity(match self.parity {
                Parity::None => tokio_serial::Parity::None,
                Parity::Even => tokio_serial::Parity::Even,
                Parity::Odd => tokio_serial::Parity::Odd,
            })
            .stop_bits(if self.stop_bits == 2 {
                tokio_serial::StopBits::Two
            } else {
                tokio_serial::StopBits::One
            })
            .flow_control(match self.flow_control {
                FlowControl::None => tokio_serial::FlowControl::None,
                FlowControl::Hardware => tokio_serial::FlowControl::Hardware,
            });
        builder.open_native_async().map_err(std::io::Error::from)
    }
}

/// Serves a lane's cash register on a serial device until `shutdown` is cancelled, reopening
/// the device whenever it goes away.
pub async fn serve_serial(
    settings: SerialSettings,
    engine: EngineHandle,
    config: LaneConfig,
    shutdown: CancellationToken,
) {
    let unreported: LineReport = Arc::new(|_| {});
    serve_serial_with(settings, engine, config, shutdown, REOPEN_BACKOFF, &unreported).await
}

/// [`serve_serial`] with a chosen reopen back-off, telling `report` whether the device opens.
pub async fn serve_serial_with(
    settings: SerialSettings,
    engine: EngineHandle,
    config: LaneConfig,
    shutdown: CancellationToken,
    backoff: Backoff,
    report: &LineReport,
) {
    let mut pauses = backoff.pauses();
    let device = settings.device.display().to_string();
    let mut lane = Lane::new(engine, config);
    // Log a failure to open once, not on every attempt.
    let mut missing_reported = false;
    loop {
        match settings.open() {
            Ok(stream) => {
                missing_reported = false;
                report(None);
                tracing::info!(%device, "serial device opened");
                let report = lane.serve(stream, shutdown.cancelled()).await;
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::warn!(%device, end = ?report.end, "serial device closed; reopening");
                if report.frames_received > 0 {
                    pauses.reset();
                }
            }
            Err(err) => {
                report(Some(format!("{device}: {err}")));
                if !missing_reported {
                    tracing::warn!(%device, "cannot open the serial device ({err}); retrying");
                    missing_reported = true;
                }
            }
        }
        let pause = pauses.next_pause();
        let stop = lane
            .offline(async {
                tokio::select! {
                    () = tokio::time::sleep(pause) => false,
                    () = shutdown.cancelled() => true,
                }
            })
            .await;
        if stop {
            return;
        }
    }
}
