//! The thin async driver around the pure flows: it accepts commands, keeps the journal, runs
//! one task per unfinished command (executing the actions of [`flow::step`]) and fans events
//! out to the callers and the lane's watchers.

use super::admission::{admit, Admission, Ledger};
use super::api::{
    Command, CommandId, EngineError, EngineHandle, EventKind, LaneEvent, Outcome, RejectCode, Request,
    Submission, Submitter,
};
use super::backend::{Backend, BackendError, CorrelationId, CustomerPrompt};
use super::flow::{self, Action, ApiCall, Input, Policy, Reply};
use super::journal::{doubt::Doubt, Committer, Journal, SetAside};
use super::reconciler;
use super::record::Record;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{broadcast, mpsc};

/// How an engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The point of sale (the backend's id for it) this lane starts on.
    pub pos_id: String,
    /// What the customers of the point of sale are shown to start paying.
    pub prompt: CustomerPrompt,
    /// Timing of the flows (the backend's capabilities are added at start).
    pub policy: Policy,
    /// Finished records are pruned this long after their last change.
    pub retention: Duration,
    /// Pace of the reconciler's sweep of the point of sale (stale payments, pruning).
    pub reconcile_every: Duration,
    /// How long after a journal was rebuilt from damage a command id it does not know is
    /// answered "in doubt" instead of "not found", and payments are created only after their
    /// order id was looked up at the backend. Seven days: the longest a reservation lives, so
    /// the longest a cash register can still be asking about a sale from before the damage.
    pub doubt_window: Duration,
}

impl EngineConfig {
    pub fn new(pos_id: impl Into<String>, prompt: CustomerPrompt) -> EngineConfig {
        EngineConfig {
            pos_id: pos_id.into(),
            prompt,
            policy: Policy::default(),
            retention: Duration::from_secs(400 * 24 * 3600),
            reconcile_every: Duration::from_secs(60),
            doubt_window: DOUBT_WINDOW,
        }
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A running flow's mailbox and the callers waiting for its answer.
struct Running {
    inputs: mpsc::UnboundedSender<Input>,
    waiters: Vec<Waiter>,
}

/// A caller that gets a running command's events through its submission.
pub(crate) struct Waiter {
    submitter: Submitter,
    events: mpsc::UnboundedSender<LaneEvent>,
}

/// The engine's registry of commands: the latest journal records, the flows running and who
/// waits for them, and what a person must look at. Locked, never across an `.await`.
#[derive(Default)]
pub(crate) struct Registry {
    /// The latest copy of every journal record.
    pub records: HashMap<CommandId, Record>,
    running: HashMap<CommandId, Running>,
    /// Cancel commands waiting for the answer of the command they cancel.
    cancel_waiters: HashMap<CommandId, Vec<CommandId>>,
    /// Command ids whose stored record is unreadable.
    pub corrupt: HashSet<String>,
    pub backend_offline: bool,
    /// Things a person must look at, newest last.
    pub alarms: Vec<String>,
    /// Payments already reported by the reconciler, so each is reported once.
    pub reported: HashSet<String>,
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
    pub pos: Mutex<super::pos::Binding>,
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
            .is_some_and(|d| now_ms() < doubt_until(d, self.config.doubt_window))
    }

    pub fn store(&self, record: &Record) -> Result<(), EngineError> {
        self.journal
            .put(record)
            .map_err(|e| EngineError::Journal(format!("{e:#}")))?;
        self.lock().records.insert(record.id.clone(), record.clone());
        Ok(())
    }
}

/// Until when (unix milliseconds) a journal rebuilt after `doubt` answers unknown ids "in
/// doubt".
/// The default [`EngineConfig::doubt_window`]: seven days, the longest a reservation lives.
pub const DOUBT_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// When a doubt stops mattering, after `window`.
pub(crate) fn doubt_until(doubt: &Doubt, window: Duration) -> u64 {
    doubt
        .since_ms
        .saturating_add(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
}

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
    let doubt_until_ms = doubt.as_ref().map(|d| doubt_until(d, config.doubt_window));
    let pos = super::pos::Binding {
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
    });
    super::recovery::recover(&shared, set_aside).await?;
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
                    let view = acceptor.lock().records.get(&id).map(Record::view);
                    let _ = reply.send(Ok(view));
                }
                Request::Alarms { reply } => {
                    let _ = reply.send(Ok(acceptor.lock().alarms.clone()));
                }
                Request::PointOfSale(request) => super::pos::handle(&acceptor, request),
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
    if matches!(
        command,
        Command::Pay { .. } | Command::Prepare { .. } | Command::Refund { .. }
    ) {
        record.create_key = Some(create_key(shared, &id, &command));
    }
    let admission = {
        let state = shared.lock();
        let ledger = Ledger {
            records: &state.records,
            unreadable: state.corrupt.contains(id.as_str()),
            retiring: shared.retiring(),
            in_doubt: shared.in_doubt(),
            capabilities: shared.backend.capabilities(),
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
                match state.records.get(&id).filter(|r| r.answered) {
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

/// The idempotency key of a creating command: derived from the command, so that repeating it
/// after the journal lost its record is still a replay at the backend (see [`super::keys`]).
fn create_key<B: Backend>(shared: &Engine<B>, id: &CommandId, command: &Command) -> String {
    super::keys::create_key(
        shared.journal.db().installation(),
        shared.journal.lane(),
        id,
        command,
    )
}

/// Connects a started cancel command to the command it cancels: if that one has answered, the
/// cancel learns its outcome now, otherwise when it answers; a running flow is told to cancel.
pub(crate) fn follow_cancel_target<B: Backend>(shared: &Engine<B>, id: &CommandId, victim: &CommandId) {
    let (deliver_now, running) = {
        let mut state = shared.lock();
        let running = state.running.contains_key(victim);
        let deliver = match state.records.get(victim) {
            Some(v) if v.answered || !running => Some(v.outcome.clone().unwrap_or(Outcome::Unknown {
                payment_id: v.payment_id.clone(),
            })),
            Some(_) => {
                state
                    .cancel_waiters
                    .entry(victim.clone())
                    .or_default()
                    .push(id.clone());
                None
            }
            None => Some(Outcome::Unknown { payment_id: None }),
        };
        (deliver, running)
    };
    if running {
        send_input(shared, victim, Input::CancelRequested);
    }
    if let Some(outcome) = deliver_now {
        send_input(shared, id, Input::TargetFinished(outcome));
    }
}

pub(crate) fn send_input<B: Backend>(shared: &Engine<B>, id: &CommandId, input: Input) {
    if let Some(running) = shared.lock().running.get(id) {
        let _ = running.inputs.send(input);
    }
}

/// Runs a record's flow in its own task until the flow stops.
pub(crate) fn spawn_flow<B: Backend>(shared: Arc<Engine<B>>, record: Record, waiters: Vec<Waiter>) {
    let (inputs, mut inbox) = mpsc::unbounded_channel();
    shared
        .lock()
        .running
        .insert(record.id.clone(), Running { inputs, waiters });
    tokio::spawn(async move {
        let id = record.id.clone();
        if let Err(error) = run_flow(&shared, record, &mut inbox).await {
            // The journal failed: stop this flow without answering from unstored state; the
            // caller sees the engine as stopped and recovery resumes from the journal.
            tracing::error!(command = %id, %error, "flow stopped: the journal is not writable");
        }
        shared.lock().running.remove(&id);
    });
}

async fn run_flow<B: Backend>(
    shared: &Arc<Engine<B>>,
    mut record: Record,
    inbox: &mut mpsc::UnboundedReceiver<Input>,
) -> Result<(), EngineError> {
    let mut input = Input::Start;
    loop {
        let actions = flow::step(&mut record, input, now_ms(), &shared.policy());
        let mut next: Option<Input> = None;
        let mut wait = true;
        for action in actions {
            match action {
                Action::Persist { durable } => {
                    shared.store(&record)?;
                    if durable {
                        shared.durable().await?;
                    }
                }
                Action::Emit(kind) => {
                    super::audit::step(&record, &kind);
                    shared.emit(Some(&record.id), kind)
                }
                Action::Answer(outcome) => {
                    super::audit::answered(&record, &outcome, "answered");
                    answer(shared, &record.id, outcome)
                }
                Action::Call(call) => {
                    let reply = execute(shared.backend.as_ref(), record.correlation_id, call).await;
                    shared.backend_answered(!matches!(&reply, Err(e) if e.is_transient()));
                    next = Some(Input::Reply(reply));
                }
                Action::Sleep(ms) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(ms)) => next = Some(Input::Timer),
                        Some(external) = inbox.recv() => next = Some(external),
                    }
                }
                Action::Stop => {
                    wait = false;
                    next = None;
                }
            }
        }
        match next {
            Some(i) => input = i,
            None if wait => match inbox.recv().await {
                Some(i) => input = i,
                None => return Ok(()),
            },
            None => return Ok(()),
        }
    }
}

