//! Request bodies read the way MobilePay's Subscriptions API read them: snake_case property
//! names (a camelCase `countryCode` is simply missing), amounts as strings or numbers in major
//! units, and the limits of §3.4, §3.7 and §3.9. What cannot be read, or breaks a limit, is a
//! 400 naming the property; rules that need the provider, the agreement or the clock are the
//! [`book`](super::book)'s.

use super::error::SubsError;
use super::money::minor_units;
use serde_json::{Map, Value};

pub const PLAN_MAX: usize = 30;
pub const DESCRIPTION_MAX: usize = 60;
pub const EXTERNAL_ID_MAX: usize = 64;
/// `expiration_timeout_minutes` of agreements and one-offs: 1 … 181440 (18 weeks) since
/// 2020-08-12.
pub const TIMEOUT_MINUTES: std::ops::RangeInclusive<i64> = 1..=181_440;
/// A one-off's timeout when the request gives none: one day.
pub const ONE_OFF_DEFAULT_TIMEOUT: i64 = 1_440;
pub const RETENTION_HOURS: std::ops::RangeInclusive<i64> = 0..=24;
/// Payments per year; 0 is a flexible agreement (the default since 2020-08-26).
pub const FREQUENCIES: [i64; 8] = [1, 2, 4, 12, 26, 52, 365, 0];
/// The smallest refund (2024; 0.01 in 2019).
pub const REFUND_MIN_MINOR: i64 = 10;

/// The `rel`s an agreement's `links` must have, and the optional one.
pub const REQUIRED_LINKS: [&str; 3] = ["user-redirect", "success-callback", "cancel-callback"];
pub const OPTIONAL_LINK: &str = "cancel-redirect";

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub rel: String,
    pub href: String,
}

/// A validated agreement create request.
#[derive(Clone, Debug, PartialEq)]
pub struct NewAgreement {
    pub amount_minor: Option<i64>,
    pub currency: &'static str,
    pub country_code: &'static str,
    pub plan: String,
    pub description: Option<String>,
    pub frequency: i64,
    pub external_id: Option<String>,
    pub expiration_timeout_minutes: i64,
    /// Digits only, `45…` or `358…`.
    pub mobile_phone_number: Option<String>,
    pub retention_period_hours: i64,
    pub links: Vec<Link>,
    pub one_off: Option<NewOneOff>,
}

/// A validated one-off, in an agreement's body or on an existing agreement.
#[derive(Clone, Debug, PartialEq)]
pub struct NewOneOff {
    pub amount_minor: i64,
    pub external_id: String,
    pub description: Option<String>,
    pub expiration_timeout_minutes: i64,
    pub auto_reserve: bool,
    pub links: Vec<Link>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewRefund {
    /// `None`: everything not yet refunded.
    pub amount_minor: Option<i64>,
    pub status_callback_url: String,
    pub external_id: Option<String>,
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, SubsError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(SubsError::input("The request body is not a JSON object.")),
    }
}

struct Fields<'a>(&'a Map<String, Value>, &'a str);

impl Fields<'_> {
    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.1)
    }

    fn present(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn string(&self, key: &str, max: usize) -> Result<Option<String>, SubsError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.chars().count() > max => Err(SubsError::input(format!(
                "{} must be at most {max} characters.",
                self.name(key)
            ))),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(SubsError::input(format!("{} must be a string.", self.name(key)))),
        }
    }

    fn required_string(&self, key: &str, max: usize) -> Result<String, SubsError> {
        self.string(key, max)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| SubsError::input(format!("{} is required.", self.name(key))))
    }

    fn integer(&self, key: &str) -> Result<Option<i64>, SubsError> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| SubsError::input(format!("{} must be a whole number.", self.name(key)))),
        }
    }

    fn in_range(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> Result<Option<i64>, SubsError> {
        match self.integer(key)? {
            Some(n) if !range.contains(&n) => Err(SubsError::input(format!(
                "{} must be between {} and {}.",
                self.name(key),
                range.start(),
                range.end()
            ))),
            n => Ok(n),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, SubsError> {
        match self.present(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(SubsError::input(format!(
                "{} must be true or false.",
                self.name(key)
            ))),
        }
    }

    fn amount(&self, key: &str) -> Result<Option<i64>, SubsError> {
        match self.present(key) {
            None => Ok(None),
            Some(v) => minor_units(v).map(Some).ok_or_else(|| {
                SubsError::input(format!(
                    "{} must be an amount in major units with at most two decimals, e.g. \"10.99\".",
                    self.name(key)
                ))
            }),
        }
    }
}

/// Whether `href` is an absolute `https` URL.
pub fn is_https(href: &str) -> bool {
    href.strip_prefix("https://")
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace))
}

