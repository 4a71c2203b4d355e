//! Money as integer minor units.
//!
//! Amounts are kept in øre/cents (`Minor`) everywhere in mposd so that no arithmetic on money
//! ever happens in floating point. MobilePay's wire format is a JSON number in major units
//! (`12.5` = 12.50 DKK); [`MajorAmount`] is that wire value and is only converted at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in minor units (1/100 of the currency unit for DKK and EUR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Minor(pub i64);

impl Minor {
    /// Parses a human amount such as `49.95`, `49,95`, `49` or `0.5` (at most two decimals).
    pub fn parse_major(text: &str) -> Result<Minor, AmountError> {
        let text = text.trim().replace(',', ".");
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text.as_str(), ""),
        };
        let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if whole.is_empty() && frac.is_empty() || !digits_ok(whole) || !digits_ok(frac) {
            return Err(AmountError::NotANumber);
        }
        if frac.len() > 2 {
            return Err(AmountError::TooManyDecimals);
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| AmountError::TooLarge)?
        };
        let frac: i64 = format!("{frac:0<2}")
            .parse()
            .map_err(|_| AmountError::NotANumber)?;
        whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .filter(|m| *m <= MAX_MINOR)
            .map(Minor)
            .ok_or(AmountError::TooLarge)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }
}

impl fmt::Display for Minor {
    /// Formats as major units with two decimals, e.g. `49.95`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

/// Largest amount mposd handles: 10^13 minor units. Far beyond any checkout, and small enough
/// that every value converts exactly through the wire's binary floating point representation.
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// The refusal of an amount above [`MAX_MINOR`]; `what` names the amount ("the refund
/// amount"). It names the maximum in both units, so the cashier and the cash register's
/// developer both see the limit instead of a puzzling "invalid".
pub fn above_maximum(what: &str) -> String {
    format!(
        "{what} must be at most {} ({MAX_MINOR} in minor units)",
        Minor(MAX_MINOR)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("the amount is not a number")]
    NotANumber,
    #[error("the amount has more than two decimals")]
    TooManyDecimals,
    #[error("the amount is too large")]
    TooLarge,
}

/// An amount as MobilePay puts it on the wire: a JSON number in major units.
///
/// Deserialising accepts any JSON number, so that a request with a malformed amount can be
/// answered with MobilePay's own "invalid amount" code instead of a generic parse error;
/// [`MajorAmount::to_minor`] then decides whether the value is a valid amount.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MajorAmount(serde_json::Number);

impl MajorAmount {
    pub fn from_minor(minor: Minor) -> MajorAmount {
        // Dividing an integer below 2^53 by 100 gives the double nearest to the decimal value,
        // and serde_json prints the shortest text that reads back as that double: "49.95".
        let value = minor.0 as f64 / 100.0;
        MajorAmount(serde_json::Number::from_f64(value).unwrap_or_else(|| 0.into()))
    }

    /// The amount in minor units, or why it is not a valid amount (more than two decimals,
    /// out of range). The sign is kept; callers decide whether zero or negative is allowed.
    pub fn to_minor(&self) -> Result<Minor, AmountError> {
        if let Some(i) = self.0.as_i64() {
            return i
                .checked_mul(100)
                .filter(|m| m.abs() <= MAX_MINOR)
                .map(Minor)
                .ok_or(AmountError::TooLarge);
        }
        let value = self.0.as_f64().ok_or(AmountError::NotANumber)?;
        if !value.is_finite() {
            return Err(AmountError::NotANumber);
        }
        let scaled = (value * 100.0).round();
        if scaled.abs() > MAX_MINOR as f64 {
            return Err(AmountError::TooLarge);
        }
        let minor = scaled as i64;
        if minor as f64 / 100.0 != value {
            return Err(AmountError::TooManyDecimals);
        }
        Ok(Minor(minor))
    }
}

/// The currencies MobilePay PoS handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    DKK,
    EUR,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::DKK => "DKK",
            Currency::EUR => "EUR",
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "DKK" => Ok(Currency::DKK),
            "EUR" => Ok(Currency::EUR),
            other => Err(format!("unknown currency {other:?} (expected DKK or EUR)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_amounts() {
        assert_eq!(Minor::parse_major("49.95"), Ok(Minor(4995)));
        assert_eq!(Minor::parse_major("49,9"), Ok(Minor(4990)));
        assert_eq!(Minor::parse_major("7"), Ok(Minor(700)));
        assert_eq!(Minor::parse_major(".5"), Ok(Minor(50)));
        assert_eq!(Minor::parse_major("1.234"), Err(AmountError::TooManyDecimals));
        assert_eq!(Minor::parse_major("-1"), Err(AmountError::NotANumber));
        assert_eq!(Minor::parse_major(""), Err(AmountError::NotANumber));
        assert_eq!(
            Minor::parse_major("99999999999999999999"),
            Err(AmountError::TooLarge)
        );
        assert_eq!(Minor(4995).to_string(), "49.95");
        assert_eq!(Minor(5).to_string(), "0.05");
    }

    #[test]
    fn wire_amounts_round_trip_exactly() {
        for minor in [1, 5, 10, 99, 1250, 4995, 123_456_789, MAX_MINOR - 1] {
            let wire = MajorAmount::from_minor(Minor(minor));
            let text = serde_json::to_string(&wire).unwrap();
            let back: MajorAmount = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_minor(), Ok(Minor(minor)), "{text}");
        }
        assert_eq!(
            serde_json::to_string(&MajorAmount::from_minor(Minor(4995))).unwrap(),
            "49.95"
        );
        assert_eq!(
            serde_json::to_string(&MajorAmount::from_minor(Minor(1250))).unwrap(),
            "12.5"
        );
    }

    #[test]
    fn wire_amounts_reject_sub_cent_values() {
        let wire: MajorAmount = serde_json::from_str("12.345").unwrap();
        assert_eq!(wire.to_minor(), Err(AmountError::TooManyDecimals));
        let wire: MajorAmount = serde_json::from_str("12").unwrap();
        assert_eq!(wire.to_minor(), Ok(Minor(1200)));
        let wire: MajorAmount = serde_json::from_str("1e300").unwrap();
        assert_eq!(wire.to_minor(), Err(AmountError::TooLarge));
    }
}
