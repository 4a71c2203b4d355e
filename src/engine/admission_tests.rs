//! Every admission rule, decided on hand-made journal records.

use super::*;
use crate::engine::api::{CustomerInfo, DeclineReason};
use crate::engine::backend::Payer;
use crate::money::{Currency, Minor};

fn cid(s: &str) -> CommandId {
    CommandId::new(s).unwrap()
}

fn pay(order: &str, keep: bool) -> Command {
    Command::Pay {
        amount: Minor(1000),
        currency: Currency::DKK,
        order_id: order.into(),
        keep_reservation: keep,
        restrictions: None,
        label: None,
        payer: Default::default(),
        order_lines: Vec::new(),
    }
}

fn refund(target: &str, amount: i64, currency: Currency) -> Command {
    Command::Refund {
        payment: PaymentSelector::Command(cid(target)),
        amount: Minor(amount),
        currency,
        refund_order_id: "r-1".into(),
    }
}

fn fresh(id: &str, command: &Command) -> Record {
    Record::new(cid(id), command.clone(), "pos-1".into(), 0)
}

/// A finished record of `command` with `outcome`.
fn done(id: &str, command: Command, outcome: Outcome) -> Record {
    let mut r = fresh(id, &command);
    r.payment_id = match &outcome {
        Outcome::Reserved { payment_id, .. }
        | Outcome::Captured { payment_id, .. }
        | Outcome::Paired { payment_id, .. }
        | Outcome::Refunded { payment_id, .. } => Some(payment_id.clone()),
        _ => None,
    };
    r.outcome = Some(outcome);
    r.answered = true;
    r.phase = Phase::Done;
    r
}

fn reserved(id: &str) -> Record {
    done(
        id,
        pay(&format!("order-{id}"), true),
        Outcome::Reserved {
            payment_id: format!("pay-{id}"),
            amount: Minor(1000),
            currency: Currency::DKK,
            partial_capture_possible: true,
        },
    )
}

fn captured(id: &str) -> Record {
    let mut r = done(
        id,
        pay(&format!("order-{id}"), false),
        Outcome::Captured {
            payment_id: format!("pay-{id}"),
            amount: Minor(1000),
            currency: Currency::DKK,
        },
    );
    r.currency = Some(Currency::DKK);
    r
}

fn paired(id: &str) -> Record {
    done(
        id,
        Command::Prepare {
            order_id: format!("order-{id}"),
        },
        Outcome::Paired {
            payment_id: format!("pay-{id}"),
            customer: CustomerInfo {
                loyalty_ids: vec![],
                customer_token: None,
                customer_receipt_token: Some(String::new()),
            },
        },
    )
}

fn ready(target: &str) -> Command {
    Command::Ready {
        target: cid(target),
        amount: Minor(1000),
        currency: Currency::DKK,
        keep_reservation: false,
        restrictions: None,
        label: None,
    }
}

struct Books {
    records: HashMap<CommandId, Record>,
    from_disk: HashMap<CommandId, Record>,
    capabilities: Capabilities,
    invoices: Option<crate::engine::invoicing::InvoiceRules>,
    agreements: Option<crate::engine::agreements::AgreementRules>,
    retiring: Option<String>,
    in_doubt: bool,
}

impl Books {
    fn with(records: Vec<Record>) -> Books {
        Books {
            records: records.into_iter().map(|r| (r.id.clone(), r)).collect(),
            from_disk: HashMap::new(),
            capabilities: Capabilities::ALL,
            invoices: None,
            agreements: None,
            retiring: None,
            in_doubt: false,
        }
    }

    fn admit(&self, id: &str, command: Command) -> Admission {
        let ledger = Ledger {
            records: &self.records,
            from_disk: &self.from_disk,
            unreadable: false,
            retiring: self.retiring.clone(),
            in_doubt: self.in_doubt,
            capabilities: &self.capabilities,
            invoices: self.invoices,
            agreements: self.agreements,
        };
        admit(&ledger, &cid(id), &command, fresh(id, &command))
    }