fn links(value: Option<&Value>, allowed: &[&str], field: &str) -> Result<Vec<Link>, SubsError> {
    let list = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(SubsError::input(format!(
                "{field} must be a list of {{rel, href}}."
            )))
        }
    };
    let mut out: Vec<Link> = Vec::new();
    for item in list {
        let rel = item.get("rel").and_then(Value::as_str);
        let href = item.get("href").and_then(Value::as_str);
        let (Some(rel), Some(href)) = (rel, href) else {
            return Err(SubsError::input(format!(
                "Every {field} entry needs rel and href."
            )));
        };
        if !allowed.contains(&rel) {
            return Err(SubsError::input(format!("{field}: unknown rel {rel:?}.")));
        }
        if out.iter().any(|l| l.rel == rel) {
            return Err(SubsError::input(format!("{field}: rel {rel:?} appears twice.")));
        }
        if !is_https(href) {
            return Err(SubsError::input(format!(
                "{field} {rel}: The hyperlink reference must use https scheme."
            )));
        }
        out.push(Link {
            rel: rel.to_string(),
            href: href.to_string(),
        });
    }
    Ok(out)
}

/// `45` and 8 digits, or `358` and 6 to 10 digits; no plus, no spaces (§0.7).
pub fn mobile_phone_number(raw: &str) -> Option<String> {
    let digits = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let valid = raw.strip_prefix("45").is_some_and(|r| digits(r, 8..=8))
        || raw.strip_prefix("358").is_some_and(|r| digits(r, 6..=10));
    valid.then(|| raw.to_string())
}

/// `POST …/agreements`.
pub fn agreement(bytes: &[u8]) -> Result<NewAgreement, SubsError> {
    let map = object(bytes)?;
    let f = Fields(&map, "");
    let currency = match f.required_string("currency", 3)?.as_str() {
        "DKK" => "DKK",
        "EUR" => "EUR",
        other => return Err(SubsError::input(format!("currency {other:?} is not DKK or EUR."))),
    };
    let country_code = match f.required_string("country_code", 2)?.as_str() {
        "DK" => "DK",
        "FI" => "FI",
        other => {
            return Err(SubsError::input(format!(
                "country_code {other:?} is not DK or FI."
            )))
        }
    };
    if (currency, country_code) != ("DKK", "DK") && (currency, country_code) != ("EUR", "FI") {
        return Err(SubsError::input(format!(
            "currency {currency} does not go with country_code {country_code} (DKK with DK, EUR with FI)."
        )));
    }
    let amount_minor = f.amount("amount")?;
    if amount_minor.is_some_and(|a| a < 0) {
        return Err(SubsError::input("amount must not be negative."));
    }
    let expiration_timeout_minutes = f
        .in_range("expiration_timeout_minutes", TIMEOUT_MINUTES)?
        .ok_or_else(|| SubsError::input("expiration_timeout_minutes is required."))?;
    let frequency = f.integer("frequency")?.unwrap_or(0);
    if !FREQUENCIES.contains(&frequency) {
        return Err(SubsError::input(
            "frequency must be one of 1, 2, 4, 12, 26, 52, 365 or 0.",
        ));
    }
    let mobile = match f.string("mobile_phone_number", 20)? {
        None => None,
        Some(raw) => Some(mobile_phone_number(&raw).ok_or_else(|| {
            SubsError::input(
                "mobile_phone_number must be 45 and 8 digits (or 358 and digits), without + or spaces.",
            )
        })?),
    };
    let mut allowed = REQUIRED_LINKS.to_vec();
    allowed.push(OPTIONAL_LINK);
    let links = links(map.get("links").filter(|v| !v.is_null()), &allowed, "links")?;
    if let Some(missing) = REQUIRED_LINKS
        .iter()
        .find(|rel| !links.iter().any(|l| l.rel == **rel))
    {
        return Err(SubsError::input(format!("links must contain {missing}.")));
    }
    f.boolean("disable_notification_management")?;
    f.boolean("notifications_on")?;
    let one_off = match f.present("one_off_payment") {
        None => None,
        Some(Value::Object(o)) => Some(one_off_fields(&Fields(o, "one_off_payment."), false)?),
        Some(_) => return Err(SubsError::input("one_off_payment must be an object.")),
    };
    Ok(NewAgreement {
        amount_minor,
        currency,
        country_code,
        plan: f.required_string("plan", PLAN_MAX)?,
        description: f.string("description", DESCRIPTION_MAX)?,
        frequency,
        external_id: f.string("external_id", EXTERNAL_ID_MAX)?,
        expiration_timeout_minutes,
        mobile_phone_number: mobile,
        retention_period_hours: f
            .in_range("retention_period_hours", RETENTION_HOURS)?
            .unwrap_or(0),
        links,
        one_off,
    })
}

