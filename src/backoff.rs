//! Exponential back-off: how long to wait before trying again after a failure.
//!
//! Every retry in the daemon (MobilePay calls, token renewal, registering a point of sale,
//! reopening a cash register's device, redrawing a failing display) waits by the same rule:
//! the first pause is `base`, each further one doubles, none is longer than `max`. A jittered
//! back-off then scales the pause by a random factor in [0.5, 1.0], so that many terminals
//! recovering from the same outage do not come back in lockstep.
//!
//! [`Backoff`] is the rule alone, a pure function of the attempt number; [`Pauses`] counts the
//! failures for a loop that only knows "it failed again" or "it worked".

use std::time::Duration;

/// A capped exponential back-off, with or without jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The pause before the first retry.
    pub base: Duration,
    /// No pause is longer than this (before jitter).
    pub max: Duration,
    /// Scale each pause by a random factor in [0.5, 1.0].
    pub jitter: bool,
}

impl Backoff {
    /// `base`, doubled per further attempt up to `max`, the same for every caller.
    pub const fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            jitter: false,
        }
    }

    /// Like [`Backoff::new`], then scaled by a random factor in [0.5, 1.0].
    pub const fn jittered(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            jitter: true,
        }
    }

    /// The pause before retry number `attempt` (1-based; 0 counts as 1), with jitter drawn
    /// from the thread's random generator.
    pub fn delay(&self, attempt: u32) -> Duration {
        let draw = if self.jitter { rand::random::<f64>() } else { 1.0 };
        self.delay_with(attempt, draw)
    }

    /// The pause before retry number `attempt` with the jitter `draw` (in [0, 1], clamped)
    /// given: `min(base * 2^(attempt-1), max)`, scaled by `0.5 + 0.5 * draw` when jittered.
    /// The doubling saturates, so no attempt number overflows.
    pub fn delay_with(&self, attempt: u32, draw: f64) -> Duration {
        let doublings = attempt.saturating_sub(1);
        let exp = self
            .base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max);
        if self.jitter {
            exp.mul_f64(0.5 + 0.5 * draw.clamp(0.0, 1.0))
        } else {
            exp
        }
    }

    /// A fresh run of pauses by this rule.
    pub const fn pauses(self) -> Pauses {
        Pauses {
            backoff: self,
            failures: 0,
        }
    }
}

/// The pauses of one retry loop: growing while attempts fail, short again after a success.
#[derive(Clone, Debug)]
pub struct Pauses {
    backoff: Backoff,
    failures: u32,
}

impl Pauses {
    /// The pause after one more failure.
    pub fn next_pause(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        self.backoff.delay(self.failures)
    }

    /// An attempt worked: the next failure waits `base` again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_from_base_up_to_max() {
        let b = Backoff::new(ms(100), ms(1000));
        let pauses: Vec<_> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(0), ms(100), "attempt 0 counts as the first");
    }

    #[test]
    fn huge_attempt_numbers_stay_at_max() {
        let b = Backoff::new(ms(250), Duration::from_secs(30));
        assert_eq!(b.delay(40), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        let wide = Backoff::new(Duration::from_secs(1), Duration::MAX);
        assert_eq!(
            wide.delay(u32::MAX),
            Duration::from_secs(u64::from(u32::MAX)),
            "the doubling saturates instead of overflowing"
        );
    }

    #[test]
    fn without_jitter_the_draw_is_ignored() {
        let b = Backoff::new(ms(100), ms(1000));
        assert_eq!(b.delay_with(2, 0.0), ms(200));
        assert_eq!(b.delay_with(2, 0.7), ms(200));
    }

    #[test]
    fn jitter_scales_between_half_and_all_of_the_pause() {
        let b = Backoff::jittered(ms(100), ms(1000));
        assert_eq!(b.delay_with(1, 1.0), ms(100));
        assert_eq!(b.delay_with(2, 1.0), ms(200));
        assert_eq!(b.delay_with(3, 1.0), ms(400));
        assert_eq!(b.delay_with(5, 1.0), ms(1000));
        assert_eq!(b.delay_with(40, 1.0), ms(1000));
        assert_eq!(b.delay_with(2, 0.0), ms(100));
        assert_eq!(b.delay_with(2, 0.5), ms(150));
        assert_eq!(b.delay_with(2, 7.0), ms(200), "a draw above 1 is clamped");
        assert_eq!(b.delay_with(2, -1.0), ms(100), "a draw below 0 is clamped");
        for _ in 0..100 {
            let d = b.delay(3);
            assert!(d >= ms(200) && d <= ms(400), "{d:?}");
        }
    }

    #[test]
    fn pauses_grow_to_the_maximum_and_reset() {
        let mut p = Backoff::new(ms(100), ms(500)).pauses();
        let pauses: Vec<_> = (0..5).map(|_| p.next_pause().as_millis()).collect();
        assert_eq!(pauses, vec![100, 200, 400, 500, 500]);
        p.reset();
        assert_eq!(p.next_pause(), ms(100));
    }
}
