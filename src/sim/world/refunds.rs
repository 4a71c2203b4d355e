//! Refunds of captured payments: create, query, capture, cancel, MobilePay failing one, and
//! the store balance a refund draws on.

use super::records::{Caller, NewRefund, Refund};
use super::{ms, new_id, Timer, World};
use crate::backends::pos_v10::model::{PaymentStatus, RefundStatus};
use crate::money::Minor;
use crate::sim::clock::Millis;
use crate::sim::error::ErrorAnswer;

impl World {
    pub fn create_refund(
        &mut self,
        caller: &Caller,
        new: &NewRefund<'_>,
        idempotency_key: &str,
        now: Millis,
    ) -> Result<String, ErrorAnswer> {
        let NewRefund {
            payment_id,
            refund_order_id,
            amount,
            currency,
        } = *new;
        let p = self
            .payments
            .get(&payment_id.to_lowercase())
            .ok_or_else(|| ErrorAnswer::conflict("1001", "Payment not found"))?;
        if p.client_id != caller.client_id || p.vat != caller.vat {
            return Err(ErrorAnswer::forbidden(
                "1401",
                "Payment was created by a different integrator",
            ));
        }
        if p.status != PaymentStatus::Captured {
            return Err(ErrorAnswer::conflict(
                "1354",
                "Refund of payment not possible when payment is not captured",
            ));
        }
        if p.terms.as_ref().map(|t| t.currency) != Some(currency) {
            return Err(ErrorAnswer::conflict(
                "1365",
                "Refund CurrencyCode differs from payment CurrencyCode",
            ));
        }
        if p.captured_at
            .is_some_and(|at| now > at + ms(self.settings.refund_window))
        {
            return Err(ErrorAnswer::conflict("1366", "Payment is too old"));
        }
        if Minor(p.refunded.0 + amount.0) > p.captured {
            return Err(ErrorAnswer::conflict("1367", "Refund Amount is too high"));
        }
        let balance = self.store_balance.get(&p.store_id).copied().unwrap_or_default();
        if balance < amount.0 {
            return Err(ErrorAnswer::conflict(
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

    fn own_refund(&self, caller: &Caller, id: &str, missing: ErrorAnswer) -> Result<&Refund, ErrorAnswer> {
        let r = self.refunds.get(&id.to_lowercase()).ok_or(missing)?;
        if r.client_id != caller.client_id || r.vat != caller.vat {
            return Err(ErrorAnswer::forbidden(
                "1402",
                "Refund was created by a different integrator",
            ));
        }
        Ok(r)
    }

    pub fn refund(&self, caller: &Caller, id: &str) -> Result<&Refund, ErrorAnswer> {
        self.own_refund(caller, id, ErrorAnswer::not_found())
    }

    pub fn find_refunds(&self, caller: &Caller, payment_id: &str) -> Vec<String> {
        self.payments
            .get(&payment_id.to_lowercase())
            .filter(|p| p.client_id == caller.client_id && p.vat == caller.vat)
            .map(|p| p.refunds.clone())
            .unwrap_or_default()
    }

    pub fn capture_refund(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let r = self.own_refund(
            caller,
            id,
            ErrorAnswer::not_found_with("1004", "Refund not found"),
        )?;
        let id = r.refund_id.clone();
        match r.status {
            RefundStatus::Reserved => {
                self.set_refund_status(&id, RefundStatus::Captured, now);
                Ok(())
            }
            RefundStatus::Captured => Ok(()),
            _ => Err(ErrorAnswer::conflict(
                "1351",
                "Cannot capture refund when refund is not reserved",
            )),
        }
    }

    pub fn cancel_refund(&mut self, caller: &Caller, id: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let r = self.own_refund(caller, id, ErrorAnswer::not_found())?;
        let id = r.refund_id.clone();
        match r.status {
            RefundStatus::Initiated | RefundStatus::Reserved => {
                let (payment_id, amount) = (r.payment_id.clone(), r.amount);
                self.set_refund_status(&id, RefundStatus::CancelledByClient, now);
                self.release_refund(&payment_id, amount);
                Ok(())
            }
            RefundStatus::CancelledByClient => Ok(()),
            _ => Err(ErrorAnswer::conflict(
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

    pub(super) fn set_refund_status(&mut self, id: &str, status: RefundStatus, now: Millis) {
        if let Some(r) = self.refunds.get_mut(id) {
            r.status = status.clone();
            r.history.push((status, now));
        }
    }
}
