//! An invoice request's body read the way MobilePay's ASP.NET server read it: property names
//! case-insensitively (PascalCase of the docs and camelCase of the OpenAPI both work), amounts
//! as JSON numbers in major units, dates as `YYYY-MM-DD` or a full timestamp, phone numbers in
//! the formats of §2.4. What cannot be read is a 400 `InputError`; rules that need the
//! merchant, its issuers, its users or the clock are the [`book`](super::book)'s.

use super::error::InvError;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

/// InvoiceDirect is pushed to a phone; an InvoiceLink is opened by whoever scans it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    Direct,
    Link,
}

/// A validated create request.
#[derive(Clone, Debug, PartialEq)]
pub struct NewInvoice {
    pub kind: Kind,
    pub issuer: String,
    /// `+` and country code, spaces stripped.
    pub alias: Option<String>,
    pub total_minor: i64,
    pub total_vat_minor: Option<i64>,
    pub invoice_number: Option<String>,
    pub payment_reference: Option<String>,
    pub issue_date: Option<NaiveDate>,
    pub due_date: NaiveDate,
    pub comment: Option<String>,
    pub invoice_url: Option<String>,
    pub redirect_url: Option<String>,
    pub articles: Vec<Article>,
    /// Every property of the body, names lowercased and sorted: two requests are the same
    /// invoice when these are equal (§2.11 duplicate rule).
    pub fingerprint: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Article {
    pub number: Option<String>,
    pub description: String,
    pub total_price_including_vat: Option<Value>,
    pub quantity: Option<Value>,
    pub price_per_unit: Option<Value>,
}

/// `PaymentReference` is `string(60)`.
pub const PAYMENT_REFERENCE_MAX: usize = 60;

/// Reads a create body of `kind`.
pub fn parse(bytes: &[u8], kind: Kind) -> Result<NewInvoice, InvError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|_| InvError::input("body", "Invalid input"))?;
    let Value::Object(map) = lowercase_keys(value) else {
        return Err(InvError::input("body", "Invalid input"));
    };
    let fields = Fields(&map);
    let issuer = fields.required_str("invoiceissuer", "InvoiceIssuer")?;
    if uuid::Uuid::try_parse(&issuer).is_err() {
        return Err(InvError::input("InvoiceIssuer", "Invalid input"));
    }
    let alias = match map.get("consumeralias") {
        None | Some(Value::Null) if kind == Kind::Link => None,
        None | Some(Value::Null) => {
            return Err(InvError::input(
                "ConsumerAlias",
                "The ConsumerAlias field is required.",
            ))
        }
        Some(Value::Object(alias)) => Some(consumer_alias(alias)?),
        Some(_) => return Err(InvError::input("ConsumerAlias", "Invalid input")),
    };
    let total_minor = match map.get("totalamount") {
        None | Some(Value::Null) => {
            return Err(InvError::input(
                "TotalAmount",
                "The TotalAmount field is required.",
            ))
        }
        Some(v) => minor_units(v).ok_or_else(|| InvError::input("TotalAmount", "Invalid input"))?,
    };
    let total_vat_minor = match map.get("totalvatamount") {
        None | Some(Value::Null) => None,
        Some(v) => Some(minor_units(v).ok_or_else(|| InvError::input("TotalVATAmount", "Invalid input"))?),
    };
    let due_date = match map.get("duedate") {
        None | Some(Value::Null) => return Err(InvError::input("DueDate", "The DueDate field is required.")),
        Some(v) => date(v).ok_or_else(|| InvError::input("DueDate", "Invalid input"))?,
    };
    let issue_date = match map.get("issuedate") {
        None | Some(Value::Null) => None,
        Some(v) => Some(date(v).ok_or_else(|| InvError::input("IssueDate", "Invalid input"))?),
    };
    let invoice_number = fields.optional_str("invoicenumber", "InvoiceNumber")?;
    let payment_reference = fields.optional_str("paymentreference", "PaymentReference")?;
    if invoice_number.is_none() && payment_reference.is_none() {
        return Err(InvError::input(
            "InvoiceNumber",
            "InvoiceNumber or PaymentReference is required.",
        ));
    }
    if payment_reference
        .as_ref()
        .is_some_and(|r| r.chars().count() > PAYMENT_REFERENCE_MAX)
    {
        return Err(InvError::input(
            "PaymentReference",
            "PaymentReference must be at most 60 characters.",
        ));
    }
    let invoice_url = fields.optional_str("invoiceurl", "InvoiceUrl")?;
    if invoice_url.as_ref().is_some_and(|u| !u.starts_with("https://")) {
        return Err(InvError::input("InvoiceUrl", "InvoiceUrl must be an https URL."));
    }
    let redirect_url = match kind {
        Kind::Link => fields.optional_str("redirecturl", "RedirectUrl")?,
        Kind::Direct => None,
    };
    let articles = match map.get("invoicearticles") {
        Some(Value::Array(list)) if !list.is_empty() => {
            list.iter().map(article).collect::<Result<Vec<_>, _>>()?
        }
        _ => {
            return Err(InvError::input(
                "InvoiceArticles",
                "At least one invoice article is required.",
            ))
        }
    };
    Ok(NewInvoice {
        kind,
        issuer: issuer.to_lowercase(),
        alias,
        total_minor,
        total_vat_minor,
        invoice_number,
        payment_reference,
        issue_date,
        due_date,
        comment: fields.optional_str("comment", "Comment")?,
        invoice_url,
        redirect_url,
        articles,
        fingerprint: format!("{kind:?}:{}", canonical(&Value::Object(map.clone()))),
    })
}

