//! Scripted customers of the control API: what the customer does with an agreement (and the
//! one-offs later asked on it), so that a test can say "the next customer accepts" before the
//! agreement exists. A customer is bound to an agreement when it is created: the one
//! registered for the agreement's `mobile_phone_number`, else the oldest one registered for
//! "the next agreement" (used up by it).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Action {
    /// Swipes to accept: the agreement is `Accepted` (its one-off `Reserved`); a later one-off
    /// is reserved.
    Accept,
    /// Rejects: the agreement (or a later one-off) is `Rejected`.
    Reject,
    /// Does nothing: the agreement (or one-off) expires.
    Ignore,
    /// Tries to accept with a card that is declined: a one-off cannot be reserved, so an
    /// agreement with a one-off stays `Pending` until it expires; one without is accepted.
    CardFails,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Customer {
    /// `45…` without plus: acts on every agreement created with this `mobile_phone_number`
    /// (the latest entry for a phone counts). Without it: acts on the next agreement only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub action: Action,
    /// Milliseconds of the virtual clock between the link being opened and the action.
    #[serde(default)]
    pub delay_ms: u32,
    /// Acts `delayMs` after the agreement (or one-off) is created, without anyone opening its
    /// link: for tests whose display nobody scans.
    #[serde(default)]
    pub without_link: bool,
}

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

    /// The customer of a new agreement created with `phone`: the latest registered for that
    /// phone (kept), else the oldest registered for the next agreement (used up).
    pub fn bind(&mut self, phone: Option<&str>) -> Option<Customer> {
        if let Some(phone) = phone {
            if let Some(c) = self.0.iter().rev().find(|c| c.phone.as_deref() == Some(phone)) {
                return Some(c.clone());
            }
        }
        let next = self.0.iter().position(|c| c.phone.is_none())?;
        Some(self.0.remove(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(phone: Option<&str>, action: Action) -> Customer {
        Customer {
            phone: phone.map(str::to_string),
            action,
            delay_ms: 0,
            without_link: false,
        }
    }

    #[test]
    fn phone_customers_stay_and_next_customers_are_used_up_in_order() {
        let mut list = Customers::default();
        list.add(customer(None, Action::Accept));
        list.add(customer(None, Action::Reject));
        list.add(customer(Some("4512345678"), Action::Ignore));
        list.add(customer(Some("4512345678"), Action::CardFails));
        assert_eq!(list.bind(Some("4512345678")).unwrap().action, Action::CardFails);
        assert_eq!(list.bind(Some("4512345678")).unwrap().action, Action::CardFails);
        assert_eq!(list.bind(Some("4599999999")).unwrap().action, Action::Accept);
        assert_eq!(list.bind(None).unwrap().action, Action::Reject);
        assert_eq!(list.bind(None), None);
        assert_eq!(list.list().len(), 2);
    }
}
