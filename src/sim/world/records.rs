//! The data the simulated MobilePay keeps (points of sale and their check-ins, payments,
//! refunds, automatic customers) and the validated requests that create it.
//!
//! Plain data without rules, kept apart from the rules in the sibling modules so that
//! [`World`](super::World) can hold it without depending on them. Fields only the rules read
//! are visible inside the world alone.

use crate::backends::pos_v10::model::{
    BeaconType, PaymentStatus, PlannedCaptureDelay, RefundStatus, Restrictions,
};
use crate::money::{Currency, Minor};
use crate::sim::clock::Millis;
use std::collections::BTreeSet;
use std::time::Duration;

/// Who is calling: the integrator (token's `client_id`) acting for a merchant (VAT).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Caller {
    pub client_id: String,
    pub vat: String,
}

#[derive(Clone, Debug)]
pub struct Pos {
    pub pos_id: String,
    pub client_id: String,
    pub vat: String,
    pub merchant_pos_id: String,
    pub store_id: String,
    pub name: String,
    pub beacon_id: String,
    pub callback_alias: Option<String>,
    pub supported_beacon_types: Vec<BeaconType>,
    pub require_payment_before_checkin: bool,
    pub deleted: bool,
    pub checkin: Option<Checkin>,
    /// Payments that are active or reserved (what `GET /payments?posId=` lists).
    pub(super) open_payments: BTreeSet<String>,
    pub(super) captured_payments: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Checkin {
    pub phone: String,
    pub at: Millis,
    pub(super) polls: u32,
}

/// Amount and terms of a payment, given at initiate or at ready.
#[derive(Clone, Debug)]
pub struct Terms {
    pub amount: Minor,
    pub currency: Currency,
    pub restrictions: Option<Restrictions>,
    pub label: Option<String>,
    pub planned_capture_delay: PlannedCaptureDelay,
}

#[derive(Clone, Debug)]
pub struct Payment {
    pub payment_id: String,
    pub pos_id: String,
    pub store_id: String,
    pub order_id: String,
    pub client_id: String,
    pub vat: String,
    pub terms: Option<Terms>,
    pub status: PaymentStatus,
    pub user: Option<String>,
    /// Polls since a user was paired: the first one answers "not looked up yet".
    pub(super) paired_polls: u32,
    pub partial_capture_possible: Option<bool>,
    pub reserved: Minor,
    pub captured: Minor,
    /// Sum of refunds that count against the captured amount.
    pub refunded: Minor,
    pub last_change: Millis,
    pub reserved_at: Option<Millis>,
    pub captured_at: Option<Millis>,
    pub idempotency_key: Option<String>,
    pub history: Vec<(PaymentStatus, Millis)>,
    pub(super) refunds: Vec<String>,
    pub(super) auto_checkin_scheduled: bool,
    pub(super) auto_answer_scheduled: bool,
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub refund_id: String,
    pub payment_id: String,
    pub client_id: String,
    pub vat: String,
    pub refund_order_id: String,
    pub amount: Minor,
    pub currency: Currency,
    pub status: RefundStatus,
    pub idempotency_key: Option<String>,
    pub history: Vec<(RefundStatus, Millis)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdemScope {
    pub client_id: String,
    pub vat: String,
    pub endpoint: &'static str,
    pub key: String,
}

/// A refund request that passed validation.
#[derive(Clone, Copy, Debug)]
pub struct NewRefund<'a> {
    pub payment_id: &'a str,
    pub refund_order_id: &'a str,
    pub amount: Minor,
    pub currency: Currency,
}

/// What an automatic customer does (see `POST /_sim/behaviour`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AutoAction {
    Accept,
    Cancel,
    Checkin,
    Never,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Behaviour {
    pub beacon_id: String,
    pub phone_number: String,
    pub action: AutoAction,
    #[serde(default)]
    pub delay_ms: u64,
}

/// A customer action the simulator performs by itself after a real-time delay.
#[derive(Clone, Debug)]
pub struct ScheduledUserAction {
    pub delay: Duration,
    pub beacon_id: String,
    pub phone: String,
    pub step: UserStep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStep {
    Checkin,
    Accept,
    Cancel,
}
