//! How commands end: outcomes, their reasons and the stable reject codes, and a command as the
//! journal reports it.

use super::command::{Command, CommandId};
use crate::money::{Currency, Minor};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What the customer's MobilePay app told us about them once they checked in.
///
/// Empty `loyalty_ids` means "looked up, not enrolled"; the engine waits (re-polls) until
/// MobilePay has looked them up before reporting a check-in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerInfo {
    pub loyalty_ids: Vec<String>,
    pub customer_token: Option<String>,
    pub customer_receipt_token: Option<String>,
}

/// Why a payment ended without money being taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// The customer declined in the app (`CancelledByUser`).
    CancelledByUser,
    /// MobilePay cancelled: the customer did not react in time, or reserving on the card or
    /// account failed (`CancelledByMobilePay`).
    CancelledByMobilePay,
    /// The reservation was neither captured nor cancelled within its lifetime
    /// (`ExpiredAndCancelled`).
    ExpiredAndCancelled,
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// The payment was cancelled at MobilePay although this engine did not ask for it
    /// (`CancelledByClient` seen without our cancel, e.g. from another system of the merchant).
    CancelledElsewhere,
    /// Another payment is active on this point of sale and it is not one of ours that could be
    /// cleaned up (busy again after one cleanup attempt).
    PointOfSaleBusy,
    /// MobilePay was unreachable, so the command was answered [`Outcome::Unknown`]; once
    /// MobilePay answered again the engine cancelled the payment, because a cashier told
    /// "unknown" does not hand over the goods and the customer must not be charged.
    Abandoned,
}

/// Why a refund ended without money being paid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundCancelReason {
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// MobilePay could not carry it out (`CancelledByMobilePay`).
    CancelledByMobilePay,
    /// Cancelled at MobilePay without our asking (`CancelledByClient`).
    CancelledElsewhere,
    /// MobilePay was unreachable, the refund was answered [`Outcome::Unknown`], and the engine
    /// then cancelled it (a cashier told "unknown" settles the refund another way).
    Abandoned,
}

/// Why an invoice ended unpaid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceEndReason {
    /// The customer rejected it in the app.
    RejectedByCustomer,
    /// Nobody paid it in time (MobilePay lets an unpaid invoice expire 30 days after its due
    /// date), or a scheduled payment kept failing.
    Expired,
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// Cancelled at MobilePay without our asking (another system of the merchant).
    CancelledElsewhere,
    /// MobilePay was unreachable, so the command was answered [`Outcome::Unknown`]; the
    /// invoice that turned up afterwards was cancelled, because a cashier told "unknown"
    /// settles the sale another way.
    Abandoned,
}

/// Why an agreement did not come about, or ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementEndReason {
    /// The customer rejected it in the app.
    RejectedByCustomer,
    /// The customer did not accept it in time.
    Expired,
    /// The cashier cancelled it (a [`Command::Cancel`]).
    CancelledByCashier,
    /// Cancelled without our asking: by the customer in the app, or by another system of the
    /// merchant.
    CancelledElsewhere,
    /// The first payment was refused (reserving failed, or the customer rejected it).
    FirstPaymentFailed,
    /// MobilePay was unreachable, so the command was answered [`Outcome::Unknown`]; the
    /// agreement that turned up afterwards was cancelled.
    Abandoned,
}

