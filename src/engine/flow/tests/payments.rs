//! A sale from creation to capture or reservation, and every way MobilePay can end it.

use super::*;

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
            amount: Minor(4995),
            key: h.change_key("capture"),
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

#[test]
fn a_fixed_prompt_is_shown_as_soon_as_the_payment_exists_and_only_once() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    assert!(h.events.is_empty());
    // The lane's prompt (the beacon's QR) needs no status read: the customer sees it, with
    // the amount, the moment MobilePay has the payment.
    assert_eq!(call(&h.ok(Reply::Id("pay-1".into()))), get_payment());
    assert!(matches!(
        &h.events[..],
        [EventKind::WaitingForCustomer { payment_id, prompt: Some(prompt), amount: Some(Minor(4995)), currency: Some(Currency::DKK) }]
            if payment_id == "pay-1" && prompt.sticker_id() == Some("123456789012345")
    ));
    assert_eq!(h.rec.payment_id.as_deref(), Some("pay-1"));
    sleeps(&h.status(PaymentState::WaitingForCustomer));
    assert_eq!(h.events.len(), 1, "announced once: {:?}", h.events);
}

#[test]
fn a_prepared_payment_shows_the_fixed_prompt_without_an_amount() {
    let mut h = Harness::new(record(Command::Prepare {
        order_id: "order-1".into(),
    }));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    assert!(matches!(
        &h.events[..],
        [EventKind::WaitingForCustomer {
            prompt: Some(_),
            amount: None,
            currency: None,
            ..
        }]
    ));
}
