//! `/pos/v10/refunds`: create, query, find, capture and cancel refunds. Errors here are written
//! in the refund family's style.

use super::checks::{amount, authorize, guid, query_map, read_body, text};
use super::respond::{create, ok_empty, ok_json, on_resource, Reply, Sim};
use crate::backends::pos_v10::model::{
    CreateRefundRequest, GetRefundResponse, RefundIdResponse, RefundIdsResponse,
};
use crate::money::MajorAmount;
use crate::sim::error::{ErrorAnswer, Family};
use crate::sim::world::NewRefund;
use axum::{
    body::Body,
    extract::{Path, RawQuery, State as AxumState},
    http::HeaderMap,
    response::Response,
};

pub(super) async fn create_refund(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
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

pub(super) async fn get_refund(AxumState(sim): Sim, headers: HeaderMap, Path(id): Path<String>) -> Response {
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

pub(super) async fn find_refunds(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Refunds);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let q = query_map(q)?;
        let payment_id = q
            .get("paymentId")
            .ok_or_else(|| ErrorAnswer::bad_request("1110", "Refund filter not specific enough"))?;
        let payment_id = guid(payment_id, "paymentId")?;
        let refund_ids = sim.with_world(|st, _| st.find_refunds(&caller, &payment_id));
        Ok(ok_json(&RefundIdsResponse { refund_ids }))
    })())
}

pub(super) async fn capture_refund(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
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

pub(super) async fn cancel_refund(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
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
