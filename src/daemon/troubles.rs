//! What keeps each lane from serving fully, for the daemon's systemd status line: a point of
//! sale still registering at MobilePay, a cash-register line that cannot be opened, or a point
//! of sale waiting to be re-created or registered again. All are retried without end, so
//! `systemctl status` is where a shop owner or installer sees what the terminal waits for.
//! The state of each merchant's consent (Invoice, Subscriptions) is shown there too, also when
//! it is fine: a consent that is needed stops no lane, but it must be seen.

use crate::ecr::message::ConsentState;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Troubles(Arc<Inner>);

#[derive(Default)]
struct Inner {
    reasons: Mutex<Reasons>,
    changed: Notify,
}

/// Why each troubled lane waits, by kind of trouble.
#[derive(Default)]
struct Reasons {
    /// Lanes registering their point of sale, with the reason the last attempt failed.
    registering: BTreeMap<String, Option<String>>,
    /// Lanes whose cash-register line cannot be opened, with the reason.
    lines: BTreeMap<String, String>,
    /// Lanes whose point of sale waits to be replaced at MobilePay, with what it waits for.
    points_of_sale: BTreeMap<String, String>,
    /// Each merchant's consent by VAT number.
    consents: BTreeMap<String, ConsentState>,
}

impl Troubles {
    fn update(&self, change: impl FnOnce(&mut Reasons) -> bool) {
        let changed = change(&mut self.0.reasons.lock().unwrap_or_else(|p| p.into_inner()));
        if changed {
            self.0.changed.notify_one();
        }
    }

