//! The Invoice API's error answer: snake_case `{correlation_id, error, error_code,
//! error_description, error_context}` (§2.11), 400 for input errors, 409 for domain errors,
//! 404 for an unknown invoice and 500 for server errors. The correlation id is the caller's
//! `CorrelationId` header when it sent one, so that both sides' logs meet.

use crate::backends::pos_v10::model::headers::CORRELATION_ID;
use axum::{
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Input,
    Domain,
    Server,
}

impl Kind {
    /// The `error` property's value.
    fn name(self) -> &'static str {
        match self {
            Kind::Input => "InputError",
            Kind::Domain => "DomainError",
            Kind::Server => "ServerError",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvError {
    pub status: StatusCode,
    pub kind: Kind,
    pub code: Option<&'static str>,
    pub description: String,
}

impl InvError {
    /// A 400 about one property, in the server's own words (`input.TotalAmount : Invalid
    /// input`); the detail after the colon says what was wrong.
    pub fn input(property: &str, detail: &str) -> Self {
        InvError {
            status: StatusCode::BAD_REQUEST,
            kind: Kind::Input,
            code: None,
            description: format!("input.{property} : {detail}"),
        }
    }

    /// A 409 with one of the documented codes.
    pub fn domain(code: &'static str, description: impl Into<String>) -> Self {
        InvError {
            status: StatusCode::CONFLICT,
            kind: Kind::Domain,
            code: Some(code),
            description: description.into(),
        }
    }

    /// A 409 the reference gives no code for.
    pub fn uncoded(description: impl Into<String>) -> Self {
        InvError {
            code: None,
            ..Self::domain("", description)
        }
    }

    pub fn not_found() -> Self {
        InvError {
            status: StatusCode::NOT_FOUND,
            kind: Kind::Domain,
            code: None,
            description: "Invoice not found".into(),
        }
    }

    pub fn server() -> Self {
        InvError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: Kind::Server,
            code: None,
            description: "An unexpected error occurred (simulated)".into(),
        }
    }

    pub fn render(&self, headers: &HeaderMap) -> Response {
        self.answer(&correlation_id(headers))
    }

    /// The answer with a known correlation id.
    pub fn answer(&self, correlation_id: &str) -> Response {
        let body = json!({
            "correlation_id": correlation_id,
            "error": self.kind.name(),
            "error_code": self.code,
            "error_description": self.description,
            "error_context": "Invoices",
        });
        (self.status, Json(body)).into_response()
    }
}

/// The caller's `CorrelationId`, or a fresh one.
pub fn correlation_id(headers: &HeaderMap) -> String {
    headers
        .get(CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