/// Property names are matched case-insensitively, so they are compared lowercased.
fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lowercase_keys(v)))
                .collect(),
        ),
        Value::Array(list) => Value::Array(list.into_iter().map(lowercase_keys).collect()),
        other => other,
    }
}

/// JSON text with every object's keys sorted, whatever order the map keeps them in.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(list) => format!("[{}]", list.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn optional_str(&self, key: &str, name: &str) -> Result<Option<String>, InvError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(InvError::input(name, "Invalid input")),
        }
    }

    fn required_str(&self, key: &str, name: &str) -> Result<String, InvError> {
        self.optional_str(key, name)?
            .ok_or_else(|| InvError::input(name, &format!("The {name} field is required.")))
    }
}

fn consumer_alias(alias: &Map<String, Value>) -> Result<String, InvError> {
    let fields = Fields(alias);
    let alias_type = fields.required_str("aliastype", "ConsumerAlias.AliasType")?;
    if !alias_type.eq_ignore_ascii_case("Phone") {
        return Err(InvError::input(
            "ConsumerAlias.AliasType",
            "Only Phone is supported.",
        ));
    }
    let raw = fields.required_str("alias", "ConsumerAlias.Alias")?;
    phone(&raw).ok_or_else(|| InvError::input("ConsumerAlias.Alias", "Invalid phone number."))
}

/// `+45` and 8 digits or `+358` and 6 to 10 digits; Danish numbers also as `0045…` or 8 bare
/// digits. Spaces are ignored.
pub fn phone(raw: &str) -> Option<String> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = |s: &str, range: std::ops::RangeInclusive<usize>| {
        range.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if let Some(rest) = compact
        .strip_prefix("+45")
        .or_else(|| compact.strip_prefix("0045"))
    {
        return digits(rest, 8..=8).then(|| format!("+45{rest}"));
    }
    if let Some(rest) = compact.strip_prefix("+358") {
        return digits(rest, 6..=10).then(|| format!("+358{rest}"));
    }
    digits(&compact, 8..=8).then(|| format!("+45{compact}"))
}

/// A JSON number with at most two decimals, in hundredths.
pub fn minor_units(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else { return None };
    let text = n.to_string();
    if text.contains(['e', 'E']) {
        return None;
    }
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let frac = frac.trim_end_matches('0');
    if frac.len() > 2 {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    let sign = if text.starts_with('-') { -1 } else { 1 };
    int.checked_mul(100)?.checked_add(sign * frac)
}

/// `YYYY-MM-DD`, or a timestamp (with or without offset) whose date as written counts.
pub fn date(value: &Value) -> Option<NaiveDate> {
    let text = value.as_str()?.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|d| d.date_naive()))
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.date())
        })
}

