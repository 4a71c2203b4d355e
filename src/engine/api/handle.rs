//! The handle front ends hold: submit, query, follow, and the daemon's requests about the point
//! of sale; and the slot that lets a front end start before its engine.

use super::command::{Command, CommandId};
use super::event::{EventKind, LaneEvent, Submitter};
use super::outcome::{CommandView, Outcome};
use crate::engine::backend::CustomerPrompt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use tokio::sync::{broadcast, mpsc, oneshot};

/// Why the engine could not take or answer a request at all. Refusals of a command itself are
/// [`Outcome::Rejected`], not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The engine has stopped (shut down, or its journal failed): nothing was accepted.
    #[error("the payment engine is not running")]
    Stopped,
    /// mposd is stopping and takes no new commands; nothing was stored, so the same command
    /// (same id) can be sent again once it runs again. Queries are still answered.
    #[error("mposd is stopping; send the command again (same id) once it has restarted")]
    Stopping,
    /// mposd serves its front ends already but cannot take payments before its point of sale
    /// is registered at MobilePay; nothing was stored. Queries are answered.
    #[error("mposd is registering its point of sale at MobilePay; send the command again (same id) later")]
    NotReady,
    /// The journal cannot be read or written; the command was not accepted.
    #[error("the payment journal is not available: {0}")]
    Journal(String),
    /// A query's command is not in the journal, or its record cannot be read, and the journal
    /// cannot vouch that the id was never used: it was damaged (found at start or while
    /// running). The command may have run; it must not be sent again as new.
    #[error("the payment journal was damaged and cannot tell whether this command ran")]
    InDoubt,
}

/// A submitted command: its events as they happen, ending with [`EventKind::Finished`].
///
/// A [`Submitter`] gets a command's events through its newest submission: when the same
/// submitter submits a running command again, the earlier submission ends (without its
/// `Finished`) and the new one carries the rest, so the submitter gets each event once.
///
/// Dropping a submission does not cancel the command; it runs on, and its outcome can be
/// queried.
#[derive(Debug)]
pub struct Submission {
    events: mpsc::UnboundedReceiver<LaneEvent>,
    stored: bool,
}

impl Submission {
    /// Whether the command is in the journal: stored durably now, or a repeat of a stored
    /// command. `false` for a command refused before anything was stored (its only event is
    /// the `Finished` with [`Outcome::Rejected`]), so a front end can tell "your command is
    /// safe" from "your command was refused".
    pub fn is_stored(&self) -> bool {
        self.stored
    }

    /// The next event of this command; `None` after [`EventKind::Finished`].
    pub async fn next_event(&mut self) -> Option<LaneEvent> {
        self.events.recv().await
    }

    /// Waits for the final outcome, skipping progress events.
    pub async fn outcome(mut self) -> Result<Outcome, EngineError> {
        while let Some(event) = self.events.recv().await {
            if let EventKind::Finished { outcome } = event.kind {
                return Ok(outcome);
            }
        }
        Err(EngineError::Stopped)
    }

    /// A submission of a stored command, fed by the engine's driver through `events`.
    pub fn new(events: mpsc::UnboundedReceiver<LaneEvent>) -> Submission {
        Submission { events, stored: true }
    }

    /// A submission of a command refused before anything was stored; `events` carries its
    /// `Finished` event.
    pub fn refused(events: mpsc::UnboundedReceiver<LaneEvent>) -> Submission {
        Submission {
            events,
            stored: false,
        }
    }
}

/// A request from an [`EngineHandle`] to the engine's driver (the channel between them).
#[derive(Debug)]
pub enum Request {
    Submit {
        id: CommandId,
        command: Command,
        /// Who gets the command's events through the returned submission.
        submitter: Submitter,
        reply: oneshot::Sender<Result<Submission, EngineError>>,
    },
    Query {
        id: CommandId,
        reply: oneshot::Sender<Result<Option<CommandView>, EngineError>>,
    },
    Alarms {
        reply: oneshot::Sender<Result<Vec<String>, EngineError>>,
    },
    /// About the point of sale the engine serves (see [`EngineHandle::retire`]).
    PointOfSale(PosRequest),
    /// The payment may have changed (see [`EngineHandle::nudge`]).
    Nudge { payment_id: String },
}

