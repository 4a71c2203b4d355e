//! The thin async driver around the pure decisions: it starts an engine (recovery first), takes
//! requests one at a time, carries out the admission of each command (store, sync, start its
//! flow) and answers queries. The flows themselves run in [`super::runner`].

use super::admission::{admit, Admission, Ledger};
use super::api::{
    Command, CommandId, CommandView, EngineError, EngineHandle, EventKind, LaneEvent, Outcome,
    PaymentSelector, RejectCode, Request, Submission, Submitter,
};
use super::backend::{Agreements, Backend, Invoicing};
use super::clock::now_ms;
use super::config::EngineConfig;
use super::core::{Binding, Engine, Registry, Waiter};
use super::journal::{Committer, Journal, SetAside};
use super::reconciler;
use super::record::Record;
use super::runner::{follow_cancel_target, spawn_flow};
use super::verification::{self, Verification};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};

/// Starts an engine on `journal` for one lane. Before the returned handle takes commands, every
/// unfinished record is resumed (recovery, I5); when the store had to be set aside
/// (`set_aside`), open work is rebuilt from the backend first and an alarm is raised.
pub async fn start<B: Backend>(
    backend: Arc<B>,
    journal: Journal,
    config: EngineConfig,
    set_aside: Option<SetAside>,
) -> anyhow::Result<EngineHandle> {
    let (events, _) = broadcast::channel(1024);
    let committer = Committer::start(journal.clone());
    let doubt = journal.doubt();
    let doubt_until_ms = doubt.as_ref().map(|d| d.until_ms(config.doubt_window));
    let pos = Binding {
        pos_id: config.pos_id.clone(),
        prompt: config.prompt.clone(),
        retiring: None,
    };
    let shared = Arc::new(Engine {
        backend,
        journal,
        committer,
        config,
        registry: Mutex::new(Registry::default()),
        events: events.clone(),
        doubt: doubt.clone(),
        pos: Mutex::new(pos),
        verified: watch::Sender::new(Verification::Pending),
    });
    super::recovery::recover(&shared, set_aside).await?;
    verification::spawn(shared.clone());
    let (requests, mut inbox) = mpsc::channel::<Request>(64);
    let lane = shared.config.pos_id.clone();
    let acceptor = shared.clone();
    tokio::spawn(async move {
        while let Some(request) = inbox.recv().await {
            match request {
                Request::Submit {
                    id,
                    command,
                    submitter,
                    reply,
                } => {
                    let _ = reply.send(accept(&acceptor, id, command, submitter).await);
                }
                Request::Query { id, reply } => {
                    // Its own task: an unknown id may wait for the check of the whole journal,
                    // and commands must not wait behind it.
                    let shared = acceptor.clone();
                    tokio::spawn(async move {
                        let _ = reply.send(query(&shared, &id).await);
                    });
                }
                Request::Alarms { reply } => {
                    let _ = reply.send(Ok(acceptor.lock().alarms.clone()));
                }
                Request::PointOfSale(request) => super::pos::handle(&acceptor, request),
                Request::Nudge { payment_id } => super::runner::nudge(&acceptor, &payment_id),
            }
        }
    });
    reconciler::spawn(shared.clone());
    let mut handle = EngineHandle::new(requests, events, lane);
    if let (Some(doubt), Some(until_ms)) = (doubt, doubt_until_ms) {
        handle = handle.with_doubt(doubt, until_ms);
    }
    Ok(handle)
}

