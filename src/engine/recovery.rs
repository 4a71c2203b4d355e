//! Start-up: resume every unfinished command from the journal before new commands are taken
//! (invariant I5: the backend is the truth, so each resumed flow re-queries or replays its
//! create with the stored key, and a key older than the backend's retention is never replayed).

use super::api::{Command, EventKind, Outcome};
use super::backend::Backend;
use super::driver::{follow_cancel_target, spawn_flow, Shared};
use super::journal::SetAside;
use super::reconciler;
use super::record::Phase;
use std::sync::Arc;

pub(crate) async fn recover<B: Backend>(
    shared: &Arc<Shared<B>>,
    set_aside: Option<SetAside>,
) -> anyhow::Result<()> {
    let loaded = shared.journal.load()?;
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
        raise_alarm(
            shared,
            format!(
                "the journal record of command {key} is unreadable ({error}); check its payment at MobilePay"
            ),
        );
    }
    match (&set_aside, &shared.doubt) {
        // Raised below, with where the journal went.
        (Some(_), _) => {}
        (None, Some(doubt)) if shared.in_doubt() => raise_alarm(
            shared,
            format!(
                "the payment journal was rebuilt after damage ({}); commands it no longer knows \
                 are answered \"in doubt\" until {} days after the rebuild",
                doubt.reason,
                shared.config.doubt_window.as_secs() / 86_400
            ),
        ),
        _ => {}
    }
    if let Some(aside) = &set_aside {
        raise_alarm(
            shared,
            format!(
                "the payment journal was damaged ({}) and was moved to {}; open payments were \
                 rebuilt from MobilePay, reservations are kept for a person to capture or cancel, \
                 and commands it no longer knows are answered \"in doubt\"",
                aside.reason,
                aside.path.display()
            ),
        );
    }

    // A cancel that was accepted before the crash must win over a capture the resumed flow
    // might otherwise start: mark its target before anything runs.
    let pending_cancels: Vec<_> = loaded
        .records
        .iter()
        .filter(|r| r.phase == Phase::AwaitTarget)
        .filter_map(|r| match &r.command {
            Command::Cancel { target } => Some((r.id.clone(), target.clone())),
            _ => None,
        })
        .collect();
    for (_, target) in &pending_cancels {
        let target_record = shared.lock().records.get(target).cloned();
        if let Some(mut t) = target_record {
            if !t.is_finished() && !t.cancel_requested && t.phase != Phase::Capture {
                t.cancel_requested = true;
                shared.store(&t)?;
            }
        }
    }
    shared.durable().await.map_err(anyhow::Error::from)?;

    let unfinished: Vec<_> = shared
        .lock()
        .records
        .values()
        .filter(|r| !r.is_finished())
        .cloned()
        .collect();
    tracing::info!(count = unfinished.len(), "resuming unfinished commands");
    for record in unfinished {
        spawn_flow(shared.clone(), record, Vec::new());
    }
    for (id, target) in pending_cancels {
        follow_cancel_target(shared, &id, &target);
    }
    // Best practice at start: payments left active on the point of sale that no resumed flow
    // drives are cancelled; after a lost journal, reservations are rebuilt (never captured).
    reconciler::sweep(shared, set_aside.is_some()).await;
    Ok(())
}

/// Something a person must look at: logged, kept for [`crate::engine::EngineHandle::alarms`],
/// and announced on the lane.
pub(crate) fn raise_alarm<B: Backend>(shared: &Shared<B>, detail: String) {
    tracing::error!(alarm = %detail, "payment engine alarm");
    shared.lock().alarms.push(detail.clone());
    shared.emit(
        None,
        EventKind::NeedsHuman {
            payment_id: None,
            detail,
        },
    );
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
