//! The receipt shown in the app: the cash register's order lines in the Order Management
//! schema the create request takes as `receipt` (reference §A4).

use super::model::Currency as WireCurrency;
use crate::engine::backend::OrderLine;
use crate::money::Currency;
use serde_json::{json, Value};

/// Taxes are given in hundredths of a percent: 10000 is 100 %.
const RATE_SCALE: i64 = 10_000;

/// `{orderLines, bottomLine}` for `lines`, or `None` without lines (the app then shows the
/// payment description alone).
pub fn receipt(lines: &[OrderLine], currency: Currency, order_id: &str) -> Option<Value> {
    if lines.is_empty() {
        return None;
    }
    let currency = match currency {
        Currency::DKK => WireCurrency::Dkk,
        Currency::EUR => WireCurrency::Eur,
    };
    Some(json!({
        "orderLines": lines.iter().map(order_line).collect::<Vec<_>>(),
        "bottomLine": {
            "currency": currency.as_str(),
            "receiptNumber": order_id,
        },
    }))
}

/// One line. The amount without VAT is rounded to the nearest minor unit and the VAT is the
/// rest, so the two always add up to the line's total. The unit price is given only when the
/// total divides evenly by the quantity (a rounded unit price would show a receipt that does
/// not add up).
fn order_line(line: &OrderLine) -> Value {
    let total = line.total.0;
    let rate = i64::from(line.vat_rate);
    let excluding = (total * RATE_SCALE + (RATE_SCALE + rate) / 2) / (RATE_SCALE + rate);
    let mut value = json!({
        "name": line.name,
        "id": line.id,
        "totalAmount": total,
        "totalAmountExcludingTax": excluding,
        "totalTaxAmount": total - excluding,
        "taxRate": rate,
    });
    if let Some(quantity) = line.quantity.filter(|q| *q > 0 && total % i64::from(*q) == 0) {
        value["unitInfo"] = json!({
            "unitPrice": total / i64::from(quantity),
            "quantity": quantity.to_string(),
            "quantityUnit": "PCS",
        });
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Minor;

    fn line(total: i64, rate: u16, quantity: Option<u32>) -> OrderLine {
        OrderLine {
            id: "4711".into(),
            name: "Coffee".into(),
            quantity,
            total: Minor(total),
            vat_rate: rate,
        }
    }

    #[test]
    fn no_lines_no_receipt() {
        assert_eq!(receipt(&[], Currency::DKK, "o-1"), None);
    }

    #[test]
    fn vat_and_net_add_up_to_the_total() {
        let r = receipt(
            &[line(5000, 2500, Some(2)), line(999, 2400, None)],
            Currency::EUR,
            "o-1",
        )
        .unwrap();
        let first = &r["orderLines"][0];
        assert_eq!(first["totalAmount"], 5000);
        assert_eq!(first["totalAmountExcludingTax"], 4000);
        assert_eq!(first["totalTaxAmount"], 1000);
        assert_eq!(first["taxRate"], 2500);
        assert_eq!(first["unitInfo"]["unitPrice"], 2500);
        assert_eq!(first["unitInfo"]["quantity"], "2");
        let second = &r["orderLines"][1];
        // 999 / 1.24 = 805.6 → 806 net, 193 VAT.
        assert_eq!(second["totalAmountExcludingTax"], 806);
        assert_eq!(second["totalTaxAmount"], 193);
        assert!(second.get("unitInfo").is_none());
        assert_eq!(r["bottomLine"]["currency"], "EUR");
        assert_eq!(r["bottomLine"]["receiptNumber"], "o-1");
    }

    #[test]
    fn an_uneven_unit_price_is_left_out() {
        let r = receipt(&[line(1000, 0, Some(3))], Currency::DKK, "o").unwrap();
        assert!(r["orderLines"][0].get("unitInfo").is_none());
        assert_eq!(r["orderLines"][0]["totalTaxAmount"], 0);
    }
}
