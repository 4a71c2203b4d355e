//! One lane's cash-register endpoint: a session and its link, carried over whatever
//! connection the transport currently has. Both outlive connections, so messages queued while
//! the line is down are sent once it is back.

use super::driver::{run_connection, ConnectionReport};
use super::link::{Link, LinkConfig, LinkEvent};
use super::session::{Session, SessionConfig};
use crate::engine::EngineHandle;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Settings of a lane's endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaneConfig {
    pub link: LinkConfig,
    pub session: SessionConfig,
}

/// The protocol endpoint of one lane.
pub struct Lane {
    link: Link,
    session: Session,
    outbox: mpsc::UnboundedReceiver<Vec<u8>>,
}

impl Lane {
    /// Must be called inside a tokio runtime.
    pub fn new(engine: EngineHandle, config: LaneConfig) -> Lane {
        let (sender, outbox) = mpsc::unbounded_channel();
        Lane {
            link: Link::new(config.link),
            session: Session::start(engine, config.session, sender),
            outbox,
        }
    }

    /// Serves the cash register over `stream` until it ends.
    pub async fn serve<S>(&mut self, stream: S) -> ConnectionReport
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let session = &mut self.session;
        run_connection(stream, &mut self.link, &mut self.outbox, |event| match event {
            LinkEvent::Received(body) => session.handle(&body),
            LinkEvent::Delivered(_) => {}
            LinkEvent::GaveUp(body) => tracing::warn!(
                message = %String::from_utf8_lossy(&body),
                "the cash register did not acknowledge a message; it can query it again"
            ),
        })
        .await
    }
}

/// Pauses between attempts to reopen a device: growing while attempts fail, so a missing
/// device costs no CPU, and short again once a connection worked.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The pause before the next attempt; each call doubles the following one up to the
    /// maximum.
    pub fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        pause
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_maximum_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(500));
        let pauses: Vec<_> = (0..5).map(|_| b.next_pause().as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 500, 500]);
        b.reset();
        assert_eq!(b.next_pause(), Duration::from_millis(100));
    }
}
