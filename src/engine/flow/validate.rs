//! The checks of a command's own fields, made before anything is stored or sent, so a bad
//! amount or text is refused with a clear code and never reaches the backend.

use crate::engine::api::{Command, PaymentSelector, RejectCode};
use crate::engine::text;
use crate::money::{above_maximum, Minor, MAX_MINOR};

/// Checks a command's own fields before anything is stored or sent.
pub fn validate(command: &Command) -> Result<(), (RejectCode, String)> {
    let check_amount = |a: Minor, what: &str| {
        if !a.is_positive() {
            Err((RejectCode::InvalidAmount, format!("{what} must be positive")))
        } else if a.0 > MAX_MINOR {
            Err((RejectCode::InvalidAmount, above_maximum(what)))
        } else {
            Ok(())
        }
    };
    let text_ok = |s: &str| text::is_valid(s);
    let label_ok = |l: &Option<String>| l.as_deref().is_none_or(text_ok);
    let bad = |code: RejectCode, what: &str| Err((code, what.to_string()));
    match command {
        Command::Pay {
            amount,
            order_id,
            label,
            ..
        } => {
            check_amount(*amount, "the amount")?;
            if !text_ok(order_id) {
                return bad(
                    RejectCode::InvalidOrderId,
                    "the order id must be 1-36 valid characters",
                );
            }
            if !label_ok(label) {
                return bad(
                    RejectCode::InvalidLabel,
                    "the label must be 1-36 valid characters",
                );
            }
        }
        Command::Prepare { order_id } => {
            if !text_ok(order_id) {
                return bad(
                    RejectCode::InvalidOrderId,
                    "the order id must be 1-36 valid characters",
                );
            }
        }
        Command::Ready { amount, label, .. } => {
            check_amount(*amount, "the amount")?;
            if !label_ok(label) {
                return bad(
                    RejectCode::InvalidLabel,
                    "the label must be 1-36 valid characters",
                );
            }
        }
        Command::Capture { amount, .. } => {
            if let Some(a) = amount {
                check_amount(*a, "the capture amount")?;
            }
        }
        Command::Cancel { .. } => {}
        Command::Refund {
            amount,
            refund_order_id,
            payment,
            ..
        } => {
            check_amount(*amount, "the refund amount")?;
            if !text_ok(refund_order_id) {
                return bad(
                    RejectCode::InvalidRefundOrderId,
                    "the refund order id must be 1-36 valid characters",
                );
            }
            if let PaymentSelector::OrderId(order) = payment {
                if !text_ok(order) {
                    return bad(
                        RejectCode::InvalidOrderId,
                        "the order id must be 1-36 valid characters",
                    );
                }
            }
        }
    }
    Ok(())
}
