//! `/pos/v10/stores`: the merchant's stores, listed, filtered and looked up.

use super::checks::{authorize, query_map};
use super::respond::{ok_json, on_resource, Reply, Sim};
use crate::backends::pos_v10::formats;
use crate::backends::pos_v10::model::StoreIdsResponse;
use crate::sim::error::{ErrorAnswer, Family};
use crate::sim::world::stores::store_response;
use axum::{
    extract::{Path, RawQuery, State as AxumState},
    http::HeaderMap,
    response::Response,
};
use std::collections::HashMap;

fn store_filter(query: &HashMap<String, String>) -> Result<Option<(String, String)>, ErrorAnswer> {
    let brand = query.get("merchantBrandId");
    let location = query.get("merchantLocationId");
    if brand.is_some_and(|b| !formats::is_valid_brand_id(b)) {
        return Err(ErrorAnswer::bad_request("1119", "Invalid MerchantBrandId"));
    }
    if location.is_some_and(|l| !formats::is_valid_location_id(l)) {
        return Err(ErrorAnswer::bad_request("1120", "Invalid MerchantLocationId"));
    }
    match (brand, location) {
        (Some(b), Some(l)) => Ok(Some((b.clone(), l.clone()))),
        (None, None) => Ok(None),
        _ => Err(ErrorAnswer::bad_request(
            "1122",
            "Store filter not specific enough",
        )),
    }
}

pub(super) async fn list_stores(AxumState(sim): Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
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

pub(super) async fn list_stores_detailed(
    AxumState(sim): Sim,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
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
            .map(store_response)
            .collect()
        });
        Ok(ok_json(&stores))
    })())
}

pub(super) async fn get_store(
    AxumState(sim): Sim,
    headers: HeaderMap,
    Path(store_id): Path<String>,
) -> Response {
    on_resource(
        &sim,
        &headers,
        Family::Pos,
        (&store_id, "storeId"),
        |caller, store_id| Ok(ok_json(&sim.with_world(|st, _| st.store(caller, store_id))?)),
    )
}
