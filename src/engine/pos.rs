//! The point of sale an engine serves, and what of ours is still open on it.
//!
//! A lane keeps its engine and journal when its point of sale is replaced at MobilePay
//! (re-created because its settings changed, or registered again after it disappeared). Every
//! journal record keeps the point of sale it started on, so work begun on the old one finishes
//! there (MobilePay lets reserved payments of a deleted point of sale be captured or
//! cancelled); new payments, what the customer is shown and the reconciler's sweep follow the lane to
//! the new one.
//!
//! MobilePay's best practice is to delete a point of sale only after its payments are captured
//! or cancelled. MobilePay lists the payments active or reserved on it, but only our journal
//! knows a payment whose create is still on its way, so [`open_payments`] answers from the
//! journal and the daemon asks both before a deletion.

use super::api::{CommandKind, EventKind, Outcome, PosRequest};
use super::backend::Backend;
use super::core::Engine;
use super::flow::Policy;
use super::record::{Phase, Record};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The binding has its own lock, taken alone and never while waiting for another, so it can be
/// read where the engine's state is locked (a command refused while its checks hold that lock).
/// Retiring and checking for open payments need no common lock: both happen in the engine's one
/// task that also accepts commands, so no command can slip in between.
impl<B: Backend> Engine<B> {
    fn binding(&self) -> std::sync::MutexGuard<'_, super::core::Binding> {
        self.pos.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The point of sale new payments start on.
    pub(crate) fn pos_id(&self) -> String {
        self.binding().pos_id.clone()
    }

    /// Why new payments are refused now, if they are.
    pub(crate) fn retiring(&self) -> Option<String> {
        self.binding().retiring.clone()
    }

    /// The flows' policy, with the backend's capabilities and the prompt of the point of sale
    /// served now.
    pub(crate) fn policy(&self) -> Policy {
        Policy {
            capabilities: self.backend.capabilities().clone(),
            prompt: self.binding().prompt.clone(),
            invoices: self.backend.invoicing().map(super::backend::Invoicing::rules),
            agreements: self.backend.agreements().map(super::backend::Agreements::rules),
            ..self.config.policy.clone()
        }
    }
}

/// Answers a request of the daemon about the point of sale. Runs in the engine's accepting
/// task.
pub(crate) fn handle<B: Backend>(shared: &Engine<B>, request: PosRequest) {
    match request {
        PosRequest::OpenPayments { reply } => {
            let _ = reply.send(open_now(shared));
        }
        PosRequest::Retire { reason, reply } => {
            shared.binding().retiring = Some(reason);
            let _ = reply.send(open_now(shared));
        }
        PosRequest::MoveTo {
            pos_id,
            prompt,
            reply,
        } => {
            let (moved, prompt_changed) = {
                let mut binding = shared.binding();
                let moved = binding.pos_id != pos_id;
                let prompt_changed = binding.prompt.as_ref() != Some(&prompt);
                *binding = super::core::Binding {
                    pos_id: pos_id.clone(),
                    prompt: Some(prompt.clone()),
                    retiring: None,
                };
                (moved, prompt_changed)
            };
            if moved {
                tracing::info!(pos_id = %pos_id, "the lane serves a new point of sale");
            }
            // Before the reply: whoever waits for the move finds the news already on the lane.
            if prompt_changed {
                shared.emit(None, EventKind::PromptChanged { prompt });
            }
            let _ = reply.send(());
        }
        PosRequest::Alarm { detail } => shared.raise_alarm(detail),
    }
}

fn open_now<B: Backend>(shared: &Engine<B>) -> Vec<String> {
    let pos_id = shared.pos_id();
    let state = shared.lock();
    open_payments(
        state.records.values(),
        &pos_id,
        super::clock::now_ms(),
        shared.backend.capabilities().reservation_lifetime_ms,
    )
}

/// Whether `event` is a payment refused because the backend does not know the point of sale:
/// it was deleted behind our back.
pub fn is_point_of_sale_gone(event: &EventKind) -> bool {
    matches!(
        event,
        EventKind::Finished {
            outcome: Outcome::Rejected {
                code: super::api::RejectCode::PointOfSaleNotFound,
                ..
            }
        }
    )
}

