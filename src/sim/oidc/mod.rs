//! The merchant-consent OpenID Connect provider that MobilePay Invoice and Subscriptions
//! authorised with: discovery, JWKS, the hybrid flow's authorize endpoint (PKCE S256, single-use
//! nonces, `merchant_vat`), the token endpoint (authorization code and refresh token grants,
//! `OneTime` or `reUse` refresh tokens per client, 13-month sliding lifetime), introspection,
//! and the check the merchant APIs make of a bearer token. Paths mirror MobilePay's two hosts
//! under the simulator's address; the choices the reference leaves open are written down in
//! docs/simulator.md.

mod api;
mod authorize;
pub mod bearer;
mod claims;
mod client_auth;
mod control;
pub(super) mod error;
mod keys;
pub(super) mod pages;
pub mod provider;
mod token;
pub mod web_service;

use super::context::SimContext;
use axum::{
    routing::{get, post},
    Router,
};
use std::sync::Arc;

/// Where each endpoint is served: the admin host's under `/account`, the API host's under
/// `/merchant-authentication-openidconnect`.
pub mod paths {
    pub const DISCOVERY: &str = "/merchant-authentication-openidconnect/.well-known/openid-configuration";
    /// The admin host's copy of the discovery document.
    pub const ACCOUNT_DISCOVERY: &str = "/account/.well-known/openid-configuration";
    pub const JWKS: &str = "/merchant-authentication-openidconnect/.well-known/openid-configuration/jwks";
    pub const AUTHORIZE: &str = "/account/connect/authorize";
    pub const END_SESSION: &str = "/account/connect/endsession";
    pub const TOKEN: &str = "/merchant-authentication-openidconnect/connect/token";
    pub const INTROSPECT: &str = "/merchant-authentication-openidconnect/connect/introspect";
}

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route(paths::DISCOVERY, get(api::discovery))
        .route(paths::ACCOUNT_DISCOVERY, get(api::discovery))
        .route(paths::JWKS, get(api::jwks))
        .route(paths::AUTHORIZE, get(api::authorize))
        .route(paths::END_SESSION, get(api::end_session))
        .route(paths::TOKEN, post(token::token))
        .route(paths::INTROSPECT, post(token::introspect))
        .route("/_sim/oidc/login", post(control::login))
        .route("/_sim/oidc/revoke", post(control::revoke))
        .route("/_sim/oidc/consents", get(control::consents))
        .route("/_sim/oidc/bearer", get(control::bearer))
}
