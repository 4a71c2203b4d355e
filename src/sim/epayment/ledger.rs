//! What the simulated ePayment API keeps: payments per sales unit (each a
//! [`payment`](super::payment) state machine), the automatic customers, and the
//! [`limits`](super::limits) on keys and rates. Synchronous and free of I/O; the HTTP handlers
//! call it under one lock with the virtual clock's time.
//!
//! Timers (expiry, the capture deadline, automatic customers) are applied before every call
//! ([`Ledger::tick`]), which nobody observing the API can tell from running them in the
//! background.

use super::callback::CallbackQrs;
use super::limits::{Keys, Rates};
use super::payment::{
    apply_timers, check_currency, customer_step, next_due, AutoStep, CustomerAction, Payment, DAY,
    PAYMENT_LIFETIME,
};
use super::problem::EpError;
use super::validate::{NewPayment, Target};
use crate::backends::epayment::model::{
    Amount, CreatePaymentResponse, EventName, GetPaymentResponse, ModificationResponse, PaymentEvent,
    QrImageFormat, State, UserFlow,
};
use crate::sim::clock::Millis;
use crate::sim::fixtures::EpaymentFixtures;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Refunds are possible for 365 days after the authorization.
pub const REFUND_WINDOW: Millis = 365 * DAY;

/// An automatic customer: answers pushes to `phone_number` and, with `scans_qr`, scans every
/// QR payment, `delay_ms` after the payment was created (on the virtual clock).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Behaviour {
    pub phone_number: String,
    pub action: CustomerAction,
    #[serde(default)]
    pub delay_ms: u64,
    #[serde(default)]
    pub scans_qr: bool,
}

type PaymentId = (String, String);

/// The simulated ePayment backend of every sales unit.
pub struct Ledger {
    pub fixtures: EpaymentFixtures,
    payments: HashMap<PaymentId, Payment>,
    /// When each payment next needs its timers applied, earliest first.
    timers: BTreeSet<(Millis, PaymentId)>,
    pub keys: Keys,
    pub rates: Rates,
    pub behaviours: Vec<Behaviour>,
    pub callback_qrs: CallbackQrs,
}

impl Ledger {
    pub fn new(fixtures: EpaymentFixtures, key_retention: Millis) -> Ledger {
        Ledger {
            fixtures,
            payments: HashMap::new(),
            timers: BTreeSet::new(),
            keys: Keys::new(key_retention),
            rates: Rates::default(),
            behaviours: Vec::new(),
            callback_qrs: CallbackQrs::default(),
        }
    }

    /// Every payment, oldest first.
    pub fn payments(&self) -> Vec<&Payment> {
        let mut list: Vec<_> = self.payments.values().collect();
        list.sort_by(|a, b| (a.created_at, &a.reference).cmp(&(b.created_at, &b.reference)));
        list
    }

    fn payment_mut(&mut self, msn: &str, reference: &str) -> Result<&mut Payment, EpError> {
        self.payments
            .get_mut(&(msn.to_string(), reference.to_string()))
            .ok_or_else(|| EpError::not_found(reference))
    }

    pub fn payment(&self, msn: &str, reference: &str) -> Result<&Payment, EpError> {
        self.payments
            .get(&(msn.to_string(), reference.to_string()))
            .ok_or_else(|| EpError::not_found(reference))
    }

    /// The events logged since the last call, with their sales unit, for the webhooks.
    pub fn take_unpublished(&mut self) -> Vec<(String, PaymentEvent)> {
        let mut fresh = Vec::new();
        for p in self.payments.values_mut() {
            fresh.extend(p.events[p.published..].iter().map(|e| (p.msn.clone(), e.clone())));
            p.published = p.events.len();
        }
        fresh
    }

    /// Applies every timer due at `now`: automatic customers, expiry, the capture deadline.
    pub fn tick(&mut self, now: Millis) {
        while let Some((due, id)) = self.timers.first().cloned() {
            if due > now {
                break;
            }
            self.timers.remove(&(due, id.clone()));
            if let Some(p) = self.payments.get_mut(&id) {
                apply_timers(p, &self.fixtures, now);
            }
            self.schedule(&id);
        }
    }

    /// Notes when the payment next needs its timers applied. A timer whose reason has gone
    /// (the customer answered, everything was captured) fires without effect.
    fn schedule(&mut self, id: &PaymentId) {
        if let Some(due) = self.payments.get(id).and_then(next_due) {
            self.timers.insert((due, id.clone()));
        }
    }

