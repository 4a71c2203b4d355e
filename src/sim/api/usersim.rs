//! The sandbox user simulation under `/pos/app/usersimulation`: a test customer checks in,
//! accepts or cancels, as the MobilePay app would.

use super::checks::{parse_json, read_body, single};
use super::respond::{ok_empty, Reply, Sim};
use crate::backends::pos_v10::model::{headers, UserSimulationRequest};
use crate::sim::context::SimContext;
use crate::sim::error::{ErrorAnswer, Family};
use crate::sim::world::World;
use axum::{
    body::Body,
    extract::State as AxumState,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use std::sync::Arc;

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
    act: impl FnOnce(&mut World, &UserSimulationRequest, i64) -> Result<(), ErrorAnswer>,
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

fn phone(req: &UserSimulationRequest) -> Result<&str, ErrorAnswer> {
    req.phone_number
        .as_deref()
        .ok_or_else(|| ErrorAnswer::malformed("phoneNumber is required"))
}

pub(super) async fn user_checkin(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_checkin(&req.beacon_id, phone(req)?, now)
    })
    .await
}

pub(super) async fn user_accept(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_accept(&req.beacon_id, phone(req)?, now)
    })
    .await
}

pub(super) async fn user_cancel(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
    user_action(sim, headers, body, |st, req, now| {
        st.user_cancel(&req.beacon_id, now)
    })
    .await
}
