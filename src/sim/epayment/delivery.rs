//! Sends webhook events: one queue and one worker per registration, so a registration gets
//! its events in order and a failing event holds back the ones behind it, as the Webhooks API
//! documents. Each attempt is real HTTP to the registered URL, signed with the registration's
//! secret; failures are retried with back-off on the virtual clock.

use super::hooks::{Hook, Registry};
use super::problem::EpError;
use crate::backends::epayment::model::PaymentEvent;
use crate::backends::epayment::webhooks::{payment_event_type, sign, PaymentWebhookEvent, Registration};
use crate::sim::clock::Millis;
use crate::sim::context::SimContext;
use chrono::{TimeZone, Utc};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

/// An answer must arrive within this time or the attempt counts as failed.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry waits this long; each further one twice as long as the one before.
const FIRST_RETRY: Millis = 1_000;
/// No wait between retries is longer than this.
const MAX_RETRY_WAIT: Millis = 3_600_000;
/// An event nobody accepted within this time is dropped.
const GIVE_UP_AFTER: Millis = 7 * 24 * 3_600_000;
/// How often a waiting worker looks at the virtual clock, which tests may advance.
const CLOCK_LOOK: Millis = 50;

/// The virtual-clock wait before retry number `retry` (1-based).
pub fn retry_wait(retry: u32) -> Millis {
    FIRST_RETRY
        .saturating_mul(1 << retry.saturating_sub(1).min(30))
        .min(MAX_RETRY_WAIT)
}

/// One event on its way to one registration.
struct Outgoing {
    event_type: String,
    body: Vec<u8>,
}

struct Worker {
    queue: UnboundedSender<Outgoing>,
    stop: CancellationToken,
}

#[derive(Default)]
struct State {
    registry: Registry,
    workers: HashMap<String, Worker>,
}

pub struct Deliveries {
    state: Mutex<State>,
    client: reqwest::Client,
    /// Deliver every event a second time after it was accepted (at-least-once, made visible).
    duplicate_every: AtomicBool,
}

impl Default for Deliveries {
    fn default() -> Self {
        Deliveries {
            state: Mutex::default(),
            client: reqwest::Client::builder()
                .timeout(ATTEMPT_TIMEOUT)
                .build()
                .unwrap_or_default(),
            duplicate_every: AtomicBool::new(false),
        }
    }
}

impl Deliveries {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a registration and starts its worker.
    pub fn register(sim: &Arc<SimContext>, msn: &str, url: &str, events: &[String]) -> Result<Hook, EpError> {
        let mut state = sim.webhooks.lock();
        let hook = state.registry.register(msn, url, events)?;
        let (queue, inbox) = unbounded_channel();
        let stop = CancellationToken::new();
        state.workers.insert(
            hook.registration.id.clone(),
            Worker {
                queue,
                stop: stop.clone(),
            },
        );
        tokio::spawn(work(Arc::clone(sim), hook.clone(), inbox, stop));
        Ok(hook)
    }

    pub fn list(&self, msn: &str) -> Vec<Registration> {
        self.lock().registry.list(msn)
    }

    /// Removes a registration; events still queued for it are not delivered.
    pub fn delete(&self, msn: &str, id: &str) -> Result<(), EpError> {
        let mut state = self.lock();
        state.registry.delete(msn, id)?;
        if let Some(worker) = state.workers.remove(id) {
            worker.stop.cancel();
        }
        Ok(())
    }

    /// Queues a payment event for the registrations of its sales unit that want it.
    pub fn publish_payment_event(&self, msn: &str, event: PaymentEvent) {
        let event_type = payment_event_type(&event.name);
        let body = PaymentWebhookEvent {
            msn: msn.to_string(),
            reference: event.reference,
            psp_reference: event.psp_reference,
            name: event.name,
            amount: event.amount,
            timestamp: event.timestamp,
            idempotency_key: event.idempotency_key,
            success: event.success,
        };
        let body = serde_json::to_vec(&body).unwrap_or_default();
        self.publish(msn, &event_type, &body);
    }

    /// Queues `body` for every registration of `msn` that wants `event_type`.
    pub fn publish(&self, msn: &str, event_type: &str, body: &[u8]) {
        let state = self.lock();
        for hook in state.registry.matching(msn, event_type) {
            if let Some(worker) = state.workers.get(&hook.registration.id) {
                // A closed queue means the registration is being deleted.
                let _ = worker.queue.send(Outgoing {
                    event_type: event_type.to_string(),
                    body: body.to_vec(),
                });
            }
        }
    }

