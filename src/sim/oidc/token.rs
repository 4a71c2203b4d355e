//! `POST /connect/token` and `POST /connect/introspect`: the two grants and the signed
//! answer, and what introspection tells about a token.

use super::bearer;
use super::claims::{half_hash, is_pkce_value, AccessClaims, Grant, IdClaims, TOKEN_LIFETIME_SECS};
use super::client_auth::{authenticate_client, parse_form};
use super::error::OAuthError;
use super::keys;
use crate::sim::context::SimContext;
use crate::sim::fixtures::OidcClient;
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Grant types RFC 6749 defines that these clients are not allowed (`unauthorized_client`);
/// anything else unknown is `unsupported_grant_type`.
const OTHER_KNOWN_GRANTS: [&str; 3] = ["client_credentials", "password", "implicit"];

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is missing")))
}

/// What a grant decided, before signing.
struct Issued {
    grant: Grant,
    nonce: Option<String>,
    refresh_token: String,
}

fn grant(
    sim: &Arc<SimContext>,
    client: &OidcClient,
    form: &HashMap<String, String>,
) -> Result<Issued, OAuthError> {
    match required(form, "grant_type")? {
        "authorization_code" => {
            let code = required(form, "code")?;
            let redirect_uri = required(form, "redirect_uri")?;
            let verifier = required(form, "code_verifier")?;
            if !is_pkce_value(verifier) {
                return Err(OAuthError::invalid_request(
                    "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
                ));
            }
            let (grant, nonce, refresh_token) =
                sim.with_oidc(|p, now| p.redeem(&client.client_id, code, redirect_uri, verifier, now))?;
            Ok(Issued {
                grant,
                nonce: Some(nonce),
                refresh_token,
            })
        }
        "refresh_token" => {
            // A code_verifier sent along is ignored: the reference's samples send none.
            let token = required(form, "refresh_token")?;
            let scope: Option<Vec<String>> = form
                .get("scope")
                .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(String::from).collect());
            let (grant, refresh_token) =
                sim.with_oidc(|p, now| p.refresh(&client.client_id, token, scope.as_deref(), now))?;
            Ok(Issued {
                grant,
                nonce: None,
                refresh_token,
            })
        }
        other if OTHER_KNOWN_GRANTS.contains(&other) => Err(OAuthError::unauthorized_client(format!(
            "the client may not use the {other} grant"
        ))),
        other => Err(OAuthError::unsupported_grant_type(format!(
            "grant_type {other:?} is not supported"
        ))),
    }
}

fn sign(issued: Issued, now_secs: i64) -> Result<Value, OAuthError> {
    let signing_failed = |e: jsonwebtoken::errors::Error| {
        tracing::error!(%e, "cannot sign an OIDC token");
        OAuthError::server_error("cannot sign the token")
    };
    let access_token = keys::sign(&AccessClaims::new(&issued.grant, now_secs)).map_err(signing_failed)?;
    let id_claims = IdClaims {
        nonce: issued.nonce,
        at_hash: Some(half_hash(&access_token)),
        ..IdClaims::new(&issued.grant, now_secs)
    };
    let id_token = keys::sign(&id_claims).map_err(signing_failed)?;
    Ok(json!({
        "id_token": id_token,
        "access_token": access_token,
        "expires_in": TOKEN_LIFETIME_SECS,
        "token_type": "Bearer",
        "refresh_token": issued.refresh_token,
        "scope": issued.grant.scopes.join(" "),
    }))
}

/// Token answers must not be cached (RFC 6749 §5.1).
fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

pub async fn token(State(sim): State<Arc<SimContext>>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = (|| {
        let form = parse_form(&headers, &body)?;
        let client = sim.with_oidc(|p, _| authenticate_client(&headers, &form, &p.fixtures))?;
        let issued = grant(&sim, &client, &form)?;
        sign(issued, sim.clock.now() / 1000)
    })();
    match answer {
        Ok(body) => no_store(body),
        Err(e) => {
            tracing::debug!(error = e.error, reason = %e.description, "OIDC token request refused");
            e.into_response()
        }
    }
}

/// RFC 7662 introspection for any authenticated client: `active` and the claims of a valid
/// access token, `{"active":false}` for anything else (expired, foreign, refresh tokens).
pub async fn introspect(State(sim): State<Arc<SimContext>>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = (|| -> Result<Value, OAuthError> {
        let form = parse_form(&headers, &body)?;
        sim.with_oidc(|p, _| authenticate_client(&headers, &form, &p.fixtures))?;
        let token = required(&form, "token")?;
        Ok(match bearer::verify(token, sim.clock.now() / 1000) {
            Ok(c) => json!({
                "active": true,
                "iss": c.iss,
                "aud": c.aud,
                "nbf": c.nbf,
                "exp": c.exp,
                "client_id": c.client_id,
                "sub": c.sub,
                "auth_time": c.auth_time,
                "merchant_id": c.merchant_id,
                "scope": c.scope.join(" "),
                "token_type": "access_token",
            }),
            Err(_) => json!({ "active": false }),
        })
    })();
    match answer {
        Ok(body) => no_store(body),
        Err(e) => e.into_response(),
    }
}
