//! MobilePay Invoice API v1 as it was before it was switched off: the API gateway's app pair
//! and the merchant's bearer token on every call, the merchant and its issuers, InvoiceDirect
//! and InvoiceLink creation with the validation and error codes of the reference, details,
//! status and cancel, the states and timers of an invoice on the virtual clock, the sandbox's
//! user simulation, the landing page of a link, and scripted customers and ground truth under
//! `/_sim/invoice/`. Batch creation, callbacks and direct-invoice consents are left out: a
//! counter has no public address to receive them. The choices the reference leaves open are
//! written down in docs/simulator.md.

mod api;
pub mod book;
mod consumer;
mod control;
mod customer;
mod error;
mod gateway;
mod input;
mod lifecycle;

use super::context::SimContext;
use axum::{
    routing::{get, post, put},
    Router,
};
use std::sync::Arc;

pub use error::{correlation_id, InvError};

/// Where each endpoint is served, under the real base path `/invoice-restapi`.
pub mod paths {
    pub const ME: &str = "/invoice-restapi/api/v1/merchants/me";
    pub const ISSUERS: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoiceissuers";
    pub const CREATE: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoices";
    pub const CREATE_LINK: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoices/link";
    pub const INVOICE: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoices/{invoice_id}";
    pub const STATUS: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoices/{invoice_id}/status";
    pub const CANCEL: &str = "/invoice-restapi/api/v1/merchants/{merchant_id}/invoices/{invoice_id}/cancel";
    pub const USER_ACCEPT: &str = "/invoice-restapi/api/v1/consumers/me/invoices/{invoice_id}/accept";
    pub const USER_REJECT: &str = "/invoice-restapi/api/v1/consumers/me/invoices/{invoice_id}/reject";
    /// The landing page an InvoiceLink's `Href` points to.
    pub const LANDING: &str = "/usersettings-landing-website/";
}

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route(paths::ME, get(api::me))
        .route(paths::ISSUERS, get(api::issuers))
        .route(paths::CREATE, post(api::create_direct))
        .route(paths::CREATE_LINK, post(api::create_link))
        .route(paths::INVOICE, get(api::get))
        .route(paths::STATUS, get(api::status))
        .route(paths::CANCEL, put(api::cancel))
        .route(paths::USER_ACCEPT, put(consumer::accept))
        .route(paths::USER_REJECT, put(consumer::reject))
        .route(paths::LANDING, get(consumer::landing))
        .route("/_sim/invoice/invoices", get(control::invoices))
        .route(
            "/_sim/invoice/customers",
            post(control::add_customer)
                .get(control::list_customers)
                .delete(control::clear_customers),
        )
}
