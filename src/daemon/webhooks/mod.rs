//! ePayment webhooks: an early signal beside polling.
//!
//! A sales unit with `[epayment.webhooks]` registers its public URL for the payment events at
//! start ([`registration`]) and listens for the deliveries ([`listener`]); each one is checked
//! and judged ([`delivery`]), and news of a payment makes the lane that follows it poll at once
//! instead of at its next scheduled poll. The engines poll every payment anyway: a box whose
//! deliveries never arrive (no inbound route, a relay down) works as before, a little slower to
//! notice an approval.
//!
//! Lanes with a printed sticker ([`stickers`]) depend on the deliveries: a check-in at a
//! sticker (`user.checked-in.v1`, registered with the payment events) cannot be polled for.

mod delivery;
mod listener;
mod registration;
pub mod settings;
pub mod stickers;

use crate::backends::epayment::qr::USER_CHECKED_IN;
use crate::backends::epayment::webhooks::PAYMENT_EVENT_TYPES;
use crate::backends::epayment::EpaymentClient;
use crate::backoff::Backoff;
use crate::engine::EngineHandle;
use crate::store::Db;
use delivery::{Receiver, Recent};
use listener::Inbox;
use settings::WebhookSettings;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use stickers::StickerLane;
use tokio_util::sync::CancellationToken;

/// A listener that cannot bind (the address taken or not configured on the box) tries again
/// this often.
const BIND_RETRY: Duration = Duration::from_secs(5);
/// How often a running box checks that its registration still exists: Vipps MobilePay deletes
/// one whose deliveries failed for two weeks (a relay down), and a person may delete it.
const RECHECK: Duration = Duration::from_secs(3600);

/// One sales unit's webhooks and the engines of its lanes.
pub struct SalesUnitHooks {
    pub settings: WebhookSettings,
    pub client: EpaymentClient,
    pub engines: Vec<EngineHandle>,
    /// The stickers of those lanes.
    pub stickers: Vec<StickerLane>,
}

/// Starts the listener and the registration of a sales unit; both keep trying in the
/// background until `shutdown` (the daemon serves its lanes meanwhile, polling alone).
pub fn start(hooks: SalesUnitHooks, db: Arc<Db>, shutdown: CancellationToken) {
    let Some((host, path)) = hooks.settings.signed_target() else {
        // check-config refuses such a URL before the daemon starts.
        tracing::error!(url = %hooks.settings.url, "the webhook URL has no host");
        return;
    };
    let inbox = Arc::new(Inbox {
        receiver: Receiver {
            msn: hooks.client.msn().to_string(),
            host,
            path,
            stickers: hooks
                .stickers
                .iter()
                .filter_map(|s| s.sticker.merchant_qr_id().map(str::to_string))
                .collect(),
        },
        secret: RwLock::new(None),
        recent: Mutex::new(Recent::default()),
        engines: hooks.engines,
        stickers: hooks.stickers.clone(),
    });
    let mut events: Vec<String> = PAYMENT_EVENT_TYPES.iter().map(|e| e.to_string()).collect();
    if !hooks.stickers.is_empty() {
        events.push(USER_CHECKED_IN.to_string());
        tokio::spawn(stickers::ensure(
            hooks.client.clone(),
            hooks.stickers,
            shutdown.clone(),
        ));
    }
    tokio::spawn(listen(hooks.settings.listen, inbox.clone(), shutdown.clone()));
    tokio::spawn(register(
        hooks.client,
        hooks.settings.url,
        events,
        db,
        inbox,
        shutdown,
    ));
}

async fn listen(address: std::net::SocketAddr, inbox: Arc<Inbox>, shutdown: CancellationToken) {
    let msn = inbox.receiver.msn.clone();
    let mut reported = false;
    let listener = loop {
        match tokio::net::TcpListener::bind(address).await {
            Ok(listener) => break listener,
            Err(e) => {
                if !reported {
                    tracing::error!(msn, %address, error = %e, "cannot listen for webhooks; trying again (payments are polled meanwhile)");
                    reported = true;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(BIND_RETRY) => {}
        }
    };
    tracing::info!(msn, %address, "listening for webhooks");
    listener::serve(listener, inbox, shutdown).await;
}

async fn register(
    client: EpaymentClient,
    url: String,
    events: Vec<String>,
    db: Arc<Db>,
    inbox: Arc<Inbox>,
    shutdown: CancellationToken,
) {
    let backoff = Backoff::jittered(Duration::from_secs(1), Duration::from_secs(300));
    let mut failures = 0;
    loop {
        let wait = match registration::ensure(&client, &db, &url, &events).await {
            Ok((secret, how)) => {
                failures = 0;
                let first = inbox
                    .secret
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .replace(secret)
                    .is_none();
                if first || how == registration::Ensured::Registered {
                    tracing::info!(msn = client.msn(), %url, ?how, "webhooks registered");
                }
                RECHECK
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(msn = client.msn(), error = %format!("{e:#}"), "cannot register the webhooks yet; trying again (payments are polled meanwhile)");
                backoff.delay(failures)
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}
