//! The journal checked whole once the engine runs.
//!
//! Start-up reads only the records with work left, so a journal of months of trading starts as
//! fast as an empty one; the whole table is checked right after, in the background
//! ([`super::journal::Journal::verify`]). Until that check is done, only a journal that was
//! checked whole can tell that a command id was never used: a command whose id the engine finds
//! nowhere waits for it (commands it finds, queries and running flows do not). A record with
//! work left that the index missed is resumed. Damage makes the engine look every new payment's
//! order up at the backend before creating it, as after a rebuild, raises an alarm, and asks
//! the next start to check the journal whole, which sets it aside.

use super::backend::Backend;
use super::core::Engine;
use super::journal::{check_whole_next_start, Audit};
use super::runner::spawn_flow;
use std::sync::Arc;

/// How far the check of the whole journal has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verification {
    Pending,
    Intact,
    Damaged,
}

/// Checks the engine's journal whole in a blocking task and acts on what it finds.
pub(crate) fn spawn<B: Backend>(shared: Arc<Engine<B>>) {
    tokio::spawn(async move {
        let journal = shared.journal.clone();
        // sled may panic on damage it cannot read; that is damage too.
        let checked = tokio::task::spawn_blocking(move || journal.verify())
            .await
            .unwrap_or_else(|_| Err("reading the journal failed".into()));
        let verdict = match checked {
            Ok(audit) => {
                adopt(&shared, audit);
                Verification::Intact
            }
            Err(reason) => {
                if let Err(error) = check_whole_next_start(shared.journal.db().path(), &reason) {
                    tracing::error!(error = %format!("{error:#}"), "cannot ask the next start to check the journal");
                }
                shared.raise_alarm(format!(
                    "the payment journal is damaged ({reason}); new payments are looked up at \
                     MobilePay by order before they are created, and the next start sets the \
                     journal aside and rebuilds open payments from MobilePay"
                ));
                Verification::Damaged
            }
        };
        tracing::info!(?verdict, "payment journal checked whole");
        shared.verified.send_replace(verdict);
    });
}

/// Takes in what the check found that start-up did not read: records with work left that the
/// index missed (resumed now), and records that cannot be read (reported).
fn adopt<B: Backend>(shared: &Arc<Engine<B>>, audit: Audit) {
    if audit.repaired > 0 {
        tracing::warn!(
            repaired = audit.repaired,
            "repaired entries of the journal's index"
        );
    }
    for (key, error) in audit.unreadable {
        let first = shared.lock().corrupt.insert(key.clone());
        if first {
            shared.raise_alarm(format!(
                "the journal record of command {key} is unreadable ({error}); check its payment at MobilePay"
            ));
        }
    }
    for record in audit.unindexed {
        let resume = {
            let mut state = shared.lock();
            if state.records.contains_key(&record.id) {
                continue;
            }
            state.records.insert(record.id.clone(), record.clone());
            !record.is_finished()
        };
        shared.raise_alarm(format!(
            "the journal's index had lost command {}; it was found by the check of the whole journal{}",
            record.id,
            if resume { " and resumed" } else { "" }
        ));
        if resume {
            spawn_flow(shared.clone(), record, Vec::new());
        }
    }
}