    /// Creates a payment; `links` makes the `redirectUrl` and QR target from the token.
    pub fn create(
        &mut self,
        msn: &str,
        new: NewPayment,
        key: &str,
        links: impl FnOnce(&UserFlow, Option<&QrImageFormat>, &str) -> (Option<String>, Option<String>),
        now: Millis,
    ) -> Result<CreatePaymentResponse, EpError> {
        let id = (msn.to_string(), new.request.reference.clone());
        if self.payments.contains_key(&id) {
            return Err(EpError::code(
                StatusCode::CONFLICT,
                "4150",
                format!("Reference {} already exists", new.request.reference),
            ));
        }
        let token = uuid::Uuid::new_v4().simple().to_string();
        let flow = new.request.user_flow.clone();
        let (redirect_url, qr_target) = links(&flow, new.qr.as_ref().map(|q| &q.0), &token);
        let auto = self.automatic_customer(&flow, &new.target, now);
        let mut payment = Payment {
            msn: msn.to_string(),
            reference: new.request.reference.clone(),
            currency: new.request.amount.currency.clone(),
            amount: new.request.amount.value,
            user_flow: flow,
            target: new.target,
            state: State::Created,
            authorized: 0,
            cancelled: 0,
            captured: 0,
            refunded: 0,
            created_at: now,
            authorized_at: None,
            customer: None,
            approving: false,
            token,
            redirect_url: redirect_url.clone(),
            qr: new.qr,
            qr_target,
            metadata: new.request.metadata.clone(),
            receipt: new.request.receipt.clone(),
            events: Vec::new(),
            published: 0,
            auto,
        };
        let amount = payment.amount;
        payment.log(EventName::Created, amount, Some(key), now);
        self.payments.insert(id.clone(), payment);
        self.schedule(&id);
        Ok(CreatePaymentResponse {
            reference: new.request.reference,
            redirect_url,
        })
    }

    fn automatic_customer(&self, flow: &UserFlow, target: &Target, now: Millis) -> Option<AutoStep> {
        let behaviour = self.behaviours.iter().rev().find(|b| match target {
            Target::Phone(phone) => b.phone_number == *phone,
            Target::Anyone => b.scans_qr && *flow == UserFlow::Qr,
        })?;
        (behaviour.action != CustomerAction::Ignore).then(|| AutoStep {
            due: now + Millis::try_from(behaviour.delay_ms).unwrap_or(Millis::MAX / 4),
            action: behaviour.action,
            phone: behaviour.phone_number.clone(),
        })
    }

    pub fn capture(
        &mut self,
        msn: &str,
        reference: &str,
        amount: &Amount,
        key: &str,
        now: Millis,
    ) -> Result<ModificationResponse, EpError> {
        let p = self.payment_mut(msn, reference)?;
        check_currency(p, amount)?;
        if p.state != State::Authorized {
            return Err(EpError::bad("6080", "The payment is not authorized"));
        }
        if amount.value <= 0 {
            return Err(EpError::bad("4040", "modificationAmount.value must be positive"));
        }
        if p.capturable() == 0 && p.cancelled > 0 {
            return Err(EpError::bad("6070", "The payment is cancelled"));
        }
        if amount.value > p.capturable() {
            return Err(EpError::bad(
                "6090",
                "The amount is larger than what is left to capture",
            ));
        }
        p.captured += amount.value;
        let psp = p.log(EventName::Captured, amount.value, Some(key), now);
        Ok(p.modification(psp))
    }

    pub fn refund(
        &mut self,
        msn: &str,
        reference: &str,
        amount: &Amount,
        key: &str,
        now: Millis,
    ) -> Result<ModificationResponse, EpError> {
        let p = self.payment_mut(msn, reference)?;
        check_currency(p, amount)?;
        let Some(authorized_at) = p.authorized_at.filter(|_| p.state == State::Authorized) else {
            return Err(EpError::bad("6020", "The payment was never authorized"));
        };
        if amount.value <= 0 {
            return Err(EpError::bad("4040", "modificationAmount.value must be positive"));
        }
        if now > authorized_at + REFUND_WINDOW {
            return Err(EpError::bad("6220", "The refund period has expired"));
        }
        if amount.value > p.captured - p.refunded {
            return Err(EpError::bad(
                "6150",
                "The amount is larger than what is captured and not refunded",
            ));
        }
        p.refunded += amount.value;
        let psp = p.log(EventName::Refunded, amount.value, Some(key), now);
        Ok(p.modification(psp))
    }

