//! The request checks every PoS API handler makes, in the order documented in
//! docs/simulator.md: headers and authentication first, then the body and its fields.

use crate::backends::pos_v10::formats::{self, MAX_TEXT};
use crate::backends::pos_v10::model::headers;
use crate::money::{MajorAmount, Minor};
use crate::sim::context::SimContext;
use crate::sim::error::ErrorAnswer;
use crate::sim::tokens::Claims;
use crate::sim::world::Caller;
use axum::{
    body::{Body, Bytes},
    http::{header, HeaderMap},
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest request body accepted; bigger ones are refused with `1099`.
const MAX_BODY: usize = 64 * 1024;

/// The one value of a header, `Err(())` when it is sent more than once.
pub(super) fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    Ok(first.map(|v| v.to_str().unwrap_or("\u{fffd}")))
}

fn required_header(
    headers: &HeaderMap,
    name: &str,
    missing: &'static str,
    duplicated: &'static str,
) -> Result<String, ErrorAnswer> {
    match single(headers, name) {
        Err(()) => Err(ErrorAnswer::bad_request(
            duplicated,
            format!("Duplicated {name} header"),
        )),
        Ok(None) => Err(ErrorAnswer::bad_request(
            missing,
            format!("Missing {name} header"),
        )),
        Ok(Some(v)) => Ok(v.to_string()),
    }
}

/// Authenticates a PoS API call and checks the common headers; returns the caller and, for
/// creating POSTs, the idempotency key.
pub(super) fn authorize(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    idempotent: bool,
) -> Result<(Caller, Option<String>), ErrorAnswer> {
    let claims = bearer_claims(sim, headers).ok_or_else(ErrorAnswer::unauthorized)?;
    let version = required_header(headers, headers::CLIENT_VERSION, "1153", "1157")?;
    if !formats::is_valid_client_version(&version) {
        return Err(ErrorAnswer::bad_request(
            "1161",
            "Invalid x-mobilepay-client-system-version header",
        ));
    }
    match single(headers, headers::CLIENT_NAME) {
        Err(()) => {
            return Err(ErrorAnswer::bad_request(
                "1156",
                "Duplicated x-mobilepay-client-system-name header",
            ))
        }
        Ok(Some(name)) if !formats::is_valid_text(name, MAX_TEXT) => {
            return Err(ErrorAnswer::bad_request(
                "1160",
                "Invalid x-mobilepay-client-system-name header",
            ))
        }
        Ok(_) => {}
    }
    let header_vat = single(headers, headers::MERCHANT_VAT).map_err(|()| {
        ErrorAnswer::bad_request("1155", "Duplicated x-mobilepay-merchant-vat-number header")
    })?;
    let vat = match (&claims.merchant_vat, header_vat) {
        (Some(claim), _) if !formats::is_valid_vat(claim) => {
            return Err(ErrorAnswer::bad_request(
                "1182",
                "Invalid merchant_vat claim in access token",
            ))
        }
        (Some(claim), Some(h)) if h != claim => {
            return Err(ErrorAnswer::bad_request(
                "1159",
                "x-mobilepay-merchant-vat-number does not match the merchant of the access token",
            ))
        }
        (Some(claim), _) => claim.clone(),
        (None, None) => {
            return Err(ErrorAnswer::bad_request(
                "1151",
                "Missing x-mobilepay-merchant-vat-number header",
            ))
        }
        (None, Some(h)) if !formats::is_valid_vat(h) => {
            return Err(ErrorAnswer::bad_request(
                "1159",
                "Invalid x-mobilepay-merchant-vat-number header",
            ))
        }
        (None, Some(h)) => h.to_string(),
    };
    let key = if idempotent {
        let key = required_header(headers, headers::IDEMPOTENCY_KEY, "1164", "1163")?;
        if !formats::is_valid_text(&key, MAX_TEXT) {
            return Err(ErrorAnswer::bad_request(
                "1162",
                "Invalid x-mobilepay-idempotency-key header",
            ));
        }
        Some(key)
    } else {
        None
    };
    Ok((
        Caller {
            client_id: claims.client_id,
            vat,
        },
        key,
    ))
}

fn bearer_claims(sim: &Arc<SimContext>, headers: &HeaderMap) -> Option<Claims> {
    let value = single(headers, header::AUTHORIZATION.as_str()).ok()??;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    let claims = sim.tokens.verify(token.trim(), sim.clock.now() / 1000)?;
    sim.with_world(|st, _| {
        st.fixtures
            .integrators
            .iter()
            .any(|i| i.client_id == claims.client_id)
    })
    .then_some(claims)
}

pub(super) async fn read_body(body: Body) -> Result<Bytes, ErrorAnswer> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ErrorAnswer::malformed(format!("The request body is larger than {MAX_BODY} bytes")))
}

/// Parses a JSON body into `T`, and returns its canonical text for idempotency comparisons.
pub(super) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, String), ErrorAnswer> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ErrorAnswer::malformed(format!("The request body is not valid JSON: {e}")))?;
    let fingerprint = value.to_string();
    let parsed =
        serde_json::from_value(value).map_err(|e| ErrorAnswer::malformed(format!("Invalid request: {e}")))?;
    Ok((parsed, fingerprint))
}

pub(super) fn guid(value: &str, what: &str) -> Result<String, ErrorAnswer> {
    if formats::is_guid(value) {
        Ok(value.to_lowercase())
    } else {
        Err(ErrorAnswer::malformed(format!("{what} is not a valid GUID")))
    }
}

pub(super) fn text(value: &str, code: &'static str, what: &str) -> Result<(), ErrorAnswer> {
    if formats::is_valid_text(value, MAX_TEXT) {
        Ok(())
    } else {
        Err(ErrorAnswer::bad_request(code, format!("Invalid {what}")))
    }
}

pub(super) fn amount(value: &MajorAmount) -> Result<Minor, ErrorAnswer> {
    match value.to_minor() {
        Ok(m) if m.is_positive() => Ok(m),
        _ => Err(ErrorAnswer::bad_request("1102", "Invalid Amount")),
    }
}

pub(super) fn query_map(raw: Option<String>) -> Result<HashMap<String, String>, ErrorAnswer> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ErrorAnswer::malformed(format!("Invalid query string: {e}")))
}
