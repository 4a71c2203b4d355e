//! The protocol session of one lane: turns the cash register's messages into engine commands
//! and the engine's answers and events into protocol messages.
//!
//! Sans link: messages arrive as bodies through [`Session::handle`], and everything to send
//! goes to the outbox the session was created with, so the session outlives the connections
//! of its lane (a serial device that is reopened, a TCP client that reconnects).
//!
//! Every engine event reaches the cash register once. The session submits commands and
//! watches the lane as one [`Submitter`]: the events of a command submitted here come through
//! its engine [`Submission`](crate::engine::Submission) (reliable even when the broadcast lags,
//! in order after `accepted`, and also for a repeated command the engine answers from its
//! journal), and the engine marks their broadcast copies with the submitter, so the broadcast
//! path forwards exactly the rest: commands submitted elsewhere or resumed after a restart,
//! `Resolved` outcomes and lane-wide news.

use super::message::{
    encode, parse_ecr_message, ConsentState, DaemonMessage, EcrMessage, ErrorCode, Event, PaymentOptions,
    QueriedOutcome, QueryState, Reachability, WireOutcome, DEFAULT_INVOICE_WAIT_S, DEFAULT_SIGNUP_WAIT_S,
    PROTOCOL_VERSION,
};
use crate::engine::backend::CardRestrictions as Restrictions;
use crate::engine::invoicing::InvoiceDelivery;
use crate::engine::{
    Command, CommandId, CommandState, EngineError, EngineHandle, EventKind, LaneEvent, PaymentSelector,
    Submitter,
};
use crate::money::Currency;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;

/// Settings of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Used when a command gives no currency.
    pub currency: Currency,
    /// Where `status` reads the merchants' consent states from.
    pub consents: ConsentView,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig {
            currency: Currency::DKK,
            consents: ConsentView::default(),
        }
    }
}

/// The merchants' consent states as the daemon knows them now, for `status`. The session only
/// passes them on: keeping consents alive is the daemon's job, not the cash register's.
#[derive(Clone, Default)]
pub struct ConsentView(Option<Arc<dyn Fn() -> Vec<ConsentState> + Send + Sync>>);

impl ConsentView {
    pub fn new(read: impl Fn() -> Vec<ConsentState> + Send + Sync + 'static) -> ConsentView {
        ConsentView(Some(Arc::new(read)))
    }

    fn read(&self) -> Vec<ConsentState> {
        self.0.as_ref().map(|read| read()).unwrap_or_default()
    }
}

impl std::fmt::Debug for ConsentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsentView")
    }
}

/// Two views are the same when they read the same source.
impl PartialEq for ConsentView {
    fn eq(&self, other: &ConsentView) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Eq for ConsentView {}

/// What the session has seen of its lane in the events it forwarded, for `status`: the
/// commands running and whether MobilePay answers.
#[derive(Debug, Default)]
struct LaneView {
    running: BTreeSet<String>,
    backend_offline: bool,
}

impl LaneView {
    /// Keeps `running` and the backend state up to date with an event of the lane.
    fn note(&mut self, event: &LaneEvent) {
        match (&event.command_id, &event.kind) {
            (_, EventKind::BackendOffline) => self.backend_offline = true,
            (_, EventKind::BackendOnline) => self.backend_offline = false,
            (Some(id), EventKind::Finished { .. } | EventKind::Resolved { .. }) => {
                self.running.remove(id.as_str());
            }
            (Some(id), _) => {
                self.running.insert(id.to_string());
            }
            (None, _) => {}
        }
    }
}

/// The protocol session of one lane.
pub struct Session {
    engine: EngineHandle,
    config: SessionConfig,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
    shared: Arc<Mutex<LaneView>>,
    /// Who this session is to the engine, for its submissions and its watch of the lane.
    submitter: Submitter,
    /// Tasks following submitted commands and the lane broadcast; aborted with the session.
    tasks: JoinSet<()>,
}

fn lock(shared: &Mutex<LaneView>) -> MutexGuard<'_, LaneView> {
    // The data stays consistent even if a holder panicked: every update is a single step.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn send(outbox: &mpsc::UnboundedSender<Vec<u8>>, message: &DaemonMessage) {
    // A closed outbox means the lane is shutting down; nothing is left to tell.
    let _ = outbox.send(encode(message));
}

