//! The flows as a pure state machine: `step(record, input) -> actions`.
//!
//! No I/O happens here. The driver executes the actions in order: it stores the record
//! (durably when asked), emits events, answers the caller, makes the one backend call or waits,
//! and feeds the result back as the next input. Because every effect is an explicit action,
//! the tests can run every flow against scripted backend answers and enumerate the points
//! where a crash could strike (between any two actions).
//!
//! Ordering rules the step function keeps (invariant I4):
//! - a command's record is durable before its first backend call (the driver persists it on
//!   acceptance), so a creating request never carries a key the journal could forget;
//! - an outcome is durable (`Persist { durable: true }`) before the `Answer` that reveals it.

use super::api::{Command, CustomerInfo, DeclineReason, EventKind, Outcome, RefundCancelReason, RejectCode};
use super::backend::{
    BackendError, Capabilities, CustomerPrompt, Decliner, NewCheckIn, NewPayment, NewRefund, PartialCapture,
    PaymentInfo, PaymentQuery, PaymentState, PaymentTerms, RefundInfo, RefundModel, RefundState, Refusal,
};
use super::record::{Decision, OrderCheck, Phase, Record};
use super::text;
use crate::backoff::Backoff;
use crate::money::{above_maximum, Minor, MAX_MINOR};
use std::time::Duration;

/// Timing rules of the flows.
#[derive(Clone, Debug)]
pub struct Policy {
    /// How long requests may keep failing before the caller is answered (`Unknown`, or
    /// `CapturePending` once the customer has approved). The flow goes on in the background.
    pub answer_unknown_after_ms: u64,
    /// First retry delay after a failed request; doubles per attempt.
    pub retry_base_ms: u64,
    /// Longest retry delay (the pace of background reconciliation).
    pub retry_max_ms: u64,
    /// A create request is never replayed with a key older than this; MobilePay keeps keys
    /// for at least 24 h, so 20 h leaves a safe margin (I5).
    pub create_key_max_age_ms: u64,
    /// What the backend can do; the flows choose their steps from it.
    pub capabilities: Capabilities,
    /// What the customer of the point of sale served now is shown to start paying.
    pub prompt: Option<CustomerPrompt>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            answer_unknown_after_ms: 60_000,
            retry_base_ms: 250,
            retry_max_ms: 30_000,
            create_key_max_age_ms: 20 * 3600 * 1000,
            capabilities: Capabilities::default(),
            prompt: None,
        }
    }
}

/// One backend request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiCall {
    CreatePayment { key: String, payment: NewPayment },
    CheckIn { key: String, check_in: NewCheckIn },
    SetTerms { payment_id: String, terms: PaymentTerms },
    GetPayment { payment_id: String },
    FindPayments { query: PaymentQuery },
    Capture { payment_id: String, amount: Minor },
    CancelPayment { payment_id: String },
    Refund { key: String, refund: NewRefund },
    GetRefund { refund_id: String },
    ConfirmRefund { refund_id: String },
    CancelRefund { refund_id: String },
}

/// A successful backend answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A created payment's or refund's id.
    Id(String),
    /// A call without an answer body succeeded.
    Done,
    Payment(PaymentInfo),
    Ids(Vec<String>),
    Refund(RefundInfo),
}

/// What drives a flow forward.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Begin, or resume after a restart: issue the current phase's request.
    Start,
    /// The answer to the last [`Action::Call`].
    Reply(Result<Reply, BackendError>),
    /// The last [`Action::Sleep`] is over.
    Timer,
    /// The cashier cancels this command's payment or refund.
    CancelRequested,
    /// For a cancel command: the command it cancels has been answered with this outcome.
    TargetFinished(Outcome),
}

/// What the driver must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Store the record; with `durable`, wait until it survives a power cut.
    Persist { durable: bool },
    /// Tell the lane's watchers.
    Emit(EventKind),
    /// Give the caller its final answer (already stored durably).
    Answer(Outcome),
    /// Make this request, then step with its [`Input::Reply`].
    Call(ApiCall),
    /// Wait this long, then step with [`Input::Timer`] (a cancel request may come first).
    Sleep(u64),
    /// The flow is over.
    Stop,
}

/// Checks a command's own fields before anything is stored or sent.
pub fn validate(command: &Command) -> Result<(), (RejectCode, String)> {
    let check_amount = |a: Minor, what: &str| {
        if !a.is_positive() {
            Err((RejectCode::InvalidAmount, format!("{what} must be positive")))
        } else if a.0 > MAX_MINOR {
            Err((RejectCode::InvalidAmount, above_maximum(what)))
        } else {
            Ok(())
        }
    };
    let text_ok = |s: &str| text::is_valid(s);
    let label_ok = |l: &Option<String>| l.as_deref().is_none_or(text_ok);
    let bad = |code: RejectCode, what: &str| Err((code, what.to_string()));
    match command {
        Command::Pay {
            amount,
            order_id,
            label,
            ..
        } => {
            check_amount(*amount, "the amount")?;
            if !text_ok(order_id) {
                return bad(
                    RejectCode::InvalidOrderId,
                    "the order id must be 1-36 valid characters",
                );
            }
            if !label_ok(label) {
                return bad(
                    RejectCode::InvalidLabel,
                    "the label must be 1-36 valid characters",
                );
            }
        }
        Command::Prepare { order_id } => {
            if !text_ok(order_id) {
                return bad(
                    RejectCode::InvalidOrderId,
                    "the order id must be 1-36 valid characters",
                );
            }
        }
        Command::Ready { amount, label, .. } => {
            check_amount(*amount, "the amount")?;
            if !label_ok(label) {
                return bad(
                    RejectCode::InvalidLabel,
                    "the label must be 1-36 valid characters",
                );
            }
        }
        Command::Capture { amount, .. } => {
            if let Some(a) = amount {
                check_amount(*a, "the capture amount")?;
            }
        }
        Command::Cancel { .. } => {}
        Command::Refund {
            amount,
            refund_order_id,
            payment,
            ..
        } => {
            check_amount(*amount, "the refund amount")?;
            if !text_ok(refund_order_id) {
                return bad(
                    RejectCode::InvalidRefundOrderId,
                    "the refund order id must be 1-36 valid characters",
                );
            }
            if let super::api::PaymentSelector::OrderId(order) = payment {
                if !text_ok(order) {
                    return bad(
                        RejectCode::InvalidOrderId,
                        "the order id must be 1-36 valid characters",
                    );
                }
            }
        }
    }
    Ok(())
}

