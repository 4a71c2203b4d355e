//! The QR API's merchant callback QRs (`/qr/v1/merchant-callback`), their images, and the
//! control call where a test user scans one and checks in, which the sales unit learns from
//! its `user.checked-in.v1` webhook.

use super::auth::authorize;
use super::callback::CallbackQr;
use super::payment::timestamp_millis;
use super::problem::EpError;
use super::qr;
use crate::backends::epayment::model::QrImageFormat;
use crate::backends::epayment::qr::{
    MerchantCallbackQr, PutMerchantCallbackRequest, UserCheckedInEvent, USER_CHECKED_IN,
};
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

#[derive(Deserialize, Default)]
pub struct ImageQuery {
    #[serde(rename = "QrImageFormat")]
    format: Option<String>,
    #[serde(rename = "QrImageSize")]
    size: Option<String>,
}

/// The image format and size asked for: SVG by default, PNG of 100–2000 pixels.
fn image_choice(query: &ImageQuery) -> Result<(QrImageFormat, u32), EpError> {
    let format = match query.format.as_deref() {
        None | Some("SVG") => QrImageFormat::Svg,
        Some("PNG") => QrImageFormat::Png,
        Some(_) => {
            return Err(EpError::field(
                "QrImageFormat",
                "QrImageFormat must be PNG or SVG",
            ))
        }
    };
    let size = match &query.size {
        None => 1024,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|s| (100..=2000).contains(s))
            .ok_or_else(|| EpError::field("QrImageSize", "QrImageSize must be 100 to 2000"))?,
    };
    Ok((format, size))
}

fn view(
    sim: &SimContext,
    headers: &HeaderMap,
    qr: &CallbackQr,
    (format, size): &(QrImageFormat, u32),
) -> MerchantCallbackQr {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let format = if *format == QrImageFormat::Png {
        "png"
    } else {
        "svg"
    };
    MerchantCallbackQr {
        merchant_serial_number: qr.msn.clone(),
        merchant_qr_id: qr.merchant_qr_id.clone(),
        location_description: qr.location_description.clone(),
        qr_image_url: format!(
            "{}://{host}/qr-image/v1/merchant-callback/{}/{}?format={format}&size={size}",
            sim.scheme, qr.msn, qr.merchant_qr_id
        ),
        qr_content: qr.content(),
    }
}

fn put_body(bytes: &[u8]) -> Result<PutMerchantCallbackRequest, EpError> {
    serde_json::from_slice(bytes)
        .map_err(|e| EpError::field("body", format!("The request body is invalid: {e}")))
}

async fn put(
    sim: Arc<SimContext>,
    headers: HeaderMap,
    uri: Uri,
    id: String,
    bytes: Bytes,
    beacon: bool,
) -> Response {
    let result = authorize(&sim, &headers, false).and_then(|(caller, _)| {
        let request = put_body(&bytes)?;
        sim.with_epayment(|l, _| l.callback_qrs.put(&caller.msn, &id, request, beacon))
    });
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.render(uri.path()),
    }
}

/// `PUT /qr/v1/merchant-callback/{merchantQrId}`.
pub async fn put_callback(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    put(sim, headers, uri, id, bytes, false).await
}

/// `PUT /qr/v1/merchant-callback/mobilepay/{beaconId}`: a printed MobilePay sticker now
/// checks customers in at this sales unit, with `merchantQrId` = the beacon id.
pub async fn put_mobilepay(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    bytes: Bytes,
) -> Response {
    put(sim, headers, uri, id, bytes, true).await
}

pub async fn get_callback(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
    Query(query): Query<ImageQuery>,
) -> Response {
    let result = authorize(&sim, &headers, false).and_then(|(caller, _)| {
        let choice = image_choice(&query)?;
        sim.with_epayment(|l, _| {
            l.callback_qrs
                .get(&caller.msn, &id)
                .map(|q| view(&sim, &headers, q, &choice))
        })
    });
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.render(uri.path()),
    }
}

pub async fn list_callbacks(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<ImageQuery>,
) -> Response {
    let result = authorize(&sim, &headers, false).and_then(|(caller, _)| {
        let choice = image_choice(&query)?;
        Ok(sim.with_epayment(|l, _| {
            l.callback_qrs
                .list(&caller.msn)
                .into_iter()
                .map(|q| view(&sim, &headers, q, &choice))
                .collect::<Vec<_>>()
        }))
    });
    match result {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.render(uri.path()),
    }
}

pub async fn delete_callback(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(id): Path<String>,
) -> Response {
    let result = authorize(&sim, &headers, false)
        .and_then(|(caller, _)| sim.with_epayment(|l, _| l.callback_qrs.delete(&caller.msn, &id)));
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(e) => e.render(uri.path()),
    }
}

#[derive(Deserialize)]
pub struct ImageParams {
    format: Option<String>,
    size: Option<u32>,
}

/// `GET /qr-image/v1/merchant-callback/{msn}/{merchantQrId}`: the sticker's image, no
/// authentication, 404 once the QR is deleted.
pub async fn callback_image(
    State(sim): Sim,
    Path((msn, id)): Path<(String, String)>,
    Query(params): Query<ImageParams>,
) -> Response {
    let content = sim.with_epayment(|l, _| l.callback_qrs.get(&msn, &id).map(CallbackQr::content).ok());
    let format = if params.format.as_deref() == Some("png") {
        QrImageFormat::Png
    } else {
        QrImageFormat::Svg
    };
    content
        .and_then(|c| qr::image(&format, params.size.unwrap_or(1024).clamp(100, 2000), &c))
        .unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckInBody {
    qr_content: String,
    phone_number: String,
}

fn bad(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// `POST /_sim/epayment/checkin {qrContent, phoneNumber}`: a test user scans a merchant
/// callback QR; its sales unit's `user.checked-in.v1` webhook gets the customer token.
pub async fn check_in(State(sim): Sim, bytes: Bytes) -> Response {
    let req: CheckInBody = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => return bad(StatusCode::BAD_REQUEST, format!("invalid body: {e}")),
    };
    let outcome = sim.with_epayment(|l, now| {
        if l.fixtures.user_by_phone(&req.phone_number).is_none() {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("unknown test user {:?}", req.phone_number),
            ));
        }
        let Some(qr) = l.callback_qrs.scanned(&req.qr_content).cloned() else {
            return Err((StatusCode::NOT_FOUND, "the app shows: QR code not found".into()));
        };
        if !sim.webhooks.wants(&qr.msn, USER_CHECKED_IN) {
            return Err((
                StatusCode::CONFLICT,
                "the app shows: can't connect to store (no user.checked-in.v1 webhook)".into(),
            ));
        }
        let token = l.callback_qrs.check_in(&qr.msn, &req.phone_number, now);
        Ok(UserCheckedInEvent {
            customer_token: token,
            merchant_qr_id: qr.merchant_qr_id,
            msn: qr.msn,
            initiated_at: timestamp_millis(now),
        })
    });
    match outcome {
        Ok(event) => {
            let body = serde_json::to_vec(&event).unwrap_or_default();
            sim.webhooks.publish(&event.msn, USER_CHECKED_IN, &body);
            Json(event).into_response()
        }
        Err((status, reason)) => bad(status, reason),
    }
}
