//! The in-store flows of a `pay` (and the same fields of an `invoice`): how the customer gets the payment (`flow`, `phone`,
//! `personal_qr`) and the receipt (`lines`), from their wire form to the engine's payer and
//! order lines.
//!
//! Only how the fields fit together is decided here (a flow and the field it needs, never two
//! customers); the values themselves are the engine's to check, so every caller of the engine
//! gets the same rules and reject codes.

use super::message::{ErrorCode, Flow, PaymentOptions, ReceiptLine};
use crate::engine::backend::{OrderLine, Payer};

/// Whom the payment goes to and the receipt's lines, or why the fields contradict each other.
pub fn sale(options: &PaymentOptions) -> Result<(Payer, Vec<OrderLine>), (ErrorCode, String)> {
    let refuse = |message: &str| Err((ErrorCode::InvalidMessage, message.to_string()));
    let payer = match (options.flow, &options.phone, &options.personal_qr) {
        (_, Some(_), Some(_)) => {
            return refuse("a payment goes to one customer: give \"phone\" or \"personal_qr\", not both")
        }
        (Flow::Qr, None, None) => Payer::Scans,
        (Flow::Phone, Some(number), None) => Payer::Phone {
            number: phone_number(number),
        },
        (Flow::PersonalQr, None, Some(code)) => Payer::PersonalQr { code: code.clone() },
        (Flow::Sticker, None, None) => Payer::Sticker,
        (Flow::Phone, None, _) => {
            return refuse("\"flow\":\"phone\" needs the customer's phone number in \"phone\"")
        }
        (Flow::PersonalQr, _, None) => {
            return refuse("\"flow\":\"personal_qr\" needs the scanned code in \"personal_qr\"")
        }
        // A customer's number or code without the flow that uses it: the flow is the cashier's
        // choice, so a field alone (e.g. from a customer record) never turns a sale into a
        // pushed one.
        (_, Some(_), None) => {
            return refuse("\"phone\" is given without \"flow\":\"phone\"; send both to push the payment to the phone, neither to let the customer scan")
        }
        (_, None, Some(_)) => {
            return refuse("\"personal_qr\" is given without \"flow\":\"personal_qr\"; send both to push the payment to the scanned customer, neither to let the customer scan")
        }
    };
    Ok((payer, options.lines.iter().map(order_line).collect()))
}

/// Whether a `ready` carries any of the fields only a `pay` may have.
pub fn has_sale_fields(options: &PaymentOptions) -> bool {
    options.flow != Flow::Qr
        || options.phone.is_some()
        || options.personal_qr.is_some()
        || !options.lines.is_empty()
}

/// A phone number as a cashier types it, in the engine's form: spaces and one leading `+` are
/// dropped (`+45 12 34 56 78` is `4512345678`). Anything else is left for the engine's check
/// to refuse with its rule.
pub fn phone_number(typed: &str) -> String {
    let digits: String = typed.chars().filter(|c| *c != ' ').collect();
    digits.strip_prefix('+').map(str::to_owned).unwrap_or(digits)
}

