//! The merchant's endpoints (§2.2): who am I, issuers, create InvoiceDirect and InvoiceLink,
//! details, status and cancel. Each call passes the [`gateway`](super::gateway) first; a path
//! `merchantId` other than the token's is `10302` "Merchant not found", another merchant's
//! invoice is not found. No idempotency header exists: an `Idempotency-Key` is ignored like
//! any unknown header, and duplicates are caught by content alone.

use super::book::{Book, Invoice};
use super::error::InvError;
use super::gateway;
use super::input::{self, Kind};
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

/// The merchant a call acts for, once the gateway let it through and the path's
/// `merchantId` (when it has one) is the token's.
fn merchant(
    sim: &SimContext,
    headers: &HeaderMap,
    path_merchant: Option<&str>,
) -> Result<String, Box<Response>> {
    let merchant = sim
        .with_invoices(|book, now| gateway::merchant(book.fixtures(), headers, now / 1000))
        .map_err(|refused| Box::new(refused.into_response()))?;
    match path_merchant {
        Some(p) if !p.eq_ignore_ascii_case(&merchant) => Err(Box::new(
            InvError::domain("10302", "Merchant not found").render(headers),
        )),
        _ => Ok(merchant),
    }
}

/// A decimal amount in major units from hundredths, as a JSON number.
pub fn major(minor: i64) -> Value {
    if minor % 100 == 0 {
        json!(minor / 100)
    } else {
        json!(minor as f64 / 100.0)
    }
}

pub async fn me(State(sim): Sim, headers: HeaderMap) -> Response {
    let merchant = match merchant(&sim, &headers, None) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    if !sim.with_invoices(|book, _| book.is_invoice_merchant(&merchant)) {
        let not_invoice = InvError {
            status: StatusCode::NOT_FOUND,
            ..InvError::domain("10302", "Merchant not found")
        };
        return not_invoice.render(&headers);
    }
    Json(json!({ "MerchantId": merchant })).into_response()
}

pub async fn issuers(State(sim): Sim, headers: HeaderMap, Path(merchant_id): Path<String>) -> Response {
    let merchant = match merchant(&sim, &headers, Some(&merchant_id)) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let list: Vec<Value> = sim.with_invoices(|book, _| {
        book.fixtures()
            .issuers_of(&merchant)
            .map(|i| {
                json!({
                    "Id": i.id,
                    "Name": i.name,
                    "AccountType": "Account",
                    "Status": i.status,
                    "Address": i.address,
                    "City": i.city,
                    "ZipCode": i.zip_code,
                })
            })
            .collect()
    });
    Json(json!({ "InvoiceIssuers": list })).into_response()
}

/// The simulator's own address as the caller sees it, for the links it hands out.
fn base_url(sim: &SimContext, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", sim.scheme)
}

/// The `user-redirect` link of an InvoiceLink: opaque, short enough for a QR code, and
/// resolved by the simulator's landing page.
pub fn link_href(base: &str, invoice: &Invoice) -> String {
    format!(
        "{base}{}?token={}&countryCode={}&product=Invoice",
        super::paths::LANDING,
        invoice.link_token.as_deref().unwrap_or_default(),
        invoice.country
    )
}

async fn create(
    sim: &SimContext,
    headers: &HeaderMap,
    merchant_id: &str,
    bytes: &[u8],
    kind: Kind,
) -> Response {
    let merchant = match merchant(sim, headers, Some(merchant_id)) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let new = match input::parse(bytes, kind) {
        Ok(n) => n,
        Err(e) => return e.render(headers),
    };
    let base = base_url(sim, headers);
    let answer = sim.with_invoices(|book: &mut Book, now| {
        book.create(&merchant, new, now).map(|invoice| match kind {
            Kind::Direct => json!({ "InvoiceId": invoice.id }),
            Kind::Link => json!({
                "InvoiceId": invoice.id,
                "Links": [{ "Rel": "user-redirect", "Href": link_href(&base, invoice) }],
            }),
        })
    });
    match answer {
        // 200, as the API specification and the 2019 release note say (the docs' example shows
        // 202).
        Ok(body) => Json(body).into_response(),
        Err(e) => e.render(headers),
    }
}

