//! A running engine's shared state: the backend, the journal, the registry of commands, the
//! point of sale it serves and the fan-out of its events. The request loop, the flow tasks,
//! recovery and the reconciler all work on it; none of them owns another.

use super::api::{CommandId, EngineError, EventKind, LaneEvent, Submitter};
use super::backend::{Backend, CustomerPrompt};
use super::clock::now_ms;
use super::config::EngineConfig;
use super::doubt::Doubt;
use super::flow::Input;
use super::journal::{Committer, Journal};
use super::record::Record;
use super::verification::Verification;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};

/// The point of sale new payments start on.
#[derive(Clone, Debug)]
pub(crate) struct Binding {
    pub pos_id: String,
    /// `None` where every payment brings its own prompt.
    pub prompt: Option<CustomerPrompt>,
    /// Why new payments are refused while the point of sale is being replaced.
    pub retiring: Option<String>,
}

/// A running flow's mailbox and the callers waiting for its answer.
pub(crate) struct Running {
    pub inputs: mpsc::UnboundedSender<Input>,
    pub waiters: Vec<Waiter>,
}

/// A caller that gets a running command's events through its submission.
pub(crate) struct Waiter {
    pub submitter: Submitter,
    pub events: mpsc::UnboundedSender<LaneEvent>,
}

/// The engine's registry of commands: the journal records it works on, the flows running and
/// who waits for them, and what a person must look at. Locked, never across an `.await`.
#[derive(Default)]
pub(crate) struct Registry {
    /// The latest copy of the records with work left, of the other records of their payments,
    /// and of records written recently (until the reconciler lets them go). Any other record is
    /// read from the journal when a command or query names it.
    pub records: HashMap<CommandId, Record>,
    pub running: HashMap<CommandId, Running>,
    /// Cancel commands waiting for the answer of the command they cancel.
    pub cancel_waiters: HashMap<CommandId, Vec<CommandId>>,
    /// Command ids whose stored record is unreadable.
    pub corrupt: HashSet<String>,
    pub backend_offline: bool,
    /// Things a person must look at, newest last.
    pub alarms: Vec<String>,
    /// Payments and capture deadlines already reported by the reconciler, so each is reported once.
    pub reported: HashSet<String>,
    /// Where the reconciler's next pruning step starts in the journal.
    pub prune_from: Option<Vec<u8>>,
}

/// A running engine: everything its request loop, flow tasks and reconciler need.
pub(crate) struct Engine<B> {
    pub backend: Arc<B>,
    pub journal: Journal,
    pub committer: Committer,
    pub config: EngineConfig,
    pub registry: Mutex<Registry>,
    pub events: broadcast::Sender<LaneEvent>,
    /// The journal was rebuilt after damage and may not know every command id used before.
    pub doubt: Option<Doubt>,
    /// The point of sale new payments start on (see [`super::pos`]).
    pub pos: Mutex<Binding>,
    /// How far the check of the whole journal has come (see [`super::verification`]).
    pub verified: watch::Sender<Verification>,
}

impl<B: Backend> Engine<B> {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn emit(&self, command_id: Option<&CommandId>, kind: EventKind) {
        let mut event = LaneEvent {
            point_of_sale: self.pos_id(),
            command_id: command_id.cloned(),
            at_ms: now_ms(),
            kind,
            submitters: Vec::new(),
        };
        // Under one lock with the waiters' list, so that every submitter marked on the broadcast
        // copy gets the event through its submission, and no other does.
        let state = self.lock();
        let waiters = command_id
            .and_then(|id| state.running.get(id))
            .map_or(&[][..], |running| &running.waiters[..]);
        event.submitters = waiters.iter().map(|w| w.submitter).collect();
        // The lane first: a caller that has its answer must find the event already there.
        let _ = self.events.send(event.clone());
        for waiter in waiters {
            let _ = waiter.events.send(event.clone());
        }
    }

    /// Notes whether the backend answered, and tells the lane when that changes.
    pub fn backend_answered(&self, answered: bool) {
        let changed = {
            let mut state = self.lock();
            let changed = state.backend_offline == answered;
            state.backend_offline = !answered;
            changed
        };
        if changed {
            let kind = if answered {
                EventKind::BackendOnline
            } else {
                EventKind::BackendOffline
            };
            self.emit(None, kind);
        }
    }

    pub async fn durable(&self) -> Result<(), EngineError> {
        self.committer.durable().await.map_err(EngineError::Journal)
    }

    /// Whether command ids missing from the journal may still have been used (see
    /// [`EngineConfig::doubt_window`]).
    pub fn in_doubt(&self) -> bool {
        self.doubt
            .as_ref()
            .is_some_and(|d| now_ms() < d.until_ms(self.config.doubt_window))
            || *self.verified.borrow() == Verification::Damaged
    }

    /// The record of `id`: the registry's copy, or else the journal's. Unreadable records and
    /// a journal that cannot be read give `None` (the first are reported at start or by the
    /// check of the whole journal).
    pub fn record(&self, id: &CommandId) -> Option<Record> {
        if let Some(record) = self.lock().records.get(id) {
            return Some(record.clone());
        }
        self.journal.get(id).ok().flatten().and_then(Result::ok)
    }

    pub fn store(&self, record: &Record) -> Result<(), EngineError> {
        self.journal
            .put(record)
            .map_err(|e| EngineError::Journal(format!("{e:#}")))?;
        self.lock().records.insert(record.id.clone(), record.clone());
        Ok(())
    }

    /// Something a person must look at about one command, which its own `NeedsHuman` event
    /// announces: logged and kept for [`crate::engine::EngineHandle::alarms`], so the
    /// `status` of every cash register shows it, not only the answer of the register that sent
    /// the command.
    pub fn keep_alarm(&self, detail: String) {
        tracing::error!(alarm = %detail, "payment engine alarm");
        self.lock().alarms.push(detail);
    }

    /// Something a person must look at: logged, kept for [`crate::engine::EngineHandle::alarms`],
    /// and announced on the lane.
    pub fn raise_alarm(&self, detail: String) {
        self.keep_alarm(detail.clone());
        self.emit(
            None,
            EventKind::NeedsHuman {
                payment_id: None,
                detail,
            },
        );
    }
}