/// Advances `record` by one input and says what to do. `now_ms` is wall-clock time.
pub fn step(record: &mut Record, input: Input, now_ms: u64, policy: &Policy) -> Vec<Action> {
    let mut flow = Flow {
        rec: record,
        now: now_ms,
        policy,
        out: Vec::new(),
        earlier_failures: None,
    };
    match input {
        Input::Start => flow.resume(),
        Input::Timer => flow.issue(),
        Input::CancelRequested => flow.on_cancel(),
        Input::TargetFinished(outcome) => flow.on_target_finished(outcome),
        Input::Reply(Ok(reply)) => {
            // A status the engine does not understand counts as a failure, so remember the
            // streak until the answer has been looked at.
            flow.earlier_failures = flow.rec.failing_since_ms.take().map(|s| (s, flow.rec.attempts));
            flow.rec.attempts = 0;
            flow.on_reply(reply);
        }
        Input::Reply(Err(error)) if error.is_transient() => flow.on_transient(&error),
        Input::Reply(Err(error)) => {
            flow.rec.failing_since_ms = None;
            flow.rec.attempts = 0;
            flow.on_error(error);
        }
    }
    flow.rec.updated_at_ms = now_ms;
    flow.out
}

struct Flow<'a> {
    rec: &'a mut Record,
    now: u64,
    policy: &'a Policy,
    out: Vec<Action>,
    /// The failure streak before a successful answer that may still count as a failure.
    earlier_failures: Option<(u64, u32)>,
}

