//! Poll pacing: never ask a polling endpoint again before its last `pollDelayInMs` has passed.
//!
//! MobilePay throttles clients through `pollDelayInMs` alone (reference §7.4) and blocks client
//! versions that poll too fast. The pacer sits inside the client, below every caller, so no
//! code path (a status loop, a recovery query, an HTTP retry) can poll faster than allowed.
//! Each (endpoint, resource) pair has its own delay. A poll that gets no answer keeps the last
//! delay received for that pair (§7.3: "on timeout just continue polling using the last
//! received `pollDelayInMs`").

use std::{collections::HashMap, sync::Mutex, time::Duration};
use tokio::time::Instant;

/// The polling endpoints of PoS V10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PollEndpoint {
    Payment,
    Refund,
    Checkin,
}

/// The delay assumed before MobilePay has told us one: once per second, as the best practices
/// recommend.
pub const DEFAULT_POLL_DELAY: Duration = Duration::from_millis(1000);

/// Longest delay we honour; a larger `pollDelayInMs` is treated as this (a misbehaving backend
/// must not freeze a checkout for minutes).
pub const MAX_POLL_DELAY: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
struct Slot {
    delay: Duration,
    not_before: Instant,
}

#[derive(Debug, Default)]
pub struct Pacer {
    slots: Mutex<HashMap<(PollEndpoint, String), Slot>>,
    /// The delay of the latest answer from each endpoint, whatever resource it was about.
    latest: Mutex<HashMap<PollEndpoint, Duration>>,
}

impl Pacer {
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// Waits until `id` on `endpoint` may be polled, then books the poll: until its answer
    /// arrives, the next poll must wait the last known delay.
    pub async fn begin(&self, endpoint: PollEndpoint, id: &str) {
        loop {
            let wait_until = {
                let mut slots = self.lock();
                let now = Instant::now();
                let key = (endpoint, id.to_string());
                match slots.get(&key).copied() {
                    Some(slot) if slot.not_before > now => slot.not_before,
                    slot => {
                        let delay = slot.map_or(DEFAULT_POLL_DELAY, |s| s.delay);
                        prune(&mut slots, now);
                        slots.insert(
                            key,
                            Slot {
                                delay,
                                not_before: now + delay,
                            },
                        );
                        return;
                    }
                }
            };
            tokio::time::sleep_until(wait_until).await;
        }
    }

    /// Records the `pollDelayInMs` of an answer: the next poll waits that long from now.
    pub fn answered(&self, endpoint: PollEndpoint, id: &str, poll_delay_ms: u32) {
        let delay = Duration::from_millis(u64::from(poll_delay_ms)).min(MAX_POLL_DELAY);
        self.latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(endpoint, delay);
        self.lock().insert(
            (endpoint, id.to_string()),
            Slot {
                delay,
                not_before: Instant::now() + delay,
            },
        );
    }

