//! Invoices in the engine's own words: "take the goods now, pay by the due date".
//!
//! An invoice is issued at the counter in one of two ways (a link the customer scans from the
//! customer display, or a request pushed to the phone number typed at the till), and then
//! followed until it is paid or ends. A backend that issues invoices (MobilePay Invoice v1
//! today; the ePayment API's long-living payments could serve later) implements [`Invoicing`]
//! and says in [`InvoiceRules`] how a repeated create behaves, because that decides how the
//! engine recovers a create whose answer was lost (docs/engine.md).

use super::backend::{BackendError, CorrelationId, OrderLine};
use crate::money::{Currency, Minor};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::future::Future;

/// How the customer receives an invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum InvoiceDelivery {
    /// A link shown as a QR code on the customer display: whoever scans it may pay.
    Link,
    /// Pushed to this phone number (country code and number, digits only), typed at the till.
    Phone { number: String },
}

/// A new invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInvoice {
    /// The engine's own name for this invoice: derived from the command's key, so a repeated
    /// request carries it unchanged. A backend puts it where its API keeps the client's
    /// reference (MobilePay Invoice: the invoice number).
    pub reference: String,
    /// The cash register's order id (the customer's payment reference).
    pub order_id: String,
    pub amount: Minor,
    pub currency: Currency,
    pub delivery: InvoiceDelivery,
    /// The day the invoice was issued: the day the command was accepted, kept in the journal,
    /// so a repeat after midnight is still the same request.
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    /// The invoice's lines, adding up to `amount`; empty when the cash register sent none (a
    /// backend that needs a line makes one of the whole amount, without VAT details it does
    /// not know).
    pub lines: Vec<OrderLine>,
    /// A text for the customer.
    pub description: Option<String>,
}

/// A created invoice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedInvoice {
    pub invoice_id: String,
    /// What the customer scans, for [`InvoiceDelivery::Link`].
    pub link: Option<String>,
}

/// How far an invoice has come.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvoiceState {
    /// Issued; the customer has not acted on it.
    Issued,
    /// The customer scheduled the payment for a later day. **Not money**: the goods are on
    /// credit until it is paid, and a scheduled payment can still fail.
    Scheduled {
        payment_date: Option<NaiveDate>,
    },
    Paid,
    /// The customer rejected it.
    Rejected,
    /// Nobody paid it in time (or a scheduled payment kept failing).
    Expired,
    /// Cancelled by a merchant request (ours or another system's).
    Cancelled,
    /// A state this engine does not understand; it keeps asking, as for a failed request.
    Unrecognised(String),
}

impl InvoiceState {
    /// Nothing more will happen to it.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            InvoiceState::Paid | InvoiceState::Rejected | InvoiceState::Expired | InvoiceState::Cancelled
        )
    }
}

/// An invoice as the backend reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceInfo {
    pub invoice_id: String,
    pub state: InvoiceState,
}

/// How a backend treats a create request that repeats an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreateReplay {
    /// The request carries an idempotency key: a repeat answers with the invoice the first
    /// request made.
    Idempotent,
    /// No idempotency key: a repeat identical in every field is refused as a duplicate
    /// ([`super::backend::Refusal::AlreadyExists`]) without naming the invoice, and there is no
    /// way to look an invoice up by its reference (MobilePay Invoice v1).
    RefusedAsDuplicate,
}

/// What a backend's invoices can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvoiceRules {
    pub create_replay: CreateReplay,
    /// Most days from today to the due date.
    pub max_due_days: u32,
    /// Most status reads per minute for one invoice while the customer is at the counter.
    pub polls_per_minute: u32,
}

/// A backend that issues invoices. Every call names the command it belongs to (`correlation`).
pub trait Invoicing: Send + Sync + 'static {
    fn rules(&self) -> InvoiceRules;

    /// Issues an invoice (and, for [`InvoiceDelivery::Phone`], pushes it to the phone).
    fn create_invoice(
        &self,
        correlation: CorrelationId,
        invoice: &NewInvoice,
    ) -> impl Future<Output = Result<CreatedInvoice, BackendError>> + Send;

    /// Reads an invoice.
    fn invoice(
        &self,
        correlation: CorrelationId,
        invoice_id: &str,
    ) -> impl Future<Output = Result<InvoiceInfo, BackendError>> + Send;

    /// Cancels an invoice that is not paid yet (a scheduled payment is then void).
    fn cancel_invoice(
        &self,
        correlation: CorrelationId,
        invoice_id: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
}

/// The [`Invoicing`] of a backend that issues no invoices. It has no values, so such a
/// backend's [`super::backend::Backend::invoicing`] can only answer `None`.
#[derive(Debug)]
pub enum NoInvoicing {}

impl Invoicing for NoInvoicing {
    fn rules(&self) -> InvoiceRules {
        match *self {}
    }

    async fn create_invoice(&self, _: CorrelationId, _: &NewInvoice) -> Result<CreatedInvoice, BackendError> {
        match *self {}
    }

    async fn invoice(&self, _: CorrelationId, _: &str) -> Result<InvoiceInfo, BackendError> {
        match *self {}
    }

    async fn cancel_invoice(&self, _: CorrelationId, _: &str) -> Result<(), BackendError> {
        match *self {}
    }
}