pub fn order_line(line: &ReceiptLine) -> OrderLine {
    OrderLine {
        id: line.id.clone(),
        name: line.name.clone(),
        quantity: line.quantity,
        total: line.total,
        // A rate too large for the engine's type is too large for its check as well, which
        // refuses it with the rule.
        vat_rate: u16::try_from(line.vat_rate).unwrap_or(u16::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecr::message::{parse_ecr_message, EcrMessage};
    use crate::money::Minor;

    fn options_of(body: &str) -> PaymentOptions {
        match parse_ecr_message(body.as_bytes()) {
            Ok(EcrMessage::Pay { options, .. }) => options,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn each_flow_takes_its_own_field() {
        let pay = |extra: &str| {
            sale(&options_of(&format!(
                r#"{{"type":"pay","id":"s","amount":1250,"order":"R1"{extra}}}"#
            )))
        };
        assert_eq!(pay(""), Ok((Payer::Scans, Vec::new())));
        assert_eq!(pay(r#","flow":"qr""#), Ok((Payer::Scans, Vec::new())));
        assert_eq!(
            pay(r#","flow":"phone","phone":"+45 12 34 56 78""#),
            Ok((
                Payer::Phone {
                    number: "4512345678".into()
                },
                Vec::new()
            ))
        );
        assert_eq!(
            pay(r#","flow":"phone","phone":"4512345678""#).unwrap().0,
            Payer::Phone {
                number: "4512345678".into()
            }
        );
        assert_eq!(
            pay(r#","flow":"personal_qr","personal_qr":" https://qr.example/p/1 ""#)
                .unwrap()
                .0,
            Payer::PersonalQr {
                code: " https://qr.example/p/1 ".into()
            },
            "the scanned content is passed on as it is"
        );
        assert_eq!(pay(r#","flow":"sticker""#).unwrap().0, Payer::Sticker);
        for (extra, words) in [
            (r#","flow":"phone""#, "needs the customer's phone number"),
            (
                r#","flow":"phone","personal_qr":"q""#,
                "needs the customer's phone number",
            ),
            (r#","flow":"personal_qr""#, "needs the scanned code"),
            (
                r#","flow":"personal_qr","phone":"4512345678""#,
                "needs the scanned code",
            ),
            (r#","phone":"4512345678""#, "without \"flow\":\"phone\""),
            (
                r#","flow":"sticker","phone":"4512345678""#,
                "without \"flow\":\"phone\"",
            ),
            (
                r#","flow":"qr","phone":"4512345678""#,
                "without \"flow\":\"phone\"",
            ),
            (r#","personal_qr":"q""#, "without \"flow\":\"personal_qr\""),
            (
                r#","flow":"phone","phone":"4512345678","personal_qr":"q""#,
                "not both",
            ),
            (r#","phone":"4512345678","personal_qr":"q""#, "not both"),
        ] {
            let (code, message) = pay(extra).unwrap_err();
            assert_eq!(code, ErrorCode::InvalidMessage, "{extra}");
            assert!(message.contains(words), "{extra}: {message}");
        }
    }

    #[test]
    fn phone_numbers_lose_spaces_and_the_plus_only() {
        for (typed, number) in [
            ("4512345678", "4512345678"),
            ("+4512345678", "4512345678"),
            (" +45 1234 5678 ", "4512345678"),
            ("++4512345678", "+4512345678"),
            ("45+12345678", "45+12345678"),
            ("0045 12345678", "004512345678"),
            ("45-12-34-56-78", "45-12-34-56-78"),
            ("", ""),
        ] {
            assert_eq!(phone_number(typed), number, "{typed:?}");
        }
    }

    #[test]
    fn receipt_lines_become_order_lines() {
        let options = options_of(
            r#"{"type":"pay","id":"s","amount":4995,"order":"R1","lines":[{"id":"5701234567890","name":"Rugbrød","quantity":2,"total":3990,"vat_rate":2500},{"id":"bag","name":"Bærepose","total":1005,"vat_rate":70000}]}"#,
        );
        let (payer, lines) = sale(&options).unwrap();
        assert_eq!(payer, Payer::Scans);
        assert_eq!(
            lines,
            vec![
                OrderLine {
                    id: "5701234567890".into(),
                    name: "Rugbrød".into(),
                    quantity: Some(2),
                    total: Minor(3990),
                    vat_rate: 2500,
                },
                OrderLine {
                    id: "bag".into(),
                    name: "Bærepose".into(),
                    quantity: None,
                    total: Minor(1005),
                    vat_rate: u16::MAX,
                },
            ]
        );
        assert!(has_sale_fields(&options));
        assert!(!has_sale_fields(&PaymentOptions::default()));
    }
}
