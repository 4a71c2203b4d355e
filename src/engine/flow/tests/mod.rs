//! Every flow against scripted backend answers: each state, refusal and timeout the engine
//! knows, plus an enumeration of crash points.

use super::*;
use crate::engine::api::{CommandId, PaymentSelector};
use crate::engine::backend::Amounts;
use crate::money::Currency;

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

#[test]
fn payment_is_captured_in_full_after_approval() {
    let mut h = Harness::new(record(pay_command(false)));
    match call(&h.start()) {
        ApiCall::CreatePayment { key, payment } => {
            assert_eq!(key, "key-1");
            assert_eq!(payment.terms.amount, Minor(4995));
            assert!(!payment.terms.keep_reservation);
            assert_eq!(payment.point_of_sale, "pos-1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(call(&h.ok(Reply::Id("pay-1".into()))), get_payment());
    assert_eq!(sleeps(&h.status(PaymentState::WaitingForCustomer)), 1000);
    assert!(matches!(
        &h.events[0],
        EventKind::WaitingForCustomer { prompt: Some(prompt), amount: Some(Minor(4995)), .. } if prompt.sticker_id() == Some("123456789012345")
    ));
    assert_eq!(call(&h.input(Input::Timer)), get_payment());
    sleeps(&h.status(PaymentState::CustomerIdentified));
    assert!(matches!(h.events[1], EventKind::CustomerCheckedIn { .. }));
    // A second poll in the same state does not repeat the event.
    h.input(Input::Timer);
    sleeps(&h.status(PaymentState::CustomerIdentified));
    assert_eq!(h.events.len(), 2);
    h.input(Input::Timer);
    assert_eq!(
        call(&h.status(reserved())),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(4995)
        }
    );
    assert_eq!(h.rec.decision, Some(Decision::Capture(Minor(4995))));
    let outcome = answered(&h.ok(Reply::Done));
    assert_eq!(
        outcome,
        Outcome::Captured {
            payment_id: "pay-1".into(),
            amount: Minor(4995),
            currency: Currency::DKK
        }
    );
    assert!(h.events.iter().any(|e| matches!(e, EventKind::Reserved { .. })));
    assert!(h.events.iter().any(|e| matches!(e, EventKind::Captured { .. })));
    assert!(h.rec.is_finished());
}

#[test]
fn payment_can_be_kept_as_reservation() {
    let mut h = Harness::new(record(pay_command(true)));
    match call(&h.start()) {
        ApiCall::CreatePayment { payment, .. } => {
            assert!(payment.terms.keep_reservation)
        }
        other => panic!("{other:?}"),
    }
    h.ok(Reply::Id("pay-1".into()));
    let outcome = answered(&h.status(reserved()));
    assert_eq!(
        outcome,
        Outcome::Reserved {
            payment_id: "pay-1".into(),
            amount: Minor(4995),
            currency: Currency::DKK,
            partial_capture_possible: true
        }
    );
    assert!(
        !h.rec.holds_lane(),
        "a reservation does not block the point of sale"
    );
}

#[test]
fn mobilepay_endings_become_clear_declines() {
    for (status, reason) in [
        (
            PaymentState::Declined(Decliner::Customer),
            DeclineReason::CancelledByUser,
        ),
        (
            PaymentState::Declined(Decliner::Backend),
            DeclineReason::CancelledByMobilePay,
        ),
        (PaymentState::Expired, DeclineReason::ExpiredAndCancelled),
        (PaymentState::Cancelled, DeclineReason::CancelledElsewhere),
    ] {
        let mut h = Harness::new(record(pay_command(false)));
        h.start();
        h.ok(Reply::Id("pay-1".into()));
        let outcome = answered(&h.status(status.clone()));
        assert_eq!(
            outcome,
            Outcome::Declined {
                payment_id: Some("pay-1".into()),
                reason
            },
            "{status}"
        );
    }
}

#[test]
fn unknown_status_keeps_polling_and_answers_unknown_only_after_the_limit() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    sleeps(&h.status(PaymentState::Unrecognised(
        "RejectedByMobilePayDueToAgeRestrictions".into(),
    )));
    assert!(h.answers.is_empty());
    h.now += 20_000;
    h.input(Input::Timer);
    sleeps(&h.status(PaymentState::Unrecognised("Strange".into())));
    assert_eq!(
        h.answers,
        vec![Outcome::Unknown {
            payment_id: Some("pay-1".into())
        }]
    );
    assert_eq!(h.rec.decision, Some(Decision::Cancel));
}

#[test]
fn create_refusals_become_stable_reject_codes() {
    for (error, code) in [
        (
            refused(Refusal::UnknownPointOfSale),
            RejectCode::PointOfSaleNotFound,
        ),
        (refused(Refusal::StoreNotActivated), RejectCode::StoreNotActivated),
        (refused(Refusal::InvalidOrderId), RejectCode::InvalidOrderId),
        (refused(Refusal::InvalidAmount), RejectCode::InvalidAmount),
        (refused(Refusal::InvalidLabel), RejectCode::InvalidLabel),
        (refused(Refusal::Invalid), RejectCode::InvalidRequest),
        (
            BackendError::Forbidden {
                detail: "1400".into(),
            },
            RejectCode::Forbidden,
        ),
    ] {
        let mut h = Harness::new(record(pay_command(false)));
        h.start();
        match answered(&h.err(error.clone())) {
            Outcome::Rejected { code: got, .. } => assert_eq!(got, code, "{error}"),
            other => panic!("{error}: {other:?}"),
        }
    }
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    assert!(matches!(
        answered(&h.err(refused(Refusal::KeyReused))),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn active_payment_conflict_cancels_the_stale_payment_and_retries_once_with_the_same_key() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    assert_eq!(
        call(&h.err(refused(Refusal::PointOfSaleBusy))),
        ApiCall::FindPayments {
            query: PaymentQuery {
                point_of_sale: Some("pos-1".into()),
                order_id: None,
                captured: false,
            },
        }
    );
    let stale = |status| {
        Reply::Payment(PaymentInfo {
            payment_id: "stale".into(),
            order_id: "old-order".into(),
            ..payment(status)
        })
    };
    assert_eq!(
        call(&h.ok(Reply::Ids(vec!["stale".into(), "reserved".into()]))),
        ApiCall::GetPayment {
            payment_id: "stale".into()
        }
    );
    assert_eq!(
        call(&h.ok(stale(PaymentState::CustomerIdentified))),
        ApiCall::CancelPayment {
            payment_id: "stale".into()
        }
    );
    assert_eq!(
        call(&h.ok(Reply::Done)),
        ApiCall::GetPayment {
            payment_id: "reserved".into()
        }
    );
    // A reservation does not block the point of sale and is never touched here.
    match call(&h.ok(Reply::Payment(PaymentInfo {
        payment_id: "reserved".into(),
        ..payment(reserved())
    }))) {
        ApiCall::CreatePayment { key, .. } => assert_eq!(key, "key-1"),
        other => panic!("{other:?}"),
    }
    assert!(h.rec.stale_cleared);
    // A second 1301 is not cleaned up again.
    let outcome = answered(&h.err(refused(Refusal::PointOfSaleBusy)));
    assert_eq!(
        outcome,
        Outcome::Declined {
            payment_id: None,
            reason: DeclineReason::PointOfSaleBusy
        }
    );
}

#[test]
fn active_payment_conflict_after_a_lost_answer_adopts_our_own_payment() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    sleeps(&h.err(BackendError::NoAnswer));
    assert!(h.rec.create_unanswered);
    h.input(Input::Timer);
    h.err(refused(Refusal::PointOfSaleBusy));
    h.ok(Reply::Ids(vec!["pay-1".into()]));
    assert_eq!(call(&h.status(PaymentState::WaitingForCustomer)), get_payment());
    assert_eq!(h.rec.payment_id.as_deref(), Some("pay-1"));
}

#[test]
fn lost_create_answers_are_retried_with_the_same_key_and_back_off() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    let mut delays = Vec::new();
    for error in [
        BackendError::NoAnswer,
        BackendError::Server {
            detail: "2000".into(),
        },
        BackendError::Unauthorized,
    ] {
        delays.push(sleeps(&h.err(error)));
        match call(&h.input(Input::Timer)) {
            ApiCall::CreatePayment { key, .. } => assert_eq!(key, "key-1"),
            other => panic!("{other:?}"),
        }
    }
    assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
    assert!(h.answers.is_empty());
    h.ok(Reply::Id("pay-1".into()));
    assert_eq!(h.rec.failing_since_ms, None);
}

#[test]
fn an_unreachable_backend_is_answered_unknown_and_the_payment_later_abandoned() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.err(BackendError::NoAnswer);
    h.now += 11_000;
    h.input(Input::Timer);
    let actions = h.err(BackendError::NoAnswer);
    sleeps(&actions);
    assert_eq!(h.answers, vec![Outcome::Unknown { payment_id: None }]);
    assert_eq!(h.durable.as_ref().unwrap().decision, Some(Decision::Cancel));
    assert!(h.events.contains(&EventKind::OutcomeUnknown { payment_id: None }));
    // MobilePay answers again: the payment that was created is cancelled, never charged.
    h.input(Input::Timer);
    assert_eq!(
        call(&h.ok(Reply::Id("pay-1".into()))),
        ApiCall::CancelPayment {
            payment_id: "pay-1".into()
        }
    );
    let actions = h.ok(Reply::Done);
    assert_eq!(actions.last(), Some(&Action::Stop));
    assert_eq!(h.answers.len(), 1, "the caller is answered once");
    let resolved = Outcome::Declined {
        payment_id: Some("pay-1".into()),
        reason: DeclineReason::Abandoned,
    };
    assert!(h.events.contains(&EventKind::Resolved {
        outcome: resolved.clone()
    }));
    assert_eq!(h.rec.outcome, Some(resolved));
}

