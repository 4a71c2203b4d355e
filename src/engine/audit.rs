//! The engine's audit trail in the log: one info line when a command is accepted or refused,
//! one per step of its flow (waiting for the customer, reserved, captured, ...) and one for
//! its answer, each with the command id, the order id, MobilePay's payment id and the flow's
//! correlation id. Someone asking "did sale R1-0042 go through?" finds it in the journal by
//! any of them. Customer details (phone numbers, loyalty ids) are never logged.

use super::api::{CommandId, EventKind, Outcome, RejectCode};
use super::record::Record;

pub(crate) fn accepted(record: &Record) {
    tracing::info!(
        command = %record.id,
        kind = ?record.kind(),
        order_id = record.command.order_id(),
        payment_id = record.payment_id.as_deref(),
        correlation_id = %record.correlation_id,
        "command accepted"
    );
}

pub(crate) fn refused(id: &CommandId, code: RejectCode, message: &str) {
    tracing::info!(command = %id, %code, "command refused: {message}");
}

pub(crate) fn step(record: &Record, kind: &EventKind) {
    let (what, amount) = match kind {
        EventKind::WaitingForCustomer { amount, .. } => ("waiting for the customer", amount.map(|a| a.0)),
        EventKind::CustomerCheckedIn { .. } => ("customer checked in", None),
        EventKind::Reserved { amount, .. } => ("reserved", Some(amount.0)),
        EventKind::Captured { amount, .. } => ("captured", Some(amount.0)),
        EventKind::Declined { .. } => ("declined", None),
        EventKind::Cancelled { .. } => ("cancelled", None),
        EventKind::RefundInProgress { amount, .. } => ("refund in progress", Some(amount.0)),
        EventKind::Refunded { amount, .. } => ("refunded", Some(amount.0)),
        EventKind::InvoiceIssued { amount, .. } => ("invoice issued", Some(amount.0)),
        EventKind::InvoiceScheduled { .. } => ("invoice payment scheduled by the customer", None),
        EventKind::InvoicePaid { amount, .. } => ("invoice paid", Some(amount.0)),
        EventKind::InvoiceEnded { .. } => ("invoice ended unpaid", None),
        EventKind::AgreementPending { first_payment, .. } => {
            ("agreement waiting for the customer", first_payment.map(|a| a.0))
        }
        EventKind::AgreementAccepted { .. } => ("agreement accepted by the customer", None),
        EventKind::SignedUp { first_payment, .. } => ("signed up", first_payment.map(|a| a.0)),
        EventKind::AgreementEnded { .. } => ("agreement ended", None),
        EventKind::OutcomeUnknown { .. } => ("outcome unknown: MobilePay cannot be reached", None),
        EventKind::Resolved { outcome } => return answered(record, outcome, "resolved"),
        EventKind::NeedsHuman { .. } => ("needs a person", None),
        EventKind::BackendOffline => ("MobilePay cannot be reached", None),
        EventKind::BackendOnline => ("MobilePay answers again", None),
        EventKind::PromptChanged { .. } => ("the point of sale changed", None),
        EventKind::StickerCheckIn { .. } => ("customer checked in at the sticker", None),
        EventKind::Finished { outcome } => return answered(record, outcome, "answered"),
    };
    tracing::info!(
        command = %record.id,
        order_id = record.command.order_id(),
        payment_id = record.payment_id.as_deref(),
        refund_id = record.refund_id.as_deref(),
        invoice_id = record.invoice_id.as_deref(),
        agreement_id = record.agreement_id.as_deref(),
        correlation_id = %record.correlation_id,
        amount_minor = amount,
        "{what}"
    );
}

/// The first answer of a command (`answered`) or the real outcome of one answered `unknown`
/// (`resolved`).
pub(crate) fn answered(record: &Record, outcome: &Outcome, how: &str) {
    let result = match outcome {
        Outcome::Captured { .. } => "captured".to_string(),
        Outcome::CapturePending { .. } => "capture pending".to_string(),
        Outcome::Reserved { .. } => "reserved".to_string(),
        Outcome::Paired { .. } => "paired".to_string(),
        Outcome::PartialCaptureRefused { .. } => "partial capture refused".to_string(),
        Outcome::Declined { reason, .. } => format!("declined ({reason:?})"),
        Outcome::Cancelled { .. } => "cancelled".to_string(),
        Outcome::Refunded { .. } => "refunded".to_string(),
        Outcome::RefundCancelled { reason, .. } => format!("refund cancelled ({reason:?})"),
        Outcome::Rejected { code, .. } => format!("rejected ({code})"),
        Outcome::NeedsHuman { detail, .. } => format!("needs a person: {detail}"),
        Outcome::InvoicePaid { .. } => "invoice paid".to_string(),
        Outcome::InvoiceScheduled { payment_date, .. } => match payment_date {
            Some(day) => format!("invoice scheduled for {day} (not paid)"),
            None => "invoice scheduled (not paid)".to_string(),
        },
        Outcome::InvoiceOutstanding { due_date, .. } => format!("invoice issued, due {due_date} (not paid)"),
        Outcome::InvoiceEnded { reason, .. } => format!("invoice ended unpaid ({reason:?})"),
        Outcome::SignedUp { .. } => "signed up".to_string(),
        Outcome::AgreementEnded { reason, .. } => format!("agreement ended ({reason:?})"),
        Outcome::Unknown { .. } => "unknown".to_string(),
    };
    tracing::info!(
        command = %record.id,
        order_id = record.command.order_id(),
        payment_id = record.payment_id.as_deref(),
        refund_id = record.refund_id.as_deref(),
        invoice_id = record.invoice_id.as_deref(),
        correlation_id = %record.correlation_id,
        approved = outcome.is_approved(),
        "{how}: {result}"
    );
}
