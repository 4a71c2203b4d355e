//! What can go wrong when talking to the ePayment API, sorted by what the caller may conclude.
//!
//! A 4xx is an answer: nothing changed, and the same key will get the same answer again (the
//! API remembers it). A 5xx on every attempt means nothing changed either; a missing answer
//! means the call may have taken effect ([`EpError::NoAnswer`]): repeat it with the same
//! Idempotency-Key, or read the payment. Messages never contain tokens, keys or secrets:
//! bodies we did not expect are not quoted, problems only by their code, title and detail.

use crate::backends::epayment::model::Problem;
use crate::secrets::SecretError;
use std::fmt;

/// The readable part of an error answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProblemInfo {
    /// The problem+json body, when the answer had one (the gateway answers 401 differently).
    pub problem: Option<Problem>,
}

impl ProblemInfo {
    /// Reads an error body leniently: a body that is no problem+json is kept as "none".
    pub fn from_body(body: &[u8]) -> ProblemInfo {
        ProblemInfo {
            problem: serde_json::from_slice(body).ok(),
        }
    }

    /// The domain `ErrorCode` (`"6090"`…), if the problem carries one.
    pub fn code(&self) -> Option<&str> {
        self.problem.as_ref()?.error_code()
    }

    /// The field a schema error names (the first detail that is not an `ErrorCode`).
    pub fn field(&self) -> Option<&str> {
        let problem = self.problem.as_ref()?;
        if problem.error_code().is_some() {
            return None;
        }
        problem.extra_details.as_deref()?.first().map(|d| d.name.as_str())
    }
}

impl fmt::Display for ProblemInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(problem) = &self.problem else {
            return f.write_str("no problem details");
        };
        match (self.code(), self.field()) {
            (Some(code), _) => write!(f, "ErrorCode {code}: ")?,
            (None, Some(field)) => write!(f, "{field}: ")?,
            (None, None) => {}
        }
        f.write_str(&problem.title)?;
        if let Some(detail) = &problem.detail {
            write!(f, " ({detail})")?;
        }
        if let Some(trace) = &problem.trace_id {
            write!(f, " [traceId {trace}]")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum EpError {
    /// A 4xx answer (other than 401, and 423/429 once their waits ran out): nothing changed.
    #[error("ePayment refused {endpoint} (HTTP {status}, {info})")]
    Refused {
        endpoint: &'static str,
        status: u16,
        info: ProblemInfo,
    },
    /// 423 on every attempt: the customer kept the payment open in the app.
    #[error("ePayment kept {endpoint} locked after {attempts} attempts (HTTP 423, {info})")]
    Locked {
        endpoint: &'static str,
        attempts: u32,
        info: ProblemInfo,
    },
    /// 429 on every attempt.
    #[error("ePayment rate-limited {endpoint} on all {attempts} attempts (HTTP 429)")]
    RateLimited { endpoint: &'static str, attempts: u32 },
    /// 401 even with a freshly fetched token.
    #[error("ePayment did not accept our access token for {endpoint} (HTTP 401, also after renewing it)")]
    Unauthorized { endpoint: &'static str },
    /// Every attempt got a 5xx: the request did not take effect.
    #[error("ePayment failed {endpoint} with HTTP {status} on all {attempts} attempts ({info})")]
    Server {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        info: ProblemInfo,
    },
    /// At least one attempt got no answer and none succeeded: the outcome is unknown.
    #[error("no answer from ePayment for {endpoint} after {attempts} attempts, outcome unknown ({reason})")]
    NoAnswer {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A 2xx answer we could not read: it did take effect.
    #[error("ePayment's answer to {endpoint} could not be read: {reason}")]
    InvalidAnswer { endpoint: &'static str, reason: String },
    /// The idempotency key is empty or longer than the API allows; nothing was sent.
    #[error("the idempotency key {key:?} is empty or longer than {max} characters")]
    BadIdempotencyKey { key: String, max: usize },
    /// No access token.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl EpError {
    /// The domain `ErrorCode`, if the answer carried one.
    pub fn code(&self) -> Option<&str> {
        match self {
            EpError::Refused { info, .. } | EpError::Locked { info, .. } | EpError::Server { info, .. } => {
                info.code()
            }
            _ => None,
        }
    }

    /// The request may or may not have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, EpError::NoAnswer { .. } | EpError::InvalidAnswer { .. })
    }
}

/// Why no access token could be had.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TokenError {
    #[error("ePayment refused the keys of sales unit {msn} (HTTP {status}); check the client id, client secret and subscription key")]
    Refused { msn: String, status: u16 },
    #[error("no access token for sales unit {msn}: {reason}")]
    Unavailable { msn: String, reason: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_are_read_leniently_and_shown_by_code() {
        let info = ProblemInfo::from_body(
            br#"{"type":"https://httpstatuses.io/400","title":"Bad Request","status":400,
                "detail":"Capture amount too high","traceId":"t-1",
                "extraDetails":[{"name":"ErrorCode","reason":"6090"}]}"#,
        );
        assert_eq!(info.code(), Some("6090"));
        assert_eq!(info.field(), None);
        assert_eq!(
            info.to_string(),
            "ErrorCode 6090: Bad Request (Capture amount too high) [traceId t-1]"
        );
        let schema = ProblemInfo::from_body(
            br#"{"type":"x","title":"Bad Request","status":400,
                "extraDetails":[{"name":"reference","reason":"must match"}]}"#,
        );
        assert_eq!((schema.code(), schema.field()), (None, Some("reference")));
        let gateway = ProblemInfo::from_body(br#"{"statusCode":401,"message":"Access denied"}"#);
        assert_eq!(gateway, ProblemInfo::default());
        assert_eq!(
            ProblemInfo::from_body(b"<html>").to_string(),
            "no problem details"
        );
    }
}
