//! What every handler shares besides the checks: the simulator context it reaches, answers
//! written in its error family's style, and the two shapes most endpoints follow (act on one
//! resource by id; a creating POST that replays a retry).

use super::checks::{authorize, guid, parse_json};
use crate::backends::pos_v10::model::headers;
use crate::sim::context::SimContext;
use crate::sim::error::{render, ErrorAnswer, Family};
use crate::sim::world::{Caller, IdemScope, World};
use axum::{
    extract::State as AxumState,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde::{de::DeserializeOwned, Serialize};
use std::sync::Arc;

pub(super) type Sim = AxumState<Arc<SimContext>>;

/// Per-request context for writing answers: the correlation id and the error body family.
pub(super) struct Reply {
    correlation_id: String,
    family: Family,
}

impl Reply {
    pub(super) fn new(headers: &HeaderMap, family: Family) -> Reply {
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

    pub(super) fn send(&self, result: Result<Response, ErrorAnswer>) -> Response {
        result.unwrap_or_else(|err| render(&err, &self.correlation_id, self.family))
    }
}

pub(super) fn ok_json<T: Serialize>(value: &T) -> Response {
    Json(value).into_response()
}

pub(super) fn ok_empty() -> Response {
    StatusCode::OK.into_response()
}

fn ok_raw_json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Most endpoints on one resource share a shape: authorise the caller, require the path's id
/// to be a GUID (compared lower-case), then act; errors are rendered in the family's style.
pub(super) fn on_resource(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    family: Family,
    (raw_id, what): (&str, &str),
    act: impl FnOnce(&Caller, &str) -> Result<Response, ErrorAnswer>,
) -> Response {
    Reply::new(headers, family).send((|| {
        let (caller, _) = authorize(sim, headers, false)?;
        let id = guid(raw_id, what)?;
        act(&caller, &id)
    })())
}

/// The common shape of the four creating POSTs: authorise, parse, replay a retry, else act and
/// remember the answer.
pub(super) fn create<T: DeserializeOwned, V, R: Serialize>(
    sim: &Arc<SimContext>,
    headers: &HeaderMap,
    body: &[u8],
    endpoint: &'static str,
    validate: impl FnOnce(&T) -> Result<V, ErrorAnswer>,
    act: impl FnOnce(&mut World, &Caller, &T, V, &str, i64) -> Result<R, ErrorAnswer>,
) -> Result<Response, ErrorAnswer> {
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
