//! Start-up: resume every unfinished command from the journal before new commands are taken
//! (invariant I5: the backend is the truth, so each resumed flow re-queries or replays its
//! create with the stored key, and a key older than the backend's retention is never replayed).

use super::api::{Command, CommandId};
use super::backend::Backend;
use super::core::Engine;
use super::journal::SetAside;
use super::reconciler;
use super::record::{Phase, Record};
use super::runner::{follow_cancel_target, spawn_flow};
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) async fn recover<B: Backend>(
    shared: &Arc<Engine<B>>,
    set_aside: Option<SetAside>,
) -> anyhow::Result<()> {
    let loaded = shared.journal.load_open()?;
    {
        let mut state = shared.lock();
        for record in &loaded.records {
            state.records.insert(record.id.clone(), record.clone());
        }
        for (key, _) in &loaded.corrupt {
            state.corrupt.insert(key.clone());
        }
    }
    for (key, error) in &loaded.corrupt {
        shared.raise_alarm(format!(
            "the journal record of command {key} is unreadable ({error}); check its payment at MobilePay"
        ));
    }
    match (&set_aside, &shared.doubt) {
        // Raised below, with where the journal went.
        (Some(_), _) => {}
        (None, Some(doubt)) if shared.in_doubt() => shared.raise_alarm(format!(
            "the payment journal was rebuilt after damage ({}); commands it no longer knows \
                 are answered \"in doubt\" until {} days after the rebuild",
            doubt.reason,
            shared.config.doubt_window.as_secs() / 86_400
        )),
        _ => {}
    }
    if let Some(aside) = &set_aside {
        shared.raise_alarm(format!(
            "the payment journal was damaged ({}) and was moved to {}; open payments were \
                 rebuilt from MobilePay, reservations are kept for a person to capture or cancel, \
                 and commands it no longer knows are answered \"in doubt\"",
            aside.reason,
            aside.path.display()
        ));
    }

    let plan = {
        let state = shared.lock();
        plan(&state.records)
    };
    for target in &plan.mark_cancelled {
        let target_record = shared.lock().records.get(target).cloned();
        if let Some(mut t) = target_record {
            t.cancel_requested = true;
            shared.store(&t)?;
        }
    }
    shared.durable().await.map_err(anyhow::Error::from)?;
    tracing::info!(count = plan.resume.len(), "resuming unfinished commands");
    for id in &plan.resume {
        let record = shared.lock().records.get(id).cloned();
        if let Some(record) = record {
            spawn_flow(shared.clone(), record, Vec::new());
        }
    }
    for (id, target) in plan.pending_cancels {
        follow_cancel_target(shared, &id, &target);
    }
    // Best practice at start: payments left active on the point of sale that no resumed flow
    // drives are cancelled; after a lost journal, reservations are rebuilt (never captured).
    reconciler::sweep(shared, set_aside.is_some()).await;
    Ok(())
}

/// What start-up does with the journal's records, decided before anything runs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Resumption {
    /// Commands whose cancel was accepted before the crash: marked before any flow resumes,
    /// so a resumed flow can never capture what was to be cancelled (I2).
    mark_cancelled: Vec<CommandId>,
    /// Unfinished commands, resumed in order.
    resume: Vec<CommandId>,
    /// Cancel commands still waiting for their target: (cancel, target).
    pending_cancels: Vec<(CommandId, CommandId)>,
}

/// Decides the start-up. A target already capturing is not marked: the capture was decided
/// and stored first, so it goes on and the cancel is answered from its outcome.
fn plan(records: &HashMap<CommandId, Record>) -> Resumption {
    let mut ids: Vec<&CommandId> = records.keys().collect();
    ids.sort();
    let mut plan = Resumption::default();
    for id in ids {
        let record = &records[id];
        if let (Phase::AwaitTarget, Command::Cancel { target }) = (&record.phase, &record.command) {
            plan.pending_cancels.push((id.clone(), target.clone()));
            let markable = records
                .get(target)
                .is_some_and(|t| !t.is_finished() && !t.cancel_requested && t.phase != Phase::Capture);
            if markable && !plan.mark_cancelled.contains(target) {
                plan.mark_cancelled.push(target.clone());
            }
        }
        if !record.is_finished() {
            plan.resume.push(id.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{Currency, Minor};

    fn record(id: &str, command: Command, phase: Phase) -> Record {
        let mut r = Record::new(CommandId::new(id).unwrap(), command, "pos-1".into(), 0);
        r.phase = phase;
        r
    }

    fn sale(id: &str, phase: Phase) -> Record {
        let pay = Command::Pay {
            amount: Minor(100),
            currency: Currency::DKK,
            order_id: format!("o-{id}"),
            keep_reservation: false,
            restrictions: None,
            label: None,
            payer: Default::default(),
            order_lines: Vec::new(),
        };
        record(id, pay, phase)
    }

    fn cancel(id: &str, target: &str) -> Record {
        let command = Command::Cancel {
            target: CommandId::new(target).unwrap(),
        };
        record(id, command, Phase::AwaitTarget)
    }

    fn books(records: Vec<Record>) -> HashMap<CommandId, Record> {
        records.into_iter().map(|r| (r.id.clone(), r)).collect()
    }

    fn ids(list: &[&str]) -> Vec<CommandId> {
        list.iter().map(|s| CommandId::new(*s).unwrap()).collect()
    }

    #[test]
    fn a_pending_cancel_is_marked_on_its_target_before_anything_resumes() {
        let plan = plan(&books(vec![sale("sale-1", Phase::Poll), cancel("x-1", "sale-1")]));
        assert_eq!(plan.mark_cancelled, ids(&["sale-1"]));
        assert_eq!(plan.resume, ids(&["sale-1", "x-1"]));
        assert_eq!(
            plan.pending_cancels,
            vec![(ids(&["x-1"])[0].clone(), ids(&["sale-1"])[0].clone())]
        );
    }

    #[test]
    fn a_capture_already_decided_is_not_turned_into_a_cancel() {
        let plan = plan(&books(vec![
            sale("sale-1", Phase::Capture),
            cancel("x-1", "sale-1"),
        ]));
        assert!(plan.mark_cancelled.is_empty());
        assert_eq!(plan.resume, ids(&["sale-1", "x-1"]));
    }

    #[test]
    fn finished_commands_and_missing_targets_are_left_alone() {
        let plan = plan(&books(vec![
            sale("sale-1", Phase::Done),
            cancel("x-1", "sale-1"),
            cancel("x-2", "gone"),
            cancel("x-3", "sale-1"),
        ]));
        assert!(plan.mark_cancelled.is_empty());
        assert_eq!(plan.resume, ids(&["x-1", "x-2", "x-3"]));
    }
}
