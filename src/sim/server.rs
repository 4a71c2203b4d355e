//! The simulator's HTTP/1.1 server: one accept loop for plain TCP and TLS.
//!
//! A hand-written loop instead of `axum::serve` because two things need the connection itself:
//! TLS (rustls, with a certificate made at start) and the `commitThenDrop` fault, which closes
//! the connection after a change was committed but before any answer is written. Each
//! connection gets a [`ConnectionKill`] in its request extensions for that.

use anyhow::Context;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::{net::SocketAddr, sync::Arc};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Closes the connection a request arrived on, without an answer.
#[derive(Clone)]
pub struct ConnectionKill(CancellationToken);

impl ConnectionKill {
    pub fn kill(&self) {
        self.0.cancel();
    }
}

/// A self-signed certificate for `localhost`, `127.0.0.1`, `::1` and any extra names, and its
/// PEM.
pub struct TlsIdentity {
    pub acceptor: TlsAcceptor,
    pub cert_pem: String,
}

pub fn make_tls_identity(extra_names: &[String]) -> anyhow::Result<TlsIdentity> {
    let mut names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ];
    names.extend(extra_names.iter().cloned());
    let certified = rcgen::generate_simple_self_signed(names).context("cannot generate a certificate")?;
    let cert_pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .context("cannot use the generated certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsIdentity {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        cert_pem,
    })
}

/// Serves `app` on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: CancellationToken,
) {
    loop {
        let (stream, _peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(stream) => serve_connection(TokioIo::new(stream), app, shutdown).await,
                    Err(err) => tracing::debug!(%err, "TLS handshake failed"),
                },
                None => serve_connection(TokioIo::new(stream), app, shutdown).await,
            }
        });
    }
}

async fn serve_connection<I>(io: I, app: Router, shutdown: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let kill = CancellationToken::new();
    let handle = ConnectionKill(kill.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(handle.clone());
        app.clone().oneshot(req)
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(io, service);
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        // Dropping the connection future closes the socket without writing anything more.
        _ = kill.cancelled() => {}
        _ = shutdown.cancelled() => {}
    }
}

pub fn local_addr(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    listener.local_addr().context("cannot read the listening address")
}