    fn refused(&self, id: &str, command: Command) -> RejectCode {
        match self.admit(id, command) {
            Admission::Refuse(code, _) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn started(&self, id: &str, command: Command) -> (Record, Vec<Record>, Option<CommandId>) {
        match self.admit(id, command) {
            Admission::Start {
                record,
                updates,
                cancel_victim,
            } => (*record, updates, cancel_victim),
            other => panic!("expected a start, got {other:?}"),
        }
    }
}

#[test]
fn one_payment_at_a_time_per_lane() {
    let mut running = fresh("sale-1", &pay("o-1", false));
    running.phase = Phase::Poll;
    let books = Books::with(vec![running]);
    assert_eq!(books.refused("sale-2", pay("o-2", false)), RejectCode::LaneBusy);
    assert_eq!(
        books.refused(
            "prep-1",
            Command::Prepare {
                order_id: "o-3".into()
            }
        ),
        RejectCode::LaneBusy
    );
    // A paired prepared payment holds the lane until a ready takes it over.
    let books = Books::with(vec![paired("prep-1")]);
    assert_eq!(books.refused("sale-2", pay("o-2", false)), RejectCode::LaneBusy);
    // A finished sale does not.
    let books = Books::with(vec![captured("sale-1")]);
    books.started("sale-2", pay("o-2", false));
}

#[test]
fn a_point_of_sale_being_replaced_takes_no_new_payment() {
    let mut books = Books::with(vec![]);
    books.retiring = Some("the point of sale is being re-created".into());
    match books.admit("sale-1", pay("o-1", false)) {
        Admission::Refuse(RejectCode::LaneBusy, message) => assert!(message.contains("re-created")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_repeat_is_answered_from_the_journal_and_a_reused_id_refused() {
    let books = Books::with(vec![captured("sale-1")]);
    assert!(matches!(
        books.admit("sale-1", pay("order-sale-1", false)),
        Admission::Answer(Outcome::Captured { .. })
    ));
    assert_eq!(
        books.refused("sale-1", pay("another-order", false)),
        RejectCode::CommandIdReused
    );
    let mut running = fresh("sale-2", &pay("o-2", false));
    running.phase = Phase::Poll;
    running.payment_id = Some("pay-2".into());
    let books = Books::with(vec![running]);
    assert_eq!(
        books.admit("sale-2", pay("o-2", false)),
        Admission::Follow {
            payment_id: Some("pay-2".into())
        }
    );
}

#[test]
fn an_unreadable_record_is_never_replaced() {
    let books = Books::with(vec![]);
    let ledger = Ledger {
        records: &books.records,
        from_disk: &books.from_disk,
        unreadable: true,
        retiring: None,
        in_doubt: false,
        capabilities: &books.capabilities,
        invoices: books.invoices,
        agreements: books.agreements,
    };
    let command = pay("o-1", false);
    assert!(matches!(
        admit(&ledger, &cid("sale-1"), &command, fresh("sale-1", &command)),
        Admission::Answer(Outcome::NeedsHuman { .. })
    ));
}

#[test]
fn invalid_fields_are_refused_before_anything_else() {
    let mut bad = pay("o-1", false);
    if let Command::Pay { amount, .. } = &mut bad {
        *amount = Minor(0);
    }
    assert_eq!(
        Books::with(vec![]).refused("sale-1", bad),
        RejectCode::InvalidAmount
    );
}

#[test]
fn in_doubt_a_sale_first_looks_its_order_up() {
    let mut books = Books::with(vec![]);
    books.in_doubt = true;
    let (record, _, _) = books.started("sale-1", pay("o-1", false));
    assert_eq!(record.phase, Phase::CheckOrder(OrderCheck::Open));
}

#[test]
fn a_check_in_before_the_amount_needs_a_backend_that_has_it() {
    let mut books = Books::with(vec![]);
    books.capabilities.check_in_before_amount = false;
    assert_eq!(
        books.refused(
            "prep-1",
            Command::Prepare {
                order_id: "o-1".into()
            }
        ),
        RejectCode::NotSupported
    );
    books.started("sale-1", pay("o-1", false));
}

#[test]
fn a_card_restriction_needs_a_backend_that_can_restrict_cards() {
    let mut books = Books::with(vec![]);
    books.capabilities.restricts_cards = false;
    let mut restricted = pay("o-1", false);
    if let Command::Pay { restrictions, .. } = &mut restricted {
        *restrictions = Some(crate::engine::backend::CardRestrictions {
            debit_card_disallowed: None,
            credit_card_disallowed: Some(true),
        });
    }
    assert_eq!(books.refused("sale-1", restricted), RejectCode::NotSupported);
    books.started("sale-2", pay("o-2", false));
}

#[test]
fn a_refund_by_order_id_needs_a_backend_that_lists_payments() {
    let mut books = Books::with(vec![captured("sale-1")]);
    books.capabilities.lists_open_payments = false;
    let by_order = Command::Refund {
        payment: PaymentSelector::OrderId("o-1".into()),
        amount: Minor(100),
        currency: Currency::DKK,
        refund_order_id: "r-1".into(),
    };
    assert_eq!(books.refused("refund-1", by_order), RejectCode::NotSupported);
    books.started("refund-2", refund("sale-1", 100, Currency::DKK));
}

#[test]
fn a_payment_pushed_to_a_phone_needs_a_backend_that_pushes() {
    let mut books = Books::with(vec![]);
    books.capabilities.pushes_to_customer = false;
    let pushed = |payer| {
        let mut command = pay("o-1", false);
        if let Command::Pay { payer: p, .. } = &mut command {
            *p = payer;
        }
        command
    };
    for payer in [
        Payer::Phone {
            number: "4512345678".into(),
        },
        Payer::PersonalQr { code: "qr".into() },
        Payer::Sticker,
    ] {
        assert_eq!(books.refused("sale-1", pushed(payer)), RejectCode::NotSupported);
    }
    books.started("sale-1", pushed(Payer::Scans));
}

#[test]
fn ready_only_for_a_prepared_payment_whose_customer_checked_in() {
    let books = Books::with(vec![paired("prep-1"), captured("sale-1")]);
    assert_eq!(books.refused("r-0", ready("nobody")), RejectCode::UnknownTarget);
    assert_eq!(books.refused("r-1", ready("sale-1")), RejectCode::WrongTarget);
    let (record, updates, _) = books.started("r-2", ready("prep-1"));
    assert_eq!(record.payment_id.as_deref(), Some("pay-prep-1"));
    assert_eq!(updates[0].followed_by, Some(cid("r-2")));
    // Taken over once: a second ready is refused.
    let books = Books::with(updates);
    assert_eq!(books.refused("r-3", ready("prep-1")), RejectCode::WrongState);
    // Not paired (still waiting for the customer).
    let mut waiting = fresh("prep-2", &Command::Prepare { order_id: "o".into() });
    waiting.phase = Phase::Poll;
    assert_eq!(
        Books::with(vec![waiting]).refused("r-4", ready("prep-2")),
        RejectCode::WrongState
    );
}

#[test]
fn a_capture_is_never_above_the_reservation() {
    let books = Books::with(vec![reserved("sale-1"), captured("sale-2")]);
    let capture = |target: &str, amount: Option<i64>| Command::Capture {
        target: cid(target),
        amount: amount.map(Minor),
    };
    assert_eq!(
        books.refused("c-1", capture("sale-1", Some(1001))),
        RejectCode::CaptureExceedsReservation
    );
    assert_eq!(
        books.refused("c-2", capture("sale-2", None)),
        RejectCode::WrongState
    );
    let (record, _, _) = books.started("c-3", capture("sale-1", Some(400)));
    assert_eq!(record.decision, Some(Decision::Capture(Minor(400))));
    let (record, _, _) = books.started("c-4", capture("sale-1", None));
    assert_eq!(record.decision, Some(Decision::Capture(Minor(1000))));
}

#[test]
fn cancels_follow_the_payment_not_the_command_that_started_it() {
    let books = Books::with(vec![reserved("sale-1")]);
    let cancel = |target: &str| Command::Cancel { target: cid(target) };
    let (record, _, victim) = books.started("x-1", cancel("sale-1"));
    assert_eq!(
        (record.payment_id.as_deref(), victim),
        (Some("pay-sale-1"), Some(cid("sale-1")))
    );
    // A capture or a cancel is not itself cancelled.
    let capture = Command::Capture {
        target: cid("sale-1"),
        amount: None,
    };
    let books = Books::with(vec![
        reserved("sale-1"),
        done(
            "c-1",
            capture,
            Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::CancelledByUser,
            },
        ),
    ]);
    assert_eq!(books.refused("x-2", cancel("c-1")), RejectCode::WrongTarget);
    // A prepared payment taken over by a ready: the ready's flow is cancelled.
    let mut prepare = paired("prep-1");
    prepare.followed_by = Some(cid("r-1"));
    let mut follower = fresh("r-1", &ready("prep-1"));
    follower.phase = Phase::Poll;
    let books = Books::with(vec![prepare, follower]);
    let (_, _, victim) = books.started("x-3", cancel("prep-1"));
    assert_eq!(victim, Some(cid("r-1")));
    // A paired payment cancelled before any ready: the cancel takes it over.
    let books = Books::with(vec![paired("prep-2")]);
    let (_, updates, _) = books.started("x-4", cancel("prep-2"));
    assert_eq!(updates[0].followed_by, Some(cid("x-4")));
    // Already taken over by that cancel: a second cancel is refused.
    let books = Books::with(updates);
    assert_eq!(books.refused("x-5", cancel("prep-2")), RejectCode::WrongState);
}

#[test]
fn a_refund_stays_within_the_payment_and_its_currency() {
    let books = Books::with(vec![captured("sale-1"), reserved("sale-2")]);
    assert_eq!(
        books.refused("f-1", refund("sale-1", 1001, Currency::DKK)),
        RejectCode::RefundTooHigh
    );
    assert_eq!(
        books.refused("f-2", refund("sale-1", 100, Currency::EUR)),
        RejectCode::CurrencyMismatch
    );
    assert_eq!(
        books.refused("f-3", refund("nobody", 100, Currency::DKK)),
        RejectCode::UnknownTarget
    );
    let (record, _, _) = books.started("f-4", refund("sale-1", 600, Currency::DKK));
    assert_eq!(record.payment_id.as_deref(), Some("pay-sale-1"));
    // What is left after that refund runs.
    let mut books = books;
    books.records.insert(record.id.clone(), record);
    assert_eq!(
        books.refused("f-5", refund("sale-1", 401, Currency::DKK)),
        RejectCode::RefundTooHigh
    );
    books.started("f-6", refund("sale-1", 400, Currency::DKK));
    // A sale that never made a payment cannot be refunded.
    let never = fresh("sale-3", &pay("o-3", false));
    assert_eq!(
        Books::with(vec![never]).refused("f-7", refund("sale-3", 1, Currency::DKK)),
        RejectCode::WrongTarget
    );
}

#[test]
fn records_read_from_disk_count_like_records_held() {
    // The engine holds nothing of this sale any more: it was finished before a restart.
    let mut books = Books::with(vec![]);
    let paid_back = done(
        "f-1",
        refund("sale-1", 600, Currency::DKK),
        Outcome::Refunded {
            refund_id: "refund-1".into(),
            payment_id: "pay-sale-1".into(),
            amount: Minor(600),
            currency: Currency::DKK,
        },
    );
    for record in [captured("sale-1"), paid_back] {
        books.from_disk.insert(record.id.clone(), record);
    }
    // A repeat is answered from the stored record, a reused id refused.
    assert!(matches!(
        books.admit("f-1", refund("sale-1", 600, Currency::DKK)),
        Admission::Answer(Outcome::Refunded { .. })
    ));
    assert_eq!(
        books.refused("f-1", refund("sale-1", 100, Currency::DKK)),
        RejectCode::CommandIdReused
    );
    // The refund limit counts the capture and the refund read from disk.
    assert_eq!(
        books.refused("f-2", refund("sale-1", 401, Currency::DKK)),
        RejectCode::RefundTooHigh
    );
    books.started("f-3", refund("sale-1", 400, Currency::DKK));
}

#[test]
fn a_refund_by_order_id_looks_the_payment_up_first() {
    let command = Command::Refund {
        payment: PaymentSelector::OrderId("order-9".into()),
        amount: Minor(100),
        currency: Currency::DKK,
        refund_order_id: "r-9".into(),
    };
    let (record, _, _) = Books::with(vec![]).started("f-1", command);
    assert_eq!(record.phase, Phase::FindRefundPayment);
}

fn invoice(due: Option<&str>) -> Command {
    Command::Invoice {
        amount: Minor(34900),
        currency: Currency::DKK,
        order_id: "order-inv".into(),
        delivery: crate::engine::invoicing::InvoiceDelivery::Link,
        due_date: due.map(|d| d.parse().unwrap()),
        counter_wait_s: 120,
        order_lines: Vec::new(),
        label: None,
    }
}

fn with_invoices(books: &mut Books) {
    books.invoices = Some(crate::engine::invoicing::InvoiceRules {
        create_replay: crate::engine::invoicing::CreateReplay::RefusedAsDuplicate,
        max_due_days: 399,
        polls_per_minute: 30,
    });
}

#[test]
fn invoices_need_the_merchants_invoice_product() {
    let books = Books::with(vec![]);
    assert_eq!(books.refused("inv-1", invoice(None)), RejectCode::ProductNotSetUp);
}

#[test]
fn an_invoice_is_due_from_today_to_the_backends_limit() {
    // Records here are accepted at the Unix epoch: "today" is 1970-01-01.
    let mut books = Books::with(vec![]);
    with_invoices(&mut books);
    books.started("inv-1", invoice(None));
    books.started("inv-2", invoice(Some("1970-01-01")));
    books.started("inv-3", invoice(Some("1971-02-04")));
    assert_eq!(
        books.refused("inv-4", invoice(Some("1971-02-05"))),
        RejectCode::InvalidDueDate
    );
    assert_eq!(
        books.refused("inv-5", invoice(Some("1969-12-31"))),
        RejectCode::InvalidDueDate
    );
}

#[test]
fn an_invoice_does_not_hold_the_lane_and_can_be_cancelled() {
    let mut books = Books::with(vec![]);
    with_invoices(&mut books);
    let (mut issued, _, _) = books.started("inv-1", invoice(None));
    issued.invoice_id = Some("invoice-1".into());
    issued.phase = Phase::PollInvoice;
    books.records.insert(issued.id.clone(), issued);
    books.started("sale-1", pay("o-1", false));
    let (cancel, _, victim) = books.started("cancel-1", Command::Cancel { target: cid("inv-1") });
    assert_eq!(victim, Some(cid("inv-1")));
    assert_eq!(cancel.invoice_id.as_deref(), Some("invoice-1"));
}

#[test]
fn an_invoice_accepted_while_the_journal_is_in_doubt_is_marked_so() {
    let invoice = Command::Invoice {
        amount: Minor(34900),
        currency: Currency::DKK,
        order_id: "order-7".into(),
        delivery: crate::engine::invoicing::InvoiceDelivery::Link,
        due_date: None,
        counter_wait_s: 120,
        order_lines: Vec::new(),
        label: None,
    };
    let mut books = Books::with(vec![]);
    books.invoices = Some(crate::engine::invoicing::InvoiceRules {
        create_replay: crate::engine::invoicing::CreateReplay::RefusedAsDuplicate,
        max_due_days: 399,
        polls_per_minute: 30,
    });
    let (trusted, _, _) = books.started("inv-1", invoice.clone());
    assert!(!trusted.accepted_in_doubt);
    books.in_doubt = true;
    let (doubted, _, _) = books.started("inv-2", invoice);
    assert!(doubted.accepted_in_doubt);
}

#[test]
fn a_sign_up_accepted_while_the_journal_is_in_doubt_looks_for_its_agreement_first() {
    let signup = Command::SignUp {
        order_id: "member-1".into(),
        plan: "Basis".into(),
        description: None,
        price: None,
        currency: Currency::DKK,
        payments_per_year: None,
        phone: None,
        first_payment: None,
        counter_wait_s: 300,
    };
    let mut books = Books::with(vec![]);
    books.agreements = Some(crate::engine::agreements::AgreementRules {
        create_replay: crate::engine::agreements::AgreementReplay::FindByReference,
        polls_per_minute: 10,
    });
    let (trusted, _, _) = books.started("join-1", signup.clone());
    assert!(!trusted.create_unanswered);
    books.in_doubt = true;
    let (doubted, _, _) = books.started("join-2", signup);
    assert!(doubted.create_unanswered, "looked up before anything is made");
}
