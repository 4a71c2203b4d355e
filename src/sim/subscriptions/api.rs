//! The merchant's endpoints for itself, its providers and agreements (§3.2, §3.3, §3.4):
//! who am I, provider details and callback URL, create, list, get and cancel agreements.
//! Each call passes the [`gateway`](super::gateway) first; an agreement or provider of
//! another merchant, or an agreement of another provider, is not found (404, empty body).

use super::error::SubsError;
use super::gateway;
use super::input;
use super::lifecycle::AgreementStatus;
use super::view;
use crate::sim::context::SimContext;
use crate::sim::fixtures::ProviderStatus;
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

type Sim = State<Arc<SimContext>>;

/// The list's page size when `pageSize` is not given, and the largest one allowed.
pub const DEFAULT_PAGE_SIZE: usize = 10;
pub const MAX_PAGE_SIZE: usize = 1_000;

macro_rules! merchant_or_return {
    ($sim:expr, $headers:expr) => {
        match gateway::merchant(&$sim, &$headers) {
            Ok(m) => m,
            Err(r) => return *r,
        }
    };
}
pub(super) use merchant_or_return;

/// `GET /api/merchants/me`: `{Id, SubscriptionProviders[…]}`, PascalCase as the API
/// specification and the providers page write it, a single object as the specification has
/// it (the docs' example wraps it in an array).
pub async fn me(State(sim): Sim, headers: HeaderMap) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let providers: Vec<Value> = sim.with_subscriptions(|book, _| {
        book.fixtures()
            .providers_of(&merchant)
            .map(|p| {
                json!({
                    "SubscriptionProviderId": p.id,
                    "Name": p.name,
                    "HomepageUrl": p.homepage_url,
                    "CustomerServiceEmail": p.customer_service_email,
                    "SelfServicePortalUrl": p.self_service_portal_url,
                    "FaqUrl": p.faq_url,
                    "Status": match p.status {
                        ProviderStatus::Enabled => "Enabled",
                        ProviderStatus::Pending => "Pending",
                    },
                    "Address": p.address,
                    "ZipCode": p.zip_code,
                    "City": p.city,
                })
            })
            .collect()
    });
    Json(json!({ "Id": merchant, "SubscriptionProviders": providers })).into_response()
}

/// `GET /api/providers/{providerId}`: the provider's configuration in snake_case, `status` as
/// the specification's integer enum (`0` pending, `1` enabled: the values are the
/// simulator's choice). `credentials` is `null`: callback authentication is not served.
pub async fn provider(State(sim): Sim, headers: HeaderMap, Path(provider_id): Path<String>) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let found = sim.with_subscriptions(|book, _| {
        let p = book.provider(&merchant, &provider_id)?;
        Some(json!({
            "id": p.id,
            "name": p.name,
            "payment_status_callback_url": book.callback_url(&p.id),
            "credentials": null,
            "homepage_url": p.homepage_url,
            "customer_service_email": p.customer_service_email,
            "self_service_portal_url": p.self_service_portal_url,
            "faq_url": p.faq_url,
            "status": match p.status {
                ProviderStatus::Pending => 0,
                ProviderStatus::Enabled => 1,
            },
        }))
    });
    match found {
        Some(body) => Json(body).into_response(),
        None => SubsError::NotFound.render(&headers),
    }
}

/// `PATCH /api/providers/{providerId}`: JSON Patch replacing `/payment_status_callback_url`
/// with an https URL; `204`.
pub async fn patch_provider(
    State(sim): Sim,
    headers: HeaderMap,
    Path(provider_id): Path<String>,
    bytes: Bytes,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let url = match input::callback_patch(&bytes) {
        Ok(u) => u,
        Err(e) => return e.render(&headers),
    };
    match sim.with_subscriptions(|book, _| book.set_callback_url(&merchant, &provider_id, url)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(&headers),
    }
}