    pub fn cancel(
        &mut self,
        msn: &str,
        reference: &str,
        transaction_only: bool,
        now: Millis,
    ) -> Result<ModificationResponse, EpError> {
        let p = self.payment_mut(msn, reference)?;
        match p.state {
            State::Created if p.approving => Err(EpError::code(
                StatusCode::LOCKED,
                "6250",
                "Cannot cancel a payment the customer is approving",
            )),
            State::Created => {
                p.state = State::Terminated;
                p.cancelled = p.amount;
                p.auto = None;
                let amount = p.amount;
                let psp = p.log(EventName::Terminated, amount, None, now);
                Ok(p.modification(psp))
            }
            State::Authorized if transaction_only => Err(EpError::bad(
                "6060",
                "cancelTransactionOnly: the payment is already authorized",
            )),
            State::Authorized if p.captured == p.authorized => {
                Err(EpError::bad("6040", "The payment is fully captured"))
            }
            State::Authorized if p.capturable() > 0 => {
                let rest = p.capturable();
                p.cancelled += rest;
                let psp = p.log(EventName::Cancelled, rest, None, now);
                Ok(p.modification(psp))
            }
            // Already released or ended without money: nothing to do, answered as it is.
            _ => {
                let psp = p
                    .events
                    .last()
                    .map(|e| e.psp_reference.clone())
                    .unwrap_or_default();
                Ok(p.modification(psp))
            }
        }
    }

    /// A customer step through the control API or the test API's force-approve.
    pub fn customer(
        &mut self,
        msn: &str,
        reference: &str,
        step: Step,
        phone: Option<&str>,
        now: Millis,
    ) -> Result<GetPaymentResponse, EpError> {
        let fixtures = self.fixtures.clone();
        let p = self.payment_mut(msn, reference)?;
        if p.state != State::Created {
            let code = if p.state == State::Authorized {
                "6230"
            } else {
                "6080"
            };
            return Err(EpError::bad(code, format!("The payment is {}", p.state)));
        }
        let phone = match (&p.target, phone) {
            (Target::Phone(target), Some(given)) if target != given => {
                return Err(EpError::bad("7010", "The payment was sent to another customer"))
            }
            (Target::Phone(target), _) => target.clone(),
            (Target::Anyone, Some(given)) => given.to_string(),
            // The customer who scanned the code answers it.
            (Target::Anyone, None) if p.customer.is_some() => p.customer.clone().unwrap_or_default(),
            (Target::Anyone, None) => {
                return Err(EpError::field(
                    "customer.phoneNumber",
                    "A customer phone number is needed for a payment not pushed to one",
                ))
            }
        };
        if fixtures.user_by_phone(&phone).is_none() {
            return Err(EpError::bad("7010", "Customer not found"));
        }
        match step {
            Step::Open => {
                p.approving = true;
                p.customer = Some(phone);
            }
            Step::Approve => customer_step(p, &fixtures, CustomerAction::Approve, &phone, now)?,
            Step::Abort => customer_step(p, &fixtures, CustomerAction::Abort, &phone, now)?,
        }
        let view = p.view();
        self.schedule(&(msn.to_string(), reference.to_string()));
        Ok(view)
    }

    /// The QR code behind an image token, while its payment can still be paid.
    pub fn qr_image(&self, token: &str, now: Millis) -> Option<(QrImageFormat, u32, String)> {
        let p = self.payments.values().find(|p| p.token == token)?;
        let live = p.state == State::Created && now < p.created_at + PAYMENT_LIFETIME;
        let (format, size) = p.qr.clone()?;
        live.then(|| (format, size, p.qr_target.clone().unwrap_or_default()))
    }
}

