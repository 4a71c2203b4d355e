//! News from outside (a webhook) brings a status poll forward, and nothing else.

use super::*;

#[test]
fn a_nudge_polls_a_waiting_payment_now() {
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    assert_eq!(call(&h.ok(Reply::Id("pay-1".into()))), get_payment());
    sleeps(&h.status(PaymentState::WaitingForCustomer));
    h.now += 10;
    assert_eq!(call(&h.input(Input::Nudge)), get_payment());
    assert_eq!(
        call(&h.status(reserved())),
        ApiCall::Capture {
            payment_id: "pay-1".into(),
            amount: Minor(4995),
            key: h.change_key("capture"),
        }
    );
}

#[test]
fn a_nudge_polls_a_waiting_refund_now() {
    let mut h = Harness::new(refund_record());
    h.start();
    assert_eq!(
        call(&h.ok(Reply::Id("ref-1".into()))),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
    sleeps(&h.ok(Reply::Refund(refund_info(RefundState::Pending))));
    assert_eq!(
        call(&h.input(Input::Nudge)),
        ApiCall::GetRefund {
            refund_id: "ref-1".into()
        }
    );
}

#[test]
fn a_nudge_changes_nothing_outside_a_status_poll() {
    // While creating: the create's own retry keeps its back-off.
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    sleeps(&h.err(BackendError::NoAnswer));
    let before = h.rec.clone();
    assert_eq!(h.input(Input::Nudge), vec![]);
    assert_eq!(h.rec.phase, before.phase);
    assert_eq!(h.rec.attempts, before.attempts);

    // While a failed poll waits for its retry.
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    sleeps(&h.err(BackendError::NoAnswer));
    assert_eq!(h.input(Input::Nudge), vec![]);

    // After the end.
    let mut h = Harness::new(record(pay_command(false)));
    h.start();
    h.ok(Reply::Id("pay-1".into()));
    h.status(reserved());
    answered(&h.ok(Reply::Done));
    let (answers, events) = (h.answers.len(), h.events.len());
    assert_eq!(h.input(Input::Nudge), vec![]);
    assert_eq!((h.answers.len(), h.events.len()), (answers, events));
}