/// What the engine knows of command `id`. An id found nowhere is "never used" (`None`) only
/// when the journal can vouch for it: once it was checked whole and found intact, and outside
/// the doubt window of a rebuild. A record that cannot be read, or an unknown id in a damaged
/// journal, is [`EngineError::InDoubt`].
async fn query<B: Backend>(shared: &Engine<B>, id: &CommandId) -> Result<Option<CommandView>, EngineError> {
    if let Some(record) = shared.lock().records.get(id) {
        return Ok(Some(record.view()));
    }
    match shared.journal.get(id) {
        Ok(Some(Ok(record))) => return Ok(Some(record.view())),
        Ok(Some(Err(_))) => return Err(EngineError::InDoubt),
        Ok(None) => {}
        Err(error) => return Err(EngineError::Journal(format!("{error:#}"))),
    }
    let mut verified = shared.verified.subscribe();
    let _ = verified.wait_for(|v| *v != Verification::Pending).await;
    // The check adopts records with work left that the index had lost.
    if let Some(record) = shared.record(id) {
        return Ok(Some(record.view()));
    }
    if shared.in_doubt() {
        Err(EngineError::InDoubt)
    } else {
        Ok(None)
    }
}

/// The events of a command that is already answered: its `Finished` event alone.
fn finished(
    shared: &Engine<impl Backend>,
    id: &CommandId,
    outcome: Outcome,
) -> mpsc::UnboundedReceiver<LaneEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(LaneEvent {
        point_of_sale: shared.pos_id(),
        command_id: Some(id.clone()),
        at_ms: now_ms(),
        kind: EventKind::Finished { outcome },
        submitters: Vec::new(),
    });
    rx
}

/// A submission of a stored command that is already answered.
fn answered(shared: &Engine<impl Backend>, id: &CommandId, outcome: Outcome) -> Submission {
    Submission::new(finished(shared, id, outcome))
}

/// A command refused before anything was stored.
fn rejected(
    shared: &Engine<impl Backend>,
    id: &CommandId,
    code: RejectCode,
    message: impl Into<String>,
) -> Submission {
    let message = message.into();
    super::audit::refused(id, code, &message);
    Submission::refused(finished(shared, id, Outcome::Rejected { code, message }))
}

/// Takes a command: a repeat returns the stored answer or joins the running flow; a new one is
/// checked ([`super::admission`]), made durable, and started. Refused commands are not stored:
/// nothing happened.
async fn accept<B: Backend>(
    shared: &Arc<Engine<B>>,
    id: CommandId,
    command: Command,
    submitter: Submitter,
) -> Result<Submission, EngineError> {
    let now = now_ms();
    let mut record = Record::new(id.clone(), command.clone(), shared.pos_id(), now);
    record.create_key = Some(create_key(shared, &id, &command));
    let (from_disk, unreadable) = from_disk(shared, &id, &command)?;
    let known = unreadable || from_disk.contains_key(&id) || shared.lock().records.contains_key(&id);
    if !known {
        // Only a journal checked whole can tell that this id was never used.
        let mut verified = shared.verified.subscribe();
        let _ = verified.wait_for(|v| *v != Verification::Pending).await;
    }
    let admission = {
        let state = shared.lock();
        let ledger = Ledger {
            records: &state.records,
            from_disk: &from_disk,
            unreadable: unreadable || state.corrupt.contains(id.as_str()),
            retiring: shared.retiring(),
            in_doubt: shared.in_doubt(),
            capabilities: shared.backend.capabilities(),
            invoices: shared.backend.invoicing().map(Invoicing::rules),
            agreements: shared.backend.agreements().map(Agreements::rules),
        };
        admit(&ledger, &id, &command, record)
    };
    let (record, updates, cancel_victim) = match admission {
        Admission::Answer(outcome) => return Ok(answered(shared, &id, outcome)),
        Admission::Refuse(code, message) => return Ok(rejected(shared, &id, code, message)),
        Admission::Follow { payment_id } => {
            let (events, rx) = mpsc::unbounded_channel();
            let outcome = {
                let mut state = shared.lock();
                // Looked at again under the lock `emit` holds: a command that answered since
                // the decision has sent its `Finished` already and is answered from its record.
                match state
                    .records
                    .get(&id)
                    .or(from_disk.get(&id))
                    .filter(|r| r.answered)
                {
                    Some(done) => Some(done.outcome.clone().unwrap_or(Outcome::Unknown {
                        payment_id: done.payment_id.clone(),
                    })),
                    None => match state.running.get_mut(&id) {
                        Some(running) => {
                            // The submitter's earlier submission ends here; this one carries
                            // the rest.
                            running.waiters.retain(|w| w.submitter != submitter);
                            running.waiters.push(Waiter { submitter, events });
                            None
                        }
                        None => Some(Outcome::Unknown { payment_id }),
                    },
                }
            };
            return Ok(match outcome {
                Some(outcome) => answered(shared, &id, outcome),
                None => Submission::new(rx),
            });
        }
        Admission::Start {
            record,
            updates,
            cancel_victim,
        } => (*record, updates, cancel_victim),
    };
    for update in &updates {
        shared.store(update)?;
    }
    shared.store(&record)?;
    // I4: the intent (and its idempotency key) is durable before the first request.
    shared.durable().await?;
    super::audit::accepted(&record);
    let (events, rx) = mpsc::unbounded_channel();
    spawn_flow(shared.clone(), record, vec![Waiter { submitter, events }]);
    if let Some(victim) = cancel_victim {
        follow_cancel_target(shared, &id, &victim);
    }
    Ok(Submission::new(rx))
}

