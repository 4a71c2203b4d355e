//! The checks of a create request that need nothing but the request and the sales unit, in
//! the order the simulator applies them (docs/simulator.md, "ePayment").

use super::problem::EpError;
use crate::backends::epayment::model::{
    CreatePaymentRequest, Currency, PaymentMethodType, QrFormat, QrImageFormat, UserFlow,
};
use crate::sim::fixtures::{EpaymentFixtures, SalesUnit};
use axum::http::StatusCode;
use serde_json::Value;

/// Largest amount of one payment, in minor units.
pub const MAX_AMOUNT: i64 = 65_000_000;
/// Default side of a PNG QR image, in pixels.
pub const DEFAULT_PNG_SIZE: u32 = 1024;

/// Whom a payment is offered to, once the request is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A push to this test user's phone (by number or by their scanned personal QR).
    Phone(String),
    /// Whoever scans the QR code or opens the link.
    Anyone,
}

/// A create request that passed every check.
#[derive(Clone, Debug)]
pub struct NewPayment {
    pub request: CreatePaymentRequest,
    pub target: Target,
    /// For `QR`: the format of `redirectUrl`, and the PNG size.
    pub qr: Option<(QrImageFormat, u32)>,
}

/// `^[a-zA-Z0-9-]{8,64}$`
pub fn is_valid_reference(reference: &str) -> bool {
    (8..=64).contains(&reference.len()) && reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `^\d{10,15}$`
pub fn is_valid_phone(phone: &str) -> bool {
    (10..=15).contains(&phone.len()) && phone.bytes().all(|b| b.is_ascii_digit())
}

/// Smallest amount of one payment in a currency, in minor units.
pub fn minimum_amount(currency: &Currency) -> i64 {
    match currency {
        Currency::Nok => 100,
        _ => 1,
    }
}

/// Checks the amount's JSON before typed parsing, so that a decimal or out-of-range value gets
/// its own code (`4040`) instead of a generic schema error.
pub fn check_amount_json(amount: &Value, field: &str) -> Result<(), EpError> {
    let Some(value) = amount.get("value") else {
        return Ok(());
    };
    match value.as_i64() {
        Some(v) if (0..=MAX_AMOUNT).contains(&v) => Ok(()),
        _ if value.is_number() => Err(EpError::bad(
            "4040",
            format!("{field}.value must be a whole number of minor units from 0 to {MAX_AMOUNT}"),
        )),
        _ => Ok(()),
    }
}

/// Who checked in with a customer token (at the sales unit, still valid), if anyone.
pub type CheckedIn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses and checks a create body for `unit`.
pub fn create_request(
    body: &Value,
    unit: &SalesUnit,
    fixtures: &EpaymentFixtures,
    checked_in: CheckedIn<'_>,
) -> Result<NewPayment, EpError> {
    if let Some(amount) = body.get("amount") {
        check_amount_json(amount, "amount")?;
    }
    for required in ["amount", "paymentMethod", "reference", "userFlow"] {
        if body.get(required).is_none_or(Value::is_null) {
            return Err(EpError::field(required, format!("{required} is required")));
        }
    }
    let request: CreatePaymentRequest = serde_json::from_value(body.clone())
        .map_err(|e| EpError::field("body", format!("The request body is invalid: {e}")))?;
    if !is_valid_reference(&request.reference) {
        return Err(EpError::field(
            "reference",
            "reference must match ^[a-zA-Z0-9-]{8,64}$",
        ));
    }
    let currency = &request.amount.currency;
    if !currency.is_known() {
        return Err(EpError::field(
            "amount.currency",
            "currency must be NOK, DKK or EUR",
        ));
    }
    if currency.as_str() != unit.currency {
        return Err(EpError::bad(
            "5040",
            format!("The sales unit takes {}, not {currency}", unit.currency),
        ));
    }
    if request.amount.value < minimum_amount(currency) {
        return Err(EpError::bad("6010", "The amount is too small"));
    }
    match &request.payment_method.kind {
        PaymentMethodType::Wallet => {}
        PaymentMethodType::Card | PaymentMethodType::CardPassthrough => {
            return Err(EpError::field(
                "paymentMethod.type",
                "Card payments are not available in the test environment",
            ))
        }
        PaymentMethodType::Other(_) => {
            return Err(EpError::field(
                "paymentMethod.type",
                "paymentMethod.type must be WALLET or CARD",
            ))
        }
    }
    if request
        .customer_interaction
        .as_ref()
        .is_some_and(|c| !c.is_known())
    {
        return Err(EpError::field(
            "customerInteraction",
            "customerInteraction must be CUSTOMER_PRESENT or CUSTOMER_NOT_PRESENT",
        ));
    }
    if let Some(description) = &request.payment_description {
        if !(3..=100).contains(&description.chars().count()) {
            return Err(EpError::field(
                "paymentDescription",
                "paymentDescription must be 3 to 100 characters",
            ));
        }
    }
    if let Some(metadata) = &request.metadata {
        let fits = metadata.len() <= 5
            && metadata
                .iter()
                .all(|(k, v)| k.chars().count() <= 100 && v.chars().count() <= 500);
        if !fits {
            return Err(EpError::field(
                "metadata",
                "metadata holds at most 5 pairs, keys up to 100 and values up to 500 characters",
            ));
        }
    }
    let has_order_lines = request
        .receipt
        .as_ref()
        .is_some_and(|r| r.get("orderLines").is_some());
    if has_order_lines && request.receipt_url.is_some() {
        return Err(EpError::field(
            "receiptUrl",
            "Give either receipt.orderLines or receiptUrl, not both",
        ));
    }
    if let Some(receipt) = &request.receipt {
        super::receipt::check(receipt, currency)?;
    }
    let target = customer_target(&request, unit, fixtures, checked_in)?;
    let qr = qr_format(&request)?;
    if request.user_flow == UserFlow::WebRedirect && request.return_url.is_none() {
        return Err(EpError::field(
            "returnUrl",
            "returnUrl is required for WEB_REDIRECT",
        ));
    }
    if request.expires_at.is_some() {
        return Err(EpError::bad(
            "5050",
            "The sales unit is not approved for long-living payments (expiresAt)",
        ));
    }
    Ok(NewPayment { request, target, qr })
}

fn customer_target(
    request: &CreatePaymentRequest,
    unit: &SalesUnit,
    fixtures: &EpaymentFixtures,
    checked_in: CheckedIn<'_>,
) -> Result<Target, EpError> {
    let customer = request.customer.clone().unwrap_or_default();
    let given = [
        customer.phone_number.is_some(),
        customer.personal_qr.is_some(),
        customer.customer_token.is_some(),
    ]
    .into_iter()
    .filter(|g| *g)
    .count();
    if given > 1 {
        return Err(EpError::field(
            "customer",
            "customer must have exactly one of phoneNumber, personalQr and customerToken",
        ));
    }
    match &request.user_flow {
        UserFlow::PushMessage => {}
        UserFlow::Other(flow) => {
            return Err(EpError::field(
                "userFlow",
                format!("userFlow {flow} is not PUSH_MESSAGE, NATIVE_REDIRECT, WEB_REDIRECT or QR"),
            ))
        }
        // The customer identifies themself by opening the link or scanning the code.
        _ => return Ok(Target::Anyone),
    }
    if !unit.push_allowed {
        return Err(EpError::code(
            StatusCode::BAD_REQUEST,
            "5080",
            "The sales unit is not allowed to use PUSH_MESSAGE",
        ));
    }
    if let Some(phone) = customer.phone_number {
        if !is_valid_phone(&phone) {
            return Err(EpError::bad(
                "4070",
                "customer.phoneNumber must be 10 to 15 digits with country code and no +",
            ));
        }
        return fixtures
            .user_by_phone(&phone)
            .map(|u| Target::Phone(u.phone_number.clone()))
            .ok_or_else(|| EpError::bad("7010", "Customer not found"));
    }
    if let Some(qr) = customer.personal_qr {
        if !(5..=255).contains(&qr.chars().count()) {
            return Err(EpError::bad(
                "4060",
                "customer.personalQr must be 5 to 255 characters",
            ));
        }
        return fixtures
            .user_by_personal_qr(&qr)
            .map(|u| Target::Phone(u.phone_number.clone()))
            .ok_or_else(|| EpError::bad("7010", "Customer not found"));
    }
    if let Some(token) = customer.customer_token {
        return checked_in(&token)
            .map(Target::Phone)
            .ok_or_else(|| EpError::bad("4050", "customer.customerToken is not valid"));
    }
    Err(EpError::bad("4140", "PUSH_MESSAGE needs a customer"))
}

fn qr_format(request: &CreatePaymentRequest) -> Result<Option<(QrImageFormat, u32)>, EpError> {
    let is_qr = request.user_flow == UserFlow::Qr;
    match (&request.qr_format, is_qr) {
        (Some(_), false) => Err(EpError::field("qrFormat", "qrFormat is only for userFlow QR")),
        (None, false) => Ok(None),
        (None, true) => Ok(Some((QrImageFormat::Svg, DEFAULT_PNG_SIZE))),
        (Some(QrFormat { format, size }), true) => {
            if !format.is_known() {
                return Err(EpError::field(
                    "qrFormat.format",
                    "qrFormat.format must be TEXT/TARGETURL, IMAGE/SVG+XML or IMAGE/PNG",
                ));
            }
            if size.is_some_and(|s| !(100..=2000).contains(&s)) {
                return Err(EpError::field(
                    "qrFormat.size",
                    "qrFormat.size must be 100 to 2000",
                ));
            }
            Ok(Some((format.clone(), size.unwrap_or(DEFAULT_PNG_SIZE))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_follow_the_pattern() {
        assert!(is_valid_reference("till-1-0001"));
        assert!(is_valid_reference(&"a".repeat(64)));
        assert!(!is_valid_reference("short-1"));
        assert!(!is_valid_reference(&"a".repeat(65)));
        assert!(!is_valid_reference("till_1_0001"));
    }

    #[test]
    fn decimal_amounts_get_4040() {
        let err = check_amount_json(&serde_json::json!({"value": 10.5}), "amount").unwrap_err();
        assert_eq!(err.error_code(), Some("4040"));
        assert!(check_amount_json(&serde_json::json!({"value": 100}), "amount").is_ok());
    }
}
