//! The access-token endpoint and the checks every ePayment call starts with: the gateway's
//! subscription key and token, then the merchant serial number and the system headers.

use super::problem::EpError;
use crate::backends::epayment::model::{headers, AccessTokenResponse};
use crate::sim::context::SimContext;
use crate::sim::tokens::Claims;
use axum::http::{header, HeaderMap, StatusCode};
use std::sync::Arc;

/// The scope of ePayment tokens; PoS V10 endpoints do not accept them (their client ids are
/// not integrators), nor do ePayment endpoints accept V10 tokens.
const SCOPE: &str = "epayment";
/// What the real token endpoint names as the token's audience.
const RESOURCE: &str = "00000002-0000-0000-c000-000000000000";

/// The sales unit a call is made for.
#[derive(Clone, Debug)]
pub struct Caller {
    pub msn: String,
    pub subscription_key: String,
}

fn header_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The gateway's check of the subscription key: `Some(key)` when one is sent and known.
fn subscription_key(sim: &Arc<SimContext>, headers: &HeaderMap) -> Result<String, EpError> {
    let Some(key) = header_value(headers, headers::SUBSCRIPTION_KEY) else {
        return Err(EpError::gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.",
        ));
    };
    let known = sim.with_epayment(|l, _| l.fixtures.sales_units.iter().any(|u| u.subscription_key == key));
    if !known {
        return Err(EpError::gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.",
        ));
    }
    Ok(key.to_string())
}

/// `POST /accesstoken/get`: keys in headers, empty body.
pub fn access_token(sim: &Arc<SimContext>, headers: &HeaderMap) -> Result<AccessTokenResponse, EpError> {
    let key = subscription_key(sim, headers)?;
    let id = header_value(headers, headers::CLIENT_ID).unwrap_or_default();
    let secret = header_value(headers, headers::CLIENT_SECRET).unwrap_or_default();
    let unit = sim.with_epayment(|l, _| {
        l.fixtures
            .sales_units
            .iter()
            .find(|u| u.client_id == id && u.client_secret == secret && u.subscription_key == key)
            .cloned()
    });
    let Some(unit) = unit else {
        return Err(EpError::plain(
            StatusCode::UNAUTHORIZED,
            "client_id, client_secret and Ocp-Apim-Subscription-Key do not belong together",
        ));
    };
    let lifetime = sim.with_world(|st, _| st.settings.token_lifetime.as_secs());
    let lifetime = i64::try_from(lifetime).unwrap_or(i64::MAX / 4);
    let now = sim.clock.now() / 1000;
    let claims = Claims {
        client_id: unit.client_id,
        merchant_vat: None,
        iat: now,
        exp: now + lifetime,
        scope: SCOPE.into(),
        jti: uuid::Uuid::new_v4().to_string(),
    };
    Ok(AccessTokenResponse {
        token_type: "Bearer".into(),
        expires_in: lifetime.to_string(),
        ext_expires_in: lifetime.to_string(),
        expires_on: (now + lifetime).to_string(),
        not_before: now.to_string(),
        resource: RESOURCE.into(),
        access_token: sim.tokens.issue(&claims),
    })
}

/// Checks a call's credentials and headers; returns the caller and, when `idempotent`, the
/// `Idempotency-Key`.
pub fn authorize(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    idempotent: bool,
) -> Result<(Caller, Option<String>), EpError> {
    let key = subscription_key(sim, headers)?;
    let denied = || {
        EpError::gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid or missing token",
        )
    };
    let token = header_value(headers, header::AUTHORIZATION.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(denied)?;
    let claims = sim
        .tokens
        .verify(token.trim(), sim.clock.now() / 1000)
        .filter(|c| c.scope == SCOPE)
        .ok_or_else(denied)?;
    let unit = sim
        .with_epayment(|l, _| {
            l.fixtures
                .sales_units
                .iter()
                .find(|u| u.client_id == claims.client_id)
                .cloned()
        })
        .ok_or_else(denied)?;
    if unit.subscription_key != key {
        return Err(denied());
    }
    let msn = header_value(headers, headers::MSN)
        .ok_or_else(|| EpError::field(headers::MSN, "Merchant-Serial-Number is required"))?;
    let valid = (4..=6).contains(&msn.len()) && msn.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        return Err(EpError::field(
            headers::MSN,
            "Merchant-Serial-Number must match ^[0-9]{4,6}$",
        ));
    }
    if msn != unit.msn {
        return Err(EpError::plain(
            StatusCode::FORBIDDEN,
            "The keys are not for this merchant serial number",
        ));
    }
    for name in headers::SYSTEM {
        if header_value(headers, name).is_some_and(|v| v.chars().count() > headers::MAX_SYSTEM_HEADER) {
            return Err(EpError::field(name, format!("{name} is at most 30 characters")));
        }
    }
    let idempotency_key = if idempotent {
        let key = header_value(headers, headers::IDEMPOTENCY_KEY)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| EpError::field(headers::IDEMPOTENCY_KEY, "Idempotency-Key is required"))?;
        if key.chars().count() > headers::MAX_IDEMPOTENCY_KEY {
            return Err(EpError::field(
                headers::IDEMPOTENCY_KEY,
                "Idempotency-Key is at most 50 characters",
            ));
        }
        Some(key.to_string())
    } else {
        None
    };
    Ok((
        Caller {
            msn: msn.to_string(),
            subscription_key: key,
        },
        idempotency_key,
    ))
}
