//! The control API under `/_sim/`: fixtures, the virtual clock, fault injection, automatic
//! customers, ground truth and the request log. It is documented in docs/simulator.md.

use super::clock::{format_rfc3339, Millis};
use super::context::SimContext;
use super::observe::{is_endpoint, FaultMode, FaultSpec};
use super::world::{Behaviour, Caller, World};
use crate::backends::pos_v10::model::{BeaconType, CreatePosRequest};
use axum::{
    extract::{Query, State as AxumState},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Sim = AxumState<Arc<SimContext>>;

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/_sim/fixtures", get(fixtures))
        .route("/_sim/clock", get(clock))
        .route("/_sim/clock/advance", post(advance))
        .route(
            "/_sim/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route(
            "/_sim/behaviour",
            post(add_behaviour).get(list_behaviour).delete(clear_behaviour),
        )
        .route("/_sim/payments", get(payments))
        .route("/_sim/refunds", get(refunds))
        .route("/_sim/refunds/{refund_id}/fail", post(fail_refund))
        .route("/_sim/pointofsales", get(pointofsales).post(restore_pos))
        .route("/_sim/pointofsales/{pos_id}", delete(delete_pos))
        .route("/_sim/requests", get(requests))
        .route("/_sim/reset", post(reset))
}

pub(super) fn bad(message: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message.into() }))).into_response()
}

/// Parses a control body, answering 400 with the reason instead of axum's plain-text error.
pub(super) fn body<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(bytes).map_err(|e| Box::new(bad(format!("invalid body: {e}"))))
}

async fn fixtures(AxumState(sim): Sim) -> Response {
    Json(sim.with_world(|st, _| st.fixtures.clone())).into_response()
}

fn clock_json(sim: &SimContext) -> Value {
    json!({ "now": format_rfc3339(sim.clock.now()), "offsetMs": sim.clock.offset_ms() })
}

async fn clock(AxumState(sim): Sim) -> Response {
    Json(clock_json(&sim)).into_response()
}

#[derive(Deserialize)]
struct Advance {
    ms: i64,
}

async fn advance(AxumState(sim): Sim, bytes: axum::body::Bytes) -> Response {
    let req: Advance = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if req.ms < 0 {
        return bad("the clock only moves forward");
    }
    sim.clock.advance(req.ms);
    // Run what fell due now rather than at the next request.
    sim.with_world(|_, _| ());
    Json(clock_json(&sim)).into_response()
}

async fn add_fault(AxumState(sim): Sim, bytes: axum::body::Bytes) -> Response {
    let spec: FaultSpec = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if !is_endpoint(&spec.endpoint) {
        return bad(format!("unknown endpoint {:?}", spec.endpoint));
    }
    if let Some(code) = &spec.code {
        let valid = code.len() == 4 && code.starts_with('2') && code.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return bad("code must be a server error code from 2000 to 2999");
        }
    }
    if let Some(value) = &spec.retry_after {
        if spec.mode != FaultMode::RateLimited {
            return bad("retryAfter belongs to the rateLimited mode");
        }
        if axum::http::HeaderValue::from_str(value).is_err() {
            return bad("retryAfter must be a header value: seconds or an HTTP date");
        }
    }
    sim.observer.add_fault(spec);
    Json(json!({})).into_response()
}

async fn list_faults(AxumState(sim): Sim) -> Response {
    Json(json!({ "faults": sim.observer.faults() })).into_response()
}

async fn clear_faults(AxumState(sim): Sim) -> Response {
    sim.observer.clear_faults();
    Json(json!({})).into_response()
}

async fn add_behaviour(AxumState(sim): Sim, bytes: axum::body::Bytes) -> Response {
    let behaviour: Behaviour = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let known = sim.with_world(|st, _| st.fixtures.user(&behaviour.phone_number).is_some());
    if !known {
        return bad(format!("unknown test user {:?}", behaviour.phone_number));
    }
    sim.with_world(|st, _| st.behaviours.push(behaviour));
    Json(json!({})).into_response()
}

