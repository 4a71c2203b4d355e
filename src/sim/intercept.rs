//! The one middleware in front of every MobilePay endpoint: it logs the call and applies a
//! pending fault for its endpoint (see [`observe`](super::observe) for the data).

use super::clock::format_rfc3339;
use super::context::SimContext;
use super::epayment::problem::EpError;
use super::error::{render, ErrorAnswer, Family};
use super::invoice::InvError;
use super::observe::{
    endpoint_name, is_epayment, is_invoice, is_oidc, is_subscriptions, FaultMode, FaultSpec, LogEntry,
    LOGGED_HEADERS, SECRET_HEADERS,
};
use super::oidc::error::OAuthError;
use super::server::ConnectionKill;
use super::subscriptions::{RefundError, SubsError};
use crate::backends::epayment::model::headers as epayment_headers;
use crate::backends::pos_v10::model::headers;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header::RETRY_AFTER, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use std::sync::Arc;
use std::time::Duration;

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The 500 an endpoint answers in its API's error format.
fn server_error(
    endpoint: &str,
    fault: Option<&FaultSpec>,
    path: &str,
    correlation: &str,
    family: Family,
) -> Response {
    if is_epayment(endpoint) {
        return EpError::code(
            StatusCode::INTERNAL_SERVER_ERROR,
            "3010",
            "Internal error (simulated)",
        )
        .render(path);
    }
    if is_oidc(endpoint) {
        return OAuthError::server_error("simulated").into_response();
    }
    if is_invoice(endpoint) {
        return InvError::server().answer(correlation);
    }
    if is_subscriptions(endpoint) && endpoint.contains("Refund") {
        return RefundError::Server.answer(correlation);
    }
    if is_subscriptions(endpoint) {
        return SubsError::Server.answer(correlation);
    }
    let code = fault
        .and_then(|f| f.code.clone())
        .unwrap_or_else(|| "2000".to_string());
    render(&ErrorAnswer::server_error(code), correlation, family)
}

/// Logs the call, and applies a pending fault for its endpoint.
pub async fn middleware(State(context): State<Arc<SimContext>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let Some(endpoint) = route.as_deref().and_then(|r| endpoint_name(req.method(), r)) else {
        return next.run(req).await;
    };
    let mut entry = LogEntry {
        endpoint,
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        status: None,
        idempotency_key: header(&req, headers::IDEMPOTENCY_KEY)
            .or_else(|| header(&req, epayment_headers::IDEMPOTENCY_KEY)),
        correlation_id: header(&req, headers::CORRELATION_ID),
        headers: LOGGED_HEADERS
            .iter()
            .filter_map(|name| Some((*name, header(&req, name)?)))
            .collect(),
        secret_headers: SECRET_HEADERS
            .iter()
            .copied()
            .filter(|name| req.headers().contains_key(*name))
            .collect(),
        fault: None,
        at: format_rfc3339(context.clock.now()),
    };
    let fault = context.observer.take_fault(endpoint);
    entry.fault = fault.as_ref().map(|f| f.mode);
    let family = if endpoint.contains("Refund") {
        Family::Refunds
    } else {
        Family::Pos
    };
    let correlation = entry
        .correlation_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let response = match fault.as_ref().map(|f| f.mode) {
        None => next.run(req).await,
        Some(FaultMode::Delay) => {
            // The client usually gives up and closes the connection meanwhile, which drops this
            // future. The held call must still take effect and be logged, as it would at
            // MobilePay, so it runs on its own task.
            let delay = fault.as_ref().and_then(|f| f.delay_ms).unwrap_or(3000);
            let held = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let response = next.run(req).await;
                entry.status = Some(response.status().as_u16());
                context.observer.record(entry);
                response
            });
            return held
                .await
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        Some(FaultMode::ServerError) => {
            server_error(endpoint, fault.as_ref(), &entry.path, &correlation, family)
        }
        Some(FaultMode::Unauthorized) if is_epayment(endpoint) => EpError::gateway(
            StatusCode::UNAUTHORIZED,
            "Access denied due to invalid or missing token",
        )
        .render(&entry.path),
        Some(FaultMode::Locked) if is_epayment(endpoint) => EpError::code(
            StatusCode::LOCKED,
            "6250",
            "The customer is approving the payment (simulated)",
        )
        .render(&entry.path),
        Some(FaultMode::Locked) => StatusCode::LOCKED.into_response(),
        Some(FaultMode::RateLimited) if is_epayment(endpoint) => {
            let retry_after = fault.as_ref().and_then(|f| f.retry_after.clone());
            EpError::throttled(retry_after).render(&entry.path)
        }
        Some(FaultMode::RateLimited) => {
            let retry_after = fault.as_ref().and_then(|f| f.retry_after.clone());
            let mut response = StatusCode::TOO_MANY_REQUESTS.into_response();
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
        Some(FaultMode::CommitThenServerError) => {
            drop(next.run(req).await);
            server_error(endpoint, fault.as_ref(), &entry.path, &correlation, family)
        }
        Some(FaultMode::Unauthorized) => StatusCode::UNAUTHORIZED.into_response(),
        Some(FaultMode::CommitThenDrop) => {
            let kill = req.extensions().get::<ConnectionKill>().cloned();
            let response = next.run(req).await;
            entry.status = None;
            context.observer.record(entry);
            drop(response);
            if let Some(kill) = kill {
                kill.kill();
            }
            // The connection is closing; this answer is never written.
            return std::future::pending().await;
        }
    };
    entry.status = Some(response.status().as_u16());
    context.observer.record(entry);
    response
}
