//! Messages of the native ECR protocol: the JSON carried in data frames.
//!
//! The wire types here are the protocol's own, not the engine's, so the protocol ECR vendors
//! implement stays stable while the engine evolves; [`super::session`] maps between them. The
//! engine's reason and refusal codes are reused as they are: they are its stable codes.
//! Receivers ignore fields they do not know, so fields can be added without a new version.

use crate::engine::{
    AgreementEndReason, CommandKind, CustomerInfo, DeclineReason, InvoiceEndReason, Outcome,
    RefundCancelReason, RejectCode,
};
use crate::money::{above_maximum, Currency, Minor, MAX_MINOR};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// The protocol version this implementation speaks (in `hello`).
pub const PROTOCOL_VERSION: u32 = 1;

/// A message from the cash register to mposd. Every message carries the ECR's `id`: for the
/// financial commands (`pay`, `prepare`, `ready`, `capture`, `cancel`, `refund`) it is the
/// command id that makes the command exactly-once; for the others it only ties the reply to
/// the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EcrMessage {
    Hello {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u32>,
        /// Free text naming the cash register software, for the daemon's log.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ecr: Option<String>,
    },
    Status {
        id: String,
    },
    Pay {
        id: String,
        #[serde(deserialize_with = "wire_amount")]
        amount: Minor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        order: String,
        #[serde(default, skip_serializing_if = "is_false")]
        reserve: bool,
        #[serde(flatten)]
        options: PaymentOptions,
    },
    Prepare {
        id: String,
        order: String,
    },
    Ready {
        id: String,
        prepared: String,
        #[serde(deserialize_with = "wire_amount")]
        amount: Minor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        #[serde(default, skip_serializing_if = "is_false")]
        reserve: bool,
        #[serde(flatten)]
        options: PaymentOptions,
    },
    Capture {
        id: String,
        payment: String,
        #[serde(
            default,
            deserialize_with = "optional_wire_amount",
            skip_serializing_if = "Option::is_none"
        )]
        amount: Option<Minor>,
    },
    Cancel {
        id: String,
        target: String,
    },
    Refund {
        id: String,
        /// The command id of the `pay`/`ready` that took the payment ...
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<String>,
        /// ... or, instead, the order id of the captured payment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<String>,
        #[serde(deserialize_with = "wire_amount")]
        amount: Minor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        refund_order: String,
    },
    Query {
        id: String,
        command: String,
    },
    /// Issue an invoice: "take the goods now, pay by the due date".
    Invoice {
        id: String,
        #[serde(deserialize_with = "wire_amount")]
        amount: Minor,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        order: String,
        /// Push the invoice to this phone number (country code and number, digits only);
        /// without it the customer scans the invoice's QR code on the customer display.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        /// The due date, `YYYY-MM-DD`; 14 days after today without it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        due: Option<chrono::NaiveDate>,
        /// Seconds the customer stays at the counter (30-600 for an invoice to scan, 0-600 for
        /// one pushed to a phone; default 120): the outcome says how the invoice stands when the
        /// customer pays or this time is up.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait: Option<u32>,
        /// A text for the customer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        /// The invoice's lines.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lines: Vec<ReceiptLine>,
    },
    /// Sign a customer up to an agreement (a membership or subscription).
    Signup {
        id: String,
        /// The cash register's reference for the sign-up (e.g. its member number).
        order: String,
        /// The plan's name, shown to the customer (1-30 characters).
        plan: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// The recurring price shown to the customer, in minor units; absent for a variable
        /// amount.
        #[serde(
            default,
            deserialize_with = "optional_wire_amount",
            skip_serializing_if = "Option::is_none"
        )]
        price: Option<Minor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
        /// Payments a year (1, 2, 4, 12, 26, 52, 365); absent for a flexible schedule.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_year: Option<u32>,
        /// The customer's phone number, to fill in MobilePay's page when the link is opened on
        /// another device.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        /// A first payment in minor units, taken when the customer accepts.
        #[serde(
            default,
            deserialize_with = "optional_wire_amount",
            skip_serializing_if = "Option::is_none"
        )]
        first_payment: Option<Minor>,
        /// Seconds the customer has to accept (60-600, default 300).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait: Option<u32>,
    },
}

/// Seconds a sign-up's customer has to accept when the `signup` message does not say.
pub const DEFAULT_SIGNUP_WAIT_S: u32 = 300;