/// The first answer of a command: to everyone waiting for it, the lane, and any cancel command
/// waiting for it.
fn answer<B: Backend>(shared: &Engine<B>, id: &CommandId, outcome: Outcome) {
    shared.emit(
        Some(id),
        EventKind::Finished {
            outcome: outcome.clone(),
        },
    );
    let cancels = {
        let mut state = shared.lock();
        if let Some(running) = state.running.get_mut(id) {
            running.waiters.clear();
        }
        state.cancel_waiters.remove(id).unwrap_or_default()
    };
    for cancel in cancels {
        send_input(shared, &cancel, Input::TargetFinished(outcome.clone()));
    }
}

/// Makes one backend request.
pub(crate) async fn execute<B: Backend>(
    backend: &B,
    correlation: CorrelationId,
    call: ApiCall,
) -> Result<Reply, BackendError> {
    let c = correlation;
    match call {
        ApiCall::CreatePayment { key, payment } => {
            backend.create_payment(c, &key, &payment).await.map(Reply::Id)
        }
        ApiCall::CheckIn { key, check_in } => backend.check_in(c, &key, &check_in).await.map(Reply::Id),
        ApiCall::SetTerms { payment_id, terms } => backend
            .set_terms(c, &payment_id, &terms)
            .await
            .map(|()| Reply::Done),
        ApiCall::GetPayment { payment_id } => backend.payment(c, &payment_id).await.map(Reply::Payment),
        ApiCall::FindPayments { query } => backend.find_payments(c, &query).await.map(Reply::Ids),
        ApiCall::Capture { payment_id, amount } => backend
            .capture(c, &payment_id, amount)
            .await
            .map(|()| Reply::Done),
        ApiCall::CancelPayment { payment_id } => backend.cancel(c, &payment_id).await.map(|()| Reply::Done),
        ApiCall::Refund { key, refund } => backend.refund(c, &key, &refund).await.map(Reply::Id),
        ApiCall::GetRefund { refund_id } => backend.refund_status(c, &refund_id).await.map(Reply::Refund),
        ApiCall::ConfirmRefund { refund_id } => {
            backend.confirm_refund(c, &refund_id).await.map(|()| Reply::Done)
        }
        ApiCall::CancelRefund { refund_id } => {
            backend.cancel_refund(c, &refund_id).await.map(|()| Reply::Done)
        }
    }
}
