//! The checks of a command's own fields, made before anything is stored or sent, so a bad
//! amount or text is refused with a clear code and never reaches the backend.

use crate::engine::api::{Command, PaymentSelector, RejectCode, MAX_COUNTER_WAIT_S};
use crate::engine::backend::{OrderLine, Payer};
use crate::engine::invoicing::InvoiceDelivery;
use crate::engine::text;
use crate::money::{above_maximum, Minor, MAX_MINOR};

/// Checks a command's own fields before anything is stored or sent.
pub fn validate(command: &Command) -> Result<(), (RejectCode, String)> {
    let text_ok = |s: &str| text::is_valid(s);
    let label_ok = |l: &Option<String>| l.as_deref().is_none_or(text_ok);
    let bad = |code: RejectCode, what: &str| Err((code, what.to_string()));
    match command {
        Command::Pay {
            amount,
            order_id,
            label,
            payer,
            order_lines,
            ..
        } => {
            check_sale(*amount, order_id, label)?;
            check_payer(payer)?;
            check_order_lines(order_lines, *amount)?;
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
        Command::SignUp {
            order_id,
            plan,
            description,
            price,
            payments_per_year,
            phone,
            first_payment,
            counter_wait_s,
            ..
        } => {
            if !text_ok(order_id) {
                return bad(
                    RejectCode::InvalidOrderId,
                    "the order id must be 1-36 valid characters",
                );
            }
            let shown = |s: &str, max: usize| {
                let count = s.chars().count();
                count > 0 && count <= max && !s.chars().any(char::is_control)
            };
            if !shown(plan, MAX_PLAN_CHARS) {
                return Err((
                    RejectCode::InvalidLabel,
                    format!("the plan must be 1-{MAX_PLAN_CHARS} characters without control characters"),
                ));
            }
            if description
                .as_deref()
                .is_some_and(|d| !shown(d, MAX_AGREEMENT_DESCRIPTION_CHARS))
            {
                return Err((
                    RejectCode::InvalidLabel,
                    format!(
                        "the description must be 1-{MAX_AGREEMENT_DESCRIPTION_CHARS} characters without control characters"
                    ),
                ));
            }
            if let Some(price) = price {
                check_amount(*price, "the price")?;
            }
            if let Some(amount) = first_payment {
                check_amount(*amount, "the first payment")?;
            }
            if payments_per_year.is_some_and(|n| !PAYMENTS_PER_YEAR.contains(&n)) {
                return Err((
                    RejectCode::InvalidRequest,
                    "payments a year must be one of 1, 2, 4, 12, 26, 52 or 365 (or none, for a flexible schedule)".into(),
                ));
            }
            if let Some(number) = phone {
                check_payer(&Payer::Phone {
                    number: number.clone(),
                })?;
            }
            if !(60..=MAX_COUNTER_WAIT_S).contains(counter_wait_s) {
                return Err((
                    RejectCode::InvalidRequest,
                    format!("the time at the counter of a sign-up must be 60-{MAX_COUNTER_WAIT_S} seconds"),
                ));
            }
        }
        Command::Invoice {
            amount,
            order_id,
            delivery,
            counter_wait_s,
            order_lines,
            label,
            ..
        } => {
            check_sale(*amount, order_id, label)?;
            if let InvoiceDelivery::Phone { number } = delivery {
                check_payer(&Payer::Phone {
                    number: number.clone(),
                })?;
            }
            // A code on the display is scanned while the customer is there: answered sooner,
            // the display would move on before anybody could scan it.
            let least = match delivery {
                InvoiceDelivery::Link => MIN_LINK_WAIT_S,
                InvoiceDelivery::Phone { .. } => 0,
            };
            if !(least..=MAX_COUNTER_WAIT_S).contains(counter_wait_s) {
                return Err((
                    RejectCode::InvalidRequest,
                    format!(
                        "the time at the counter must be {least}-{MAX_COUNTER_WAIT_S} seconds for this invoice \
                         (at least {MIN_LINK_WAIT_S} for one the customer scans)"
                    ),
                ));
            }
            check_order_lines(order_lines, *amount)?;
        }
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

/// A positive amount within the maximum; `what` names it in the message.
fn check_amount(amount: Minor, what: &str) -> Result<(), (RejectCode, String)> {
    if !amount.is_positive() {
        Err((RejectCode::InvalidAmount, format!("{what} must be positive")))
    } else if amount.0 > MAX_MINOR {
        Err((RejectCode::InvalidAmount, above_maximum(what)))
    } else {
        Ok(())
    }
}

/// The fields a sale and an invoice share: a positive amount, an order id and an optional
/// label of MobilePay's characters.
fn check_sale(amount: Minor, order_id: &str, label: &Option<String>) -> Result<(), (RejectCode, String)> {
    check_amount(amount, "the amount")?;
    if !text::is_valid(order_id) {
        return Err((
            RejectCode::InvalidOrderId,
            "the order id must be 1-36 valid characters".into(),
        ));
    }
    if !label.as_deref().is_none_or(text::is_valid) {
        return Err((
            RejectCode::InvalidLabel,
            "the label must be 1-36 valid characters".into(),
        ));
    }
    Ok(())
}

/// Shortest time at the counter for an invoice the customer scans on the display.
const MIN_LINK_WAIT_S: u32 = 30;

/// Longest plan name and agreement description the customer is shown (MobilePay
/// Subscriptions' limits).
const MAX_PLAN_CHARS: usize = 30;
const MAX_AGREEMENT_DESCRIPTION_CHARS: usize = 60;
/// The schedules an agreement may have: payments a year.
const PAYMENTS_PER_YEAR: [u32; 7] = [1, 2, 4, 12, 26, 52, 365];

/// Shortest and longest phone number: E.164 numbers have at most 15 digits, and with the
/// country code no number a backend pushes to has fewer than 10 (ePayment's own rule). The
/// lower bound catches the commonest slip, a local number typed without its country code.
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 10..=15;

/// Longest scanned personal QR code, in characters: well above the 255 ePayment takes today,
/// so a change of the codes' form does not lock customers out here, and low enough to keep the
/// journal record small. The backend checks the code itself.
const MAX_PERSONAL_QR_CHARS: usize = 1024;

/// Most order lines on one receipt; a longer receipt does not fit a cash register's frame
/// anyway, and the journal record stays small.
const MAX_ORDER_LINES: usize = 100;
const MAX_LINE_ID_CHARS: usize = 64;
const MAX_LINE_NAME_CHARS: usize = 100;
/// 100 % in hundredths of a percent.
const MAX_VAT_RATE: u16 = 10_000;

/// Whom a pushed payment goes to: a phone number of digits only with its country code (no
/// `+`, no leading `0`), or the content of a personal QR code as scanned.
fn check_payer(payer: &Payer) -> Result<(), (RejectCode, String)> {
    match payer {
        Payer::Scans | Payer::Sticker => Ok(()),
        Payer::Phone { number } => {
            let digits_only = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
            if !digits_only || !PHONE_DIGITS.contains(&number.len()) || number.starts_with('0') {
                return Err((
                    RejectCode::InvalidPhoneNumber,
                    "the phone number must be 10-15 digits: the country code (without + or 00) and the number, e.g. 4512345678".into(),
                ));
            }
            Ok(())
        }
        Payer::PersonalQr { code } => {
            let count = code.chars().count();
            if count == 0 || count > MAX_PERSONAL_QR_CHARS || code.chars().any(char::is_control) {
                return Err((
                    RejectCode::InvalidPersonalQr,
                    format!("the personal QR code must be 1-{MAX_PERSONAL_QR_CHARS} characters as scanned, without control characters (such as the scanner's line end)"),
                ));
            }
            Ok(())
        }
    }
}

/// A receipt the customer sees in the app: every line well formed and, together, exactly the
/// amount paid, because a receipt that does not add up is a wrong receipt in the customer's
/// hand. Lines are sales (totals of zero or more); returns and discounts are folded into the
/// lines' totals by the cash register.
fn check_order_lines(lines: &[OrderLine], amount: Minor) -> Result<(), (RejectCode, String)> {
    if lines.is_empty() {
        return Ok(());
    }
    let bad = |message: String| Err((RejectCode::InvalidOrderLines, message));
    if lines.len() > MAX_ORDER_LINES {
        return bad(format!(
            "a receipt has at most {MAX_ORDER_LINES} order lines, not {}",
            lines.len()
        ));
    }
    let text_ok = |s: &str, max: usize| {
        let count = s.chars().count();
        count > 0 && count <= max && !s.chars().any(char::is_control)
    };
    let mut sum: i64 = 0;
    for (index, line) in lines.iter().enumerate() {
        let n = index + 1;
        if !text_ok(&line.id, MAX_LINE_ID_CHARS) {
            return bad(format!(
                "order line {n}: the id must be 1-{MAX_LINE_ID_CHARS} characters without control characters"
            ));
        }
        if !text_ok(&line.name, MAX_LINE_NAME_CHARS) {
            return bad(format!(
                "order line {n}: the name must be 1-{MAX_LINE_NAME_CHARS} characters without control characters"
            ));
        }
        if line.quantity == Some(0) {
            return bad(format!(
                "order line {n}: the quantity must be at least 1 (leave it out for a line without a count)"
            ));
        }
        if line.total.0 < 0 {
            return bad(format!("order line {n}: the total must not be negative"));
        }
        if line.total.0 > MAX_MINOR {
            return bad(format!("order line {n}: {}", above_maximum("the total")));
        }
        if line.vat_rate > MAX_VAT_RATE {
            return bad(format!(
                "order line {n}: the VAT rate must be 0-{MAX_VAT_RATE} hundredths of a percent (2500 = 25 %)"
            ));
        }
        // Cannot overflow: at most 100 lines of at most MAX_MINOR each.
        sum += line.total.0;
    }
    if sum != amount.0 {
        return bad(format!(
            "the order lines add up to {}, not to the amount {amount}",
            Minor(sum)
        ));
    }
    Ok(())
}
