//! Sign-ups: an agreement shown and accepted, its first payment captured, a create or refund
//! whose answer was lost found by its reference instead of made twice, time running out at the
//! counter, cancels.

use super::*;
use crate::engine::agreements::{
    AgreementInfo, AgreementReplay, AgreementRules, AgreementState, CreatedAgreement, FirstPaymentInfo,
    FirstPaymentState,
};
use crate::engine::api::AgreementEndReason;
use crate::engine::flow::agreement::EXPIRY_GRACE_MS;

const RULES: AgreementRules = AgreementRules {
    create_replay: AgreementReplay::FindByReference,
    polls_per_minute: 10,
};

fn sign_up(first_payment: Option<i64>) -> Command {
    Command::SignUp {
        order_id: "member-42".into(),
        plan: "Brødklubben".into(),
        description: None,
        price: Some(Minor(9900)),
        currency: Currency::DKK,
        payments_per_year: Some(12),
        phone: None,
        first_payment: first_payment.map(Minor),
        counter_wait_s: 300,
    }
}

fn harness(command: Command) -> Harness {
    let mut h = Harness::new(record(command));
    h.policy.agreements = Some(RULES);
    h
}

fn created() -> CreatedAgreement {
    CreatedAgreement {
        agreement_id: "agr-1".into(),
        link: "https://landing.example/?flow=agreement&id=agr-1".into(),
        first_payment_id: Some("oo-1".into()),
    }
}

fn agreement(state: AgreementState, payment: Option<FirstPaymentState>) -> Reply {
    Reply::Agreement(AgreementInfo {
        agreement_id: "agr-1".into(),
        state,
        first_payment: payment.map(|state| FirstPaymentInfo {
            payment_id: "oo-1".into(),
            state,
            amount: Minor(4900),
        }),
    })
}

fn is_create(call: &ApiCall) -> bool {
    matches!(call, ApiCall::CreateAgreement { .. })
}

#[test]
fn a_sign_up_with_a_first_payment_is_shown_accepted_and_captured() {
    let mut h = harness(sign_up(Some(4900)));
    let first = h.start();
    // That a create may be on its way is durable before it leaves.
    assert!(h.durable.as_ref().unwrap().create_unanswered, "{first:?}");
    let ApiCall::CreateAgreement { agreement: new } = call(&first) else {
        panic!("expected a create in {first:?}")
    };
    assert_eq!(new.reference, "key-1");
    assert_eq!(new.expires_after_minutes, 5);
    assert_eq!(new.first_payment.as_ref().map(|p| p.amount), Some(Minor(4900)));
    let shown = h.ok(Reply::CreatedAgreement(created()));
    let stored = shown.iter().position(|a| *a == Action::Persist { durable: true });
    let emitted = shown
        .iter()
        .position(|a| matches!(a, Action::Emit(EventKind::AgreementPending { .. })));
    assert!(stored.is_some() && stored < emitted, "{shown:?}");
    // What the customer display shows beside the code: the price, how often, the first payment.
    let pending = shown.iter().find_map(|a| match a {
        Action::Emit(EventKind::AgreementPending {
            price,
            payments_per_year,
            first_payment,
            ..
        }) => Some((*price, *payments_per_year, *first_payment)),
        _ => None,
    });
    assert_eq!(pending, Some((Some(Minor(9900)), Some(12), Some(Minor(4900)))));
    assert_eq!(h.durable.as_ref().unwrap().agreement_id.as_deref(), Some("agr-1"));
    assert_eq!(sleeps(&shown), 6000, "10 reads a minute");
    h.input(Input::Timer);
    h.ok(agreement(
        AgreementState::Pending,
        Some(FirstPaymentState::Pending),
    ));
    h.input(Input::Timer);
    let capture = h.ok(agreement(
        AgreementState::Active,
        Some(FirstPaymentState::Reserved),
    ));
    assert_eq!(
        h.durable.as_ref().unwrap().decision,
        Some(Decision::Capture(Minor(4900))),
        "the capture is decided durably first"
    );
    assert_eq!(
        call(&capture),
        ApiCall::CaptureFirstPayment {
            agreement_id: "agr-1".into(),
            payment_id: "oo-1".into()
        }
    );
    let outcome = answered(&h.ok(Reply::Done));
    assert_eq!(
        outcome,
        Outcome::SignedUp {
            agreement_id: "agr-1".into(),
            first_payment_id: Some("oo-1".into()),
            first_payment: Some(Minor(4900)),
            currency: Currency::DKK,
        }
    );
    assert!(outcome.is_approved());
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, EventKind::AgreementAccepted { .. })));
}