#[test]
fn a_reserved_payment_found_after_unknown_is_cancelled_not_captured() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.err(BackendError::NoAnswer);
    h.now += 11_000;
    h.input(Input::Timer);
    h.err(BackendError::NoAnswer);
    assert_eq!(
        h.answers,
        vec![Outcome::Unknown {
            payment_id: Some("pay-1".into())
        }]
    );
    h.input(Input::Timer);
    assert_eq!(
        call(&h.status(reserved())),
        ApiCall::CancelPayment {
            payment_id: "pay-1".into()
        }
    );
}

#[test]
fn a_failing_capture_is_answered_capture_pending_and_finished_later() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.status(reserved());
    h.err(BackendError::Server {
        detail: "2001".into(),
    });
    h.now += 11_000;
    h.input(Input::Timer);
    h.err(BackendError::NoAnswer);
    let pending = Outcome::CapturePending {
        payment_id: "pay-1".into(),
        amount: Minor(4995),
        currency: Currency::DKK,
    };
    assert_eq!(h.answers, vec![pending.clone()]);
    assert!(pending.is_approved());
    h.input(Input::Timer);
    h.ok(Reply::Done);
    assert!(h.events.iter().any(|e| matches!(
        e,
        EventKind::Resolved {
            outcome: Outcome::Captured { .. }
        }
    )));
}

