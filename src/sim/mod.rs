//! A faithful MobilePay PoS V10 backend, served over HTTP(S) on loopback, and beside it the
//! Vipps MobilePay ePayment API that replaced it, and the merchant-consent OpenID Connect
//! provider of MobilePay Invoice and Subscriptions, and the MobilePay Invoice and Subscriptions
//! APIs.
//!
//! MobilePay PoS V10 is switched off; this simulator is the backend for mposd's demo and tests.
//! Its behaviour follows the API reference; where the reference leaves a choice, the choice is
//! written down in `docs/simulator.md`.

mod api;
pub mod cli;
pub mod clock;
mod context;
mod control;
mod epayment;
mod error;
pub mod fixtures;
mod gateway;
mod intercept;
mod invoice;
mod observe;
mod oidc;
pub mod server;
pub mod settings;
mod subscriptions;
mod tokens;
mod world;

use anyhow::Context;
use axum::{http::StatusCode, Router};
use std::{net::SocketAddr, sync::Arc};
use tokio_util::sync::CancellationToken;

pub use fixtures::Fixtures;
pub use oidc::web_service::WebServiceConsent;
pub use settings::Settings;

/// Everything the simulator needs to start.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub tls: bool,
    /// Extra host names or addresses the TLS certificate is valid for, besides `localhost`,
    /// `127.0.0.1` and `::1` (e.g. the host's address as a virtual machine sees it).
    pub tls_names: Vec<String>,
    pub fixtures: Fixtures,
    pub settings: Settings,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tls_names: Vec::new(),
            fixtures: Fixtures::default(),
            settings: Settings::default(),
        }
    }
}

/// A running simulator. Dropping it without [`Simulator::shutdown`] leaves it serving until the
/// runtime ends.
pub struct Simulator {
    addr: SocketAddr,
    tls: bool,
    ca_pem: Option<String>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://localhost:PORT`; the PoS API is under `/pos/v10`.
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// The certificate to trust in `--tls` mode.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }
}

/// Binds, then serves in the background.
pub async fn start(config: SimConfig) -> anyhow::Result<Simulator> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = server::local_addr(&listener)?;
    let (acceptor, ca_pem) = if config.tls {
        let identity = server::make_tls_identity(&config.tls_names)?;
        (Some(identity.acceptor), Some(identity.cert_pem))
    } else {
        (None, None)
    };
    let context = context::SimContext::new(world::World::new(config.fixtures, config.settings), config.tls);
    let app = Router::new()
        .merge(api::routes())
        .merge(control::routes())
        .merge(epayment::routes())
        .merge(oidc::routes())
        .merge(invoice::routes())
        .merge(subscriptions::routes())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(
            context.clone(),
            intercept::middleware,
        ))
        .with_state(context.clone());
    let shutdown = CancellationToken::new();
    tokio::spawn(epayment::delivery::watch_timers(
        Arc::downgrade(&context),
        shutdown.clone(),
    ));
    let task = tokio::spawn(server::serve(listener, acceptor, app, shutdown.clone()));
    Ok(Simulator {
        addr,
        tls: config.tls,
        ca_pem,
        shutdown,
        task,
    })
}
