//! The Subscriptions API's error answers (§3.1): `{"error", "error_description": {message,
//! error_type, correlation_id, error_code, localized_message}}` with 400 (input), 412 (a
//! business rule) and 500; **404 with an empty body** for an unknown agreement or payment;
//! and the refund endpoints' own schema `{errorText, errorDetails{message, errorType,
//! correlationId, errorCode}}`. The correlation id is the caller's `CorrelationId` header when
//! it sent one, so that both sides' logs meet.

use crate::sim::invoice::correlation_id;
use axum::{
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubsError {
    /// 400 `BadRequest` / `InputError`.
    Input(String),
    /// 412 `PreconditionFailed` / `PreconditionError`.
    Precondition(String),
    /// 404, no body.
    NotFound,
    /// 500 `InternalServerError` / `ServerError`.
    Server,
}

impl SubsError {
    pub fn input(message: impl Into<String>) -> Self {
        SubsError::Input(message.into())
    }

    pub fn precondition(message: impl Into<String>) -> Self {
        SubsError::Precondition(message.into())
    }

    pub fn render(&self, headers: &HeaderMap) -> Response {
        self.answer(&correlation_id(headers))
    }

    /// The answer with a known correlation id.
    pub fn answer(&self, correlation_id: &str) -> Response {
        let (status, error, error_type, message) = match self {
            SubsError::Input(m) => (StatusCode::BAD_REQUEST, "BadRequest", "InputError", m.as_str()),
            SubsError::Precondition(m) => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "PreconditionError",
                m.as_str(),
            ),
            SubsError::NotFound => return StatusCode::NOT_FOUND.into_response(),
            SubsError::Server => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "ServerError",
                "An unexpected error occurred (simulated)",
            ),
        };
        let body = json!({
            "error": error,
            "error_description": {
                "message": message,
                "error_type": error_type,
                "correlation_id": correlation_id,
                "error_code": null,
                "localized_message": message,
            },
        });
        (status, Json(body)).into_response()
    }
}

/// An error of the refund endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundError {
    /// 400, the request cannot be read.
    Input(String),
    /// 412: MobilePay declines the refund; `code` is the refund callback's `status_code`
    /// (§3.9) that said so asynchronously before 2024.
    Declined {
        code: &'static str,
        message: String,
    },
    /// 404, no body.
    NotFound,
    Server,
}

impl RefundError {
    pub fn declined(code: &'static str, message: impl Into<String>) -> Self {
        RefundError::Declined {
            code,
            message: message.into(),
        }
    }

    pub fn render(&self, headers: &HeaderMap) -> Response {
        self.answer(&correlation_id(headers))
    }

    pub fn answer(&self, correlation_id: &str) -> Response {
        let (status, error_type, code, message) = match self {
            RefundError::Input(m) => (StatusCode::BAD_REQUEST, "InputError", None, m.as_str()),
            RefundError::Declined { code, message } => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionError",
                Some(*code),
                message.as_str(),
            ),
            RefundError::NotFound => return StatusCode::NOT_FOUND.into_response(),
            RefundError::Server => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServerError",
                None,
                "An unexpected error occurred (simulated)",
            ),
        };
        let body = json!({
            "errorText": message,
            "errorDetails": {
                "message": message,
                "errorType": error_type,
                "correlationId": correlation_id,
                "errorCode": code,
            },
        });
        (status, Json(body)).into_response()
    }
}

/// The refund endpoints' words for an error of the shared request rules; a business rule
/// without a refund code of its own gets the catch-all `60005`.
impl From<SubsError> for RefundError {
    fn from(e: SubsError) -> Self {
        match e {
            SubsError::Input(m) => RefundError::Input(m),
            SubsError::Precondition(m) => RefundError::declined("60005", m),
            SubsError::NotFound => RefundError::NotFound,
            SubsError::Server => RefundError::Server,
        }
    }
}