/// A step a customer takes in the app.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opens the payment (after the push or the scan) and is approving it.
    Open,
    Approve,
    Abort,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::epayment::model::Currency;
    use crate::sim::epayment::payment::{timestamp_millis, CAPTURE_DEADLINE};
    use crate::sim::epayment::validate::create_request;
    use serde_json::json;

    const T0: Millis = 1_700_000_000_000;

    fn ledger_with_payment(value: i64) -> Ledger {
        let fixtures = EpaymentFixtures::default();
        let mut ledger = Ledger::new(fixtures.clone(), DAY);
        let body = json!({
            "amount": {"currency": "DKK", "value": value},
            "paymentMethod": {"type": "WALLET"},
            "reference": "ref-00000001",
            "userFlow": "PUSH_MESSAGE",
            "customer": {"phoneNumber": fixtures.users[0].phone_number}
        });
        let new = create_request(&body, &fixtures.sales_units[0], &fixtures, &|_| None).unwrap();
        ledger
            .create("123456", new, "k1", |_, _, _| (None, None), T0)
            .unwrap();
        ledger
    }

    #[test]
    fn every_event_is_handed_to_the_webhooks_once() {
        let mut ledger = ledger_with_payment(1000);
        let names = |fresh: Vec<(String, PaymentEvent)>| {
            fresh
                .into_iter()
                .map(|(msn, e)| (msn, e.name))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(ledger.take_unpublished()),
            [("123456".to_string(), EventName::Created)]
        );
        assert!(ledger.take_unpublished().is_empty());
        ledger.tick(T0 + PAYMENT_LIFETIME);
        assert_eq!(
            names(ledger.take_unpublished()),
            [("123456".to_string(), EventName::Expired)]
        );
    }

    #[test]
    fn money_invariants_hold_through_capture_deadline_and_refunds() {
        let mut ledger = ledger_with_payment(1000);
        let phone = ledger.fixtures.users[0].phone_number.clone();
        ledger
            .customer("123456", "ref-00000001", Step::Approve, Some(&phone), T0 + 1000)
            .unwrap();
        let dkk = |value| Amount {
            currency: Currency::Dkk,
            value,
        };
        ledger
            .capture("123456", "ref-00000001", &dkk(300), "c1", T0 + 2000)
            .unwrap();
        ledger.tick(T0 + 1000 + CAPTURE_DEADLINE);
        let p = ledger.payment("123456", "ref-00000001").unwrap();
        assert_eq!((p.authorized, p.captured, p.cancelled), (1000, 300, 700));
        assert_eq!(p.state, State::Authorized);
        ledger
            .refund("123456", "ref-00000001", &dkk(300), "r1", T0 + 3000)
            .unwrap();
        let err = ledger
            .refund("123456", "ref-00000001", &dkk(1), "r2", T0 + 4000)
            .unwrap_err();
        assert_eq!(err.error_code(), Some("6150"));
    }

    #[test]
    fn an_automatic_customer_answers_once_at_its_moment() {
        let mut ledger = ledger_with_payment(100);
        let phone = ledger.fixtures.users[0].phone_number.clone();
        ledger.behaviours.push(Behaviour {
            phone_number: phone,
            action: CustomerAction::Approve,
            delay_ms: 60_000,
            scans_qr: false,
        });
        let fixtures = ledger.fixtures.clone();
        let body = json!({
            "amount": {"currency": "DKK", "value": 100},
            "paymentMethod": {"type": "WALLET"},
            "reference": "ref-00000002",
            "userFlow": "PUSH_MESSAGE",
            "customer": {"phoneNumber": fixtures.users[0].phone_number}
        });
        let new = create_request(&body, &fixtures.sales_units[0], &fixtures, &|_| None).unwrap();
        ledger
            .create("123456", new, "k2", |_, _, _| (None, None), T0)
            .unwrap();
        ledger.tick(T0 + 59_999);
        let p = ledger.payment("123456", "ref-00000002").unwrap();
        assert_eq!(p.state, State::Created);
        ledger.tick(T0 + 2 * PAYMENT_LIFETIME);
        let p = ledger.payment("123456", "ref-00000002").unwrap();
        assert_eq!(p.state, State::Authorized);
        assert_eq!(p.authorized_at, Some(T0 + 60_000));
        // The payment without a customer behaviour expired meanwhile.
        let first = ledger.payment("123456", "ref-00000001").unwrap();
        assert_eq!(first.state, State::Expired);
    }

    #[test]
    fn an_expired_payment_records_when_it_expired() {
        let mut ledger = ledger_with_payment(100);
        ledger.tick(T0 + 3 * PAYMENT_LIFETIME);
        let p = ledger.payment("123456", "ref-00000001").unwrap();
        assert_eq!(p.state, State::Expired);
        assert_eq!(p.events[1].timestamp, timestamp_millis(T0 + PAYMENT_LIFETIME));
        assert_eq!(p.events[0].timestamp.len(), "2023-11-14T22:13:20.0000000Z".len());
    }
}