#[test]
fn old_create_keys_are_never_replayed() {
    let mut h = Harness::new(record(pay_command(false)));
    h.now = h.policy.create_key_max_age_ms + 10;
    assert_eq!(
        call(&h.start()),
        ApiCall::FindPayments {
            query: PaymentQuery {
                point_of_sale: Some("pos-1".into()),
                order_id: Some("order-1".into()),
                captured: false,
            },
        }
    );
    assert_eq!(call(&h.ok(Reply::Ids(vec!["pay-1".into()]))), get_payment());

    let mut h = Harness::new(record(pay_command(false)));
    h.now = h.policy.create_key_max_age_ms + 10;
    h.start();
    assert!(matches!(
        answered(&h.ok(Reply::Ids(vec![]))),
        Outcome::Declined { payment_id: None, .. }
    ));
}

/// A sale accepted while the journal is in doubt starts by looking its order id up.
fn doubtful_record() -> Record {
    let mut rec = record(pay_command(false));
    rec.phase = Phase::CheckOrder(OrderCheck::Open);
    rec
}

fn find(captured_only: bool) -> ApiCall {
    ApiCall::FindPayments {
        query: PaymentQuery {
            point_of_sale: Some("pos-1".into()),
            order_id: Some("order-1".into()),
            captured: captured_only,
        },
    }
}

#[test]
fn in_doubt_a_sale_nobody_paid_is_created_after_two_lookups() {
    let mut h = Harness::new(doubtful_record());
    assert_eq!(call(&h.start()), find(false));
    assert_eq!(call(&h.ok(Reply::Ids(vec![]))), find(true));
    assert!(matches!(
        call(&h.ok(Reply::Ids(vec![]))),
        ApiCall::CreatePayment { key, .. } if key == "key-1"
    ));
}