/// `POST …/agreements`: `201 {id, links:[{rel:"mobile-pay", href}], one_off_payment_id?}`.
/// No duplicate check: the same body twice makes two agreements.
pub async fn create(
    State(sim): Sim,
    headers: HeaderMap,
    Path(provider_id): Path<String>,
    bytes: Bytes,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let new = match input::agreement(&bytes) {
        Ok(n) => n,
        Err(e) => return e.render(&headers),
    };
    let base = sim.base_url(&headers);
    let answer = sim.with_subscriptions(|book, now| {
        book.create_agreement(&merchant, &provider_id, new, now).map(|a| {
            let mut body = json!({
                "id": a.id,
                "links": [{ "rel": "mobile-pay", "href": view::mobile_pay_href(&base, a, None) }],
            });
            if let Some(one_off) = &a.one_off_id {
                body["one_off_payment_id"] = json!(one_off);
            }
            body
        })
    });
    match answer {
        Ok(body) => (StatusCode::CREATED, Json(body)).into_response(),
        Err(e) => e.render(&headers),
    }
}

/// Reads `pageNumber` (required, from 1), `pageSize` (1 … 1000, default 10) and `status`.
fn page(query: &HashMap<String, String>) -> Result<(Option<AgreementStatus>, usize, usize), SubsError> {
    let number = |key: &str| -> Result<Option<usize>, SubsError> {
        match query.get(key) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map(Some)
                .map_err(|_| SubsError::input(format!("{key} must be a whole number."))),
        }
    };
    let page_number = number("pageNumber")?.ok_or_else(|| SubsError::input("pageNumber is required."))?;
    if page_number < 1 {
        return Err(SubsError::input("pageNumber starts at 1."));
    }
    let page_size = number("pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(SubsError::input(format!(
            "pageSize must be between 1 and {MAX_PAGE_SIZE}."
        )));
    }
    let status = match query.get("status").filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(s) => Some(
            AgreementStatus::parse(s).ok_or_else(|| SubsError::input(format!("Unknown status {s:?}.")))?,
        ),
    };
    Ok((status, page_size, page_number))
}

/// `GET …/agreements?status=&pageSize=&pageNumber=`: `{page_size, agreements[]}`, oldest
/// first. This is how a client finds an agreement whose create answer was lost: by its
/// `external_id`, page by page until a page comes back short.
pub async fn list(
    State(sim): Sim,
    headers: HeaderMap,
    Path(provider_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let (status, page_size, page_number) = match page(&query) {
        Ok(p) => p,
        Err(e) => return e.render(&headers),
    };
    let base = sim.base_url(&headers);
    let body = sim.with_subscriptions(|book, _| {
        book.provider(&merchant, &provider_id)?;
        let agreements: Vec<Value> = book
            .list(&merchant, &provider_id, status, page_size, page_number)
            .into_iter()
            .map(|a| view::agreement(&base, a))
            .collect();
        Some(json!({ "page_size": page_size, "agreements": agreements }))
    });
    match body {
        Some(body) => Json(body).into_response(),
        None => SubsError::NotFound.render(&headers),
    }
}

pub async fn get(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, id)): Path<(String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    let base = sim.base_url(&headers);
    let found = sim.with_subscriptions(|book, _| {
        book.agreement(&merchant, &provider_id, &id)
            .map(|a| view::agreement(&base, a))
    });
    match found {
        Some(body) => Json(body).into_response(),
        None => SubsError::NotFound.render(&headers),
    }
}

/// `DELETE …/agreements/{id}`: `204`; 412 unless `Pending` or `Accepted`.
pub async fn cancel(
    State(sim): Sim,
    headers: HeaderMap,
    Path((provider_id, id)): Path<(String, String)>,
) -> Response {
    let merchant = merchant_or_return!(sim, headers);
    match sim.with_subscriptions(|book, now| book.cancel_agreement(&merchant, &provider_id, &id, now)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.render(&headers),
    }
}