impl Flow<'_> {
    fn push(&mut self, action: Action) {
        self.out.push(action);
    }

    fn goto(&mut self, phase: Phase) {
        self.rec.phase = phase;
        self.issue();
    }

    fn payment_id(&self) -> String {
        self.rec.payment_id.clone().unwrap_or_default()
    }

    fn key(&self) -> String {
        self.rec.create_key.clone().unwrap_or_default()
    }

    fn key_too_old(&self) -> bool {
        self.now.saturating_sub(self.rec.create_key_at_ms) > self.policy.create_key_max_age_ms
    }

    /// Begins the flow, or resumes it after a restart. A resumed poll keeps MobilePay's pace:
    /// it waits until the backend's poll delay has passed since the last poll before the restart. The
    /// wait is never longer than one delay, so a clock that went backwards (a board without a
    /// real-time clock that booted with an old time) cannot hold the flow up.
    fn resume(&mut self) {
        if matches!(self.rec.phase, Phase::Poll | Phase::PollRefund) {
            let delay = u64::from(self.rec.last_poll_delay_ms);
            let wait = self
                .rec
                .last_poll_at_ms
                .saturating_add(delay)
                .saturating_sub(self.now)
                .min(delay);
            if wait > 0 {
                return self.push(Action::Sleep(wait));
            }
        }
        self.issue()
    }

    /// Notes a status poll's answer: its time and MobilePay's delay until the next poll.
    /// A backend that limits polls per minute is never asked faster than that, whatever delay
    /// it suggests.
    fn polled(&mut self, poll_delay_ms: u32) -> u64 {
        let floor = self
            .policy
            .capabilities
            .polls_per_minute
            .map_or(1, |n| 60_000u32.div_ceil(n.max(1)));
        self.rec.last_poll_delay_ms = poll_delay_ms.max(floor);
        self.rec.last_poll_at_ms = self.now;
        u64::from(self.rec.last_poll_delay_ms)
    }

    /// Polls again after `delay`. The poll's time and delay are stored first (not durably: a
    /// power cut may cost one early poll, nothing more), so that a restart keeps the pace.
    fn poll_again(&mut self, delay: u64) {
        if self.out.last() != Some(&Action::Persist { durable: false }) {
            self.push(Action::Persist { durable: false });
        }
        self.push(Action::Sleep(delay));
    }

    /// Makes the request of the current phase.
    fn issue(&mut self) {
        let rec = &*self.rec;
        let lists = self.policy.capabilities.lists_open_payments;
        let call = match &rec.phase {
            Phase::Create if self.key_too_old() => return self.goto(Phase::FindOwn),
            Phase::Create => match &rec.command {
                Command::Pay { order_id, .. } => match self.terms() {
                    Some(terms) => ApiCall::CreatePayment {
                        key: self.key(),
                        payment: NewPayment {
                            reference: self.key(),
                            point_of_sale: rec.pos_id.clone(),
                            order_id: order_id.clone(),
                            terms,
                        },
                    },
                    None => return self.needs_human("a sale without its amount"),
                },
                Command::Prepare { order_id } => ApiCall::CheckIn {
                    key: self.key(),
                    check_in: NewCheckIn {
                        reference: self.key(),
                        point_of_sale: rec.pos_id.clone(),
                        order_id: order_id.clone(),
                    },
                },
                _ => return self.needs_human("a create phase on a command that creates nothing"),
            },
            // Without a list to look in, our own payment cannot be found by its order: a person
            // checks it (the create key alone can no longer be replayed safely).
            Phase::FindOwn if !lists => {
                return self.needs_human(
                    "the payment was never confirmed and its request is too old to repeat; \
                     check the order's payments at the backend",
                )
            }
            // Without a list, a replay is safe anyway: the create key (and the reference) are
            // derived from the command, so a lost journal repeats them unchanged.
            Phase::CheckOrder(_) if !lists => return self.goto(Phase::Create),
            Phase::FindOwn | Phase::CheckOrder(OrderCheck::Open) => self.find_own(false),
            Phase::CheckOrder(OrderCheck::Inspect { payment_id }) => ApiCall::GetPayment {
                payment_id: payment_id.clone(),
            },
            Phase::CheckOrder(OrderCheck::Captured) => self.find_own(true),
            Phase::ClearStale { pending: None } => ApiCall::FindPayments {
                query: PaymentQuery {
                    point_of_sale: Some(rec.pos_id.clone()),
                    order_id: None,
                    captured: false,
                },
            },
            Phase::ClearStale { pending: Some(ids) } => match ids.first() {
                Some(id) => ApiCall::GetPayment {
                    payment_id: id.clone(),
                },
                None => {
                    self.rec.stale_cleared = true;
                    return self.goto(Phase::Create);
                }
            },
            Phase::SetTerms => match self.terms() {
                Some(terms) if rec.kind() == super::api::CommandKind::Ready => ApiCall::SetTerms {
                    payment_id: self.payment_id(),
                    terms,
                },
                _ => return self.needs_human("a ready phase on a command that is not ready"),
            },
            Phase::Poll => ApiCall::GetPayment {
                payment_id: self.payment_id(),
            },
            Phase::Capture => {
                let amount = match rec.decision {
                    Some(Decision::Capture(amount)) => amount,
                    _ => return self.needs_human("a capture without a capture decision"),
                };
                let partial = rec.reserved.is_some_and(|r| amount < r);
                if partial && rec.partial_capture_possible == Some(false) {
                    return self.partial_refused(amount);
                }
                ApiCall::Capture {
                    payment_id: self.payment_id(),
                    amount,
                }
            }
            Phase::CancelPayment => ApiCall::CancelPayment {
                payment_id: self.payment_id(),
            },
            Phase::AwaitTarget => return,
            Phase::FindRefundPayment => ApiCall::FindPayments {
                query: PaymentQuery {
                    point_of_sale: None,
                    order_id: match &rec.command {
                        Command::Refund {
                            payment: super::api::PaymentSelector::OrderId(order),
                            ..
                        } => Some(order.clone()),
                        _ => None,
                    },
                    captured: true,
                },
            },
            Phase::CreateRefund if self.key_too_old() => {
                return self.needs_human(
                    "the refund was never confirmed and its request is too old to repeat; \
                     check the payment's refunds at MobilePay",
                )
            }
            Phase::CreateRefund => match &rec.command {
                Command::Refund {
                    amount,
                    currency,
                    refund_order_id,
                    ..
                } => ApiCall::Refund {
                    key: self.key(),
                    refund: NewRefund {
                        payment_id: self.payment_id(),
                        refund_order_id: refund_order_id.clone(),
                        amount: *amount,
                        currency: *currency,
                    },
                },
                _ => return self.needs_human("a refund phase on a command that is not a refund"),
            },
            Phase::PollRefund => ApiCall::GetRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::ConfirmRefund => ApiCall::ConfirmRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::CancelRefund => ApiCall::CancelRefund {
                refund_id: rec.refund_id.clone().unwrap_or_default(),
            },
            Phase::Done => return self.push(Action::Stop),
        };
        self.push(Action::Call(call));
    }

    /// Lists our point of sale's open (or captured) payments with this command's order id.
    fn find_own(&self, captured: bool) -> ApiCall {
        ApiCall::FindPayments {
            query: PaymentQuery {
                point_of_sale: Some(self.rec.pos_id.clone()),
                order_id: self.rec.command.order_id().map(str::to_string),
                captured,
            },
        }
    }

    /// The amount and terms of a `Pay` or `Ready` command.
    fn terms(&self) -> Option<PaymentTerms> {
        match &self.rec.command {
            Command::Pay {
                amount,
                currency,
                restrictions,
                label,
                ..
            }
            | Command::Ready {
                amount,
                currency,
                restrictions,
                label,
                ..
            } => Some(PaymentTerms {
                amount: *amount,
                currency: *currency,
                restrictions: *restrictions,
                label: label.clone(),
                keep_reservation: self.rec.keep_reservation(),
            }),
            _ => None,
        }
    }

    fn on_reply(&mut self, reply: Reply) {
        let phase = self.rec.phase.clone();
        match (phase, reply) {
            (Phase::Create, Reply::Id(id)) => {
                self.rec.payment_id = Some(id);
                self.push(Action::Persist { durable: false });
                let next = if self.wants_cancel() {
                    Phase::CancelPayment
                } else {
                    Phase::Poll
                };
                self.goto(next);
            }
            (Phase::FindOwn, Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(id) => {
                    self.rec.payment_id = Some(id);
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::Poll);
                }
                // Neither active nor reserved: it was never created, or it has ended without
                // money taken (only this engine captures, and it had not).
                None => {
                    let reason = self.cancel_reason();
                    self.finish(Outcome::Declined {
                        payment_id: None,
                        reason,
                    });
                }
            },
            (Phase::CheckOrder(OrderCheck::Open), Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(payment_id) => self.goto(Phase::CheckOrder(OrderCheck::Inspect { payment_id })),
                None => self.goto(Phase::CheckOrder(OrderCheck::Captured)),
            },
            (Phase::CheckOrder(OrderCheck::Inspect { .. }), Reply::Payment(p)) => self.check_open_payment(p),
            (Phase::CheckOrder(OrderCheck::Captured), Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(payment_id) => {
                    let detail = self.order_already_paid(&payment_id, "captured");
                    self.rec.payment_id = Some(payment_id);
                    self.needs_human(&detail);
                }
                None => self.goto(Phase::Create),
            },
            (Phase::ClearStale { pending: None }, Reply::Ids(ids)) => {
                self.goto(Phase::ClearStale { pending: Some(ids) })
            }
            (Phase::ClearStale { pending: Some(ids) }, Reply::Payment(p)) => {
                if self.is_our_lost_payment(&p) {
                    self.rec.payment_id = Some(p.payment_id);
                    self.rec.stale_cleared = true;
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::Poll);
                } else if p.state.is_open() {
                    self.push(Action::Call(ApiCall::CancelPayment {
                        payment_id: p.payment_id,
                    }));
                } else {
                    self.goto(Phase::ClearStale {
                        pending: Some(ids[1..].to_vec()),
                    });
                }
            }
            (Phase::ClearStale { pending: Some(ids) }, Reply::Done) => self.goto(Phase::ClearStale {
                pending: Some(ids.get(1..).unwrap_or_default().to_vec()),
            }),
            (Phase::SetTerms, Reply::Done) => self.goto(Phase::Poll),
            (Phase::Poll, Reply::Payment(p)) => self.on_payment(p),
            (Phase::Capture, Reply::Done) => self.captured(),
            (Phase::CancelPayment, Reply::Done) => self.cancelled(),
            (Phase::FindRefundPayment, Reply::Ids(ids)) => match ids.into_iter().next() {
                Some(id) => {
                    self.rec.payment_id = Some(id);
                    self.push(Action::Persist { durable: false });
                    self.goto(Phase::CreateRefund);
                }
                None => self.finish(Outcome::Rejected {
                    code: RejectCode::PaymentNotFound,
                    message: "no captured payment has that order id".into(),
                }),
            },
            // A refund that is a change to the payment is done once accepted.
            (Phase::CreateRefund, Reply::Id(id))
                if self.policy.capabilities.refunds == RefundModel::Modification =>
            {
                self.rec.refund_id = Some(id.clone());
                self.announce_refund(Some(id));
                self.refunded();
            }
            (Phase::CreateRefund, Reply::Id(id)) => {
                self.rec.refund_id = Some(id.clone());
                self.announce_refund(Some(id));
                self.push(Action::Persist { durable: false });
                let next = if self.wants_cancel() {
                    Phase::CancelRefund
                } else {
                    Phase::PollRefund
                };
                self.goto(next);
            }
            (Phase::PollRefund, Reply::Refund(r)) => self.on_refund(r),
            (Phase::ConfirmRefund, Reply::Done) => self.refunded(),
            (Phase::CancelRefund, Reply::Done) => {
                let reason = self.refund_cancel_reason();
                self.finish(Outcome::RefundCancelled {
                    refund_id: self.rec.refund_id.clone(),
                    reason,
                });
            }
            (phase, reply) => {
                self.needs_human(&format!("unexpected backend answer {reply:?} in phase {phase:?}"))
            }
        }
    }

    /// The order check found an open payment with our order id. One still waiting for the
    /// customer, for our amount, is the lost command's own sale in progress: it is taken over.
    /// Anything else (reserved, or another amount) may be money already taken for this order,
    /// or another sale that reused the order id: a person decides, nothing is created.
    fn check_open_payment(&mut self, p: PaymentInfo) {
        let same_amount = p.amount.is_none()
            || self.rec.payment_amount().is_none()
            || p.amount == self.rec.payment_amount();
        self.rec.payment_id = Some(p.payment_id.clone());
        self.push(Action::Persist { durable: false });
        if p.state.is_open() && same_amount {
            return self.goto(Phase::Poll);
        }
        let detail = self.order_already_paid(&p.payment_id, &p.state.to_string());
        self.needs_human(&detail);
    }

    fn order_already_paid(&self, payment_id: &str, status: &str) -> String {
        format!(
            "MobilePay already has payment {payment_id} ({status}) for order {}; the journal was \
             rebuilt after damage, so mposd cannot tell whether it is this sale: check it before \
             selling again",
            self.rec.command.order_id().unwrap_or_default()
        )
    }

    /// A retry after "point of sale busy" found an active payment with our order id and amount on our point of
    /// sale after our own create went unanswered: that is our payment, created by the request
    /// whose answer was lost, not a stale one.
    fn is_our_lost_payment(&self, p: &PaymentInfo) -> bool {
        self.rec.create_unanswered
            && p.state.is_open()
            && self.rec.command.order_id() == Some(p.order_id.as_str())
            && (p.amount.is_none() || p.amount == self.rec.payment_amount())
    }

    fn on_payment(&mut self, p: PaymentInfo) {
        let delay = self.polled(p.poll_delay_ms);
        if let PaymentState::Authorized(amounts) = &p.state {
            if self.rec.reserved.is_none() && p.state.is_reserved() {
                self.rec.reserved = Some(amounts.authorized);
            }
        }
        if let Some(currency) = p.currency {
            self.rec.currency.get_or_insert(currency);
        }
        match self.rec.kind() {
            super::api::CommandKind::Cancel => return self.cancel_target_state(p),
            super::api::CommandKind::Capture => return self.capture_target_state(p),
            _ => {}
        }
        let is_prepare = self.rec.kind() == super::api::CommandKind::Prepare;
        match &p.state {
            PaymentState::WaitingForCustomer => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                if !self.rec.announced.waiting {
                    self.rec.announced.waiting = true;
                    let amount = if is_prepare {
                        None
                    } else {
                        p.amount.or(self.rec.payment_amount())
                    };
                    self.push(Action::Emit(EventKind::WaitingForCustomer {
                        payment_id: p.payment_id.clone(),
                        prompt: self.policy.prompt.clone(),
                        amount,
                        currency: if amount.is_some() { self.rec.currency } else { None },
                    }));
                    self.push(Action::Persist { durable: false });
                }
                self.poll_again(delay);
            }
            PaymentState::CheckedIn => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                match self.rec.kind() {
                    super::api::CommandKind::Prepare => {
                        match (&p.loyalty_ids, &p.customer_receipt_token) {
                            (Some(loyalty), Some(receipt)) => {
                                let customer = CustomerInfo {
                                    loyalty_ids: loyalty.clone(),
                                    customer_token: p.customer_token.clone(),
                                    customer_receipt_token: Some(receipt.clone()),
                                };
                                self.announce_checkin(&p.payment_id, customer.clone());
                                self.finish(Outcome::Paired {
                                    payment_id: p.payment_id,
                                    customer,
                                });
                            }
                            // Looked up only after pairing: poll again until both are known.
                            _ => self.poll_again(delay),
                        }
                    }
                    // Our terms have not been applied (e.g. lost before a crash): send them again.
                    super::api::CommandKind::Ready => self.goto(Phase::SetTerms),
                    _ => self.poll_again(delay),
                }
            }
            PaymentState::CustomerIdentified => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelPayment);
                }
                let customer = customer_of(&p);
                self.announce_checkin(&p.payment_id, customer);
                self.poll_again(delay);
            }
            PaymentState::Authorized(amounts) if amounts.captured.is_positive() => {
                if self.rec.decision == Some(Decision::Cancel) {
                    return self.needs_human("the payment is captured although it was to be cancelled");
                }
                self.captured();
            }
            // Released without a capture: cancelled by a merchant request.
            PaymentState::Authorized(amounts) if amounts.cancelled.is_positive() => {
                let reason = self.cancel_reason();
                self.declined(reason)
            }
            PaymentState::Authorized(_) => self.on_reserved(p, is_prepare),
            PaymentState::Declined(Decliner::Customer) => self.declined(DeclineReason::CancelledByUser),
            PaymentState::Declined(Decliner::Backend) => self.declined(DeclineReason::CancelledByMobilePay),
            PaymentState::Expired => self.declined(DeclineReason::ExpiredAndCancelled),
            PaymentState::Cancelled => {
                let reason = self.cancel_reason();
                self.declined(reason)
            }
            // Not successful and not understood: keep asking, as for a failed request.
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    /// The customer approved: the money is reserved. Kept for a later capture, or captured now
    /// after the decision is stored.
    fn on_reserved(&mut self, p: PaymentInfo, is_prepare: bool) {
        let partial = self.partial_capture_possible(&p);
        self.rec.partial_capture_possible = partial;
        let amount = self
            .rec
            .reserved
            .or(self.rec.payment_amount())
            .unwrap_or_default();
        if !self.rec.announced.reserved {
            self.rec.announced.reserved = true;
            self.push(Action::Emit(EventKind::Reserved {
                payment_id: p.payment_id.clone(),
                amount,
                partial_capture_possible: partial.unwrap_or(false),
            }));
        }
        if self.wants_cancel() {
            return self.goto(Phase::CancelPayment);
        }
        if is_prepare {
            return self.needs_human("a prepared payment is reserved without a ready");
        }
        if self.rec.keep_reservation() {
            self.finish(Outcome::Reserved {
                payment_id: p.payment_id,
                amount,
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
                partial_capture_possible: partial.unwrap_or(false),
            });
        } else {
            self.rec.decision = Some(Decision::Capture(amount));
            self.push(Action::Persist { durable: false });
            self.goto(Phase::Capture);
        }
    }

    /// Whether less than the reserved amount may be captured. A backend that tells only by
    /// refusing a partial capture is tried: its refusal ends the command as
    /// `PartialCaptureRefused`, as a known "no" would.
    fn partial_capture_possible(&self, p: &PaymentInfo) -> Option<bool> {
        match self.policy.capabilities.partial_capture {
            PartialCapture::Announced => p.partial_capture_possible,
            PartialCapture::OnlyFromRefusal => Some(true),
        }
    }

    /// A cancel command re-reads the payment after the backend refused the cancel.
    fn cancel_target_state(&mut self, p: PaymentInfo) {
        match &p.state {
            PaymentState::Authorized(a) if a.captured.is_positive() => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the payment is captured; refund it instead".into(),
            }),
            s if s.is_ended() => self.cancelled(),
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            _ => self.goto(Phase::CancelPayment),
        }
    }

    /// A capture command re-reads the payment after the backend said it is not capturable.
    fn capture_target_state(&mut self, p: PaymentInfo) {
        match &p.state {
            s if s.is_reserved() => self.goto(Phase::Capture),
            PaymentState::Authorized(a) if a.captured.is_positive() => self.captured(),
            PaymentState::Authorized(_) | PaymentState::Cancelled => {
                self.declined(DeclineReason::CancelledElsewhere)
            }
            PaymentState::Declined(Decliner::Customer) => self.declined(DeclineReason::CancelledByUser),
            PaymentState::Declined(Decliner::Backend) => self.declined(DeclineReason::CancelledByMobilePay),
            PaymentState::Expired => self.declined(DeclineReason::ExpiredAndCancelled),
            PaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            other => {
                let message = format!("the payment is {other}, not reserved");
                self.finish(Outcome::Rejected {
                    code: RejectCode::WrongState,
                    message,
                })
            }
        }
    }

    fn on_refund(&mut self, r: RefundInfo) {
        let delay = self.polled(r.poll_delay_ms);
        match &r.state {
            RefundState::Pending => {
                if self.wants_cancel() {
                    return self.goto(Phase::CancelRefund);
                }
                self.poll_again(delay);
            }
            RefundState::AwaitingConfirmation => {
                if self.wants_cancel() {
                    self.goto(Phase::CancelRefund)
                } else {
                    self.goto(Phase::ConfirmRefund)
                }
            }
            RefundState::PaidOut => self.refunded(),
            RefundState::CancelledByBackend => self.finish(Outcome::RefundCancelled {
                refund_id: Some(r.refund_id),
                reason: RefundCancelReason::CancelledByMobilePay,
            }),
            RefundState::Cancelled => {
                let reason = self.refund_cancel_reason();
                self.finish(Outcome::RefundCancelled {
                    refund_id: Some(r.refund_id),
                    reason,
                })
            }
            RefundState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    fn on_error(&mut self, error: BackendError) {
        let phase = self.rec.phase.clone();
        let refusal = error.refusal();
        let is_capture_command = self.rec.kind() == super::api::CommandKind::Capture;
        match phase {
            Phase::Create => match refusal {
                Some(Refusal::PointOfSaleBusy)
                    if !self.rec.stale_cleared && self.policy.capabilities.lists_open_payments =>
                {
                    self.goto(Phase::ClearStale { pending: None })
                }
                Some(Refusal::PointOfSaleBusy) => self.declined(DeclineReason::PointOfSaleBusy),
                Some(Refusal::KeyReused) => self.key_refused(&error),
                _ => self.reject_from(&error),
            },
            Phase::ClearStale { pending: None } => self.declined(DeclineReason::PointOfSaleBusy),
            // A stale payment that cannot be read or cancelled: skip it; the retried create
            // will tell whether the point of sale is free.
            Phase::ClearStale { pending: Some(ids) } => self.goto(Phase::ClearStale {
                pending: Some(ids.get(1..).unwrap_or_default().to_vec()),
            }),
            // Refused because of the payment's state (e.g. the terms were already applied
            // before a crash): read it and go on from what it is.
            Phase::SetTerms => match (&error, refusal) {
                (_, Some(r)) if !r.is_about_the_request() => self.goto(Phase::Poll),
                (BackendError::NotFound, _) => {
                    self.needs_human("the prepared payment is unknown to MobilePay")
                }
                _ => self.reject_from(&error),
            },
            Phase::Capture => match refusal {
                Some(Refusal::PartialCaptureNotAllowed) => {
                    let amount = match self.rec.decision {
                        Some(Decision::Capture(a)) => a,
                        _ => Minor(0),
                    };
                    self.rec.partial_capture_possible = Some(false);
                    self.partial_refused(amount)
                }
                Some(Refusal::NotCapturable) => self.goto(Phase::Poll),
                Some(Refusal::CapturedWithOtherAmount) => self.needs_human(&format!(
                    "the payment was already captured with a different amount ({error})"
                )),
                Some(Refusal::AmountAboveReserved) if is_capture_command => self.finish(Outcome::Rejected {
                    code: RejectCode::CaptureExceedsReservation,
                    message: "the capture amount exceeds the reserved amount".into(),
                }),
                _ if is_capture_command && !matches!(error, BackendError::NotFound) => {
                    self.reject_from(&error)
                }
                _ => self.needs_human(&format!("the reserved payment could not be captured: {error}")),
            },
            Phase::CancelPayment => match (&error, refusal) {
                (_, Some(Refusal::NotCancellable)) => self.goto(Phase::Poll),
                (BackendError::Forbidden { .. }, _) if self.rec.kind() == super::api::CommandKind::Cancel => {
                    self.reject_from(&error)
                }
                _ => self.needs_human(&format!("the payment could not be cancelled: {error}")),
            },
            Phase::CreateRefund => match refusal {
                Some(Refusal::KeyReused) => self.key_refused(&error),
                _ => self.reject_from(&error),
            },
            Phase::ConfirmRefund | Phase::CancelRefund if refusal == Some(Refusal::RefundStateChanged) => {
                self.goto(Phase::PollRefund)
            }
            Phase::FindRefundPayment => self.reject_from(&error),
            Phase::Poll if matches!(error, BackendError::NotFound) => {
                self.needs_human("the payment is unknown to MobilePay")
            }
            phase => self.needs_human(&format!(
                "MobilePay refused a request in phase {phase:?}: {error}"
            )),
        }
    }

    /// The backend refused our idempotency key as used for another request: nothing was done
    /// with this one, and repeating it cannot help.
    fn key_refused(&mut self, error: &BackendError) {
        self.needs_human(&format!("MobilePay refused our idempotency key ({error})"))
    }

    /// A request failed in a way that may pass: retry with back-off, and answer the caller once
    /// it has waited long enough.
    fn on_transient(&mut self, error: &BackendError) {
        if matches!(self.rec.phase, Phase::Create | Phase::CreateRefund)
            && matches!(error, BackendError::NoAnswer | BackendError::Server { .. })
        {
            self.rec.create_unanswered = true;
        }
        if let Some((since, attempts)) = self.earlier_failures.take() {
            self.rec.failing_since_ms = Some(since);
            self.rec.attempts = attempts;
        }
        self.rec.attempts = self.rec.attempts.saturating_add(1);
        let since = *self.rec.failing_since_ms.get_or_insert(self.now);
        if !self.rec.answered && self.now.saturating_sub(since) >= self.policy.answer_unknown_after_ms {
            self.answer_while_unreachable();
        }
        let backoff = Backoff::new(
            Duration::from_millis(self.policy.retry_base_ms),
            Duration::from_millis(self.policy.retry_max_ms),
        )
        .delay(self.rec.attempts);
        let backoff = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
        let delay = if matches!(self.rec.phase, Phase::Poll | Phase::PollRefund) {
            backoff.max(u64::from(self.rec.last_poll_delay_ms))
        } else {
            backoff
        };
        self.push(Action::Persist { durable: false });
        self.push(Action::Sleep(delay));
    }

    /// The backend has been unreachable for too long: give the caller the truth as far as it is
    /// known, persist what happens next, and let the flow go on in the background.
    fn answer_while_unreachable(&mut self) {
        let outcome = match self.rec.phase {
            // The customer approved and the decision to capture is stored: the sale stands.
            Phase::Capture if self.rec.kind() != super::api::CommandKind::Cancel => Outcome::CapturePending {
                payment_id: self.payment_id(),
                amount: match self.rec.decision {
                    Some(Decision::Capture(a)) => a,
                    _ => self.rec.payment_amount().unwrap_or_default(),
                },
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
            },
            // A reserved refund is paid out by MobilePay after 24 h even without our capture.
            Phase::ConfirmRefund => Outcome::Refunded {
                refund_id: self.rec.refund_id.clone().unwrap_or_default(),
                payment_id: self.payment_id(),
                amount: self.refund_amount(),
                currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
            },
            _ => {
                // The cashier hears "unknown" and will not hand over goods (or will settle the
                // refund another way), so whatever turns up later is cancelled, never charged.
                if matches!(
                    self.rec.kind(),
                    super::api::CommandKind::Pay
                        | super::api::CommandKind::Prepare
                        | super::api::CommandKind::Ready
                        | super::api::CommandKind::Refund
                ) {
                    self.rec.decision = Some(Decision::Cancel);
                }
                Outcome::Unknown {
                    payment_id: self.rec.payment_id.clone(),
                }
            }
        };
        if matches!(outcome, Outcome::Unknown { .. }) {
            self.push(Action::Emit(EventKind::OutcomeUnknown {
                payment_id: self.rec.payment_id.clone(),
            }));
        }
        self.rec.outcome = Some(outcome.clone());
        self.rec.answered = true;
        self.push(Action::Persist { durable: true });
        self.push(Action::Answer(outcome));
    }

    fn on_cancel(&mut self) {
        if self.rec.phase == Phase::Done {
            return;
        }
        self.rec.cancel_requested = true;
        self.push(Action::Persist { durable: true });
        match self.rec.phase.clone() {
            Phase::SetTerms | Phase::Poll => self.goto(Phase::CancelPayment),
            Phase::PollRefund => self.goto(Phase::CancelRefund),
            Phase::ClearStale { .. } | Phase::CheckOrder(_) => {
                self.declined(DeclineReason::CancelledByCashier)
            }
            Phase::FindRefundPayment => self.finish(Outcome::RefundCancelled {
                refund_id: None,
                reason: RefundCancelReason::CancelledByCashier,
            }),
            // Nothing to interrupt: a cancel command cannot itself be cancelled.
            Phase::AwaitTarget => {}
            // Create: finish creating (the key makes it safe), then cancel what was created.
            // Capture: too late, the capture goes on. Cancel phases: already cancelling.
            _ => self.issue(),
        }
    }

    fn on_target_finished(&mut self, outcome: Outcome) {
        if self.rec.phase != Phase::AwaitTarget {
            return;
        }
        match outcome {
            Outcome::Declined { .. }
            | Outcome::RefundCancelled { .. }
            | Outcome::Cancelled { .. }
            | Outcome::Rejected { .. } => self.cancelled(),
            Outcome::Reserved { payment_id, .. } | Outcome::Paired { payment_id, .. } => {
                self.rec.payment_id = Some(payment_id);
                self.rec.decision = Some(Decision::Cancel);
                self.push(Action::Persist { durable: true });
                self.goto(Phase::CancelPayment)
            }
            Outcome::Captured { .. }
            | Outcome::CapturePending { .. }
            | Outcome::PartialCaptureRefused { .. } => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the payment was approved before the cancel took effect".into(),
            }),
            Outcome::Refunded { .. } => self.finish(Outcome::Rejected {
                code: RejectCode::WrongState,
                message: "the refund was paid out before the cancel took effect".into(),
            }),
            Outcome::Unknown { payment_id } => self.finish(Outcome::Unknown { payment_id }),
            Outcome::NeedsHuman { payment_id, detail } => {
                self.finish(Outcome::NeedsHuman { payment_id, detail })
            }
        }
    }

    fn wants_cancel(&self) -> bool {
        self.rec.cancel_requested || self.rec.decision == Some(Decision::Cancel)
    }

    fn cancel_reason(&self) -> DeclineReason {
        if self.rec.cancel_requested {
            DeclineReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            DeclineReason::Abandoned
        } else {
            DeclineReason::CancelledElsewhere
        }
    }

    fn refund_cancel_reason(&self) -> RefundCancelReason {
        if self.rec.cancel_requested {
            RefundCancelReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            RefundCancelReason::Abandoned
        } else {
            RefundCancelReason::CancelledElsewhere
        }
    }

    /// Our cancel of the payment went through.
    fn cancelled(&mut self) {
        if self.rec.kind() == super::api::CommandKind::Cancel {
            let target = match &self.rec.command {
                Command::Cancel { target } => target.clone(),
                _ => self.rec.id.clone(),
            };
            self.finish(Outcome::Cancelled { target });
        } else {
            let reason = self.cancel_reason();
            self.declined(reason);
        }
    }

    fn captured(&mut self) {
        let amount = match self.rec.decision {
            Some(Decision::Capture(a)) => a,
            _ => self
                .rec
                .reserved
                .or(self.rec.payment_amount())
                .unwrap_or_default(),
        };
        self.finish(Outcome::Captured {
            payment_id: self.payment_id(),
            amount,
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        });
    }

    fn declined(&mut self, reason: DeclineReason) {
        self.finish(Outcome::Declined {
            payment_id: self.rec.payment_id.clone(),
            reason,
        });
    }

    fn refunded(&mut self) {
        self.finish(Outcome::Refunded {
            refund_id: self.rec.refund_id.clone().unwrap_or_default(),
            payment_id: self.payment_id(),
            amount: self.refund_amount(),
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        });
    }

    fn refund_amount(&self) -> Minor {
        match &self.rec.command {
            Command::Refund { amount, .. } => *amount,
            _ => Minor(0),
        }
    }

    fn partial_refused(&mut self, requested: Minor) {
        self.finish(Outcome::PartialCaptureRefused {
            payment_id: self.payment_id(),
            reserved: self.rec.reserved.unwrap_or_default(),
            requested,
        });
    }

    fn needs_human(&mut self, detail: &str) {
        self.finish(Outcome::NeedsHuman {
            payment_id: self.rec.payment_id.clone(),
            detail: detail.to_string(),
        });
    }

    fn reject_from(&mut self, error: &BackendError) {
        let (code, message) = reject_code(error);
        self.finish(Outcome::Rejected { code, message });
    }

    fn announce_checkin(&mut self, payment_id: &str, customer: CustomerInfo) {
        if !self.rec.announced.checked_in {
            self.rec.announced.checked_in = true;
            self.push(Action::Emit(EventKind::CustomerCheckedIn {
                payment_id: payment_id.to_string(),
                customer,
            }));
            self.push(Action::Persist { durable: false });
        }
    }

    fn announce_refund(&mut self, refund_id: Option<String>) {
        if !self.rec.announced.refund {
            self.rec.announced.refund = true;
            self.push(Action::Emit(EventKind::RefundInProgress {
                refund_id,
                amount: self.refund_amount(),
            }));
        }
    }

    /// Ends the flow: the outcome is stored durably, then told to the caller (or, when the
    /// caller already had an answer, announced as the resolution).
    fn finish(&mut self, outcome: Outcome) {
        if let Some(event) = progress_event(&outcome, self.rec.payment_id.clone()) {
            self.push(Action::Emit(event));
        }
        self.rec.phase = Phase::Done;
        let changed = self.rec.outcome.as_ref() != Some(&outcome);
        self.rec.outcome = Some(outcome.clone());
        self.push(Action::Persist { durable: true });
        if !self.rec.answered {
            self.rec.answered = true;
            self.push(Action::Answer(outcome));
        } else if changed {
            self.push(Action::Emit(EventKind::Resolved { outcome }));
        }
        self.push(Action::Stop);
    }
}

