//! The MobilePay surface: integrator authentication, the PoS V10 API and the sandbox user
//! simulation. Handlers check headers and bodies in the order documented in
//! docs/simulator.md, then hand over to [`World`](super::world::World) under its lock.

use super::context::SimContext;
use super::error::{render, ApiError, Family};
use super::tokens::Claims;
use super::world::{Caller, IdemScope, NewRefund, Terms, World};
use crate::backends::pos_v10::formats::{self, MAX_TEXT};
use crate::backends::pos_v10::model::{
    headers, CreatePosRequest, CreateRefundRequest, GetRefundResponse, InitiatePaymentRequest,
    PaymentCaptureRequest, PaymentIdResponse, PaymentIdsResponse, PaymentReadyRequest, PosIdResponse,
    PosIdsResponse, PreparePaymentRequest, RefundIdResponse, RefundIdsResponse, StoreIdsResponse,
    UserSimulationRequest,
};
use crate::money::{MajorAmount, Minor};
use axum::{
    body::{Body, Bytes},
    extract::{Path, RawQuery, State as AxumState},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use base64::Engine;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Sim = AxumState<Arc<SimContext>>;

/// Largest request body accepted; bigger ones are refused with `1099`.
pub const MAX_BODY: usize = 64 * 1024;

pub fn routes() -> Router<Arc<SimContext>> {
    Router::new()
        .route("/integrator-authentication/connect/token", post(token))
        .route("/pos/v10/stores", get(list_stores))
        .route("/pos/v10/stores/detailed", get(list_stores_detailed))
        .route("/pos/v10/stores/{store_id}", get(get_store))
        .route("/pos/v10/pointofsales", post(create_pos).get(find_pos))
        .route("/pos/v10/pointofsales/{pos_id}", get(get_pos).delete(delete_pos))
        .route("/pos/v10/pointofsales/{pos_id}/checkin", get(get_checkin))
        .route("/pos/v10/payments", post(initiate_payment).get(find_payments))
        .route("/pos/v10/payments/prepare", post(prepare_payment))
        .route("/pos/v10/payments/{payment_id}", get(get_payment))
        .route("/pos/v10/payments/{payment_id}/ready", post(ready_payment))
        .route("/pos/v10/payments/{payment_id}/capture", post(capture_payment))
        .route("/pos/v10/payments/{payment_id}/cancel", post(cancel_payment))
        .route("/pos/v10/refunds", post(create_refund).get(find_refunds))
        .route("/pos/v10/refunds/{refund_id}", get(get_refund))
        .route("/pos/v10/refunds/{refund_id}/capture", post(capture_refund))
        .route("/pos/v10/refunds/{refund_id}/cancel", post(cancel_refund))
        .route("/pos/app/usersimulation/checkin", post(user_checkin))
        .route("/pos/app/usersimulation/acceptpayment", post(user_accept))
        .route("/pos/app/usersimulation/cancelpaymentbyuser", post(user_cancel))
}

// ---- answers ----

/// Per-request context for writing answers: the correlation id and the error body family.
struct Reply {
    correlation_id: String,
    family: Family,
}

impl Reply {
    fn new(headers: &HeaderMap, family: Family) -> Reply {
        let correlation_id = headers
            .get(headers::CORRELATION_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Reply {
            correlation_id,
            family,
        }
    }

    fn send(&self, result: Result<Response, ApiError>) -> Response {
        result.unwrap_or_else(|err| render(&err, &self.correlation_id, self.family))
    }
}

fn ok_json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

fn ok_raw_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

// ---- request checks ----

/// The one value of a header, `Err(())` when it is sent more than once.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
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
) -> Result<String, ApiError> {
    match single(headers, name) {
        Err(()) => Err(ApiError::bad_request(
            duplicated,
            format!("Duplicated {name} header"),
        )),
        Ok(None) => Err(ApiError::bad_request(missing, format!("Missing {name} header"))),
        Ok(Some(v)) => Ok(v.to_string()),
    }
}

/// Authenticates a PoS API call and checks the common headers; returns the caller and, for
/// creating POSTs, the idempotency key.
fn authorize(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    idempotent: bool,
) -> Result<(Caller, Option<String>), ApiError> {
    let claims = bearer_claims(sim, headers).ok_or_else(ApiError::unauthorized)?;
    let version = required_header(headers, headers::CLIENT_VERSION, "1153", "1157")?;
    if !formats::is_valid_client_version(&version) {
        return Err(ApiError::bad_request(
            "1161",
            "Invalid x-mobilepay-client-system-version header",
        ));
    }
    match single(headers, headers::CLIENT_NAME) {
        Err(()) => {
            return Err(ApiError::bad_request(
                "1156",
                "Duplicated x-mobilepay-client-system-name header",
            ))
        }
        Ok(Some(name)) if !formats::is_valid_text(name, MAX_TEXT) => {
            return Err(ApiError::bad_request(
                "1160",
                "Invalid x-mobilepay-client-system-name header",
            ))
        }
        Ok(_) => {}
    }
    let header_vat = single(headers, headers::MERCHANT_VAT)
        .map_err(|()| ApiError::bad_request("1155", "Duplicated x-mobilepay-merchant-vat-number header"))?;
    let vat = match (&claims.merchant_vat, header_vat) {
        (Some(claim), _) if !formats::is_valid_vat(claim) => {
            return Err(ApiError::bad_request(
                "1182",
                "Invalid merchant_vat claim in access token",
            ))
        }
        (Some(claim), Some(h)) if h != claim => {
            return Err(ApiError::bad_request(
                "1159",
                "x-mobilepay-merchant-vat-number does not match the merchant of the access token",
            ))
        }
        (Some(claim), _) => claim.clone(),
        (None, None) => {
            return Err(ApiError::bad_request(
                "1151",
                "Missing x-mobilepay-merchant-vat-number header",
            ))
        }
        (None, Some(h)) if !formats::is_valid_vat(h) => {
            return Err(ApiError::bad_request(
                "1159",
                "Invalid x-mobilepay-merchant-vat-number header",
            ))
        }
        (None, Some(h)) => h.to_string(),
    };
    let key = if idempotent {
        let key = required_header(headers, headers::IDEMPOTENCY_KEY, "1164", "1163")?;
        if !formats::is_valid_text(&key, MAX_TEXT) {
            return Err(ApiError::bad_request(
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

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::malformed(format!("The request body is larger than {MAX_BODY} bytes")))
}

/// Parses a JSON body into `T`, and returns its canonical text for idempotency comparisons.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, String), ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed(format!("The request body is not valid JSON: {e}")))?;
    let fingerprint = value.to_string();
    let parsed =
        serde_json::from_value(value).map_err(|e| ApiError::malformed(format!("Invalid request: {e}")))?;
    Ok((parsed, fingerprint))
}

fn guid(value: &str, what: &str) -> Result<String, ApiError> {
    if formats::is_guid(value) {
        Ok(value.to_lowercase())
    } else {
        Err(ApiError::malformed(format!("{what} is not a valid GUID")))
    }
}

/// Most endpoints on one resource share a shape: authorise the caller, require the path's id
/// to be a GUID (compared lower-case), then act; errors are rendered in the family's style.
fn on_resource(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    family: Family,
    (raw_id, what): (&str, &str),
    act: impl FnOnce(&Caller, &str) -> Result<Response, ApiError>,
) -> Response {
    Reply::new(headers, family).send((|| {
        let (caller, _) = authorize(sim, headers, false)?;
        let id = guid(raw_id, what)?;
        act(&caller, &id)
    })())
}

fn text(value: &str, code: &'static str, what: &str) -> Result<(), ApiError> {
    if formats::is_valid_text(value, MAX_TEXT) {
        Ok(())
    } else {
        Err(ApiError::bad_request(code, format!("Invalid {what}")))
    }
}

fn amount(value: &MajorAmount) -> Result<Minor, ApiError> {
    match value.to_minor() {
        Ok(m) if m.is_positive() => Ok(m),
        _ => Err(ApiError::bad_request("1102", "Invalid Amount")),
    }
}

fn query_map(raw: Option<String>) -> Result<HashMap<String, String>, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::malformed(format!("Invalid query string: {e}")))
}

/// The common shape of the four creating POSTs: authorise, parse, replay a retry, else act and
/// remember the answer.
fn create<T: DeserializeOwned, V, R: Serialize>(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: &'static str,
    validate: impl FnOnce(&T) -> Result<V, ApiError>,
    act: impl FnOnce(&mut World, &Caller, &T, V, &str, i64) -> Result<R, ApiError>,
) -> Result<Response, ApiError> {
    let (caller, key) = authorize(sim, headers, true)?;
    let key = key.unwrap_or_default();
    let (request, fingerprint) = parse_json::<T>(body)?;
    let validated = validate(&request)?;
    let scope = IdemScope {
        client_id: caller.client_id.clone(),
        vat: caller.vat.clone(),
        endpoint,
        key: key.clone(),
    };
    sim.with_world(|st, now| {
        if let Some(previous) = st.idempotent_replay(&scope, &fingerprint)? {
            return Ok(ok_raw_json(previous));
        }
        let answer = act(st, &caller, &request, validated, &key, now)?;
        let text = serde_json::to_string(&answer).unwrap_or_default();
        st.remember(scope, fingerprint, text.clone(), now);
        Ok(ok_raw_json(text))
    })
}

// ---- integrator authentication ----

async fn token(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
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

// ---- stores ----

fn store_filter(query: &HashMap<String, String>) -> Result<Option<(String, String)>, ApiError> {
    let brand = query.get("merchantBrandId");
    let location = query.get("merchantLocationId");
    if brand.is_some_and(|b| !formats::is_valid_brand_id(b)) {
        return Err(ApiError::bad_request("1119", "Invalid MerchantBrandId"));
    }
    if location.is_some_and(|l| !formats::is_valid_location_id(l)) {
        return Err(ApiError::bad_request("1120", "Invalid MerchantLocationId"));
    }
    match (brand, location) {
        (Some(b), Some(l)) => Ok(Some((b.clone(), l.clone()))),
        (None, None) => Ok(None),
        _ => Err(ApiError::bad_request("1122", "Store filter not specific enough")),
    }
}

async fn list_stores(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let filter = store_filter(&query_map(q)?)?;
        let ids = sim.with_world(|st, _| {
            st.stores_of(
                &caller.vat,
                filter.as_ref().map(|(b, l)| (b.as_str(), l.as_str())),
            )
            .into_iter()
            .map(|s| s.store_id.clone())
            .collect()
        });
        Ok(ok_json(&StoreIdsResponse { store_ids: ids }))
    })())
}

