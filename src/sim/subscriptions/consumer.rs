//! The customer's side: the sandbox's user simulation API (§3.12), where the
//! `authenticateduser` header names the test user who accepts or rejects an agreement or a
//! one-off, or cancels an accepted agreement, and the landing page a `mobile-pay` link leads
//! to, which a scanned QR code opens. The user simulation needs the gateway's app pair but no
//! merchant token.

use super::book::Book;
use super::error::SubsError;
use super::gateway;
use super::input;
use super::money::major;
use crate::sim::context::SimContext;
use crate::sim::oidc::pages::escape;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub const AUTHENTICATED_USER: &str = "authenticateduser";

/// The test user's phone (`45…`), once the gateway let the call through.
fn user(book: &Book, headers: &HeaderMap) -> Result<String, Box<Response>> {
    gateway::check_app(book, headers)?;
    headers
        .get(AUTHENTICATED_USER)
        .and_then(|v| v.to_str().ok())
        .and_then(|guid| book.user_by_guid(guid.trim()))
        .ok_or_else(|| Box::new(StatusCode::UNAUTHORIZED.into_response()))
}

/// The answer a user gives: `Accepted` (true) or `Rejected` (false).
fn decision(bytes: &[u8]) -> Result<bool, SubsError> {
    match input::user_status(bytes).as_deref() {
        Some("Accepted") => Ok(true),
        Some("Rejected") => Ok(false),
        _ => Err(SubsError::input("status must be Accepted or Rejected.")),
    }
}

fn done(outcome: Result<(), SubsError>, headers: &HeaderMap) -> Response {
    match outcome {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(headers),
    }
}

/// `PATCH /api/agreements/v1/{id}` `{"status":"Accepted"|"Rejected"}`: `204`.
pub async fn answer_agreement(
    State(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    sim.with_subscriptions(|book, now| {
        let phone = match user(book, &headers) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        let outcome =
            decision(&bytes).and_then(|accept| book.user_answer_agreement(&id, &phone, accept, now));
        done(outcome, &headers)
    })
}

/// `PATCH /api/users/v1/me/agreements/{id}` `{"status":"Canceled"}`: `204`.
pub async fn cancel_agreement(
    State(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    sim.with_subscriptions(|book, now| {
        let phone = match user(book, &headers) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        let outcome = match input::user_status(&bytes).as_deref() {
            Some("Canceled") | Some("Cancelled") => book.user_cancel_agreement(&id, &phone, now),
            _ => Err(SubsError::input("status must be Canceled.")),
        };
        done(outcome, &headers)
    })
}

/// `PATCH /api/users/v1/me/agreements/{agreementId}/oneoffpayments/{paymentId}`, a JSON
/// Patch replacing `/status` with `Accepted` or `Rejected`: `204`.
pub async fn answer_one_off(
    State(sim): Sim,
    headers: HeaderMap,
    Path((agreement_id, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Response {
    sim.with_subscriptions(|book, now| {
        let phone = match user(book, &headers) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        let outcome = decision(&bytes).and_then(|accept| {
            book.user_answer_one_off(&agreement_id, &id, Some(&phone), accept, false, now)
        });
        done(outcome, &headers)
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LandingQuery {
    id: Option<String>,
    one_off_payment_id: Option<String>,
}

/// The page a `mobile-pay` link opens: what the customer is asked to confirm, or 404 once
/// there is nothing left to confirm.
pub async fn landing(State(sim): Sim, Query(query): Query<LandingQuery>) -> Response {
    let id = query.id.unwrap_or_default();
    let page = sim.with_subscriptions(|book, now| {
        let landing = book.open_link(&id, query.one_off_payment_id.as_deref(), now)?;
        let amount = landing
            .amount_minor
            .map(|a| format!("<p>Amount: {} {}</p>", major(a), landing.currency))
            .unwrap_or_default();
        let one_off = landing
            .one_off_minor
            .map(|a| format!("<p>Payment now: {} {}</p>", major(a), landing.currency))
            .unwrap_or_default();
        Some(format!(
            "<!doctype html><title>MobilePay Subscriptions</title><h1>{}</h1>{amount}{one_off}\
             <p>Status: {}</p><p>Open this page on your phone to confirm in MobilePay.</p>",
            escape(&landing.plan),
            landing.status,
        ))
    });
    match page {
        Some(html) => Html(html).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>MobilePay Subscriptions</title><h1>This request is no longer valid</h1>"),
        )
            .into_response(),
    }
}
