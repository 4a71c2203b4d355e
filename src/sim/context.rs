//! The simulator's context, which every request handler shares: the simulated world behind its
//! lock (and the ePayment ledger, the OIDC provider, the Invoice book and the Subscriptions book behind their own), the virtual clock, the token issuer, pending
//! faults and the request log.

use super::clock::{Clock, Millis};
use super::epayment::delivery::Deliveries;
use super::epayment::ledger::Ledger;
use super::invoice::book::Book;
use super::observe::Observer;
use super::oidc::provider::Provider;
use super::subscriptions::book::Book as SubscriptionsBook;
use super::tokens::TokenIssuer;
use super::world::{ScheduledUserAction, UserStep, World};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct SimContext {
    world: Mutex<World>,
    epayment: Mutex<Ledger>,
    oidc: Mutex<Provider>,
    invoices: Mutex<Book>,
    subscriptions: Mutex<SubscriptionsBook>,
    /// `http` or `https`, for links the simulator hands out.
    pub scheme: &'static str,
    pub clock: Clock,
    pub tokens: TokenIssuer,
    pub observer: Observer,
    /// Webhook registrations and their deliveries.
    pub webhooks: Deliveries,
}

impl SimContext {
    pub fn new(world: World, tls: bool) -> Arc<SimContext> {
        let epayment = Ledger::new(world.fixtures.epayment.clone(), key_retention(&world));
        let oidc = new_provider(&world);
        let invoices = Book::new(&world.fixtures);
        let subscriptions = SubscriptionsBook::new(&world.fixtures);
        Arc::new(SimContext {
            world: Mutex::new(world),
            epayment: Mutex::new(epayment),
            oidc: Mutex::new(oidc),
            invoices: Mutex::new(invoices),
            subscriptions: Mutex::new(subscriptions),
            scheme: if tls { "https" } else { "http" },
            clock: Clock::default(),
            tokens: TokenIssuer::new(),
            observer: Observer::default(),
            webhooks: Deliveries::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock would be a simulator bug; keep serving regardless.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the world after applying due timers, then starts any automatic customer
    /// actions it queued.
    pub fn with_world<T>(self: &Arc<Self>, f: impl FnOnce(&mut World, Millis) -> T) -> T {
        let now = self.clock.now();
        let (result, scheduled) = {
            let mut world = self.lock();
            world.tick(now);
            let result = f(&mut world, now);
            (result, world.take_scheduled())
        };
        for action in scheduled {
            self.spawn_customer(action);
        }
        result
    }

    /// Runs `f` on the ePayment ledger after applying its due timers, then hands the payment
    /// events this logged to the webhooks.
    pub fn with_epayment<T>(&self, f: impl FnOnce(&mut Ledger, Millis) -> T) -> T {
        let now = self.clock.now();
        let (result, fresh) = {
            let mut ledger = self
                .epayment
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            ledger.tick(now);
            let result = f(&mut ledger, now);
            (result, ledger.take_unpublished())
        };
        for (msn, event) in fresh {
            self.webhooks.publish_payment_event(&msn, event);
        }
        result
    }

    /// Forgets every ePayment payment, key, automatic customer and webhook (`/_sim/reset`).
    pub fn reset_epayment(&self) {
        self.webhooks.reset();
        let retention = key_retention(&self.lock());
        let fixtures = self.lock().fixtures.epayment.clone();
        *self
            .epayment
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Ledger::new(fixtures, retention);
    }

    /// Runs `f` on the OIDC provider.
    pub fn with_oidc<T>(&self, f: impl FnOnce(&mut Provider, Millis) -> T) -> T {
        let now = self.clock.now();
        let mut provider = self.oidc.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut provider, now)
    }

    /// Forgets every consent, code, nonce, refresh token and pending login (`/_sim/reset`).
    pub fn reset_oidc(&self) {
        let provider = new_provider(&self.lock());
        *self.oidc.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = provider;
    }

    /// Runs `f` on the Invoice book after applying its due timers.
    pub fn with_invoices<T>(&self, f: impl FnOnce(&mut Book, Millis) -> T) -> T {
        let now = self.clock.now();
        let mut book = self
            .invoices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        book.tick(now);
        f(&mut book, now)
    }

    /// Forgets every invoice, push and scripted invoice customer (`/_sim/reset`).
    pub fn reset_invoices(&self) {
        let book = Book::new(&self.lock().fixtures);
        *self
            .invoices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = book;
    }

    /// Runs `f` on the Subscriptions book after applying its due timers.
    pub fn with_subscriptions<T>(&self, f: impl FnOnce(&mut SubscriptionsBook, Millis) -> T) -> T {
        let now = self.clock.now();
        let mut book = self
            .subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        book.tick(now);
        f(&mut book, now)
    }

    /// Forgets every agreement, one-off, refund, callback URL and scripted subscriptions
    /// customer (`/_sim/reset`).
    pub fn reset_subscriptions(&self) {
        let book = SubscriptionsBook::new(&self.lock().fixtures);
        *self
            .subscriptions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = book;
    }

    /// The simulator's own address as the caller sees it (its `Host`), for links it hands out.
    pub fn base_url(&self, headers: &axum::http::HeaderMap) -> String {
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}", self.scheme)
    }

    fn spawn_customer(self: &Arc<Self>, action: ScheduledUserAction) {
        let context = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(action.delay).await;
            let outcome = context.with_world(|st, now| match action.step {
                UserStep::Checkin => st.user_checkin(&action.beacon_id, &action.phone, now),
                UserStep::Accept => st.user_accept(&action.beacon_id, &action.phone, now),
                UserStep::Cancel => st.user_cancel(&action.beacon_id, now),
            });
            if let Err(err) = outcome {
                tracing::debug!(step = ?action.step, beacon = %action.beacon_id, reason = %err.message, "automatic customer step skipped");
            }
        });
    }
}

fn new_provider(world: &World) -> Provider {
    let lifetime =
        Millis::try_from(world.settings.oidc_refresh_lifetime.as_millis()).unwrap_or(Millis::MAX / 4);
    Provider::new(world.fixtures.oidc.clone(), lifetime)
}

/// ePayment keeps idempotency keys as long as PoS V10 does (the reference names no period).
fn key_retention(world: &World) -> Millis {
    Millis::try_from(world.settings.idempotency_retention.as_millis()).unwrap_or(Millis::MAX / 4)
}
