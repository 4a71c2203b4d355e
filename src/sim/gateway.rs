//! The API gateway in front of MobilePay's v1 merchant APIs (Invoice and Subscriptions): first
//! the developer-portal app's `x-ibm-client-id` / `x-ibm-client-secret` (§0.1, §1.1 of the
//! reference), then the merchant's bearer token with the product's scope. The reference does
//! not record the gateway's body for a bad app pair (§6); the simulator answers as IBM API
//! Connect does, `401 {httpCode, httpMessage, moreInformation}`. A bad token gets the
//! deliberately vague bare 401 of §1.8, whatever the reason (missing, forged, expired, or
//! without the product's scope).

use crate::backends::pos_v10::model::headers::{CLIENT_ID, CLIENT_SECRET};
use crate::sim::fixtures::GatewayApp;
use crate::sim::oidc::bearer::{self, Denied};
use axum::{
    http::{header::AUTHORIZATION, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// Why the gateway refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `x-ibm-client-id`, or one no app has.
    UnknownApp,
    /// The app's secret is missing or wrong.
    WrongSecret,
    Token(Denied),
    /// A valid token of a consent without the product's scope.
    Scope,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let more = match self {
            Refused::UnknownApp => "Client id not registered.",
            Refused::WrongSecret => "Invalid client id or secret.",
            Refused::Token(denied) => return denied.into_response(),
            Refused::Scope => return Denied::Invalid.into_response(),
        };
        let body = json!({"httpCode": "401", "httpMessage": "Unauthorized", "moreInformation": more});
        (StatusCode::UNAUTHORIZED, Json(body)).into_response()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The app pair alone: what the sandboxes' user simulation APIs need.
pub fn check_app(apps: &[GatewayApp], headers: &HeaderMap) -> Result<(), Refused> {
    let app = header(headers, CLIENT_ID)
        .and_then(|id| apps.iter().find(|a| a.client_id == id))
        .ok_or(Refused::UnknownApp)?;
    if header(headers, CLIENT_SECRET) != Some(app.client_secret.as_str()) {
        return Err(Refused::WrongSecret);
    }
    Ok(())
}

/// The app pair and a bearer token with `scope`; the merchant (`MerchantId`) the token was
/// issued for.
pub fn merchant(
    apps: &[GatewayApp],
    headers: &HeaderMap,
    now_secs: i64,
    scope: &str,
) -> Result<String, Refused> {
    check_app(apps, headers)?;
    let claims = bearer::authenticate(headers.get(AUTHORIZATION), now_secs).map_err(Refused::Token)?;
    if !claims.scope.iter().any(|s| s == scope) {
        return Err(Refused::Scope);
    }
    Ok(claims.merchant_id)
}
