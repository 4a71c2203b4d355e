//! The customer's side: the sandbox's "Invoice User Simulation" API (§2.13), where the call's
//! `AuthenticatedUser` header names the test user who accepts (pays or schedules) or rejects,
//! and the landing page an InvoiceLink's `Href` leads to, which a scanned QR code opens.
//! The user simulation needs the gateway's app pair but no merchant token.

use super::api::major;
use super::book::{day_of, Book};
use super::error::InvError;
use super::gateway;
use super::input;
use crate::sim::context::SimContext;
use crate::sim::oidc::pages::escape;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{Html, IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub const AUTHENTICATED_USER: &str = "AuthenticatedUser";

/// The test user's phone, once the gateway let the call through.
fn user(book: &Book, headers: &HeaderMap) -> Result<String, Box<Response>> {
    gateway::check_app(book.fixtures(), headers).map_err(|refused| Box::new(refused.into_response()))?;
    headers
        .get(AUTHENTICATED_USER)
        .and_then(|v| v.to_str().ok())
        .and_then(|guid| book.fixtures().user_by_guid(guid.trim()))
        .map(|u| u.phone.clone())
        .ok_or_else(|| Box::new(StatusCode::UNAUTHORIZED.into_response()))
}

fn declined(id: &str, status: &str, text: &str) -> Response {
    let body = json!({ "invoiceId": id, "invoicePaymentStatus": status, "errorText": text });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// `PUT …/consumers/me/invoices/{id}/accept` `{paymentDate, ConsumerCard}`: today pays,
/// a later day (up to `DueDate` + 30) schedules.
pub async fn accept(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>, bytes: Bytes) -> Response {
    let payment_date = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
        let map = v.as_object()?;
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("paymentDate"))
            .and_then(|(_, v)| input::date(v))
    });
    sim.with_invoices(|book, now| {
        let phone = match user(book, &headers) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        if !book.visible_to(&id, &phone) {
            return InvError::not_found().render(&headers);
        }
        let Some(payment_date) = payment_date else {
            return declined(&id, "Failed", "paymentDate is required (YYYY-MM-DD)");
        };
        match book.accept(&id, &phone, payment_date, now) {
            Ok(status) => {
                let invoice = book
                    .invoices()
                    .iter()
                    .find(|i| i.id.eq_ignore_ascii_case(&id))
                    .expect("accepted just now");
                let word = if status == super::lifecycle::Status::Paid {
                    "paid"
                } else {
                    "accepted"
                };
                let redirect =
                    invoice.new.redirect_url.as_ref().map(|url| {
                        format!("{url}{}status={word}", if url.contains('?') { '&' } else { '?' })
                    });
                Json(json!({
                    "invoiceId": invoice.id,
                    "invoicePaymentStatus": if word == "paid" { "Paid" } else { "Accepted" },
                    "receipt": {
                        "invoiceId": invoice.id,
                        "amount": major(invoice.new.total_minor),
                        "currencyCode": invoice.currency,
                        "paymentDate": invoice.payment_date.map(|d| d.to_string()),
                    },
                    "redirectUrl": redirect,
                }))
                .into_response()
            }
            Err(d) => declined(&id, d.status, &d.text),
        }
    })
}

/// `PUT …/consumers/me/invoices/{id}/reject`.
pub async fn reject(State(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    sim.with_invoices(|book, now| {
        let phone = match user(book, &headers) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        if !book.visible_to(&id, &phone) {
            return InvError::not_found().render(&headers);
        }
        match book.reject(&id, now) {
            Ok(()) => Json(json!({ "InvoiceId": id })).into_response(),
            Err(reason) => InvError::uncoded(reason).render(&headers),
        }
    })
}

#[derive(Deserialize)]
pub struct LandingQuery {
    token: Option<String>,
}

/// The page an InvoiceLink's `Href` opens: the invoice, or 404 once it expired.
pub async fn landing(State(sim): Sim, Query(query): Query<LandingQuery>) -> Response {
    let token = query.token.unwrap_or_default();
    let page = sim.with_invoices(|book, now| {
        let invoice = book.open_link(&token, now)?;
        Some(format!(
            "<!doctype html><title>MobilePay Invoice</title><h1>Invoice {}</h1>\
             <p>Amount: {} {}</p><p>Due: {}</p><p>Status: {}</p><p>Today: {}</p>\
             <p>Open this page on your phone, or scan its QR code with MobilePay, to pay.</p>",
            escape(invoice.new.invoice_number.as_deref().unwrap_or_default()),
            major(invoice.new.total_minor),
            invoice.currency,
            invoice.new.due_date,
            invoice.status,
            day_of(now),
        ))
    });
    match page {
        Some(html) => Html(html).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Html("<!doctype html><title>MobilePay Invoice</title><h1>This invoice has expired</h1>"),
        )
            .into_response(),
    }
}