/// The event that tells watchers how a command ended (besides its `Finished` event).
fn progress_event(outcome: &Outcome, payment_id: Option<String>) -> Option<EventKind> {
    Some(match outcome {
        Outcome::Captured {
            payment_id, amount, ..
        } => EventKind::Captured {
            payment_id: payment_id.clone(),
            amount: *amount,
        },
        Outcome::Declined { payment_id, reason } => EventKind::Declined {
            payment_id: payment_id.clone(),
            reason: *reason,
        },
        Outcome::Cancelled { .. } => EventKind::Cancelled { payment_id },
        Outcome::Refunded {
            refund_id, amount, ..
        } => EventKind::Refunded {
            refund_id: refund_id.clone(),
            amount: *amount,
        },
        Outcome::NeedsHuman { payment_id, detail } => EventKind::NeedsHuman {
            payment_id: payment_id.clone(),
            detail: detail.clone(),
        },
        _ => return None,
    })
}

fn customer_of(p: &PaymentInfo) -> CustomerInfo {
    CustomerInfo {
        loyalty_ids: p.loyalty_ids.clone().unwrap_or_default(),
        customer_token: p.customer_token.clone(),
        customer_receipt_token: p.customer_receipt_token.clone(),
    }
}

/// The stable reject code for a definitive refusal.
pub fn reject_code(error: &BackendError) -> (RejectCode, String) {
    let code = match error {
        BackendError::Refused { reason, .. } => match reason {
            Refusal::InvalidAmount => RejectCode::InvalidAmount,
            Refusal::InvalidOrderId => RejectCode::InvalidOrderId,
            Refusal::InvalidRefundOrderId => RejectCode::InvalidRefundOrderId,
            Refusal::InvalidLabel => RejectCode::InvalidLabel,
            Refusal::UnknownPointOfSale => RejectCode::PointOfSaleNotFound,
            Refusal::StoreNotActivated => RejectCode::StoreNotActivated,
            Refusal::UnknownPayment => RejectCode::PaymentNotFound,
            Refusal::NotCaptured => RejectCode::PaymentNotCaptured,
            Refusal::CurrencyMismatch => RejectCode::CurrencyMismatch,
            Refusal::PaymentTooOld => RejectCode::PaymentTooOld,
            Refusal::AmountAboveRefundable => RejectCode::RefundTooHigh,
            Refusal::InsufficientBalance => RejectCode::InsufficientBalance,
            Refusal::AmountAboveReserved => RejectCode::CaptureExceedsReservation,
            Refusal::NotCheckedIn
            | Refusal::NotCapturable
            | Refusal::NotCancellable
            | Refusal::RefundStateChanged => RejectCode::WrongState,
            Refusal::PointOfSaleBusy
            | Refusal::PartialCaptureNotAllowed
            | Refusal::CapturedWithOtherAmount
            | Refusal::KeyReused
            | Refusal::StateConflict
            | Refusal::Invalid => RejectCode::InvalidRequest,
        },
        BackendError::NotFound => RejectCode::PaymentNotFound,
        BackendError::Forbidden { .. } | BackendError::Unauthorized => RejectCode::Forbidden,
        BackendError::Server { .. } | BackendError::NoAnswer => RejectCode::InvalidRequest,
    };
    (code, format!("MobilePay refused the request: {error}"))
}

#[cfg(test)]
mod tests;
