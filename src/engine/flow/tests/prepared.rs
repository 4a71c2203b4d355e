//! A prepared payment (the customer checks in first) and the ready command that gives it its
//! amount.

use super::*;

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
            amount: Minor(2500),
            key: h.change_key("capture"),
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
