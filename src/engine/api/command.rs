//! Commands and the ids a caller names them by.

use crate::engine::backend::CardRestrictions as Restrictions;
use crate::engine::backend::{OrderLine, Payer};
use crate::engine::invoicing::InvoiceDelivery;
use crate::money::{Currency, Minor};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest command id the engine accepts.
pub const COMMAND_ID_MAX_LEN: usize = 64;

/// A caller-chosen id for one command: 1–64 printable ASCII characters without spaces
/// (`!`..=`~`), so that it survives any line protocol and log line unchanged.
///
/// The caller must choose a fresh id for every new intent (a sale, a capture, a refund) and
/// reuse it only to repeat the same command, e.g. after its own restart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommandId(String);

/// Why a text is not a valid [`CommandId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandIdError {
    #[error("the command id is empty")]
    Empty,
    #[error("the command id is longer than 64 characters")]
    TooLong,
    #[error("the command id may only contain printable ASCII characters without spaces")]
    InvalidCharacter,
}

impl CommandId {
    pub fn new(text: impl Into<String>) -> Result<CommandId, CommandIdError> {
        let text = text.into();
        if text.is_empty() {
            return Err(CommandIdError::Empty);
        }
        if text.len() > COMMAND_ID_MAX_LEN {
            return Err(CommandIdError::TooLong);
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(CommandIdError::InvalidCharacter);
        }
        Ok(CommandId(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommandId {
    type Error = CommandIdError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        CommandId::new(text)
    }
}

impl From<CommandId> for String {
    fn from(id: CommandId) -> String {
        id.0
    }
}

impl std::str::FromStr for CommandId {
    type Err = CommandIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CommandId::new(s)
    }
}

impl fmt::Display for CommandId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which payment a refund is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentSelector {
    /// The payment made by this earlier `Pay` or `Ready` command of this engine.
    Command(CommandId),
    /// The captured payment with this order id, looked up at MobilePay
    /// (`GET /payments?orderId=…&state=Captured`); works for payments whose command the journal
    /// no longer holds.
    OrderId(String),
}

/// What a caller asks the engine to do.
///
/// Order ids, refund order ids and labels follow MobilePay's rules (at most 36 of its valid
/// characters); amounts must be positive. Invalid input is answered with
/// [`Outcome::Rejected`] before anything is stored or sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Take a payment: show the QR code, wait for the customer to approve, then capture the
    /// full amount. With `keep_reservation` the payment stays reserved and a later
    /// [`Command::Capture`] (or [`Command::Cancel`]) finishes it; the reservation lasts at most
    /// 7 days at MobilePay.
    ///
    /// `payer` says how the customer gets the payment (scanning by default; pushed to a phone
    /// where the backend can) and `order_lines` the receipt shown in the app. Both are left out
    /// of the stored form when they have their defaults, so a command stored before they existed
    /// keeps its derived key (see [`crate::engine::keys`]).
    Pay {
        amount: Minor,
        currency: Currency,
        order_id: String,
        keep_reservation: bool,
        restrictions: Option<Restrictions>,
        label: Option<String>,
        #[serde(default, skip_serializing_if = "Payer::is_scans")]
        payer: Payer,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        order_lines: Vec<OrderLine>,
    },
    /// Start a payment before the total is known, so the customer can check in first and their
    /// loyalty ids and customer tokens can be used to compute the total. Finishes with
    /// [`Outcome::Paired`]; continue with [`Command::Ready`] (or cancel).
    Prepare { order_id: String },
    /// Give the amount to a prepared payment (the `Prepare` command `target`) and finish it
    /// like [`Command::Pay`].
    Ready {
        target: CommandId,
        amount: Minor,
        currency: Currency,
        keep_reservation: bool,
        restrictions: Option<Restrictions>,
        label: Option<String>,
    },
    /// Capture a reservation made by the `Pay`/`Ready` command `target`: the full amount when
    /// `amount` is `None`, or less. A partial capture that MobilePay does not allow for this
    /// payment is answered with [`Outcome::PartialCaptureRefused`] and nothing is captured.
    Capture {
        target: CommandId,
        amount: Option<Minor>,
    },
    /// Cancel what the command `target` started: a payment still waiting for the customer, a
    /// prepared payment, a reservation, or a refund that is not paid out yet.
    Cancel { target: CommandId },
    /// Give money back for a captured payment. Several refunds per payment are allowed as long
    /// as their sum stays within the captured amount.
    Refund {
        payment: PaymentSelector,
        amount: Minor,
        currency: Currency,
        refund_order_id: String,
    },
    /// Issue an invoice: the customer takes the goods now and pays by `due_date` (default:
    /// [`DEFAULT_DUE_DAYS`] after the day the command is accepted). The customer scans the
    /// invoice's link on the customer display, or gets it pushed to the phone number typed at
    /// the till.
    ///
    /// The engine follows the invoice while the customer is at the counter (`counter_wait_s`)
    /// and answers how it stands then: paid, scheduled for a later day (**not** paid), issued
    /// (the customer pays later), or ended. It goes on following an unpaid invoice in the
    /// background until it is paid or ends, and announces that as the resolution.
    Invoice {
        amount: Minor,
        currency: Currency,
        order_id: String,
        delivery: InvoiceDelivery,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due_date: Option<NaiveDate>,
        counter_wait_s: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        order_lines: Vec<OrderLine>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    /// Sign a customer up to an agreement (a membership or subscription to `plan`): the
    /// customer scans its QR code and accepts in the app. With `first_payment`, that amount is
    /// reserved when the customer accepts, and the engine captures it at once.
    ///
    /// Answered when the customer accepted (and the first payment is captured), rejected, or did
    /// not accept within `counter_wait_s`: the engine then cancels the agreement, so that it
    /// cannot be accepted after the cashier has given up.
    SignUp {
        /// The cash register's reference for this sign-up (e.g. its member number), for the log
        /// and queries.
        order_id: String,
        plan: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// The recurring price shown to the customer; `None` for a variable amount.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<Minor>,
        currency: Currency,
        /// Payments a year: 1, 2, 4, 12, 26, 52 or 365; `None` for a flexible schedule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payments_per_year: Option<u32>,
        /// The customer's phone number (country code and number, digits only), to fill in the
        /// landing page when the customer opens the link on another device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_payment: Option<Minor>,
        counter_wait_s: u32,
    },
}

/// Days from the issue date to the due date of an invoice that names none.
pub const DEFAULT_DUE_DAYS: u32 = 14;

/// Longest `counter_wait_s` of an invoice or a sign-up: ten minutes at the counter.
pub const MAX_COUNTER_WAIT_S: u32 = 600;

/// The kind of a command, for listings and journal records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandKind {
    Pay,
    Prepare,
    Ready,
    Capture,
    Cancel,
    Refund,
    Invoice,
    SignUp,
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Pay { .. } => CommandKind::Pay,
            Command::Prepare { .. } => CommandKind::Prepare,
            Command::Ready { .. } => CommandKind::Ready,
            Command::Capture { .. } => CommandKind::Capture,
            Command::Cancel { .. } => CommandKind::Cancel,
            Command::Refund { .. } => CommandKind::Refund,
            Command::Invoice { .. } => CommandKind::Invoice,
            Command::SignUp { .. } => CommandKind::SignUp,
        }
    }

    /// The cash register's order id, for the commands that create a payment.
    pub fn order_id(&self) -> Option<&str> {
        match self {
            Command::Pay { order_id, .. }
            | Command::Prepare { order_id }
            | Command::Invoice { order_id, .. }
            | Command::SignUp { order_id, .. } => Some(order_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_ids_are_validated() {
        assert!(CommandId::new("sale-0001").is_ok());
        assert!(CommandId::new("x".repeat(64)).is_ok());
        assert_eq!(CommandId::new(""), Err(CommandIdError::Empty));
        assert_eq!(CommandId::new("x".repeat(65)), Err(CommandIdError::TooLong));
        assert_eq!(CommandId::new("a b"), Err(CommandIdError::InvalidCharacter));
        assert_eq!(CommandId::new("kø"), Err(CommandIdError::InvalidCharacter));
        assert!(serde_json::from_str::<CommandId>("\"a\\nb\"").is_err());
        let id: CommandId = serde_json::from_str("\"sale-1\"").unwrap();
        assert_eq!(id.as_str(), "sale-1");
    }
}