async fn list_behaviour(AxumState(sim): Sim) -> Response {
    Json(json!({ "behaviours": sim.with_world(|st, _| st.behaviours.clone()) })).into_response()
}

async fn clear_behaviour(AxumState(sim): Sim) -> Response {
    sim.with_world(|st, _| st.behaviours.clear());
    Json(json!({})).into_response()
}

fn history<S: std::fmt::Display>(h: &[(S, Millis)]) -> Vec<Value> {
    h.iter()
        .map(|(s, at)| json!({ "status": s.to_string(), "at": format_rfc3339(*at) }))
        .collect()
}

/// `?orderId=a,b` narrows the list to those orders, so a long test can check the few payments
/// it just touched without fetching the whole history every time.
#[derive(Deserialize)]
struct PaymentFilter {
    #[serde(rename = "orderId")]
    order_ids: Option<String>,
}

async fn payments(AxumState(sim): Sim, Query(filter): Query<PaymentFilter>) -> Response {
    let wanted: Option<std::collections::HashSet<&str>> =
        filter.order_ids.as_deref().map(|ids| ids.split(',').collect());
    let list: Vec<Value> = sim.with_world(|st, _| {
        let mut list: Vec<_> = st
            .payments
            .values()
            .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(p.order_id.as_str())))
            .collect();
        list.sort_by_key(|p| (p.history.first().map(|h| h.1), p.payment_id.clone()));
        list.iter()
            .map(|p| {
                json!({
                    "paymentId": p.payment_id,
                    "posId": p.pos_id,
                    "orderId": p.order_id,
                    "merchantVat": p.vat,
                    "clientId": p.client_id,
                    "status": p.status.to_string(),
                    "currencyCode": p.terms.as_ref().map(|t| t.currency),
                    "amountMinor": p.terms.as_ref().map(|t| t.amount.0),
                    "reservedMinor": p.reserved.0,
                    "capturedMinor": p.captured.0,
                    "refundedMinor": p.refunded.0,
                    "partialCapturePossible": p.partial_capture_possible,
                    "user": p.user,
                    "idempotencyKey": p.idempotency_key,
                    "history": history(&p.history),
                })
            })
            .collect()
    });
    Json(json!({ "payments": list })).into_response()
}

async fn refunds(AxumState(sim): Sim) -> Response {
    let list: Vec<Value> = sim.with_world(|st, _| {
        let mut list: Vec<_> = st.refunds.values().collect();
        list.sort_by_key(|r| (r.history.first().map(|h| h.1), r.refund_id.clone()));
        list.iter()
            .map(|r| {
                json!({
                    "refundId": r.refund_id,
                    "paymentId": r.payment_id,
                    "refundOrderId": r.refund_order_id,
                    "status": r.status.to_string(),
                    "amountMinor": r.amount.0,
                    "currencyCode": r.currency,
                    "idempotencyKey": r.idempotency_key,
                    "history": history(&r.history),
                })
            })
            .collect()
    });
    Json(json!({ "refunds": list })).into_response()
}

/// MobilePay fails to carry out a refund that is still `Initiated` (→ `CancelledByMobilePay`).
async fn fail_refund(
    AxumState(sim): Sim,
    axum::extract::Path(refund_id): axum::extract::Path<String>,
) -> Response {
    match sim.with_world(|st, now| st.fail_refund(&refund_id, now)) {
        Ok(()) => Json(json!({})).into_response(),
        Err(message) => bad(message),
    }
}

