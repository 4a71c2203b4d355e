//! `/pos/v10/pointofsales`: registering, finding, reading and deleting points of sale, and
//! polling a point of sale's check-in.

use super::checks::{authorize, guid, query_map, read_body, text};
use super::respond::{create, ok_empty, ok_json, on_resource, Reply, Sim};
use crate::backends::pos_v10::formats;
use crate::backends::pos_v10::model::{CreatePosRequest, PosIdResponse, PosIdsResponse};
use crate::sim::error::{ErrorAnswer, Family};
use axum::{
    body::Body,
    extract::{Path, RawQuery, State as AxumState},
    http::HeaderMap,
    response::Response,
};

pub(super) async fn create_pos(AxumState(sim): Sim, headers: HeaderMap, body: Body) -> Response {
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
                return Err(ErrorAnswer::bad_request("1100", "Invalid BeaconId"));
            }
            if let Some(alias) = &req.callback_alias {
                text(alias, "1116", "CallbackAlias")?;
            }
            guid(&req.store_id, "storeId")?;
            let types = &req.supported_beacon_types;
            let unique: std::collections::HashSet<_> = types.iter().collect();
            if types.is_empty() || unique.len() != types.len() {
                return Err(ErrorAnswer::malformed(
                    "supportedBeaconTypes must be a non-empty list without repeats",
                ));
            }
            Ok(())
        },
        |st, caller, req, (), _key, _now| st.create_pos(caller, req).map(|pos_id| PosIdResponse { pos_id }),
    ))
}

pub(super) async fn find_pos(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let reply = Reply::new(&headers, Family::Pos);
    reply.send((|| {
        let (caller, _) = authorize(&sim, &headers, false)?;
        let q = query_map(q)?;
        let store_id = q.get("storeId").map(|s| guid(s, "storeId")).transpose()?;
        let beacon_id = q.get("beaconId");
        let merchant_pos_id = q.get("merchantPosId");
        if store_id.is_none() && beacon_id.is_none() && merchant_pos_id.is_none() {
            return Err(ErrorAnswer::bad_request(
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

pub(super) async fn get_pos(AxumState(sim): Sim, headers: HeaderMap, Path(pos_id): Path<String>) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&pos_id, "posId"),
        |caller, pos_id| Ok(ok_json(&sim.with_world(|st, _| st.get_pos(caller, pos_id))?)),
    )
}

pub(super) async fn delete_pos(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(pos_id): Path<String>,
) -> Response {
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

pub(super) async fn get_checkin(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(pos_id): Path<String>,
) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&pos_id, "posId"),
        |caller, pos_id| Ok(ok_json(&sim.with_world(|st, _| st.get_checkin(caller, pos_id))?)),
    )
}
