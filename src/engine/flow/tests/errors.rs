//! Refusals, lost answers and an unreachable backend: stable reject codes, retries with the
//! same key, and answers given only after the time limit.

use super::*;

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
            payment_id: "stale".into(),
            key: crate::engine::keys::change_key("stale", "cancel stale", 0),
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
    // A second "busy" is not cleaned up again.
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
            payment_id: "pay-1".into(),
            key: h.change_key("cancel"),
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
            payment_id: "pay-1".into(),
            key: h.change_key("cancel"),
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
