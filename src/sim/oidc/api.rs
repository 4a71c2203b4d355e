//! The provider's public endpoints apart from the token endpoint: discovery, JWKS, authorize
//! and end-session.

use super::authorize::{self, ResponseMode};
use super::claims::{half_hash, IdClaims, ISSUER};
use super::provider::Authorized;
use super::{keys, pages, paths};
use crate::sim::context::SimContext;
use axum::{
    extract::{RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

/// The simulator's own address as the client reached it.
fn base_url(sim: &SimContext, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("{}://{host}", sim.scheme)
}

pub async fn discovery(State(sim): Sim, headers: HeaderMap) -> Response {
    let base = base_url(&sim, &headers);
    Json(json!({
        "issuer": ISSUER,
        "jwks_uri": format!("{base}{}", paths::JWKS),
        "authorization_endpoint": format!("{base}{}", paths::AUTHORIZE),
        "token_endpoint": format!("{base}{}", paths::TOKEN),
        "end_session_endpoint": format!("{base}{}", paths::END_SESSION),
        "introspection_endpoint": format!("{base}{}", paths::INTROSPECT),
        "frontchannel_logout_supported": true,
        "frontchannel_logout_session_supported": true,
        "scopes_supported": ["openid", "offline_access", "invoice", "subscriptions",
            "transactionreporting", "merchantpayments", "webhooks"],
        "claims_supported": ["sub", "auth_time", "idp", "amr", "merchant_id"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code id_token"],
        "response_modes_supported": ["form_post", "fragment"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

pub async fn jwks() -> Response {
    Json(keys::jwks()).into_response()
}

/// `GET /account/connect/authorize`.
pub async fn authorize(State(sim): Sim, RawQuery(query): RawQuery) -> Response {
    let params: Vec<(String, String)> = match serde_urlencoded::from_str(query.as_deref().unwrap_or_default())
    {
        Ok(p) => p,
        Err(_) => return pages::unauthorized("the query string is not valid"),
    };
    let req = match sim.with_oidc(|p, _| authorize::parse(&params, &p.fixtures)) {
        Ok(r) => r,
        Err(reason) => return pages::unauthorized(&reason),
    };
    let (code, id_token) = match sim.with_oidc(|p, now| p.authorize(&req, now)) {
        Err(reason) => return pages::unauthorized(&reason),
        Ok(Authorized::LoginNeeded) => return pages::login(&req.client_id),
        Ok(Authorized::Denied) => {
            let fields = [
                ("error", "access_denied"),
                ("error_description", "The user declined the consent"),
                ("state", req.state.as_str()),
            ];
            return deliver(req.response_mode, &req.redirect_uri, &fields);
        }
        Ok(Authorized::Code { code, grant }) => {
            let claims = IdClaims {
                nonce: Some(req.nonce.clone()),
                c_hash: Some(half_hash(&code)),
                ..IdClaims::new(&grant, sim.clock.now() / 1000)
            };
            match keys::sign(&claims) {
                Ok(id_token) => (code, id_token),
                Err(e) => {
                    tracing::error!(%e, "cannot sign an OIDC identity token");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
        }
    };
    let fields = [
        ("code", code.as_str()),
        ("state", req.state.as_str()),
        ("id_token", id_token.as_str()),
    ];
    deliver(req.response_mode, &req.redirect_uri, &fields)
}

fn deliver(mode: ResponseMode, redirect_uri: &str, fields: &[(&str, &str)]) -> Response {
    match mode {
        ResponseMode::FormPost => pages::form_post(redirect_uri, fields),
        ResponseMode::Fragment => {
            let fragment = serde_urlencoded::to_string(fields).unwrap_or_default();
            let location = format!("{redirect_uri}#{fragment}");
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
    }
}

/// `GET /account/connect/endsession`: the portal session ends, so every pending login of the
/// control API is forgotten.
pub async fn end_session(State(sim): Sim) -> Response {
    sim.with_oidc(|p, _| p.sign_out());
    pages::signed_out()
}
