//! Refunds of a captured one-off (§3.9): request one (202) and list them, in the refund
//! endpoints' own error schema. The list carries each refund's `external_id`, so that a client
//! whose refund answer was lost can find its refund before it asks again: there is no
//! duplicate check, a repeated request refunds twice.

use super::api::merchant_or_return;
use super::error::RefundError;
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
use serde_json::Value;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub async fn list(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id, payment_id)): Path<(String, String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let found = sim.with_subscriptions(|book, _| {
        book.refunds_of(&merchant, &provider_id, &agreement_id, &payment_id)
            .map(|list| list.into_iter().map(view::refund).collect::<Vec<Value>>())
    });
    match found {
        Some(list) => Json(list).into_response(),
        None => RefundError::NotFound.render(&headers),
    }
}

pub async fn create(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, agreement_id, payment_id)): Path<(String, String, String)>,
    bytes: Bytes,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let new = match input::refund(&bytes) {
        Ok(n) => n,
        Err(e) => return RefundError::from(e).render(&headers),
    };
    let answer = sim.with_subscriptions(|book, now| {
        book.refund(&merchant, &provider_id, &agreement_id, &payment_id, new, now)
            .map(view::refund)
    });
    match answer {
        Ok(body) => (StatusCode::ACCEPTED, Json(body)).into_response(),
        Err(e) => e.render(&headers),
    }
}
