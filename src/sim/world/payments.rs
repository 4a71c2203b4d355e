//! Payments and their state machine: initiate or prepare, ready, query, capture, cancel, and
//! every consequence of a status change (history, timers, the point of sale's lists, the
//! check-in being used up).

use super::customer::UserData;
use super::records::{Caller, Payment, Terms};
use super::{ms, new_id, Timer, World};
use crate::backends::pos_v10::model::{PaymentStatus, QueryPaymentResponse};
use crate::money::{MajorAmount, Minor};
use crate::sim::clock::{format_mobilepay, Millis};
use crate::sim::error::ErrorAnswer;
use crate::sim::settings::ENDED_RETENTION;
use std::time::Duration;

impl World {
    /// Creates a payment (`terms` given: initiate; `None`: prepare).
    pub fn create_payment(
        &mut self,
        caller: &Caller,
        pos_id: &str,
        order_id: &str,
        terms: Option<Terms>,
        idempotency_key: &str,
        now: Millis,
    ) -> Result<String, ErrorAnswer> {
        let pos = match self.poses.get(&pos_id.to_lowercase()).filter(|p| !p.deleted) {
            None => return Err(ErrorAnswer::conflict("1000", "Point of Sale not found")),
            Some(p) if p.client_id != caller.client_id || p.vat != caller.vat => {
                return Err(ErrorAnswer::forbidden(
                    "1400",
                    "PoS was created by a different integrator",
                ))
            }
            Some(p) => p,
        };
        let pos_id = pos.pos_id.clone();
        let store_id = pos.store_id.clone();
        if !self.stores.get(&store_id).is_some_and(|(_, s)| s.activated) {
            return Err(ErrorAnswer::conflict(
                "1204",
                "The store for the given point of sale is not activated. Activate the store before starting a payment",
            ));
        }
        if self.active_payment(&pos_id).is_some() {
            return Err(ErrorAnswer::conflict(
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
    ) -> Result<&Payment, ErrorAnswer> {
        let p = self
            .payments
            .get(&id.to_lowercase())
            .ok_or_else(ErrorAnswer::not_found)?;
        if p.client_id != caller.client_id {
            return Err(ErrorAnswer::forbidden(
                "1401",
                "Payment was created by a different integrator",
            ));
        }
        if p.vat != caller.vat {
            return Err(ErrorAnswer::forbidden(
                other_merchant,
                "Payment was created on behalf of a different merchant",
            ));
        }
        Ok(p)
    }

    pub fn query_payment(&mut self, caller: &Caller, id: &str) -> Result<QueryPaymentResponse, ErrorAnswer> {
        let id = self.own_payment(caller, id, "1411")?.payment_id.clone();
        let settings = self.settings.clone();
        let fixtures = self.fixtures.clone();
        let p = self.payments.get_mut(&id).ok_or_else(ErrorAnswer::not_found)?;
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
            payment_expires_at: expires_at.map(format_mobilepay),
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

    pub fn ready(&mut self, caller: &Caller, id: &str, terms: Terms, now: Millis) -> Result<(), ErrorAnswer> {
        let p = self.own_payment(caller, id, "1406")?;
        let id = p.payment_id.clone();
        let next = match p.status {
            PaymentStatus::Prepared => PaymentStatus::Initiated,
            PaymentStatus::Paired => PaymentStatus::IssuedToUser,
            _ => {
                return Err(ErrorAnswer::conflict(
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

    pub fn capture(
        &mut self,
        caller: &Caller,
        id: &str,
        amount: Minor,
        now: Millis,
    ) -> Result<(), ErrorAnswer> {
        let p = self.own_payment(caller, id, "1407")?;
        let id = p.payment_id.clone();
        match p.status {
            PaymentStatus::Reserved => {
                if amount > p.reserved {
                    return Err(ErrorAnswer::conflict(
                        "1305",
                        "Capture Amount cannot exceed the reserved amount",
                    ));
                }
                if amount < p.reserved && p.partial_capture_possible != Some(true) {
                    return Err(ErrorAnswer::conflict(
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
            PaymentStatus::Captured => Err(ErrorAnswer::conflict(
                "1307",
                "Payment has already been captured with a different amount",
            )),
            _ => Err(ErrorAnswer::conflict(
                "1304",
                "Cannot capture payment when payment is not reserved",
            )),
        }
    }

    pub fn cancel(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let p = self.own_payment(caller, id, "1408")?;
        let id = p.payment_id.clone();
        match p.status {
            PaymentStatus::CancelledByClient => Ok(()),
            ref s if s.is_active() || *s == PaymentStatus::Reserved => {
                self.set_status(&id, PaymentStatus::CancelledByClient, now);
                Ok(())
            }
            _ => Err(ErrorAnswer::conflict(
                "1300",
                "The payment cannot be cancelled in the current state",
            )),
        }
    }

    /// Moves a payment to `status` with every consequence: history, timers, the PoS's lists,
    /// the check-in being used up, forgetting it later.
    pub(super) fn set_status(&mut self, id: &str, status: PaymentStatus, now: Millis) {
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
}