pub async fn create_direct(
    State(sim): Sim,
    headers: HeaderMap,
    Path(m): Path<String>,
    bytes: Bytes,
) -> Response {
    create(&sim, &headers, &m, &bytes, Kind::Direct).await
}

pub async fn create_link(
    State(sim): Sim,
    headers: HeaderMap,
    Path(m): Path<String>,
    bytes: Bytes,
) -> Response {
    create(&sim, &headers, &m, &bytes, Kind::Link).await
}

fn details(book: &Book, invoice: &Invoice) -> Value {
    let issuer = book.issuer(&invoice.new.issuer);
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    let articles: Vec<Value> = invoice
        .new
        .articles
        .iter()
        .map(|a| {
            json!({
                "ArticleNumber": a.number,
                "ArticleDescription": a.description,
                "TotalPriceIncludingVat": a.total_price_including_vat,
                "Quantity": a.quantity,
                "PricePerUnit": a.price_per_unit,
            })
        })
        .collect();
    let vat = invoice.new.total_vat_minor;
    json!({
        "InvoiceId": invoice.id,
        "InvoiceNumber": invoice.new.invoice_number,
        "IssueDate": date(invoice.new.issue_date.or(Some(super::book::day_of(invoice.created_at())))),
        "DueDate": date(Some(invoice.new.due_date)),
        "PaymentDate": date(invoice.payment_date),
        "Comment": invoice.new.comment,
        "InvoiceArticles": articles,
        "CurrencyCode": invoice.currency,
        "TotalAmount": major(invoice.new.total_minor),
        "InvoiceVatTotals": vat.map(|v| vec![json!({ "VatRate": null, "TotalVatAmount": major(v) })]).unwrap_or_default(),
        "TotalVatAmount": vat.map(major),
        "TotalAmountExcludingVat": major(invoice.new.total_minor - vat.unwrap_or(0)),
        "MerchantId": invoice.merchant_id,
        "InvoiceIssuerId": invoice.new.issuer,
        "InvoiceIssuerName": issuer.map(|i| i.name.clone()),
        "InvoiceIssuerAddress": issuer.map(|i| i.address.clone()),
        "InvoiceIssuerZipcode": issuer.map(|i| i.zip_code.clone()),
        "InvoiceIssuerCity": issuer.map(|i| i.city.clone()),
        "MerchantIsoCountryCode": invoice.country,
        "LogoUrl": null,
        "Status": invoice.status.to_string(),
        "InvoiceUrl": invoice.new.invoice_url,
        "UrlType": if invoice.new.invoice_url.is_some() { 1 } else { 0 },
        "PaymentTransactionId": (invoice.status == super::lifecycle::Status::Paid).then(|| format!("sim-{}", invoice.id)),
        "PaymentReference": invoice.new.payment_reference.clone().or(invoice.new.invoice_number.clone()),
    })
}

/// Runs `f` on the merchant's invoice, or answers 404.
fn with_invoice(
    sim: &SimContext,
    headers: &HeaderMap,
    merchant_id: &str,
    id: &str,
    f: impl FnOnce(&Book, &Invoice) -> Value,
) -> Response {
    let merchant = match merchant(sim, headers, Some(merchant_id)) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    let found = sim.with_invoices(|book, _| book.get(&merchant, id).map(|i| f(book, i)));
    match found {
        Some(body) => Json(body).into_response(),
        None => InvError::not_found().render(headers),
    }
}

pub async fn get(State(sim): Sim, headers: HeaderMap, Path((m, id)): Path<(String, String)>) -> Response {
    with_invoice(&sim, &headers, &m, &id, details)
}

pub async fn status(State(sim): Sim, headers: HeaderMap, Path((m, id)): Path<(String, String)>) -> Response {
    with_invoice(
        &sim,
        &headers,
        &m,
        &id,
        |_, i| json!({ "InvoiceId": i.id, "Status": i.status.to_string() }),
    )
}

pub async fn cancel(State(sim): Sim, headers: HeaderMap, Path((m, id)): Path<(String, String)>) -> Response {
    let merchant = match merchant(&sim, &headers, Some(&m)) {
        Ok(m) => m,
        Err(r) => return *r,
    };
    match sim.with_invoices(|book, now| book.cancel(&merchant, &id, now)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(&headers),
    }
}
