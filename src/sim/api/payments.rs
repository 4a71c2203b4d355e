//! `/pos/v10/payments`: initiate or prepare, ready, query, find, capture and cancel.

use super::checks::{amount, authorize, guid, parse_json, query_map, read_body, text};
use super::respond::{create, ok_empty, ok_json, on_resource, Reply, Sim};
use crate::backends::pos_v10::model::{
    InitiatePaymentRequest, PaymentCaptureRequest, PaymentIdResponse, PaymentIdsResponse,
    PaymentReadyRequest, PreparePaymentRequest,
};
use crate::money::MajorAmount;
use crate::sim::error::{ErrorAnswer, Family};
use crate::sim::world::Terms;
use axum::{
    body::Body,
    extract::{Path, RawQuery, State as AxumState},
    http::HeaderMap,
    response::Response,
};

fn terms_of(
    amount_value: &MajorAmount,
    currency: crate::money::Currency,
    label: &Option<String>,
    restrictions: Option<crate::backends::pos_v10::model::Restrictions>,
    planned: crate::backends::pos_v10::model::PlannedCaptureDelay,
) -> Result<Terms, ErrorAnswer> {
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

pub(super) async fn initiate_payment(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
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

pub(super) async fn prepare_payment(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
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

pub(super) async fn ready_payment(
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

pub(super) async fn get_payment(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
    on_resource(&sim, &headers, Family::Pos, (&id, "paymentId"), |caller, id| {
        Ok(ok_json(&sim.with_world(|st, _| st.query_payment(caller, id))?))
    })
}

pub(super) async fn find_payments(
    AxumState(sim): Sim,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
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
                return Err(ErrorAnswer::malformed(format!(
                    "Unknown payment state filter {other:?}"
                )))
            }
        };
        if pos_id.is_none() && order_id.is_none() {
            return Err(ErrorAnswer::bad_request(
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

pub(super) async fn capture_payment(
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

pub(super) async fn cancel_payment(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    on_resource(&sim, &headers, Family::Pos, (&id, "paymentId"), |caller, id| {
        sim.with_world(|st, now| st.cancel(caller, id, now))?;
        Ok(ok_empty())
    })
}
