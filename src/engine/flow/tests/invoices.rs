//! Invoices: issued by link or to a phone, followed at the counter and afterwards, cancelled,
//! and a create whose answer was lost.

use super::*;
use crate::engine::api::InvoiceEndReason;
use crate::engine::flow::invoice::BACKGROUND_POLL_MS;
use crate::engine::invoicing::{
    CreateReplay, CreatedInvoice, InvoiceDelivery, InvoiceInfo, InvoiceRules, InvoiceState,
};
use chrono::NaiveDate;

const RULES: InvoiceRules = InvoiceRules {
    create_replay: CreateReplay::RefusedAsDuplicate,
    max_due_days: 399,
    polls_per_minute: 30,
};

fn invoice_command(delivery: InvoiceDelivery, counter_wait_s: u32) -> Command {
    Command::Invoice {
        amount: Minor(34900),
        currency: Currency::DKK,
        order_id: "order-7".into(),
        delivery,
        due_date: None,
        counter_wait_s,
        order_lines: Vec::new(),
        label: None,
    }
}

fn phone() -> InvoiceDelivery {
    InvoiceDelivery::Phone {
        number: "4512345678".into(),
    }
}

fn harness(delivery: InvoiceDelivery, counter_wait_s: u32) -> Harness {
    let mut h = Harness::new(record(invoice_command(delivery, counter_wait_s)));
    h.policy.invoices = Some(RULES);
    h
}

fn created() -> Reply {
    Reply::CreatedInvoice(CreatedInvoice {
        invoice_id: "inv-1".into(),
        link: Some("https://invoice.example/inv-1".into()),
    })
}

fn invoice(state: InvoiceState) -> Reply {
    Reply::Invoice(InvoiceInfo {
        invoice_id: "inv-1".into(),
        state,
    })
}

fn created_reference(actions: &[Action]) -> String {
    match call(actions) {
        ApiCall::CreateInvoice { invoice } => invoice.reference,
        other => panic!("expected a create, got {other:?}"),
    }
}

fn get_invoice() -> ApiCall {
    ApiCall::GetInvoice {
        invoice_id: "inv-1".into(),
    }
}

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

#[test]
fn a_link_paid_at_the_counter_is_shown_only_once_its_id_is_durable() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    let first = h.start();
    let ApiCall::CreateInvoice { invoice: new } = call(&first) else {
        panic!("expected a create in {first:?}")
    };
    assert_eq!(new.reference, "key-1");
    assert_eq!(new.order_id, "order-7");
    assert_eq!(new.issue_date, day("1970-01-01"));
    assert_eq!(new.due_date, day("1970-01-15"), "14 days by default");
    let actions = h.ok(created());
    let stored = actions
        .iter()
        .position(|a| *a == Action::Persist { durable: true });
    let shown = actions
        .iter()
        .position(|a| matches!(a, Action::Emit(EventKind::InvoiceIssued { .. })));
    assert!(stored.is_some() && stored < shown, "{actions:?}");
    assert_eq!(h.durable.as_ref().unwrap().invoice_id.as_deref(), Some("inv-1"));
    assert!(matches!(
        &h.events[0],
        EventKind::InvoiceIssued { link: Some(link), phone: None, amount: Minor(34900), .. }
            if link == "https://invoice.example/inv-1"
    ));
    assert_eq!(sleeps(&actions), 2000, "30 reads a minute at the counter");
    assert_eq!(call(&h.input(Input::Timer)), get_invoice());
    let outcome = answered(&h.ok(invoice(InvoiceState::Paid)));
    assert_eq!(
        outcome,
        Outcome::InvoicePaid {
            invoice_id: "inv-1".into(),
            amount: Minor(34900),
            currency: Currency::DKK,
        }
    );
    assert!(outcome.is_approved());
}

#[test]
fn an_unpaid_invoice_is_answered_outstanding_when_the_customer_leaves_and_resolved_later() {
    let mut h = harness(phone(), 120);
    h.start();
    h.ok(created());
    assert!(
        matches!(&h.events[0], EventKind::InvoiceIssued { phone: Some(p), link: Some(_), .. } if p == "+••••••5678")
    );
    h.input(Input::Timer);
    let waiting = h.ok(invoice(InvoiceState::Issued));
    assert!(
        h.answers.is_empty(),
        "the customer is still at the counter: {waiting:?}"
    );
    h.now += 120_000;
    h.input(Input::Timer);
    let left = h.ok(invoice(InvoiceState::Issued));
    assert_eq!(
        h.answers,
        vec![Outcome::InvoiceOutstanding {
            invoice_id: "inv-1".into(),
            amount: Minor(34900),
            currency: Currency::DKK,
            due_date: day("1970-01-15"),
        }]
    );
    assert!(!h.answers[0].is_approved());
    assert_eq!(sleeps(&left), BACKGROUND_POLL_MS, "followed slowly once answered");
    h.input(Input::Timer);
    let paid = h.ok(invoice(InvoiceState::Paid));
    assert_eq!(paid.last(), Some(&Action::Stop));
    assert!(matches!(
        h.events.last(),
        Some(EventKind::Resolved {
            outcome: Outcome::InvoicePaid { .. }
        })
    ));
    assert_eq!(h.answers.len(), 1, "answered once");
}

