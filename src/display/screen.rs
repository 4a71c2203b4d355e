//! What the customer display shows, independent of how it is drawn.
//!
//! The engine (or the daemon glue) only ever says *which* screen is current; wording,
//! language, layout and pixels are the display's business. Keeping this model free of
//! text means a screen can be compared, logged and coalesced cheaply.

use super::qr::QrSymbol;
use crate::money::{Currency, Minor};
use chrono::{NaiveDate, NaiveTime};

/// One state of the customer display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Screen {
    /// The till is closed or the daemon is starting; no payment can be taken.
    Closed,
    /// Open and waiting for the next sale. With `qr` (the point of sale's QR content) the code
    /// is shown so customers can check in before the total is known (MobilePay's recommended
    /// practice).
    Idle { qr: Option<String> },
    /// A payment is waiting for the customer: amount plus the QR code to scan, `qr` being
    /// exactly what the code encodes (the payment backend decides it, the display draws it).
    ScanToPay {
        amount: Minor,
        currency: Currency,
        qr: String,
    },
    /// A payment is waiting for the customer and the payment backend drew its QR code as an
    /// image: the amount, and the backend's own symbol once the display has fetched it.
    ScanBackendCode {
        amount: Minor,
        currency: Currency,
        code: BackendCode,
    },
    /// The customer has checked in; with an amount, the payment is waiting for their approval
    /// in the app.
    CheckedIn { amount: Option<(Minor, Currency)> },
    /// The payment is reserved or captured: the customer may leave with the goods.
    Approved { amount: Minor, currency: Currency },
    /// The payment did not go through for a reason the customer should know.
    Declined { reason: Reason },
    /// The payment was stopped before completion.
    Cancelled { reason: Reason },
    /// Money is being returned to the customer (`done == false`) or has been returned.
    Refund {
        amount: Minor,
        currency: Currency,
        done: bool,
    },
    /// Payments are impossible right now; the customer is asked to pay another way and the
    /// staff get a hint about what to check.
    Offline { hint: StaffHint },
    /// An invoice waits for the customer to scan its link: the amount, the day it is due and
    /// the QR code of `link` (exactly what the payment backend gave).
    InvoiceLink {
        amount: Minor,
        currency: Currency,
        due_date: NaiveDate,
        link: String,
    },
    /// An invoice was pushed to the customer's phone: they approve it in their MobilePay app.
    /// `phone` is the number as the engine masks it (all but the last digits hidden); there is
    /// no QR code, as scanning would not reach this invoice.
    InvoicePushed {
        amount: Minor,
        currency: Currency,
        phone: String,
    },
    /// The customer chose to pay the invoice on a later day (`payment_date` when MobilePay
    /// says which). **Not paid**: a success for the sale at the counter, never shown as a
    /// payment approved.
    InvoiceScheduled {
        amount: Minor,
        currency: Currency,
        payment_date: Option<NaiveDate>,
    },
    /// The invoice is issued and unpaid while the customer leaves with the goods: they pay by
    /// `due_date`.
    InvoiceOutstanding {
        amount: Minor,
        currency: Currency,
        due_date: NaiveDate,
    },
    /// A sign-up to a membership or subscription waits for the customer to scan the
    /// agreement's `link` (exactly what the payment backend gave) and accept it: the plan's
    /// name, its recurring price with how often it is due (`payments_per_year`; `None`: a
    /// flexible schedule), the first payment taken on accepting, and the time of day (the
    /// terminal's clock) by which to accept. A time, not a countdown: the display redraws
    /// when something happens, never on a clock.
    SignUpLink {
        plan: String,
        price: Option<Minor>,
        payments_per_year: Option<u32>,
        first_payment: Option<Minor>,
        currency: Currency,
        accept_by: Option<NaiveTime>,
        link: String,
    },
    /// The customer accepted the agreement; its first payment is being taken.
    SignUpAccepted {
        first_payment: Option<(Minor, Currency)>,
    },
    /// The customer is signed up to `plan` (when the display still knows it), its first
    /// payment taken.
    SignedUp {
        plan: Option<String>,
        first_payment: Option<(Minor, Currency)>,
    },
    /// The sign-up did not come about (rejected, not accepted in time, cancelled, the first
    /// payment refused).
    SignUpEnded { reason: Reason },
}

