//! The OIDC part of the control API under `/_sim/oidc/`: the portal user who logs in and
//! consents (or declines), the SuperManager who removes a consent, the ground truth of
//! consents and refresh tokens, and the API gateway's verdict on a bearer token.

use super::bearer;
use super::provider::{Decision, Login};
use crate::sim::clock::format_rfc3339;
use crate::sim::context::SimContext;
use crate::sim::control::{bad, body};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoginBody {
    client_id: String,
    user: String,
    #[serde(default = "approve")]
    decision: Decision,
}

fn approve() -> Decision {
    Decision::Approve
}

/// `POST /_sim/oidc/login`: the portal user logs in for the next authorize request of the
/// client and approves (default) or declines the consent screen.
pub async fn login(State(sim): Sim, bytes: Bytes) -> Response {
    let req: LoginBody = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let login = Login {
        client_id: req.client_id,
        user: req.user,
        decision: req.decision,
    };
    match sim.with_oidc(|p, _| p.log_in(login)) {
        Ok(()) => Json(json!({})).into_response(),
        Err(message) => bad(message),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeBody {
    client_id: String,
    merchant_vat: String,
}

/// `POST /_sim/oidc/revoke`: a SuperManager removes the client's consent for the merchant.
pub async fn revoke(State(sim): Sim, bytes: Bytes) -> Response {
    let req: RevokeBody = match body(&bytes) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    if sim.with_oidc(|p, _| p.revoke(&req.client_id, &req.merchant_vat)) {
        Json(json!({})).into_response()
    } else {
        (StatusCode::NOT_FOUND, Json(json!({ "error": "no such consent" }))).into_response()
    }
}

/// `GET /_sim/oidc/consents`.
pub async fn consents(State(sim): Sim) -> Response {
    let list: Vec<_> = sim.with_oidc(|p, now| p.consents(now));
    let list: Vec<_> = list
        .into_iter()
        .map(|c| {
            json!({
                "clientId": c.client_id,
                "merchantVat": c.merchant_vat,
                "merchantId": c.merchant_id,
                "user": c.user,
                "scopes": c.scopes,
                "grantedAt": format_rfc3339(c.granted_at),
                "refreshes": c.refreshes,
                "refreshTokens": c.refresh_tokens.iter().map(|(issued, expires)| json!({
                    "issuedAt": format_rfc3339(*issued),
                    "expiresAt": format_rfc3339(*expires),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "consents": list })).into_response()
}

/// `GET /_sim/oidc/bearer`: what the API gateway answers to this `Authorization` header: 401,
/// or the merchant and scopes the Invoice and Subscriptions APIs act on.
pub async fn bearer(State(sim): Sim, headers: HeaderMap) -> Response {
    match bearer::authenticate(headers.get(header::AUTHORIZATION), sim.clock.now() / 1000) {
        Ok(c) => Json(json!({
            "clientId": c.client_id,
            "merchantId": c.merchant_id,
            "sub": c.sub,
            "scopes": c.scope,
            "expiresAt": format_rfc3339(c.exp * 1000),
        }))
        .into_response(),
        Err(denied) => {
            tracing::debug!(?denied, "bearer token refused");
            denied.into_response()
        }
    }
}