#[test]
fn a_scheduled_payment_is_answered_as_not_paid_and_its_end_is_the_resolution() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    h.start();
    h.ok(created());
    h.input(Input::Timer);
    let scheduled = h.ok(invoice(InvoiceState::Scheduled {
        payment_date: Some(day("1970-01-20")),
    }));
    let outcome = h.answers[0].clone();
    assert!(matches!(
        outcome,
        Outcome::InvoiceScheduled { payment_date: Some(d), .. } if d == day("1970-01-20")
    ));
    assert!(!outcome.is_approved(), "a scheduled invoice is not money");
    assert_eq!(sleeps(&scheduled), BACKGROUND_POLL_MS);
    // The same state again is no news.
    h.input(Input::Timer);
    let events = h.events.len();
    h.ok(invoice(InvoiceState::Scheduled {
        payment_date: Some(day("1970-01-20")),
    }));
    assert_eq!(h.events.len(), events);
    h.input(Input::Timer);
    h.ok(invoice(InvoiceState::Expired));
    assert!(matches!(
        h.events.last(),
        Some(EventKind::Resolved {
            outcome: Outcome::InvoiceEnded {
                reason: InvoiceEndReason::Expired,
                ..
            }
        })
    ));
}

#[test]
fn a_link_whose_create_answer_was_lost_is_made_anew_under_the_next_reference() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    let first = created_reference(&h.start());
    h.err(BackendError::NoAnswer);
    assert!(h.rec.create_unanswered);
    h.now += 86_400_000;
    let again = h.input(Input::Timer);
    let ApiCall::CreateInvoice { invoice: repeat } = call(&again) else {
        panic!("expected the create again")
    };
    assert_eq!(repeat.reference, first, "the repeat is the same request");
    assert_eq!(repeat.issue_date, day("1970-01-01"), "also after midnight");
    let next = h.err(refused(Refusal::AlreadyExists));
    assert_eq!(created_reference(&next), "key-1-1");
    assert_eq!(h.durable.as_ref().unwrap().invoice_round, 1);
    h.ok(created());
    assert_eq!(h.rec.invoice_id.as_deref(), Some("inv-1"));
}

#[test]
fn a_link_accepted_while_the_journal_is_in_doubt_that_exists_already_goes_to_a_person() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    h.rec.accepted_in_doubt = true;
    h.start();
    let actions = h.err(refused(Refusal::AlreadyExists));
    match answered(&actions) {
        Outcome::NeedsHuman { detail, .. } => {
            assert!(
                detail.contains("order-7") && detail.contains("rebuilt"),
                "{detail}"
            )
        }
        other => panic!("expected a person to look, got {other:?}"),
    }
    assert!(
        !actions.iter().any(|a| matches!(a, Action::Call(_))),
        "no second invoice"
    );
    assert_eq!(h.rec.invoice_round, 0);
}

#[test]
fn an_invoice_pushed_by_a_lost_request_is_never_pushed_again_and_a_person_is_told() {
    let mut h = harness(phone(), 120);
    let first = call(&h.start());
    h.err(BackendError::Server { detail: "500".into() });
    let repeat = call(&h.input(Input::Timer));
    assert_eq!(repeat, first, "byte for byte the same request");
    let actions = h.err(refused(Refusal::AlreadyExists));
    match answered(&actions) {
        Outcome::NeedsHuman { detail, .. } => {
            assert!(
                detail.contains("order-7") && detail.contains("MobilePay app"),
                "{detail}"
            );
            assert!(
                !detail.contains("5678"),
                "no phone number in what is logged: {detail}"
            );
        }
        other => panic!("expected a person to look, got {other:?}"),
    }
    assert!(!actions.iter().any(|a| matches!(a, Action::Call(_))));
}

#[test]
fn refusals_of_the_create_are_the_cash_registers_codes() {
    for (refusal, code) in [
        (Refusal::RecipientUnknown, RejectCode::NotAMobilepayUser),
        (Refusal::RecipientUnavailable, RejectCode::CustomerUnavailable),
        (Refusal::DailyLimitReached, RejectCode::DailyLimitReached),
        (Refusal::InvalidDueDate, RejectCode::InvalidDueDate),
        (Refusal::NotSetUp, RejectCode::ProductNotSetUp),
        (Refusal::InvalidAmount, RejectCode::InvalidAmount),
    ] {
        let mut h = harness(phone(), 120);
        h.start();
        match answered(&h.err(refused(refusal))) {
            Outcome::Rejected { code: c, .. } => assert_eq!(c, code, "{refusal:?}"),
            other => panic!("{refusal:?}: {other:?}"),
        }
    }
}