/// Seconds an invoice's customer stays at the counter when the `invoice` message does not say.
pub const DEFAULT_INVOICE_WAIT_S: u32 = 120;

/// Optional settings of `pay` and `ready`. The in-store flow (`flow`, `phone`,
/// `personal_qr`) and the receipt (`lines`) are `pay`'s alone: a `ready` finishes a payment
/// the customer already checked in to, and the session refuses them there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOptions {
    /// Shown in MobilePay's transaction reporting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debit_card_disallowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_card_disallowed: Option<bool>,
    /// How the customer gets the payment; the scanned QR code unless the cash register says
    /// otherwise.
    #[serde(default, skip_serializing_if = "Flow::is_qr")]
    pub flow: Flow,
    /// The customer's phone number, typed at the till (with `flow` `phone`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The content of the customer's personal QR code, as the till's scanner read it (with
    /// `flow` `personal_qr`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_qr: Option<String>,
    /// The receipt shown in the customer's app, where the backend shows one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<ReceiptLine>,
}

/// How the customer gets a payment (`flow` of `pay`): the in-store flows of the payment
/// backends. Pushed flows need a backend that can push (not PoS V10).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// The customer scans the QR code on the customer display (or the printed sticker).
    #[default]
    Qr,
    /// The payment is pushed to the phone number in `phone`.
    Phone,
    /// The payment is pushed to the customer whose personal QR code is in `personal_qr`.
    PersonalQr,
    /// The payment is pushed to the customer who last checked in at the lane's printed sticker
    /// (ePayment lanes with a sticker).
    Sticker,
}

impl Flow {
    fn is_qr(&self) -> bool {
        *self == Flow::Qr
    }
}

/// One line of the receipt (`lines` of `pay`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLine {
    /// The article's number or code.
    pub id: String,
    pub name: String,
    /// How many; absent for a line without a count (a service, a weighed article).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// The line's total in minor units, VAT included, read like `amount`.
    #[serde(deserialize_with = "wire_amount")]
    pub total: Minor,
    /// The VAT rate in hundredths of a percent (2500 = 25 %). Wider than any valid rate, so
    /// an out-of-range rate is refused by the engine's check with the rule, not as a type
    /// error.
    pub vat_rate: u32,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// An amount from the cash register: an integer number of minor units. A number too large
/// for any amount is refused with the engine's own words for an amount above the maximum,
/// which name the limit, instead of a type error about `i64`. (`deserialize_any`, because a
/// message buffered for its `type` tag hands a number to an integer request as a type error.)
fn wire_amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Minor, D::Error> {
    deserializer.deserialize_any(WireAmount)
}

fn optional_wire_amount<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Minor>, D::Error> {
    struct Present(Minor);
    impl<'de> Deserialize<'de> for Present {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Present, D::Error> {
            wire_amount(deserializer).map(Present)
        }
    }
    Ok(Option::<Present>::deserialize(deserializer)?.map(|p| p.0))
}

struct WireAmount;

