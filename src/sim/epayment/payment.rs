//! One payment's state machine: its money, its event log, the customer's answer and the
//! timers that end it, free of I/O.

use super::problem::EpError;
use super::validate::Target;
use crate::backends::epayment::model::{
    Aggregate, Amount, Currency, EventName, GetPaymentResponse, ModificationResponse, PaymentEvent,
    PaymentMethodResponse, PaymentMethodType, ProfileResponse, QrImageFormat, State, UserFlow,
};
use crate::sim::clock::Millis;
use crate::sim::fixtures::EpaymentFixtures;
use chrono::{SecondsFormat, TimeZone, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub(super) const MINUTE: Millis = 60_000;
pub(super) const DAY: Millis = 24 * 60 * MINUTE;
/// A payment nobody answers expires (and its QR image disappears) after 10 minutes.
pub const PAYMENT_LIFETIME: Millis = 10 * MINUTE;
/// Danish and Finnish sales units must capture within 14 days; the rest is then cancelled.
pub const CAPTURE_DEADLINE: Millis = 14 * DAY;

/// What an automatic or scripted customer does with a payment offered to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CustomerAction {
    Approve,
    Abort,
    /// Never answers: the payment expires.
    Ignore,
}

/// The next step of an automatic customer.
#[derive(Clone, Debug)]
pub(super) struct AutoStep {
    pub(super) due: Millis,
    pub(super) action: CustomerAction,
    pub(super) phone: String,
}

/// One payment as the simulated backend keeps it.
#[derive(Clone, Debug)]
pub struct Payment {
    pub msn: String,
    pub reference: String,
    pub currency: Currency,
    pub amount: i64,
    pub user_flow: UserFlow,
    pub target: Target,
    pub state: State,
    pub authorized: i64,
    pub cancelled: i64,
    pub captured: i64,
    pub refunded: i64,
    pub created_at: Millis,
    pub authorized_at: Option<Millis>,
    /// The customer who paid (or is paying).
    pub customer: Option<String>,
    /// The customer has the payment open in the app, approving it: it cannot be cancelled.
    pub approving: bool,
    pub token: String,
    pub redirect_url: Option<String>,
    pub qr: Option<(QrImageFormat, u32)>,
    /// What the QR code encodes (for `QR` payments).
    pub qr_target: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    /// The receipt the app shows, as the till sent it.
    pub receipt: Option<serde_json::Value>,
    pub events: Vec<PaymentEvent>,
    pub(super) auto: Option<AutoStep>,
    /// How many of `events` have been handed to the webhooks.
    pub(super) published: usize,
}

impl Payment {
    fn amount_of(&self, value: i64) -> Amount {
        Amount {
            currency: self.currency.clone(),
            value,
        }
    }

    fn aggregate(&self) -> Aggregate {
        Aggregate {
            authorized_amount: self.amount_of(self.authorized),
            cancelled_amount: self.amount_of(self.cancelled),
            captured_amount: self.amount_of(self.captured),
            refunded_amount: self.amount_of(self.refunded),
        }
    }

    /// Authorized money neither captured nor released.
    pub fn capturable(&self) -> i64 {
        self.authorized - self.captured - self.cancelled
    }

    pub(super) fn log(&mut self, name: EventName, value: i64, key: Option<&str>, at: Millis) -> String {
        let (psp_reference, timestamp) = if name == EventName::Created {
            (uuid::Uuid::new_v4().to_string(), timestamp_ticks(at))
        } else {
            let n: u64 = rand::thread_rng().gen_range(1_000_000_000..10_000_000_000);
            (n.to_string(), timestamp_millis(at))
        };
        self.events.push(PaymentEvent {
            reference: self.reference.clone(),
            psp_reference: psp_reference.clone(),
            name,
            amount: self.amount_of(value),
            timestamp,
            idempotency_key: key.map(str::to_string),
            success: true,
        });
        psp_reference
    }

