//! Every agreement, one-off payment and refund the simulated MobilePay keeps, the rules that
//! need more than a request body (provider, states, amounts, the clock), the merchant's and
//! the customer's moves, and the timers of §3.5 and §3.7 (agreement expiry, one-off expiry,
//! reservation expiry, scripted customers). Synchronous and free of I/O: the handlers call it
//! under one lock with the virtual clock's `now`, and timers are applied, each at its own
//! time and in order, before every call ([`Book::tick`]).
//!
//! Nothing here checks for duplicates: MobilePay had no idempotency key and no duplicate check
//! on agreements, one-offs or refunds (§0.5), so a repeated request makes a second one.

use super::customer::{Action, Customer, Customers};
use super::error::{RefundError, SubsError};
use super::input::{NewAgreement, NewOneOff, NewRefund};
use super::lifecycle::{AgreementStatus, OneOffStatus, MINUTE, REFUND_WINDOW, RESERVATION_LIFETIME};
use crate::sim::clock::Millis;
use crate::sim::fixtures::{
    Fixtures, InvoiceUser, ProviderStatus, SubscriptionProvider, SubscriptionsFixtures,
};
use std::collections::HashMap;

#[derive(Debug)]
pub struct Agreement {
    pub id: String,
    pub merchant_id: String,
    pub provider_id: String,
    pub new: NewAgreement,
    pub status: AgreementStatus,
    pub history: Vec<(AgreementStatus, Millis)>,
    /// The one-off asked for in the create body.
    pub one_off_id: Option<String>,
    /// The phone (`45…`) of the user who accepted, when known.
    pub user: Option<String>,
    /// The scripted customer bound at creation.
    pub customer: Option<Customer>,
    customer_due: Option<Millis>,
    customer_played: bool,
    /// Times the user tried to accept and the one-off could not be reserved.
    pub reservation_failures: u32,
    /// Times the landing page of its link was opened.
    pub opened: u32,
}

impl Agreement {
    pub fn created_at(&self) -> Millis {
        self.history.first().map(|h| h.1).unwrap_or_default()
    }

    /// When it last entered `status`.
    pub fn at(&self, status: AgreementStatus) -> Option<Millis> {
        self.history.iter().rev().find(|h| h.0 == status).map(|h| h.1)
    }

    fn expires_at(&self) -> Millis {
        self.created_at() + self.new.expiration_timeout_minutes * MINUTE
    }

    fn set(&mut self, status: AgreementStatus, at: Millis) {
        self.status = status;
        self.history.push((status, at));
    }
}

#[derive(Debug)]
pub struct OneOff {
    pub id: String,
    pub agreement_id: String,
    pub new: NewOneOff,
    /// Asked for in the agreement's create body: reserved when the agreement is accepted.
    pub with_agreement: bool,
    pub currency: &'static str,
    pub status: OneOffStatus,
    pub history: Vec<(OneOffStatus, Millis)>,
    pub captured_minor: i64,
    /// Times a reservation was tried and the card was declined.
    pub reservation_failures: u32,
    customer_due: Option<Millis>,
    customer_played: bool,
}

impl OneOff {
    pub fn created_at(&self) -> Millis {
        self.history.first().map(|h| h.1).unwrap_or_default()
    }

    pub fn at(&self, status: OneOffStatus) -> Option<Millis> {
        self.history.iter().rev().find(|h| h.0 == status).map(|h| h.1)
    }

    fn set(&mut self, status: OneOffStatus, at: Millis) {
        self.status = status;
        self.history.push((status, at));
    }