async fn list_stores_detailed(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let filter = store_filter(&query_map(q)?)?;
        let stores: Vec<_> = sim.with_world(|st, _| {
            st.stores_of(
                &caller.vat,
                filter.as_ref().map(|(b, l)| (b.as_str(), l.as_str())),
            )
            .into_iter()
            .map(super::world::stores::store_response)
            .collect()
        });
        Ok(ok_json(&stores))
    })())
}

async fn get_store(AxumState(sim): Sim, headers: HeaderMap, Path(store_id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&store_id, "storeId"),
        |caller, store_id| Ok(ok_json(&sim.with_world(|st, _| st.store(caller, store_id))?)),
    )
}

// ---- points of sale ----

async fn create_pos(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send(create(
        &sim,
        &headers,
        &bytes,
        "createPos",
        |req: &CreatePosRequest| {
            text(&req.merchant_pos_id, "1111", "MerchantPosId")?;
            text(&req.name, "1112", "PosName")?;
            if req
                .beacon_id
                .as_deref()
                .is_some_and(|b| !formats::is_valid_beacon_id(b))
            {
                return Err(ApiError::bad_request("1100", "Invalid BeaconId"));
            }
            if let Some(alias) = &req.callback_alias {
                text(alias, "1116", "CallbackAlias")?;
            }
            guid(&req.store_id, "storeId")?;
            let types = &req.supported_beacon_types;
            let unique: std::collections::HashSet<_> = types.iter().collect();
            if types.is_empty() || unique.len() != types.len() {
                return Err(ApiError::malformed(
                    "supportedBeaconTypes must be a non-empty list without repeats",
                ));
            }
            Ok(())
        },
        |st, caller, req, (), _key, _now| st.create_pos(caller, req).map(|pos_id| PosIdResponse { pos_id }),
    ))
}

