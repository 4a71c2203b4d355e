//! Every flow against scripted backend answers: each state, refusal and timeout the engine
//! knows, plus an enumeration of crash points.
//!
//! This module holds the harness that drives one record and checks the ordering rules after
//! every step, and the records and answers the tests share; the tests are in files by subject.

mod agreements;
mod capabilities;
mod capture_cancel;
mod crash_points;
mod doubt;
mod errors;
mod invoices;
mod nudge;
mod payments;
mod prepared;
mod refunds;
mod validation;

use super::*;
use crate::engine::api::{
    Command, CommandId, CustomerInfo, DeclineReason, PaymentSelector, RefundCancelReason, RejectCode,
};
use crate::engine::backend::{
    Amounts, Capabilities, Decliner, PartialCapture, PaymentState, RefundModel, RefundState, Refusal,
};
use crate::engine::record::OrderCheck;
use crate::money::{Currency, MAX_MINOR};

fn cid(s: &str) -> CommandId {
    CommandId::new(s).unwrap()
}

fn pay_command(keep_reservation: bool) -> Command {
    Command::Pay {
        amount: Minor(4995),
        currency: Currency::DKK,
        order_id: "order-1".into(),
        keep_reservation,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    }
}

fn record(command: Command) -> Record {
    let mut rec = Record::new(cid("cmd-1"), command, "pos-1".into(), 0);
    rec.create_key = Some("key-1".into());
    rec
}

fn payment(state: PaymentState) -> PaymentInfo {
    PaymentInfo {
        payment_id: "pay-1".into(),
        order_id: "order-1".into(),
        state,
        amount: Some(Minor(4995)),
        currency: Some(Currency::DKK),
        loyalty_ids: Some(vec![]),
        customer_token: Some("tok".into()),
        customer_receipt_token: Some(String::new()),
        partial_capture_possible: Some(true),
        poll_delay_ms: 1000,
        prompt: None,
    }
}

fn refund_info(state: RefundState) -> RefundInfo {
    RefundInfo {
        refund_id: "ref-1".into(),
        payment_id: "pay-1".into(),
        state,
        amount: Some(Minor(1000)),
        currency: Currency::DKK,
        poll_delay_ms: 100,
    }
}

fn refused(reason: Refusal) -> BackendError {
    BackendError::Refused {
        reason,
        detail: format!("refused: {reason:?}"),
    }
}

/// The sale's 49.95 reserved.
fn reserved() -> PaymentState {
    PaymentState::Authorized(Amounts {
        authorized: Minor(4995),
        ..Amounts::default()
    })
}

/// The sale's 49.95 captured.
fn captured() -> PaymentState {
    PaymentState::Authorized(Amounts {
        authorized: Minor(4995),
        captured: Minor(4995),
        ..Amounts::default()
    })
}

/// Drives one record and checks the ordering rules after every step.
struct Harness {
    rec: Record,
    now: u64,
    policy: Policy,
    answers: Vec<Outcome>,
    events: Vec<EventKind>,
    durable: Option<Record>,
}

impl Harness {
    /// The key the record's next capture or cancel (`change`) must carry.
    fn change_key(&self, change: &str) -> String {
        let base = self.rec.create_key.as_deref().unwrap_or(self.rec.id.as_str());
        crate::engine::keys::change_key(base, change, self.rec.refused_changes)
    }

    fn new(rec: Record) -> Harness {
        Harness {
            durable: Some(rec.clone()),
            rec,
            now: 1_000,
            policy: Policy {
                prompt: Some(CustomerPrompt::Qr {
                    content: "scan me".into(),
                    sticker_id: Some("123456789012345".into()),
                }),
                answer_unknown_after_ms: 10_000,
                ..Policy::default()
            },
            answers: Vec::new(),
            events: Vec::new(),
        }
    }

    fn input(&mut self, input: Input) -> Vec<Action> {
        let actions = step(&mut self.rec, input, self.now, &self.policy);
        let mut durable_since_change = false;
        for action in &actions {
            match action {
                Action::Persist { durable } => {
                    durable_since_change = *durable;
                    if *durable {
                        self.durable = Some(self.rec.clone());
                    }
                }
                Action::Answer(outcome) => {
                    assert!(
                        durable_since_change,
                        "answered before the outcome was durable: {actions:?}"
                    );
                    assert_eq!(self.rec.outcome.as_ref(), Some(outcome));
                    self.answers.push(outcome.clone());
                }
                Action::Emit(event) => self.events.push(event.clone()),
                _ => {}
            }
        }
        actions
    }

    fn start(&mut self) -> Vec<Action> {
        self.input(Input::Start)
    }

    fn ok(&mut self, reply: Reply) -> Vec<Action> {
        self.input(Input::Reply(Ok(reply)))
    }

    fn err(&mut self, error: BackendError) -> Vec<Action> {
        self.input(Input::Reply(Err(error)))
    }

    fn status(&mut self, state: PaymentState) -> Vec<Action> {
        self.ok(Reply::Payment(payment(state)))
    }
}

fn call(actions: &[Action]) -> ApiCall {
    match actions.last() {
        Some(Action::Call(call)) => call.clone(),
        other => panic!("expected a call last, got {other:?} in {actions:?}"),
    }
}

fn sleeps(actions: &[Action]) -> u64 {
    match actions.last() {
        Some(Action::Sleep(ms)) => *ms,
        other => panic!("expected a sleep last, got {other:?} in {actions:?}"),
    }
}

fn answered(actions: &[Action]) -> Outcome {
    let answer = actions.iter().find_map(|a| match a {
        Action::Answer(o) => Some(o.clone()),
        _ => None,
    });
    assert_eq!(actions.last(), Some(&Action::Stop), "{actions:?}");
    answer.unwrap_or_else(|| panic!("no answer in {actions:?}"))
}

fn get_payment() -> ApiCall {
    ApiCall::GetPayment {
        payment_id: "pay-1".into(),
    }
}

/// A sale accepted while the journal is in doubt starts by looking its order id up.
fn doubtful_record() -> Record {
    let mut rec = record(pay_command(false));
    rec.phase = Phase::CheckOrder(OrderCheck::Open);
    rec
}

fn capture_record(amount: Option<Minor>, partial_possible: bool) -> Record {
    let mut rec = record(Command::Capture {
        target: cid("sale"),
        amount,
    });
    rec.create_key = None;
    rec.payment_id = Some("pay-1".into());
    rec.reserved = Some(Minor(4995));
    rec.currency = Some(Currency::DKK);
    rec.partial_capture_possible = Some(partial_possible);
    rec.decision = Some(Decision::Capture(amount.unwrap_or(Minor(4995))));
    rec
}

fn refund_record() -> Record {
    let mut rec = record(Command::Refund {
        payment: PaymentSelector::Command(cid("sale")),
        amount: Minor(1000),
        currency: Currency::DKK,
        refund_order_id: "r-1".into(),
    });
    rec.payment_id = Some("pay-1".into());
    rec
}
