//! The shape of a create request's `receipt` (the Order Management schema, reference §A4), so
//! that a till whose receipt the app could not show learns it from the simulator rather than
//! from a customer.

use super::problem::EpError;
use crate::backends::epayment::model::Currency;
use serde_json::{Map, Value};

/// Largest `taxRate`: hundredths of a percent, 10000 = 100 %.
const MAX_TAX_RATE: i64 = 10_000;

/// The units `unitInfo.quantityUnit` may name.
const QUANTITY_UNITS: [&str; 6] = ["PCS", "KG", "KM", "MINUTE", "LITRE", "KWH"];

/// Checks `receipt` for a payment in `currency`: `orderLines` (each with `name`, `id`,
/// `totalAmount`, `totalAmountExcludingTax`, `totalTaxAmount` and a `taxRate` of 0–10000, or
/// the deprecated `taxPercentage` of 0–100) and a `bottomLine` whose `currency` is the
/// payment's. The first failure is a schema error naming the field.
pub fn check(receipt: &Value, currency: &Currency) -> Result<(), EpError> {
    let receipt = object(receipt, "receipt")?;
    let lines = receipt
        .get("orderLines")
        .ok_or_else(|| EpError::field("receipt.orderLines", "receipt.orderLines is required"))?
        .as_array()
        .ok_or_else(|| EpError::field("receipt.orderLines", "receipt.orderLines must be an array"))?;
    for (n, line) in lines.iter().enumerate() {
        order_line(line, &format!("receipt.orderLines[{n}]"))?;
    }
    let bottom = receipt
        .get("bottomLine")
        .ok_or_else(|| EpError::field("receipt.bottomLine", "receipt.bottomLine is required"))?;
    let bottom = object(bottom, "receipt.bottomLine")?;
    let field = "receipt.bottomLine.currency";
    match bottom.get("currency").and_then(Value::as_str) {
        None => Err(EpError::field(field, format!("{field} is required"))),
        Some(c) if c != currency.as_str() => Err(EpError::field(
            field,
            format!("{field} must be the payment's currency {currency}, not {c}"),
        )),
        Some(_) => Ok(()),
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>, EpError> {
    value
        .as_object()
        .ok_or_else(|| EpError::field(field, format!("{field} must be an object")))
}

fn order_line(line: &Value, at: &str) -> Result<(), EpError> {
    let line = object(line, at)?;
    for name in ["name", "id"] {
        if !line.get(name).is_some_and(Value::is_string) {
            return Err(EpError::field(
                format!("{at}.{name}"),
                format!("{at}.{name} is required and must be a string"),
            ));
        }
    }
    for name in ["totalAmount", "totalAmountExcludingTax", "totalTaxAmount"] {
        if line.get(name).and_then(Value::as_i64).is_none() {
            return Err(EpError::field(
                format!("{at}.{name}"),
                format!("{at}.{name} is required and must be a whole number of minor units"),
            ));
        }
    }
    let (name, max) = match (line.get("taxRate"), line.get("taxPercentage")) {
        (Some(_), _) => ("taxRate", MAX_TAX_RATE),
        (None, Some(_)) => ("taxPercentage", 100),
        (None, None) => {
            return Err(EpError::field(
                format!("{at}.taxRate"),
                format!("{at}.taxRate is required"),
            ))
        }
    };
    if !line
        .get(name)
        .and_then(Value::as_i64)
        .is_some_and(|rate| (0..=max).contains(&rate))
    {
        return Err(EpError::field(
            format!("{at}.{name}"),
            format!("{at}.{name} must be a whole number from 0 to {max}"),
        ));
    }
    if let Some(unit) = line.get("unitInfo") {
        unit_info(unit, &format!("{at}.unitInfo"))?;
    }
    Ok(())
}

fn unit_info(unit: &Value, at: &str) -> Result<(), EpError> {
    let unit = object(unit, at)?;
    if unit.get("quantity").is_some_and(|q| !q.is_string()) {
        return Err(EpError::field(
            format!("{at}.quantity"),
            format!("{at}.quantity must be a string"),
        ));
    }
    if unit
        .get("quantityUnit")
        .is_some_and(|u| !u.as_str().is_some_and(|u| QUANTITY_UNITS.contains(&u)))
    {
        return Err(EpError::field(
            format!("{at}.quantityUnit"),
            format!("{at}.quantityUnit must be one of {}", QUANTITY_UNITS.join(", ")),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "orderLines": [{
                "name": "Coffee", "id": "4711", "totalAmount": 5000,
                "totalAmountExcludingTax": 4000, "totalTaxAmount": 1000, "taxRate": 2500,
                "unitInfo": {"unitPrice": 2500, "quantity": "2", "quantityUnit": "PCS"}
            }],
            "bottomLine": {"currency": "DKK", "receiptNumber": "o-1"}
        })
    }

    fn field_of(receipt: &Value) -> String {
        let error = check(receipt, &Currency::Dkk).unwrap_err();
        let problem = error.problem("/epayment/v1/payments").expect("a problem body");
        problem.extra_details.expect("the field")[0].name.clone()
    }

    #[test]
    fn a_receipt_of_the_reference_shape_passes() {
        assert!(check(&valid(), &Currency::Dkk).is_ok());
        let mut old = valid();
        old["orderLines"][0].as_object_mut().unwrap().remove("taxRate");
        old["orderLines"][0]["taxPercentage"] = json!(25);
        assert!(check(&old, &Currency::Dkk).is_ok());
    }

    #[test]
    fn each_broken_part_is_named() {
        let mut r = valid();
        r["orderLines"][0]
            .as_object_mut()
            .unwrap()
            .remove("totalTaxAmount");
        assert_eq!(field_of(&r), "receipt.orderLines[0].totalTaxAmount");
        let mut r = valid();
        r["orderLines"][0]["taxRate"] = json!(10001);
        assert_eq!(field_of(&r), "receipt.orderLines[0].taxRate");
        let mut r = valid();
        r["orderLines"][0]["taxRate"] = json!(-1);
        assert_eq!(field_of(&r), "receipt.orderLines[0].taxRate");
        let mut r = valid();
        r["orderLines"][0]["unitInfo"]["quantity"] = json!(2);
        assert_eq!(field_of(&r), "receipt.orderLines[0].unitInfo.quantity");
        let mut r = valid();
        r["bottomLine"]["currency"] = json!("EUR");
        assert_eq!(field_of(&r), "receipt.bottomLine.currency");
        let mut r = valid();
        r.as_object_mut().unwrap().remove("bottomLine");
        assert_eq!(field_of(&r), "receipt.bottomLine");
        assert_eq!(
            field_of(&json!({"bottomLine": {"currency": "DKK"}})),
            "receipt.orderLines"
        );
        assert_eq!(field_of(&json!("a receipt")), "receipt");
    }
}