async fn find_pos(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let q = query_map(q)?;
        let store_id = q.get("storeId").map(|s| guid(s, "storeId")).transpose()?;
        let beacon_id = q.get("beaconId");
        let merchant_pos_id = q.get("merchantPosId");
        if store_id.is_none() && beacon_id.is_none() && merchant_pos_id.is_none() {
            return Err(ApiError::bad_request(
                "1121",
                "Point of sale filter not specific enough",
            ));
        }
        let pos_ids = sim.with_world(|st, _| {
            st.find_pos(
                &caller,
                store_id.as_deref(),
                beacon_id.map(String::as_str),
                merchant_pos_id.map(String::as_str),
            )
        });
        Ok(ok_json(&PosIdsResponse { pos_ids }))
    })())
}

async fn get_pos(AxumState(sim): Sim, headers: HeaderMap, Path(pos_id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&pos_id, "posId"),
        |caller, pos_id| Ok(ok_json(&sim.with_world(|st, _| st.get_pos(caller, pos_id))?)),
    )
}

async fn delete_pos(AxumState(sim): Sim, headers: HeaderMap, Path(pos_id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&pos_id, "posId"),
        |caller, pos_id| {
            sim.with_world(|st, now| st.delete_pos(caller, pos_id, now))?;
            Ok(ok_empty())
        },
    )
}

