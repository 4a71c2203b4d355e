//! Fault injection and the request log, applied to every MobilePay endpoint by one middleware.

use super::clock::format_rfc3339;
use super::error::{render, ApiError, Family};
use super::server::ConnectionKill;
use super::shared::Shared;
use crate::backends::pos_v10::model::headers;
use axum::{
    extract::{MatchedPath, Request, State},
    http::{Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every MobilePay endpoint by method and route, with the name faults and counts use.
const ENDPOINTS: &[(&str, &str, &str)] = &[
    ("POST", "/integrator-authentication/connect/token", "token"),
    ("GET", "/pos/v10/stores", "listStores"),
    ("GET", "/pos/v10/stores/detailed", "listStoresDetailed"),
    ("GET", "/pos/v10/stores/{store_id}", "getStore"),
    ("POST", "/pos/v10/pointofsales", "createPos"),
    ("GET", "/pos/v10/pointofsales", "findPos"),
    ("GET", "/pos/v10/pointofsales/{pos_id}", "getPos"),
    ("DELETE", "/pos/v10/pointofsales/{pos_id}", "deletePos"),
    ("GET", "/pos/v10/pointofsales/{pos_id}/checkin", "getCheckin"),
    ("POST", "/pos/v10/payments", "initiatePayment"),
    ("POST", "/pos/v10/payments/prepare", "preparePayment"),
    ("POST", "/pos/v10/payments/{payment_id}/ready", "readyPayment"),
    ("GET", "/pos/v10/payments/{payment_id}", "getPayment"),
    ("GET", "/pos/v10/payments", "findPayments"),
    ("POST", "/pos/v10/payments/{payment_id}/capture", "capturePayment"),
    ("POST", "/pos/v10/payments/{payment_id}/cancel", "cancelPayment"),
    ("POST", "/pos/v10/refunds", "createRefund"),
    ("GET", "/pos/v10/refunds/{refund_id}", "getRefund"),
    ("GET", "/pos/v10/refunds", "findRefunds"),
    ("POST", "/pos/v10/refunds/{refund_id}/capture", "captureRefund"),
    ("POST", "/pos/v10/refunds/{refund_id}/cancel", "cancelRefund"),
    ("POST", "/pos/app/usersimulation/checkin", "userCheckin"),
    (
        "POST",
        "/pos/app/usersimulation/acceptpayment",
        "userAcceptPayment",
    ),
    (
        "POST",
        "/pos/app/usersimulation/cancelpaymentbyuser",
        "userCancelPayment",
    ),
];

pub fn endpoint_name(method: &Method, route: &str) -> Option<&'static str> {
    ENDPOINTS
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
        .map(|(_, _, name)| *name)
}

pub fn is_endpoint(name: &str) -> bool {
    ENDPOINTS.iter().any(|(_, _, n)| *n == name)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultMode {
    Delay,
    ServerError,
    CommitThenDrop,
    Unauthorized,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultSpec {
    pub endpoint: String,
    pub mode: FaultMode,
    #[serde(default = "one")]
    pub count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub endpoint: &'static str,
    pub method: String,
    pub path: String,
    pub status: Option<u16>,
    pub idempotency_key: Option<String>,
    pub correlation_id: Option<String>,
    pub fault: Option<FaultMode>,
    pub at: String,
}

const LOG_CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Observer {
    faults: Mutex<Vec<FaultSpec>>,
    counts: Mutex<HashMap<&'static str, u64>>,
    log: Mutex<VecDeque<LogEntry>>,
}

impl Observer {
    pub fn add_fault(&self, spec: FaultSpec) {
        lock(&self.faults).push(spec);
    }

    pub fn faults(&self) -> Vec<FaultSpec> {
        lock(&self.faults).clone()
    }

    pub fn clear(&self) {
        lock(&self.faults).clear();
        lock(&self.counts).clear();
        lock(&self.log).clear();
    }

    pub fn clear_faults(&self) {
        lock(&self.faults).clear();
    }

    /// Takes one use of the oldest pending fault for `endpoint`.
    fn take_fault(&self, endpoint: &str) -> Option<FaultSpec> {
        let mut faults = lock(&self.faults);
        let index = faults.iter().position(|f| f.endpoint == endpoint)?;
        let spec = faults[index].clone();
        if faults[index].count <= 1 {
            faults.remove(index);
        } else {
            faults[index].count -= 1;
        }
        Some(spec)
    }

    fn record(&self, entry: LogEntry) {
        *lock(&self.counts).entry(entry.endpoint).or_default() += 1;
        let mut log = lock(&self.log);
        if log.len() == LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(entry);
    }

    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.counts).iter().map(|(k, v)| (*k, *v)).collect()
    }

    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.log).iter().cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Logs the call, and applies a pending fault for its endpoint.
pub async fn middleware(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
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
        idempotency_key: header(&req, headers::IDEMPOTENCY_KEY),
        correlation_id: header(&req, headers::CORRELATION_ID),
        fault: None,
        at: format_rfc3339(shared.clock.now()),
    };
    let fault = shared.observer.take_fault(endpoint);
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
                shared.observer.record(entry);
                response
            });
            return held
                .await
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
        }
        Some(FaultMode::ServerError) => {
            let code = fault
                .as_ref()
                .and_then(|f| f.code.clone())
                .unwrap_or_else(|| "2000".to_string());
            render(&ApiError::server_error(code), &correlation, family)
        }
        Some(FaultMode::Unauthorized) => StatusCode::UNAUTHORIZED.into_response(),
        Some(FaultMode::CommitThenDrop) => {
            let kill = req.extensions().get::<ConnectionKill>().cloned();
            let response = next.run(req).await;
            entry.status = None;
            shared.observer.record(entry);
            drop(response);
            if let Some(kill) = kill {
                kill.kill();
            }
            // The connection is closing; this answer is never written.
            return std::future::pending().await;
        }
    };
    entry.status = Some(response.status().as_u16());
    shared.observer.record(entry);
    response
}
