//! What can go wrong when talking to the Subscriptions API, sorted by what the caller may
//! conclude.
//!
//! A 4xx is an answer: nothing changed. A 5xx after every attempt and a missing answer leave
//! the outcome of a create, capture, cancel or refund unknown (MobilePay may have carried it
//! out before it failed). Messages never contain the access token or the gateway's secret: an
//! error body is shown only by its kind, code, message and correlation id, a gateway refusal
//! by its own short reason.

use super::model::{code_of, ErrorBody, RefundErrorBody};
use crate::consent::driver::RefreshError;
use serde_json::Value;
use std::fmt;

/// The readable part of an error answer, from either of the API's two error schemas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problem {
    /// `BadRequest`, `PreconditionFailed`, … (the refund endpoints: their `errorType`).
    pub kind: Option<String>,
    pub message: Option<String>,
    /// The numbered code (the refund endpoints' `60001`…), if there is one.
    pub code: Option<String>,
    pub correlation_id: Option<String>,
}

impl Problem {
    /// Reads an error body leniently: the Subscriptions schema, else the refund endpoints'
    /// schema; anything else (the empty body of a 404, an HTML page) is "no details".
    pub fn from_body(body: &[u8]) -> Problem {
        if let Ok(b) = serde_json::from_slice::<ErrorBody>(body) {
            if b.error.is_some() || b.error_description.is_some() {
                return Problem::from_subscriptions(b);
            }
        }
        if let Ok(b) = serde_json::from_slice::<RefundErrorBody>(body) {
            if b.error_text.is_some() || b.error_details.is_some() {
                let details = b.error_details.unwrap_or_default();
                return Problem {
                    kind: details.error_type,
                    message: details.message.or(b.error_text),
                    code: code_of(details.error_code.as_ref()),
                    correlation_id: details.correlation_id,
                };
            }
        }
        Problem::default()
    }

    fn from_subscriptions(body: ErrorBody) -> Problem {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        match body.error_description {
            Some(Value::String(message)) => Problem {
                kind: body.error,
                message: Some(message),
                ..Problem::default()
            },
            Some(d) => Problem {
                kind: body.error.or_else(|| text(&d, "error_type")),
                message: text(&d, "message"),
                code: code_of(d.get("error_code")),
                correlation_id: text(&d, "correlation_id"),
            },
            None => Problem {
                kind: body.error,
                ..Problem::default()
            },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind.is_none() && self.message.is_none() && self.code.is_none() {
            return f.write_str("no error details");
        }
        if let Some(code) = &self.code {
            write!(f, "{code} ")?;
        }
        f.write_str(self.kind.as_deref().unwrap_or("error"))?;
        if let Some(message) = &self.message {
            // A message is MobilePay's wording about our request; kept short for logs.
            let short: String = message.chars().take(300).collect();
            write!(f, ": {short}")?;
        }
        if let Some(id) = &self.correlation_id {
            write!(f, " [correlation_id {id}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriptionsError {
    /// A 4xx answer other than 401: nothing changed.
    #[error("MobilePay Subscriptions refused {endpoint} (HTTP {status}, {problem})")]
    Refused {
        endpoint: &'static str,
        status: u16,
        problem: Problem,
    },
    /// 401 also with a fresh access token, or a gateway that refuses the app pair itself.
    #[error("MobilePay Subscriptions did not accept {what} for {endpoint} (HTTP 401)")]
    Unauthorized { endpoint: &'static str, what: String },
    /// A 5xx on every attempt.
    #[error(
        "MobilePay Subscriptions failed {endpoint} with HTTP {status} on all {attempts} attempts ({problem})"
    )]
    Server {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        problem: Problem,
    },
    /// No answer: the call may or may not have taken effect.
    #[error("no answer from MobilePay Subscriptions for {endpoint} after {attempts} attempts, outcome unknown ({reason})")]
    NoAnswer {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A 2xx answer we could not read (or without what it must hold): it did take effect.
    #[error("MobilePay Subscriptions' answer to {endpoint} could not be read: {reason}")]
    InvalidAnswer { endpoint: &'static str, reason: String },
    /// No access token from the merchant's consent; nothing was sent.
    #[error("no access token from the merchant's consent: {0}")]
    Token(#[from] RefreshError),
    /// The merchant's subscription providers do not say which one to use.
    #[error("{0}")]
    Provider(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_schemas_are_read() {
        let subs = br#"{"error":"BadRequest","error_description":{"message":"plan must be at most 30 characters.","error_type":"InputError","correlation_id":"c-1","error_code":null,"localized_message":"x"}}"#;
        let p = Problem::from_body(subs);
        assert_eq!(p.kind.as_deref(), Some("BadRequest"));
        assert_eq!(p.code, None);
        assert_eq!(
            p.to_string(),
            "BadRequest: plan must be at most 30 characters. [correlation_id c-1]"
        );

        let refund = br#"{"errorText":"Refund exceeds","errorDetails":{"message":"The refunds would exceed the captured amount.","errorType":"PreconditionError","correlationId":"c-2","errorCode":"60002"}}"#;
        let p = Problem::from_body(refund);
        assert_eq!(p.code.as_deref(), Some("60002"));
        assert_eq!(
            p.to_string(),
            "60002 PreconditionError: The refunds would exceed the captured amount. [correlation_id c-2]"
        );
        let numeric = br#"{"errorText":"Old","errorDetails":{"errorCode":60006}}"#;
        assert_eq!(Problem::from_body(numeric).code.as_deref(), Some("60006"));

        assert_eq!(Problem::from_body(b""), Problem::default());
        assert_eq!(Problem::from_body(b"<html>").to_string(), "no error details");
        let plain = br#"{"error":"BadRequest","error_description":"Bad amount"}"#;
        assert_eq!(Problem::from_body(plain).to_string(), "BadRequest: Bad amount");
    }
}
