//! Who checked in at which lane's printed sticker (Merchant Callback QR), so that a sale for
//! the sticker can be pushed to them.
//!
//! A check-in's `customerToken` is valid 15 minutes (reference §B4), so the registry lives in
//! memory only: after a restart every token it held would be of little use, and a token is a
//! credential of the customer's that has no business on disk. A token is taken up to a minute
//! before it runs out, so the payment is created while it is still good.

use crate::secrets::Secret;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after a check-in its token is used for a sale: the token's 15 minutes less a
/// margin for the create request and a clock that runs apart.
pub const USABLE_FOR: Duration = Duration::from_secs(14 * 60);

/// The latest check-in at each lane's sticker, by lane name; shared by the webhook listener
/// (which records) and the lane's backend (which takes).
#[derive(Debug, Default)]
pub struct CheckIns {
    latest: Mutex<HashMap<String, (Secret, Instant)>>,
}

impl CheckIns {
    /// The customer with `token` checked in at `lane`'s sticker at `at`; an earlier check-in
    /// there is forgotten (the customer now at the till is the latest one).
    pub fn record(&self, lane: &str, token: Secret, at: Instant) {
        self.lock().insert(lane.to_string(), (token, at));
    }

    /// The token of the latest check-in at `lane`'s sticker, if it is younger than
    /// [`USABLE_FOR`] at `now`. It stays there: a create repeated after a lost answer needs
    /// the same customer.
    pub fn latest(&self, lane: &str, now: Instant) -> Option<Secret> {
        let mut latest = self.lock();
        match latest.get(lane) {
            Some((token, at)) if now.saturating_duration_since(*at) < USABLE_FOR => Some(token.clone()),
            Some(_) => {
                latest.remove(lane);
                None
            }
            None => None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Secret, Instant)>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_check_in_of_a_lane_is_used_until_it_is_fourteen_minutes_old() {
        let check_ins = CheckIns::default();
        let start = Instant::now();
        assert_eq!(check_ins.latest("till-1", start), None);
        check_ins.record("till-1", Secret::new("token-a"), start);
        check_ins.record("till-1", Secret::new("token-b"), start + Duration::from_secs(60));
        let token = |at: Duration| {
            check_ins
                .latest("till-1", start + at)
                .map(|t| t.expose().to_string())
        };
        assert_eq!(token(Duration::from_secs(120)).as_deref(), Some("token-b"));
        // Taking it leaves it there for a repeat.
        assert_eq!(token(Duration::from_secs(121)).as_deref(), Some("token-b"));
        assert_eq!(check_ins.latest("till-2", start + Duration::from_secs(120)), None);
        let just_usable = Duration::from_secs(60) + USABLE_FOR - Duration::from_millis(1);
        assert_eq!(token(just_usable).as_deref(), Some("token-b"));
        assert_eq!(token(Duration::from_secs(60) + USABLE_FOR), None);
        // Gone for good once too old.
        assert_eq!(token(Duration::from_secs(61)), None);
    }
}