/// The idempotency key of a command: derived from the command, so that repeating it after the
/// journal lost its record is still a replay at the backend (see [`super::keys`]). Commands
/// that create nothing use it as the base of their capture and cancel keys.
/// The records the admission of `command` may look at that the registry does not hold, read
/// from the journal: the command's own record, its target (and a cancelled prepare's follower),
/// and for a refund every record of the payment, whose captures and refunds set its limit.
/// Also says whether the command's own record is unreadable.
fn from_disk<B: Backend>(
    shared: &Engine<B>,
    id: &CommandId,
    command: &Command,
) -> Result<(HashMap<CommandId, Record>, bool), EngineError> {
    let journal_error = |e: anyhow::Error| EngineError::Journal(format!("{e:#}"));
    let mut found = HashMap::new();
    let mut unreadable = false;
    let mut fetch = |wanted: &CommandId, found: &mut HashMap<CommandId, Record>| -> Result<(), EngineError> {
        if shared.lock().records.contains_key(wanted) || found.contains_key(wanted) {
            return Ok(());
        }
        match shared.journal.get(wanted).map_err(journal_error)? {
            Some(Ok(record)) => {
                found.insert(wanted.clone(), record);
            }
            Some(Err(_)) if wanted == id => unreadable = true,
            _ => {}
        }
        Ok(())
    };
    fetch(id, &mut found)?;
    let target = match command {
        Command::Ready { target, .. } | Command::Capture { target, .. } | Command::Cancel { target } => {
            Some(target)
        }
        Command::Refund {
            payment: PaymentSelector::Command(target),
            ..
        } => Some(target),
        _ => None,
    };
    let Some(target) = target else {
        return Ok((found, unreadable));
    };
    fetch(target, &mut found)?;
    let target_record = shared
        .lock()
        .records
        .get(target)
        .cloned()
        .or_else(|| found.get(target).cloned());
    if let Some(next) = target_record.as_ref().and_then(|t| t.followed_by.clone()) {
        fetch(&next, &mut found)?;
    }
    if let (Command::Refund { .. }, Some(payment_id)) = (command, target_record.and_then(|t| t.payment_id)) {
        for record in shared.journal.of_payment(&payment_id).map_err(journal_error)? {
            if !shared.lock().records.contains_key(&record.id) {
                found.entry(record.id.clone()).or_insert(record);
            }
        }
    }
    Ok((found, unreadable))
}

fn create_key<B: Backend>(shared: &Engine<B>, id: &CommandId, command: &Command) -> String {
    super::keys::create_key(
        shared.journal.db().installation(),
        shared.journal.lane(),
        id,
        command,
    )
}
