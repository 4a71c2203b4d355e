//! Sign-ups: create an agreement, show it to the customer, follow it until the customer
//! accepts, rejects or runs out of time, capture its first payment, and refund that payment;
//! cancel an agreement on the cashier's request.
//!
//! Where the backend has no idempotency key and no duplicate check
//! ([`AgreementReplay::FindByReference`], MobilePay Subscriptions v1), a create repeated after a
//! lost answer would make a second agreement (or a second refund). So before every create the
//! record says, durably, that a create may be on its way (`create_unanswered`); a flow that
//! finds it set (after a lost answer, or a restart) first looks for what that request made,
//! by the reference it carried, and creates again only when nothing was made
//! (docs/engine.md, "Agreements").

use super::{Action, ApiCall, Flow};
use crate::engine::agreements::{
    AgreementInfo, AgreementReplay, AgreementState, CreatedAgreement, FirstPayment, FirstPaymentState,
    NewAgreement, NewAgreementRefund,
};
use crate::engine::api::{AgreementEndReason, Command, CommandKind, EventKind, Outcome};
use crate::engine::backend::BackendError;
use crate::engine::record::{Decision, Phase};

/// How long after the customer's time at the counter a pending agreement is cancelled: the
/// backend lets it expire itself (its expiry is the counter time, in whole minutes); this is
/// for a backend whose clock or timer lags, so an agreement is never accepted after the
/// cashier has given up.
pub const EXPIRY_GRACE_MS: u64 = 90_000;

/// Fastest read of an agreement, whatever the backend allows.
const POLL_MIN_MS: u64 = 1000;

/// Captures and cancels refused because of the agreement's state, after which it is read and
/// the change decided again; past them, a person looks at it.
const REFUSALS_RETRIED: u32 = 5;