    /// Whether a registration of `msn` wants `event_type`.
    pub fn wants(&self, msn: &str, event_type: &str) -> bool {
        self.lock().registry.matching(msn, event_type).next().is_some()
    }

    pub fn has_registrations(&self) -> bool {
        !self.lock().workers.is_empty()
    }

    pub fn set_duplicate_every(&self, on: bool) {
        self.duplicate_every.store(on, Ordering::SeqCst);
    }

    pub fn duplicate_every(&self) -> bool {
        self.duplicate_every.load(Ordering::SeqCst)
    }

    /// Forgets every registration and stops every worker (`/_sim/reset`).
    pub fn reset(&self) {
        let mut state = self.lock();
        for (_, worker) in state.workers.drain() {
            worker.stop.cancel();
        }
        state.registry = Registry::default();
        self.set_duplicate_every(false);
    }
}

/// Timers (expiry, the capture deadline) log events without any request to the simulator; a
/// listener must get those too, so while anything is registered the ledger's timers are
/// applied every [`CLOCK_LOOK`] of real time.
pub async fn watch_timers(sim: Weak<SimContext>, shutdown: CancellationToken) {
    let look = Duration::from_millis(u64::try_from(CLOCK_LOOK).unwrap_or(50));
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(look) => {}
        }
        let Some(sim) = sim.upgrade() else { return };
        if sim.webhooks.has_registrations() {
            sim.with_epayment(|_, _| ());
        }
    }
}

/// Delivers one registration's events in order until it is deleted.
async fn work(
    sim: Arc<SimContext>,
    hook: Hook,
    mut inbox: UnboundedReceiver<Outgoing>,
    stop: CancellationToken,
) {
    loop {
        let outgoing = tokio::select! {
            _ = stop.cancelled() => return,
            next = inbox.recv() => match next {
                Some(outgoing) => outgoing,
                None => return,
            },
        };
        let first = sim.clock.now();
        let mut retry = 0;
        loop {
            if attempt(&sim, &hook, &outgoing).await {
                if sim.webhooks.duplicate_every() {
                    attempt(&sim, &hook, &outgoing).await;
                }
                break;
            }
            retry += 1;
            let due = sim.clock.now() + retry_wait(retry);
            if due - first > GIVE_UP_AFTER {
                tracing::info!(webhook = %hook.registration.id, event = %outgoing.event_type, "webhook event dropped after a week of failed deliveries");
                break;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = wait_until(&sim, due) => {}
            }
        }
    }
}

/// Waits until the virtual clock reaches `due`, following any advance of it.
async fn wait_until(sim: &SimContext, due: Millis) {
    loop {
        let left = due - sim.clock.now();
        if left <= 0 {
            return;
        }
        let nap = left.min(CLOCK_LOOK);
        tokio::time::sleep(Duration::from_millis(u64::try_from(nap).unwrap_or(0))).await;
    }
}

/// `x-ms-date`: RFC 1123 in GMT, on the virtual clock.
fn http_date(ms: Millis) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// One signed `POST`; true when the receiver answered 2xx.
async fn attempt(sim: &SimContext, hook: &Hook, outgoing: &Outgoing) -> bool {
    let url = &hook.url;
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => return false,
    };
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    };
    let signed = sign(
        &hook.secret,
        &host,
        &path_and_query,
        &http_date(sim.clock.now()),
        &outgoing.body,
    );
    let result = sim
        .webhooks
        .client
        .post(url.clone())
        .header("content-type", "application/json")
        .header("x-ms-date", signed.date)
        .header("x-ms-content-sha256", signed.content_sha256)
        .header("authorization", signed.authorization)
        .body(outgoing.body.clone())
        .send()
        .await;
    match result {
        Ok(answer) if answer.status().is_success() => true,
        Ok(answer) => {
            tracing::debug!(webhook = %hook.registration.id, status = %answer.status(), "webhook delivery refused");
            false
        }
        Err(e) => {
            tracing::debug!(webhook = %hook.registration.id, error = %e, "webhook delivery failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_wait(1), 1_000);
        assert_eq!(retry_wait(2), 2_000);
        assert_eq!(retry_wait(5), 16_000);
        assert_eq!(retry_wait(40), MAX_RETRY_WAIT);
    }

    #[test]
    fn dates_are_rfc_1123() {
        assert_eq!(http_date(1_680_165_512_000), "Thu, 30 Mar 2023 08:38:32 GMT");
    }
}
