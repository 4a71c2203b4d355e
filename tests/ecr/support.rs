//! Test support: pseudo-terminal lines the daemon opens by path, and a scripted payment
//! engine behind the engine interface.
//!
//! The scripted engine implements the documented semantics of the engine interface (journal
//! by command id, repeats answered from the journal or joined, queries, lane broadcast) while
//! the test decides how each flow plays out. It exists to test the protocol session's mapping
//! deterministically; end-to-end tests against the real engine and simulator exercise the
//! flows themselves.

#![allow(dead_code)]

use mposd::ecr::lane::LaneConfig;
use mposd::ecr::link::LinkConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage, Event, PaymentOptions, WireOutcome};
use mposd::ecr::register::{Heard, Register};
use mposd::ecr::serial::{serve_serial, SerialSettings};
use mposd::engine::{
    Command, CommandId, CommandState, CommandView, EngineHandle, EventKind, LaneEvent, Outcome, RejectCode,
    Request, Submission, Submitter,
};
use mposd::money::Minor;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_serial::SerialStream;
use tokio_util::sync::CancellationToken;

/// The scripted lane's MobilePay `posId`.
pub const POS_ID: &str = "c85916b1-8e17-4275-a388-551e16aa6293";

/// Generous: the machine running the tests may be busy.
pub const WAIT: Duration = Duration::from_secs(30);

/// A pseudo-terminal: the daemon opens `path` (the slave) like a serial device; the cash
/// register uses the master side.
pub struct PtyLine {
    pub path: PathBuf,
    master: OwnedFd,
    /// Keeps the slave side open, so reads on the master never fail with EIO while the daemon
    /// has the device closed (it never reads, so it takes no data away).
    _slave: SerialStream,
}

impl PtyLine {
    pub fn new() -> PtyLine {
        let (master, slave) = SerialStream::pair().expect("a pseudo-terminal pair");
        let path = PathBuf::from(tokio_serial::SerialPort::name(&slave).expect("the slave side has a path"));
        let dup = nix::unistd::dup(master.as_raw_fd()).expect("dup of the master");
        // SAFETY: `dup` returned a fresh descriptor that nothing else owns.
        let master_fd = unsafe { OwnedFd::from_raw_fd(dup) };
        drop(master);
        PtyLine {
            path,
            master: master_fd,
            _slave: slave,
        }
    }

    /// Clears the exclusive-use flag a daemon's open set on the slave. A real device is
    /// released when its last user dies; this pseudo-terminal is not, because the test holds
    /// the slave open, so a daemon restarted without root rights would be refused.
    pub fn release_exclusive(&self) {
        // SAFETY: TIOCNXCL takes no argument and only clears a flag of the open terminal.
        let rc = unsafe { nix::libc::ioctl(self._slave.as_raw_fd(), nix::libc::TIOCNXCL) };
        assert_eq!(rc, 0, "TIOCNXCL");
    }

    /// A new cash register on this line: a fresh process opening the line (its link starts
    /// at sequence number 00, it remembers nothing).
    pub fn register(&self) -> Register {
        let fd = self.master.try_clone().expect("dup of the master");
        // SAFETY: the descriptor is ours alone and becomes owned by the port.
        let port = unsafe { serialport::TTYPort::from_raw_fd(fd.into_raw_fd()) };
        let stream = SerialStream::try_from(port).expect("async master");
        Register::over(stream, LinkConfig::default())
    }
}

/// Reads from the register until `pick` accepts a message; panics after [`WAIT`].
pub async fn expect<T>(
    register: &mut Register,
    what: &str,
    mut pick: impl FnMut(&DaemonMessage) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, register.next()).await {
            Ok(Some(Heard::Message(message))) => {
                if let Some(value) = pick(&message) {
                    return value;
                }
                seen.push(message);
            }
            Ok(other) => panic!("waiting for {what}: {other:?} (seen {seen:#?})"),
            Err(_) => panic!("timed out waiting for {what}; seen {seen:#?}"),
        }
    }
}

