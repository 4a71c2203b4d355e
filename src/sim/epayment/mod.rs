//! The Vipps MobilePay ePayment API beside PoS V10 in the same server: access token,
//! payments (create, get, event log, capture, cancel, refund), the test environment's
//! force-approve, the one-time QR image, the Webhooks API with signed deliveries, the QR API's
//! merchant callback QRs, and a simulated customer under `/_sim/epayment/`.
//! Where the API reference is silent the choice is written down in docs/simulator.md.

mod api;
mod auth;
mod callback;
mod control;
pub mod delivery;
mod hooks;
pub mod ledger;
mod limits;
mod payment;
pub(super) mod problem;
mod qr;
mod qr_api;
mod receipt;
mod validate;
mod webhooks_api;

use super::context::SimContext;
use axum::{
    routing::{delete, get, post, put},
    Router,
};
use std::sync::Arc;

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/accesstoken/get", post(api::token))
        .route("/epayment/v1/payments", post(api::create))
        .route("/epayment/v1/payments/{reference}", get(api::get_payment))
        .route("/epayment/v1/payments/{reference}/events", get(api::events))
        .route("/epayment/v1/payments/{reference}/capture", post(api::capture))
        .route("/epayment/v1/payments/{reference}/cancel", post(api::cancel))
        .route("/epayment/v1/payments/{reference}/refund", post(api::refund))
        .route(
            "/epayment/v1/test/payments/{reference}/approve",
            post(api::force_approve),
        )
        .route("/qr-image/v1", get(api::qr_image))
        .route(
            "/webhooks/v1/webhooks",
            post(webhooks_api::register).get(webhooks_api::list),
        )
        .route("/webhooks/v1/webhooks/{id}", delete(webhooks_api::delete))
        .route("/_sim/epayment/webhooks/duplicates", post(control::duplicates))
        .route("/qr/v1/merchant-callback", get(qr_api::list_callbacks))
        .route(
            "/qr/v1/merchant-callback/{id}",
            put(qr_api::put_callback)
                .get(qr_api::get_callback)
                .delete(qr_api::delete_callback),
        )
        .route(
            "/qr/v1/merchant-callback/mobilepay/{id}",
            put(qr_api::put_mobilepay),
        )
        .route(
            "/qr-image/v1/merchant-callback/{msn}/{id}",
            get(qr_api::callback_image),
        )
        .route("/_sim/epayment/checkin", post(qr_api::check_in))
        .route("/_sim/epayment/payments", get(control::payments))
        .route(
            "/_sim/epayment/payments/{msn}/{reference}/{step}",
            post(control::customer_step),
        )
        .route("/_sim/epayment/scan", post(control::scan))
        .route(
            "/_sim/epayment/behaviour",
            post(control::add_behaviour)
                .get(control::list_behaviour)
                .delete(control::clear_behaviour),
        )
}
