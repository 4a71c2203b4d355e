//! Runs a [`Link`] over one open byte stream (a serial device, a pseudo-terminal, a TCP
//! connection) until the stream ends. The same code serves the daemon's lanes and the
//! virtual cash register.

use super::frame::FrameCodec;
use super::link::{Link, LinkEvent};
use futures::{SinkExt, StreamExt};
use std::future::Future;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_util::codec::Framed;

/// Why [`run_connection`] returned.
#[derive(Debug)]
pub enum ConnectionEnd {
    /// The peer closed the stream (end of file; on a serial device, often the device going
    /// away).
    Closed,
    /// Reading or writing failed.
    Failed(std::io::Error),
    /// The owner is shutting down: its outbox was closed, or it asked to stop and everything
    /// it had to say was delivered (or given up).
    Shutdown,
}

/// What happened during one connection.
#[derive(Debug)]
pub struct ConnectionReport {
    pub end: ConnectionEnd,
    /// Intact frames received. A connection that ends without a single one counts as a failed
    /// attempt for the reopen back-off.
    pub frames_received: u64,
}

/// Drives `link` over `stream`. The link is reset first (a new link session: sequence
/// numbers restart at 00). Bodies from `outbox` are sent; link events go to `on_event` (a
/// received message, a delivery, a message given up). Control frames are written before
/// events are handed on, so an acknowledgement is on its way before the message is acted on.
///
/// Once `stop` resolves, the connection is kept only until every message the link holds has
/// been acknowledged (or given up) and nothing waits in `outbox`, so what the owner said last,
/// such as the refusal of a command that came in while stopping, still reaches the peer.
pub async fn run_connection<S, F>(
    stream: S,
    link: &mut Link,
    outbox: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    stop: impl Future<Output = ()>,
    mut on_event: F,
) -> ConnectionReport
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(LinkEvent),
{
    link.reset();
    let mut framed = Framed::new(stream, FrameCodec::new());
    let mut frames_received = 0u64;
    tokio::pin!(stop);
    let mut stopping = false;
    let end = loop {
        if let Err(err) = write_pending(&mut framed, link).await {
            break ConnectionEnd::Failed(err);
        }
        while let Some(event) = link.poll_event() {
            on_event(event);
        }
        if stopping && link.is_idle() && outbox.is_empty() {
            break ConnectionEnd::Shutdown;
        }
        let deadline = link.next_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            item = framed.next() => match item {
                Some(Ok(decoded)) => {
                    if matches!(decoded, super::frame::Decoded::Frame(_)) {
                        frames_received += 1;
                    }
                    link.receive(decoded, Instant::now());
                }
                Some(Err(err)) => break ConnectionEnd::Failed(err),
                None => break ConnectionEnd::Closed,
            },
            body = outbox.recv() => match body {
                Some(body) => {
                    if let Err(err) = link.send(body) {
                        tracing::error!("cannot send a message to the cash register: {err}");
                    }
                }
                None => break ConnectionEnd::Shutdown,
            },
            () = sleep_until(deadline) => link.handle_timeout(Instant::now()),
            () = &mut stop, if !stopping => stopping = true,
        }
    };
    // Hand on what arrived before the end (e.g. the last message before end of file).
    while let Some(event) = link.poll_event() {
        on_event(event);
    }
    ConnectionReport { end, frames_received }
}

/// Writes every frame the link has ready, then flushes.
async fn write_pending<S>(framed: &mut Framed<S, FrameCodec>, link: &mut Link) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut wrote = false;
    while let Some(frame) = link.poll_transmit(Instant::now()) {
        framed.feed(frame).await?;
        wrote = true;
    }
    if wrote {
        framed.flush().await?;
    }
    Ok(())
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
