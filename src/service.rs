//! Living under systemd: readiness and status notifications, the watchdog, and the signals
//! that ask the daemon to stop.
//!
//! Outside systemd (no `NOTIFY_SOCKET`) every notification is a no-op, so the same binary runs
//! from a terminal, a test or a unit file.

use std::time::Duration;

/// Sends `sd_notify` messages when running under systemd.
#[derive(Clone, Debug)]
pub struct Notifier {
    watchdog: Option<Duration>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        Notifier {
            watchdog: sd_notify::watchdog_enabled(),
        }
    }

    /// How often the watchdog must be pinged: half of `WatchdogSec=`, as systemd advises.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|limit| limit / 2)
    }

    /// Start-up is complete: recovery done, points of sale onboarded, cash registers accepted.
    pub fn ready(&self, status: &str) {
        self.send(&[
            sd_notify::NotifyState::Ready,
            sd_notify::NotifyState::Status(&one_line(status)),
        ]);
    }

    /// A one-line state for `systemctl status`.
    pub fn status(&self, status: &str) {
        self.send(&[sd_notify::NotifyState::Status(&one_line(status))]);
    }

    /// Start-up is still making progress but needs more time than `TimeoutStartSec=` allows
    /// (MobilePay unreachable at boot): asks systemd to wait `more` from now, and says why.
    /// Sent repeatedly, well within `more`, by the loop that waits for the lanes to start.
    pub fn extend_start(&self, status: &str, more: Duration) {
        let usec = u32::try_from(more.as_micros()).unwrap_or(u32::MAX);
        self.send(&[
            sd_notify::NotifyState::ExtendTimeoutUsec(usec),
            sd_notify::NotifyState::Status(&one_line(status)),
        ]);
    }

    /// The main loop is alive. Call only from the loop that must not hang.
    pub fn alive(&self) {
        self.send(&[sd_notify::NotifyState::Watchdog]);
    }

    pub fn stopping(&self, status: &str) {
        self.send(&[
            sd_notify::NotifyState::Stopping,
            sd_notify::NotifyState::Status(status),
        ]);
    }

    fn send(&self, states: &[sd_notify::NotifyState<'_>]) {
        if let Err(err) = sd_notify::notify(states) {
            tracing::debug!(%err, "systemd notification not sent");
        }
    }
}

/// A status names reasons taken from error messages; a line break would end the `STATUS=`
/// field.
fn one_line(status: &str) -> String {
    status.replace(['\n', '\r'], " ")
}

/// Resolves when the daemon is asked to stop (SIGTERM from systemd, SIGINT from a terminal).
///
/// The handlers are installed by this call, not when the future is first polled: a SIGTERM
/// that arrives before the main loop looks at it must still mean an orderly stop, not the
/// default action (an instant exit by the signal). Must be called inside a tokio runtime.
pub fn stop_requested() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let handlers = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()));
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            // Without signal handlers the default action (terminate) still applies.
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn notifications_reach_the_notify_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        // The process environment is shared by all tests of this binary; only this test sets it.
        std::env::set_var("NOTIFY_SOCKET", &path);
        let notifier = Notifier {
            watchdog: Some(Duration::from_secs(30)),
        };
        notifier.ready("serving 1 lane");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(
            text.contains("READY=1") && text.contains("STATUS=serving 1 lane"),
            "{text}"
        );
        assert_eq!(notifier.watchdog_interval(), Some(Duration::from_secs(15)));
    }
}
