//! The ePayment endpoints: credentials and headers first ([`auth`](super::auth)), then the
//! rate, the idempotency key and the body, then the [`Ledger`](super::ledger::Ledger).

use super::auth::{access_token, authorize, Caller};
use super::ledger::{Ledger, Step};
use super::limits::{Op, Remembered};
use super::problem::{problem_response, EpError};
use super::{qr, validate};
use crate::backends::epayment::model::{
    CancelRequest, ForceApproveRequest, ModificationRequest, QrImageFormat, UserFlow,
};
use crate::sim::clock::Millis;
use crate::sim::context::SimContext;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

pub async fn token(State(sim): Sim, headers: HeaderMap, uri: Uri) -> Response {
    match access_token(&sim, &headers) {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.render(uri.path()),
    }
}

fn json_answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn replay(answer: Remembered) -> Response {
    if answer.problem {
        problem_response(answer.status, answer.body)
    } else {
        json_answer(answer.status, answer.body)
    }
}

/// The body as JSON (an empty body reads as `{}` where `empty_ok`) and its fingerprint.
fn parse_body(bytes: &[u8], empty_ok: bool) -> (Result<Value, EpError>, String) {
    if empty_ok && bytes.iter().all(u8::is_ascii_whitespace) {
        return (Ok(Value::Object(Default::default())), "{}".into());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v.is_object() => {
            let fingerprint = v.to_string();
            (Ok(v), fingerprint)
        }
        _ => (
            Err(EpError::field("body", "The request body must be a JSON object")),
            String::from_utf8_lossy(bytes).into_owned(),
        ),
    }
}

fn typed<T: DeserializeOwned>(value: Value) -> Result<T, EpError> {
    serde_json::from_value(value)
        .map_err(|e| EpError::field("body", format!("The request body is invalid: {e}")))
}

/// What an idempotent call does once its key and body are known.
type Act<'a> = Box<
    dyn FnOnce(
            &mut Ledger,
            &Caller,
            Result<Value, EpError>,
            &str,
            Millis,
        ) -> Result<(StatusCode, String), EpError>
        + 'a,
>;

/// Authorises, counts the rate, replays a retry, or acts and remembers the answer.
fn idempotent(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    instance: &str,
    op: Op,
    reference: Option<&str>,
    bytes: &[u8],
    act: Act<'_>,
) -> Response {
    let (caller, key) = match authorize(sim, headers, true) {
        Ok((caller, key)) => (caller, key.unwrap_or_default()),
        Err(e) => return e.render(instance),
    };
    let (body, fingerprint) = parse_body(bytes, op == Op::Cancel);
    let rate_reference = reference.map(str::to_string).or_else(|| {
        body.as_ref()
            .ok()
            .and_then(|b| b["reference"].as_str().map(str::to_string))
    });
    let scope_reference = if op == Op::Create {
        String::new()
    } else {
        reference.unwrap_or_default().to_string()
    };
    let scope = (caller.msn.clone(), op, scope_reference, key.clone());
    sim.with_epayment(|ledger, now| {
        if let Some(r) = &rate_reference {
            if let Err(e) = ledger.rates.count(&caller.msn, r, op, now) {
                return e.render(instance);
            }
        }
        match ledger.keys.replay(&scope, &fingerprint, now) {
            Ok(Some(answer)) => return replay(answer),
            Ok(None) => {}
            Err(e) => return e.render(instance),
        }
        let (answer, response) = match act(ledger, &caller, body, &key, now) {
            Ok((status, text)) => (
                Remembered {
                    status,
                    body: text.clone(),
                    problem: false,
                },
                json_answer(status, text),
            ),
            Err(e) if e.is_remembered() => {
                let text = serde_json::to_string(&e.problem(instance)).unwrap_or_default();
                (
                    Remembered {
                        status: e.status,
                        body: text.clone(),
                        problem: true,
                    },
                    problem_response(e.status, text),
                )
            }
            Err(e) => return e.render(instance),
        };
        ledger.keys.remember(scope, fingerprint, answer, now);
        response
    })
}

fn ok<T: Serialize>(status: StatusCode, value: &T) -> (StatusCode, String) {
    (status, serde_json::to_string(value).unwrap_or_default())
}

/// The simulator's own address as the caller sees it, for links in answers.
fn base_url(sim: &SimContext, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    format!("{}://{host}", sim.scheme)
}

pub async fn create(State(sim): Sim, headers: HeaderMap, uri: Uri, bytes: Bytes) -> Response {
    let base = base_url(&sim, &headers);
    idempotent(
        &sim,
        &headers,
        uri.path(),
        Op::Create,
        None,
        &bytes,
        Box::new(|ledger, caller, body, key, now| {
            let body = body?;
            let msn = caller.msn.clone();
            let unit = ledger
                .fixtures
                .sales_unit(&msn)
                .cloned()
                .ok_or_else(|| EpError::plain(StatusCode::FORBIDDEN, "Unknown sales unit"))?;
            let fixtures = ledger.fixtures.clone();
            let checked_in = |token: &str| ledger.callback_qrs.customer(&msn, token, now).map(str::to_string);
            let new = validate::create_request(&body, &unit, &fixtures, &checked_in)?;
            let links =
                |flow: &UserFlow, qr: Option<&QrImageFormat>, token: &str| links(&base, flow, qr, token);
            let answer = ledger.create(&msn, new, key, links, now)?;
            Ok(ok(StatusCode::CREATED, &answer))
        }),
    )
}