/// Stable codes for commands refused before anything happened at MobilePay, or refused by
/// MobilePay as invalid. A rejected command changed nothing: the caller may fix the input and
/// send it again under a new command id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The amount is zero, negative or too large .
    InvalidAmount,
    /// The order id is empty, too long or has characters MobilePay refuses.
    InvalidOrderId,
    /// The refund order id is invalid.
    InvalidRefundOrderId,
    /// The payment label is invalid.
    InvalidLabel,
    /// This command id was already used for a different command.
    CommandIdReused,
    /// The target command id is not in the journal.
    UnknownTarget,
    /// The target command is of a kind this command cannot act on (e.g. capturing a refund).
    WrongTarget,
    /// The target is not in a state that allows this command (e.g. capturing a payment that is
    /// not reserved, readying one that is not prepared, cancelling a captured payment).
    WrongState,
    /// The capture amount exceeds the reserved amount.
    CaptureExceedsReservation,
    /// The refund's currency differs from the payment's.
    CurrencyMismatch,
    /// The refunds would exceed the captured amount.
    RefundTooHigh,
    /// The payment is too old to be refunded.
    PaymentTooOld,
    /// The store's balance cannot cover the refund.
    InsufficientBalance,
    /// The payment to refund is not captured.
    PaymentNotCaptured,
    /// No captured payment with that order id or payment id was found.
    PaymentNotFound,
    /// The point of sale is unknown to MobilePay.
    PointOfSaleNotFound,
    /// The store is not activated for payments.
    StoreNotActivated,
    /// MobilePay refused access: the payment or point of sale belongs to another integrator or
    /// merchant, or our credentials are refused.
    Forbidden,
    /// MobilePay refused the request as malformed; a configuration or software
    /// fault, reported with MobilePay's code in the message.
    InvalidRequest,
    /// Another command is running on this lane (one payment at a time per point of sale), or
    /// the lane's point of sale is being re-created or registered again at MobilePay; the
    /// message says which. Send the payment again in a moment.
    LaneBusy,
    /// The payment backend in use has no such feature (e.g. a check-in before the amount is
    /// known); the message says which.
    NotSupported,
    /// The phone number to push the payment to is not 10-15 digits with the country code.
    InvalidPhoneNumber,
    /// The scanned personal QR code is empty, too long or has control characters.
    InvalidPersonalQr,
    /// The receipt's order lines are invalid or do not add up to the amount; the message says
    /// which line and why.
    InvalidOrderLines,
    /// The phone number is not a MobilePay user's (an invoice cannot be sent to it).
    NotAMobilepayUser,
    /// The customer's MobilePay cannot receive the invoice now.
    CustomerUnavailable,
    /// The customer has had as many invoices from the merchant today as MobilePay allows.
    DailyLimitReached,
    /// The due date is in the past or too far ahead.
    InvalidDueDate,
    /// The merchant's invoice (or subscription) product is not set up for this lane: no
    /// consent configured, or no enabled issuer at MobilePay; the message says which.
    ProductNotSetUp,
}

