//! Read pacing: one payment is never read more often than the API allows.
//!
//! The API allows 120 reads a minute per payment and subscription key, for the payment and its
//! event log each, and answers 429 beyond. The pacer sits inside the client, below every
//! caller, so no code path (a status loop, a recovery, a retry) can read faster: each
//! (endpoint, reference) pair gets one slot per interval, handed out in order.

use std::{collections::HashMap, sync::Mutex, time::Duration};
use tokio::time::Instant;

/// More pairs than this and the pairs whose slots lie in the past are forgotten.
const PRUNE_ABOVE: usize = 1024;

#[derive(Debug)]
pub(crate) struct ReadPacer {
    interval: Duration,
    next: Mutex<HashMap<(&'static str, String), Instant>>,
}

impl ReadPacer {
    /// `interval`: the shortest time between two reads of one pair. 60 s / 120 is 500 ms; a
    /// little more keeps a sliding minute at the API from ever counting 121.
    pub fn new(interval: Duration) -> ReadPacer {
        ReadPacer {
            interval,
            next: Mutex::new(HashMap::new()),
        }
    }

    /// Books the next slot of `reference` on `endpoint` and returns when it starts.
    pub fn reserve(&self, endpoint: &'static str, reference: &str, now: Instant) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if next.len() > PRUNE_ABOVE {
            next.retain(|_, at| *at > now);
        }
        let slot = next.entry((endpoint, reference.to_string())).or_insert(now);
        let at = (*slot).max(now);
        *slot = at + self.interval;
        at
    }

    /// Waits for the next slot of `reference` on `endpoint`.
    pub async fn wait(&self, endpoint: &'static str, reference: &str) {
        let at = self.reserve(endpoint, reference, Instant::now());
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_of_one_payment_are_spaced_and_others_are_not_held_up() {
        let pacer = ReadPacer::new(Duration::from_millis(500));
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(pacer.reserve("get", "ref-1", t0), t0);
        assert_eq!(pacer.reserve("get", "ref-1", t0), t0 + ms(500));
        assert_eq!(pacer.reserve("get", "ref-1", t0 + ms(100)), t0 + ms(1000));
        assert_eq!(pacer.reserve("get", "ref-2", t0), t0);
        assert_eq!(pacer.reserve("events", "ref-1", t0), t0);
        // After a pause the next read may go at once.
        assert_eq!(pacer.reserve("get", "ref-1", t0 + ms(5000)), t0 + ms(5000));
    }

    #[test]
    fn at_most_120_reads_fall_in_any_minute() {
        let pacer = ReadPacer::new(Duration::from_millis(505));
        let t0 = Instant::now();
        let slots: Vec<Instant> = (0..300).map(|_| pacer.reserve("get", "r", t0)).collect();
        for (i, start) in slots.iter().enumerate() {
            let within = slots[i..]
                .iter()
                .take_while(|s| **s <= *start + Duration::from_secs(60))
                .count();
            assert!(within <= 120, "{within} reads in a minute");
        }
    }
}