impl Session {
    /// Starts the session of the lane `engine` drives; its messages go to `outbox`. Must be
    /// called inside a tokio runtime.
    pub fn start(
        engine: EngineHandle,
        config: SessionConfig,
        outbox: mpsc::UnboundedSender<Vec<u8>>,
    ) -> Session {
        let shared = Arc::new(Mutex::new(LaneView::default()));
        let submitter = Submitter::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(forward_lane_events(
            engine.subscribe(),
            submitter,
            shared.clone(),
            outbox.clone(),
        ));
        Session {
            engine,
            config,
            outbox,
            shared,
            submitter,
            tasks,
        }
    }

    /// Handles one message body from the cash register. Replies that need the engine are sent
    /// by tasks of the session, in order per command.
    pub fn handle(&mut self, body: &[u8]) {
        while self.tasks.try_join_next().is_some() {}
        let message = match parse_ecr_message(body) {
            Ok(message) => message,
            Err(err) => {
                tracing::warn!(
                    code = err.code.as_str(),
                    "refused an ECR message: {}",
                    err.message
                );
                return self.error(err.id, err.code, err.message);
            }
        };
        let id = message.id().to_string();
        match self.command(message) {
            Ok(Request::Hello { protocol, ecr }) => self.hello(id, protocol, ecr),
            Ok(Request::Status) => self.status(id),
            Ok(Request::Query(target)) => self.query(id, target),
            Ok(Request::Submit(command_id, command)) => self.submit(command_id, command),
            Err((code, message)) => self.error(Some(id), code, message),
        }
    }

    fn error(&self, id: Option<String>, code: ErrorCode, message: String) {
        send(&self.outbox, &DaemonMessage::Error { id, code, message });
    }

