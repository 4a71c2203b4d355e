//! The periodic reconciler.
//!
//! Unfinished commands (a capture or cancel that failed, a refund waiting to be paid out, a
//! command answered "unknown") are carried on by their own flows, which retry with back-off up
//! to [`super::flow::Policy::retry_max_ms`] until the backend answers. This sweep adds what no
//! flow owns: it prunes old finished records, cancels stale active payments on the point of
//! sale (best practice: one active payment per PoS, I6), cancels reservations that belong to a
//! command whose decision was "cancel", and reports every other unknown reservation to a person.
//! It never captures anything: only a stored decision may capture (I2).

use super::api::{Command, CommandId, Outcome};
use super::backend::Backend;
use super::backend::{PaymentInfo, PaymentQuery};
use super::clock::now_ms;
use super::core::{Engine, Registry, Running};
use super::record::{Decision, Phase, Record};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(crate) fn spawn<B: Backend>(shared: Arc<Engine<B>>) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(shared.config.reconcile_every).await;
            sweep(&shared, false).await;
        }
    });
}

/// One pass. With `rebuild` (the journal was set aside), reservations without a record get a
/// recovered record so a person can capture or cancel them by command id.
pub(crate) async fn sweep<B: Backend>(shared: &Arc<Engine<B>>, rebuild: bool) {
    prune(shared);
    warn_of_capture_deadlines(shared);
    let capabilities = shared.backend.capabilities();
    if !capabilities.lists_open_payments {
        return;
    }
    let correlation = super::backend::CorrelationId::new();
    let query = PaymentQuery {
        point_of_sale: capabilities.point_of_sale_registered.then(|| shared.pos_id()),
        order_id: None,
        captured: false,
    };
    let ids = match shared.backend.find_payments(correlation, &query).await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::warn!(%error, "reconciler: cannot list the point of sale's payments");
            if rebuild {
                shared.raise_alarm(format!(
                    "open payments could not be rebuilt from MobilePay ({error}); retrying"
                ));
            }
            return;
        }
    };
    // Payments our records knew when the sweep began need no look. A point of sale can have
    // thousands of kept reservations, so this is one pass over the records, not one per payment.
    let known_at_start: HashSet<String> = shared
        .lock()
        .records
        .values()
        .filter_map(|r| r.payment_id.clone())
        .collect();
    for payment_id in ids {
        if known_at_start.contains(&payment_id) {
            continue;
        }
        // The rest is rare: look again, the records may have changed while we waited.
        let (known, lane_held, cancel_order) = {
            let state = shared.lock();
            let known = state
                .records
                .values()
                .any(|r| r.payment_id.as_deref() == Some(payment_id.as_str()));
            let lane_held = state.records.values().any(Record::holds_lane);
            let cancel_orders: Vec<String> = state
                .records
                .values()
                .filter(|r| r.decision == Some(Decision::Cancel) || r.cancel_requested)
                .filter_map(|r| match &r.command {
                    Command::Pay { order_id, .. } | Command::Prepare { order_id } => Some(order_id.clone()),
                    _ => None,
                })
                .collect();
            (known, lane_held, cancel_orders)
        };
        // A payment of a record the engine let go of is ours too; a journal that cannot be
        // read counts as knowing it, so nothing is cancelled on a guess.
        if known
            || shared
                .journal
                .of_payment(&payment_id)
                .map_or(true, |r| !r.is_empty())
        {
            continue;
        }
        let info = match shared.backend.payment(correlation, &payment_id).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, payment = %payment_id, "reconciler: cannot read a payment");
                continue;
            }
        };
        let seen = Unowned {
            lane_held,
            rebuild,
            decided_cancel: cancel_order.contains(&info.order_id),
        };
        match decide(&info, seen) {
            Verdict::Leave => continue,
            Verdict::Cancel => {
                // One key per payment: a later sweep repeating a cancel that got no answer is a
                // replay.
                let key = super::keys::change_key(&payment_id, "cancel unowned", 0);
                match shared.backend.cancel(correlation, &key, &payment_id).await {
                    Ok(()) => tracing::warn!(payment = %payment_id, state = %info.state,
                        "reconciler: cancelled a payment no command drives"),
                    Err(error) => tracing::warn!(%error, payment = %payment_id, "reconciler: cancel failed"),
                }
                continue;
            }
            Verdict::Report => {}
        }
        if rebuild {
            if let Err(error) = adopt_reservation(shared, &info) {
                tracing::error!(%error, "reconciler: cannot record a recovered reservation");
            }
        }
        let first_report = shared.lock().reported.insert(payment_id.clone());
        if first_report {
            shared.raise_alarm(format!(
                "payment {payment_id} (order {}) is reserved at MobilePay but no command owns it; \
                     capture or cancel it{}",
                info.order_id,
                if rebuild {
                    format!(" with command id recovered-{payment_id}")
                } else {
                    String::new()
                }
            ));
        }
    }
}

