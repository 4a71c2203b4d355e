//! One lane's cash-register endpoint: a session and its link, carried over whatever
//! connection the transport currently has. Both outlive connections, so messages queued while
//! the line is down are sent once it is back.

use super::connection::{run_connection, ConnectionReport};
use super::link::{Link, LinkConfig, LinkEvent};
use super::session::{Session, SessionConfig};
use crate::engine::EngineHandle;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

/// Told whether a lane's line can be served: `Some(reason)` each time the TCP address cannot
/// be bound or the serial device cannot be opened (both are retried), `None` once it works.
/// The daemon names a broken line in its systemd status.
pub type LineReport = Arc<dyn Fn(Option<String>) + Send + Sync>;

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

    /// Serves the cash register over `stream` until it ends, or, once `stop` resolves, until
    /// everything queued for it has been delivered.
    pub async fn serve<S>(&mut self, stream: S, stop: impl Future<Output = ()>) -> ConnectionReport
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let session = &mut self.session;
        run_connection(
            stream,
            &mut self.link,
            &mut self.outbox,
            stop,
            |event| match event {
                LinkEvent::Received(body) => session.handle(&body),
                other => report_undelivered(other),
            },
        )
        .await
    }

    /// Waits for `until` (a reopen pause, the next connection) while no cash register is
    /// connected. What the session sends meanwhile goes into the link's queue, whose size is
    /// bounded (the oldest message is given up), so a line that stays down for days costs no
    /// more memory than a full queue.
    pub async fn offline<T>(&mut self, until: impl Future<Output = T>) -> T {
        queue_while_offline(&mut self.link, &mut self.outbox, until).await
    }
}

async fn queue_while_offline<T>(
    link: &mut Link,
    outbox: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    until: impl Future<Output = T>,
) -> T {
    tokio::pin!(until);
    loop {
        tokio::select! {
            // Take what is waiting first, so it is queued before a new connection starts.
            biased;
            body = outbox.recv() => match body {
                Some(body) => {
                    if let Err(err) = link.send(body) {
                        tracing::error!("cannot send a message to the cash register: {err}");
                    }
                    while let Some(event) = link.poll_event() {
                        report_undelivered(event);
                    }
                }
                None => return until.await,
            },
            out = &mut until => return out,
        }
    }
}

/// Messages the cash register never acknowledged are logged; the register can query their
/// command again.
fn report_undelivered(event: LinkEvent) {
    if let LinkEvent::GaveUp(body) = event {
        tracing::warn!(
            message = %String::from_utf8_lossy(&body),
            "the cash register did not acknowledge a message; it can query it again"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_sent_while_offline_are_queued_up_to_the_limit() {
        let mut link = Link::new(LinkConfig {
            max_queued: 4,
            ..LinkConfig::default()
        });
        let (sender, mut outbox) = mpsc::unbounded_channel();
        for i in 0..10 {
            sender.send(format!("{{\"n\":{i}}}").into_bytes()).unwrap();
        }
        queue_while_offline(&mut link, &mut outbox, std::future::ready(())).await;
        assert!(outbox.is_empty(), "nothing is left in the unbounded channel");
        assert_eq!(link.stats().given_up, 6, "the six oldest were given up");
        // Once a line is back, the four newest go out in order.
        link.reset();
        let now = std::time::Instant::now();
        let mut sent = Vec::new();
        while let Some(frame) = link.poll_transmit(now) {
            sent.push(String::from_utf8(frame.body().to_vec()).unwrap());
            link.receive(
                super::super::frame::Decoded::Frame(super::super::frame::Frame::ack(frame.seq())),
                now,
            );
        }
        assert_eq!(sent, ["{\"n\":6}", "{\"n\":7}", "{\"n\":8}", "{\"n\":9}"]);
    }
}
