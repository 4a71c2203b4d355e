//! How agreements, one-offs and refunds are written in answers: snake_case, amounts as
//! numbers in major units, timestamps `YYYY-MM-DDTHH:mm:ssZ` (§3.1), and the `mobile-pay`
//! link that leads to the simulator's landing page.

use super::book::{Agreement, OneOff, Refund};
use super::lifecycle::AgreementStatus;
use super::money::major;
use super::paths::LANDING;
use crate::sim::clock::Millis;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

pub fn timestamp(ms: Millis) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The `mobile-pay` link of an agreement, or of a one-off on it: the documented query
/// (`flow`, `id`, `countryCode`, `mobile`, `oneOffPaymentId`) without `redirectUrl`, which
/// the landing page takes from the agreement, so that the link stays short enough for a QR
/// code a phone reads at arm's length.
pub fn mobile_pay_href(base: &str, agreement: &Agreement, one_off: Option<&OneOff>) -> String {
    let mut href = format!(
        "{base}{LANDING}?flow=agreement&id={}&countryCode={}",
        agreement.id, agreement.new.country_code
    );
    if let Some(mobile) = &agreement.new.mobile_phone_number {
        href.push_str(&format!("&mobile={mobile}"));
    }
    if let Some(one_off) = one_off {
        href.push_str(&format!("&oneOffPaymentId={}", one_off.id));
    }
    href
}

fn mobile_pay(href: String) -> Value {
    json!({ "rel": "mobile-pay", "href": href })
}

/// `GET …/agreements/{id}` and each entry of the list.
pub fn agreement(base: &str, a: &Agreement) -> Value {
    let mut links: Vec<Value> = a
        .new
        .links
        .iter()
        .map(|l| json!({ "rel": l.rel, "href": l.href }))
        .collect();
    links.push(mobile_pay(mobile_pay_href(base, a, None)));
    json!({
        "id": a.id,
        "date_created": timestamp(a.created_at()),
        "date_accepted": a.at(AgreementStatus::Accepted).map(timestamp),
        "date_canceled": a.at(AgreementStatus::Canceled).map(timestamp),
        "external_id": a.new.external_id,
        "amount": a.new.amount_minor.map(major),
        "currency": a.new.currency,
        "next_payment_date": null,
        "frequency": a.new.frequency,
        "plan": a.new.plan,
        "description": a.new.description,
        "status": a.status.name(),
        "country_code": a.new.country_code,
        "links": links,
        "expiration_timeout_minutes": a.new.expiration_timeout_minutes,
        "retention_period_hours": a.new.retention_period_hours,
        "mobile_phone_number": a.new.mobile_phone_number,
    })
}

/// `GET …/oneoffpayments/{id}` and each entry of the list.
pub fn one_off(o: &OneOff) -> Value {
    json!({
        "id": o.id,
        "agreement_id": o.agreement_id,
        "amount": major(o.new.amount_minor),
        "currency": o.currency,
        "description": o.new.description,
        "external_id": o.new.external_id,
        "status": o.status.name(),
        "date_created": timestamp(o.created_at()),
        "expiration_timeout_minutes": o.new.expiration_timeout_minutes,
        "auto_reserve": o.new.auto_reserve,
    })
}

/// The refund's `202` answer and each entry of the list.
pub fn refund(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "amount": major(r.amount_minor),
        "status_callback_url": r.status_callback_url,
        "external_id": r.external_id,
    })
}