impl Visitor<'_> for WireAmount {
    type Value = Minor;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer amount in minor units")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Minor, E> {
        Ok(Minor(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Minor, E> {
        i64::try_from(value)
            .map(Minor)
            .map_err(|_| E::custom(above_maximum("the amount")))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Minor, E> {
        if value > MAX_MINOR as f64 {
            return Err(E::custom(above_maximum("the amount")));
        }
        Err(E::invalid_type(de::Unexpected::Float(value), &self))
    }
}

impl EcrMessage {
    pub fn id(&self) -> &str {
        match self {
            EcrMessage::Hello { id, .. }
            | EcrMessage::Status { id }
            | EcrMessage::Pay { id, .. }
            | EcrMessage::Prepare { id, .. }
            | EcrMessage::Ready { id, .. }
            | EcrMessage::Capture { id, .. }
            | EcrMessage::Cancel { id, .. }
            | EcrMessage::Refund { id, .. }
            | EcrMessage::Query { id, .. }
            | EcrMessage::Invoice { id, .. }
            | EcrMessage::Signup { id, .. } => id,
        }
    }
}

/// A message from mposd to the cash register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DaemonMessage {
    /// Reply to `hello`.
    Hello {
        id: String,
        protocol: u32,
        product: String,
        version: String,
        lane: String,
    },
    /// Reply to `status`.
    Status {
        id: String,
        lane: String,
        backend: Reachability,
        /// Commands of this lane still running, as far as the daemon has reported on them.
        running: Vec<String>,
        /// Things a person must look at (e.g. a reservation no command owns), oldest first.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        alarms: Vec<String>,
        /// The state of each merchant's consent for MobilePay Invoice and Subscriptions the
        /// terminal keeps (absent when it keeps none).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        consents: Vec<ConsentState>,
    },
    /// A financial command is stored in the daemon's journal (or recognised as a repeat);
    /// progress events and exactly one `outcome` follow. A command refused before it was
    /// stored gets no `accepted`, only its `rejected` outcome.
    Accepted { id: String },
    /// Progress of command `id`, or lane-wide news when `id` is absent.
    Event {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(flatten)]
        event: Event,
    },
    /// The final answer to command `id`. `resolved` marks the later answer to a command whose
    /// first outcome was `unknown`.
    Outcome {
        id: String,
        approved: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        resolved: bool,
        #[serde(flatten)]
        outcome: WireOutcome,
    },
    /// Reply to `query`.
    QueryResult {
        id: String,
        command: String,
        state: QueryState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<CommandKind>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refund_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agreement_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<QueriedOutcome>,
    },
    /// The message was not understood or could not be handed to the payment engine; nothing
    /// was done. `id` is absent when the message had no readable id.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: ErrorCode,
        message: String,
    },
}

/// One merchant's consent in `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    /// The merchant's VAT number.
    pub merchant: String,
    /// The products the consent is for (`invoice`, `subscriptions`).
    pub products: Vec<String>,
    /// `ok`, `consent_needed`, `not_given`, or `unknown` (the terminal cannot read its own
    /// record of the consent).
    pub state: String,
    /// In words: `ok, refreshed <time>`, `consent needed (<reason>)`, `not given`.
    pub detail: String,
}

/// Whether MobilePay is reachable: the `backend` field of a `status` reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachability {
    Online,
    Offline,
}

/// Where a queried command stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryState {
    Running,
    Finished,
    /// The id was never used (or its record is past the retention period).
    NotFound,
    /// The journal was rebuilt after damage and does not know the id; it may have been used
    /// before the damage. The cashier checks the sale before selling it again.
    InDoubt,
}

/// An outcome inside a `query_result`, with its `approved` flag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueriedOutcome {
    pub approved: bool,
    #[serde(flatten)]
    pub outcome: WireOutcome,
}

/// Progress events (`event` field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    WaitingForCustomer {
        payment_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amount: Option<Minor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        currency: Option<Currency>,
    },
    CustomerCheckedIn {
        payment_id: String,
        #[serde(flatten)]
        customer: WireCustomer,
    },
    Reserved {
        payment_id: String,
        amount: Minor,
        partial_capture_possible: bool,
    },
    Captured {
        payment_id: String,
        amount: Minor,
    },
    Declined {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
        reason: DeclineReason,
    },
    Cancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
    },
    RefundInProgress {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refund_id: Option<String>,
        amount: Minor,
    },
    Refunded {
        refund_id: String,
        amount: Minor,
    },
    OutcomeUnknown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
    },
    NeedsHuman {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
        detail: String,
    },
    /// An invoice is issued: the customer scans it on the display (`link` is what the QR code
    /// holds), or it was pushed to the phone (`phone`, masked but for its last four digits).
    InvoiceIssued {
        invoice_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        amount: Minor,
        currency: Currency,
        due_date: chrono::NaiveDate,
    },
    /// The customer scheduled the invoice's payment for a later day: **not paid**.
    InvoiceScheduled {
        invoice_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_date: Option<chrono::NaiveDate>,
    },
    InvoicePaid {
        invoice_id: String,
        amount: Minor,
    },
    InvoiceEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<String>,
        reason: InvoiceEndReason,
    },
    /// An agreement waits for the customer to scan its QR code (`link`) and accept it, until
    /// `expires_at` (milliseconds since the Unix epoch). `price` is due `per_year` times a year,
    /// as the `signup` command asked; without it the merchant charges on a flexible schedule.
    AgreementPending {
        agreement_id: String,
        link: String,
        plan: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<Minor>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        per_year: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_payment: Option<Minor>,
        currency: Currency,
        expires_at: u64,
    },
    /// The customer accepted; a first payment is being captured.
    AgreementAccepted {
        agreement_id: String,
    },
    SignedUp {
        agreement_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_payment: Option<Minor>,
    },
    AgreementEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agreement_id: Option<String>,
        reason: AgreementEndReason,
    },
    BackendOffline,
    BackendOnline,
    /// A customer checked in at the lane's printed sticker (`location`): a `pay` with
    /// `"flow":"sticker"` in the next minutes is pushed to them.
    StickerCheckIn {
        location: String,
    },
}

