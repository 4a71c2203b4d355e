//! The simulated MobilePay backend's state and rules: points of sale, check-ins, payments,
//! refunds, idempotency keys and timers.
//!
//! Everything here is synchronous and runs under one lock, which is what makes concurrent
//! requests on one PoS atomic (two simultaneous initiates: exactly one wins). Timers run on the
//! virtual clock and are applied before every request is handled ([`World::tick`]), which is
//! indistinguishable from running them in the background for anyone who observes the state.

use super::clock::Millis;
use super::error::ApiError;
use super::fixtures::{Feature, Fixtures, Store};
use super::settings::{Settings, ENDED_RETENTION};
use crate::backends::pos_v10::model::{
    BeaconType, CreatePosRequest, GetCheckInResponse, PaymentStatus, PlannedCaptureDelay, PosResponse,
    QueryPaymentResponse, RefundStatus, Restrictions, StoreResponse,
};
use crate::money::{Currency, MajorAmount, Minor};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    open_payments: BTreeSet<String>,
    captured_payments: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Checkin {
    pub phone: String,
    pub at: Millis,
    polls: u32,
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
    paired_polls: u32,
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
    refunds: Vec<String>,
    auto_checkin_scheduled: bool,
    auto_answer_scheduled: bool,
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

fn hex_digest(parts: &[&str], len: usize) -> String {
    let mut hasher = Sha256::new();
    for p in parts {
        hasher.update(p.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..len].to_string()
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

    // ---- idempotency ----

    /// The remembered answer for a retried request, or `1306` when the key was used for a
    /// different request.
    pub fn idempotent_replay(
        &self,
        scope: &IdemScope,
        fingerprint: &str,
    ) -> Result<Option<String>, ApiError> {
        match self.idempotency.get(scope) {
            None => Ok(None),
            Some(e) if e.fingerprint == fingerprint => Ok(Some(e.body.clone())),
            Some(_) => Err(ApiError::conflict(
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

    // ---- stores ----

    pub fn stores_of(&self, vat: &str, brand_and_location: Option<(&str, &str)>) -> Vec<&Store> {
        let mut found: Vec<&Store> = self
            .stores
            .values()
            .filter(|(owner, s)| {
                owner == vat
                    && brand_and_location
                        .is_none_or(|(b, l)| s.merchant_brand_id == b && s.merchant_location_id == l)
            })
            .map(|(_, s)| s)
            .collect();
        found.sort_by(|a, b| a.store_id.cmp(&b.store_id));
        found
    }

    pub fn store(&self, caller: &Caller, store_id: &str) -> Result<StoreResponse, ApiError> {
        match self.stores.get(&store_id.to_lowercase()) {
            Some((vat, s)) if *vat == caller.vat => Ok(store_response(s)),
            _ => Err(ApiError::not_found()),
        }
    }

    // ---- points of sale ----

    pub fn create_pos(&mut self, caller: &Caller, req: &CreatePosRequest) -> Result<String, ApiError> {
        self.add_pos(caller, req, new_id())
    }

    /// Puts back a point of sale that MobilePay keeps under `pos_id` for the caller (the
    /// control API's seeding: a simulator started afresh knows none of the points of sale a
    /// box registered before). The same checks as [`World::create_pos`], and the id must be
    /// free.
    pub fn restore_pos(
        &mut self,
        caller: &Caller,
        req: &CreatePosRequest,
        pos_id: &str,
    ) -> Result<String, ApiError> {
        let pos_id = pos_id.to_lowercase();
        if self.poses.contains_key(&pos_id) {
            return Err(ApiError::conflict(
                "1200",
                "A point of sale with that PosId already exists",
            ));
        }
        self.add_pos(caller, req, pos_id)
    }

    fn add_pos(
        &mut self,
        caller: &Caller,
        req: &CreatePosRequest,
        pos_id: String,
    ) -> Result<String, ApiError> {
        let store_id = req.store_id.to_lowercase();
        match self.stores.get(&store_id) {
            None => return Err(ApiError::conflict("1002", "Store not found")),
            Some((vat, _)) if *vat != caller.vat => {
                return Err(ApiError::forbidden(
                    "1403",
                    "Cannot create a PoS on a store that does not belong to the merchant",
                ))
            }
            Some(_) => {}
        }
        let live = |p: &&Pos| !p.deleted;
        if self.poses.values().filter(live).any(|p| {
            p.client_id == caller.client_id && p.vat == caller.vat && p.merchant_pos_id == req.merchant_pos_id
        }) {
            return Err(ApiError::conflict(
                "1200",
                "A point of sale with that MerchantPosId already exists",
            ));
        }
        let beacon_id = match &req.beacon_id {
            Some(b) => b.clone(),
            None => new_id(),
        };
        if self
            .poses
            .values()
            .filter(live)
            .any(|p| p.beacon_id.eq_ignore_ascii_case(&beacon_id))
        {
            return Err(ApiError::conflict(
                "1202",
                "A point of sale with that BeaconId already exists",
            ));
        }
        self.poses.insert(
            pos_id.clone(),
            Pos {
                pos_id: pos_id.clone(),
                client_id: caller.client_id.clone(),
                vat: caller.vat.clone(),
                merchant_pos_id: req.merchant_pos_id.clone(),
                store_id,
                name: req.name.clone(),
                beacon_id,
                callback_alias: req.callback_alias.clone(),
                supported_beacon_types: req.supported_beacon_types.clone(),
                require_payment_before_checkin: req.require_payment_before_checkin.unwrap_or(false),
                deleted: false,
                checkin: None,
                open_payments: BTreeSet::new(),
                captured_payments: BTreeSet::new(),
            },
        );
        Ok(pos_id)
    }

    /// A live PoS the caller may use, with MobilePay's codes for someone else's.
    fn own_pos(&self, caller: &Caller, pos_id: &str, other_merchant: &'static str) -> Result<&Pos, ApiError> {
        let pos = self
            .poses
            .get(&pos_id.to_lowercase())
            .filter(|p| !p.deleted)
            .ok_or_else(ApiError::not_found)?;
        if pos.client_id != caller.client_id {
            return Err(ApiError::forbidden(
                "1400",
                "PoS was created by a different integrator",
            ));
        }
        if pos.vat != caller.vat {
            return Err(ApiError::forbidden(
                other_merchant,
                "PoS was created on behalf of a different merchant",
            ));
        }
        Ok(pos)
    }

    pub fn get_pos(&self, caller: &Caller, pos_id: &str) -> Result<PosResponse, ApiError> {
        let pos = self.own_pos(caller, pos_id, "1410")?;
        Ok(PosResponse {
            pos_id: pos.pos_id.clone(),
            merchant_pos_id: pos.merchant_pos_id.clone(),
            store_id: pos.store_id.clone(),
            name: pos.name.clone(),
            beacon_id: pos.beacon_id.clone(),
            callback_alias: pos.callback_alias.clone(),
            supported_beacon_types: pos.supported_beacon_types.clone(),
            require_payment_before_checkin: pos.require_payment_before_checkin,
        })
    }

    pub fn find_pos(
        &self,
        caller: &Caller,
        store_id: Option<&str>,
        beacon_id: Option<&str>,
        merchant_pos_id: Option<&str>,
    ) -> Vec<String> {
        let mut ids: Vec<String> = self
            .poses
            .values()
            .filter(|p| !p.deleted && p.client_id == caller.client_id && p.vat == caller.vat)
            .filter(|p| store_id.is_none_or(|s| p.store_id.eq_ignore_ascii_case(s)))
            .filter(|p| beacon_id.is_none_or(|b| p.beacon_id.eq_ignore_ascii_case(b)))
            .filter(|p| merchant_pos_id.is_none_or(|m| p.merchant_pos_id == m))
            .map(|p| p.pos_id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn delete_pos(&mut self, caller: &Caller, pos_id: &str, now: Millis) -> Result<(), ApiError> {
        let pos_id = self.own_pos(caller, pos_id, "1409")?.pos_id.clone();
        if let Some(active) = self.active_payment(&pos_id) {
            self.set_status(&active, PaymentStatus::CancelledByMobilePay, now);
        }
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ApiError::not_found)?;
        pos.deleted = true;
        pos.checkin = None;
        if pos.open_payments.is_empty() && pos.captured_payments.is_empty() {
            self.poses.remove(&pos_id);
        }
        Ok(())
    }

    pub fn get_checkin(&mut self, caller: &Caller, pos_id: &str) -> Result<GetCheckInResponse, ApiError> {
        let pos_id = self.own_pos(caller, pos_id, "1400")?.pos_id.clone();
        let vat = caller.vat.clone();
        let delay = self.settings.checkin_poll_delay_ms;
        let fixtures = self.fixtures.clone();
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ApiError::not_found)?;
        let Some(checkin) = pos.checkin.as_mut() else {
            return Ok(GetCheckInResponse {
                is_user_checked_in: false,
                loyalty_ids: None,
                poll_delay_in_ms: delay,
                customer_token: None,
                customer_receipt_token: None,
            });
        };
        let looked_up = checkin.polls > 0;
        checkin.polls += 1;
        let data = UserData::of(&fixtures, &checkin.phone, &vat);
        Ok(GetCheckInResponse {
            is_user_checked_in: true,
            loyalty_ids: looked_up.then(|| data.loyalty_ids.clone()),
            poll_delay_in_ms: delay,
            customer_token: Some(data.customer_token),
            customer_receipt_token: looked_up.then_some(data.receipt_token),
        })
    }

    fn active_payment(&self, pos_id: &str) -> Option<String> {
        let pos = self.poses.get(pos_id)?;
        pos.open_payments
            .iter()
            .find(|id| self.payments.get(*id).is_some_and(|p| p.status.is_active()))
            .cloned()
    }

    // ---- payments ----

    /// Creates a payment (`terms` given: initiate; `None`: prepare).
    pub fn create_payment(
        &mut self,
        caller: &Caller,
        pos_id: &str,
        order_id: &str,
        terms: Option<Terms>,
        idempotency_key: &str,
        now: Millis,
    ) -> Result<String, ApiError> {
        let pos = match self.poses.get(&pos_id.to_lowercase()).filter(|p| !p.deleted) {
            None => return Err(ApiError::conflict("1000", "Point of Sale not found")),
            Some(p) if p.client_id != caller.client_id || p.vat != caller.vat => {
                return Err(ApiError::forbidden(
                    "1400",
                    "PoS was created by a different integrator",
                ))
            }
            Some(p) => p,
        };
        let pos_id = pos.pos_id.clone();
        let store_id = pos.store_id.clone();
        if !self.stores.get(&store_id).is_some_and(|(_, s)| s.activated) {
            return Err(ApiError::conflict(
                "1204",
                "The store for the given point of sale is not activated. Activate the store before starting a payment",
            ));
        }
        if self.active_payment(&pos_id).is_some() {
            return Err(ApiError::conflict(
                "1301",
                "A payment is already active. Cancel it before starting a new one",
            ));
        }
        let payment_id = new_id();
        let prepared = terms.is_none();
        let user = self
            .poses
            .get(&pos_id)
            .and_then(|p| p.checkin.as_ref())
            .map(|c| c.phone.clone());
        let status = match (prepared, user.is_some()) {
            (false, false) => PaymentStatus::Initiated,
            (false, true) => PaymentStatus::IssuedToUser,
            (true, false) => PaymentStatus::Prepared,
            (true, true) => PaymentStatus::Paired,
        };
        self.payments.insert(
            payment_id.clone(),
            Payment {
                payment_id: payment_id.clone(),
                pos_id: pos_id.clone(),
                store_id,
                order_id: order_id.to_string(),
                client_id: caller.client_id.clone(),
                vat: caller.vat.clone(),
                terms,
                status: status.clone(),
                user: user.clone(),
                paired_polls: 0,
                partial_capture_possible: None,
                reserved: Minor(0),
                captured: Minor(0),
                refunded: Minor(0),
                last_change: now,
                reserved_at: None,
                captured_at: None,
                idempotency_key: Some(idempotency_key.to_string()),
                history: vec![(status, now)],
                refunds: Vec::new(),
                auto_checkin_scheduled: false,
                auto_answer_scheduled: false,
            },
        );
        if let Some(pos) = self.poses.get_mut(&pos_id) {
            pos.open_payments.insert(payment_id.clone());
        }
        self.latest_order.insert(
            (caller.client_id.clone(), caller.vat.clone(), order_id.to_string()),
            payment_id.clone(),
        );
        self.add_timer(
            now + ms(self.settings.inactivity_timeout),
            Timer::Inactivity(payment_id.clone()),
        );
        self.schedule_customer(&payment_id);
        Ok(payment_id)
    }

    /// A payment the caller may act on; `other_merchant` is the code for a payment made for
    /// another merchant of the same integrator.
    fn own_payment(
        &self,
        caller: &Caller,
        id: &str,
        other_merchant: &'static str,
    ) -> Result<&Payment, ApiError> {
        let p = self
            .payments
            .get(&id.to_lowercase())
            .ok_or_else(ApiError::not_found)?;
        if p.client_id != caller.client_id {
            return Err(ApiError::forbidden(
                "1401",
                "Payment was created by a different integrator",
            ));
        }
        if p.vat != caller.vat {
            return Err(ApiError::forbidden(
                other_merchant,
                "Payment was created on behalf of a different merchant",
            ));
        }
        Ok(p)
    }

    pub fn query_payment(&mut self, caller: &Caller, id: &str) -> Result<QueryPaymentResponse, ApiError> {
        let id = self.own_payment(caller, id, "1411")?.payment_id.clone();
        let settings = self.settings.clone();
        let fixtures = self.fixtures.clone();
        let p = self.payments.get_mut(&id).ok_or_else(ApiError::not_found)?;
        let user_data = p
            .user
            .as_ref()
            .map(|phone| UserData::of(&fixtures, phone, &p.vat));
        let looked_up = p.paired_polls > 0;
        if p.user.is_some() {
            p.paired_polls += 1;
        }
        let expires_at = if p.status.is_active() {
            Some(p.last_change + ms(settings.inactivity_timeout))
        } else if p.status == PaymentStatus::Reserved {
            p.reserved_at.map(|at| at + ms(settings.reservation_lifetime))
        } else {
            None
        };
        let terms = p.terms.as_ref();
        Ok(QueryPaymentResponse {
            payment_id: p.payment_id.clone(),
            pos_id: p.pos_id.clone(),
            order_id: p.order_id.clone(),
            amount: terms.map(|t| MajorAmount::from_minor(t.amount)),
            currency_code: terms.map(|t| t.currency),
            restrictions: terms.and_then(|t| t.restrictions),
            merchant_payment_label: terms.and_then(|t| t.label.clone()),
            planned_capture_delay: terms.map(|t| t.planned_capture_delay),
            status: p.status.clone(),
            customer_token: user_data.as_ref().map(|d| d.customer_token.clone()),
            customer_receipt_token: user_data
                .as_ref()
                .filter(|_| looked_up)
                .map(|d| d.receipt_token.clone()),
            loyalty_ids: user_data
                .as_ref()
                .filter(|_| looked_up)
                .map(|d| d.loyalty_ids.clone()),
            payment_expires_at: expires_at.map(super::clock::format_mobilepay),
            partial_capture_possible: if p.status == PaymentStatus::Reserved {
                p.partial_capture_possible
            } else {
                None
            },
            poll_delay_in_ms: settings.payment_poll_delay_ms,
        })
    }

    pub fn find_payments(
        &self,
        caller: &Caller,
        pos_id: Option<&str>,
        order_id: Option<&str>,
        captured_only: bool,
    ) -> Vec<String> {
        let wanted = |p: &Payment| {
            p.client_id == caller.client_id
                && p.vat == caller.vat
                && pos_id.is_none_or(|pos| p.pos_id.eq_ignore_ascii_case(pos))
                && if captured_only {
                    p.status == PaymentStatus::Captured
                } else {
                    p.status.is_active() || p.status == PaymentStatus::Reserved
                }
        };
        let candidates: Vec<&String> = match (order_id, pos_id) {
            (Some(order), _) => self
                .latest_order
                .get(&(caller.client_id.clone(), caller.vat.clone(), order.to_string()))
                .into_iter()
                .collect(),
            (None, Some(pos)) => match self.poses.get(&pos.to_lowercase()) {
                Some(p) if captured_only => p.captured_payments.iter().collect(),
                Some(p) => p.open_payments.iter().collect(),
                None => Vec::new(),
            },
            (None, None) => Vec::new(),
        };
        candidates
            .into_iter()
            .filter(|id| self.payments.get(*id).is_some_and(wanted))
            .cloned()
            .collect()
    }

    pub fn ready(&mut self, caller: &Caller, id: &str, terms: Terms, now: Millis) -> Result<(), ApiError> {
        let p = self.own_payment(caller, id, "1406")?;
        let id = p.payment_id.clone();
        let next = match p.status {
            PaymentStatus::Prepared => PaymentStatus::Initiated,
            PaymentStatus::Paired => PaymentStatus::IssuedToUser,
            _ => {
                return Err(ApiError::conflict(
                    "1303",
                    "Payment needs to be prepared before it can be marked as ready",
                ))
            }
        };
        if let Some(p) = self.payments.get_mut(&id) {
            p.terms = Some(terms);
        }
        self.set_status(&id, next, now);
        Ok(())
    }

    pub fn capture(&mut self, caller: &Caller, id: &str, amount: Minor, now: Millis) -> Result<(), ApiError> {
        let p = self.own_payment(caller, id, "1407")?;
        let id = p.payment_id.clone();
        match p.status {
            PaymentStatus::Reserved => {
                if amount > p.reserved {
                    return Err(ApiError::conflict(
                        "1305",
                        "Capture Amount cannot exceed the reserved amount",
                    ));
                }
                if amount < p.reserved && p.partial_capture_possible != Some(true) {
                    return Err(ApiError::conflict(
                        "1308",
                        "Partial capture not possible on this payment",
                    ));
                }
                let store_id = p.store_id.clone();
                let pos_id = p.pos_id.clone();
                if let Some(p) = self.payments.get_mut(&id) {
                    p.captured = amount;
                    p.captured_at = Some(now);
                }
                *self.store_balance.entry(store_id).or_default() += amount.0;
                if let Some(pos) = self.poses.get_mut(&pos_id) {
                    pos.captured_payments.insert(id.clone());
                }
                self.set_status(&id, PaymentStatus::Captured, now);
                Ok(())
            }
            PaymentStatus::Captured if p.captured == amount => Ok(()),
            PaymentStatus::Captured => Err(ApiError::conflict(
                "1307",
                "Payment has already been captured with a different amount",
            )),
            _ => Err(ApiError::conflict(
                "1304",
                "Cannot capture payment when payment is not reserved",
            )),
        }
    }

    pub fn cancel(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ApiError> {
        let p = self.own_payment(caller, id, "1408")?;
        let id = p.payment_id.clone();
        match p.status {
            PaymentStatus::CancelledByClient => Ok(()),
            ref s if s.is_active() || *s == PaymentStatus::Reserved => {
                self.set_status(&id, PaymentStatus::CancelledByClient, now);
                Ok(())
            }
            _ => Err(ApiError::conflict(
                "1300",
                "The payment cannot be cancelled in the current state",
            )),
        }
    }

    /// Moves a payment to `status` with every consequence: history, timers, the PoS's lists,
    /// the check-in being used up, forgetting it later.
    fn set_status(&mut self, id: &str, status: PaymentStatus, now: Millis) {
        let inactivity = ms(self.settings.inactivity_timeout);
        let lifetime = ms(self.settings.reservation_lifetime);
        let refund_window = ms(self.settings.refund_window);
        let Some(p) = self.payments.get_mut(id) else {
            return;
        };
        p.status = status.clone();
        p.last_change = now;
        p.history.push((status.clone(), now));
        let pos_id = p.pos_id.clone();
        let mut timers = Vec::new();
        if status.is_active() {
            timers.push((now + inactivity, Timer::Inactivity(id.to_string())));
        }
        if status == PaymentStatus::Reserved {
            p.reserved_at = Some(now);
            timers.push((now + lifetime, Timer::ReservationExpiry(id.to_string())));
        }
        if status.is_terminal() {
            let keep = if status == PaymentStatus::Captured {
                refund_window + ms(Duration::from_secs(24 * 3600))
            } else {
                ms(ENDED_RETENTION)
            };
            timers.push((now + keep, Timer::ForgetPayment(id.to_string())));
        }
        let uses_up_checkin = !status.is_active();
        for (due, t) in timers {
            self.add_timer(due, t);
        }
        if let Some(pos) = self.poses.get_mut(&pos_id) {
            if status.is_terminal() {
                pos.open_payments.remove(id);
            }
            if uses_up_checkin {
                pos.checkin = None;
            }
        }
        self.schedule_customer(id);
    }

    // ---- the customer (user simulation) ----

    /// The live PoS a beacon id points at.
    fn pos_by_beacon(&self, beacon_id: &str) -> Option<String> {
        self.poses
            .values()
            .find(|p| !p.deleted && p.beacon_id.eq_ignore_ascii_case(beacon_id))
            .map(|p| p.pos_id.clone())
    }

    pub fn user_checkin(&mut self, beacon_id: &str, phone: &str, now: Millis) -> Result<(), ApiError> {
        if self.fixtures.user(phone).is_none() {
            return Err(user_error(format!("Unknown test user {phone}")));
        }
        let pos_id = self
            .pos_by_beacon(beacon_id)
            .ok_or_else(|| user_error("No point of sale has that beacon"))?;
        let active = self.active_payment(&pos_id);
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ApiError::not_found)?;
        if pos.require_payment_before_checkin && active.is_none() {
            return Err(user_error(
                "This point of sale requires a payment before check-in",
            ));
        }
        pos.checkin = Some(Checkin {
            phone: phone.to_string(),
            at: now,
            polls: 0,
        });
        let lifetime = ms(self.settings.checkin_lifetime);
        self.add_timer(now + lifetime, Timer::CheckinExpiry(pos_id, now));
        if let Some(id) = active {
            let next = match self.payments.get(&id).map(|p| p.status.clone()) {
                Some(PaymentStatus::Initiated) => Some(PaymentStatus::IssuedToUser),
                Some(PaymentStatus::Prepared) => Some(PaymentStatus::Paired),
                _ => None,
            };
            if let Some(next) = next {
                if let Some(p) = self.payments.get_mut(&id) {
                    p.user = Some(phone.to_string());
                    p.paired_polls = 0;
                }
                self.set_status(&id, next, now);
            }
        }
        Ok(())
    }

    fn payment_issued_on(&self, beacon_id: &str) -> Result<String, ApiError> {
        let pos_id = self
            .pos_by_beacon(beacon_id)
            .ok_or_else(|| user_error("No point of sale has that beacon"))?;
        self.active_payment(&pos_id)
            .ok_or_else(|| user_error("There is no active payment on that point of sale"))
    }

    pub fn user_accept(&mut self, beacon_id: &str, phone: &str, now: Millis) -> Result<(), ApiError> {
        let user = self
            .fixtures
            .user(phone)
            .cloned()
            .ok_or_else(|| user_error(format!("Unknown test user {phone}")))?;
        let id = self.payment_issued_on(beacon_id)?;
        let p = self.payments.get(&id).ok_or_else(ApiError::not_found)?;
        if p.status != PaymentStatus::IssuedToUser {
            return Err(user_error(format!(
                "The payment is {}, not issued to the user",
                p.status
            )));
        }
        if p.user.as_deref() != Some(phone) {
            return Err(user_error("The payment was issued to another user"));
        }
        let restrictions = p.terms.as_ref().and_then(|t| t.restrictions).unwrap_or_default();
        let amount = p.terms.as_ref().map(|t| t.amount).unwrap_or_default();
        let refused = match user.feature {
            Feature::Credit | Feature::ReceiptToken | Feature::Loyalty => {
                restrictions.credit_card_disallowed == Some(true)
            }
            Feature::Debit => restrictions.debit_card_disallowed == Some(true),
            Feature::PartialCapture => false,
        };
        if refused {
            self.set_status(&id, PaymentStatus::CancelledByMobilePay, now);
            return Ok(());
        }
        if let Some(p) = self.payments.get_mut(&id) {
            p.reserved = amount;
            p.partial_capture_possible = Some(user.feature == Feature::PartialCapture);
        }
        self.set_status(&id, PaymentStatus::Reserved, now);
        Ok(())
    }

    pub fn user_cancel(&mut self, beacon_id: &str, now: Millis) -> Result<(), ApiError> {
        let id = self.payment_issued_on(beacon_id)?;
        match self.payments.get(&id).map(|p| p.status.clone()) {
            Some(PaymentStatus::Paired | PaymentStatus::IssuedToUser) => {
                self.set_status(&id, PaymentStatus::CancelledByUser, now);
                Ok(())
            }
            Some(other) => Err(user_error(format!(
                "The user cannot cancel a payment that is {other}"
            ))),
            None => Err(ApiError::not_found()),
        }
    }

    /// Queues the next step of an automatic customer for this payment, if one is configured
    /// for its PoS and the step is not queued yet.
    fn schedule_customer(&mut self, payment_id: &str) {
        let Some(p) = self.payments.get(payment_id) else {
            return;
        };
        let Some(pos) = self.poses.get(&p.pos_id) else {
            return;
        };
        let Some(b) = self
            .behaviours
            .iter()
            .rev()
            .find(|b| b.beacon_id == "*" || b.beacon_id.eq_ignore_ascii_case(&pos.beacon_id))
        else {
            return;
        };
        if b.action == AutoAction::Never {
            return;
        }
        let step = match p.status {
            PaymentStatus::Initiated | PaymentStatus::Prepared if !p.auto_checkin_scheduled => {
                UserStep::Checkin
            }
            PaymentStatus::IssuedToUser if !p.auto_answer_scheduled && b.action == AutoAction::Accept => {
                UserStep::Accept
            }
            PaymentStatus::IssuedToUser if !p.auto_answer_scheduled && b.action == AutoAction::Cancel => {
                UserStep::Cancel
            }
            _ => return,
        };
        let action = ScheduledUserAction {
            delay: Duration::from_millis(b.delay_ms),
            beacon_id: pos.beacon_id.clone(),
            phone: b.phone_number.clone(),
            step,
        };
        if let Some(p) = self.payments.get_mut(payment_id) {
            match step {
                UserStep::Checkin => p.auto_checkin_scheduled = true,
                UserStep::Accept | UserStep::Cancel => p.auto_answer_scheduled = true,
            }
        }
        self.scheduled.push(action);
    }

    // ---- refunds ----

    pub fn create_refund(
        &mut self,
        caller: &Caller,
        new: &NewRefund<'_>,
        idempotency_key: &str,
        now: Millis,
    ) -> Result<String, ApiError> {
        let NewRefund {
            payment_id,
            refund_order_id,
            amount,
            currency,
        } = *new;
        let p = self
            .payments
            .get(&payment_id.to_lowercase())
            .ok_or_else(|| ApiError::conflict("1001", "Payment not found"))?;
        if p.client_id != caller.client_id || p.vat != caller.vat {
            return Err(ApiError::forbidden(
                "1401",
                "Payment was created by a different integrator",
            ));
        }
        if p.status != PaymentStatus::Captured {
            return Err(ApiError::conflict(
                "1354",
                "Refund of payment not possible when payment is not captured",
            ));
        }
        if p.terms.as_ref().map(|t| t.currency) != Some(currency) {
            return Err(ApiError::conflict(
                "1365",
                "Refund CurrencyCode differs from payment CurrencyCode",
            ));
        }
        if p.captured_at
            .is_some_and(|at| now > at + ms(self.settings.refund_window))
        {
            return Err(ApiError::conflict("1366", "Payment is too old"));
        }
        if Minor(p.refunded.0 + amount.0) > p.captured {
            return Err(ApiError::conflict("1367", "Refund Amount is too high"));
        }
        let balance = self.store_balance.get(&p.store_id).copied().unwrap_or_default();
        if balance < amount.0 {
            return Err(ApiError::conflict(
                "1368",
                "Cannot refund Amount as it exceeds the available balance on the store",
            ));
        }
        let payment_id = p.payment_id.clone();
        let store_id = p.store_id.clone();
        let refund_id = new_id();
        if let Some(p) = self.payments.get_mut(&payment_id) {
            p.refunded.0 += amount.0;
            p.refunds.push(refund_id.clone());
        }
        *self.store_balance.entry(store_id).or_default() -= amount.0;
        self.refunds.insert(
            refund_id.clone(),
            Refund {
                refund_id: refund_id.clone(),
                payment_id,
                client_id: caller.client_id.clone(),
                vat: caller.vat.clone(),
                refund_order_id: refund_order_id.to_string(),
                amount,
                currency,
                status: RefundStatus::Initiated,
                idempotency_key: Some(idempotency_key.to_string()),
                history: vec![(RefundStatus::Initiated, now)],
            },
        );
        let due = now + ms(self.settings.refund_reserve_delay);
        self.add_timer(due, Timer::RefundReserve(refund_id.clone()));
        Ok(refund_id)
    }

    fn own_refund(&self, caller: &Caller, id: &str, missing: ApiError) -> Result<&Refund, ApiError> {
        let r = self.refunds.get(&id.to_lowercase()).ok_or(missing)?;
        if r.client_id != caller.client_id || r.vat != caller.vat {
            return Err(ApiError::forbidden(
                "1402",
                "Refund was created by a different integrator",
            ));
        }
        Ok(r)
    }

    pub fn refund(&self, caller: &Caller, id: &str) -> Result<&Refund, ApiError> {
        self.own_refund(caller, id, ApiError::not_found())
    }

    pub fn find_refunds(&self, caller: &Caller, payment_id: &str) -> Vec<String> {
        self.payments
            .get(&payment_id.to_lowercase())
            .filter(|p| p.client_id == caller.client_id && p.vat == caller.vat)
            .map(|p| p.refunds.clone())
            .unwrap_or_default()
    }

    pub fn capture_refund(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ApiError> {
        let r = self.own_refund(caller, id, ApiError::not_found_with("1004", "Refund not found"))?;
        let id = r.refund_id.clone();
        match r.status {
            RefundStatus::Reserved => {
                self.set_refund_status(&id, RefundStatus::Captured, now);
                Ok(())
            }
            RefundStatus::Captured => Ok(()),
            _ => Err(ApiError::conflict(
                "1351",
                "Cannot capture refund when refund is not reserved",
            )),
        }
    }

    pub fn cancel_refund(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ApiError> {
        let r = self.own_refund(caller, id, ApiError::not_found())?;
        let id = r.refund_id.clone();
        match r.status {
            RefundStatus::Initiated | RefundStatus::Reserved => {
                let (payment_id, amount) = (r.payment_id.clone(), r.amount);
                self.set_refund_status(&id, RefundStatus::CancelledByClient, now);
                self.release_refund(&payment_id, amount);
                Ok(())
            }
            RefundStatus::CancelledByClient => Ok(()),
            _ => Err(ApiError::conflict(
                "1352",
                "The refund cannot be cancelled in the current state",
            )),
        }
    }

    /// MobilePay could not reserve the refund: `Initiated` → `CancelledByMobilePay`, and its
    /// amount no longer counts against the payment.
    pub fn fail_refund(&mut self, id: &str, now: Millis) -> Result<(), String> {
        let r = self
            .refunds
            .get(&id.to_lowercase())
            .ok_or_else(|| format!("unknown refund {id:?}"))?;
        if r.status != RefundStatus::Initiated {
            return Err(format!("the refund is {}, not Initiated", r.status));
        }
        let (id, payment_id, amount) = (r.refund_id.clone(), r.payment_id.clone(), r.amount);
        self.set_refund_status(&id, RefundStatus::CancelledByMobilePay, now);
        self.release_refund(&payment_id, amount);
        Ok(())
    }

    fn release_refund(&mut self, payment_id: &str, amount: Minor) {
        if let Some(p) = self.payments.get_mut(payment_id) {
            p.refunded.0 -= amount.0;
            let store = p.store_id.clone();
            *self.store_balance.entry(store).or_default() += amount.0;
        }
    }

    fn set_refund_status(&mut self, id: &str, status: RefundStatus, now: Millis) {
        if let Some(r) = self.refunds.get_mut(id) {
            r.status = status.clone();
            r.history.push((status, now));
        }
    }

    /// Store balances for the ground truth.
    pub fn store_balance(&self, store_id: &str) -> i64 {
        self.store_balance.get(store_id).copied().unwrap_or_default()
    }
}

fn user_error(message: impl Into<String>) -> ApiError {
    ApiError::conflict("1099", message)
}

pub fn store_response(s: &Store) -> StoreResponse {
    StoreResponse {
        store_name: s.store_name.clone(),
        store_id: s.store_id.clone(),
        store_street: s.store_street.clone(),
        store_zip_code: s.store_zip_code.clone(),
        store_city: s.store_city.clone(),
        brand_name: s.brand_name.clone(),
        merchant_brand_id: s.merchant_brand_id.clone(),
        merchant_location_id: s.merchant_location_id.clone(),
    }
}

/// What MobilePay knows about a test user towards a merchant.
struct UserData {
    customer_token: String,
    receipt_token: String,
    loyalty_ids: Vec<String>,
}

impl UserData {
    fn of(fixtures: &Fixtures, phone: &str, vat: &str) -> UserData {
        let feature = fixtures.user(phone).map(|u| u.feature);
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let tail = &digits[digits.len().saturating_sub(6)..];
        UserData {
            customer_token: hex_digest(&["customer", phone, vat], 40),
            receipt_token: if feature == Some(Feature::ReceiptToken) {
                hex_digest(&["receipt", phone], 32)
            } else {
                String::new()
            },
            loyalty_ids: if feature == Some(Feature::Loyalty) {
                vec![format!("LOY{tail}")]
            } else {
                Vec::new()
            },
        }
    }
}
