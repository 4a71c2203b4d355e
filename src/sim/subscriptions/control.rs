//! The Subscriptions part of the control API under `/_sim/subscriptions/`: scripted customers
//! and the ground truth of every agreement, one-off and refund, with the counters a crash test
//! asserts ("one agreement per external_id", "one reservation and one capture per agreement",
//! "one refund per payment").

use super::book::Book;
use super::customer::Customer;
use super::input::mobile_phone_number;
use crate::sim::clock::format_rfc3339;
use crate::sim::context::SimContext;
use crate::sim::control::{bad, body};
use axum::{
    body::Bytes,
    extract::State,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

fn history<S: std::fmt::Display>(h: &[(S, i64)]) -> Vec<Value> {
    h.iter()
        .map(|(s, at)| json!({ "status": s.to_string(), "at": format_rfc3339(*at) }))
        .collect()
}

fn count<'a>(keys: impl Iterator<Item = &'a str>) -> BTreeMap<&'a str, u64> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

fn ground_truth_of(book: &Book) -> Value {
    let agreements: Vec<Value> = book
        .agreements()
        .iter()
        .map(|a| {
            json!({
                "agreementId": a.id,
                "merchantId": a.merchant_id,
                "providerId": a.provider_id,
                "externalId": a.new.external_id,
                "plan": a.new.plan,
                "amountMinor": a.new.amount_minor,
                "currency": a.new.currency,
                "mobilePhoneNumber": a.new.mobile_phone_number,
                "status": a.status.name(),
                "oneOffPaymentId": a.one_off_id,
                "acceptedBy": a.user,
                "customer": a.customer,
                "opened": a.opened,
                "reservationFailures": a.reservation_failures,
                "history": history(&a.history),
            })
        })
        .collect();
    let one_offs: Vec<Value> = book
        .one_offs()
        .iter()
        .map(|o| {
            json!({
                "paymentId": o.id,
                "agreementId": o.agreement_id,
                "externalId": o.new.external_id,
                "amountMinor": o.new.amount_minor,
                "capturedAmountMinor": o.captured_minor,
                "withAgreement": o.with_agreement,
                "autoReserve": o.new.auto_reserve,
                "status": o.status.name(),
                "reservationFailures": o.reservation_failures,
                "history": history(&o.history),
            })
        })
        .collect();
    let refunds: Vec<Value> = book
        .refunds()
        .iter()
        .map(|r| {
            json!({
                "refundId": r.id,
                "agreementId": r.agreement_id,
                "paymentId": r.payment_id,
                "externalId": r.external_id,
                "amountMinor": r.amount_minor,
                "at": format_rfc3339(r.at),
            })
        })
        .collect();
    let reached = |status| {
        count(
            book.one_offs()
                .iter()
                .filter(move |o| o.history.iter().any(|h| h.0 == status))
                .map(|o| o.agreement_id.as_str()),
        )
    };
    use super::lifecycle::OneOffStatus;
    json!({
        "agreements": agreements,
        "oneOffs": one_offs,
        "refunds": refunds,
        "counters": {
            "agreementsPerExternalId": count(book.agreements().iter().map(|a| a.new.external_id.as_deref().unwrap_or(""))),
            "reservationsPerAgreement": reached(OneOffStatus::Reserved),
            "capturesPerAgreement": reached(OneOffStatus::Captured),
            "refundsPerPayment": count(book.refunds().iter().map(|r| r.payment_id.as_str())),
        },
    })
}

/// `GET /_sim/subscriptions/agreements`: every agreement, one-off and refund, oldest first,
/// and the counters.
pub async fn ground_truth(State(sim): Sim) -> Response {
    Json(sim.with_subscriptions(|book, _| ground_truth_of(book))).into_response()
}

/// `POST /_sim/subscriptions/customers`: what the customer of the next agreement, or of the
/// agreements made for a phone number, does.
pub async fn add_customer(State(sim): Sim, bytes: Bytes) -> Response {
    let customer: Customer = match body(&bytes) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    if let Some(phone) = &customer.phone {
        if mobile_phone_number(phone).is_none() {
            return bad(format!(
                "phone {phone:?} is not a mobile_phone_number: 45 and 8 digits (or 358 and digits), no plus"
            ));
        }
    }
    sim.with_subscriptions(|book, _| book.customers.add(customer));
    Json(json!({})).into_response()
}

pub async fn list_customers(State(sim): Sim) -> Response {
    let list = sim.with_subscriptions(|book, _| book.customers.list().to_vec());
    Json(json!({ "customers": list })).into_response()
}

pub async fn clear_customers(State(sim): Sim) -> Response {
    sim.with_subscriptions(|book, _| book.customers.clear());
    Json(json!({})).into_response()
}