#[test]
fn a_lost_create_answer_is_looked_for_before_anything_is_created_again() {
    let mut h = harness(sign_up(Some(4900)));
    h.start();
    h.err(BackendError::NoAnswer);
    let look = h.input(Input::Timer);
    assert_eq!(
        call(&look),
        ApiCall::FindAgreement {
            reference: "key-1".into()
        }
    );
    // Found: followed, not created again.
    let found = h.ok(Reply::FoundAgreement(Some(created())));
    assert!(!is_create(&call(&h.input(Input::Timer))), "{found:?}");
    assert_eq!(h.rec.agreement_id.as_deref(), Some("agr-1"));

    // Nothing found: the lost request never arrived, so it is made now.
    let mut h = harness(sign_up(None));
    h.start();
    h.err(BackendError::Server { detail: "500".into() });
    h.input(Input::Timer);
    let again = h.ok(Reply::FoundAgreement(None));
    assert!(is_create(&call(&again)), "{again:?}");
    assert!(h.rec.create_unanswered, "the next create may be lost as well");
}

#[test]
fn a_restart_after_the_create_left_looks_for_it_first() {
    let mut h = harness(sign_up(None));
    h.start();
    // Killed before the answer: the journal holds the mark.
    let mut restarted = Harness::new(h.durable.clone().unwrap());
    restarted.policy.agreements = Some(RULES);
    assert_eq!(
        call(&restarted.start()),
        ApiCall::FindAgreement {
            reference: "key-1".into()
        }
    );
}

#[test]
fn an_agreement_nobody_accepted_in_time_is_cancelled() {
    let mut h = harness(sign_up(None));
    h.start();
    h.ok(Reply::CreatedAgreement(created()));
    h.now += 300_000;
    h.input(Input::Timer);
    let still = h.ok(agreement(AgreementState::Pending, None));
    assert!(
        matches!(still.last(), Some(Action::Sleep(_))),
        "the backend's own expiry comes first"
    );
    h.now += EXPIRY_GRACE_MS;
    h.input(Input::Timer);
    let cancel = h.ok(agreement(AgreementState::Pending, None));
    assert_eq!(
        call(&cancel),
        ApiCall::CancelAgreement {
            agreement_id: "agr-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::AgreementEnded {
            agreement_id: Some("agr-1".into()),
            reason: AgreementEndReason::Expired,
        }
    );
}

#[test]
fn rejected_and_expired_agreements_end_the_command() {
    for (state, reason) in [
        (AgreementState::Rejected, AgreementEndReason::RejectedByCustomer),
        (AgreementState::Expired, AgreementEndReason::Expired),
        (AgreementState::Cancelled, AgreementEndReason::CancelledElsewhere),
    ] {
        let mut h = harness(sign_up(Some(4900)));
        h.start();
        h.ok(Reply::CreatedAgreement(created()));
        h.input(Input::Timer);
        let ended = answered(&h.ok(agreement(state.clone(), Some(FirstPaymentState::Cancelled))));
        assert_eq!(
            ended,
            Outcome::AgreementEnded {
                agreement_id: Some("agr-1".into()),
                reason
            },
            "{state:?}"
        );
        assert!(!ended.is_approved());
    }
}

