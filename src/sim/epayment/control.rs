//! The ePayment part of the control API under `/_sim/epayment/`: the simulated customer
//! (scripted steps and automatic customers) and the ground truth of every payment.

use super::ledger::{Behaviour, Step};
use super::payment::Payment;
use crate::sim::clock::format_rfc3339;
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

fn bad(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Parses a control body (empty reads as `{}`), answering 400 with the reason.
fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Box<Response>> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| Box::new(bad(StatusCode::BAD_REQUEST, format!("invalid body: {e}"))))
}

/// `?orderId=a,b` narrows the list to the payments whose `metadata.orderId` is one of those,
/// so a long test can check the few payments it just touched without fetching them all.
#[derive(Deserialize)]
pub struct PaymentFilter {
    #[serde(rename = "orderId")]
    order_ids: Option<String>,
}

/// The order id the engine keeps in a payment's metadata.
fn order_id(p: &Payment) -> &str {
    p.metadata
        .as_ref()
        .and_then(|m| m.get("orderId"))
        .map(String::as_str)
        .unwrap_or_default()
}

pub async fn payments(State(sim): Sim, Query(filter): Query<PaymentFilter>) -> Response {
    let wanted: Option<std::collections::HashSet<&str>> =
        filter.order_ids.as_deref().map(|ids| ids.split(',').collect());
    let list: Vec<Value> = sim.with_epayment(|l, _| {
        l.payments()
            .iter()
            .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(order_id(p))))
            .map(|p| {
                json!({
                    "msn": p.msn,
                    "reference": p.reference,
                    "state": p.state,
                    "userFlow": p.user_flow,
                    "currency": p.currency,
                    "amountMinor": p.amount,
                    "authorizedMinor": p.authorized,
                    "capturedMinor": p.captured,
                    "cancelledMinor": p.cancelled,
                    "refundedMinor": p.refunded,
                    "customer": p.customer,
                    "approving": p.approving,
                    "qrContent": p.qr_target,
                    "receipt": p.receipt,
                    "metadata": p.metadata,
                    "createdAt": format_rfc3339(p.created_at),
                    "events": p.events,
                })
            })
            .collect()
    });
    Json(json!({ "payments": list })).into_response()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepBody {
    phone_number: Option<String>,
}

/// `POST /_sim/epayment/payments/{msn}/{reference}/{open|approve|abort}`.
pub async fn customer_step(
    State(sim): Sim,
    Path((msn, reference, step)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let step = match step.as_str() {
        "open" => Step::Open,
        "approve" => Step::Approve,
        "abort" => Step::Abort,
        other => return bad(StatusCode::NOT_FOUND, format!("unknown customer step {other:?}")),
    };
    let req: StepBody = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match sim.with_epayment(|l, now| l.customer(&msn, &reference, step, req.phone_number.as_deref(), now)) {
        Ok(view) => Json(view).into_response(),
        Err(e) => bad(e.status, e.detail),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Scan {
    qr_content: String,
    phone_number: String,
}

/// `POST /_sim/epayment/scan`: a customer scans a payment QR code (its decoded content) and
/// has the payment open in the app.
pub async fn scan(State(sim): Sim, bytes: Bytes) -> Response {
    let req: Scan = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let found = sim.with_epayment(|l, _| {
        l.payments()
            .iter()
            .find(|p| p.qr_target.as_deref() == Some(req.qr_content.as_str()))
            .map(|p| (p.msn.clone(), p.reference.clone()))
    });
    let Some((msn, reference)) = found else {
        return bad(StatusCode::NOT_FOUND, "no payment has that QR code");
    };
    match sim.with_epayment(|l, now| l.customer(&msn, &reference, Step::Open, Some(&req.phone_number), now)) {
        Ok(view) => Json(json!({ "msn": msn, "payment": view })).into_response(),
        Err(e) => bad(e.status, e.detail),
    }
}

pub async fn add_behaviour(State(sim): Sim, bytes: Bytes) -> Response {
    let behaviour: Behaviour = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let known = sim.with_epayment(|l, _| l.fixtures.user_by_phone(&behaviour.phone_number).is_some());
    if !known {
        return bad(
            StatusCode::BAD_REQUEST,
            format!("unknown test user {:?}", behaviour.phone_number),
        );
    }
    sim.with_epayment(|l, _| l.behaviours.push(behaviour));
    Json(json!({})).into_response()
}

pub async fn list_behaviour(State(sim): Sim) -> Response {
    Json(json!({ "behaviours": sim.with_epayment(|l, _| l.behaviours.clone()) })).into_response()
}

pub async fn clear_behaviour(State(sim): Sim) -> Response {
    sim.with_epayment(|l, _| l.behaviours.clear());
    Json(json!({})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Duplicates {
    every_delivery: bool,
}

/// `POST /_sim/epayment/webhooks/duplicates {"everyDelivery": bool}`: deliver every accepted
/// webhook event a second time, as the at-least-once delivery of the real service may.
pub async fn duplicates(State(sim): Sim, bytes: Bytes) -> Response {
    let req: Duplicates = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    sim.webhooks.set_duplicate_every(req.every_delivery);
    Json(json!({ "everyDelivery": req.every_delivery })).into_response()
}