fn one_off_fields(f: &Fields<'_>, on_existing: bool) -> Result<NewOneOff, SubsError> {
    let amount_minor = f
        .amount("amount")?
        .ok_or_else(|| SubsError::input(format!("{} is required.", f.name("amount"))))?;
    if amount_minor <= 0 {
        return Err(SubsError::input(format!(
            "{} must be greater than 0.",
            f.name("amount")
        )));
    }
    let links = if on_existing {
        links(f.present("links"), &["user-redirect"], "links")?
    } else {
        Vec::new()
    };
    Ok(NewOneOff {
        amount_minor,
        external_id: f.required_string("external_id", EXTERNAL_ID_MAX)?,
        description: f.string("description", DESCRIPTION_MAX)?,
        expiration_timeout_minutes: f
            .in_range("expiration_timeout_minutes", TIMEOUT_MINUTES)?
            .unwrap_or(ONE_OFF_DEFAULT_TIMEOUT),
        auto_reserve: on_existing && f.boolean("auto_reserve")?.unwrap_or(false),
        links,
    })
}

/// `POST …/agreements/{id}/oneoffpayments`.
pub fn one_off(bytes: &[u8]) -> Result<NewOneOff, SubsError> {
    let map = object(bytes)?;
    one_off_fields(&Fields(&map, ""), true)
}

/// `POST …/payments/{id}/refunds`.
pub fn refund(bytes: &[u8]) -> Result<NewRefund, SubsError> {
    let map = object(bytes)?;
    let f = Fields(&map, "");
    let amount_minor = f.amount("amount")?;
    if amount_minor.is_some_and(|a| a < REFUND_MIN_MINOR) {
        return Err(SubsError::input("amount must be at least 0.10."));
    }
    let status_callback_url = f.required_string("status_callback_url", 2048)?;
    if !is_https(&status_callback_url) {
        return Err(SubsError::input(
            "status_callback_url: The hyperlink reference must use https scheme.",
        ));
    }
    Ok(NewRefund {
        amount_minor,
        status_callback_url,
        external_id: f.string("external_id", EXTERNAL_ID_MAX)?,
    })
}

/// `PATCH /api/providers/{id}`: a JSON Patch (RFC 6902) that replaces
/// `/payment_status_callback_url`, the only change the API allowed; the new URL.
pub fn callback_patch(bytes: &[u8]) -> Result<String, SubsError> {
    let Ok(Value::Array(ops)) = serde_json::from_slice::<Value>(bytes) else {
        return Err(SubsError::input(
            "The request body must be a JSON Patch document (a list of operations).",
        ));
    };
    let mut url = None;
    for op in &ops {
        let field = |k: &str| op.get(k).and_then(Value::as_str);
        if field("op") != Some("replace") {
            return Err(SubsError::input("Only the replace operation is supported."));
        }
        if field("path") != Some("/payment_status_callback_url") {
            return Err(SubsError::input(
                "Only /payment_status_callback_url can be replaced.",
            ));
        }
        let value = field("value").ok_or_else(|| SubsError::input("value must be a URL."))?;
        if !is_https(value) {
            return Err(SubsError::input("The hyperlink reference must use https scheme."));
        }
        url = Some(value.to_string());
    }
    url.ok_or_else(|| SubsError::input("The patch has no operation."))
}

