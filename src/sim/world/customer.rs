//! The customer: the sandbox user simulation (check in, accept, cancel) and the automatic
//! customers that take those steps by themselves, plus what MobilePay tells a merchant about
//! a test user.

use super::records::{AutoAction, Checkin, ScheduledUserAction, UserStep};
use super::{ms, Timer, World};
use crate::backends::pos_v10::model::PaymentStatus;
use crate::sim::clock::Millis;
use crate::sim::error::ErrorAnswer;
use crate::sim::fixtures::{Feature, Fixtures};
use sha2::{Digest, Sha256};
use std::time::Duration;

impl World {
    /// The live PoS a beacon id points at.
    fn pos_by_beacon(&self, beacon_id: &str) -> Option<String> {
        self.poses
            .values()
            .find(|p| !p.deleted && p.beacon_id.eq_ignore_ascii_case(beacon_id))
            .map(|p| p.pos_id.clone())
    }

    pub fn user_checkin(&mut self, beacon_id: &str, phone: &str, now: Millis) -> Result<(), ErrorAnswer> {
        if self.fixtures.user(phone).is_none() {
            return Err(user_error(format!("Unknown test user {phone}")));
        }
        let pos_id = self
            .pos_by_beacon(beacon_id)
            .ok_or_else(|| user_error("No point of sale has that beacon"))?;
        let active = self.active_payment(&pos_id);
        let pos = self.poses.get_mut(&pos_id).ok_or_else(ErrorAnswer::not_found)?;
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

    fn payment_issued_on(&self, beacon_id: &str) -> Result<String, ErrorAnswer> {
        let pos_id = self
            .pos_by_beacon(beacon_id)
            .ok_or_else(|| user_error("No point of sale has that beacon"))?;
        self.active_payment(&pos_id)
            .ok_or_else(|| user_error("There is no active payment on that point of sale"))
    }

    pub fn user_accept(&mut self, beacon_id: &str, phone: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let user = self
            .fixtures
            .user(phone)
            .cloned()
            .ok_or_else(|| user_error(format!("Unknown test user {phone}")))?;
        let id = self.payment_issued_on(beacon_id)?;
        let p = self.payments.get(&id).ok_or_else(ErrorAnswer::not_found)?;
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

    pub fn user_cancel(&mut self, beacon_id: &str, now: Millis) -> Result<(), ErrorAnswer> {
        let id = self.payment_issued_on(beacon_id)?;
        match self.payments.get(&id).map(|p| p.status.clone()) {
            Some(PaymentStatus::Paired | PaymentStatus::IssuedToUser) => {
                self.set_status(&id, PaymentStatus::CancelledByUser, now);
                Ok(())
            }
            Some(other) => Err(user_error(format!(
                "The user cannot cancel a payment that is {other}"
            ))),
            None => Err(ErrorAnswer::not_found()),
        }
    }

    /// Queues the next step of an automatic customer for this payment, if one is configured
    /// for its PoS and the step is not queued yet.
    pub(super) fn schedule_customer(&mut self, payment_id: &str) {
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
}

fn user_error(message: impl Into<String>) -> ErrorAnswer {
    ErrorAnswer::conflict("1099", message)
}

/// What MobilePay knows about a test user towards a merchant.
pub(super) struct UserData {
    pub(super) customer_token: String,
    pub(super) receipt_token: String,
    pub(super) loyalty_ids: Vec<String>,
}

impl UserData {
    pub(super) fn of(fixtures: &Fixtures, phone: &str, vat: &str) -> UserData {
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