/// Our payments open on `pos_id` at `now_ms`, sorted: the payment id, or the command id while
/// the payment is not created yet.
///
/// Open are: payment commands still running (a create, a poll, a capture or cancel of a
/// payment); a prepared payment waiting for its amount; and a reservation answered as kept
/// (`Reserved`) that no capture or cancel has ended yet and that the backend has not expired
/// (it ends an uncaptured reservation after `reservation_lifetime_ms`, even if nobody told the
/// journal). A capture or cancel command belongs to the point of sale of the payment it acts on.
pub fn open_payments<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    pos_id: &str,
    now_ms: u64,
    reservation_lifetime_ms: u64,
) -> Vec<String> {
    let records: Vec<&Record> = records.into_iter().collect();
    let payment_kind = |r: &Record| {
        matches!(
            r.kind(),
            CommandKind::Pay
                | CommandKind::Prepare
                | CommandKind::Ready
                | CommandKind::Capture
                | CommandKind::Cancel
        )
    };
    // Where each payment lives: the point of sale of the command that created it.
    let home: HashMap<&str, &str> = records
        .iter()
        .filter(|r| matches!(r.kind(), CommandKind::Pay | CommandKind::Prepare))
        .filter_map(|r| Some((r.payment_id.as_deref()?, r.pos_id.as_str())))
        .collect();
    let on_pos = |r: &Record| match r.payment_id.as_deref().and_then(|p| home.get(p)) {
        Some(home) => *home == pos_id,
        None => r.pos_id == pos_id,
    };
    let ended = ended_payments(&records);
    let mut open = BTreeSet::new();
    for record in records.iter().filter(|r| payment_kind(r) && on_pos(r)) {
        let name = || record.payment_id.clone().unwrap_or_else(|| record.id.to_string());
        let kept = is_kept(record, &ended, now_ms, reservation_lifetime_ms);
        if !record.is_finished() || record.holds_lane() || kept {
            open.insert(name());
        }
    }
    open.into_iter().collect()
}

/// The payments some command of ours captured, declined or cancelled.
fn ended_payments<'a>(records: &[&'a Record]) -> HashSet<&'a str> {
    records
        .iter()
        .filter(|r| r.phase == Phase::Done)
        .filter(|r| {
            matches!(
                r.outcome,
                Some(Outcome::Captured { .. } | Outcome::Declined { .. } | Outcome::Cancelled { .. })
            )
        })
        .filter_map(|r| r.payment_id.as_deref())
        .collect()
}

/// A reservation answered as kept that no capture or cancel has ended and that the backend has
/// not ended by its lifetime yet.
fn is_kept(record: &Record, ended: &HashSet<&str>, now_ms: u64, reservation_lifetime_ms: u64) -> bool {
    record.phase == Phase::Done
        && matches!(record.outcome, Some(Outcome::Reserved { .. }))
        && now_ms.saturating_sub(record.updated_at_ms) < reservation_lifetime_ms
        && !record.payment_id.as_deref().is_some_and(|p| ended.contains(p))
}

/// How long before the backend ends an uncaptured reservation a person is warned: three days,
/// or half the lifetime where it is shorter than six days. Long enough to capture over a weekend.
pub fn capture_warning_ms(reservation_lifetime_ms: u64) -> u64 {
    (3 * 24 * 3600 * 1000).min(reservation_lifetime_ms / 2)
}