async fn pointofsales(AxumState(sim): Sim) -> Response {
    let list: Vec<Value> = sim.with_world(|st: &mut World, _| {
        let mut list: Vec<_> = st.poses.values().collect();
        list.sort_by(|a, b| a.pos_id.cmp(&b.pos_id));
        list.iter()
            .map(|p| {
                json!({
                    "posId": p.pos_id,
                    "merchantPosId": p.merchant_pos_id,
                    "merchantVat": p.vat,
                    "clientId": p.client_id,
                    "storeId": p.store_id,
                    "name": p.name,
                    "beaconId": p.beacon_id,
                    "supportedBeaconTypes": p.supported_beacon_types,
                    "requirePaymentBeforeCheckin": p.require_payment_before_checkin,
                    "deleted": p.deleted,
                    "checkedInUser": p.checkin.as_ref().map(|c| c.phone.clone()),
                    "storeBalanceMinor": st.store_balance(&p.store_id),
                })
            })
            .collect()
    });
    Json(json!({ "pointOfSales": list })).into_response()
}

/// A point of sale MobilePay still keeps for an integrator and merchant: what a box that
/// registered it before finds again after a restart, although this simulator started afresh.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RestorePos {
    pos_id: String,
    client_id: String,
    merchant_vat: String,
    merchant_pos_id: String,
    store_id: String,
    name: String,
    beacon_id: String,
    #[serde(default = "qr_only")]
    supported_beacon_types: Vec<BeaconType>,
    #[serde(default)]
    require_payment_before_checkin: bool,
}

fn qr_only() -> Vec<BeaconType> {
    vec![BeaconType::QR]
}

async fn restore_pos(AxumState(sim): Sim, bytes: axum::body::Bytes) -> Response {
    let req: RestorePos = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if uuid::Uuid::parse_str(&req.pos_id).is_err() {
        return bad(format!("posId {:?} is not a GUID", req.pos_id));
    }
    let restored = sim.with_world(|st, _| {
        if !st
            .fixtures
            .integrators
            .iter()
            .any(|i| i.client_id == req.client_id)
        {
            return Err(format!("unknown integrator {:?}", req.client_id));
        }
        let caller = Caller {
            client_id: req.client_id.clone(),
            vat: req.merchant_vat.clone(),
        };
        let create = CreatePosRequest {
            merchant_pos_id: req.merchant_pos_id.clone(),
            store_id: req.store_id.clone(),
            name: req.name.clone(),
            beacon_id: Some(req.beacon_id.clone()),
            callback_alias: None,
            supported_beacon_types: req.supported_beacon_types.clone(),
            require_payment_before_checkin: Some(req.require_payment_before_checkin),
        };
        st.restore_pos(&caller, &create, &req.pos_id)
            .map_err(|e| format!("{} ({})", e.message, e.code.as_deref().unwrap_or("")))
    });
    match restored {
        Ok(pos_id) => Json(json!({ "posId": pos_id })).into_response(),
        Err(message) => bad(message),
    }
}

/// The point of sale is deleted behind its integrator's back (by MobilePay support, or another
/// system of the merchant): the same effect as its owner's `DELETE /pointofsales/{posId}`.
async fn delete_pos(
    AxumState(sim): Sim,
    axum::extract::Path(pos_id): axum::extract::Path<String>,
) -> Response {
    let deleted = sim.with_world(|st, now| {
        let owner = st
            .poses
            .get(&pos_id.to_lowercase())
            .filter(|p| !p.deleted)
            .map(|p| Caller {
                client_id: p.client_id.clone(),
                vat: p.vat.clone(),
            })?;
        Some(st.delete_pos(&owner, &pos_id, now).is_ok())
    });
    match deleted {
        Some(true) => Json(json!({})).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("no point of sale {pos_id}") })),
        )
            .into_response(),
    }
}

async fn requests(AxumState(sim): Sim) -> Response {
    Json(json!({ "counts": sim.observer.counts(), "log": sim.observer.log() })).into_response()
}

async fn reset(AxumState(sim): Sim) -> Response {
    sim.with_world(|st, _| {
        *st = World::new(st.fixtures.clone(), st.settings.clone());
    });
    sim.reset_epayment();
    sim.reset_oidc();
    sim.reset_invoices();
    sim.reset_subscriptions();
    sim.clock.reset();
    sim.tokens.rotate();
    sim.observer.clear();
    Json(json!({})).into_response()
}
