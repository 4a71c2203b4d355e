//! The simulator's virtual clock: real time plus an offset that tests and demos can advance,
//! so that a 7-day reservation expiry or a 24-hour refund auto-capture can be observed in
//! milliseconds.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch, on the virtual clock.
pub type Millis = i64;

#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> Millis {
        Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::SeqCst);
    }
}

/// ISO-8601 with offset and seven fractional digits, as MobilePay writes `paymentExpiresAt`.
pub fn format_mobilepay(ms: Millis) -> String {
    let at = datetime(ms);
    let ticks = at.timestamp_subsec_nanos() / 100;
    format!("{}.{ticks:07}+00:00", at.format("%Y-%m-%dT%H:%M:%S"))
}

/// RFC 3339 for the control API.
pub fn format_rfc3339(ms: Millis) -> String {
    datetime(ms).to_rfc3339_opts(SecondsFormat::Millis, false)
}

fn datetime(ms: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_mobilepay() {
        assert_eq!(
            format_mobilepay(1_666_000_000_123),
            "2022-10-17T09:46:40.1230000+00:00"
        );
    }

    #[test]
    fn advancing_moves_now() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(3_600_000);
        assert!(clock.now() - before >= 3_600_000);
        clock.reset();
        assert_eq!(clock.offset_ms(), 0);
    }
}