/// What the customer's app told about them at check-in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireCustomer {
    pub loyalty_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_receipt_token: Option<String>,
}

impl From<CustomerInfo> for WireCustomer {
    fn from(info: CustomerInfo) -> WireCustomer {
        WireCustomer {
            loyalty_ids: info.loyalty_ids,
            customer_token: info.customer_token,
            customer_receipt_token: info.customer_receipt_token,
        }
    }
}

/// The final answer to a command (`result` field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum WireOutcome {
    Captured {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    CapturePending {
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    Reserved {
        payment_id: String,
        amount: Minor,
        currency: Currency,
        partial_capture_possible: bool,
    },
    Paired {
        payment_id: String,
        #[serde(flatten)]
        customer: WireCustomer,
    },
    PartialCaptureRefused {
        payment_id: String,
        reserved: Minor,
        requested: Minor,
    },
    Declined {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
        reason: DeclineReason,
    },
    Cancelled {
        target: String,
    },
    Refunded {
        refund_id: String,
        payment_id: String,
        amount: Minor,
        currency: Currency,
    },
    RefundCancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refund_id: Option<String>,
        reason: RefundCancelReason,
    },
    Rejected {
        code: RejectCode,
        message: String,
    },
    NeedsHuman {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
        detail: String,
    },
    Unknown {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_id: Option<String>,
    },
    InvoicePaid {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
    },
    /// Scheduled by the customer for `payment_date`: **not paid**.
    InvoiceScheduled {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment_date: Option<chrono::NaiveDate>,
    },
    /// Issued and unpaid; due by `due_date`: **not paid**.
    InvoiceOutstanding {
        invoice_id: String,
        amount: Minor,
        currency: Currency,
        due_date: chrono::NaiveDate,
    },
    InvoiceEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invoice_id: Option<String>,
        reason: InvoiceEndReason,
    },
    /// The customer accepted the agreement; a first payment is captured.
    SignedUp {
        agreement_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_payment_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        first_payment: Option<Minor>,
        currency: Currency,
    },
    AgreementEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agreement_id: Option<String>,
        reason: AgreementEndReason,
    },
}

impl From<Outcome> for WireOutcome {
    fn from(outcome: Outcome) -> WireOutcome {
        match outcome {
            Outcome::Captured {
                payment_id,
                amount,
                currency,
            } => WireOutcome::Captured {
                payment_id,
                amount,
                currency,
            },
            Outcome::CapturePending {
                payment_id,
                amount,
                currency,
            } => WireOutcome::CapturePending {
                payment_id,
                amount,
                currency,
            },
            Outcome::Reserved {
                payment_id,
                amount,
                currency,
                partial_capture_possible,
            } => WireOutcome::Reserved {
                payment_id,
                amount,
                currency,
                partial_capture_possible,
            },
            Outcome::Paired { payment_id, customer } => WireOutcome::Paired {
                payment_id,
                customer: customer.into(),
            },
            Outcome::PartialCaptureRefused {
                payment_id,
                reserved,
                requested,
            } => WireOutcome::PartialCaptureRefused {
                payment_id,
                reserved,
                requested,
            },
            Outcome::Declined { payment_id, reason } => WireOutcome::Declined { payment_id, reason },
            Outcome::Cancelled { target } => WireOutcome::Cancelled {
                target: target.to_string(),
            },
            Outcome::Refunded {
                refund_id,
                payment_id,
                amount,
                currency,
            } => WireOutcome::Refunded {
                refund_id,
                payment_id,
                amount,
                currency,
            },
            Outcome::RefundCancelled { refund_id, reason } => {
                WireOutcome::RefundCancelled { refund_id, reason }
            }
            Outcome::Rejected { code, message } => WireOutcome::Rejected { code, message },
            Outcome::NeedsHuman { payment_id, detail } => WireOutcome::NeedsHuman { payment_id, detail },
            Outcome::Unknown { payment_id } => WireOutcome::Unknown { payment_id },
            Outcome::InvoicePaid {
                invoice_id,
                amount,
                currency,
            } => WireOutcome::InvoicePaid {
                invoice_id,
                amount,
                currency,
            },
            Outcome::InvoiceScheduled {
                invoice_id,
                amount,
                currency,
                payment_date,
            } => WireOutcome::InvoiceScheduled {
                invoice_id,
                amount,
                currency,
                payment_date,
            },
            Outcome::InvoiceOutstanding {
                invoice_id,
                amount,
                currency,
                due_date,
            } => WireOutcome::InvoiceOutstanding {
                invoice_id,
                amount,
                currency,
                due_date,
            },
            Outcome::InvoiceEnded { invoice_id, reason } => WireOutcome::InvoiceEnded { invoice_id, reason },
            Outcome::SignedUp {
                agreement_id,
                first_payment_id,
                first_payment,
                currency,
            } => WireOutcome::SignedUp {
                agreement_id,
                first_payment_id,
                first_payment,
                currency,
            },
            Outcome::AgreementEnded { agreement_id, reason } => {
                WireOutcome::AgreementEnded { agreement_id, reason }
            }
        }
    }
}