    /// Validates a message and turns it into what the session does with it.
    fn command(&self, message: EcrMessage) -> Result<Request, (ErrorCode, String)> {
        let currency = |c: Option<Currency>| c.unwrap_or(self.config.currency);
        Ok(match message {
            // Their ids only tie the reply to the request, but follow the same rules, so a
            // reply can always carry its id back.
            EcrMessage::Hello { id, protocol, ecr } => {
                command_id(&id)?;
                Request::Hello { protocol, ecr }
            }
            EcrMessage::Status { id } => {
                command_id(&id)?;
                Request::Status
            }
            EcrMessage::Query { id, command } => {
                command_id(&id)?;
                Request::Query(command_id(&command)?)
            }
            EcrMessage::Pay {
                id,
                amount,
                currency: c,
                order,
                reserve,
                options,
            } => {
                let id = command_id(&id)?;
                let (payer, order_lines) = super::in_store::sale(&options)?;
                let (restrictions, label) = split_options(options);
                Request::Submit(
                    id,
                    Command::Pay {
                        amount,
                        currency: currency(c),
                        order_id: order,
                        keep_reservation: reserve,
                        restrictions,
                        label,
                        payer,
                        order_lines,
                    },
                )
            }
            EcrMessage::Prepare { id, order } => {
                Request::Submit(command_id(&id)?, Command::Prepare { order_id: order })
            }
            EcrMessage::Ready {
                id,
                prepared,
                amount,
                currency: c,
                reserve,
                options,
            } => {
                let id = command_id(&id)?;
                if super::in_store::has_sale_fields(&options) {
                    return Err((
                        ErrorCode::InvalidMessage,
                        "\"flow\", \"phone\", \"personal_qr\" and \"lines\" belong to pay: a ready finishes a payment the customer already checked in to".into(),
                    ));
                }
                let (restrictions, label) = split_options(options);
                Request::Submit(
                    id,
                    Command::Ready {
                        target: command_id(&prepared)?,
                        amount,
                        currency: currency(c),
                        keep_reservation: reserve,
                        restrictions,
                        label,
                    },
                )
            }
            EcrMessage::Capture { id, payment, amount } => Request::Submit(
                command_id(&id)?,
                Command::Capture {
                    target: command_id(&payment)?,
                    amount,
                },
            ),
            EcrMessage::Cancel { id, target } => Request::Submit(
                command_id(&id)?,
                Command::Cancel {
                    target: command_id(&target)?,
                },
            ),
            EcrMessage::Refund {
                id,
                payment,
                order,
                amount,
                currency: c,
                refund_order,
            } => {
                let payment = match (payment, order) {
                    (Some(payment), None) => PaymentSelector::Command(command_id(&payment)?),
                    (None, Some(order)) => PaymentSelector::OrderId(order),
                    _ => {
                        return Err((
                            ErrorCode::InvalidMessage,
                            "a refund names its payment by exactly one of \"payment\" (command id) or \"order\" (order id)".into(),
                        ))
                    }
                };
                Request::Submit(
                    command_id(&id)?,
                    Command::Refund {
                        payment,
                        amount,
                        currency: currency(c),
                        refund_order_id: refund_order,
                    },
                )
            }
            EcrMessage::Invoice {
                id,
                amount,
                currency: c,
                order,
                phone,
                due,
                wait,
                label,
                lines,
            } => Request::Submit(
                command_id(&id)?,
                Command::Invoice {
                    amount,
                    currency: currency(c),
                    order_id: order,
                    delivery: match phone {
                        Some(typed) => InvoiceDelivery::Phone {
                            number: super::in_store::phone_number(&typed),
                        },
                        None => InvoiceDelivery::Link,
                    },
                    due_date: due,
                    counter_wait_s: wait.unwrap_or(DEFAULT_INVOICE_WAIT_S),
                    order_lines: lines.iter().map(super::in_store::order_line).collect(),
                    label,
                },
            ),
            EcrMessage::Signup {
                id,
                order,
                plan,
                description,
                price,
                currency: c,
                per_year,
                phone,
                first_payment,
                wait,
            } => Request::Submit(
                command_id(&id)?,
                Command::SignUp {
                    order_id: order,
                    plan,
                    description,
                    price,
                    currency: currency(c),
                    payments_per_year: per_year,
                    phone: phone.as_deref().map(super::in_store::phone_number),
                    first_payment,
                    counter_wait_s: wait.unwrap_or(DEFAULT_SIGNUP_WAIT_S),
                },
            ),
        })
    }

    fn hello(&self, id: String, protocol: Option<u32>, ecr: Option<String>) {
        if let Some(version) = protocol.filter(|v| *v != PROTOCOL_VERSION) {
            return self.error(
                Some(id),
                ErrorCode::UnsupportedProtocol,
                format!("protocol version {version} is not supported; this terminal speaks version {PROTOCOL_VERSION}"),
            );
        }
        tracing::info!(
            lane = self.engine.point_of_sale(),
            ecr = ecr.as_deref().unwrap_or("unnamed"),
            "cash register said hello"
        );
        send(
            &self.outbox,
            &DaemonMessage::Hello {
                id,
                protocol: PROTOCOL_VERSION,
                product: "mposd".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                lane: self.engine.point_of_sale(),
            },
        );
    }

    fn status(&mut self, id: String) {
        let engine = self.engine.clone();
        let outbox = self.outbox.clone();
        let shared = self.shared.clone();
        let consents = self.config.consents.read();
        self.tasks.spawn(async move {
            let alarms = match engine.alarms().await {
                Ok(alarms) => alarms,
                Err(err) => {
                    return send(
                        &outbox,
                        &DaemonMessage::Error {
                            id: Some(id),
                            code: ErrorCode::EngineUnavailable,
                            message: err.to_string(),
                        },
                    )
                }
            };
            let message = {
                let shared = lock(&shared);
                DaemonMessage::Status {
                    id,
                    lane: engine.point_of_sale(),
                    backend: if shared.backend_offline {
                        Reachability::Offline
                    } else {
                        Reachability::Online
                    },
                    running: shared.running.iter().cloned().collect(),
                    alarms,
                    consents,
                }
            };
            send(&outbox, &message);
        });
    }

