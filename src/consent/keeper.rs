//! Keeping each consent alive in the daemon.
//!
//! A refresh token lapses 13 months (one year, by another MobilePay page) after its last use,
//! and a checkout that takes no Invoice or Subscriptions payment for that long would lose it
//! without anyone noticing. So the daemon refreshes every consent at start (which also shows at
//! once whether it still works) and then at least once a day, whether or not anything used it.
//! A network failure is retried with back-off, the in-flight marker kept as it is. While the
//! consent is needed (or was never given) the file is read again every minute, so a consent
//! written by `mposd consent` is picked up without a restart.

use super::driver::{Consent, RefreshError};
use super::store::{Needed, Record, Stored};
use crate::backoff::Backoff;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Twice a day: at least one refresh a day even if one attempt meets an outage.
pub const REFRESH_EVERY: Duration = Duration::from_secs(12 * 3600);
/// How often a missing or dead consent is looked for again in the file.
pub const RECHECK_EVERY: Duration = Duration::from_secs(60);
/// Pauses between failed refreshes.
const RETRY: Backoff = Backoff::jittered(Duration::from_secs(5), Duration::from_secs(3600));

/// When to try again after a refresh's outcome (`failures`: failed attempts in a row).
pub fn next_attempt(outcome: &Result<(), RefreshError>, failures: u32) -> Duration {
    match outcome {
        Ok(()) => REFRESH_EVERY,
        Err(RefreshError::Unavailable(_) | RefreshError::Refused(_)) => RETRY.delay(failures),
        Err(
            RefreshError::NotGiven
            | RefreshError::Damaged(_)
            | RefreshError::ConsentNeeded(_)
            | RefreshError::File(_),
        ) => RECHECK_EVERY,
    }
}

/// Refreshes `consent` until `shutdown`, telling `report` the state after every attempt: a
/// code (`ok`, `consent_needed`, `not_given`, `unknown`) and the words (`ok, refreshed …`,
/// `consent needed (…)`, `not given`, with a failing refresh named).
pub async fn keep(
    consent: Arc<Consent>,
    report: impl Fn(&'static str, String) + Send + 'static,
    shutdown: CancellationToken,
) {
    let mut failures = 0;
    let mut last = None;
    loop {
        let outcome = consent.refresh().await.map(|_| ());
        let (mut condition, mut state) = match consent.file().read() {
            Ok(stored) => {
                if last.as_ref() != Some(&stored) {
                    log_change(&consent.settings().vat, &stored);
                }
                let shown = (stored.condition(), stored.state());
                last = Some(stored);
                shown
            }
            Err(e) => ("unknown", format!("the consent file cannot be read: {e:#}")),
        };
        match &outcome {
            Ok(()) => failures = 0,
            Err(RefreshError::Unavailable(reason) | RefreshError::Refused(reason)) => {
                failures += 1;
                tracing::warn!(merchant = %consent.settings().vat, %reason, "the consent could not be refreshed; retrying");
                state.push_str(&format!("; refresh failing ({reason}), retrying"));
            }
            Err(RefreshError::File(e)) => {
                condition = "unknown";
                state = format!("the consent file cannot be used: {e:#}");
            }
            Err(_) => {}
        }
        report(condition, state);
        let wait = next_attempt(&outcome, failures);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Logs a consent that became unusable, once per change: a lost `OneTime` answer and a damaged
/// file as alarms (someone must act, and nothing else will tell them), the others as errors
/// or a warning.
fn log_change(merchant: &str, stored: &Stored) {
    match stored {
        Stored::Absent => tracing::warn!(%merchant, "no consent is stored for the merchant (mposd consent)"),
        Stored::Damaged => tracing::error!(%merchant,
            "ALARM: consent needed: the consent file is damaged and not trusted; the merchant must give the consent again (mposd consent)"),
        Stored::Valid(Record {
            needed: Some(needed @ Needed::LostAnswer),
            ..
        }) => tracing::error!(%merchant, reason = %needed,
            "ALARM: consent needed: the merchant must give the consent again (mposd consent)"),
        Stored::Valid(Record {
            needed: Some(needed), ..
        }) => tracing::error!(%merchant, reason = %needed,
            "consent needed: the merchant must give the consent again (mposd consent)"),
        Stored::Valid(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshed_twice_a_day_retried_on_failure_rechecked_every_minute_when_needed() {
        assert_eq!(next_attempt(&Ok(()), 0), REFRESH_EVERY);
        assert!(REFRESH_EVERY <= Duration::from_secs(24 * 3600));
        let down = Err(RefreshError::Unavailable("down".into()));
        assert!(next_attempt(&down, 1) <= Duration::from_secs(5));
        assert!(next_attempt(&down, 30) <= Duration::from_secs(3600));
        assert!(next_attempt(&down, 30) >= Duration::from_secs(1800));
        for dead in [
            RefreshError::NotGiven,
            RefreshError::ConsentNeeded(Needed::LostAnswer),
            RefreshError::Damaged("f".into()),
        ] {
            assert_eq!(next_attempt(&Err(dead), 7), RECHECK_EVERY);
        }
    }
}