/// `redirectUrl` and the QR code's content for a new payment.
fn links(
    base: &str,
    flow: &UserFlow,
    qr: Option<&QrImageFormat>,
    token: &str,
) -> (Option<String>, Option<String>) {
    let landing = format!("{base}/landing/v1?token={token}");
    match flow {
        UserFlow::Qr => {
            let image = format!("{base}/qr-image/v1?token={token}");
            let redirect = if qr == Some(&QrImageFormat::TargetUrl) {
                landing.clone()
            } else {
                image
            };
            (Some(redirect), Some(landing))
        }
        UserFlow::WebRedirect => (Some(landing), None),
        UserFlow::NativeRedirect => (Some(format!("vipps://sim/epayment?token={token}")), None),
        _ => (None, None),
    }
}

fn read(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    instance: &str,
    op: Op,
    reference: &str,
    f: impl FnOnce(&Ledger, &Caller) -> Result<Response, EpError>,
) -> Response {
    let result = authorize(sim, headers, false).and_then(|(caller, _)| {
        sim.with_epayment(|ledger, now| {
            ledger.rates.count(&caller.subscription_key, reference, op, now)?;
            f(ledger, &caller)
        })
    });
    result.unwrap_or_else(|e| e.render(instance))
}

pub async fn get_payment(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
) -> Response {
    read(
        &sim,
        &headers,
        uri.path(),
        Op::Get,
        &reference,
        |ledger, caller| Ok(Json(ledger.payment(&caller.msn, &reference)?.view()).into_response()),
    )
}

pub async fn events(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
) -> Response {
    read(
        &sim,
        &headers,
        uri.path(),
        Op::Events,
        &reference,
        |ledger, caller| Ok(Json(&ledger.payment(&caller.msn, &reference)?.events).into_response()),
    )
}

pub async fn capture(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
    bytes: Bytes,
) -> Response {
    idempotent(
        &sim,
        &headers,
        uri.path(),
        Op::Capture,
        Some(&reference),
        &bytes,
        Box::new(|ledger, caller, body, key, now| {
            let msn = &caller.msn;
            let body = body?;
            validate::check_amount_json(&body["modificationAmount"], "modificationAmount")?;
            let req: ModificationRequest = typed(body)?;
            let answer = ledger.capture(msn, &reference, &req.modification_amount, key, now)?;
            Ok(ok(StatusCode::OK, &answer))
        }),
    )
}

pub async fn refund(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
    bytes: Bytes,
) -> Response {
    idempotent(
        &sim,
        &headers,
        uri.path(),
        Op::Refund,
        Some(&reference),
        &bytes,
        Box::new(|ledger, caller, body, key, now| {
            let msn = &caller.msn;
            let body = body?;
            validate::check_amount_json(&body["modificationAmount"], "modificationAmount")?;
            let req: ModificationRequest = typed(body)?;
            let answer = ledger.refund(msn, &reference, &req.modification_amount, key, now)?;
            Ok(ok(StatusCode::OK, &answer))
        }),
    )
}

pub async fn cancel(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
    bytes: Bytes,
) -> Response {
    idempotent(
        &sim,
        &headers,
        uri.path(),
        Op::Cancel,
        Some(&reference),
        &bytes,
        Box::new(|ledger, caller, body, _key, now| {
            let req: CancelRequest = typed(body?)?;
            let only = req.cancel_transaction_only.unwrap_or(false);
            let answer = ledger.cancel(&caller.msn, &reference, only, now)?;
            Ok(ok(StatusCode::OK, &answer))
        }),
    )
}

/// `POST /epayment/v1/test/payments/{reference}/approve`: the test environment approves in
/// the customer's place.
pub async fn force_approve(
    State(sim): Sim,
    headers: HeaderMap,
    uri: Uri,
    Path(reference): Path<String>,
    bytes: Bytes,
) -> Response {
    let result = (|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let (body, _) = parse_body(&bytes, true);
        let req: ForceApproveRequest = typed(body?)?;
        sim.with_epayment(|ledger, now| {
            let payment = ledger.payment(&caller.msn, &reference)?;
            if req.token.as_ref().is_some_and(|t| *t != payment.token) {
                return Err(EpError::field("token", "token does not belong to this payment"));
            }
            let phone = req.customer.and_then(|c| c.phone_number);
            ledger.customer(&caller.msn, &reference, Step::Approve, phone.as_deref(), now)
        })
    })();
    match result {
        Ok(_) => StatusCode::OK.into_response(),
        Err(e) => e.render(uri.path()),
    }
}

#[derive(Deserialize)]
pub struct QrQuery {
    token: Option<String>,
}

/// `GET /qr-image/v1?token=…`: the payment's QR code, without authentication, until the
/// payment can no longer be paid.
pub async fn qr_image(State(sim): Sim, Query(q): Query<QrQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    let Some((format, size, target)) = sim.with_epayment(|l, now| l.qr_image(&token, now)) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    qr::image(&format, size, &target).unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}
