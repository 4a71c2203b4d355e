//! Runs the display beside the payment engine.
//!
//! The engine side only calls [`DisplayHandle::show`], which stores the screen in a
//! `tokio::sync::watch` channel and returns at once: it never waits for a panel. The
//! renderer task takes the latest screen whenever it is free (screens set while a slow panel
//! is busy are coalesced: only the newest is drawn), runs the blocking output on the
//! blocking thread pool, and records failures in a [`DisplayStatus`] the daemon can read.
//! A failing or panicking output is retried with back-off and never stops payments.

use super::output::Output;
use super::render::Look;
use super::screen::Screen;
use crate::backoff::Backoff;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the display is doing, for the status command and health checks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DisplayStatus {
    /// Description of the output, e.g. `ili9341 on /dev/spidev0.0`.
    pub output: String,
    /// The last update reached the panel.
    pub healthy: bool,
    /// Screens drawn successfully since start.
    pub frames: u64,
    /// Failed attempts since start.
    pub failures: u64,
    /// The most recent error, kept after recovery for diagnosis.
    pub last_error: Option<String>,
    /// Kind of the screen the panel shows (see [`Screen::kind`]).
    pub showing: Option<&'static str>,
}

/// The engine's side of the display. Cheap to clone.
#[derive(Clone)]
pub struct DisplayHandle {
    screen: std::sync::Arc<watch::Sender<Screen>>,
    status: watch::Receiver<DisplayStatus>,
}

impl DisplayHandle {
    /// Makes `screen` current. Never blocks and never fails: with no renderer running the
    /// screen is simply kept.
    pub fn show(&self, screen: Screen) {
        self.screen.send_if_modified(|current| {
            if *current == screen {
                false
            } else {
                *current = screen;
                true
            }
        });
    }

    pub fn current(&self) -> Screen {
        self.screen.borrow().clone()
    }

    pub fn status(&self) -> DisplayStatus {
        self.status.borrow().clone()
    }

    /// A receiver that changes whenever the status does.
    pub fn watch_status(&self) -> watch::Receiver<DisplayStatus> {
        self.status.clone()
    }
}

/// Back-off between retries of a failing display.
const RETRY: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

/// Starts the renderer on the current tokio runtime. It ends when every handle is dropped.
pub fn spawn(output: Box<dyn Output>, look: Look, initial: Screen) -> (DisplayHandle, JoinHandle<()>) {
    let (screen_tx, screen_rx) = watch::channel(initial);
    let (status_tx, status_rx) = watch::channel(DisplayStatus {
        output: output.describe(),
        ..DisplayStatus::default()
    });
    let task = tokio::spawn(run(output, look, screen_rx, status_tx));
    (
        DisplayHandle {
            screen: std::sync::Arc::new(screen_tx),
            status: status_rx,
        },
        task,
    )
}

async fn run(
    mut output: Box<dyn Output>,
    look: Look,
    mut screens: watch::Receiver<Screen>,
    status: watch::Sender<DisplayStatus>,
) {
    screens.mark_changed();
    // Retry pauses waited out since the display last worked; a new screen cuts a pause short
    // without making the next one longer.
    let mut waited: u32 = 0;
    let mut failing = false;
    loop {
        if failing {
            // Retry the newest screen after the back-off, or sooner when a new one arrives.
            tokio::select! {
                changed = screens.changed() => if changed.is_err() { return },
                _ = tokio::time::sleep(RETRY.delay(waited.saturating_add(1))) => waited = waited.saturating_add(1),
            }
        } else if screens.changed().await.is_err() {
            return;
        }
        let screen = screens.borrow_and_update().clone();
        let look_now = look.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = catch_unwind(AssertUnwindSafe(|| output.show(&screen, &look_now)));
            (output, screen, result)
        })
        .await;
        let Ok((returned, screen, result)) = joined else {
            // The blocking pool is shutting down: the runtime is going away.
            return;
        };
        output = returned;
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the display driver panicked".to_string()),
        };
        match error {
            None => {
                if failing {
                    tracing::info!(backend = %output.describe(), "customer display recovered");
                }
                failing = false;
                waited = 0;
                let described = output.describe();
                status.send_modify(|s| {
                    s.output = described;
                    s.healthy = true;
                    s.frames += 1;
                    s.showing = Some(screen.kind());
                });
            }
            Some(message) => {
                if !failing {
                    tracing::warn!(backend = %output.describe(), error = %message, "customer display failed; payments continue");
                } else {
                    tracing::debug!(error = %message, "customer display still failing");
                }
                failing = true;
                status.send_modify(|s| {
                    s.healthy = false;
                    s.failures += 1;
                    s.last_error = Some(message);
                });
            }
        }
    }
}