    /// When it ends by itself: a request nobody answered, or a reservation never captured. A
    /// one-off of a pending agreement lives and ends with the agreement.
    fn expires_at(&self) -> Option<Millis> {
        match self.status {
            OneOffStatus::Requested if !self.with_agreement => {
                Some(self.created_at() + self.new.expiration_timeout_minutes * MINUTE)
            }
            OneOffStatus::Reserved => self
                .at(OneOffStatus::Reserved)
                .map(|at| at + RESERVATION_LIFETIME),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct Refund {
    pub id: String,
    pub agreement_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    pub status_callback_url: String,
    pub external_id: Option<String>,
    pub at: Millis,
}

/// What the landing page of a link shows.
pub struct Landing {
    pub plan: String,
    pub currency: &'static str,
    pub amount_minor: Option<i64>,
    pub one_off_minor: Option<i64>,
    pub status: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    AgreementCustomer(usize),
    OneOffCustomer(usize),
    AgreementExpiry(usize),
    OneOffExpiry(usize),
}

pub struct Book {
    fixtures: SubscriptionsFixtures,
    /// The sandbox test users (Invoice's, §3.12), phones without the plus.
    users: Vec<InvoiceUser>,
    callback_urls: HashMap<String, String>,
    agreements: Vec<Agreement>,
    one_offs: Vec<OneOff>,
    refunds: Vec<Refund>,
    pub customers: Customers,
}

/// A phone as Subscriptions writes it: digits without the plus.
pub fn digits_only(phone: &str) -> String {
    phone.trim_start_matches('+').to_string()
}

impl Book {
    pub fn new(fixtures: &Fixtures) -> Book {
        Book {
            fixtures: fixtures.subscriptions.clone(),
            users: fixtures.invoice.users.clone(),
            callback_urls: HashMap::new(),
            agreements: Vec::new(),
            one_offs: Vec::new(),
            refunds: Vec::new(),
            customers: Customers::default(),
        }
    }

    pub fn fixtures(&self) -> &SubscriptionsFixtures {
        &self.fixtures
    }

    pub fn agreements(&self) -> &[Agreement] {
        &self.agreements
    }

    pub fn one_offs(&self) -> &[OneOff] {
        &self.one_offs
    }

    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }

    /// The sandbox test user with `authenticateduser` GUID `guid`: its phone, `45…`.
    pub fn user_by_guid(&self, guid: &str) -> Option<String> {
        self.users
            .iter()
            .find(|u| u.authenticated_user.eq_ignore_ascii_case(guid))
            .map(|u| digits_only(&u.phone))
    }

    fn card_expired(&self, phone: Option<&str>) -> bool {
        phone.is_some_and(|p| {
            self.users
                .iter()
                .any(|u| u.card_expired && digits_only(&u.phone) == p)
        })
    }

    pub fn provider(&self, merchant_id: &str, provider_id: &str) -> Option<&SubscriptionProvider> {
        self.fixtures.provider(merchant_id, provider_id)
    }

    pub fn callback_url(&self, provider_id: &str) -> Option<&str> {
        self.callback_urls
            .get(&provider_id.to_lowercase())
            .map(String::as_str)
    }

    pub fn set_callback_url(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        url: String,
    ) -> Result<(), SubsError> {
        let id = self
            .provider(merchant_id, provider_id)
            .ok_or(SubsError::NotFound)?
            .id
            .to_lowercase();
        self.callback_urls.insert(id, url);
        Ok(())
    }

    fn agreement_index(&self, merchant_id: &str, provider_id: &str, id: &str) -> Option<usize> {
        self.agreements.iter().position(|a| {
            a.id.eq_ignore_ascii_case(id)
                && a.provider_id.eq_ignore_ascii_case(provider_id)
                && a.merchant_id.eq_ignore_ascii_case(merchant_id)
        })
    }

    /// The merchant's agreement `id` under `provider_id`; another provider's is not found.
    pub fn agreement(&self, merchant_id: &str, provider_id: &str, id: &str) -> Option<&Agreement> {
        self.agreement_index(merchant_id, provider_id, id)
            .map(|i| &self.agreements[i])
    }

    /// One page of the provider's agreements, oldest first so that pages stay put while new
    /// agreements are added; `page_number` counts from 1.
    pub fn list(
        &self,
        merchant_id: &str,
        provider_id: &str,
        status: Option<AgreementStatus>,
        page_size: usize,
        page_number: usize,
    ) -> Vec<&Agreement> {
        self.agreements
            .iter()
            .filter(|a| {
                a.merchant_id.eq_ignore_ascii_case(merchant_id)
                    && a.provider_id.eq_ignore_ascii_case(provider_id)
            })
            .filter(|a| status.is_none_or(|s| a.status == s))
            .skip(page_size.saturating_mul(page_number.saturating_sub(1)))
            .take(page_size)
            .collect()
    }

    /// Creates a `Pending` agreement, and its one-off `Requested` when the body asks for one.
    pub fn create_agreement(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        new: NewAgreement,
        now: Millis,
    ) -> Result<&Agreement, SubsError> {
        let provider = self
            .provider(merchant_id, provider_id)
            .ok_or(SubsError::NotFound)?;
        if provider.status != ProviderStatus::Enabled {
            return Err(SubsError::precondition(
                "The subscription provider is not enabled.",
            ));
        }
        let provider_id = provider.id.to_lowercase();
        let id = uuid::Uuid::new_v4().to_string();
        let one_off_id = new.one_off.as_ref().map(|o| {
            let one_off_id = uuid::Uuid::new_v4().to_string();
            self.one_offs.push(OneOff {
                id: one_off_id.clone(),
                agreement_id: id.clone(),
                new: o.clone(),
                with_agreement: true,
                currency: new.currency,
                status: OneOffStatus::Requested,
                history: vec![(OneOffStatus::Requested, now)],
                captured_minor: 0,
                reservation_failures: 0,
                customer_due: None,
                customer_played: false,
            });
            one_off_id
        });
        let customer = self.customers.bind(new.mobile_phone_number.as_deref());
        let customer_due = customer
            .as_ref()
            .filter(|c| c.without_link)
            .map(|c| now + Millis::from(c.delay_ms));
        self.agreements.push(Agreement {
            id,
            merchant_id: merchant_id.to_lowercase(),
            provider_id,
            new,
            status: AgreementStatus::Pending,
            history: vec![(AgreementStatus::Pending, now)],
            one_off_id,
            user: None,
            customer_played: customer_due.is_some(),
            customer,
            customer_due,
            reservation_failures: 0,
            opened: 0,
        });
        Ok(self.agreements.last().expect("just pushed"))
    }

    /// The merchant cancels a `Pending` or `Accepted` agreement (§3.6); every one-off on it
    /// that is requested or reserved is cancelled with it.
    pub fn cancel_agreement(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        id: &str,
        now: Millis,
    ) -> Result<(), SubsError> {
        let i = self
            .agreement_index(merchant_id, provider_id, id)
            .ok_or(SubsError::NotFound)?;
        let status = self.agreements[i].status;
        if !status.cancelable() {
            return Err(SubsError::precondition(format!(
                "The agreement is {status} and cannot be canceled."
            )));
        }
        self.agreements[i].set(AgreementStatus::Canceled, now);
        self.end_one_offs(i, now);
        Ok(())
    }

    /// Cancels the agreement's one-offs that are still requested or reserved.
    fn end_one_offs(&mut self, i: usize, now: Millis) {
        let id = self.agreements[i].id.clone();
        for o in self.one_offs.iter_mut().filter(|o| o.agreement_id == id) {
            if o.status.cancelable() {
                o.set(OneOffStatus::Cancelled, now);
            }
        }
    }

    fn one_off_index(
        &self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        id: &str,
    ) -> Option<usize> {
        let agreement = self.agreement(merchant_id, provider_id, agreement_id)?;
        self.one_offs
            .iter()
            .position(|o| o.id.eq_ignore_ascii_case(id) && o.agreement_id == agreement.id)
    }

    pub fn one_off(
        &self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        id: &str,
    ) -> Option<&OneOff> {
        self.one_off_index(merchant_id, provider_id, agreement_id, id)
            .map(|j| &self.one_offs[j])
    }

    /// The agreement's one-offs, oldest first; `None` when the agreement is not found.
    pub fn one_offs_of(
        &self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
    ) -> Option<Vec<&OneOff>> {
        let agreement = self.agreement(merchant_id, provider_id, agreement_id)?;
        Some(
            self.one_offs
                .iter()
                .filter(|o| o.agreement_id == agreement.id)
                .collect(),
        )
    }

    /// A one-off on an `Accepted` agreement (§3.7 flows 2 and 3). With `auto_reserve` it is
    /// reserved at once when the agreement's customer's card works; otherwise it stays
    /// `Requested` for the customer to confirm.
    pub fn create_one_off(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        new: NewOneOff,
        now: Millis,
    ) -> Result<&OneOff, SubsError> {
        let i = self
            .agreement_index(merchant_id, provider_id, agreement_id)
            .ok_or(SubsError::NotFound)?;
        let agreement = &self.agreements[i];
        if agreement.status != AgreementStatus::Accepted {
            return Err(SubsError::precondition(format!(
                "The agreement is {}, not Accepted.",
                agreement.status
            )));
        }
        let customer = agreement.customer.clone();
        let card_fails = self.card_expired(agreement.user.as_deref())
            || customer.as_ref().is_some_and(|c| c.action == Action::CardFails);
        let customer_due = customer
            .as_ref()
            .filter(|c| c.without_link && !new.auto_reserve)
            .map(|c| now + Millis::from(c.delay_ms));
        let mut one_off = OneOff {
            id: uuid::Uuid::new_v4().to_string(),
            agreement_id: agreement.id.clone(),
            currency: agreement.new.currency,
            with_agreement: false,
            status: OneOffStatus::Requested,
            history: vec![(OneOffStatus::Requested, now)],
            captured_minor: 0,
            reservation_failures: 0,
            customer_played: customer_due.is_some(),
            customer_due,
            new,
        };
        if one_off.new.auto_reserve {
            if card_fails {
                one_off.reservation_failures += 1;
            } else {
                one_off.set(OneOffStatus::Reserved, now);
            }
        }
        self.one_offs.push(one_off);
        Ok(self.one_offs.last().expect("just pushed"))
    }

    /// The merchant cancels a requested or reserved one-off.
    pub fn cancel_one_off(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        id: &str,
        now: Millis,
    ) -> Result<(), SubsError> {
        let j = self
            .one_off_index(merchant_id, provider_id, agreement_id, id)
            .ok_or(SubsError::NotFound)?;
        let one_off = &mut self.one_offs[j];
        if !one_off.status.cancelable() {
            return Err(SubsError::precondition(format!(
                "The one-off payment is {} and cannot be cancelled.",
                one_off.status
            )));
        }
        one_off.set(OneOffStatus::Cancelled, now);
        Ok(())
    }

    /// Captures a reserved one-off, all of it, once. A second capture and a capture of a
    /// one-off that is not reserved are refused with 412 (the reference records no answer for
    /// either, §6); a client that lost a capture's answer reads the one-off instead.
    pub fn capture(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        id: &str,
        now: Millis,
    ) -> Result<(), SubsError> {
        let j = self
            .one_off_index(merchant_id, provider_id, agreement_id, id)
            .ok_or(SubsError::NotFound)?;
        let one_off = &mut self.one_offs[j];
        match one_off.status {
            OneOffStatus::Reserved => {
                one_off.captured_minor = one_off.new.amount_minor;
                one_off.set(OneOffStatus::Captured, now);
                Ok(())
            }
            OneOffStatus::Captured => Err(SubsError::precondition(
                "The one-off payment is already captured.",
            )),
            other => Err(SubsError::precondition(format!(
                "The one-off payment is {other}, not Reserved, and cannot be captured."
            ))),
        }
    }

    /// The refunds of one payment, oldest first; `None` when the payment is not found.
    pub fn refunds_of(
        &self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        payment_id: &str,
    ) -> Option<Vec<&Refund>> {
        let one_off = self.one_off(merchant_id, provider_id, agreement_id, payment_id)?;
        Some(
            self.refunds
                .iter()
                .filter(|r| r.payment_id == one_off.id)
                .collect(),
        )
    }

    /// Refunds a captured one-off (§3.9): everything not yet refunded when no amount is given,
    /// partial refunds until the captured amount is used up, within 90 days of the capture;
    /// also on a cancelled agreement.
    pub fn refund(
        &mut self,
        merchant_id: &str,
        provider_id: &str,
        agreement_id: &str,
        payment_id: &str,
        new: NewRefund,
        now: Millis,
    ) -> Result<&Refund, RefundError> {
        let j = self
            .one_off_index(merchant_id, provider_id, agreement_id, payment_id)
            .ok_or(RefundError::NotFound)?;
        let one_off = &self.one_offs[j];
        let Some(captured_at) = one_off.at(OneOffStatus::Captured) else {
            return Err(RefundError::declined(
                "60004",
                format!("The payment is {} and cannot be refunded.", one_off.status),
            ));
        };
        if now > captured_at + REFUND_WINDOW {
            return Err(RefundError::declined(
                "60006",
                "The payment is older than 90 days.",
            ));
        }
        let refunded: i64 = self
            .refunds
            .iter()
            .filter(|r| r.payment_id == one_off.id)
            .map(|r| r.amount_minor)
            .sum();
        let left = one_off.captured_minor - refunded;
        if left <= 0 {
            return Err(RefundError::declined(
                "60001",
                "The payment is already fully refunded.",
            ));
        }
        let amount = new.amount_minor.unwrap_or(left);
        if amount > left {
            return Err(RefundError::declined(
                "60002",
                "The sum of refunds exceeds the amount of the payment.",
            ));
        }
        self.refunds.push(Refund {
            id: uuid::Uuid::new_v4().to_string(),
            agreement_id: one_off.agreement_id.clone(),
            payment_id: one_off.id.clone(),
            amount_minor: amount,
            status_callback_url: new.status_callback_url,
            external_id: new.external_id,
            at: now,
        });
        Ok(self.refunds.last().expect("just pushed"))
    }

    fn any_agreement(&self, id: &str) -> Option<usize> {
        self.agreements.iter().position(|a| a.id.eq_ignore_ascii_case(id))
    }

    /// The user swipes to accept a pending agreement. With a one-off in its body, the
    /// agreement is accepted only together with the one-off's reservation; a declined card
    /// leaves both as they were (the user may try another card, or let it expire), and so
    /// does a one-off the merchant cancelled meanwhile.
    fn accept_agreement(
        &mut self,
        i: usize,
        phone: Option<String>,
        card_fails: bool,
        now: Millis,
    ) -> Result<(), SubsError> {
        let agreement = &self.agreements[i];
        if agreement.status != AgreementStatus::Pending {
            return Err(SubsError::precondition(format!(
                "The agreement is {}, not Pending.",
                agreement.status
            )));
        }
        let card_fails = card_fails || self.card_expired(phone.as_deref());
        if let Some(one_off_id) = agreement.one_off_id.clone() {
            let one_off = self
                .one_offs
                .iter_mut()
                .find(|o| o.id == one_off_id)
                .expect("an agreement's one-off is kept with it");
            // The merchant cancelled it meanwhile: nothing can be reserved, the agreement
            // waits for its expiry.
            if one_off.status != OneOffStatus::Requested {
                return Err(SubsError::precondition(format!(
                    "The agreement's one-off payment is {}; the agreement cannot be accepted.",
                    one_off.status
                )));
            }
            if card_fails {
                one_off.reservation_failures += 1;
                self.agreements[i].reservation_failures += 1;
                return Err(SubsError::precondition(
                    "The one-off payment could not be reserved: the card was declined.",
                ));
            }
            one_off.set(OneOffStatus::Reserved, now);
        }
        let agreement = &mut self.agreements[i];
        agreement.user = phone;
        agreement.set(AgreementStatus::Accepted, now);
        Ok(())
    }

    fn reject_agreement(&mut self, i: usize, now: Millis) -> Result<(), SubsError> {
        let status = self.agreements[i].status;
        if status != AgreementStatus::Pending {
            return Err(SubsError::precondition(format!(
                "The agreement is {status}, not Pending."
            )));
        }
        self.agreements[i].set(AgreementStatus::Rejected, now);
        self.end_one_offs(i, now);
        Ok(())
    }

    /// The sandbox user simulation's `PATCH /api/agreements/v1/{id}` as the test user at
    /// `phone`: `Accepted` or `Rejected`.
    pub fn user_answer_agreement(
        &mut self,
        id: &str,
        phone: &str,
        accept: bool,
        now: Millis,
    ) -> Result<(), SubsError> {
        let i = self.any_agreement(id).ok_or(SubsError::NotFound)?;
        if accept {
            self.accept_agreement(i, Some(phone.to_string()), false, now)
        } else {
            self.reject_agreement(i, now)
        }
    }

    /// The user cancels an accepted agreement in the app. Refused while a one-off on it is
    /// reserved (§3.6) and within `retention_period_hours` of the acceptance (§3.4). Only the
    /// user who accepted it finds it.
    pub fn user_cancel_agreement(&mut self, id: &str, phone: &str, now: Millis) -> Result<(), SubsError> {
        let i = self
            .any_agreement(id)
            .filter(|i| self.agreements[*i].user.as_deref() == Some(phone))
            .ok_or(SubsError::NotFound)?;
        let agreement = &self.agreements[i];
        if agreement.status != AgreementStatus::Accepted {
            return Err(SubsError::precondition(format!(
                "The agreement is {}, not Accepted.",
                agreement.status
            )));
        }
        let reserved = self
            .one_offs
            .iter()
            .any(|o| o.agreement_id == agreement.id && o.status == OneOffStatus::Reserved);
        if reserved {
            return Err(SubsError::precondition(
                "The agreement has a reserved one-off payment and cannot be canceled by the user.",
            ));
        }
        let retained_until = agreement.at(AgreementStatus::Accepted).unwrap_or_default()
            + agreement.new.retention_period_hours * 60 * MINUTE;
        if now < retained_until {
            return Err(SubsError::precondition(
                "The agreement is within its retention period and cannot be canceled yet.",
            ));
        }
        self.agreements[i].set(AgreementStatus::Canceled, now);
        self.end_one_offs(i, now);
        Ok(())
    }

    /// The user confirms (`accept`) or rejects a requested one-off on an accepted agreement.
    pub fn user_answer_one_off(
        &mut self,
        agreement_id: &str,
        id: &str,
        phone: Option<&str>,
        accept: bool,
        card_fails: bool,
        now: Millis,
    ) -> Result<(), SubsError> {
        let card_fails = card_fails || self.card_expired(phone);
        let i = self.any_agreement(agreement_id).ok_or(SubsError::NotFound)?;
        let agreement_id = self.agreements[i].id.clone();
        let one_off = self
            .one_offs
            .iter_mut()
            .find(|o| o.id.eq_ignore_ascii_case(id) && o.agreement_id == agreement_id)
            .ok_or(SubsError::NotFound)?;
        if one_off.status != OneOffStatus::Requested || one_off.with_agreement {
            return Err(SubsError::precondition(format!(
                "The one-off payment is {}, not awaiting the user.",
                one_off.status
            )));
        }
        if !accept {
            one_off.set(OneOffStatus::Rejected, now);
        } else if card_fails {
            one_off.reservation_failures += 1;
            return Err(SubsError::precondition(
                "The one-off payment could not be reserved: the card was declined.",
            ));
        } else {
            one_off.set(OneOffStatus::Reserved, now);
        }
        Ok(())
    }

    /// The landing page of an agreement's link, or of a one-off's, is opened (its QR code
    /// scanned): what it shows, or `None` once there is nothing left to confirm. The bound
    /// scripted customer, if any, acts `delayMs` later.
    pub fn open_link(
        &mut self,
        agreement_id: &str,
        one_off_id: Option<&str>,
        now: Millis,
    ) -> Option<Landing> {
        let i = self.any_agreement(agreement_id)?;
        let agreement = &mut self.agreements[i];
        let delay = agreement.customer.as_ref().map(|c| Millis::from(c.delay_ms));
        let mut landing = Landing {
            plan: agreement.new.plan.clone(),
            currency: agreement.new.currency,
            amount_minor: agreement.new.amount_minor,
            one_off_minor: None,
            status: agreement.status.to_string(),
        };
        match one_off_id {
            None => {
                if agreement.status != AgreementStatus::Pending {
                    return None;
                }
                agreement.opened += 1;
                if let (Some(delay), false) = (delay, agreement.customer_played) {
                    agreement.customer_played = true;
                    agreement.customer_due = Some(now + delay);
                }
                let one_off = agreement.one_off_id.clone();
                landing.one_off_minor = one_off
                    .and_then(|id| self.one_offs.iter().find(|o| o.id == id))
                    .map(|o| o.new.amount_minor);
            }
            Some(id) => {
                let agreement_id = agreement.id.clone();
                let one_off = self.one_offs.iter_mut().find(|o| {
                    o.id.eq_ignore_ascii_case(id) && o.agreement_id == agreement_id && !o.with_agreement
                })?;
                if one_off.status != OneOffStatus::Requested {
                    return None;
                }
                if let (Some(delay), false) = (delay, one_off.customer_played) {
                    one_off.customer_played = true;
                    one_off.customer_due = Some(now + delay);
                }
                landing.one_off_minor = Some(one_off.new.amount_minor);
                landing.status = one_off.status.to_string();
            }
        }
        Some(landing)
    }

    fn next_event(&self) -> Option<(Millis, Event)> {
        let agreements = self.agreements.iter().enumerate().flat_map(|(i, a)| {
            let pending = a.status == AgreementStatus::Pending;
            [
                a.customer_due
                    .filter(|_| pending)
                    .map(|at| (at, Event::AgreementCustomer(i))),
                pending.then(|| (a.expires_at(), Event::AgreementExpiry(i))),
            ]
        });
        let one_offs = self.one_offs.iter().enumerate().flat_map(|(j, o)| {
            [
                o.customer_due
                    .filter(|_| o.status == OneOffStatus::Requested)
                    .map(|at| (at, Event::OneOffCustomer(j))),
                o.expires_at().map(|at| (at, Event::OneOffExpiry(j))),
            ]
        });
        agreements.chain(one_offs).flatten().min()
    }

    /// Applies the timers due at `now`, each at its own time and in order.
    pub fn tick(&mut self, now: Millis) {
        while let Some((at, event)) = self.next_event().filter(|(at, _)| *at <= now) {
            self.fire(at, event);
        }
    }

    fn fire(&mut self, at: Millis, event: Event) {
        match event {
            Event::AgreementCustomer(i) => {
                let agreement = &mut self.agreements[i];
                agreement.customer_due = None;
                let Some(customer) = agreement.customer.clone() else {
                    return;
                };
                let phone = customer
                    .phone
                    .clone()
                    .or(agreement.new.mobile_phone_number.clone());
                let outcome = match customer.action {
                    Action::Accept => self.accept_agreement(i, phone, false, at),
                    Action::CardFails => self.accept_agreement(i, phone, true, at),
                    Action::Reject => self.reject_agreement(i, at),
                    Action::Ignore => Ok(()),
                };
                if let Err(e) = outcome {
                    tracing::debug!(agreement = %self.agreements[i].id, reason = ?e, "scripted subscriptions customer could not act");
                }
            }
            Event::OneOffCustomer(j) => {
                self.one_offs[j].customer_due = None;
                let agreement_id = self.one_offs[j].agreement_id.clone();
                let id = self.one_offs[j].id.clone();
                let Some(i) = self.any_agreement(&agreement_id) else {
                    return;
                };
                let Some(customer) = self.agreements[i].customer.clone() else {
                    return;
                };
                let phone = self.agreements[i].user.clone();
                let outcome = match customer.action {
                    Action::Accept => {
                        self.user_answer_one_off(&agreement_id, &id, phone.as_deref(), true, false, at)
                    }
                    Action::CardFails => {
                        self.user_answer_one_off(&agreement_id, &id, phone.as_deref(), true, true, at)
                    }
                    Action::Reject => {
                        self.user_answer_one_off(&agreement_id, &id, phone.as_deref(), false, false, at)
                    }
                    Action::Ignore => Ok(()),
                };
                if let Err(e) = outcome {
                    tracing::debug!(one_off = %id, reason = ?e, "scripted subscriptions customer could not act");
                }
            }
            Event::AgreementExpiry(i) => {
                self.agreements[i].set(AgreementStatus::Expired, at);
                self.end_one_offs(i, at);
            }
            Event::OneOffExpiry(j) => self.one_offs[j].set(OneOffStatus::Expired, at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fixtures::{DK_MERCHANT_ID, DK_PROVIDER, INVOICE_EXPIRED_CARD_PHONE};
    use crate::sim::subscriptions::input;
    use serde_json::json;

    const T0: Millis = 1_800_000_000_000;

    fn new(timeout: i64, one_off: bool) -> NewAgreement {
        let mut body = json!({
            "currency": "DKK", "country_code": "DK", "plan": "Brødklub", "amount": "49",
            "expiration_timeout_minutes": timeout, "external_id": "C-1",
            "links": [
                {"rel": "user-redirect", "href": "https://shop.example/done"},
                {"rel": "success-callback", "href": "https://shop.example/ok"},
                {"rel": "cancel-callback", "href": "https://shop.example/cancel"}
            ],
        });
        if one_off {
            body["one_off_payment"] = json!({"amount": "100", "external_id": "O-1", "description": "Start"});
        }
        input::agreement(body.to_string().as_bytes()).unwrap()
    }

    fn customer(action: Action, delay_ms: u32) -> Customer {
        Customer {
            phone: None,
            action,
            delay_ms,
            without_link: true,
        }
    }

    fn statuses<S: Copy>(h: &[(S, Millis)]) -> Vec<(S, Millis)> {
        h.iter().map(|(s, at)| (*s, at - T0)).collect()
    }

    #[test]
    fn acceptance_reserves_the_one_off_and_an_uncaptured_reservation_expires() {
        let mut book = Book::new(&Fixtures::default());
        book.customers.add(customer(Action::Accept, 2_000));
        let id = book
            .create_agreement(DK_MERCHANT_ID, DK_PROVIDER, new(5, true), T0)
            .unwrap()
            .id
            .clone();
        book.tick(T0 + RESERVATION_LIFETIME + 10 * MINUTE);
        let a = &book.agreements()[0];
        assert_eq!(a.id, id);
        assert_eq!(
            statuses(&a.history),
            [(AgreementStatus::Pending, 0), (AgreementStatus::Accepted, 2_000)]
        );
        let o = &book.one_offs()[0];
        assert_eq!(
            statuses(&o.history),
            [
                (OneOffStatus::Requested, 0),
                (OneOffStatus::Reserved, 2_000),
                (OneOffStatus::Expired, 2_000 + RESERVATION_LIFETIME)
            ]
        );
    }

    #[test]
    fn a_declined_card_keeps_the_agreement_pending_until_it_expires_and_cancels_the_one_off() {
        let mut book = Book::new(&Fixtures::default());
        book.create_agreement(DK_MERCHANT_ID, DK_PROVIDER, new(5, true), T0)
            .unwrap();
        let id = book.agreements()[0].id.clone();
        let phone = digits_only(INVOICE_EXPIRED_CARD_PHONE);
        let refused = book
            .user_answer_agreement(&id, &phone, true, T0 + 1_000)
            .unwrap_err();
        assert!(matches!(refused, SubsError::Precondition(_)));
        book.tick(T0 + 5 * MINUTE - 1);
        assert_eq!(book.agreements()[0].status, AgreementStatus::Pending);
        book.tick(T0 + 5 * MINUTE);
        assert_eq!(
            statuses(&book.agreements()[0].history).last(),
            Some(&(AgreementStatus::Expired, 5 * MINUTE))
        );
        assert_eq!(
            statuses(&book.one_offs()[0].history).last(),
            Some(&(OneOffStatus::Cancelled, 5 * MINUTE))
        );
        assert_eq!(book.agreements()[0].reservation_failures, 1);
    }

    #[test]
    fn an_agreement_whose_one_off_the_merchant_cancelled_cannot_be_accepted() {
        let mut book = Book::new(&Fixtures::default());
        book.create_agreement(DK_MERCHANT_ID, DK_PROVIDER, new(5, true), T0)
            .unwrap();
        let (a, o) = (book.agreements()[0].id.clone(), book.one_offs()[0].id.clone());
        book.cancel_one_off(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, T0)
            .unwrap();
        let refused = book
            .user_answer_agreement(&a, "4557373259", true, T0 + 1)
            .unwrap_err();
        assert!(matches!(refused, SubsError::Precondition(m) if m.contains("Cancelled")));
        assert_eq!(book.agreements()[0].status, AgreementStatus::Pending);
        assert_eq!(book.one_offs()[0].status, OneOffStatus::Cancelled);
    }

    #[test]
    fn refunds_add_up_to_the_captured_amount_within_ninety_days() {
        let mut book = Book::new(&Fixtures::default());
        book.customers.add(customer(Action::Accept, 0));
        book.create_agreement(DK_MERCHANT_ID, DK_PROVIDER, new(5, true), T0)
            .unwrap();
        book.tick(T0);
        let (a, o) = (book.agreements()[0].id.clone(), book.one_offs()[0].id.clone());
        book.capture(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, T0).unwrap();
        let refund = |amount: Option<i64>| NewRefund {
            amount_minor: amount,
            status_callback_url: "https://shop.example/r".into(),
            external_id: None,
        };
        let code = |e: RefundError| match e {
            RefundError::Declined { code, .. } => code,
            other => panic!("{other:?}"),
        };
        book.refund(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, refund(Some(4_000)), T0)
            .unwrap();
        let over = book
            .refund(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, refund(Some(6_001)), T0)
            .unwrap_err();
        assert_eq!(code(over), "60002");
        let rest = book
            .refund(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, refund(None), T0)
            .unwrap();
        assert_eq!(rest.amount_minor, 6_000);
        let full = book
            .refund(DK_MERCHANT_ID, DK_PROVIDER, &a, &o, refund(None), T0)
            .unwrap_err();
        assert_eq!(code(full), "60001");
        let late = book
            .refund(
                DK_MERCHANT_ID,
                DK_PROVIDER,
                &a,
                &o,
                refund(Some(10)),
                T0 + REFUND_WINDOW + 1,
            )
            .unwrap_err();
        assert_eq!(code(late), "60006");
    }
}