#[test]
fn in_doubt_a_captured_order_is_flagged_never_paid_again() {
    let mut h = Harness::new(doubtful_record());
    h.start();
    h.ok(Reply::Ids(vec![]));
    match answered(&h.ok(Reply::Ids(vec!["pay-9".into()]))) {
        Outcome::NeedsHuman { payment_id, detail } => {
            assert_eq!(payment_id.as_deref(), Some("pay-9"));
            assert!(detail.contains("check it before selling again"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn in_doubt_a_reserved_or_different_open_payment_is_flagged() {
    for (status, amount) in [
        (reserved(), Minor(4995)),
        (PaymentState::CustomerIdentified, Minor(100)),
    ] {
        let mut h = Harness::new(doubtful_record());
        h.start();
        assert_eq!(call(&h.ok(Reply::Ids(vec!["pay-1".into()]))), get_payment());
        let mut found = payment(status);
        found.amount = Some(amount);
        assert!(matches!(
            answered(&h.ok(Reply::Payment(found))),
            Outcome::NeedsHuman {
                payment_id: Some(_),
                ..
            }
        ));
        assert!(
            !h.events.iter().any(|e| matches!(e, EventKind::Captured { .. })),
            "nothing is captured"
        );
    }
}

#[test]
fn in_doubt_our_sale_still_waiting_for_the_customer_is_taken_over() {
    let mut h = Harness::new(doubtful_record());
    h.start();
    h.ok(Reply::Ids(vec!["pay-1".into()]));
    // The customer is still approving the payment the lost command created: follow it.
    assert!(matches!(
        h.status(PaymentState::CustomerIdentified).last(),
        Some(Action::Call(ApiCall::GetPayment { .. }))
    ));
    assert_eq!(h.rec.phase, Phase::Poll);
    sleeps(&h.status(PaymentState::CustomerIdentified));
    assert_eq!(
        call(&h.status(reserved())),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(4995)
        }
    );
    assert!(matches!(answered(&h.ok(Reply::Done)), Outcome::Captured { .. }));
}

#[test]
fn cashier_cancel_while_waiting_cancels_the_payment() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.status(PaymentState::WaitingForCustomer);
    let actions = h.input(Input::CancelRequested);
    assert_eq!(actions[0], Action::Persist { durable: true });
    assert_eq!(
        call(&actions),
        ApiCall::CancelPayment {
            payment_id: "pay-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Declined {
            payment_id: Some("pay-1".into()),
            reason: DeclineReason::CancelledByCashier
        }
    );
}

#[test]
fn cashier_cancel_during_create_cancels_what_was_created() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.err(BackendError::NoAnswer);
    match call(&h.input(Input::CancelRequested)) {
        ApiCall::CreatePayment { key, .. } => assert_eq!(key, "key-1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        call(&h.ok(Reply::Id("pay-1".into()))),
        ApiCall::CancelPayment {
            payment_id: "pay-1".into()
        }
    );
}

#[test]
fn cancel_that_comes_too_late_finds_the_real_state() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.input(Input::CancelRequested);
    assert_eq!(call(&h.err(refused(Refusal::NotCancellable))), get_payment());
    assert_eq!(
        answered(&h.status(PaymentState::Declined(Decliner::Customer))),
        Outcome::Declined {
            payment_id: Some("pay-1".into()),
            reason: DeclineReason::CancelledByUser
        }
    );
}

#[test]
fn cancel_during_capture_does_not_stop_the_capture() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.status(reserved());
    h.err(BackendError::NoAnswer);
    assert!(matches!(
        call(&h.input(Input::CancelRequested)),
        ApiCall::Capture { .. }
    ));
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

#[test]
fn capture_command_captures_full_or_partial() {
    let mut h = Harness::new(capture_record(Some(Minor(1000)), true));
    assert_eq!(
        call(&h.start()),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(1000)
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Captured {
            payment_id: "pay-1".into(),
            amount: Minor(1000),
            currency: Currency::DKK
        }
    );
}

#[test]
fn partial_capture_impossible_is_refused_without_capturing() {
    let mut h = Harness::new(capture_record(Some(Minor(1000)), false));
    let refusal = Outcome::PartialCaptureRefused {
        payment_id: "pay-1".into(),
        reserved: Minor(4995),
        requested: Minor(1000),
    };
    assert_eq!(answered(&h.start()), refusal);
    // Also when only the backend knows (it refuses the partial capture).
    let mut rec = capture_record(Some(Minor(1000)), true);
    rec.partial_capture_possible = None;
    let mut h = Harness::new(rec);
    h.start();
    assert_eq!(
        answered(&h.err(refused(Refusal::PartialCaptureNotAllowed))),
        refusal
    );
}

#[test]
fn capture_command_conflicts() {
    let mut h = Harness::new(capture_record(Some(Minor(9999)), true));
    h.start();
    assert!(matches!(
        answered(&h.err(refused(Refusal::AmountAboveReserved))),
        Outcome::Rejected {
            code: RejectCode::CaptureExceedsReservation,
            ..
        }
    ));
    let mut h = Harness::new(capture_record(None, true));
    h.start();
    assert_eq!(call(&h.err(refused(Refusal::NotCapturable))), get_payment());
    assert_eq!(
        answered(&h.status(PaymentState::Expired)),
        Outcome::Declined {
            payment_id: Some("pay-1".into()),
            reason: DeclineReason::ExpiredAndCancelled
        }
    );
    let mut h = Harness::new(capture_record(None, true));
    h.start();
    h.err(refused(Refusal::NotCapturable));
    assert!(matches!(
        answered(&h.status(captured())),
        Outcome::Captured { .. }
    ));
    let mut h = Harness::new(capture_record(None, true));
    h.start();
    assert!(matches!(
        answered(&h.err(refused(Refusal::CapturedWithOtherAmount))),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn prepared_payment_reports_the_customer_once_loyalty_is_known() {
    let mut h = Harness::new(record(Command::Prepare {
        order_id: "order-1".into(),
    }));
    assert!(matches!(call(&h.start()), ApiCall::CheckIn { key, .. } if key == "key-1"));
    h.ok(Reply::Id("pay-1".into()));
    sleeps(&h.status(PaymentState::WaitingForCustomer));
    assert!(matches!(
        h.events[0],
        EventKind::WaitingForCustomer {
            amount: None,
            currency: None,
            ..
        }
    ));
    h.input(Input::Timer);
    let not_looked_up = PaymentInfo {
        loyalty_ids: None,
        customer_receipt_token: None,
        amount: None,
        ..payment(PaymentState::CheckedIn)
    };
    sleeps(&h.ok(Reply::Payment(not_looked_up)));
    assert!(h.answers.is_empty());
    h.input(Input::Timer);
    let looked_up = PaymentInfo {
        loyalty_ids: Some(vec!["L-1".into()]),
        customer_receipt_token: Some("R".into()),
        ..payment(PaymentState::CheckedIn)
    };
    let customer = CustomerInfo {
        loyalty_ids: vec!["L-1".into()],
        customer_token: Some("tok".into()),
        customer_receipt_token: Some("R".into()),
    };
    assert_eq!(
        answered(&h.ok(Reply::Payment(looked_up))),
        Outcome::Paired {
            payment_id: "pay-1".into(),
            customer: customer.clone()
        }
    );
    assert!(h.events.contains(&EventKind::CustomerCheckedIn {
        payment_id: "pay-1".into(),
        customer
    }));
    assert!(
        h.rec.holds_lane(),
        "a paired payment blocks the point of sale until ready"
    );
}

fn ready_record() -> Record {
    let mut rec = record(Command::Ready {
        target: cid("prep"),
        amount: Minor(2500),
        currency: Currency::DKK,
        keep_reservation: false,
        restrictions: None,
        label: Some("Bakery".into()),
    });
    rec.create_key = None;
    rec.payment_id = Some("pay-1".into());
    rec
}

#[test]
fn ready_gives_the_amount_and_finishes_like_a_payment() {
    let mut h = Harness::new(ready_record());
    match call(&h.start()) {
        ApiCall::SetTerms { payment_id, terms } => {
            assert_eq!(payment_id, "pay-1");
            assert_eq!(terms.amount, Minor(2500));
            assert_eq!(terms.label.as_deref(), Some("Bakery"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(call(&h.ok(Reply::Done)), get_payment());
    let reserved = PaymentInfo {
        amount: Some(Minor(2500)),
        ..payment(PaymentState::Authorized(Amounts {
            authorized: Minor(2500),
            ..Amounts::default()
        }))
    };
    assert_eq!(
        call(&h.ok(Reply::Payment(reserved))),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(2500)
        }
    );
}

#[test]
fn ready_conflict_rereads_the_payment() {
    let mut h = Harness::new(ready_record());
    h.start();
    assert_eq!(call(&h.err(refused(Refusal::NotCheckedIn))), get_payment());
    // Still paired (our ready was lost): ready again.
    assert!(matches!(
        call(&h.status(PaymentState::CheckedIn)),
        ApiCall::SetTerms { .. }
    ));
    h.ok(Reply::Done);
    assert_eq!(
        answered(&h.status(PaymentState::Declined(Decliner::Customer))),
        Outcome::Declined {
            payment_id: Some("pay-1".into()),
            reason: DeclineReason::CancelledByUser
        }
    );
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

#[test]
fn refund_is_created_polled_and_captured() {
    let mut h = Harness::new(refund_record());
    match call(&h.start()) {
        ApiCall::Refund { key, refund } => {
            assert_eq!(key, "key-1");
            assert_eq!(refund.payment_id, "pay-1");
            assert_eq!(refund.amount, Minor(1000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        call(&h.ok(Reply::Id("ref-1".into()))),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
    assert!(matches!(
        h.events[0],
        EventKind::RefundInProgress {
            amount: Minor(1000),
            ..
        }
    ));
    assert_eq!(
        sleeps(&h.ok(Reply::Refund(refund_info(RefundState::Pending)))),
        100
    );
    h.input(Input::Timer);
    assert_eq!(
        call(&h.ok(Reply::Refund(refund_info(RefundState::AwaitingConfirmation)))),
        ApiCall::ConfirmRefund {
            refund_id: "ref-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Refunded {
            refund_id: "ref-1".into(),
            payment_id: "pay-1".into(),
            amount: Minor(1000),
            currency: Currency::DKK
        }
    );
}

#[test]
fn refund_statuses_and_refusals() {
    for (status, expect_refunded) in [
        (RefundState::PaidOut, true),
        (RefundState::PaidOut, true),
        (RefundState::CancelledByBackend, false),
        (RefundState::Cancelled, false),
    ] {
        let mut h = Harness::new(refund_record());
        h.start();
        h.ok(Reply::Id("ref-1".into()));
        let outcome = answered(&h.ok(Reply::Refund(refund_info(status.clone()))));
        assert_eq!(
            matches!(outcome, Outcome::Refunded { .. }),
            expect_refunded,
            "{status:?}"
        );
    }
    for (code, reject) in [
        (Refusal::UnknownPayment, RejectCode::PaymentNotFound),
        (Refusal::NotCaptured, RejectCode::PaymentNotCaptured),
        (Refusal::CurrencyMismatch, RejectCode::CurrencyMismatch),
        (Refusal::PaymentTooOld, RejectCode::PaymentTooOld),
        (Refusal::AmountAboveRefundable, RejectCode::RefundTooHigh),
        (Refusal::InsufficientBalance, RejectCode::InsufficientBalance),
    ] {
        let mut h = Harness::new(refund_record());
        h.start();
        match answered(&h.err(refused(code))) {
            Outcome::Rejected { code: got, .. } => assert_eq!(got, reject, "{code:?}"),
            other => panic!("{code:?}: {other:?}"),
        }
    }
    let mut h = Harness::new(refund_record());
    h.start();
    h.ok(Reply::Id("ref-1".into()));
    h.ok(Reply::Refund(refund_info(RefundState::AwaitingConfirmation)));
    assert_eq!(
        call(&h.err(refused(Refusal::RefundStateChanged))),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
}

#[test]
fn refund_can_be_cancelled_until_paid_out() {
    let mut h = Harness::new(refund_record());
    h.start();
    h.ok(Reply::Id("ref-1".into()));
    h.ok(Reply::Refund(refund_info(RefundState::Pending)));
    assert_eq!(
        call(&h.input(Input::CancelRequested)),
        ApiCall::CancelRefund {
            refund_id: "ref-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::RefundCancelled {
            refund_id: Some("ref-1".into()),
            reason: RefundCancelReason::CancelledByCashier
        }
    );
}

#[test]
fn refund_by_order_id_looks_up_the_captured_payment() {
    let mut rec = record(Command::Refund {
        payment: PaymentSelector::OrderId("order-1".into()),
        amount: Minor(1000),
        currency: Currency::DKK,
        refund_order_id: "r-1".into(),
    });
    rec.phase = Phase::FindRefundPayment;
    let mut h = Harness::new(rec.clone());
    assert_eq!(
        call(&h.start()),
        ApiCall::FindPayments {
            query: PaymentQuery {
                point_of_sale: None,
                order_id: Some("order-1".into()),
                captured: true,
            },
        }
    );
    assert!(matches!(
        call(&h.ok(Reply::Ids(vec!["pay-1".into()]))),
        ApiCall::Refund { .. }
    ));
    let mut h = Harness::new(rec);
    h.start();
    assert!(matches!(
        answered(&h.ok(Reply::Ids(vec![]))),
        Outcome::Rejected {
            code: RejectCode::PaymentNotFound,
            ..
        }
    ));
}

fn cancel_record() -> Record {
    let mut rec = record(Command::Cancel { target: cid("sale") });
    rec.create_key = None;
    rec
}

#[test]
fn cancel_command_follows_its_target() {
    for (target, expect) in [
        (
            Outcome::Declined {
                payment_id: Some("pay-1".into()),
                reason: DeclineReason::CancelledByCashier,
            },
            Some(Outcome::Cancelled { target: cid("sale") }),
        ),
        (
            Outcome::Captured {
                payment_id: "pay-1".into(),
                amount: Minor(1),
                currency: Currency::DKK,
            },
            None,
        ),
    ] {
        let mut h = Harness::new(cancel_record());
        assert!(h.start().is_empty(), "a cancel waits for its target");
        let outcome = answered(&h.input(Input::TargetFinished(target)));
        match expect {
            Some(expected) => assert_eq!(outcome, expected),
            None => assert!(matches!(
                outcome,
                Outcome::Rejected {
                    code: RejectCode::WrongState,
                    ..
                }
            )),
        }
    }
    let mut h = Harness::new(cancel_record());
    h.start();
    let actions = h.input(Input::TargetFinished(Outcome::Reserved {
        payment_id: "pay-1".into(),
        amount: Minor(4995),
        currency: Currency::DKK,
        partial_capture_possible: false,
    }));
    assert_eq!(
        call(&actions),
        ApiCall::CancelPayment {
            payment_id: "pay-1".into()
        }
    );
    assert_eq!(h.durable.as_ref().unwrap().decision, Some(Decision::Cancel));
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Cancelled { target: cid("sale") }
    );
}

#[test]
fn a_vanished_payment_needs_a_human() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    assert!(matches!(
        answered(&h.err(BackendError::NotFound)),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn command_fields_are_validated_before_anything_happens() {
    let bad = [
        (
            Command::Pay {
                amount: Minor(0),
                currency: Currency::DKK,
                order_id: "o".into(),
                keep_reservation: false,
                restrictions: None,
                label: None,
            },
            RejectCode::InvalidAmount,
        ),
        (
            Command::Pay {
                amount: Minor(1),
                currency: Currency::DKK,
                order_id: "x".repeat(37),
                keep_reservation: false,
                restrictions: None,
                label: None,
            },
            RejectCode::InvalidOrderId,
        ),
        (
            Command::Pay {
                amount: Minor(1),
                currency: Currency::DKK,
                order_id: "o".into(),
                keep_reservation: false,
                restrictions: None,
                label: Some("emoji 🎉".into()),
            },
            RejectCode::InvalidLabel,
        ),
        (
            Command::Prepare {
                order_id: String::new(),
            },
            RejectCode::InvalidOrderId,
        ),
        (
            Command::Refund {
                payment: PaymentSelector::OrderId("o".into()),
                amount: Minor(-5),
                currency: Currency::DKK,
                refund_order_id: "r".into(),
            },
            RejectCode::InvalidAmount,
        ),
        (
            Command::Capture {
                target: cid("t"),
                amount: Some(Minor(0)),
            },
            RejectCode::InvalidAmount,
        ),
    ];
    for (command, code) in bad {
        assert_eq!(validate(&command).map_err(|e| e.0), Err(code), "{command:?}");
    }
    assert!(validate(&pay_command(false)).is_ok());
}

#[test]
fn a_resumed_poll_keeps_the_backends_poll_delay() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.now = 50_000;
    let slow = PaymentInfo {
        poll_delay_ms: 3000,
        ..payment(PaymentState::CustomerIdentified)
    };
    let actions = h.ok(Reply::Payment(slow.clone()));
    assert_eq!(sleeps(&actions), 3000);
    // The poll's time and delay are stored before the wait, for a restart to find.
    assert_eq!(actions[actions.len() - 2], Action::Persist { durable: false });
    assert_eq!((h.rec.last_poll_at_ms, h.rec.last_poll_delay_ms), (50_000, 3000));
    // A poll that only repeats the state is stored as well.
    h.now = 53_000;
    h.input(Input::Timer);
    let actions = h.ok(Reply::Payment(slow));
    assert_eq!(
        &actions[actions.len() - 2..],
        &[Action::Persist { durable: false }, Action::Sleep(3000)]
    );
    let stored = h.rec.clone();

    let policy = h.policy.clone();
    let resume = |now: u64, rec: &Record| step(&mut rec.clone(), Input::Start, now, &policy);
    // Restarted 1 s after the last poll: the first poll waits for the rest of the delay.
    assert_eq!(resume(54_000, &stored), vec![Action::Sleep(2000)]);
    let mut rec = stored.clone();
    step(&mut rec, Input::Start, 54_000, &policy);
    assert_eq!(
        call(&step(&mut rec, Input::Timer, 56_000, &policy)),
        get_payment()
    );
    // Restarted after the delay: it polls at once.
    assert_eq!(call(&resume(56_000, &stored)), get_payment());
    // A clock set back by the restart holds the poll up by one delay at most.
    assert_eq!(resume(1_000, &stored), vec![Action::Sleep(3000)]);
    // A record stored before the poll time was kept polls at once.
    let mut old = serde_json::to_value(&stored).unwrap();
    old.as_object_mut().unwrap().remove("last_poll_at_ms");
    let old: Record = serde_json::from_value(old).unwrap();
    assert_eq!(old.last_poll_at_ms, 0);
    assert_eq!(call(&resume(54_000, &old)), get_payment());
}

#[test]
fn a_resumed_refund_poll_keeps_the_backends_poll_delay() {
    let mut h = Harness::new(refund_record());
    h.start();
    h.now = 10_000;
    h.ok(Reply::Id("ref-1".into()));
    let actions = h.ok(Reply::Refund(RefundInfo {
        poll_delay_ms: 2000,
        ..refund_info(RefundState::Pending)
    }));
    assert_eq!(
        &actions[actions.len() - 2..],
        &[Action::Persist { durable: false }, Action::Sleep(2000)]
    );
    let mut rec = h.rec.clone();
    assert_eq!(rec.phase, Phase::PollRefund);
    assert_eq!(
        step(&mut rec, Input::Start, 10_500, &h.policy),
        vec![Action::Sleep(1500)]
    );
    assert_eq!(
        call(&step(&mut rec, Input::Timer, 12_000, &h.policy)),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
}

#[test]
fn an_amount_above_the_maximum_is_refused_naming_the_maximum() {
    let too_much = Minor(MAX_MINOR + 1);
    let pay = Command::Pay {
        amount: too_much,
        currency: Currency::DKK,
        order_id: "o".into(),
        keep_reservation: false,
        restrictions: None,
        label: None,
    };
    let capture = Command::Capture {
        target: cid("t"),
        amount: Some(too_much),
    };
    let refund = Command::Refund {
        payment: PaymentSelector::OrderId("o".into()),
        amount: too_much,
        currency: Currency::DKK,
        refund_order_id: "r".into(),
    };
    for (command, what) in [
        (pay, "the amount"),
        (capture, "the capture amount"),
        (refund, "the refund amount"),
    ] {
        let (code, message) = validate(&command).unwrap_err();
        assert_eq!(code, RejectCode::InvalidAmount);
        assert_eq!(
            message,
            format!("{what} must be at most 100000000000.00 (10000000000000 in minor units)")
        );
    }
    let (_, message) = validate(&Command::Pay {
        amount: Minor(0),
        currency: Currency::DKK,
        order_id: "o".into(),
        keep_reservation: false,
        restrictions: None,
        label: None,
    })
    .unwrap_err();
    assert_eq!(message, "the amount must be positive");
    let largest = Command::Capture {
        target: cid("t"),
        amount: Some(Minor(MAX_MINOR)),
    };
    assert!(validate(&largest).is_ok());
}

/// A small model of MobilePay's payment rules, enough to replay a flow after a crash.
#[derive(Default, Clone)]
struct Model {
    payments: Vec<(String, PaymentState)>,
    keys: Vec<(String, String)>,
    captures: u32,
    creates: u32,
}

impl Model {
    fn answer(&mut self, call: &ApiCall) -> Result<Reply, BackendError> {
        match call {
            ApiCall::CreatePayment { key, .. } => {
                if let Some((_, id)) = self.keys.iter().find(|(k, _)| k == key) {
                    return Ok(Reply::Id(id.clone()));
                }
                self.creates += 1;
                let id = format!("pay-{}", self.payments.len() + 1);
                self.payments.push((id.clone(), PaymentState::WaitingForCustomer));
                self.keys.push((key.clone(), id.clone()));
                Ok(Reply::Id(id))
            }
            ApiCall::GetPayment { payment_id } => {
                let (_, status) = self.payments.iter_mut().find(|(id, _)| id == payment_id).unwrap();
                // The customer approves as soon as someone looks.
                if *status == PaymentState::WaitingForCustomer {
                    *status = reserved();
                }
                Ok(Reply::Payment(PaymentInfo {
                    payment_id: payment_id.clone(),
                    ..payment(status.clone())
                }))
            }
            ApiCall::Capture { payment_id, .. } => {
                let (_, status) = self.payments.iter_mut().find(|(id, _)| id == payment_id).unwrap();
                if status.is_reserved() {
                    self.captures += 1;
                    *status = captured();
                    Ok(Reply::Done)
                } else if *status == captured() {
                    Ok(Reply::Done)
                } else {
                    Err(refused(Refusal::NotCapturable))
                }
            }
            other => panic!("the model does not answer {other:?}"),
        }
    }
}

/// Kills the flow after every possible action (losing everything not made durable, as a power
/// cut would), restarts it from the durable record, and checks that the customer is charged
/// exactly once and every answer given before the crash is still the stored outcome.
#[test]
fn every_crash_point_of_a_payment_ends_in_exactly_one_capture() {
    // Count the actions of a clean run first.
    let clean_len = {
        let mut model = Model::default();
        let mut rec = record(pay_command(false));
        let mut n = 0;
        let mut input = Input::Start;
        loop {
            let actions = step(&mut rec, input, 0, &Policy::default());
            n += actions.len();
            match actions.last() {
                Some(Action::Call(c)) => input = Input::Reply(model.answer(c)),
                Some(Action::Sleep(_)) => input = Input::Timer,
                _ => break,
            }
        }
        n
    };
    assert!(clean_len > 5);
    for crash_after in 0..=clean_len {
        let mut model = Model::default();
        let mut rec = record(pay_command(false));
        let mut durable = rec.clone();
        let mut answer = None;
        let mut done = 0;
        let mut input = Input::Start;
        let mut crashed = false;
        // First life, killed after `crash_after` actions.
        'life: loop {
            let actions = step(&mut rec, input, 0, &Policy::default());
            let mut next = None;
            for action in actions {
                if done == crash_after {
                    crashed = true;
                    break 'life;
                }
                done += 1;
                match action {
                    Action::Persist { durable: true } => durable = rec.clone(),
                    Action::Answer(o) => answer = Some(o),
                    Action::Call(c) => next = Some(Input::Reply(model.answer(&c))),
                    Action::Sleep(_) => next = Some(Input::Timer),
                    _ => {}
                }
            }
            match next {
                Some(i) => input = i,
                None => break,
            }
        }
        // Second life from the durable record.
        let mut rec = durable;
        if let Some(given) = &answer {
            assert_eq!(rec.outcome.as_ref(), Some(given), "crash after {crash_after}");
        }
        if crashed && !rec.is_finished() {
            let mut input = Input::Start;
            loop {
                let actions = step(&mut rec, input, 0, &Policy::default());
                match actions.last() {
                    Some(Action::Call(c)) => input = Input::Reply(model.answer(c)),
                    Some(Action::Sleep(_)) => input = Input::Timer,
                    _ => break,
                }
            }
        }
        assert_eq!(model.creates, 1, "crash after {crash_after}");
        assert_eq!(model.captures, 1, "crash after {crash_after}");
        assert!(
            matches!(rec.outcome, Some(Outcome::Captured { .. })),
            "crash after {crash_after}"
        );
    }
}

#[test]
fn refund_cancel_too_late_and_invalid_refund_order_id() {
    // 1352: the refund could not be cancelled any more; its real state decides.
    let mut h = Harness::new(refund_record());
    h.start();
    h.ok(Reply::Id("ref-1".into()));
    h.ok(Reply::Refund(refund_info(RefundState::Pending)));
    h.input(Input::CancelRequested);
    assert_eq!(
        call(&h.err(refused(Refusal::RefundStateChanged))),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
    assert!(matches!(
        answered(&h.ok(Reply::Refund(refund_info(RefundState::PaidOut)))),
        Outcome::Refunded { .. }
    ));
    // 1114: MobilePay refuses the refund order id.
    let mut h = Harness::new(refund_record());
    h.start();
    let bad = refused(Refusal::InvalidRefundOrderId);
    assert!(matches!(
        answered(&h.err(bad)),
        Outcome::Rejected {
            code: RejectCode::InvalidRefundOrderId,
            ..
        }
    ));
    // A refund that vanished needs a person.
    let mut h = Harness::new(refund_record());
    h.start();
    h.ok(Reply::Id("ref-1".into()));
    assert!(matches!(
        answered(&h.err(BackendError::NotFound)),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn a_reserved_refund_whose_capture_keeps_failing_is_answered_refunded() {
    let mut h = Harness::new(refund_record());
    h.start();
    h.ok(Reply::Id("ref-1".into()));
    h.ok(Reply::Refund(refund_info(RefundState::AwaitingConfirmation)));
    h.err(BackendError::NoAnswer);
    h.now += 11_000;
    h.input(Input::Timer);
    sleeps(&h.err(BackendError::NoAnswer));
    assert!(matches!(h.answers.as_slice(), [Outcome::Refunded { .. }]));
    assert_eq!(
        call(&h.input(Input::Timer)),
        ApiCall::ConfirmRefund {
            refund_id: "ref-1".into()
        }
    );
}

/// A harness whose backend lacks what `change` turns off.
fn with_capabilities(rec: Record, change: impl FnOnce(&mut Capabilities)) -> Harness {
    let mut h = Harness::new(rec);
    change(&mut h.policy.capabilities);
    h
}

#[test]
fn a_refund_that_modifies_the_payment_is_done_once_accepted() {
    let mut h = with_capabilities(refund_record(), |c| c.refunds = RefundModel::Modification);
    assert!(matches!(call(&h.start()), ApiCall::Refund { .. }));
    assert_eq!(
        answered(&h.ok(Reply::Id("pay-1-refund".into()))),
        Outcome::Refunded {
            refund_id: "pay-1-refund".into(),
            payment_id: "pay-1".into(),
            amount: Minor(1000),
            currency: Currency::DKK,
        }
    );
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, EventKind::RefundInProgress { .. })));
}

#[test]
fn without_listing_a_busy_point_of_sale_is_declined_at_once() {
    let mut h = with_capabilities(record(pay_command(false)), |c| c.lists_open_payments = false);
    h.start();
    match answered(&h.err(refused(Refusal::PointOfSaleBusy))) {
        Outcome::Declined { reason, .. } => assert_eq!(reason, DeclineReason::PointOfSaleBusy),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_listing_an_old_key_goes_to_a_person_and_doubt_replays_the_derived_key() {
    let mut rec = record(pay_command(false));
    rec.create_key_at_ms = 0;
    let mut h = with_capabilities(rec, |c| c.lists_open_payments = false);
    h.now = h.policy.create_key_max_age_ms + 1_000;
    assert!(matches!(answered(&h.start()), Outcome::NeedsHuman { .. }));
    let mut h = with_capabilities(doubtful_record(), |c| c.lists_open_payments = false);
    assert!(matches!(
        call(&h.start()),
        ApiCall::CreatePayment { key, payment } if key == "key-1" && payment.reference == "key-1"
    ));
}

#[test]
fn where_only_a_refusal_tells_a_partial_capture_is_tried() {
    let mut h = with_capabilities(record(pay_command(true)), |c| {
        c.partial_capture = PartialCapture::OnlyFromRefusal
    });
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    let unknown = PaymentInfo {
        partial_capture_possible: None,
        ..payment(reserved())
    };
    match answered(&h.ok(Reply::Payment(unknown))) {
        Outcome::Reserved {
            partial_capture_possible,
            ..
        } => assert!(partial_capture_possible),
        other => panic!("{other:?}"),
    }
    let mut rec = capture_record(Some(Minor(1000)), true);
    rec.partial_capture_possible = None;
    let mut h = with_capabilities(rec, |c| c.partial_capture = PartialCapture::OnlyFromRefusal);
    assert!(matches!(call(&h.start()), ApiCall::Capture { .. }));
    assert!(matches!(
        answered(&h.err(refused(Refusal::PartialCaptureNotAllowed))),
        Outcome::PartialCaptureRefused { .. }
    ));
}

#[test]
fn a_backend_poll_limit_is_kept_whatever_delay_it_suggests() {
    let mut h = with_capabilities(record(pay_command(false)), |c| c.polls_per_minute = Some(120));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    let eager = PaymentInfo {
        poll_delay_ms: 100,
        ..payment(PaymentState::WaitingForCustomer)
    };
    assert_eq!(sleeps(&h.ok(Reply::Payment(eager))), 500);
}

#[test]
fn amounts_that_move_under_an_authorization_are_read_as_what_they_mean() {
    // Part captured (by another system): the sale is captured, never captured again.
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    let part = PaymentState::Authorized(Amounts {
        authorized: Minor(4995),
        captured: Minor(1000),
        ..Amounts::default()
    });
    assert!(matches!(answered(&h.status(part)), Outcome::Captured { .. }));
    // Released without a capture: cancelled from the merchant's side.
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    let released = PaymentState::Authorized(Amounts {
        authorized: Minor(4995),
        cancelled: Minor(4995),
        ..Amounts::default()
    });
    match answered(&h.status(released)) {
        Outcome::Declined { reason, .. } => assert_eq!(reason, DeclineReason::CancelledElsewhere),
        other => panic!("{other:?}"),
    }
}