impl RejectCode {
    /// The code's stable text, for line protocols and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::InvalidAmount => "invalid_amount",
            RejectCode::InvalidOrderId => "invalid_order_id",
            RejectCode::InvalidRefundOrderId => "invalid_refund_order_id",
            RejectCode::InvalidLabel => "invalid_label",
            RejectCode::CommandIdReused => "command_id_reused",
            RejectCode::UnknownTarget => "unknown_target",
            RejectCode::WrongTarget => "wrong_target",
            RejectCode::WrongState => "wrong_state",
            RejectCode::CaptureExceedsReservation => "capture_exceeds_reservation",
            RejectCode::CurrencyMismatch => "currency_mismatch",
            RejectCode::RefundTooHigh => "refund_too_high",
            RejectCode::PaymentTooOld => "payment_too_old",
            RejectCode::InsufficientBalance => "insufficient_balance",
            RejectCode::PaymentNotCaptured => "payment_not_captured",
            RejectCode::PaymentNotFound => "payment_not_found",
            RejectCode::PointOfSaleNotFound => "point_of_sale_not_found",
            RejectCode::StoreNotActivated => "store_not_activated",
            RejectCode::Forbidden => "forbidden",
            RejectCode::InvalidRequest => "invalid_request",
            RejectCode::LaneBusy => "lane_busy",
            RejectCode::NotSupported => "not_supported",
            RejectCode::InvalidPhoneNumber => "invalid_phone_number",
            RejectCode::InvalidPersonalQr => "invalid_personal_qr",
            RejectCode::InvalidOrderLines => "invalid_order_lines",
            RejectCode::NotAMobilepayUser => "not_a_mobilepay_user",
            RejectCode::CustomerUnavailable => "customer_unavailable",
            RejectCode::DailyLimitReached => "daily_limit_reached",
            RejectCode::InvalidDueDate => "invalid_due_date",
            RejectCode::ProductNotSetUp => "product_not_set_up",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The final answer to a command. Stored durably before the caller sees it, and returned again
/// for a repeated command id or a query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The customer paid and the money is taken (`Captured`).
    Captured {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The customer paid (`Reserved` at MobilePay) and the engine's decision to capture is
    /// stored, but MobilePay has not confirmed the capture yet; the reconciler keeps trying.
    /// The sale is approved: goods may be handed over.
    CapturePending {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The customer approved and the amount is reserved, as the command asked
    /// (`keep_reservation`). Finish it with [`Command::Capture`] or [`Command::Cancel`].
    Reserved {
        payment_id: String,
        amount: Minor,
        currency: Currency,
        partial_capture_possible: bool,
    },
    /// A prepared payment has a checked-in customer; send [`Command::Ready`] with the amount.
    Paired {
        payment_id: String,
        customer: CustomerInfo,
    },
    /// A partial capture was asked for, but MobilePay does not allow one for this payment (card
    /// scheme rules). Nothing was captured; the reservation stands. The caller decides: capture
    /// the full amount or cancel.
    PartialCaptureRefused {
        payment_id: String,
        reserved: Minor,
        requested: Minor,
    },
    /// The payment ended without money being taken.
    Declined {
        payment_id: Option<String>,
        reason: DeclineReason,
    },
    /// The target of a [`Command::Cancel`] is cancelled (or was already over without money
    /// taken).
    Cancelled { target: CommandId },
    /// The refund is paid out to the customer (`Captured`, or `ExpiredAndCaptured`).
    Refunded {
        refund_id: String,
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The refund ended without money being paid out.
    RefundCancelled {
        refund_id: Option<String>,
        reason: RefundCancelReason,
    },
    /// The command was refused; nothing happened. See [`RejectCode`].
    Rejected { code: RejectCode, message: String },
    /// Something only a person can resolve (e.g. MobilePay reports a state the engine cannot
    /// act on). The detail says what to check; the payment id is given when known.
    NeedsHuman {
        payment_id: Option<String>,
        detail: String,
    },
    /// The invoice is paid.
    InvoicePaid {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// The customer scheduled the invoice's payment for `payment_date`. **Not paid**: the
    /// goods are on credit, and a scheduled payment can still fail. The engine follows the
    /// invoice and announces how it ends as the resolution.
    InvoiceScheduled {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
        payment_date: Option<NaiveDate>,
    },
    /// The invoice is issued and the customer has it (on the display or in the app), but has
    /// not paid while at the counter. **Not paid**: payment is due by `due_date`. The engine
    /// follows the invoice and announces how it ends as the resolution.
    InvoiceOutstanding {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
        due_date: NaiveDate,
    },
    /// The invoice ended unpaid.
    InvoiceEnded {
        invoice_id: Option<String>,
        reason: InvoiceEndReason,
    },
    /// The customer accepted the agreement; its first payment, if it has one, is captured
    /// (`first_payment_id`, `first_payment`).
    SignedUp {
        agreement_id: String,
        first_payment_id: Option<String>,
        first_payment: Option<Minor>,
        currency: Currency,
    },
    /// The agreement did not come about, or was cancelled.
    AgreementEnded {
        agreement_id: Option<String>,
        reason: AgreementEndReason,
    },
    /// MobilePay could not be reached long enough to know how the command ended. Do not hand
    /// over goods. The engine keeps reconciling and emits [`EventKind::Resolved`]; a query
    /// then returns the resolved outcome.
    Unknown { payment_id: Option<String> },
}

impl Outcome {
    /// Whether the customer has paid (the goods may be handed over). An invoice that is only
    /// issued or scheduled is not paid.
    pub fn is_approved(&self) -> bool {
        matches!(
            self,
            Outcome::Captured { .. }
                | Outcome::CapturePending { .. }
                | Outcome::Reserved { .. }
                | Outcome::InvoicePaid { .. }
                | Outcome::SignedUp { .. }
        )
    }
}

/// Where a command stands, as [`EngineHandle::query`] reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandState {
    /// Still running; the final outcome will follow.
    Running,
    /// Finished with this outcome. An [`Outcome::Unknown`] may still be replaced by the
    /// resolved outcome later.
    Finished(Outcome),
}

/// A command as the journal knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandView {
    pub id: CommandId,
    pub command: Command,
    pub state: CommandState,
    /// MobilePay's payment id once known.
    pub payment_id: Option<String>,
    /// MobilePay's refund id once known.
    pub refund_id: Option<String>,
    /// MobilePay's invoice id once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    /// MobilePay's agreement id once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement_id: Option<String>,
    /// When the command was first accepted (milliseconds since the Unix epoch).
    pub accepted_at_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_json() {
        let outcome = Outcome::Declined {
            payment_id: Some("p".into()),
            reason: DeclineReason::CancelledByUser,
        };
        let text = serde_json::to_string(&outcome).unwrap();
        assert_eq!(serde_json::from_str::<Outcome>(&text).unwrap(), outcome);
        assert!(!outcome.is_approved());
        assert!(Outcome::CapturePending {
            payment_id: "p".into(),
            amount: Minor(100),
            currency: Currency::DKK
        }
        .is_approved());
    }
}
