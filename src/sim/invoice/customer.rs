//! Scripted customers of the control API: what the test user at a phone number does with the
//! next invoices that reach them (an InvoiceDirect pushed to their phone, or an InvoiceLink
//! they open), so that a test can say "the customer at +45… pays now" before the invoice
//! exists. Actions run on the virtual clock, `delayMs` after the invoice reached the user.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Swipes and pays at once: `paid`.
    PayNow,
    /// Schedules payment for `paymentDate` (default: the `DueDate`): `accepted`, then `paid`
    /// on that day.
    Schedule,
    /// Rejects: `rejected`. An InvoiceLink can only be rejected after it was accepted, so for
    /// a link the user first schedules it for its `DueDate`, then rejects it.
    Reject,
    /// Does nothing: the invoice expires after `DueDate` + 30 days.
    Ignore,
    /// Schedules payment like `schedule`, with a card that fails on the payment day: the
    /// invoice stays `accepted` until it expires.
    CardFails,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    /// A test user's phone number, as in the fixtures.
    pub phone: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_date: Option<NaiveDate>,
    /// Milliseconds of the virtual clock between the invoice reaching the user and the action.
    #[serde(default)]
    pub delay_ms: u32,
    /// This user is the one who opens every InvoiceLink's landing page (scans its QR).
    #[serde(default)]
    pub opens_links: bool,
}

/// The latest scripted customer for a phone, and the latest who opens links.
#[derive(Default)]
pub struct Customers(Vec<Customer>);

impl Customers {
    pub fn add(&mut self, customer: Customer) {
        self.0.push(customer);
    }

    pub fn list(&self) -> &[Customer] {
        &self.0
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn at_phone(&self, phone: &str) -> Option<&Customer> {
        self.0.iter().rev().find(|c| c.phone == phone)
    }

    pub fn link_opener(&self) -> Option<&Customer> {
        self.0.iter().rev().find(|c| c.opens_links)
    }
}