    fn query(&mut self, id: String, target: CommandId) {
        let engine = self.engine.clone();
        let outbox = self.outbox.clone();
        self.tasks.spawn(async move {
            let message = match engine.query(&target).await {
                Ok(view) => query_result(id, &target, view, engine.journal_doubt().is_some()),
                Err(EngineError::InDoubt) => query_result(id, &target, None, true),
                Err(err) => DaemonMessage::Error {
                    id: Some(id),
                    code: ErrorCode::EngineUnavailable,
                    message: err.to_string(),
                },
            };
            send(&outbox, &message);
        });
    }

    fn submit(&mut self, id: CommandId, command: Command) {
        if let Some(refusal) = self.engine.refusal() {
            // Answered at once, not from a task: a stopping link closes as soon as it has
            // nothing left to send, and this refusal must be among what it sends.
            return self.error(Some(id.to_string()), refusal_code(&refusal), refusal.to_string());
        }
        let engine = self.engine.clone();
        let outbox = self.outbox.clone();
        let shared = self.shared.clone();
        let submitter = self.submitter;
        self.tasks.spawn(async move {
            let mut submission = match engine.submit_as(submitter, id.clone(), command).await {
                Ok(submission) => submission,
                Err(err) => {
                    tracing::warn!(command = %id, "the engine did not accept a command: {err}");
                    return send(
                        &outbox,
                        &DaemonMessage::Error {
                            id: Some(id.to_string()),
                            code: refusal_code(&err),
                            message: err.to_string(),
                        },
                    );
                }
            };
            // `accepted` promises that the command is stored; a refused one (nothing stored)
            // gets only its `rejected` outcome.
            if submission.is_stored() {
                lock(&shared).running.insert(id.to_string());
                send(&outbox, &DaemonMessage::Accepted { id: id.to_string() });
            }
            // Ends after `Finished`, or without it when a repeat of the command took over.
            while let Some(event) = submission.next_event().await {
                lock(&shared).note(&event);
                if let Some(message) = to_message(event) {
                    send(&outbox, &message);
                }
            }
        });
    }
}

enum Request {
    Hello {
        protocol: Option<u32>,
        ecr: Option<String>,
    },
    Status,
    Query(CommandId),
    Submit(CommandId, Command),
}

/// The error code for a command the engine did not take.
fn refusal_code(err: &EngineError) -> ErrorCode {
    match err {
        EngineError::NotReady => ErrorCode::NotReady,
        _ => ErrorCode::EngineUnavailable,
    }
}

fn command_id(text: &str) -> Result<CommandId, (ErrorCode, String)> {
    CommandId::new(text).map_err(|e| (ErrorCode::InvalidCommandId, format!("{e}: {text:?}")))
}

fn split_options(options: PaymentOptions) -> (Option<Restrictions>, Option<String>) {
    let restrictions = (options.debit_card_disallowed.is_some() || options.credit_card_disallowed.is_some())
        .then_some(Restrictions {
            debit_card_disallowed: options.debit_card_disallowed,
            credit_card_disallowed: options.credit_card_disallowed,
        });
    (restrictions, options.label)
}

/// The answer to a query. An id the journal does not know is `not_found` only while the journal
/// can vouch for that: after it was rebuilt from damage, it is `in_doubt`.
fn query_result(
    id: String,
    target: &CommandId,
    view: Option<crate::engine::CommandView>,
    in_doubt: bool,
) -> DaemonMessage {
    let Some(view) = view else {
        return DaemonMessage::QueryResult {
            id,
            command: target.to_string(),
            state: if in_doubt {
                QueryState::InDoubt
            } else {
                QueryState::NotFound
            },
            kind: None,
            payment_id: None,
            refund_id: None,
            invoice_id: None,
            agreement_id: None,
            outcome: None,
        };
    };
    let (state, outcome) = match view.state {
        CommandState::Running => (QueryState::Running, None),
        CommandState::Finished(outcome) => {
            let outcome = WireOutcome::from(outcome);
            (
                QueryState::Finished,
                Some(QueriedOutcome {
                    approved: outcome.is_approved(),
                    outcome,
                }),
            )
        }
    };
    DaemonMessage::QueryResult {
        id,
        command: target.to_string(),
        state,
        kind: Some(view.command.kind()),
        payment_id: view.payment_id,
        refund_id: view.refund_id,
        invoice_id: view.invoice_id,
        agreement_id: view.agreement_id,
        outcome,
    }
}

