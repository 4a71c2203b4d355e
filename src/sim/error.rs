//! MobilePay error answers: a status, an optional code and a message. The correlation id and,
//! for refund endpoints, the `origin` field are added when the answer is written.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;
use std::borrow::Cow;

/// An error answer the simulator gives, as MobilePay would (not to be confused with the
/// client's [`crate::backends::pos_v10::ApiError`], the error it receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: StatusCode,
    pub code: Option<Cow<'static, str>>,
    pub message: String,
}

impl ErrorAnswer {
    fn new(status: StatusCode, code: Option<&'static str>, message: impl Into<String>) -> Self {
        ErrorAnswer {
            status,
            code: code.map(Cow::Borrowed),
            message: message.into(),
        }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(code), message)
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(code), message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, Some(code), message)
    }
    /// 404 without a body, as MobilePay answers for unknown resources.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, None, "")
    }
    pub fn not_found_with(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Some(code), message)
    }
    /// 401 without a body.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, "")
    }
    pub fn server_error(code: String) -> Self {
        ErrorAnswer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: Some(Cow::Owned(code)),
            message: "Internal server error (simulated)".into(),
        }
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::bad_request("1099", message)
    }
}

/// Which error body an endpoint uses: refunds add `origin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Pos,
    Refunds,
}

pub fn render(err: &ErrorAnswer, correlation_id: &str, family: Family) -> Response {
    let Some(code) = &err.code else {
        return err.status.into_response();
    };
    let mut body = json!({ "code": code, "message": err.message, "correlationId": correlation_id });
    if family == Family::Refunds {
        body["origin"] = json!("PoS");
    }
    (err.status, Json(body)).into_response()
}
