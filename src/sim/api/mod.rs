//! The MobilePay surface: integrator authentication, the PoS V10 API and the sandbox user
//! simulation. Handlers check headers and bodies in the order documented in
//! docs/simulator.md, then hand over to [`World`](super::world::World) under its lock.
//!
//! One module per resource family; the checks and answer shapes they share are in [`checks`] and
//! [`respond`].

mod auth;
mod checks;
mod payments;
mod pointofsales;
mod refunds;
mod respond;
mod stores;
mod usersim;

use super::context::SimContext;
use axum::{
    routing::{get, post},
    Router,
};
use std::sync::Arc;

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/integrator-authentication/connect/token", post(auth::token))
        .route("/pos/v10/stores", get(stores::list_stores))
        .route("/pos/v10/stores/detailed", get(stores::list_stores_detailed))
        .route("/pos/v10/stores/{store_id}", get(stores::get_store))
        .route(
            "/pos/v10/pointofsales",
            post(pointofsales::create_pos).get(pointofsales::find_pos),
        )
        .route(
            "/pos/v10/pointofsales/{pos_id}",
            get(pointofsales::get_pos).delete(pointofsales::delete_pos),
        )
        .route(
            "/pos/v10/pointofsales/{pos_id}/checkin",
            get(pointofsales::get_checkin),
        )
        .route(
            "/pos/v10/payments",
            post(payments::initiate_payment).get(payments::find_payments),
        )
        .route("/pos/v10/payments/prepare", post(payments::prepare_payment))
        .route("/pos/v10/payments/{payment_id}", get(payments::get_payment))
        .route(
            "/pos/v10/payments/{payment_id}/ready",
            post(payments::ready_payment),
        )
        .route(
            "/pos/v10/payments/{payment_id}/capture",
            post(payments::capture_payment),
        )
        .route(
            "/pos/v10/payments/{payment_id}/cancel",
            post(payments::cancel_payment),
        )
        .route(
            "/pos/v10/refunds",
            post(refunds::create_refund).get(refunds::find_refunds),
        )
        .route("/pos/v10/refunds/{refund_id}", get(refunds::get_refund))
        .route(
            "/pos/v10/refunds/{refund_id}/capture",
            post(refunds::capture_refund),
        )
        .route(
            "/pos/v10/refunds/{refund_id}/cancel",
            post(refunds::cancel_refund),
        )
        .route("/pos/app/usersimulation/checkin", post(usersim::user_checkin))
        .route(
            "/pos/app/usersimulation/acceptpayment",
            post(usersim::user_accept),
        )
        .route(
            "/pos/app/usersimulation/cancelpaymentbyuser",
            post(usersim::user_cancel),
        )
}
