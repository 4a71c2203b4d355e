//! Flows against backends that lack what MobilePay offers: no list of open payments, refunds
//! as changes to the payment, partial captures told only by a refusal, a poll limit.

use super::*;

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

/// A backend like ePayment: the payment's id is our reference, no listing.
fn by_reference(rec: Record) -> Harness {
    with_capabilities(rec, |c| {
        c.lists_open_payments = false;
        c.payment_named_by_reference = true;
    })
}

#[test]
fn where_the_reference_names_the_payment_an_old_create_is_repeated_not_sent_to_a_person() {
    let mut rec = record(pay_command(false));
    rec.create_key_at_ms = 0;
    let mut h = by_reference(rec);
    h.now = h.policy.create_key_max_age_ms + 1_000;
    assert!(matches!(
        call(&h.start()),
        ApiCall::CreatePayment { key, payment } if key == "key-1" && payment.reference == "key-1"
    ));
}

#[test]
fn a_create_refused_because_the_reference_exists_follows_that_payment() {
    let mut h = by_reference(doubtful_record());
    h.start();
    assert_eq!(
        call(&h.err(refused(Refusal::KeyReused))),
        ApiCall::GetPayment {
            payment_id: "key-1".into()
        }
    );
    assert_eq!(h.rec.payment_id.as_deref(), Some("key-1"));
    // Where the backend names payments itself, the same refusal is a person's matter.
    let mut h = Harness::new(doubtful_record());
    h.start();
    assert!(matches!(
        answered(&h.err(refused(Refusal::KeyReused))),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn a_capture_tried_again_after_a_refusal_carries_a_new_key_and_a_lost_one_the_same() {
    let mut h = by_reference(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("key-1".into()));
    let first = match call(&h.status(reserved())) {
        ApiCall::Capture { key, .. } => key,
        other => panic!("{other:?}"),
    };
    h.err(BackendError::NoAnswer);
    match call(&h.input(Input::Timer)) {
        ApiCall::Capture { key, .. } => assert_eq!(key, first, "a repeat after no answer"),
        other => panic!("{other:?}"),
    }
    // Refused while the backend still moves the payment: read it, then capture anew.
    assert_eq!(
        call(&h.err(refused(Refusal::NotCapturable))),
        ApiCall::GetPayment {
            payment_id: "key-1".into()
        }
    );
    match call(&h.status(reserved())) {
        ApiCall::Capture { key, .. } => assert_ne!(key, first, "a new attempt after a refusal"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_capture_refused_while_the_payment_is_busy_is_decided_again_a_few_times() {
    let mut h = by_reference(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("key-1".into()));
    h.status(reserved());
    // ePayment's 423: read the payment, then capture anew.
    assert_eq!(
        call(&h.err(refused(Refusal::StateConflict))),
        ApiCall::GetPayment {
            payment_id: "key-1".into()
        }
    );
    assert!(matches!(call(&h.status(reserved())), ApiCall::Capture { .. }));
    assert!(matches!(answered(&h.ok(Reply::Done)), Outcome::Captured { .. }));
    // A payment that stays busy is a person's matter, not an endless loop.
    let mut h = by_reference(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("key-1".into()));
    h.status(reserved());
    for _ in 0..5 {
        h.err(refused(Refusal::StateConflict));
        h.status(reserved());
    }
    assert!(matches!(
        answered(&h.err(refused(Refusal::StateConflict))),
        Outcome::NeedsHuman { .. }
    ));
}

#[test]
fn a_prompt_of_the_payment_is_shown_where_the_lane_has_none() {
    let mut h = by_reference(record(pay_command(false)));
    h.policy.prompt = None;
    h.start();
    h.ok(Reply::Id("key-1".into()));
    let image = CustomerPrompt::QrImage {
        url: "https://qr.example/v1?token=t".into(),
    };
    assert!(
        h.events.is_empty(),
        "nothing to show before the read: {:?}",
        h.events
    );
    h.ok(Reply::Payment(PaymentInfo {
        prompt: Some(image.clone()),
        ..payment(PaymentState::WaitingForCustomer)
    }));
    assert!(matches!(
        &h.events[..],
        [EventKind::WaitingForCustomer { prompt: Some(p), .. }] if *p == image
    ));
}