#[test]
fn the_cashier_cancels_an_invoice_on_the_display() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    h.start();
    h.ok(created());
    let cancel = h.input(Input::CancelRequested);
    assert_eq!(
        call(&cancel),
        ApiCall::CancelInvoice {
            invoice_id: "inv-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::InvoiceEnded {
            invoice_id: Some("inv-1".into()),
            reason: InvoiceEndReason::CancelledByCashier,
        }
    );
}

#[test]
fn a_cancel_during_the_create_cancels_what_the_create_made() {
    let mut h = harness(phone(), 120);
    h.start();
    h.input(Input::CancelRequested);
    let actions = h.ok(created());
    assert!(
        !actions
            .iter()
            .any(|a| matches!(a, Action::Emit(EventKind::InvoiceIssued { .. }))),
        "never shown: {actions:?}"
    );
    assert!(matches!(call(&actions), ApiCall::CancelInvoice { .. }));
}

#[test]
fn a_cancel_command_cancels_an_outstanding_invoice_and_a_paid_one_is_refused() {
    let outstanding = Outcome::InvoiceOutstanding {
        invoice_id: "inv-1".into(),
        amount: Minor(34900),
        currency: Currency::DKK,
        due_date: day("1970-01-15"),
    };
    let mut rec = record(Command::Cancel { target: cid("inv") });
    rec.phase = Phase::AwaitTarget;
    let mut h = Harness::new(rec.clone());
    h.policy.invoices = Some(RULES);
    let actions = h.input(Input::TargetFinished(outstanding.clone()));
    assert_eq!(
        call(&actions),
        ApiCall::CancelInvoice {
            invoice_id: "inv-1".into()
        }
    );
    assert_eq!(
        answered(&h.ok(Reply::Done)),
        Outcome::Cancelled { target: cid("inv") }
    );

    // Paid meanwhile: MobilePay refuses the cancel, the invoice is read, the cancel refused.
    let mut h = Harness::new(rec);
    h.policy.invoices = Some(RULES);
    h.input(Input::TargetFinished(outstanding));
    assert_eq!(call(&h.err(refused(Refusal::AlreadyPaid))), get_invoice());
    match answered(&h.ok(invoice(InvoiceState::Paid))) {
        Outcome::Rejected { code, .. } => assert_eq!(code, RejectCode::WrongState),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_invoice_created_after_the_cashier_heard_unknown_is_cancelled() {
    let mut h = harness(InvoiceDelivery::Link, 120);
    h.start();
    h.err(BackendError::NoAnswer);
    h.now += 10_000;
    h.input(Input::Timer);
    h.err(BackendError::NoAnswer);
    assert!(matches!(h.answers.as_slice(), [Outcome::Unknown { .. }]));
    h.input(Input::Timer);
    let actions = h.ok(created());
    assert!(
        matches!(call(&actions), ApiCall::CancelInvoice { .. }),
        "{actions:?}"
    );
    h.ok(Reply::Done);
    assert!(matches!(
        h.events.last(),
        Some(EventKind::Resolved {
            outcome: Outcome::InvoiceEnded {
                reason: InvoiceEndReason::Abandoned,
                ..
            }
        })
    ));
}

#[test]
fn a_restart_resumes_the_read_at_the_stored_pace() {
    let mut h = harness(phone(), 0);
    h.start();
    h.ok(created());
    h.input(Input::Timer);
    h.ok(invoice(InvoiceState::Issued));
    assert!(matches!(
        h.answers.as_slice(),
        [Outcome::InvoiceOutstanding { .. }]
    ));
    // Restarted a minute later: the next read waits out the rest of the background delay.
    let mut restarted = Harness::new(h.durable.clone().unwrap_or_else(|| h.rec.clone()));
    restarted.rec = h.rec.clone();
    restarted.policy.invoices = Some(RULES);
    restarted.now = h.now + 60_000;
    assert_eq!(sleeps(&restarted.start()), BACKGROUND_POLL_MS - 60_000);
}

#[test]
fn an_invoice_to_scan_stays_on_the_display_long_enough_to_scan() {
    let refused = crate::engine::flow::validate(&invoice_command(InvoiceDelivery::Link, 10));
    assert!(
        matches!(refused, Err((RejectCode::InvalidRequest, _))),
        "{refused:?}"
    );
    assert!(crate::engine::flow::validate(&invoice_command(InvoiceDelivery::Link, 30)).is_ok());
    assert!(crate::engine::flow::validate(&invoice_command(phone(), 0)).is_ok());
    assert!(crate::engine::flow::validate(&invoice_command(phone(), 601)).is_err());
}
