//! The simulated MobilePay backend: everything it keeps, the timers that change it, and the
//! idempotency keys that make retries safe. The rules for each kind of thing are in the
//! submodules, one job each.
//!
//! Everything here is synchronous and runs under one lock, which is what makes concurrent
//! requests on one PoS atomic (two simultaneous initiates: exactly one wins). Timers run on the
//! virtual clock and are applied before every request is handled ([`World::tick`]), which is
//! indistinguishable from running them in the background for anyone who observes the state.

mod customer;
mod payments;
mod records;
mod refunds;
pub mod stores;

pub use records::{
    Behaviour, Caller, IdemScope, NewRefund, Payment, Pos, Refund, ScheduledUserAction, Terms, UserStep,
};

use super::clock::Millis;
use super::error::ErrorAnswer;
use super::fixtures::{Fixtures, Store};
use super::settings::Settings;
use crate::backends::pos_v10::model::{PaymentStatus, RefundStatus};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

struct IdemEntry {
    fingerprint: String,
    body: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Inactivity(String),
    ReservationExpiry(String),
    RefundReserve(String),
    RefundAutoCapture(String),
    CheckinExpiry(String, Millis),
    ForgetPayment(String),
    ForgetKey(IdemScope),
}

/// Everything the simulated MobilePay keeps, for every integrator and merchant at once.
pub struct World {
    pub fixtures: Fixtures,
    pub settings: Settings,
    stores: HashMap<String, (String, Store)>,
    store_balance: HashMap<String, i64>,
    pub poses: HashMap<String, Pos>,
    pub payments: HashMap<String, Payment>,
    pub refunds: HashMap<String, Refund>,
    latest_order: HashMap<(String, String, String), String>,
    idempotency: HashMap<IdemScope, IdemEntry>,
    timers: BTreeMap<(Millis, u64), Timer>,
    timer_seq: u64,
    pub behaviours: Vec<Behaviour>,
    scheduled: Vec<ScheduledUserAction>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ms(d: Duration) -> Millis {
    Millis::try_from(d.as_millis()).unwrap_or(Millis::MAX / 4)
}

impl World {
    pub fn new(fixtures: Fixtures, settings: Settings) -> World {
        let mut stores = HashMap::new();
        let mut store_balance = HashMap::new();
        for m in &fixtures.merchants {
            for s in &m.stores {
                let id = s.store_id.to_lowercase();
                store_balance.insert(id.clone(), s.opening_balance_minor);
                stores.insert(id, (m.vat.clone(), s.clone()));
            }
        }
        World {
            fixtures,
            settings,
            stores,
            store_balance,
            poses: HashMap::new(),
            payments: HashMap::new(),
            refunds: HashMap::new(),
            latest_order: HashMap::new(),
            idempotency: HashMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            behaviours: Vec::new(),
            scheduled: Vec::new(),
        }
    }

    /// Customer actions that became due for scheduling since the last call.
    pub fn take_scheduled(&mut self) -> Vec<ScheduledUserAction> {
        std::mem::take(&mut self.scheduled)
    }

    fn add_timer(&mut self, due: Millis, timer: Timer) {
        self.timer_seq += 1;
        self.timers.insert((due, self.timer_seq), timer);
    }

    /// Applies every timer due at `now`, oldest first.
    pub fn tick(&mut self, now: Millis) {
        while let Some(entry) = self.timers.first_entry() {
            let (due, _) = *entry.key();
            if due > now {
                break;
            }
            let timer = entry.remove();
            self.fire(timer, due);
        }
    }

    fn fire(&mut self, timer: Timer, due: Millis) {
        match timer {
            Timer::Inactivity(id) => {
                let inactivity = ms(self.settings.inactivity_timeout);
                if let Some(p) = self.payments.get(&id) {
                    if p.status.is_active() && p.last_change + inactivity == due {
                        self.set_status(&id, PaymentStatus::CancelledByMobilePay, due);
                    }
                }
            }
            Timer::ReservationExpiry(id) => {
                if self
                    .payments
                    .get(&id)
                    .is_some_and(|p| p.status == PaymentStatus::Reserved)
                {
                    self.set_status(&id, PaymentStatus::ExpiredAndCancelled, due);
                }
            }
            Timer::RefundReserve(id) => {
                if self
                    .refunds
                    .get(&id)
                    .is_some_and(|r| r.status == RefundStatus::Initiated)
                {
                    self.set_refund_status(&id, RefundStatus::Reserved, due);
                    let auto = due + ms(self.settings.refund_auto_capture);
                    self.add_timer(auto, Timer::RefundAutoCapture(id));
                }
            }
            Timer::RefundAutoCapture(id) => {
                if self
                    .refunds
                    .get(&id)
                    .is_some_and(|r| r.status == RefundStatus::Reserved)
                {
                    self.set_refund_status(&id, RefundStatus::ExpiredAndCaptured, due);
                }
            }
            Timer::CheckinExpiry(pos_id, at) => {
                let has_active = self.active_payment(&pos_id).is_some();
                if let Some(pos) = self.poses.get_mut(&pos_id) {
                    if pos.checkin.as_ref().is_some_and(|c| c.at == at) && !has_active {
                        pos.checkin = None;
                    }
                }
            }
            Timer::ForgetPayment(id) => self.forget_payment(&id),
            Timer::ForgetKey(scope) => {
                self.idempotency.remove(&scope);
            }
        }
    }

    fn forget_payment(&mut self, id: &str) {
        let Some(p) = self.payments.remove(id) else { return };
        if let Some(pos) = self.poses.get_mut(&p.pos_id) {
            pos.open_payments.remove(id);
            pos.captured_payments.remove(id);
        }
        let order_key = (p.client_id.clone(), p.vat.clone(), p.order_id.clone());
        if self
            .latest_order
            .get(&order_key)
            .is_some_and(|latest| latest == id)
        {
            self.latest_order.remove(&order_key);
        }
        for r in &p.refunds {
            self.refunds.remove(r);
        }
        // A deleted PoS is forgotten with its last payment.
        if let Some(pos) = self.poses.get(&p.pos_id) {
            if pos.deleted && pos.open_payments.is_empty() && pos.captured_payments.is_empty() {
                self.poses.remove(&p.pos_id);
            }
        }
    }

    /// The remembered answer for a retried request, or `1306` when the key was used for a
    /// different request.
    pub fn idempotent_replay(
        &self,
        scope: &IdemScope,
        fingerprint: &str,
    ) -> Result<Option<String>, ErrorAnswer> {
        match self.idempotency.get(scope) {
            None => Ok(None),
            Some(e) if e.fingerprint == fingerprint => Ok(Some(e.body.clone())),
            Some(_) => Err(ErrorAnswer::conflict(
                "1306",
                "Idempotency key has to be unique per request unless the request is a retry",
            )),
        }
    }

    pub fn remember(&mut self, scope: IdemScope, fingerprint: String, body: String, now: Millis) {
        let due = now + ms(self.settings.idempotency_retention);
        self.add_timer(due, Timer::ForgetKey(scope.clone()));
        self.idempotency.insert(scope, IdemEntry { fingerprint, body });
    }
}