fn article(value: &Value) -> Result<Article, InvError> {
    let Value::Object(map) = value else {
        return Err(InvError::input("InvoiceArticles", "Invalid input"));
    };
    let fields = Fields(map);
    let number_field = |key: &str, name: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(_)) => Ok(Some(v.clone())),
        Some(_) => Err(InvError::input(
            &format!("InvoiceArticles.{name}"),
            "Invalid input",
        )),
    };
    Ok(Article {
        number: fields.optional_str("articlenumber", "InvoiceArticles.ArticleNumber")?,
        description: fields.required_str("articledescription", "InvoiceArticles.ArticleDescription")?,
        total_price_including_vat: number_field("totalpriceincludingvat", "TotalPriceIncludingVat")?,
        quantity: number_field("quantity", "Quantity")?,
        price_per_unit: number_field("priceperunit", "PricePerUnit")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        v.to_string().into_bytes()
    }

    fn valid() -> Value {
        json!({
            "InvoiceIssuer": "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c",
            "ConsumerAlias": {"Alias": "+45 12 34 56 78", "AliasType": "Phone"},
            "TotalAmount": 360,
            "TotalVATAmount": 72.5,
            "InvoiceNumber": "R-1",
            "DueDate": "2026-12-24",
            "InvoiceArticles": [{"ArticleDescription": "Bread", "Quantity": 1.125}]
        })
    }

    #[test]
    fn reads_pascal_and_camel_case_alike() {
        let pascal = parse(&body(valid()), Kind::Direct).unwrap();
        let camel = parse(
            &body(json!({
                "invoiceIssuer": "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c",
                "consumerAlias": {"alias": "+45 12 34 56 78", "aliasType": "Phone"},
                "totalAmount": 360,
                "totalVATAmount": 72.5,
                "invoiceNumber": "R-1",
                "dueDate": "2026-12-24",
                "invoiceArticles": [{"articleDescription": "Bread", "quantity": 1.125}]
            })),
            Kind::Direct,
        )
        .unwrap();
        assert_eq!(pascal, camel);
        assert_eq!(pascal.alias.as_deref(), Some("+4512345678"));
        assert_eq!(
            (pascal.total_minor, pascal.total_vat_minor),
            (36_000, Some(7_250))
        );
    }

    #[test]
    fn amounts_are_numbers_with_at_most_two_decimals() {
        assert_eq!(minor_units(&json!(10.99)), Some(1_099));
        assert_eq!(minor_units(&json!(0.1)), Some(10));
        assert_eq!(minor_units(&json!(-1.5)), Some(-150));
        assert_eq!(minor_units(&json!(300000)), Some(30_000_000));
        assert_eq!(minor_units(&json!(1.001)), None);
        assert_eq!(minor_units(&json!("10.99")), None);
    }

    #[test]
    fn phone_formats_of_the_reference() {
        assert_eq!(phone("+4512345678").as_deref(), Some("+4512345678"));
        assert_eq!(phone("0045 1234 5678").as_deref(), Some("+4512345678"));
        assert_eq!(phone("12 34 56 78").as_deref(), Some("+4512345678"));
        assert_eq!(phone("+358 40 1234567").as_deref(), Some("+358401234567"));
        assert_eq!(phone("4512345678"), None);
        assert_eq!(phone("+451234567"), None);
        assert_eq!(phone("00358401234567"), None);
    }

    #[test]
    fn dates_as_days_or_timestamps() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        assert_eq!(date(&json!("2026-12-24")), Some(day));
        assert_eq!(date(&json!("2026-12-24T23:30:00+02:00")), Some(day));
        assert_eq!(date(&json!("2026-12-24T00:00:00")), Some(day));
        assert_eq!(date(&json!("24-12-2026")), None);
    }

    #[test]
    fn input_errors_name_the_property() {
        let mut v = valid();
        v["TotalVATAmount"] = json!(1.234);
        let e = parse(&body(v), Kind::Direct).unwrap_err();
        assert_eq!(e.description, "input.TotalVATAmount : Invalid input");
        let mut v = valid();
        v["ConsumerAlias"]["AliasType"] = json!("Email");
        assert!(parse(&body(v), Kind::Direct).is_err());
        let mut v = valid();
        v.as_object_mut().unwrap().remove("ConsumerAlias");
        assert!(parse(&body(v.clone()), Kind::Direct).is_err());
        assert!(parse(&body(v), Kind::Link).is_ok());
    }

    #[test]
    fn fingerprint_ignores_casing_and_order_but_not_values() {
        let a = parse(&body(valid()), Kind::Direct).unwrap();
        let mut v = valid();
        v["Comment"] = json!("x");
        let b = parse(&body(v), Kind::Direct).unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
        let link = parse(&body(valid()), Kind::Link).unwrap();
        assert_ne!(a.fingerprint, link.fingerprint);
    }
}