async fn get_checkin(AxumState(sim): Sim, headers: HeaderMap, Path(pos_id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&pos_id, "posId"),
        |caller, pos_id| Ok(ok_json(&sim.with_world(|st, _| st.get_checkin(caller, pos_id))?)),
    )
}

// ---- payments ----

fn terms_of(
    amount_value: &MajorAmount,
    currency: crate::money::Currency,
    label: &Option<String>,
    restrictions: Option<crate::backends::pos_v10::model::Restrictions>,
    planned: crate::backends::pos_v10::model::PlannedCaptureDelay,
) -> Result<Terms, ApiError> {
    let amount = amount(amount_value)?;
    if let Some(label) = label {
        text(label, "1117", "MerchantPaymentLabel")?;
    }
    Ok(Terms {
        amount,
        currency,
        restrictions,
        label: label.clone(),
        planned_capture_delay: planned,
    })
}

async fn initiate_payment(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send(create(
        &sim,
        &headers,
        &bytes,
        "initiatePayment",
        |req: &InitiatePaymentRequest| {
            guid(&req.pos_id, "posId")?;
            text(&req.order_id, "1113", "OrderId")?;
            terms_of(
                &req.amount,
                req.currency_code,
                &req.merchant_payment_label,
                req.restrictions,
                req.planned_capture_delay,
            )
        },
        |st, caller, req, terms, key, now| {
            st.create_payment(caller, &req.pos_id, &req.order_id, Some(terms), key, now)
                .map(|payment_id| PaymentIdResponse { payment_id })
        },
    ))
}

async fn prepare_payment(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send(create(
        &sim,
        &headers,
        &bytes,
        "preparePayment",
        |req: &PreparePaymentRequest| {
            guid(&req.pos_id, "posId")?;
            text(&req.order_id, "1113", "OrderId")
        },
        |st, caller, req, (), key, now| {
            st.create_payment(caller, &req.pos_id, &req.order_id, None, key, now)
                .map(|payment_id| PaymentIdResponse { payment_id })
        },
    ))
}

async fn ready_payment(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let id = guid(&id, "paymentId")?;
        let (req, _) = parse_json::<PaymentReadyRequest>(&bytes)?;
        let terms = terms_of(
            &req.amount,
            req.currency_code,
            &req.merchant_payment_label,
            req.restrictions,
            req.planned_capture_delay,
        )?;
        sim.with_world(|st, now| st.ready(&caller, &id, terms, now))?;
        Ok(ok_empty())
    })())
}

async fn get_payment(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    on_resource(&sim, &headers, Family::Pos, (&id, "paymentId"), |caller, id| {
        Ok(ok_json(&sim.with_world(|st, _| st.query_payment(caller, id))?))
    })
}

async fn find_payments(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let q = query_map(q)?;
        let pos_id = q.get("posId").map(|p| guid(p, "posId")).transpose()?;
        let order_id = q.get("orderId");
        let captured_only = match q.get("state").map(String::as_str) {
            None => false,
            Some("Captured") => true,
            Some(other) => {
                return Err(ApiError::malformed(format!(
                    "Unknown payment state filter {other:?}"
                )))
            }
        };
        if pos_id.is_none() && order_id.is_none() {
            return Err(ApiError::bad_request(
                "1109",
                "Payment filter not specific enough",
            ));
        }
        let payment_ids = sim.with_world(|st, _| {
            st.find_payments(
                &caller,
                pos_id.as_deref(),
                order_id.map(String::as_str),
                captured_only,
            )
        });
        Ok(ok_json(&PaymentIdsResponse { payment_ids }))
    })())
}

async fn capture_payment(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let id = guid(&id, "paymentId")?;
        let (req, _) = parse_json::<PaymentCaptureRequest>(&bytes)?;
        let amount = amount(&req.amount)?;
        sim.with_world(|st, now| st.capture(&caller, &id, amount, now))?;
        Ok(ok_empty())
    })())
}

