//! The merchant's one-off payments (§3.7): list, get, create on an accepted agreement (202),
//! cancel (204 while requested or reserved) and capture (204, once, all of the reserved
//! amount). A one-off of another agreement, provider or merchant is not found (404, empty
//! body).

use super::api::merchant_or_return;
use super::error::SubsError;
use super::gateway;
use super::input;
use super::view;
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub async fn list(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id)): Path<(String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let found = sim.with_subscriptions(|book, _| {
        book.one_offs_of(&merchant, &provider_id, &agreement_id)
            .map(|list| list.into_iter().map(view::one_off).collect::<Vec<Value>>())
    });
    match found {
        Some(list) => Json(list).into_response(),
        None => SubsError::NotFound.render(&headers),
    }
}

pub async fn get(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id, id)): Path<(String, String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let found = sim.with_subscriptions(|book, _| {
        book.one_off(&merchant, &provider_id, &agreement_id, &id)
            .map(view::one_off)
    });
    match found {
        Some(body) => Json(body).into_response(),
        None => SubsError::NotFound.render(&headers),
    }
}

/// `POST …/oneoffpayments`: `202 {id, links:[{rel:"mobile-pay", href}]}`. No duplicate
/// check: the same body twice asks the customer twice (and, with `auto_reserve`, reserves
/// twice).
pub async fn create(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let new = match input::one_off(&bytes) {
        Ok(n) => n,
        Err(e) => return e.render(&headers),
    };
    let base = sim.base_url(&headers);
    let answer = sim.with_subscriptions(|book, now| {
        let id = book
            .create_one_off(&merchant, &provider_id, &agreement_id, new, now)?
            .id
            .clone();
        let agreement = book
            .agreement(&merchant, &provider_id, &agreement_id)
            .expect("the one-off was just made on it");
        let one_off = book
            .one_off(&merchant, &provider_id, &agreement_id, &id)
            .expect("just made");
        Ok::<_, SubsError>(json!({
            "id": id,
            "links": [{ "rel": "mobile-pay", "href": view::mobile_pay_href(&base, agreement, Some(one_off)) }],
        }))
    });
    match answer {
        Ok(body) => (StatusCode::ACCEPTED, Json(body)).into_response(),
        Err(e) => e.render(&headers),
    }
}

pub async fn cancel(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id, id)): Path<(String, String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    match sim
        .with_subscriptions(|book, now| book.cancel_one_off(&merchant, &provider_id, &agreement_id, &id, now))
    {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(&headers),
    }
}

/// `POST …/capture`, no body: `204`.
pub async fn capture(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id, id)): Path<(String, String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    match sim.with_subscriptions(|book, now| book.capture(&merchant, &provider_id, &agreement_id, &id, now)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(&headers),
    }
}