    /// `id` was just created on `endpoint`: nobody can have acted on it yet, so its first poll
    /// waits the delay MobilePay asked for in its latest answer on that endpoint, as if `id`
    /// had been polled now. Polling at once would only find what the create answer already
    /// said, one request per payment for nothing. Before any answer has given a delay, the
    /// first poll is not held back.
    pub fn created(&self, endpoint: PollEndpoint, id: &str) {
        let latest = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&endpoint)
            .copied();
        if let Some(delay) = latest {
            self.lock().insert(
                (endpoint, id.to_string()),
                Slot {
                    delay,
                    not_before: Instant::now() + delay,
                },
            );
        }
    }

    /// The poll got no usable answer: the next one waits the last known delay from now.
    pub fn unanswered(&self, endpoint: PollEndpoint, id: &str) {
        let mut slots = self.lock();
        let key = (endpoint, id.to_string());
        let delay = slots.get(&key).map_or(DEFAULT_POLL_DELAY, |s| s.delay);
        slots.insert(
            key,
            Slot {
                delay,
                not_before: Instant::now() + delay,
            },
        );
    }

    /// The delay the next poll of `id` will respect (for status screens and tests).
    pub fn current_delay(&self, endpoint: PollEndpoint, id: &str) -> Option<Duration> {
        self.lock().get(&(endpoint, id.to_string())).map(|s| s.delay)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PollEndpoint, String), Slot>> {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Forgets resources not polled for a long time so a long-running daemon does not grow.
fn prune(slots: &mut HashMap<(PollEndpoint, String), Slot>, now: Instant) {
    const KEEP: Duration = Duration::from_secs(600);
    if slots.len() > 64 {
        slots.retain(|_, slot| slot.not_before + KEEP > now);
    }
}

#[cfg(test)]
mod tests {
    //! Real time, so only lower bounds are asserted: a loaded machine can only make waits longer.
    use super::*;

    #[tokio::test]
    async fn the_delay_of_the_last_answer_is_honoured_per_resource() {
        let pacer = Pacer::new();
        pacer.begin(PollEndpoint::Payment, "p1").await;
        pacer.answered(PollEndpoint::Payment, "p1", 200);
        let t0 = Instant::now();
        pacer.begin(PollEndpoint::Payment, "p1").await;
        assert!(Instant::now() - t0 >= Duration::from_millis(200));
        // Another resource and another endpoint are paced separately: no wait for them.
        let t1 = Instant::now();
        pacer.begin(PollEndpoint::Payment, "p2").await;
        pacer.begin(PollEndpoint::Checkin, "p1").await;
        assert!(Instant::now() - t1 < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn a_new_resource_is_first_polled_after_the_latest_delay_of_its_endpoint() {
        let pacer = Pacer::new();
        // No delay known yet: a new payment may be polled at once.
        pacer.created(PollEndpoint::Payment, "p1");
        let t0 = Instant::now();
        pacer.begin(PollEndpoint::Payment, "p1").await;
        assert!(Instant::now() - t0 < Duration::from_millis(300));
        pacer.answered(PollEndpoint::Payment, "p1", 300);
        pacer.created(PollEndpoint::Payment, "p2");
        let t1 = Instant::now();
        pacer.begin(PollEndpoint::Payment, "p2").await;
        assert!(Instant::now() - t1 >= Duration::from_millis(300));
        // Another endpoint's delay does not hold a new resource back.
        pacer.created(PollEndpoint::Refund, "r1");
        assert_eq!(pacer.current_delay(PollEndpoint::Refund, "r1"), None);
    }

    #[tokio::test]
    async fn an_unanswered_poll_reuses_the_last_delay() {
        let pacer = Pacer::new();
        pacer.begin(PollEndpoint::Refund, "r").await;
        pacer.answered(PollEndpoint::Refund, "r", 150);
        pacer.begin(PollEndpoint::Refund, "r").await;
        pacer.unanswered(PollEndpoint::Refund, "r");
        let t1 = Instant::now();
        pacer.begin(PollEndpoint::Refund, "r").await;
        assert!(Instant::now() - t1 >= Duration::from_millis(150));
        assert_eq!(
            pacer.current_delay(PollEndpoint::Refund, "r"),
            Some(Duration::from_millis(150))
        );
    }

    #[tokio::test]
    async fn a_poll_in_flight_blocks_the_next_for_the_last_delay() {
        let pacer = Pacer::new();
        pacer.begin(PollEndpoint::Payment, "p").await;
        pacer.answered(PollEndpoint::Payment, "p", 100);
        pacer.begin(PollEndpoint::Payment, "p").await;
        let t1 = Instant::now();
        // No answer recorded yet: a concurrent poll still waits the last delay.
        pacer.begin(PollEndpoint::Payment, "p").await;
        assert!(Instant::now() - t1 >= Duration::from_millis(100));
    }

    #[test]
    fn absurd_delays_are_capped_and_unknown_delays_default_to_one_second() {
        let pacer = Pacer::new();
        pacer.answered(PollEndpoint::Checkin, "c", u32::MAX);
        assert_eq!(
            pacer.current_delay(PollEndpoint::Checkin, "c"),
            Some(MAX_POLL_DELAY)
        );
        pacer.unanswered(PollEndpoint::Payment, "new");
        assert_eq!(
            pacer.current_delay(PollEndpoint::Payment, "new"),
            Some(DEFAULT_POLL_DELAY)
        );
    }
}