async fn cancel_payment(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    on_resource(&sim, &headers, Family::Pos, (&id, "paymentId"), |caller, id| {
        sim.with_world(|st, now| st.cancel(caller, id, now))?;
        Ok(ok_empty())
    })
}

// ---- refunds ----

async fn create_refund(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    let reply = Reply::new(&headers, Family::Refunds);
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send(create(
        &sim,
        &headers,
        &bytes,
        "createRefund",
        |req: &CreateRefundRequest| {
            guid(&req.payment_id, "paymentId")?;
            text(&req.refund_order_id, "1114", "RefundOrderId")?;
            amount(&req.amount)
        },
        |st, caller, req, amount, key, now| {
            let new = NewRefund {
                payment_id: &req.payment_id,
                refund_order_id: &req.refund_order_id,
                amount,
                currency: req.currency_code,
            };
            st.create_refund(caller, &new, key, now)
                .map(|refund_id| RefundIdResponse { refund_id })
        },
    ))
}

async fn get_refund(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Refunds,
        (&id, "refundId"),
        |caller, id| {
            let answer = sim.with_world(|st, _| {
                let delay = st.settings.refund_poll_delay_ms;
                st.refund(caller, id).map(|r| GetRefundResponse {
                    refund_id: r.refund_id.clone(),
                    payment_id: r.payment_id.clone(),
                    refund_order_id: r.refund_order_id.clone(),
                    amount: MajorAmount::from_minor(r.amount),
                    currency_code: r.currency,
                    status: r.status.clone(),
                    poll_delay_in_ms: delay,
                })
            })?;
            Ok(ok_json(&answer))
        },
    )
}

async fn find_refunds(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Refunds);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let q = query_map(q)?;
        let payment_id = q
            .get("paymentId")
            .ok_or_else(|| ApiError::bad_request("1110", "Refund filter not specific enough"))?;
        let payment_id = guid(payment_id, "paymentId")?;
        let refund_ids = sim.with_world(|st, _| st.find_refunds(&caller, &payment_id));
        Ok(ok_json(&RefundIdsResponse { refund_ids }))
    })())
}

async fn capture_refund(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    // A body (some clients send the amount) is accepted and ignored.
    on_resource(
        &sim,
        &headers,
        Family::Refunds,
        (&id, "refundId"),
        |caller, id| {
            sim.with_world(|st, now| st.capture_refund(caller, id, now))?;
            Ok(ok_empty())
        },
    )
}

async fn cancel_refund(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Refunds,
        (&id, "refundId"),
        |caller, id| {
            sim.with_world(|st, now| st.cancel_refund(caller, id, now))?;
            Ok(ok_empty())
        },
    )
}

// ---- user simulation ----

/// The sandbox user simulation authenticates with the developer-portal app's id and secret.
fn app_credentials_ok(sim: &Arc<SimContext>, headers: &HeaderMap) -> bool {
    let id = single(headers, headers::CLIENT_ID).ok().flatten();
    let secret = single(headers, headers::CLIENT_SECRET).ok().flatten();
    match (id, secret) {
        (Some(id), Some(secret)) => sim.with_world(|st, _| {
            st.fixtures
                .integrators
                .iter()
                .any(|i| i.client_id == id && i.client_secret == secret)
        }),
        _ => false,
    }
}

async fn user_action(
    sim: Arc<SimContext>,
    headers: HeaderMap,
    body: Body,
    act: impl FnOnce(&mut World, &UserSimulationRequest, i64) -> Result<(), ApiError>,
) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    if !app_credentials_ok(&sim, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(e) => return reply.send(Err(e)),
    };
    reply.send((|| {
        let (req, _) = parse_json::<UserSimulationRequest>(&bytes)?;
        sim.with_world(|st, now| act(st, &req, now))?;
        Ok(ok_empty())
    })())
}

fn phone(req: &UserSimulationRequest) -> Result<&str, ApiError> {
    req.phone_number
        .as_deref()
        .ok_or_else(|| ApiError::malformed("phoneNumber is required"))
}

async fn user_checkin(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_checkin(&req.beacon_id, phone(req)?, now)
    })
    .await
}

async fn user_accept(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_accept(&req.beacon_id, phone(req)?, now)
    })
    .await
}

async fn user_cancel(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_cancel(&req.beacon_id, now)
    })
    .await
}
