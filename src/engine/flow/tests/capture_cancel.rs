//! The capture and cancel commands, and the cashier's cancel of a sale in flight.

use super::*;

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
            payment_id: "pay-1".into(),
            key: h.change_key("cancel"),
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
            payment_id: "pay-1".into(),
            key: h.change_key("cancel"),
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

#[test]
fn capture_command_captures_full_or_partial() {
    let mut h = Harness::new(capture_record(Some(Minor(1000)), true));
    assert_eq!(
        call(&h.start()),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(1000),
            key: h.change_key("capture"),
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
            payment_id: "pay-1".into(),
            key: h.change_key("cancel"),
        }
    );
    assert_eq!(h.durable.as_ref().unwrap().decision, Some(Decision::Cancel));
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Cancelled { target: cid("sale") }
    );
}