/// What the daemon asks the engine about its point of sale, when the point of sale must be
/// re-created at MobilePay or registered again.
#[derive(Debug)]
pub enum PosRequest {
    /// Our payments still open on the point of sale (see [`EngineHandle::open_payments`]).
    OpenPayments { reply: oneshot::Sender<Vec<String>> },
    /// Stop starting payments and report the open ones (see [`EngineHandle::retire`]).
    Retire {
        reason: String,
        reply: oneshot::Sender<Vec<String>>,
    },
    /// Serve this point of sale from now on (see [`EngineHandle::move_to`]).
    MoveTo {
        pos_id: String,
        prompt: CustomerPrompt,
        reply: oneshot::Sender<()>,
    },
    /// Something a person must look at, found outside the engine.
    Alarm { detail: String },
}

/// Whether an [`EngineHandle`] takes commands (shared by all its clones).
const GATE_OPEN: u8 = 0;
const GATE_NOT_READY: u8 = 1;
const GATE_STOPPING: u8 = 2;

/// A cheap, cloneable handle to a running engine (one lane = one point of sale).
#[derive(Clone, Debug)]
pub struct EngineHandle {
    requests: mpsc::Sender<Request>,
    events: broadcast::Sender<LaneEvent>,
    /// The lane's `posId`, shared by every clone; empty only on a handle made ahead of a lane
    /// that never ran. It changes when the point of sale is re-created or registered again.
    point_of_sale: Arc<RwLock<String>>,
    /// Shared by every clone: open, not ready yet, or stopping.
    gate: Arc<AtomicU8>,
    /// The journal was rebuilt after damage, and until when that matters. Shared by every
    /// clone, so a handle made ahead of its engine learns it when the engine is attached.
    doubt: Arc<OnceLock<(crate::engine::doubt::Doubt, u64)>>,
}

impl EngineHandle {
    /// A handle that sends its requests to the driver reading `requests` and subscribes to the
    /// lane events sent on `events`.
    pub fn new(
        requests: mpsc::Sender<Request>,
        events: broadcast::Sender<LaneEvent>,
        pos_id: String,
    ) -> EngineHandle {
        EngineHandle {
            requests,
            events,
            point_of_sale: Arc::new(RwLock::new(pos_id)),
            gate: Arc::new(AtomicU8::new(GATE_OPEN)),
            doubt: Arc::new(OnceLock::new()),
        }
    }

    /// The same handle, telling callers that the journal is in doubt until `until_ms`.
    pub fn with_doubt(self, doubt: crate::engine::doubt::Doubt, until_ms: u64) -> EngineHandle {
        let _ = self.doubt.set((doubt, until_ms));
        self
    }

    /// While the journal is in doubt (rebuilt after damage, within the engine's doubt window),
    /// a command id [`EngineHandle::query`] does not find may still have been used before the
    /// damage: callers must not present it as "never used". `None` otherwise.
    pub fn journal_doubt(&self) -> Option<&crate::engine::doubt::Doubt> {
        self.doubt
            .get()
            .filter(|(_, until_ms)| crate::engine::clock::now_ms() < *until_ms)
            .map(|(doubt, _)| doubt)
    }

    /// A handle for front ends that start before the lane's engine may take commands: the
    /// daemon serves the cash register while the point of sale is still being registered at
    /// MobilePay, so the register gets clear answers instead of silence. Commands are refused
    /// with [`EngineError::NotReady`] until [`EngineSlot::open`]. Until an engine is attached
    /// with [`EngineSlot::attach`] the lane has never run, so queries find nothing, there are
    /// no alarms and [`EngineHandle::point_of_sale`] is empty; from then on every request goes to that
    /// engine and its events reach this handle's subscribers. Must be called inside a tokio
    /// runtime.
    pub fn ahead_of_engine() -> (EngineHandle, EngineSlot) {
        let (requests, inbox) = mpsc::channel(64);
        let (events, _) = broadcast::channel(1024);
        let front = EngineHandle {
            requests,
            events: events.clone(),
            point_of_sale: Arc::default(),
            gate: Arc::new(AtomicU8::new(GATE_NOT_READY)),
            doubt: Arc::new(OnceLock::new()),
        };
        let (attach, attached) = oneshot::channel();
        tokio::spawn(forward_ahead(inbox, attached, events));
        let slot = EngineSlot {
            front: front.clone(),
            attach: Some(attach),
        };
        (front, slot)
    }