/// The protocol message for an engine event.
pub fn to_message(event: LaneEvent) -> Option<DaemonMessage> {
    let id = event.command_id.map(|id| id.to_string());
    let outcome = |id: Option<String>, outcome, resolved| {
        let outcome = WireOutcome::from(outcome);
        Some(DaemonMessage::Outcome {
            // An outcome always belongs to a command; one without is not for the ECR.
            id: id?,
            approved: outcome.is_approved(),
            resolved,
            outcome,
        })
    };
    let event = match event.kind {
        EventKind::Finished { outcome: o } => return outcome(id, o, false),
        EventKind::Resolved { outcome: o } => return outcome(id, o, true),
        EventKind::WaitingForCustomer {
            payment_id,
            amount,
            currency,
            ..
        } => Event::WaitingForCustomer {
            payment_id,
            amount,
            currency,
        },
        EventKind::CustomerCheckedIn { payment_id, customer } => Event::CustomerCheckedIn {
            payment_id,
            customer: customer.into(),
        },
        EventKind::Reserved {
            payment_id,
            amount,
            partial_capture_possible,
        } => Event::Reserved {
            payment_id,
            amount,
            partial_capture_possible,
        },
        EventKind::Captured { payment_id, amount } => Event::Captured { payment_id, amount },
        EventKind::Declined { payment_id, reason } => Event::Declined { payment_id, reason },
        EventKind::Cancelled { payment_id } => Event::Cancelled { payment_id },
        EventKind::RefundInProgress { refund_id, amount } => Event::RefundInProgress { refund_id, amount },
        EventKind::Refunded { refund_id, amount } => Event::Refunded { refund_id, amount },
        EventKind::OutcomeUnknown { payment_id } => Event::OutcomeUnknown { payment_id },
        EventKind::NeedsHuman { payment_id, detail } => Event::NeedsHuman { payment_id, detail },
        EventKind::BackendOffline => Event::BackendOffline,
        EventKind::BackendOnline => Event::BackendOnline,
        EventKind::StickerCheckIn { location } => Event::StickerCheckIn { location },
        EventKind::InvoiceIssued {
            invoice_id,
            link,
            phone,
            amount,
            currency,
            due_date,
        } => Event::InvoiceIssued {
            invoice_id,
            link,
            phone,
            amount,
            currency,
            due_date,
        },
        EventKind::InvoiceScheduled {
            invoice_id,
            payment_date,
        } => Event::InvoiceScheduled {
            invoice_id,
            payment_date,
        },
        EventKind::InvoicePaid { invoice_id, amount } => Event::InvoicePaid { invoice_id, amount },
        EventKind::InvoiceEnded { invoice_id, reason } => Event::InvoiceEnded { invoice_id, reason },
        EventKind::AgreementPending {
            agreement_id,
            link,
            plan,
            price,
            payments_per_year,
            first_payment,
            currency,
            expires_at_ms,
        } => Event::AgreementPending {
            agreement_id,
            link,
            plan,
            price,
            per_year: payments_per_year,
            first_payment,
            currency,
            expires_at: expires_at_ms,
        },
        EventKind::AgreementAccepted { agreement_id } => Event::AgreementAccepted { agreement_id },
        EventKind::SignedUp {
            agreement_id,
            first_payment,
        } => Event::SignedUp {
            agreement_id,
            first_payment,
        },
        EventKind::AgreementEnded { agreement_id, reason } => Event::AgreementEnded { agreement_id, reason },
        // The display's business; the cash register's protocol has no such event.
        EventKind::PromptChanged { .. } => return None,
    };
    Some(DaemonMessage::Event { id, event })
}