    pub fn view(&self) -> GetPaymentResponse {
        GetPaymentResponse {
            aggregate: self.aggregate(),
            amount: self.amount_of(self.amount),
            state: self.state.clone(),
            payment_method: PaymentMethodResponse {
                kind: PaymentMethodType::Wallet,
                card_bin: None,
            },
            profile: ProfileResponse::default(),
            psp_reference: self
                .events
                .first()
                .map(|e| e.psp_reference.clone())
                .unwrap_or_default(),
            reference: self.reference.clone(),
            redirect_url: self.redirect_url.clone(),
            metadata: self.metadata.clone(),
            user_details: None,
            capture_guaranteed_until: None,
        }
    }

    pub(super) fn modification(&self, psp_reference: String) -> ModificationResponse {
        ModificationResponse {
            amount: self.amount_of(self.amount),
            state: self.state.clone(),
            aggregate: self.aggregate(),
            psp_reference,
            reference: self.reference.clone(),
        }
    }
}

/// Seven fractional digits, as the API writes the `CREATED` event.
fn timestamp_ticks(ms: Millis) -> String {
    let at = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    format!(
        "{}.{:07}Z",
        at.format("%Y-%m-%dT%H:%M:%S"),
        at.timestamp_subsec_nanos() / 100
    )
}

pub(super) fn timestamp_millis(ms: Millis) -> String {
    let at = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// When the payment's next timer falls due: the automatic customer or expiry while it is
/// `CREATED`, the capture deadline while authorized money is left.
pub(super) fn next_due(p: &Payment) -> Option<Millis> {
    let expiry = p.created_at + PAYMENT_LIFETIME;
    match p.state {
        State::Created => Some(p.auto.as_ref().map_or(expiry, |a| a.due.min(expiry))),
        State::Authorized if p.capturable() > 0 => p.authorized_at.map(|at| at + CAPTURE_DEADLINE),
        _ => None,
    }
}

/// Applies the payment's timers due at `now`, each at the moment it fell due.
pub(super) fn apply_timers(p: &mut Payment, fixtures: &EpaymentFixtures, now: Millis) {
    let expiry = p.created_at + PAYMENT_LIFETIME;
    if p.state == State::Created {
        let auto_due = p
            .auto
            .as_ref()
            .map(|a| a.due)
            .filter(|d| *d < expiry && *d <= now);
        if let Some(due) = auto_due {
            // Taken before it runs, so that it runs once. It cannot fail on a CREATED payment
            // (the customer was checked when the behaviour was added).
            if let Some(step) = p.auto.take() {
                let _ = customer_step(p, fixtures, step.action, &step.phone, due);
            }
        } else if expiry <= now {
            p.state = State::Expired;
            p.approving = false;
            p.auto = None;
            let amount = p.amount;
            p.log(EventName::Expired, amount, None, expiry);
        }
    }
    if let Some(at) = p.authorized_at {
        let deadline = at + CAPTURE_DEADLINE;
        let rest = p.capturable();
        if p.state == State::Authorized && rest > 0 && deadline <= now {
            p.cancelled += rest;
            p.log(EventName::Cancelled, rest, None, deadline);
        }
    }
}

pub(super) fn check_currency(p: &Payment, amount: &Amount) -> Result<(), EpError> {
    if amount.currency != p.currency {
        return Err(EpError::bad(
            "5040",
            format!("The payment is in {}, not {}", p.currency, amount.currency),
        ));
    }
    Ok(())
}

pub(super) fn customer_step(
    p: &mut Payment,
    fixtures: &EpaymentFixtures,
    action: CustomerAction,
    phone: &str,
    now: Millis,
) -> Result<(), EpError> {
    if fixtures.user_by_phone(phone).is_none() {
        return Err(EpError::bad("7010", "Customer not found"));
    }
    p.approving = false;
    p.auto = None;
    p.customer = Some(phone.to_string());
    let amount = p.amount;
    match action {
        CustomerAction::Approve => {
            p.state = State::Authorized;
            p.authorized = amount;
            p.authorized_at = Some(now);
            p.log(EventName::Authorized, amount, None, now);
        }
        CustomerAction::Abort => {
            p.state = State::Aborted;
            p.log(EventName::Aborted, amount, None, now);
        }
        CustomerAction::Ignore => {}
    }
    Ok(())
}