impl WireOutcome {
    /// Whether the customer has paid: the goods may be handed over.
    pub fn is_approved(&self) -> bool {
        matches!(
            self,
            WireOutcome::Captured { .. }
                | WireOutcome::CapturePending { .. }
                | WireOutcome::Reserved { .. }
                | WireOutcome::InvoicePaid { .. }
                | WireOutcome::SignedUp { .. }
        )
    }
}

/// Stable codes of `error` replies: the message itself was refused before the payment engine
/// saw it. Nothing was stored; the same message (same id) may be sent again once fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not a JSON object, lacks `type` or `id`, or a field has the wrong type.
    InvalidMessage,
    /// The `type` is not known to this daemon.
    UnknownType,
    /// The `id` (or a referenced command id) is not 1–64 printable ASCII characters without
    /// spaces.
    InvalidCommandId,
    /// `hello` asked for a protocol version this daemon does not speak.
    UnsupportedProtocol,
    /// The payment engine is not running or its journal cannot be written; the command was
    /// not accepted. Repeat it (same id) later.
    EngineUnavailable,
    /// mposd is registering its point of sale at MobilePay and takes no payments yet; the
    /// command was not stored. Repeat it (same id) later; queries are answered meanwhile.
    NotReady,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::InvalidCommandId => "invalid_command_id",
            ErrorCode::UnsupportedProtocol => "unsupported_protocol",
            ErrorCode::EngineUnavailable => "engine_unavailable",
            ErrorCode::NotReady => "not_ready",
        }
    }
}

/// A message that could not be read, with what the error reply needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub id: Option<String>,
    pub code: ErrorCode,
    pub message: String,
}

const ECR_TYPES: [&str; 11] = [
    "hello", "status", "pay", "prepare", "ready", "capture", "cancel", "refund", "query", "invoice", "signup",
];