/// Forwards the lane's events that no submission of this session carries.
async fn forward_lane_events(
    mut events: broadcast::Receiver<LaneEvent>,
    submitter: Submitter,
    shared: Arc<Mutex<LaneView>>,
    outbox: mpsc::UnboundedSender<Vec<u8>>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "the cash register missed lane events of commands it did not send; it can query outcomes"
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        if event.carried_to(submitter) {
            continue;
        }
        lock(&shared).note(&event);
        if let Some(message) = to_message(event) {
            send(&outbox, &message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Outcome, Request, Submission};
    use crate::money::Minor;

    /// A lane broadcast that runs far ahead of the session loses events, but none of a command
    /// submitted through the session (its submission carries them), and their broadcast copies
    /// that survive are not sent a second time.
    #[tokio::test]
    async fn a_lagging_broadcast_loses_no_event_of_a_command_sent_here() {
        let (requests, mut driver) = mpsc::channel(4);
        // Room for four: the first of the five events below is lost to the session.
        let (lane, _) = broadcast::channel(4);
        let engine = EngineHandle::new(requests, lane.clone(), "pos-1".into());
        let (outbox, mut sent) = mpsc::unbounded_channel();
        let mut session = Session::start(engine, SessionConfig::default(), outbox);
        session.handle(br#"{"type":"pay","id":"sale-1","amount":700,"order":"R1-0001"}"#);
        let Some(Request::Submit {
            id, submitter, reply, ..
        }) = driver.recv().await
        else {
            panic!("the session submits the payment")
        };
        let (submission, events) = mpsc::unbounded_channel();
        reply.send(Ok(Submission::new(events))).unwrap();

        // No await from here on: the session's tasks cannot run while the engine emits.
        let event = |kind, submitters| LaneEvent {
            point_of_sale: "pos-1".into(),
            command_id: Some(id.clone()),
            at_ms: 0,
            kind,
            submitters,
        };
        let outcome = Outcome::Captured {
            payment_id: "p1".into(),
            amount: Minor(700),
            currency: Currency::DKK,
        };
        for kind in [
            EventKind::Reserved {
                payment_id: "p1".into(),
                amount: Minor(700),
                partial_capture_possible: false,
            },
            EventKind::Captured {
                payment_id: "p1".into(),
                amount: Minor(700),
            },
            EventKind::Finished { outcome },
        ] {
            let event = event(kind, vec![submitter]);
            lane.send(event.clone()).unwrap();
            submission.send(event).unwrap();
        }
        drop(submission);
        // News only the broadcast carries.
        let news = |kind| LaneEvent {
            command_id: None,
            ..event(kind, Vec::new())
        };
        lane.send(news(EventKind::BackendOffline)).unwrap();
        lane.send(news(EventKind::BackendOnline)).unwrap();

        let mut heard = Vec::new();
        while heard.len() < 6 {
            let body = tokio::time::timeout(std::time::Duration::from_secs(30), sent.recv())
                .await
                .expect("the session sends")
                .expect("the session runs");
            heard.push(serde_json::from_slice::<DaemonMessage>(&body).unwrap());
        }
        let tags: Vec<_> = heard
            .iter()
            .map(|m| match m {
                DaemonMessage::Accepted { id } => format!("accepted {id}"),
                DaemonMessage::Event { id, event } => format!("{id:?} {event:?}"),
                DaemonMessage::Outcome { id, approved, .. } => format!("outcome {id} {approved}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            tags,
            [
                "accepted sale-1",
                "Some(\"sale-1\") Reserved { payment_id: \"p1\", amount: Minor(700), partial_capture_possible: false }",
                "Some(\"sale-1\") Captured { payment_id: \"p1\", amount: Minor(700) }",
                "outcome sale-1 true",
                "None BackendOffline",
                "None BackendOnline",
            ]
        );
        // Nothing else was sent, and the session stays usable.
        tokio::task::yield_now().await;
        assert!(sent.try_recv().is_err());
    }
}
