//! The cash-register end of the protocol, as a library: what `mposd ecr` (the virtual cash
//! register) is built on, and what tests and ECR integrators can drive mposd with.

use super::connection::{run_connection, ConnectionReport};
use super::link::{Link, LinkConfig, LinkEvent};
use super::message::{encode, DaemonMessage, EcrMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What the cash register hears.
// One value at a time passes through a channel to its reader; boxing the message would cost
// an allocation per message to save a few hundred bytes of one channel slot.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    Message(DaemonMessage),
    /// A body that is not a message of this protocol version (kept for diagnosis).
    Unreadable(String),
    /// A message of ours that the terminal never acknowledged.
    GaveUp(String),
    /// The connection ended.
    Closed,
}

/// A cash register connected to mposd over one stream.
pub struct Register {
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    heard: mpsc::UnboundedReceiver<Heard>,
    connection: JoinHandle<ConnectionReport>,
}

impl Register {
    /// Starts speaking the protocol over `stream` (a fresh link session: sequence numbers
    /// start at 00). Must be called inside a tokio runtime.
    pub fn over<S>(stream: S, config: LinkConfig) -> Register
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (outbox, mut outgoing) = mpsc::unbounded_channel();
        let (tell, heard) = mpsc::unbounded_channel();
        let connection = tokio::spawn(async move {
            let mut link = Link::new(config);
            let report = run_connection(
                stream,
                &mut link,
                &mut outgoing,
                std::future::pending(),
                |event| {
                    let _ = tell.send(match event {
                        LinkEvent::Received(body) => match serde_json::from_slice(&body) {
                            Ok(message) => Heard::Message(message),
                            Err(_) => Heard::Unreadable(String::from_utf8_lossy(&body).into_owned()),
                        },
                        LinkEvent::GaveUp(body) => Heard::GaveUp(String::from_utf8_lossy(&body).into_owned()),
                        LinkEvent::Delivered(_) => return,
                    });
                },
            )
            .await;
            let _ = tell.send(Heard::Closed);
            report
        });
        Register {
            outbox,
            heard,
            connection,
        }
    }

    pub fn send(&self, message: &EcrMessage) {
        // If the connection has ended, the next `next` reports it as `Closed`.
        let _ = self.outbox.send(encode(message));
    }

    /// Sends raw bytes as a message body (for tests of the terminal's error handling).
    pub fn send_raw(&self, body: Vec<u8>) {
        let _ = self.outbox.send(body);
    }

    /// The next thing heard; `None` once the connection has ended and everything was read.
    pub async fn next(&mut self) -> Option<Heard> {
        self.heard.recv().await
    }

    /// Ends the connection, returning the link's report.
    pub async fn close(self) -> Option<ConnectionReport> {
        drop(self.outbox);
        self.connection.await.ok()
    }
}