/// Reports each kept reservation once when its capture deadline comes near: the backend
/// cancels it at the deadline and the sale is lost. It is never captured here (I2).
fn warn_of_capture_deadlines<B: Backend>(shared: &Engine<B>) {
    let lifetime = shared.backend.capabilities().reservation_lifetime_ms;
    let near: Vec<(CommandId, String, u64)> = {
        let state = shared.lock();
        super::pos::near_capture_deadline(state.records.values(), now_ms(), lifetime)
            .into_iter()
            .filter(|(r, _)| !state.reported.contains(&deadline_report(&r.id)))
            .map(|(r, left)| (r.id.clone(), r.payment_id.clone().unwrap_or_default(), left))
            .collect()
    };
    for (id, payment_id, left_ms) in near {
        shared.lock().reported.insert(deadline_report(&id));
        let hours = left_ms / (3600 * 1000);
        shared.raise_alarm(format!(
            "the reservation of command {id} (payment {payment_id}) must be captured or cancelled \
             within {} days {} hours; the backend cancels it after that",
            hours / 24,
            hours % 24
        ));
    }
}

/// The key under which a deadline warning is remembered as given.
fn deadline_report(id: &CommandId) -> String {
    format!("capture deadline {id}")
}

/// What the sweep knows around a payment no record of ours owns.
#[derive(Clone, Copy, Debug)]
struct Unowned {
    /// A command of ours is using the point of sale (its payment may be this one, created by a
    /// request whose answer was lost).
    lane_held: bool,
    /// The journal was rebuilt: nothing of ours can be running.
    rebuild: bool,
    /// A command of ours with this order id was decided "cancel".
    decided_cancel: bool,
}

/// What to do with a payment no record owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Leave,
    Cancel,
    /// A reservation a person must capture or cancel (recorded as recovered after a rebuild).
    Report,
}

/// The sweep's rule (I2, I6): an open payment no command drives is cancelled (unless a
/// command of ours holds the lane and may be about to find it as its own); a reservation is
/// cancelled only when our decision for its order was "cancel", otherwise a person decides.
/// Nothing is ever captured here.
fn decide(info: &PaymentInfo, seen: Unowned) -> Verdict {
    if (info.state.is_open() && (!seen.lane_held || seen.rebuild))
        || (info.state.is_reserved() && seen.decided_cancel)
    {
        Verdict::Cancel
    } else if info.state.is_reserved() {
        Verdict::Report
    } else {
        Verdict::Leave
    }
}

/// Records a reservation found at MobilePay after the journal was lost, answered as kept, so
/// that `Capture`/`Cancel` with target `recovered-<paymentId>` can finish it.
fn adopt_reservation<B: Backend>(
    shared: &Engine<B>,
    info: &super::backend::PaymentInfo,
) -> Result<(), super::api::EngineError> {
    let Ok(id) = CommandId::new(format!("recovered-{}", info.payment_id)) else {
        return Ok(());
    };
    if shared.lock().records.contains_key(&id) {
        return Ok(());
    }
    let amount = info.amount.unwrap_or_default();
    let currency = info.currency.unwrap_or(crate::money::Currency::DKK);
    let mut record = Record::new(
        id,
        Command::Pay {
            amount,
            currency,
            order_id: info.order_id.clone(),
            keep_reservation: true,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        },
        shared.pos_id(),
        now_ms(),
    );
    let outcome: Outcome = recovered_reservation(
        &info.payment_id,
        amount,
        currency,
        info.partial_capture_possible.unwrap_or(false),
    );
    record.payment_id = Some(info.payment_id.clone());
    record.reserved = Some(amount);
    record.partial_capture_possible = info.partial_capture_possible;
    record.outcome = Some(outcome);
    record.answered = true;
    record.phase = Phase::Done;
    shared.store(&record)
}

/// How many journal records one sweep looks at for pruning: a sweep costs the same whatever
/// the journal's size, and successive sweeps cover the whole journal.
const PRUNE_STEP: usize = 2_000;

