//! The Webhooks API (`/webhooks/v1/webhooks`): a sales unit registers, lists and deletes the
//! URLs that get its payment events. Same keys, token and headers as ePayment.

use super::auth::authorize;
use super::delivery::Deliveries;
use super::problem::EpError;
use crate::backends::epayment::webhooks::{RegisterRequest, RegisterResponse, RegistrationList};
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub async fn register(State(sim): Sim, headers: HeaderMap, uri: Uri, bytes: Bytes) -> Response {
    let registered = authorize(&sim, &headers, false).and_then(|(caller, _)| {
        let request: RegisterRequest = serde_json::from_slice(&bytes)
            .map_err(|e| EpError::field("body", format!("The request body is invalid: {e}")))?;
        Deliveries::register(&sim, &caller.msn, &request.url, &request.events)
    });
    match registered {
        Ok(hook) => (
            StatusCode::CREATED,
            Json(RegisterResponse {
                id: hook.registration.id,
                secret: hook.secret,
            }),
        )
            .into_response(),
        Err(e) => e.render(uri.path()),
    }
}

pub async fn list(State(sim): Sim, headers: HeaderMap, uri: Uri) -> Response {
    match authorize(&sim, &headers, false) {
        Ok((caller, _)) => Json(RegistrationList {
            webhooks: sim.webhooks.list(&caller.msn),
        })
        .into_response(),
        Err(e) => e.render(uri.path()),
    }
}

pub async fn delete(State(sim): Sim, headers: HeaderMap, uri: Uri, Path(id): Path<String>) -> Response {
    let deleted =
        authorize(&sim, &headers, false).and_then(|(caller, _)| sim.webhooks.delete(&caller.msn, &id));
    match deleted {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(uri.path()),
    }
}