#[test]
fn a_capture_whose_answer_was_lost_is_read_back_not_doubled() {
    let mut h = harness(sign_up(Some(4900)));
    h.start();
    h.ok(Reply::CreatedAgreement(created()));
    h.input(Input::Timer);
    h.ok(agreement(
        AgreementState::Active,
        Some(FirstPaymentState::Reserved),
    ));
    h.err(BackendError::NoAnswer);
    let again = h.input(Input::Timer);
    assert!(matches!(call(&again), ApiCall::CaptureFirstPayment { .. }));
    // The backend refuses a second capture: the agreement is read, and it was captured.
    let read = h.err(refused(Refusal::NotCapturable));
    assert!(matches!(call(&read), ApiCall::GetAgreement { .. }));
    let outcome = answered(&h.ok(agreement(
        AgreementState::Active,
        Some(FirstPaymentState::Captured),
    )));
    assert!(matches!(outcome, Outcome::SignedUp { .. }));
}

#[test]
fn the_cashier_cancels_a_pending_agreement() {
    let mut h = harness(sign_up(Some(4900)));
    h.start();
    h.ok(Reply::CreatedAgreement(created()));
    let cancel = h.input(Input::CancelRequested);
    assert!(matches!(call(&cancel), ApiCall::CancelAgreement { .. }));
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::AgreementEnded {
            agreement_id: Some("agr-1".into()),
            reason: AgreementEndReason::CancelledByCashier,
        }
    );
}

#[test]
fn a_cancel_command_ends_a_signed_up_agreement() {
    let mut rec = record(Command::Cancel {
        target: cid("signup"),
    });
    rec.phase = Phase::AwaitTarget;
    let mut h = Harness::new(rec);
    h.policy.agreements = Some(RULES);
    let actions = h.input(Input::TargetFinished(Outcome::SignedUp {
        agreement_id: "agr-1".into(),
        first_payment_id: None,
        first_payment: None,
        currency: Currency::DKK,
    }));
    assert_eq!(
        call(&actions),
        ApiCall::CancelAgreement {
            agreement_id: "agr-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Cancelled {
            target: cid("signup")
        }
    );
}

#[test]
fn a_refund_of_a_first_payment_is_never_made_twice() {
    let mut rec = refund_record();
    rec.payment_id = Some("oo-1".into());
    rec.agreement_id = Some("agr-1".into());
    rec.phase = Phase::CreateAgreementRefund;
    let mut h = Harness::new(rec);
    h.policy.agreements = Some(RULES);
    let first = h.start();
    assert!(h.durable.as_ref().unwrap().create_unanswered);
    let ApiCall::RefundAgreementPayment { refund } = call(&first) else {
        panic!("expected a refund in {first:?}")
    };
    assert_eq!((refund.reference.as_str(), refund.amount), ("key-1", Minor(1000)));
    h.err(BackendError::NoAnswer);
    assert_eq!(
        call(&h.input(Input::Timer)),
        ApiCall::FindAgreementRefund {
            agreement_id: "agr-1".into(),
            payment_id: "oo-1".into(),
            reference: "key-1".into(),
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::FoundRefund(Some("rf-1".into())))),
        Outcome::Refunded {
            refund_id: "rf-1".into(),
            payment_id: "oo-1".into(),
            amount: Minor(1000),
            currency: Currency::DKK,
        }
    );
}

#[test]
fn a_failed_look_up_goes_to_a_person_instead_of_a_second_agreement() {
    let mut h = harness(sign_up(None));
    h.start();
    h.err(BackendError::NoAnswer);
    h.input(Input::Timer);
    let actions = h.err(refused(Refusal::Invalid));
    assert!(matches!(answered(&actions), Outcome::NeedsHuman { .. }));
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::Call(c) if is_create(c))));
}

#[test]
fn a_backend_gone_while_capturing_still_answers_signed_up() {
    let mut h = harness(sign_up(Some(4900)));
    h.start();
    h.ok(Reply::CreatedAgreement(created()));
    h.input(Input::Timer);
    h.ok(agreement(
        AgreementState::Active,
        Some(FirstPaymentState::Reserved),
    ));
    h.err(BackendError::NoAnswer);
    h.now += 10_000;
    h.input(Input::Timer);
    h.err(BackendError::NoAnswer);
    assert!(
        matches!(h.answers.as_slice(), [Outcome::SignedUp { .. }]),
        "the capture decision is stored: {:?}",
        h.answers
    );
    assert_eq!(
        h.rec.decision,
        Some(Decision::Capture(Minor(4900))),
        "and carried out later"
    );
}
