//! Runs each command's flow in its own task: it executes the actions of [`flow::step`] (store,
//! sync, emit, answer, call the backend, wait) and feeds the results back, and connects a cancel
//! command to the command it cancels.

use super::api::{CommandId, EngineError, EventKind, Outcome};
use super::backend::{Agreements, Backend, BackendError, CorrelationId, Invoicing};
use super::clock::now_ms;
use super::core::{Engine, Running, Waiter};
use super::flow::{self, Action, ApiCall, Input, Reply};
use super::record::Record;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Connects a started cancel command to the command it cancels: if that one has answered, the
/// cancel learns its outcome now, otherwise when it answers; a running flow is told to cancel.
pub(crate) fn follow_cancel_target<B: Backend>(shared: &Engine<B>, id: &CommandId, victim: &CommandId) {
    // A finished victim may be only in the journal; a running one is always held.
    let stored = shared.record(victim);
    let (deliver_now, running) = {
        let mut state = shared.lock();
        let running = state.running.contains_key(victim);
        let deliver = match state.records.get(victim).or(stored.as_ref()) {
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

/// Tells the running flows of `payment_id` (its sale, and any refund of it) that it may have
/// changed, so one waiting for its next status poll polls now.
pub(crate) fn nudge<B: Backend>(shared: &Engine<B>, payment_id: &str) {
    let state = shared.lock();
    for (id, running) in &state.running {
        if state.records.get(id).and_then(|r| r.payment_id.as_deref()) == Some(payment_id) {
            let _ = running.inputs.send(Input::Nudge);
        }
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
    // The end of a wait that an outside input interrupted: when that input asks for nothing
    // (news the flow has no use for now), the wait goes on until then.
    let mut interrupted: Option<Instant> = None;
    loop {
        let mut actions = flow::step(&mut record, input, now_ms(), &shared.policy());
        if let (true, Some(until)) = (actions.is_empty(), interrupted) {
            let left = until.saturating_duration_since(Instant::now());
            actions.push(Action::Sleep(u64::try_from(left.as_millis()).unwrap_or(u64::MAX)));
        }
        interrupted = None;
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
                    if let EventKind::NeedsHuman { detail, .. } = &kind {
                        shared.keep_alarm(format!("command {}: {detail}", record.id));
                    }
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
                    let until = Instant::now() + Duration::from_millis(ms);
                    tokio::select! {
                        _ = tokio::time::sleep_until(until) => next = Some(Input::Timer),
                        Some(external) = inbox.recv() => {
                            interrupted = Some(until);
                            next = Some(external);
                        }
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
        ApiCall::Capture {
            key,
            payment_id,
            amount,
        } => backend
            .capture(c, &key, &payment_id, amount)
            .await
            .map(|()| Reply::Done),
        ApiCall::CancelPayment { key, payment_id } => {
            backend.cancel(c, &key, &payment_id).await.map(|()| Reply::Done)
        }
        ApiCall::Refund { key, refund } => backend.refund(c, &key, &refund).await.map(Reply::Id),
        ApiCall::GetRefund { refund_id } => backend.refund_status(c, &refund_id).await.map(Reply::Refund),
        ApiCall::ConfirmRefund { refund_id } => {
            backend.confirm_refund(c, &refund_id).await.map(|()| Reply::Done)
        }
        ApiCall::CancelRefund { refund_id } => {
            backend.cancel_refund(c, &refund_id).await.map(|()| Reply::Done)
        }
        ApiCall::CreateInvoice { invoice } => invoicing(backend)?
            .create_invoice(c, &invoice)
            .await
            .map(Reply::CreatedInvoice),
        ApiCall::GetInvoice { invoice_id } => invoicing(backend)?
            .invoice(c, &invoice_id)
            .await
            .map(Reply::Invoice),
        ApiCall::CancelInvoice { invoice_id } => invoicing(backend)?
            .cancel_invoice(c, &invoice_id)
            .await
            .map(|()| Reply::Done),
        ApiCall::CreateAgreement { agreement } => agreements(backend)?
            .create_agreement(c, &agreement)
            .await
            .map(Reply::CreatedAgreement),
        ApiCall::FindAgreement { reference } => agreements(backend)?
            .find_agreement(c, &reference)
            .await
            .map(Reply::FoundAgreement),
        ApiCall::GetAgreement { agreement_id } => agreements(backend)?
            .agreement(c, &agreement_id)
            .await
            .map(Reply::Agreement),
        ApiCall::CaptureFirstPayment {
            agreement_id,
            payment_id,
        } => agreements(backend)?
            .capture_first_payment(c, &agreement_id, &payment_id)
            .await
            .map(|()| Reply::Done),
        ApiCall::CancelAgreement { agreement_id } => agreements(backend)?
            .cancel_agreement(c, &agreement_id)
            .await
            .map(|()| Reply::Done),
        ApiCall::RefundAgreementPayment { refund } => {
            agreements(backend)?.refund(c, &refund).await.map(Reply::Id)
        }
        ApiCall::FindAgreementRefund {
            agreement_id,
            payment_id,
            reference,
        } => agreements(backend)?
            .find_refund(c, &agreement_id, &payment_id, &reference)
            .await
            .map(Reply::FoundRefund),
    }
}

/// The lane's agreements; as for [`invoicing`], a lane whose settings lost them cannot go on.
fn agreements<B: Backend>(backend: &B) -> Result<&B::Agreements, BackendError> {
    backend.agreements().ok_or_else(|| BackendError::Refused {
        reason: crate::engine::backend::Refusal::NotSetUp,
        detail: "this lane no longer makes agreements (its subscription settings were removed)".into(),
    })
}

/// The lane's invoices. A lane whose invoice product was removed from the configuration
/// while one of its invoices was still followed cannot go on with it: a person looks at it.
fn invoicing<B: Backend>(backend: &B) -> Result<&B::Invoicing, BackendError> {
    backend.invoicing().ok_or_else(|| BackendError::Refused {
        reason: crate::engine::backend::Refusal::NotSetUp,
        detail: "this lane no longer issues invoices (its invoice settings were removed)".into(),
    })
}