/// Kept reservations whose capture deadline is nearer than [`capture_warning_ms`] at `now_ms`:
/// `(command, payment, milliseconds left)`, oldest first. Only a person may capture them (I2);
/// the reconciler reports them.
pub fn near_capture_deadline<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    now_ms: u64,
    reservation_lifetime_ms: u64,
) -> Vec<(&'a Record, u64)> {
    let records: Vec<&Record> = records.into_iter().collect();
    let ended = ended_payments(&records);
    let warn_at = reservation_lifetime_ms.saturating_sub(capture_warning_ms(reservation_lifetime_ms));
    let mut near: Vec<(&Record, u64)> = records
        .iter()
        .filter(|r| is_kept(r, &ended, now_ms, reservation_lifetime_ms))
        .filter_map(|r| {
            let age = now_ms.saturating_sub(r.updated_at_ms);
            (age >= warn_at).then(|| (*r, reservation_lifetime_ms - age))
        })
        .collect();
    near.sort_by_key(|(_, left)| *left);
    near
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::api::{Command, CommandId, CustomerInfo};
    use crate::money::{Currency, Minor};

    const LIFETIME: u64 = 7 * 24 * 3600 * 1000;
    const NOW: u64 = 10 * LIFETIME;

    fn pay(id: &str, pos: &str, keep: bool) -> Record {
        Record::new(
            CommandId::new(id).unwrap(),
            Command::Pay {
                amount: Minor(100),
                currency: Currency::DKK,
                order_id: format!("order-{id}"),
                keep_reservation: keep,
                restrictions: None,
                label: None,
                payer: Default::default(),
                order_lines: Vec::new(),
            },
            pos.into(),
            NOW,
        )
    }

    fn done(mut record: Record, payment_id: &str, outcome: Outcome) -> Record {
        record.payment_id = Some(payment_id.into());
        record.phase = Phase::Done;
        record.outcome = Some(outcome);
        record.answered = true;
        record
    }

    fn reserved(payment_id: &str) -> Outcome {
        Outcome::Reserved {
            payment_id: payment_id.into(),
            amount: Minor(100),
            currency: Currency::DKK,
            partial_capture_possible: false,
        }
    }

    fn captured(payment_id: &str) -> Outcome {
        Outcome::Captured {
            payment_id: payment_id.into(),
            amount: Minor(100),
            currency: Currency::DKK,
        }
    }

    fn capture(id: &str, target: &str, pos: &str) -> Record {
        Record::new(
            CommandId::new(id).unwrap(),
            Command::Capture {
                target: CommandId::new(target).unwrap(),
                amount: None,
            },
            pos.into(),
            NOW,
        )
    }

    #[test]
    fn running_payments_and_kept_reservations_are_open_until_captured() {
        let running = pay("sale-1", "pos-a", false);
        let kept = done(pay("sale-2", "pos-a", true), "pay-2", reserved("pay-2"));
        let sold = done(pay("sale-3", "pos-a", false), "pay-3", captured("pay-3"));
        let records = [running.clone(), kept.clone(), sold];
        assert_eq!(
            open_payments(&records, "pos-a", NOW, LIFETIME),
            ["pay-2", "sale-1"]
        );
        assert!(open_payments(&records, "pos-b", NOW, LIFETIME).is_empty());

        // A capture under way keeps it open; once done, the reservation has ended.
        let mut capturing = capture("cap-2", "sale-2", "pos-a");
        capturing.payment_id = Some("pay-2".into());
        let records = [kept.clone(), capturing.clone()];
        assert_eq!(open_payments(&records, "pos-a", NOW, LIFETIME), ["pay-2"]);
        let records = [kept.clone(), done(capturing, "pay-2", captured("pay-2"))];
        assert!(open_payments(&records, "pos-a", NOW, LIFETIME).is_empty());
    }

    #[test]
    fn a_capture_counts_on_the_point_of_sale_of_its_payment() {
        // The lane moved to pos-b after the reservation was made on pos-a.
        let kept = done(pay("sale-1", "pos-a", true), "pay-1", reserved("pay-1"));
        let mut capturing = capture("cap-1", "sale-1", "pos-b");
        capturing.payment_id = Some("pay-1".into());
        let records = [kept, capturing];
        assert_eq!(open_payments(&records, "pos-a", NOW, LIFETIME), ["pay-1"]);
        assert!(open_payments(&records, "pos-b", NOW, LIFETIME).is_empty());
    }

    #[test]
    fn refused_captures_keep_it_open_and_expired_reservations_do_not() {
        let kept = done(pay("sale-1", "pos-a", true), "pay-1", reserved("pay-1"));
        let refused = done(
            capture("cap-1", "sale-1", "pos-a"),
            "pay-1",
            Outcome::PartialCaptureRefused {
                payment_id: "pay-1".into(),
                reserved: Minor(100),
                requested: Minor(50),
            },
        );
        assert_eq!(
            open_payments(&[kept.clone(), refused], "pos-a", NOW, LIFETIME),
            ["pay-1"]
        );
        let mut old = kept;
        old.updated_at_ms = NOW - LIFETIME;
        assert!(open_payments(&[old], "pos-a", NOW, LIFETIME).is_empty());
    }

    #[test]
    fn a_prepared_payment_waiting_for_its_amount_is_open() {
        let prepare = Record::new(
            CommandId::new("prep-1").unwrap(),
            Command::Prepare {
                order_id: "o-1".into(),
            },
            "pos-a".into(),
            NOW,
        );
        let paired = done(
            prepare,
            "pay-1",
            Outcome::Paired {
                payment_id: "pay-1".into(),
                customer: CustomerInfo::default(),
            },
        );
        assert_eq!(open_payments(&[paired], "pos-a", NOW, LIFETIME), ["pay-1"]);
    }

    #[test]
    fn only_a_refused_payment_for_an_unknown_point_of_sale_means_it_is_gone() {
        let refused = |code| EventKind::Finished {
            outcome: Outcome::Rejected {
                code,
                message: String::new(),
            },
        };
        assert!(is_point_of_sale_gone(&refused(
            super::super::api::RejectCode::PointOfSaleNotFound
        )));
        assert!(!is_point_of_sale_gone(&refused(
            super::super::api::RejectCode::LaneBusy
        )));
        assert!(!is_point_of_sale_gone(&EventKind::BackendOffline));
    }

    #[test]
    fn kept_reservations_are_reported_three_days_before_their_capture_deadline() {
        const DAY: u64 = 24 * 3600 * 1000;
        let kept = done(pay("sale-1", "pos-a", true), "pay-1", reserved("pay-1"));
        let taken = done(pay("sale-2", "pos-a", true), "pay-2", reserved("pay-2"));
        let capture = done(capture("cap-2", "sale-2", "pos-a"), "pay-2", captured("pay-2"));
        let records = [kept, taken, capture];
        let near = |age: u64, lifetime: u64| -> Vec<(String, u64)> {
            near_capture_deadline(&records, NOW + age, lifetime)
                .into_iter()
                .map(|(r, left)| (r.id.to_string(), left))
                .collect()
        };
        assert!(near(11 * DAY - 1, 14 * DAY).is_empty());
        assert_eq!(near(11 * DAY, 14 * DAY), vec![("sale-1".to_string(), 3 * DAY)]);
        assert_eq!(near(14 * DAY - 1, 14 * DAY), vec![("sale-1".to_string(), 1)]);
        assert!(near(14 * DAY, 14 * DAY).is_empty(), "ended by the backend");
        // A short lifetime is warned about at its half.
        assert!(near(2 * DAY - 1, 4 * DAY).is_empty());
        assert_eq!(near(2 * DAY, 4 * DAY).len(), 1);
    }
}