    /// From now on, commands are refused with [`EngineError::Stopping`] before anything is
    /// stored, through every clone of this handle. Commands already accepted run on (their
    /// durability points are reached or they are resumed at the next start); queries are
    /// still answered.
    pub fn stop_accepting(&self) {
        self.gate.store(GATE_STOPPING, Ordering::SeqCst);
    }

    /// Why a command would be refused right now before anything is stored, if it would (see
    /// [`EngineHandle::stop_accepting`] and [`EngineHandle::ahead_of_engine`]).
    pub fn refusal(&self) -> Option<EngineError> {
        match self.gate.load(Ordering::SeqCst) {
            GATE_OPEN => None,
            GATE_NOT_READY => Some(EngineError::NotReady),
            _ => Some(EngineError::Stopping),
        }
    }

    /// The lane's MobilePay `posId`, the point of sale new payments start on; empty on a
    /// handle made by [`EngineHandle::ahead_of_engine`] until its engine is attached.
    pub fn point_of_sale(&self) -> String {
        self.point_of_sale
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Hands a command to the engine. Returns once the command is accepted (its intent is
    /// durable, or it was recognised as a repeat) or refused ([`Submission::is_stored`] tells
    /// which); follow its progress and final outcome through the returned [`Submission`].
    pub async fn submit(&self, id: CommandId, command: Command) -> Result<Submission, EngineError> {
        self.submit_as(Submitter::new(), id, command).await
    }

    /// [`EngineHandle::submit`] for a front end that also watches the lane as `submitter`: the
    /// copies of the command's events on the lane broadcast are marked with it.
    pub async fn submit_as(
        &self,
        submitter: Submitter,
        id: CommandId,
        command: Command,
    ) -> Result<Submission, EngineError> {
        if let Some(refusal) = self.refusal() {
            return Err(refusal);
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Submit {
                id,
                command,
                submitter,
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Submits a command and waits for its final outcome.
    pub async fn run(&self, id: CommandId, command: Command) -> Result<Outcome, EngineError> {
        self.submit(id, command).await?.outcome().await
    }

    /// The journal's view of a command, or `None` if the id was never used (or its record was
    /// pruned after the retention period).
    pub async fn query(&self, id: &CommandId) -> Result<Option<CommandView>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Query {
                id: id.clone(),
                reply,
            })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// What a person must look at (unreadable journal records, a journal set aside at start,
    /// reservations found at MobilePay that no command owns), oldest first.
    pub async fn alarms(&self) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Alarms { reply })
            .await
            .map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// Our payments still open on the point of sale the engine serves: payments running,
    /// prepared payments waiting for their amount, and reservations kept for a later capture or
    /// cancel that has not happened yet (a reservation older than MobilePay's 7 days has
    /// expired there and no longer counts). MobilePay's best practice is to delete a point of
    /// sale only when none is left. Payment ids, or command ids for payments not created yet.
    pub async fn open_payments(&self) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.pos_request(PosRequest::OpenPayments { reply }).await?;
        answer.await.map_err(|_| EngineError::Stopped)
    }

    /// Before the point of sale is deleted and re-created (or registered again): from now on
    /// new payments are refused with [`RejectCode::LaneBusy`] and `reason`, until
    /// [`EngineHandle::move_to`]. Returns our payments still open at this moment (see
    /// [`EngineHandle::open_payments`]); none can start after it, so an empty answer means the
    /// point of sale may go.
    pub async fn retire(&self, reason: &str) -> Result<Vec<String>, EngineError> {
        let (reply, answer) = oneshot::channel();
        let reason = reason.to_string();
        self.pos_request(PosRequest::Retire { reason, reply }).await?;
        answer.await.map_err(|_| EngineError::Stopped)
    }

    /// Serve the point of sale `pos_id` (its customers shown `prompt`) from now on and take payments
    /// again. Work begun on the previous point of sale finishes there: every journal record
    /// keeps the point of sale it started on. [`EngineHandle::point_of_sale`] of this handle and its
    /// clones follows.
    pub async fn move_to(&self, pos_id: &str, prompt: CustomerPrompt) -> Result<(), EngineError> {
        let (reply, answer) = oneshot::channel();
        self.pos_request(PosRequest::MoveTo {
            pos_id: pos_id.to_string(),
            prompt,
            reply,
        })
        .await?;
        answer.await.map_err(|_| EngineError::Stopped)?;
        *self.point_of_sale.write().unwrap_or_else(|p| p.into_inner()) = pos_id.to_string();
        Ok(())
    }

    /// Adds something a person must look at to the engine's alarms (logged and announced on
    /// the lane like the engine's own).
    pub async fn raise_alarm(&self, detail: &str) -> Result<(), EngineError> {
        let detail = detail.to_string();
        self.pos_request(PosRequest::Alarm { detail }).await
    }

    /// News that the payment `payment_id` may have changed (a webhook said so): if this
    /// engine is waiting to poll it, it polls now instead of at the next scheduled poll.
    /// Polling stays the truth, so news of a payment the engine does not follow changes
    /// nothing, and so does news that arrives while the engine is too busy to take it (the
    /// scheduled poll comes anyway); it never waits.
    pub fn nudge(&self, payment_id: &str) {
        let _ = self.requests.try_send(Request::Nudge {
            payment_id: payment_id.to_string(),
        });
    }

    /// Tells everyone watching the lane lane-wide news that comes from outside the engine
    /// (a customer checked in at the lane's sticker). Nobody watching is fine.
    pub fn announce(&self, kind: EventKind) {
        let _ = self.events.send(LaneEvent {
            point_of_sale: self.point_of_sale(),
            command_id: None,
            at_ms: crate::engine::clock::now_ms(),
            kind,
            submitters: Vec::new(),
        });
    }

    async fn pos_request(&self, request: PosRequest) -> Result<(), EngineError> {
        self.requests
            .send(Request::PointOfSale(request))
            .await
            .map_err(|_| EngineError::Stopped)
    }

    /// Every event of this lane from now on (all commands and lane-wide news). A subscriber
    /// that falls behind loses the oldest events (`RecvError::Lagged`), never blocks the
    /// engine; a front end that must not lose its own commands' events gets them through
    /// their submissions ([`Submitter`]).
    pub fn subscribe(&self) -> broadcast::Receiver<LaneEvent> {
        self.events.subscribe()
    }
}

/// Where the daemon plugs a lane's engine into the handle made by
/// [`EngineHandle::ahead_of_engine`], and opens it for commands.
#[derive(Debug)]
pub struct EngineSlot {
    front: EngineHandle,
    attach: Option<oneshot::Sender<(EngineHandle, broadcast::Receiver<LaneEvent>)>>,
}

impl EngineSlot {
    /// From now on the front handle's requests go to `engine`, and its events to the front
    /// handle's subscribers. Attaching a second engine does nothing.
    pub fn attach(&mut self, engine: &EngineHandle) {
        let Some(attach) = self.attach.take() else {
            return;
        };
        *self
            .front
            .point_of_sale
            .write()
            .unwrap_or_else(|p| p.into_inner()) = engine.point_of_sale();
        if let Some(doubt) = engine.doubt.get() {
            let _ = self.front.doubt.set(doubt.clone());
        }
        // Subscribed here, not in the forwarding task, so no event after this call is missed.
        let _ = attach.send((engine.clone(), engine.subscribe()));
    }

    /// The front handle takes commands (unless it is already stopping).
    pub fn open(&self) {
        let _ =
            self.front
                .gate
                .compare_exchange(GATE_NOT_READY, GATE_OPEN, Ordering::SeqCst, Ordering::SeqCst);
    }
}

/// The task behind a handle made ahead of its engine: answers for a lane with an empty journal
/// until the engine is attached, then passes requests and events through. Ends when the slot is
/// dropped unattached or every front handle is gone; callers then get [`EngineError::Stopped`].
async fn forward_ahead(
    mut inbox: mpsc::Receiver<Request>,
    attached: oneshot::Receiver<(EngineHandle, broadcast::Receiver<LaneEvent>)>,
    events: broadcast::Sender<LaneEvent>,
) {
    tokio::pin!(attached);
    let (engine, mut engine_events) = loop {
        tokio::select! {
            biased;
            engine = &mut attached => match engine {
                Ok(engine) => break engine,
                Err(_) => return,
            },
            request = inbox.recv() => match request {
                Some(Request::Submit { reply, .. }) => {
                    let _ = reply.send(Err(EngineError::NotReady));
                }
                Some(Request::Query { reply, .. }) => {
                    let _ = reply.send(Ok(None));
                }
                Some(Request::Alarms { reply }) => {
                    let _ = reply.send(Ok(Vec::new()));
                }
                // No engine, no point of sale yet: the caller sees the engine as stopped.
                Some(Request::PointOfSale(_)) => {}
                // No engine, so no payment of its is being polled.
                Some(Request::Nudge { .. }) => {}
                None => return,
            },
        }
    };
    tokio::spawn(async move {
        loop {
            match engine_events.recv().await {
                Ok(event) => {
                    let _ = events.send(event);
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "lane events were lost on their way to the front ends");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    while let Some(request) = inbox.recv().await {
        if engine.requests.send(request).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handle_made_ahead_of_its_engine_refuses_commands_until_opened() {
        let (front, mut slot) = EngineHandle::ahead_of_engine();
        let id = CommandId::new("sale-1").unwrap();
        let pay = Command::Prepare {
            order_id: "R1".into(),
        };
        // A lane that never ran: nothing to find, no posId yet, commands refused.
        assert_eq!(front.query(&id).await, Ok(None));
        assert_eq!(front.alarms().await, Ok(Vec::new()));
        assert_eq!(front.point_of_sale(), "");
        assert_eq!(
            front.submit(id.clone(), pay.clone()).await.err(),
            Some(EngineError::NotReady)
        );

        // Once attached, requests reach the engine's driver and its events the front's watchers.
        let (requests, mut driver) = mpsc::channel(4);
        let (events, _) = broadcast::channel(4);
        let engine = EngineHandle::new(requests, events.clone(), "pos-1".into());
        slot.attach(&engine);
        assert_eq!(front.point_of_sale(), "pos-1");
        let mut watcher = front.subscribe();
        let asked = tokio::spawn({
            let front = front.clone();
            let id = id.clone();
            async move { front.query(&id).await }
        });
        match driver.recv().await {
            Some(Request::Query { id: asked_for, reply }) => {
                assert_eq!(asked_for, id);
                reply.send(Ok(None)).unwrap();
            }
            other => panic!("expected a query, got {other:?}"),
        }
        assert_eq!(asked.await.unwrap(), Ok(None));
        assert_eq!(
            front.submit(id.clone(), pay.clone()).await.err(),
            Some(EngineError::NotReady)
        );
        let news = LaneEvent {
            point_of_sale: "pos-1".into(),
            command_id: None,
            at_ms: 0,
            kind: EventKind::BackendOnline,
            submitters: Vec::new(),
        };
        events.send(news.clone()).unwrap();
        assert_eq!(watcher.recv().await.unwrap(), news);

        slot.open();
        let submitted = tokio::spawn(async move { front.submit(id, pay).await.map(|_| ()) });
        match driver.recv().await {
            Some(Request::Submit { reply, .. }) => {
                let (_, rx) = mpsc::unbounded_channel();
                reply.send(Ok(Submission::new(rx))).unwrap();
            }
            other => panic!("expected a command, got {other:?}"),
        }
        assert_eq!(submitted.await.unwrap(), Ok(()));
    }
}
