//! Integrator authentication: the OAuth client-credentials token endpoint.

use super::checks::{read_body, single};
use super::respond::Sim;
use crate::backends::pos_v10::formats;
use crate::backends::pos_v10::model::headers;
use crate::sim::tokens::Claims;
use axum::{
    body::Body,
    extract::State as AxumState,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use serde_json::json;
use std::collections::HashMap;

pub(super) async fn token(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    let oauth_error =
        |status: StatusCode, error: &str| (status, Json(json!({ "error": error }))).into_response();
    let Some((client_id, secret)) = basic_credentials(&headers) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let known = sim.with_world(|st, _| {
        st.fixtures
            .integrators
            .iter()
            .any(|i| i.client_id == client_id && i.client_secret == secret)
    });
    let ibm_matches = match single(&headers, headers::CLIENT_ID) {
        Ok(None) => true,
        Ok(Some(id)) => id == client_id,
        Err(()) => false,
    };
    if !known || !ibm_matches {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Ok(bytes) = read_body(body).await else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&bytes) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let merchant_vat = form.get("merchant_vat").cloned();
    if merchant_vat.as_deref().is_some_and(|v| !formats::is_valid_vat(v)) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let lifetime = sim.with_world(|st, _| st.settings.token_lifetime.as_secs());
    let now = sim.clock.now() / 1000;
    let claims = Claims {
        client_id,
        merchant_vat,
        iat: now,
        exp: now + i64::try_from(lifetime).unwrap_or(i64::MAX / 2),
        scope: "integrator_scope".into(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    let token = sim.tokens.issue(&claims);
    Json(json!({
        "access_token": token,
        "expires_in": lifetime,
        "token_type": "Bearer",
        "scope": "integrator_scope",
    }))
    .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = single(headers, header::AUTHORIZATION.as_str()).ok()??;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}
