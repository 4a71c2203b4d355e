//! MobilePay Subscriptions API v1 as it was before it was switched off: the API gateway's app
//! pair and the merchant's bearer token (scope `subscriptions`) on every call, the merchant and
//! its subscription providers, the provider's callback URL, agreements (with an optional
//! one-off first payment), one-offs on accepted agreements, capture, cancel and refunds, the
//! states and timers of §3.5 and §3.7 on the virtual clock, the sandbox's user simulation,
//! the landing page of the `mobile-pay` link, and scripted customers and ground truth under
//! `/_sim/subscriptions/`. Recurring payment requests, attachments, callback authentication
//! and callback delivery are left out: a counter signs customers up and takes the first
//! payment, and has no public address to receive callbacks. The choices the reference leaves
//! open are written down in docs/simulator.md.

mod api;
pub mod book;
mod consumer;
mod control;
mod customer;
mod error;
mod gateway;
mod input;
mod lifecycle;
mod money;
mod oneoffs;
mod refunds;
mod view;

use super::context::SimContext;
use axum::{
    routing::{get, patch, post},
    Router,
};
use std::sync::Arc;

pub use error::{RefundError, SubsError};

/// Where each endpoint is served: the merchant API under the real base path
/// `/subscriptions`, the sandbox's user simulation under `/recurringpayments-restapi`.
pub mod paths {
    pub const ME: &str = "/subscriptions/api/merchants/me";
    pub const PROVIDER: &str = "/subscriptions/api/providers/{provider_id}";
    pub const AGREEMENTS: &str = "/subscriptions/api/providers/{provider_id}/agreements";
    pub const AGREEMENT: &str = "/subscriptions/api/providers/{provider_id}/agreements/{agreement_id}";
    pub const ONE_OFFS: &str =
        "/subscriptions/api/providers/{provider_id}/agreements/{agreement_id}/oneoffpayments";
    pub const ONE_OFF: &str =
        "/subscriptions/api/providers/{provider_id}/agreements/{agreement_id}/oneoffpayments/{payment_id}";
    pub const CAPTURE: &str =
        "/subscriptions/api/providers/{provider_id}/agreements/{agreement_id}/oneoffpayments/{payment_id}/capture";
    pub const REFUNDS: &str =
        "/subscriptions/api/providers/{provider_id}/agreements/{agreement_id}/payments/{payment_id}/refunds";
    pub const USER_AGREEMENT: &str = "/recurringpayments-restapi/api/agreements/v1/{agreement_id}";
    pub const USER_CANCEL: &str = "/recurringpayments-restapi/api/users/v1/me/agreements/{agreement_id}";
    pub const USER_ONE_OFF: &str =
        "/recurringpayments-restapi/api/users/v1/me/agreements/{agreement_id}/oneoffpayments/{payment_id}";
    /// The landing page a `mobile-pay` link points to.
    pub const LANDING: &str = "/subscriptions-landing-website/";
}

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route(paths::ME, get(api::me))
        .route(paths::PROVIDER, get(api::provider).patch(api::patch_provider))
        .route(paths::AGREEMENTS, post(api::create).get(api::list))
        .route(paths::AGREEMENT, get(api::get).delete(api::cancel))
        .route(paths::ONE_OFFS, get(oneoffs::list).post(oneoffs::create))
        .route(paths::ONE_OFF, get(oneoffs::get).delete(oneoffs::cancel))
        .route(paths::CAPTURE, post(oneoffs::capture))
        .route(paths::REFUNDS, get(refunds::list).post(refunds::create))
        .route(paths::USER_AGREEMENT, patch(consumer::answer_agreement))
        .route(paths::USER_CANCEL, patch(consumer::cancel_agreement))
        .route(paths::USER_ONE_OFF, patch(consumer::answer_one_off))
        .route(paths::LANDING, get(consumer::landing))
        .route("/_sim/subscriptions/agreements", get(control::ground_truth))
        .route(
            "/_sim/subscriptions/customers",
            post(control::add_customer)
                .get(control::list_customers)
                .delete(control::clear_customers),
        )
}