/// The user simulation's answer: `{"status": …}`, or a JSON Patch replacing `/status`.
pub fn user_status(bytes: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(bytes).ok()? {
        Value::Object(map) => map.get("status")?.as_str().map(str::to_string),
        Value::Array(ops) => ops
            .iter()
            .find(|op| op.get("path").and_then(Value::as_str) == Some("/status"))?
            .get("value")?
            .as_str()
            .map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: &Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn valid() -> Value {
        json!({
            "amount": "49.00",
            "currency": "DKK",
            "country_code": "DK",
            "plan": "Brødklub",
            "expiration_timeout_minutes": 5,
            "external_id": "C-1",
            "mobile_phone_number": "4512345678",
            "links": [
                {"rel": "user-redirect", "href": "https://shop.example/done"},
                {"rel": "success-callback", "href": "https://shop.example/ok"},
                {"rel": "cancel-callback", "href": "https://shop.example/cancel"}
            ],
            "one_off_payment": {"amount": 10.5, "external_id": "O-1", "description": "Start"}
        })
    }

    #[test]
    fn reads_a_valid_agreement_with_its_one_off() {
        let a = agreement(&body(&valid())).unwrap();
        assert_eq!((a.amount_minor, a.currency, a.frequency), (Some(4_900), "DKK", 0));
        assert_eq!(a.mobile_phone_number.as_deref(), Some("4512345678"));
        let one_off = a.one_off.unwrap();
        assert_eq!(
            (one_off.amount_minor, one_off.expiration_timeout_minutes),
            (1_050, 1_440)
        );
    }

    #[test]
    fn each_rule_names_its_property() {
        let cases: [(&str, Value, &str); 12] = [
            ("countryCode", json!(null), "country_code is required"),
            ("currency", json!("EUR"), "does not go with"),
            ("plan", json!("x".repeat(31)), "plan must be at most 30"),
            (
                "description",
                json!("x".repeat(61)),
                "description must be at most 60",
            ),
            (
                "external_id",
                json!("x".repeat(65)),
                "external_id must be at most 64",
            ),
            (
                "expiration_timeout_minutes",
                json!(181_441),
                "between 1 and 181440",
            ),
            ("retention_period_hours", json!(25), "between 0 and 24"),
            ("frequency", json!(3), "frequency must be one of"),
            ("mobile_phone_number", json!("+4512345678"), "without +"),
            ("amount", json!("10,50"), "at most two decimals"),
            (
                "links",
                json!([{"rel": "user-redirect", "href": "https://a.example"}]),
                "links must contain success-callback",
            ),
            (
                "one_off_payment",
                json!({"amount": 0, "external_id": "x"}),
                "one_off_payment.amount must be greater than 0",
            ),
        ];
        for (field, value, expected) in cases {
            let mut v = valid();
            if field == "countryCode" {
                let code = v.as_object_mut().unwrap().remove("country_code").unwrap();
                v["countryCode"] = code;
            } else {
                v[field] = value;
            }
            let err = agreement(&body(&v)).unwrap_err();
            let SubsError::Input(message) = err else {
                panic!("{field}: {err:?}")
            };
            assert!(message.contains(expected), "{field}: {message}");
        }
    }

    #[test]
    fn links_must_be_https_and_known() {
        let mut v = valid();
        v["links"][0]["href"] = json!("http://shop.example/done");
        assert!(agreement(&body(&v)).is_err());
        let mut v = valid();
        v["links"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rel": "cancel-redirect", "href": "https://shop.example/me"}));
        assert_eq!(agreement(&body(&v)).unwrap().links.len(), 4);
        v["links"]
            .as_array_mut()
            .unwrap()
            .push(json!({"rel": "mobile-pay", "href": "https://x.example"}));
        assert!(agreement(&body(&v)).is_err());
    }

    #[test]
    fn refunds_and_patches() {
        let r = refund(br#"{"status_callback_url":"https://a.example/r","external_id":"R-1"}"#).unwrap();
        assert_eq!(r.amount_minor, None);
        assert!(refund(br#"{"amount":0.09,"status_callback_url":"https://a.example/r"}"#).is_err());
        assert!(refund(br#"{"amount":"1.00","status_callback_url":"http://a.example/r"}"#).is_err());
        assert_eq!(
            callback_patch(
                br#"[{"op":"replace","path":"/payment_status_callback_url","value":"https://a.example/cb"}]"#
            )
            .unwrap(),
            "https://a.example/cb"
        );
        assert!(callback_patch(
            br#"[{"op":"replace","path":"/payment_status_callback_url","value":"http://a.example/cb"}]"#
        )
        .is_err());
        assert!(callback_patch(
            br#"[{"op":"add","path":"/payment_status_callback_url","value":"https://a.example"}]"#
        )
        .is_err());
        assert_eq!(
            user_status(br#"{"status":"Accepted"}"#).as_deref(),
            Some("Accepted")
        );
        assert_eq!(
            user_status(br#"[{"op":"replace","path":"/status","value":"Rejected"}]"#).as_deref(),
            Some("Rejected")
        );
    }
}
