//! Amounts in decimal major units (§0.8, §3.1): the docs' examples send quoted strings
//! (`"10.99"`), the OpenAPI types them as numbers and the refund example sends a number, so
//! both are read. Answers carry JSON numbers, as the OpenAPI types them.

use serde_json::{json, Value};

/// A string or JSON number with at most two decimals and a dot, in hundredths; `None` for
/// anything else (a comma, an exponent, three decimals, text).
pub fn minor_units(value: &Value) -> Option<i64> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !plain(int) || !plain(frac) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let whole: i64 = int.parse().ok()?;
    let cents: i64 = format!("{frac:0<2}").parse().ok()?;
    let minor = whole.checked_mul(100)?.checked_add(cents)?;
    Some(if negative { -minor } else { minor })
}

/// Hundredths as a JSON number in major units: `1099` is `10.99`, `1000` is `10`.
pub fn major(minor: i64) -> Value {
    if minor % 100 == 0 {
        json!(minor / 100)
    } else {
        json!(minor as f64 / 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_alike() {
        assert_eq!(minor_units(&json!("10.99")), Some(1_099));
        assert_eq!(minor_units(&json!(10.99)), Some(1_099));
        assert_eq!(minor_units(&json!("0.10")), Some(10));
        assert_eq!(minor_units(&json!(300000)), Some(30_000_000));
        assert_eq!(minor_units(&json!("-1.5")), Some(-150));
        assert_eq!(minor_units(&json!("2.500")), Some(250));
    }

    #[test]
    fn refuses_commas_exponents_and_fractions_of_a_cent() {
        for bad in [
            json!("10,99"),
            json!("1e3"),
            json!(1.001),
            json!("abc"),
            json!(""),
            json!(".5"),
            json!(null),
            json!(true),
        ] {
            assert_eq!(minor_units(&bad), None, "{bad}");
        }
    }

    #[test]
    fn answers_in_major_units() {
        assert_eq!(major(1_099), json!(10.99));
        assert_eq!(major(1_000), json!(10));
        assert_eq!(major(10), json!(0.1));
    }
}