impl Flow<'_> {
    /// The request of an agreement phase, or `None` when the phase moved on without one.
    pub(super) fn agreement_call(&mut self) -> Option<ApiCall> {
        let find_first =
            self.rec.create_unanswered && self.agreement_replay() == Some(AgreementReplay::FindByReference);
        match self.rec.phase {
            Phase::CreateAgreement if find_first => {
                self.goto(Phase::FindAgreement);
                None
            }
            Phase::CreateAgreement => match self.new_agreement() {
                Some(agreement) => {
                    self.create_may_be_sent();
                    Some(ApiCall::CreateAgreement { agreement })
                }
                None => {
                    self.needs_human("an agreement phase on a command that is not a sign-up");
                    None
                }
            },
            Phase::FindAgreement => Some(ApiCall::FindAgreement {
                reference: self.key(),
            }),
            Phase::PollAgreement => Some(ApiCall::GetAgreement {
                agreement_id: self.agreement_id(),
            }),
            Phase::CaptureFirstPayment => Some(ApiCall::CaptureFirstPayment {
                agreement_id: self.agreement_id(),
                payment_id: self.payment_id(),
            }),
            Phase::CancelAgreement => Some(ApiCall::CancelAgreement {
                agreement_id: self.agreement_id(),
            }),
            Phase::CreateAgreementRefund if find_first => {
                self.goto(Phase::FindAgreementRefund);
                None
            }
            Phase::CreateAgreementRefund => match self.new_agreement_refund() {
                Some(refund) => {
                    self.create_may_be_sent();
                    Some(ApiCall::RefundAgreementPayment { refund })
                }
                None => {
                    self.needs_human("an agreement refund phase on a command that is not a refund");
                    None
                }
            },
            Phase::FindAgreementRefund => Some(ApiCall::FindAgreementRefund {
                agreement_id: self.agreement_id(),
                payment_id: self.payment_id(),
                reference: self.key(),
            }),
            _ => None,
        }
    }

    /// A create is about to be sent: that it may have reached the backend is durable before
    /// it leaves, so no crash can make the flow forget to look for what it made.
    fn create_may_be_sent(&mut self) {
        if !self.rec.create_unanswered {
            self.rec.create_unanswered = true;
            self.push(Action::Persist { durable: true });
        }
    }

    fn agreement_replay(&self) -> Option<AgreementReplay> {
        self.policy.agreements.map(|r| r.create_replay)
    }

    fn agreement_id(&self) -> String {
        self.rec.agreement_id.clone().unwrap_or_default()
    }

    /// The agreement this command makes; the same record always gives the same request.
    fn new_agreement(&self) -> Option<NewAgreement> {
        let Command::SignUp {
            plan,
            description,
            price,
            currency,
            payments_per_year,
            phone,
            first_payment,
            counter_wait_s,
            ..
        } = &self.rec.command
        else {
            return None;
        };
        Some(NewAgreement {
            reference: self.key(),
            plan: plan.clone(),
            description: description.clone(),
            price: *price,
            currency: *currency,
            payments_per_year: *payments_per_year,
            phone: phone.clone(),
            first_payment: first_payment.map(|amount| FirstPayment {
                amount,
                description: plan.clone(),
            }),
            expires_after_minutes: counter_wait_s.div_ceil(60).max(1),
        })
    }

    fn new_agreement_refund(&self) -> Option<NewAgreementRefund> {
        let Command::Refund { amount, currency, .. } = &self.rec.command else {
            return None;
        };
        Some(NewAgreementRefund {
            agreement_id: self.agreement_id(),
            payment_id: self.payment_id(),
            amount: *amount,
            currency: *currency,
            reference: self.key(),
        })
    }

    /// The agreement exists (created now, or found after a lost answer). Its id and link are
    /// durable before anything shows the link.
    pub(super) fn agreement_created(&mut self, created: CreatedAgreement) {
        self.rec.create_unanswered = false;
        self.rec.agreement_id = Some(created.agreement_id.clone());
        self.rec.customer_link = Some(created.link.clone());
        self.rec.payment_id = created.first_payment_id;
        self.push(Action::Persist { durable: true });
        if self.wants_cancel() {
            return self.goto(Phase::CancelAgreement);
        }
        if !self.rec.announced.waiting {
            self.rec.announced.waiting = true;
            if let Command::SignUp {
                plan,
                price,
                currency,
                payments_per_year,
                first_payment,
                ..
            } = &self.rec.command
            {
                self.push(Action::Emit(EventKind::AgreementPending {
                    agreement_id: created.agreement_id,
                    link: created.link,
                    plan: plan.clone(),
                    price: *price,
                    payments_per_year: *payments_per_year,
                    first_payment: *first_payment,
                    currency: *currency,
                    expires_at_ms: self.rec.counter_until_ms(),
                }));
            }
        }
        self.rec.phase = Phase::PollAgreement;
        let delay = self.agreement_poll_delay();
        self.poll_again(delay);
    }

    /// The look-up after a lost create found nothing: the create never reached the backend.
    pub(super) fn agreement_not_found(&mut self) {
        let next = match self.rec.phase {
            Phase::FindAgreementRefund => Phase::CreateAgreementRefund,
            _ => Phase::CreateAgreement,
        };
        // The next create sets the mark again, durably, before it leaves.
        self.rec.create_unanswered = false;
        self.rec.phase = next;
        if let Some(call) = self.agreement_call() {
            self.push(Action::Call(call));
        }
    }

    /// An agreement's state, read by the command that made it (or a cancel of it).
    pub(super) fn on_agreement(&mut self, info: AgreementInfo) {
        if self.rec.kind() == CommandKind::Cancel {
            return self.cancel_target_agreement(info);
        }
        match info.state {
            AgreementState::Pending => {
                let too_late = self.now >= self.rec.counter_until_ms().saturating_add(EXPIRY_GRACE_MS);
                if self.wants_cancel() || too_late {
                    return self.goto(Phase::CancelAgreement);
                }
                let delay = self.agreement_poll_delay();
                self.poll_again(delay);
            }
            AgreementState::Active => self.on_active(info),
            AgreementState::Rejected => self.agreement_ended(AgreementEndReason::RejectedByCustomer),
            AgreementState::Expired => self.agreement_ended(AgreementEndReason::Expired),
            AgreementState::Cancelled => {
                let reason = self.agreement_cancel_reason();
                self.agreement_ended(reason)
            }
            AgreementState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    /// The customer accepted: capture the first payment (the decision is durable first), or,
    /// without one, the customer is signed up.
    fn on_active(&mut self, info: AgreementInfo) {
        if !self.rec.announced.reserved {
            self.rec.announced.reserved = true;
            self.push(Action::Emit(EventKind::AgreementAccepted {
                agreement_id: info.agreement_id.clone(),
            }));
        }
        let expects_payment = matches!(
            self.rec.command,
            Command::SignUp {
                first_payment: Some(_),
                ..
            }
        );
        let Some(payment) = info.first_payment.filter(|_| expects_payment) else {
            if expects_payment {
                // Not reported with the agreement yet: ask again.
                return self.on_transient(&BackendError::NoAnswer);
            }
            if self.rec.decision == Some(Decision::Cancel) && !self.rec.cancel_requested {
                return self.goto(Phase::CancelAgreement);
            }
            return self.signed_up();
        };
        self.rec.payment_id = Some(payment.payment_id.clone());
        match payment.state {
            FirstPaymentState::Reserved if self.wants_cancel() => self.goto(Phase::CancelAgreement),
            FirstPaymentState::Reserved => {
                self.rec.reserved = Some(payment.amount);
                self.rec.decision = Some(Decision::Capture(payment.amount));
                self.push(Action::Persist { durable: true });
                self.goto(Phase::CaptureFirstPayment)
            }
            FirstPaymentState::Captured if self.rec.decision == Some(Decision::Cancel) => {
                self.needs_human(&format!(
                    "the first payment of agreement {} was captured although the sign-up was to be \
                 cancelled: check the agreement in the MobilePay portal, and refund the payment",
                    info.agreement_id
                ))
            }
            FirstPaymentState::Captured => self.signed_up(),
            FirstPaymentState::Pending => {
                let delay = self.agreement_poll_delay();
                self.poll_again(delay);
            }
            FirstPaymentState::Rejected | FirstPaymentState::Expired | FirstPaymentState::Cancelled => self
                .needs_human(&format!(
                    "the customer accepted agreement {} but its first payment is {:?}: the \
                     agreement stands without it; take the payment another way or cancel the \
                     agreement",
                    info.agreement_id, payment.state
                )),
            FirstPaymentState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
        }
    }

    /// A cancel command reads the agreement after its cancel was refused.
    fn cancel_target_agreement(&mut self, info: AgreementInfo) {
        match info.state {
            AgreementState::Cancelled | AgreementState::Rejected | AgreementState::Expired => {
                self.cancelled()
            }
            AgreementState::Unrecognised(_) => self.on_transient(&BackendError::NoAnswer),
            _ if self.rec.refused_changes <= REFUSALS_RETRIED => self.goto(Phase::CancelAgreement),
            state => self.needs_human(&format!(
                "the agreement stays {state:?} although it was cancelled"
            )),
        }
    }

    /// The backend refused a capture or cancel of the agreement: read it and decide again (the
    /// capture may have gone through before a lost answer), a few times at most.
    pub(super) fn agreement_change_refused(&mut self, error: &BackendError) {
        if matches!(error, BackendError::NotFound) {
            return self.needs_human("the agreement is unknown to MobilePay");
        }
        if error.refusal().is_some() && self.rec.refused_changes <= REFUSALS_RETRIED {
            return self.goto(Phase::PollAgreement);
        }
        self.needs_human(&format!("the agreement could not be changed: {error}"))
    }

    /// Our cancel of the agreement went through.
    pub(super) fn agreement_cancelled(&mut self) {
        if self.rec.kind() == CommandKind::Cancel {
            self.cancelled()
        } else {
            let reason = self.agreement_cancel_reason();
            self.agreement_ended(reason)
        }
    }

    /// The refund is accepted by the backend.
    pub(super) fn agreement_refunded(&mut self, refund_id: String) {
        self.rec.create_unanswered = false;
        self.rec.refund_id = Some(refund_id.clone());
        let amount = self.refund_amount();
        self.finish(Outcome::Refunded {
            refund_id,
            payment_id: self.payment_id(),
            amount,
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        })
    }

    pub(super) fn signed_up(&mut self) {
        let first_payment = match &self.rec.command {
            Command::SignUp { first_payment, .. } => *first_payment,
            _ => None,
        };
        self.finish(Outcome::SignedUp {
            agreement_id: self.agreement_id(),
            first_payment_id: self.rec.payment_id.clone().filter(|_| first_payment.is_some()),
            first_payment,
            currency: self.rec.currency.unwrap_or(crate::money::Currency::DKK),
        })
    }

    /// A definitive refusal of a look-up by reference: whether the lost request made
    /// something cannot be told, so nothing is created again.
    pub(super) fn lookup_failed(&mut self, error: &BackendError) {
        self.needs_human(&format!(
            "a request whose answer was lost may have made an agreement or refund, and looking for \
             it failed ({error}): check the agreement in the MobilePay portal before repeating it"
        ))
    }

    fn agreement_ended(&mut self, reason: AgreementEndReason) {
        self.finish(Outcome::AgreementEnded {
            agreement_id: self.rec.agreement_id.clone(),
            reason,
        })
    }

    /// Why the agreement was cancelled: by the cashier, by us after an answer of "unknown", by
    /// us because the customer's time at the counter ran out, or by someone else.
    fn agreement_cancel_reason(&self) -> AgreementEndReason {
        if self.rec.cancel_requested {
            AgreementEndReason::CancelledByCashier
        } else if self.rec.decision == Some(Decision::Cancel) {
            AgreementEndReason::Abandoned
        } else if self.now >= self.rec.counter_until_ms() {
            AgreementEndReason::Expired
        } else {
            AgreementEndReason::CancelledElsewhere
        }
    }

    fn agreement_poll_delay(&mut self) -> u64 {
        let per_minute = self.policy.agreements.map_or(10, |r| r.polls_per_minute.max(1));
        let delay = (60_000 / u64::from(per_minute)).max(POLL_MIN_MS);
        self.rec.last_poll_delay_ms = u32::try_from(delay).unwrap_or(u32::MAX);
        self.rec.last_poll_at_ms = self.now;
        delay
    }
}