/// Where the display is with the QR code a payment backend drew.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendCode {
    /// The image is being fetched; the amount is shown without a code meanwhile.
    Loading,
    /// The backend's symbol, its modules read from the image, to be drawn as they are.
    Ready(QrSymbol),
    /// The image could not be fetched or read: the customer is asked to turn to the cashier,
    /// who takes the payment another way.
    Unavailable,
}

/// Why a payment was declined or cancelled, in terms a customer understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The customer rejected the payment in the app.
    RejectedByCustomer,
    /// The customer did not approve in time, or the payment expired.
    TimedOut,
    /// The cashier cancelled the payment at the till.
    CancelledByStaff,
    /// MobilePay refused the payment (limits, card problems, blocked user...).
    RefusedByMobilePay,
    /// The invoice was not paid before MobilePay let it expire.
    InvoiceExpired,
    /// The first payment of a sign-up was refused.
    FirstPaymentFailed,
    /// Nothing the customer can do about it: the cashier knows more.
    AskTheCashier,
    /// Anything else; the customer is asked to try again or pay another way.
    Other,
}

/// What the staff should look at when the terminal cannot take payments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StaffHint {
    /// No connection to MobilePay (network down, DNS, TLS).
    CheckNetwork,
    /// MobilePay answers with errors or not at all.
    MobilePayUnavailable,
    /// Credentials or PoS settings were refused; the configuration needs attention.
    CheckConfiguration,
    /// The cash register is not connected.
    CheckCashRegister,
    /// The daemon is recovering unfinished payments after a restart.
    Recovering,
    /// A payment needs a person to look at it; the details are in the terminal's log.
    NeedsAttention,
}

impl Screen {
    /// The content this screen's QR code is encoded from, if the display encodes one (a
    /// symbol the backend drew is shown as it is and has none here).
    pub fn qr(&self) -> Option<&str> {
        match self {
            Screen::Idle { qr } => qr.as_deref(),
            Screen::ScanToPay { qr, .. } => Some(qr),
            Screen::InvoiceLink { link, .. } | Screen::SignUpLink { link, .. } => Some(link),
            _ => None,
        }
    }

    /// A short stable name for logs and the status API.
    pub fn kind(&self) -> &'static str {
        match self {
            Screen::Closed => "closed",
            Screen::Idle { .. } => "idle",
            Screen::ScanToPay { .. } => "scan-to-pay",
            Screen::ScanBackendCode { code, .. } => match code {
                BackendCode::Loading => "code-loading",
                BackendCode::Ready(_) => "scan-to-pay",
                BackendCode::Unavailable => "code-unavailable",
            },
            Screen::CheckedIn { .. } => "checked-in",
            Screen::Approved { .. } => "approved",
            Screen::Declined { .. } => "declined",
            Screen::Cancelled { .. } => "cancelled",
            Screen::Refund { done: false, .. } => "refund-in-progress",
            Screen::Refund { done: true, .. } => "refund-done",
            Screen::Offline { .. } => "offline",
            Screen::InvoiceLink { .. } => "invoice-link",
            Screen::InvoicePushed { .. } => "invoice-pushed",
            Screen::InvoiceScheduled { .. } => "invoice-scheduled",
            Screen::InvoiceOutstanding { .. } => "invoice-outstanding",
            Screen::SignUpLink { .. } => "signup-link",
            Screen::SignUpAccepted { .. } => "signup-accepted",
            Screen::SignedUp { .. } => "signed-up",
            Screen::SignUpEnded { .. } => "signup-ended",
        }
    }
}