/// Sends a message and returns the next message answering its id.
pub async fn ask(register: &mut Register, message: EcrMessage) -> DaemonMessage {
    let id = message.id().to_string();
    register.send(&message);
    expect(register, &format!("the reply to {id}"), |m| {
        (reply_id(m) == Some(id.as_str())).then(|| m.clone())
    })
    .await
}

/// Sends a command the daemon must refuse before storing it, and returns its `rejected`
/// outcome's code and message; panics if `accepted` (the promise that the command is stored)
/// or any other outcome comes for it.
pub async fn refused(register: &mut Register, message: EcrMessage) -> (RejectCode, String) {
    let id = message.id().to_string();
    register.send(&message);
    expect(register, &format!("the refusal of {id}"), |m| match m {
        DaemonMessage::Accepted { id: i } if *i == id => panic!("{id} was refused but got accepted"),
        DaemonMessage::Outcome {
            id: i,
            approved: false,
            resolved: false,
            outcome: WireOutcome::Rejected { code, message },
        } if *i == id => Some((*code, message.clone())),
        DaemonMessage::Outcome { id: i, .. } if *i == id => panic!("{id} was not refused: {m:?}"),
        _ => None,
    })
    .await
}

pub fn reply_id(message: &DaemonMessage) -> Option<&str> {
    match message {
        DaemonMessage::Hello { id, .. }
        | DaemonMessage::Status { id, .. }
        | DaemonMessage::Accepted { id }
        | DaemonMessage::QueryResult { id, .. } => Some(id),
        DaemonMessage::Error { id, .. } => id.as_deref(),
        DaemonMessage::Event { .. } | DaemonMessage::Outcome { .. } => None,
    }
}

struct Entry {
    command: Command,
    state: CommandState,
    /// Who gets the command's events through a submission, and its channel.
    watchers: Vec<(Submitter, mpsc::UnboundedSender<LaneEvent>)>,
}

/// A payment engine whose flows the test plays out by hand.
pub struct ScriptedEngine {
    pub handle: EngineHandle,
    journal: Arc<Mutex<HashMap<CommandId, Entry>>>,
    events: broadcast::Sender<LaneEvent>,
    /// Every command the engine starts anew (repeats are not new).
    pub started: mpsc::UnboundedReceiver<(CommandId, Command)>,
}

impl ScriptedEngine {
    pub fn start() -> ScriptedEngine {
        let (requests, mut incoming) = mpsc::channel::<Request>(64);
        let (events, _) = broadcast::channel(256);
        let handle = EngineHandle::new(requests, events.clone(), POS_ID.into());
        let journal: Arc<Mutex<HashMap<CommandId, Entry>>> = Arc::default();
        let (started_tx, started) = mpsc::unbounded_channel();
        let j = journal.clone();
        tokio::spawn(async move {
            while let Some(request) = incoming.recv().await {
                match request {
                    Request::Submit {
                        id,
                        command,
                        submitter,
                        reply,
                    } => {
                        let (tx, rx) = mpsc::unbounded_channel();
                        let mut stored = true;
                        let mut journal = j.lock().unwrap();
                        match journal.get_mut(&id) {
                            Some(entry) if entry.command != command => {
                                stored = false;
                                let _ = tx.send(lane_event(
                                    &id,
                                    EventKind::Finished {
                                        outcome: Outcome::Rejected {
                                            code: RejectCode::CommandIdReused,
                                            message: "used for another command".into(),
                                        },
                                    },
                                ));
                            }
                            Some(entry) => match &entry.state {
                                CommandState::Finished(outcome) => {
                                    let _ = tx.send(lane_event(
                                        &id,
                                        EventKind::Finished {
                                            outcome: outcome.clone(),
                                        },
                                    ));
                                }
                                CommandState::Running => {
                                    entry.watchers.retain(|(f, _)| *f != submitter);
                                    entry.watchers.push((submitter, tx));
                                }
                            },
                            None => {
                                journal.insert(
                                    id.clone(),
                                    Entry {
                                        command: command.clone(),
                                        state: CommandState::Running,
                                        watchers: vec![(submitter, tx)],
                                    },
                                );
                                let _ = started_tx.send((id, command));
                            }
                        }
                        let submission = if stored {
                            Submission::new(rx)
                        } else {
                            Submission::refused(rx)
                        };
                        let _ = reply.send(Ok(submission));
                    }
                    Request::Query { id, reply } => {
                        let journal = j.lock().unwrap();
                        let view = journal.get(&id).map(|entry| CommandView {
                            id: id.clone(),
                            command: entry.command.clone(),
                            state: entry.state.clone(),
                            payment_id: None,
                            refund_id: None,
                            invoice_id: None,
                            agreement_id: None,
                            accepted_at_ms: 0,
                        });
                        let _ = reply.send(Ok(view));
                    }
                    Request::Alarms { reply } => {
                        let _ = reply.send(Ok(Vec::new()));
                    }
                    // The scripted lane never changes its point of sale, and polls nothing.
                    Request::PointOfSale(_) | Request::Nudge { .. } => {}
                }
            }
        });
        ScriptedEngine {
            handle,
            journal,
            events,
            started,
        }
    }

