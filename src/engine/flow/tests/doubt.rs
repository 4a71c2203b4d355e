//! A sale accepted while the journal is in doubt (rebuilt after damage): its order id is
//! looked up before anything is created, and money already taken is never taken again.

use super::*;

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
            amount: Minor(4995),
            key: h.change_key("capture"),
        }
    );
    assert!(matches!(answered(&h.ok(Reply::Done)), Outcome::Captured { .. }));
}
