//! The Invoice part of the control API under `/_sim/invoice/`: scripted customers and the
//! ground truth of every invoice and of the pushes each phone got, for tests that must prove
//! "no second invoice was pushed to the customer's phone".

use super::customer::Customer;
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
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

/// `GET /_sim/invoice/invoices`: every invoice, oldest first, and the pushes per phone.
pub async fn invoices(State(sim): Sim) -> Response {
    let (list, pushes) = sim.with_invoices(|book, _| {
        let list: Vec<Value> = book
            .invoices()
            .iter()
            .map(|i| {
                json!({
                    "invoiceId": i.id,
                    "merchantId": i.merchant_id,
                    "kind": i.new.kind,
                    "issuerId": i.new.issuer,
                    "invoiceNumber": i.new.invoice_number,
                    "paymentReference": i.new.payment_reference,
                    "totalAmountMinor": i.new.total_minor,
                    "currencyCode": i.currency,
                    "alias": i.new.alias,
                    "dueDate": i.new.due_date.to_string(),
                    "paymentDate": i.payment_date.map(|d| d.to_string()),
                    "status": i.status,
                    "payer": i.payer,
                    "openedBy": i.opened_by,
                    "paymentFailures": i.payment_failures,
                    "history": i.history.iter().map(|(s, at)| json!({
                        "status": s,
                        "at": format_rfc3339(*at),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        (list, book.pushes().clone())
    });
    Json(json!({ "invoices": list, "pushes": pushes })).into_response()
}

/// `POST /_sim/invoice/customers`: what a test user does with the invoices that reach them
/// from now on (the latest entry for a phone wins).
pub async fn add_customer(State(sim): Sim, bytes: Bytes) -> Response {
    let customer: Customer = match body(&bytes) {
        Ok(c) => c,
        Err(e) => return *e,
    };
    let added = sim.with_invoices(|book, _| {
        if book.fixtures().user_by_phone(&customer.phone).is_none() {
            return false;
        }
        book.customers.add(customer.clone());
        true
    });
    if added {
        Json(json!({})).into_response()
    } else {
        bad(format!("unknown invoice test user {:?}", customer.phone))
    }
}

pub async fn list_customers(State(sim): Sim) -> Response {
    let list = sim.with_invoices(|book, _| book.customers.list().to_vec());
    Json(json!({ "customers": list })).into_response()
}

pub async fn clear_customers(State(sim): Sim) -> Response {
    sim.with_invoices(|book, _| book.customers.clear());
    Json(json!({})).into_response()
}
