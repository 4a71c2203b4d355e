//! The ePayment API's error answers: RFC 7807 problem+json bodies with a numeric
//! `ErrorCode` for domain errors or the field at fault for schema errors, and the API
//! gateway's own short body for a missing or wrong key or token.

use crate::backends::epayment::model::{ExtraDetail, Problem, ERROR_CODE};
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

/// An error answer of the simulated API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpError {
    pub status: StatusCode,
    pub detail: String,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// A domain error: `extraDetails:[{name:"ErrorCode",reason:code}]`.
    Code(&'static str),
    /// A schema error: the field and what is wrong with it, no code.
    Field(String),
    /// Plain problem without extra details.
    Plain,
    /// Answered by the API gateway before the API: `{statusCode, message}`.
    Gateway,
    /// Too many requests: problem body plus `Retry-After` with this value, if any.
    RateLimited(Option<String>),
}

impl EpError {
    pub fn code(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        EpError {
            status,
            detail: detail.into(),
            kind: Kind::Code(code),
        }
    }

    /// 400 with an error code.
    pub fn bad(code: &'static str, detail: impl Into<String>) -> Self {
        Self::code(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 400 naming the field that breaks the schema.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        EpError {
            status: StatusCode::BAD_REQUEST,
            detail: detail.into(),
            kind: Kind::Field(field.into()),
        }
    }

    pub fn plain(status: StatusCode, detail: impl Into<String>) -> Self {
        EpError {
            status,
            detail: detail.into(),
            kind: Kind::Plain,
        }
    }

    pub fn gateway(status: StatusCode, message: impl Into<String>) -> Self {
        EpError {
            status,
            detail: message.into(),
            kind: Kind::Gateway,
        }
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::throttled(Some(retry_after_secs.to_string()))
    }

    /// 429 with `Retry-After: retry_after` as given (seconds or an HTTP date), or without the
    /// header: the API may send either form, or none.
    pub fn throttled(retry_after: Option<String>) -> Self {
        EpError {
            status: StatusCode::TOO_MANY_REQUESTS,
            detail: "Too many requests for this payment; retry later".into(),
            kind: Kind::RateLimited(retry_after),
        }
    }

    pub fn not_found(reference: &str) -> Self {
        Self::code(
            StatusCode::NOT_FOUND,
            "5090",
            format!("Reference {reference} not found for this merchant serial number"),
        )
    }

    /// The error code, for tests.
    #[cfg(test)]
    pub fn error_code(&self) -> Option<&'static str> {
        match self.kind {
            Kind::Code(c) => Some(c),
            _ => None,
        }
    }

    /// Whether a later request with the same idempotency key gets this answer again: every
    /// answer about the request itself does; answers about the caller's credentials, a
    /// temporary lock or the rate are not about the request and are not remembered.
    pub fn is_remembered(&self) -> bool {
        self.status.is_client_error()
            && !matches!(self.kind, Kind::Gateway | Kind::RateLimited(_))
            && ![StatusCode::FORBIDDEN, StatusCode::LOCKED].contains(&self.status)
    }

    /// The body as written (`None` for gateway answers, whose body is not problem+json).
    pub fn problem(&self, instance: &str) -> Option<Problem> {
        let extra = match &self.kind {
            Kind::Code(code) => Some(vec![ExtraDetail {
                name: ERROR_CODE.into(),
                reason: (*code).into(),
            }]),
            Kind::Field(field) => Some(vec![ExtraDetail {
                name: field.clone(),
                reason: self.detail.clone(),
            }]),
            Kind::Plain | Kind::RateLimited(_) => None,
            Kind::Gateway => return None,
        };
        Some(Problem {
            kind: format!("https://httpstatuses.io/{}", self.status.as_u16()),
            title: self.status.canonical_reason().unwrap_or("Error").to_string(),
            status: self.status.as_u16(),
            detail: Some(self.detail.clone()),
            instance: Some(instance.to_string()),
            trace_id: Some(uuid::Uuid::new_v4().simple().to_string()),
            extra_details: extra,
        })
    }

    pub fn render(&self, instance: &str) -> Response {
        let Some(problem) = self.problem(instance) else {
            let body = json!({ "statusCode": self.status.as_u16(), "message": self.detail });
            return (self.status, Json(body)).into_response();
        };
        let body = serde_json::to_string(&problem).unwrap_or_default();
        let mut response = problem_response(self.status, body);
        let retry_after = match &self.kind {
            Kind::RateLimited(Some(value)) => HeaderValue::from_str(value).ok(),
            _ => None,
        };
        if let Some(value) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// A problem+json answer from an already serialised body (also used for replays).
pub fn problem_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/problem+json")], body).into_response()
}