    fn read<T>(&self, look: impl FnOnce(&Reasons) -> T) -> T {
        look(&self.0.reasons.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The lane is registering its point of sale; `reason` is why the last attempt failed.
    pub fn registering(&self, lane: &str, reason: Option<String>) {
        self.update(|s| s.registering.insert(lane.to_string(), reason.clone()) != Some(reason));
    }

    pub fn registered(&self, lane: &str) {
        self.update(|s| s.registering.remove(lane).is_some());
    }

    /// The lane's cash-register line cannot be opened (`Some(reason)`), or works (`None`).
    pub fn line(&self, lane: &str, problem: Option<String>) {
        self.update(|s| match problem {
            Some(problem) => s.lines.insert(lane.to_string(), problem.clone()) != Some(problem),
            None => s.lines.remove(lane).is_some(),
        });
    }

    /// The lane's point of sale waits to be re-created or registered again (`Some(note)`), or
    /// is settled (`None`).
    pub fn point_of_sale(&self, lane: &str, note: Option<String>) {
        self.update(|s| match note {
            Some(note) => s.points_of_sale.insert(lane.to_string(), note.clone()) != Some(note),
            None => s.points_of_sale.remove(lane).is_some(),
        });
    }

    /// The state of a merchant's consent (`detail`: `ok, refreshed …`, `consent needed (…)`,
    /// `not given`).
    pub fn consent(&self, state: ConsentState) {
        self.update(|s| s.consents.insert(state.merchant.clone(), state.clone()) != Some(state));
    }

    /// Every merchant's consent state, for the cash register's `status`.
    pub fn consents(&self) -> Vec<ConsentState> {
        self.read(|s| s.consents.values().cloned().collect())
    }

    /// The lanes waiting for MobilePay with their last failure, e.g. `till-1 (no token for
    /// merchant DK12345678: cannot connect after 3 attempts)`; `None` when no lane is
    /// registering.
    pub fn waiting_for_mobilepay(&self) -> Option<String> {
        self.read(|s| {
            if s.registering.is_empty() {
                return None;
            }
            let parts: Vec<String> = s
                .registering
                .iter()
                .map(|(lane, reason)| match reason {
                    Some(reason) => format!("{lane} ({reason})"),
                    None => lane.clone(),
                })
                .collect();
            Some(parts.join(", "))
        })
    }

    /// `base` followed by every broken cash-register line and every point of sale waiting to
    /// be replaced, e.g. `serving 1 lane(s): till-1; till-1: cash register link cannot start
    /// (127.0.0.1:7410: Address in use (os error 98)); retrying; till-1: point of sale settings
    /// changed; kept until 2 open payments end`.
    pub fn status(&self, base: &str) -> String {
        self.read(|s| {
            let mut status = base.to_string();
            for (lane, problem) in &s.lines {
                status.push_str(&format!(
                    "; {lane}: cash register link cannot start ({problem}); retrying"
                ));
            }
            for (lane, note) in &s.points_of_sale {
                status.push_str(&format!("; {lane}: {note}"));
            }
            for c in s.consents.values() {
                status.push_str(&format!(
                    "; consent {} ({}): {}",
                    c.merchant,
                    c.products.join(", "),
                    c.detail
                ));
            }
            status
        })
    }

    /// Resolves after the next change (or at once if one happened since the last call).
    pub async fn changed(&self) {
        self.0.changed.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_lanes_waiting_for_mobilepay_and_the_broken_lines() {
        let troubles = Troubles::default();
        assert_eq!(troubles.waiting_for_mobilepay(), None);
        assert_eq!(troubles.status("serving"), "serving");
        troubles.registering("till-2", None);
        troubles.registering("till-1", Some("cannot connect".into()));
        assert_eq!(
            troubles.waiting_for_mobilepay().as_deref(),
            Some("till-1 (cannot connect), till-2")
        );
        troubles.line("till-2", Some("/dev/ttyUSB0: not found".into()));
        assert_eq!(
            troubles.status("starting"),
            "starting; till-2: cash register link cannot start (/dev/ttyUSB0: not found); retrying"
        );
        troubles.registered("till-1");
        troubles.registered("till-2");
        troubles.line("till-2", None);
        assert_eq!(troubles.waiting_for_mobilepay(), None);
        assert_eq!(troubles.status("serving"), "serving");
    }

    #[test]
    fn names_each_point_of_sale_waiting_to_be_replaced() {
        let troubles = Troubles::default();
        troubles.point_of_sale(
            "till-2",
            Some("point of sale unknown to MobilePay; registering it again".into()),
        );
        troubles.point_of_sale("till-1", Some("x".into()));
        assert_eq!(
            troubles.status("serving 2 lane(s): till-1, till-2"),
            "serving 2 lane(s): till-1, till-2; till-1: x; till-2: point of sale unknown to MobilePay; registering it again"
        );
        troubles.point_of_sale("till-1", None);
        troubles.point_of_sale("till-2", None);
        assert_eq!(troubles.status("serving"), "serving");
    }

    #[test]
    fn names_each_merchants_consent_state() {
        let troubles = Troubles::default();
        let state = |state: &str, detail: &str| ConsentState {
            merchant: "DK12345678".into(),
            products: vec!["invoice".into()],
            state: state.into(),
            detail: detail.into(),
        };
        troubles.consent(state("not_given", "not given"));
        troubles.consent(state("ok", "ok, refreshed 2026-12-05 23:00:00 UTC"));
        assert_eq!(
            troubles.consents(),
            vec![state("ok", "ok, refreshed 2026-12-05 23:00:00 UTC")]
        );
        assert_eq!(
            troubles.status("serving"),
            "serving; consent DK12345678 (invoice): ok, refreshed 2026-12-05 23:00:00 UTC"
        );
    }

    #[tokio::test]
    async fn a_change_wakes_the_waiter_and_a_repeat_does_not() {
        let troubles = Troubles::default();
        troubles.line("till-1", Some("busy".into()));
        // The change happened before anyone waited: the next wait returns at once.
        tokio::time::timeout(std::time::Duration::from_secs(5), troubles.changed())
            .await
            .expect("woken");
        troubles.line("till-1", Some("busy".into()));
        let repeat = tokio::time::timeout(std::time::Duration::from_millis(50), troubles.changed()).await;
        assert!(repeat.is_err(), "the same problem again is no change");
    }
}
