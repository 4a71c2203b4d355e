//! Timers and poll delays of the simulated backend. Defaults follow the MobilePay reference
//! (§12.10, §19.3); every value can be changed from the command line so that tests and demos
//! can run faster than a real checkout.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Settings {
    pub token_lifetime: Duration,
    pub payment_poll_delay_ms: u32,
    pub checkin_poll_delay_ms: u32,
    pub refund_poll_delay_ms: u32,
    pub inactivity_timeout: Duration,
    pub reservation_lifetime: Duration,
    pub refund_reserve_delay: Duration,
    pub refund_auto_capture: Duration,
    pub refund_window: Duration,
    pub idempotency_retention: Duration,
    pub checkin_lifetime: Duration,
    /// Sliding lifetime of OIDC refresh tokens: each use restarts it.
    pub oidc_refresh_lifetime: Duration,
}

const DAY: u64 = 24 * 3600;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_lifetime: Duration::from_secs(3700),
            payment_poll_delay_ms: 1000,
            checkin_poll_delay_ms: 1000,
            refund_poll_delay_ms: 1000,
            inactivity_timeout: Duration::from_secs(300),
            reservation_lifetime: Duration::from_secs(7 * DAY),
            refund_reserve_delay: Duration::from_secs(1),
            refund_auto_capture: Duration::from_secs(DAY),
            refund_window: Duration::from_secs(90 * DAY),
            idempotency_retention: Duration::from_secs(DAY),
            checkin_lifetime: Duration::from_secs(300),
            oidc_refresh_lifetime: OIDC_REFRESH_LIFETIME,
        }
    }
}

/// 13 months, counted as 395 days. The reference names 13 months sliding in one place and one
/// year in another; the newer text wins.
pub const OIDC_REFRESH_LIFETIME: Duration = Duration::from_secs(395 * DAY);

/// How long ended payments stay queryable after they end (captured ones: refund window + 1 day).
pub const ENDED_RETENTION: Duration = Duration::from_secs(7 * DAY);
