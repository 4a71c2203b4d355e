//! The HTTP end of the webhooks: takes deliveries on the configured address, has each judged
//! ([`super::delivery`]), answers at once, and hands payment news to the lanes' engines and
//! check-ins to the lanes with the sticker ([`super::stickers`]).

use super::delivery::{Headers, Receiver, Recent, Verdict};
use super::stickers::{checked_in, StickerLane};
use crate::engine::EngineHandle;
use crate::secrets::Secret;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::Router;
use std::sync::{Arc, Mutex, RwLock};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Deliveries are small JSON documents; anything larger is refused (413) unread.
pub const MAX_BODY: usize = 64 * 1024;

/// Everything a delivery is handled with.
pub struct Inbox {
    pub receiver: Receiver,
    /// The registration's secret, once it is known.
    pub secret: RwLock<Option<Secret>>,
    pub recent: Mutex<Recent>,
    /// The engines of the lanes that take payments for this sales unit.
    pub engines: Vec<EngineHandle>,
    /// The stickers of those lanes.
    pub stickers: Vec<StickerLane>,
}

/// Serves `inbox` on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, inbox: Arc<Inbox>, shutdown: CancellationToken) {
    let app = Router::new()
        .fallback(deliver)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(inbox.clone());
    let msn = inbox.receiver.msn.clone();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        tracing::error!(msn, error = %e, "the webhook listener stopped");
    }
}

async fn deliver(
    State(inbox): State<Arc<Inbox>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED;
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = Headers {
        date: header("x-ms-date"),
        content_sha256: header("x-ms-content-sha256"),
        authorization: header("authorization"),
    };
    let secret = inbox.secret.read().unwrap_or_else(|p| p.into_inner()).clone();
    let verdict = {
        let mut recent = inbox.recent.lock().unwrap_or_else(|p| p.into_inner());
        inbox.receiver.judge(
            secret.as_ref().map(Secret::expose),
            signed,
            &body,
            chrono::Utc::now(),
            &mut recent,
        )
    };
    let msn = &inbox.receiver.msn;
    match &verdict {
        Verdict::NotReady => {
            tracing::info!(
                msn,
                "webhook delivery before the registration is known; the sender tries again"
            )
        }
        Verdict::Refused(reason) => tracing::warn!(msn, %reason, "webhook delivery refused"),
        Verdict::Unreadable(reason) => tracing::warn!(msn, %reason, "webhook delivery unreadable"),
        Verdict::Ignored(reason) => tracing::info!(msn, %reason, "webhook delivery ignored"),
        Verdict::Duplicate => tracing::info!(msn, "webhook delivery seen before; dropped"),
        Verdict::Payment { reference, event } => {
            tracing::info!(msn, reference, event, "webhook: payment news; polling it now");
            for engine in &inbox.engines {
                engine.nudge(reference);
            }
        }
        Verdict::CheckIn {
            merchant_qr_id,
            customer_token,
        } => checked_in(&inbox.stickers, merchant_qr_id, customer_token.clone()),
    }
    StatusCode::from_u16(verdict.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