    /// Waits for the next command the engine starts anew.
    pub async fn next_started(&mut self) -> (CommandId, Command) {
        tokio::time::timeout(WAIT, self.started.recv())
            .await
            .expect("a command reaches the engine")
            .expect("engine running")
    }

    /// Emits an event of command `id` (through its submissions, and on the lane marked with their
    /// submitters); `Finished` stores the outcome.
    pub fn emit(&self, id: &str, kind: EventKind) {
        let id = CommandId::new(id).unwrap();
        let mut event = lane_event(&id, kind);
        let mut journal = self.journal.lock().unwrap();
        let entry = journal.get_mut(&id).expect("a known command");
        event.submitters = entry.watchers.iter().map(|(f, _)| *f).collect();
        let _ = self.events.send(event.clone());
        for (_, watcher) in &entry.watchers {
            let _ = watcher.send(event.clone());
        }
        if let EventKind::Finished { outcome } = &event.kind {
            entry.state = CommandState::Finished(outcome.clone());
            entry.watchers.clear();
        }
    }

    /// An event on the lane broadcast only (news, or commands resumed after a restart).
    pub fn broadcast(&self, command_id: Option<&str>, kind: EventKind) {
        let _ = self.events.send(LaneEvent {
            point_of_sale: POS_ID.into(),
            command_id: command_id.map(|id| CommandId::new(id).unwrap()),
            at_ms: 0,
            kind,
            submitters: Vec::new(),
        });
    }
}

fn lane_event(id: &CommandId, kind: EventKind) -> LaneEvent {
    LaneEvent {
        point_of_sale: POS_ID.into(),
        command_id: Some(id.clone()),
        at_ms: 0,
        kind,
        submitters: Vec::new(),
    }
}

/// A daemon lane serving `line`, stopped when the returned token is dropped.
pub fn serve(line: &PtyLine, engine: &ScriptedEngine) -> tokio_util::sync::DropGuard {
    let token = CancellationToken::new();
    tokio::spawn(serve_serial(
        SerialSettings::new(&line.path),
        engine.handle.clone(),
        LaneConfig::default(),
        token.clone(),
    ));
    token.drop_guard()
}

pub fn pay(id: &str, amount: i64, order: &str) -> EcrMessage {
    EcrMessage::Pay {
        id: id.into(),
        amount: Minor(amount),
        currency: None,
        order: order.into(),
        reserve: false,
        options: PaymentOptions::default(),
    }
}

pub fn outcome_of<'a>(id: &'a str) -> impl FnMut(&DaemonMessage) -> Option<(bool, bool, WireOutcome)> + 'a {
    move |m| match m {
        DaemonMessage::Outcome {
            id: i,
            approved,
            resolved,
            outcome,
        } if i == id => Some((*approved, *resolved, outcome.clone())),
        _ => None,
    }
}

pub fn event_of<'a>(id: &'a str) -> impl FnMut(&DaemonMessage) -> Option<Event> + 'a {
    move |m| match m {
        DaemonMessage::Event { id: Some(i), event } if i == id => Some(event.clone()),
        _ => None,
    }
}