/// Reads a message from the cash register. Never panics; every failure says what was wrong
/// and carries the message's id when one could be read, so the error reply can be matched.
pub fn parse_ecr_message(body: &[u8]) -> Result<EcrMessage, ParseError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| ParseError {
        id: None,
        code: ErrorCode::InvalidMessage,
        message: format!("the message is not JSON: {e}"),
    })?;
    let Some(object) = value.as_object() else {
        return Err(ParseError {
            id: None,
            code: ErrorCode::InvalidMessage,
            message: "the message is not a JSON object".into(),
        });
    };
    let id = object.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    let fail = |code, message: String| ParseError {
        id: id.clone(),
        code,
        message,
    };
    let Some(kind) = object.get("type").and_then(|v| v.as_str()).map(str::to_owned) else {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "the message has no \"type\" text field".into(),
        ));
    };
    if !ECR_TYPES.contains(&kind.as_str()) {
        return Err(fail(
            ErrorCode::UnknownType,
            format!("unknown message type {kind:?}"),
        ));
    }
    if id.is_none() {
        return Err(fail(
            ErrorCode::InvalidMessage,
            "the message has no \"id\" text field".into(),
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| fail(ErrorCode::InvalidMessage, format!("invalid {kind} message: {e}")))
}

/// Encodes a message for a frame. JSON from serde never contains the frame markers.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serialising these plain data types cannot fail (no maps with non-string keys).
    serde_json::to_vec(message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_pay_command() {
        let msg = parse_ecr_message(
            br#"{"type":"pay","id":"sale-1","amount":4995,"currency":"DKK","order":"R1-0001","label":"Shop","future_field":1}"#,
        )
        .unwrap();
        assert_eq!(
            msg,
            EcrMessage::Pay {
                id: "sale-1".into(),
                amount: Minor(4995),
                currency: Some(Currency::DKK),
                order: "R1-0001".into(),
                reserve: false,
                options: PaymentOptions {
                    label: Some("Shop".into()),
                    ..PaymentOptions::default()
                },
            }
        );
    }

    #[test]
    fn refuses_what_it_cannot_read_with_the_id_when_known() {
        let err = parse_ecr_message(b"{\"type\":\"pay\",\"id\":\"s\",\"amount\":49.95,\"order\":\"o\"}")
            .unwrap_err();
        assert_eq!(
            (err.id.as_deref(), err.code),
            (Some("s"), ErrorCode::InvalidMessage)
        );
        let err = parse_ecr_message(b"{\"type\":\"teleport\",\"id\":\"t\"}").unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownType);
        let err = parse_ecr_message(b"[1,2]").unwrap_err();
        assert_eq!((err.id, err.code), (None, ErrorCode::InvalidMessage));
        let err = parse_ecr_message(b"{\"type\":\"status\"}").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidMessage);
        let err = parse_ecr_message(b"\xff\xfe").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidMessage);
    }

    #[test]
    fn an_amount_too_large_for_any_payment_names_the_maximum() {
        for amount in ["99999999999999999999", "18446744073709551615", "1e300"] {
            for body in [
                format!(r#"{{"type":"pay","id":"s","amount":{amount},"order":"o"}}"#),
                format!(r#"{{"type":"capture","id":"c","payment":"s","amount":{amount}}}"#),
            ] {
                let err = parse_ecr_message(body.as_bytes()).unwrap_err();
                assert_eq!(err.code, ErrorCode::InvalidMessage, "{body}");
                assert!(
                    err.message.ends_with(
                        "the amount must be at most 100000000000.00 (10000000000000 in minor units)"
                    ),
                    "{body}: {}",
                    err.message
                );
            }
        }
        let err = parse_ecr_message(br#"{"type":"pay","id":"s","amount":49.95,"order":"o"}"#).unwrap_err();
        assert_eq!(
            err.message,
            "invalid pay message: invalid type: floating point `49.95`, expected an integer amount in minor units"
        );
        // Within i64, the engine decides (and refuses above the maximum with the same words).
        let big = parse_ecr_message(
            br#"{"type":"refund","id":"r","payment":"s","amount":9223372036854775807,"refund_order":"x"}"#,
        );
        assert!(
            matches!(
                big,
                Ok(EcrMessage::Refund {
                    amount: Minor(i64::MAX),
                    ..
                })
            ),
            "{big:?}"
        );
        for body in [
            &br#"{"type":"capture","id":"c","payment":"s"}"#[..],
            br#"{"type":"capture","id":"c","payment":"s","amount":null}"#,
        ] {
            assert!(matches!(
                parse_ecr_message(body),
                Ok(EcrMessage::Capture { amount: None, .. })
            ));
        }
    }

    #[test]
    fn daemon_messages_round_trip() {
        let messages = [
            DaemonMessage::Outcome {
                id: "sale-1".into(),
                approved: true,
                resolved: false,
                outcome: WireOutcome::Captured {
                    payment_id: "p".into(),
                    amount: Minor(4995),
                    currency: Currency::DKK,
                },
            },
            DaemonMessage::Event {
                id: Some("prep-1".into()),
                event: Event::CustomerCheckedIn {
                    payment_id: "p".into(),
                    customer: WireCustomer {
                        loyalty_ids: vec!["L1".into()],
                        customer_token: Some("tok".into()),
                        customer_receipt_token: None,
                    },
                },
            },
            DaemonMessage::Event {
                id: None,
                event: Event::BackendOffline,
            },
            DaemonMessage::QueryResult {
                id: "q".into(),
                command: "sale-1".into(),
                state: QueryState::Finished,
                kind: Some(CommandKind::Pay),
                payment_id: Some("p".into()),
                refund_id: None,
                invoice_id: None,
                agreement_id: None,
                outcome: Some(QueriedOutcome {
                    approved: false,
                    outcome: WireOutcome::Declined {
                        payment_id: Some("p".into()),
                        reason: DeclineReason::CancelledByUser,
                    },
                }),
            },
        ];
        for message in messages {
            let text = encode(&message);
            let back: DaemonMessage = serde_json::from_slice(&text).unwrap();
            assert_eq!(back, message, "{}", String::from_utf8_lossy(&text));
        }
        let text = String::from_utf8(encode(&DaemonMessage::Outcome {
            id: "sale-1".into(),
            approved: false,
            resolved: true,
            outcome: WireOutcome::Rejected {
                code: RejectCode::LaneBusy,
                message: "busy".into(),
            },
        }))
        .unwrap();
        assert_eq!(
            text,
            r#"{"type":"outcome","id":"sale-1","approved":false,"resolved":true,"result":"rejected","code":"lane_busy","message":"busy"}"#
        );
    }

    #[test]
    fn a_pushed_sale_with_receipt_lines_round_trips() {
        let body = r#"{"type":"pay","id":"sale-2","amount":4995,"order":"R1-0002","flow":"phone","phone":"4512345678","lines":[{"id":"5701234567890","name":"Rugbrød","quantity":2,"total":3990,"vat_rate":2500},{"id":"bag","name":"Bærepose","total":1005,"vat_rate":0}]}"#;
        let msg = parse_ecr_message(body.as_bytes()).unwrap();
        let EcrMessage::Pay { options, .. } = &msg else {
            panic!("{msg:?}")
        };
        assert_eq!(options.flow, Flow::Phone);
        assert_eq!(options.phone.as_deref(), Some("4512345678"));
        assert_eq!(
            options.lines[1],
            ReceiptLine {
                id: "bag".into(),
                name: "Bærepose".into(),
                quantity: None,
                total: Minor(1005),
                vat_rate: 0,
            }
        );
        assert_eq!(String::from_utf8(encode(&msg)).unwrap(), body);
        // The default flow is not written out, so a plain sale encodes as before.
        let plain =
            parse_ecr_message(br#"{"type":"pay","id":"s","amount":1,"order":"o","flow":"qr"}"#).unwrap();
        assert_eq!(
            String::from_utf8(encode(&plain)).unwrap(),
            r#"{"type":"pay","id":"s","amount":1,"order":"o"}"#
        );
        let scanned = br#"{"type":"pay","id":"s","amount":1,"order":"o","flow":"personal_qr","personal_qr":"https://qr.example/p/1"}"#;
        let msg = parse_ecr_message(scanned).unwrap();
        assert_eq!(encode(&msg), scanned);
    }

    #[test]
    fn unreadable_flows_and_lines_are_refused_with_the_id() {
        for (body, words) in [
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","flow":"bluetooth"}"#,
                "unknown variant `bluetooth`, expected one of `qr`, `phone`, `personal_qr`",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","phone":4512345678}"#,
                "invalid type: integer `4512345678`, expected a string",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","lines":{"id":"a"}}"#,
                "expected a sequence",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","lines":[{"id":"a","name":"b","total":0.5,"vat_rate":0}]}"#,
                "expected an integer amount in minor units",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","lines":[{"id":"a","name":"b","total":1}]}"#,
                "missing field `vat_rate`",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","lines":[{"id":"a","name":"b","quantity":-1,"total":1,"vat_rate":0}]}"#,
                "invalid value: integer `-1`, expected u32",
            ),
            (
                r#"{"type":"pay","id":"s","amount":1,"order":"o","lines":[{"id":"a","name":"b","total":1e300,"vat_rate":0}]}"#,
                "the amount must be at most 100000000000.00",
            ),
        ] {
            let err = parse_ecr_message(body.as_bytes()).unwrap_err();
            assert_eq!(
                (err.id.as_deref(), err.code),
                (Some("s"), ErrorCode::InvalidMessage),
                "{body}"
            );
            assert!(err.message.contains(words), "{body}: {}", err.message);
        }
    }
}
