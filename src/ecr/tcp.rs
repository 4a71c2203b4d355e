//! The TCP transport: a lane's cash register on the LAN. The byte stream is the same as on a
//! serial line (frames, ACK/NAK), so one client implementation serves both.
//!
//! One connection per lane. A new connection takes over from the current one: a cash register
//! that lost power cannot close its old connection, and must not be locked out by it.

use super::lane::{Lane, LaneConfig};
use crate::engine::EngineHandle;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Where the TCP transport listens unless configured otherwise: loopback only, so that no
/// one on the network can drive payments unless the operator opens it deliberately.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7410";

/// Serves a lane's cash register on TCP connections accepted from `listener` until
/// `shutdown` is cancelled and what is queued for the connected register has been delivered.
pub async fn serve_tcp(
    listener: TcpListener,
    engine: EngineHandle,
    config: LaneConfig,
    shutdown: CancellationToken,
) {
    let mut lane = Lane::new(engine, config);
    let mut next: Option<(TcpStream, SocketAddr)> = None;
    loop {
        let (stream, peer) = match next.take() {
            Some(connection) => connection,
            None => {
                let waited = lane
                    .offline(async {
                        tokio::select! {
                            accepted = listener.accept() => Some(accepted),
                            () = shutdown.cancelled() => None,
                        }
                    })
                    .await;
                match waited {
                    Some(Ok(connection)) => connection,
                    Some(Err(err)) => {
                        // E.g. out of file descriptors: wait instead of spinning.
                        tracing::warn!("cannot accept an ECR connection: {err}");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                    None => return,
                }
            }
        };
        // Frames are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        tracing::info!(%peer, "cash register connected");
        tokio::select! {
            report = lane.serve(stream, shutdown.cancelled()) => {
                if shutdown.is_cancelled() {
                    return;
                }
                tracing::info!(%peer, end = ?report.end, "cash register disconnected");
            }
            accepted = listener.accept(), if !shutdown.is_cancelled() => {
                if let Ok(connection) = accepted {
                    tracing::info!(%peer, new = %connection.1, "a new cash register connection takes over");
                    next = Some(connection);
                }
            }
        }
    }
}
