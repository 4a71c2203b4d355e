//! A webhook listener for the tests: a real HTTP server on loopback that verifies every
//! delivery's HMAC signature as a production listener must, records it, and answers with a
//! scripted number of failures first.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    Router,
};
use mposd::backends::epayment::webhooks::{content_hash, sign};
use serde_json::Value;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// One request the receiver got.
#[derive(Debug)]
pub struct Delivery {
    pub path: String,
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
    /// What the receiver answered.
    pub status: u16,
}

impl Delivery {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("delivery without {name}: {self:?}"))
    }

    /// Checks the signature with the registration's secret, as a listener would: the body's
    /// hash, then the HMAC over method, path and query, date, host and hash.
    pub fn assert_signed_with(&self, secret: &str) {
        assert_eq!(
            self.header("x-ms-content-sha256"),
            content_hash(&self.raw),
            "content hash"
        );
        let expected = sign(
            secret,
            self.header("host"),
            &self.path,
            self.header("x-ms-date"),
            &self.raw,
        );
        assert_eq!(self.header("authorization"), expected.authorization, "signature");
        chrono::DateTime::parse_from_rfc2822(self.header("x-ms-date"))
            .expect("x-ms-date is an RFC 1123 date");
        assert_eq!(self.header("content-type"), "application/json");
    }

    pub fn name(&self) -> &str {
        self.body["name"].as_str().unwrap_or_default()
    }
}

struct Shared {
    failures_left: AtomicU32,
    seen: UnboundedSender<Delivery>,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
    inbox: UnboundedReceiver<Delivery>,
}

async fn record(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, raw: Bytes) -> StatusCode {
    let failing = shared
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.as_str().to_string());
    let _ = shared.seen.send(Delivery {
        path,
        headers,
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw: raw.to_vec(),
        status: status.as_u16(),
    });
    status
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (seen, inbox) = unbounded_channel();
        let shared = Arc::new(Shared {
            failures_left: AtomicU32::new(0),
            seen,
        });
        let app = Router::new().fallback(record).with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { base, shared, inbox }
    }

    /// Answers the next `n` deliveries with 500.
    pub fn fail_next(&self, n: u32) {
        self.shared.failures_left.store(n, Ordering::SeqCst);
    }

    /// The next delivery if one arrives within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Delivery> {
        tokio::time::timeout(wait, self.inbox.recv()).await.ok().flatten()
    }

    /// The next delivery, waiting generously for it.
    pub async fn next(&mut self) -> Delivery {
        tokio::time::timeout(Duration::from_secs(30), self.inbox.recv())
            .await
            .expect("a webhook delivery within 30 s")
            .expect("receiver open")
    }
}