/// One step of pruning the journal (see [`super::journal::Journal::prune_step`]), then lets go
/// of the records the engine no longer needs to hold.
fn prune<B: Backend>(shared: &Engine<B>) {
    let retention = shared.config.retention;
    let cutoff = now_ms().saturating_sub(u64::try_from(retention.as_millis()).unwrap_or(u64::MAX));
    let from = shared.lock().prune_from.take();
    match shared.journal.prune_step(from.as_deref(), PRUNE_STEP, cutoff) {
        Ok((removed, next)) => {
            let mut state = shared.lock();
            state.prune_from = next;
            for id in &removed {
                // A record rewritten since the journal let go of it stays.
                if state
                    .records
                    .get(id)
                    .is_some_and(|r| r.is_finished() && r.updated_at_ms < cutoff)
                {
                    state.records.remove(id);
                }
            }
            drop(state);
            if !removed.is_empty() {
                tracing::info!(
                    removed = removed.len(),
                    "pruned finished journal records past their retention"
                );
            }
        }
        Err(error) => tracing::warn!(error = %format!("{error:#}"), "cannot prune the journal"),
    }
    let mut state = shared.lock();
    let Registry { records, running, .. } = &mut *state;
    let before = records.len();
    release_history(records, running);
    let released = before - records.len();
    if released > 0 {
        tracing::debug!(released, "finished journal records left to the journal");
    }
}

/// Lets go of the records that are history: answered, with no work left, no flow running, no
/// cancel decided, and of a payment no record with work left belongs to. They stay in the
/// journal, which admission and queries read when a command names one, so the engine's memory
/// follows the open work rather than months of trading.
fn release_history(records: &mut HashMap<CommandId, Record>, running: &HashMap<CommandId, Running>) {
    let open_payments: HashSet<String> = records
        .values()
        .filter(|r| r.is_open_work())
        .filter_map(|r| r.payment_id.clone())
        .collect();
    records.retain(|id, r| {
        r.is_open_work()
            || !r.answered
            || running.contains_key(id)
            || r.decision == Some(Decision::Cancel)
            || r.cancel_requested
            || r.payment_id.as_ref().is_some_and(|p| open_payments.contains(p))
    });
}

/// A recovered outcome for a reservation found at MobilePay without a journal record.
pub(crate) fn recovered_reservation(
    payment_id: &str,
    amount: crate::money::Minor,
    currency: crate::money::Currency,
    partial: bool,
) -> Outcome {
    Outcome::Reserved {
        payment_id: payment_id.to_string(),
        amount,
        currency,
        partial_capture_possible: partial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::backend::{Amounts, PaymentState};
    use crate::money::Minor;

    fn payment(state: PaymentState) -> PaymentInfo {
        PaymentInfo {
            payment_id: "p-1".into(),
            order_id: "o-1".into(),
            state,
            amount: Some(Minor(100)),
            currency: None,
            loyalty_ids: None,
            customer_token: None,
            customer_receipt_token: None,
            partial_capture_possible: None,
            poll_delay_ms: 1000,
            prompt: None,
        }
    }

    fn reserved() -> PaymentState {
        PaymentState::Authorized(Amounts {
            authorized: Minor(100),
            ..Amounts::default()
        })
    }

    const QUIET: Unowned = Unowned {
        lane_held: false,
        rebuild: false,
        decided_cancel: false,
    };

    #[test]
    fn an_open_payment_nobody_drives_is_cancelled_unless_our_lane_may_own_it() {
        let waiting = payment(PaymentState::WaitingForCustomer);
        assert_eq!(decide(&waiting, QUIET), Verdict::Cancel);
        let held = Unowned {
            lane_held: true,
            ..QUIET
        };
        assert_eq!(decide(&waiting, held), Verdict::Leave);
        let rebuilt = Unowned {
            rebuild: true,
            ..held
        };
        assert_eq!(decide(&waiting, rebuilt), Verdict::Cancel);
    }

    #[test]
    fn a_reservation_is_cancelled_only_after_our_cancel_decision_and_never_captured() {
        assert_eq!(decide(&payment(reserved()), QUIET), Verdict::Report);
        let decided = Unowned {
            decided_cancel: true,
            ..QUIET
        };
        assert_eq!(decide(&payment(reserved()), decided), Verdict::Cancel);
    }

    #[test]
    fn ended_payments_are_left_alone() {
        let captured = PaymentState::Authorized(Amounts {
            authorized: Minor(100),
            captured: Minor(100),
            ..Amounts::default()
        });
        for state in [captured, PaymentState::Expired, PaymentState::Cancelled] {
            let decided = Unowned {
                decided_cancel: true,
                ..QUIET
            };
            assert_eq!(decide(&payment(state), decided), Verdict::Leave);
        }
    }
}
