//! Refunds: created, polled, confirmed or cancelled, found by order id, and resumed.

use super::*;

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
