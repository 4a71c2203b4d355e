//! What can go wrong when talking to MobilePay, in the terms the payment logic decides on.
//!
//! The split follows reference §7.1/§14.3: a 4xx is an answer ("no, because `code`") and is
//! never retried blindly; a 5xx or a missing answer is retried, and if retries run out the
//! caller must know whether the request may have taken effect ([`ApiError::NoAnswer`]) or
//! certainly did not ([`ApiError::ServerError`]: every attempt was answered with a 5xx).
//! Messages never contain tokens or secrets: bodies we did not expect are not quoted.

use crate::backends::pos_v10::{model::ErrorResponse, tokens::TokenError};
use std::fmt;

/// MobilePay error codes the daemon reacts to (reference §14).
pub mod codes {
    pub const POS_NOT_FOUND: &str = "1000";
    pub const PAYMENT_NOT_FOUND: &str = "1001";
    pub const STORE_NOT_FOUND: &str = "1002";
    pub const MERCHANT_POS_ID_EXISTS: &str = "1200";
    pub const BEACON_ID_EXISTS: &str = "1202";
    pub const STORE_NOT_ACTIVATED: &str = "1204";
    pub const PAYMENT_CANNOT_BE_CANCELLED: &str = "1300";
    pub const PAYMENT_ALREADY_ACTIVE: &str = "1301";
    pub const PAYMENT_NOT_PREPARED: &str = "1303";
    pub const PAYMENT_NOT_RESERVED: &str = "1304";
    pub const CAPTURE_EXCEEDS_RESERVED: &str = "1305";
    pub const IDEMPOTENCY_KEY_REUSED: &str = "1306";
    pub const CAPTURED_WITH_OTHER_AMOUNT: &str = "1307";
    pub const PARTIAL_CAPTURE_NOT_POSSIBLE: &str = "1308";
    pub const REFUND_NOT_RESERVED: &str = "1351";
    pub const REFUND_CANNOT_BE_CANCELLED: &str = "1352";
    pub const REFUND_AMOUNT_TOO_HIGH: &str = "1367";
}

/// The body of a MobilePay error answer, as far as it was readable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MobilePayError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub correlation_id: Option<String>,
}

impl MobilePayError {
    /// Reads an error body leniently: MobilePay documents bodies for most errors but not all.
    pub fn from_body(body: &[u8]) -> MobilePayError {
        match serde_json::from_slice::<ErrorResponse>(body) {
            Ok(e) => MobilePayError {
                code: e.code,
                message: e.message,
                correlation_id: e.correlation_id,
            },
            Err(_) => MobilePayError::default(),
        }
    }
}

impl fmt::Display for MobilePayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, "code {code}: {message}")?,
            (Some(code), None) => write!(f, "code {code}")?,
            (None, Some(message)) => write!(f, "{message}")?,
            (None, None) => write!(f, "no error details")?,
        }
        if let Some(id) = &self.correlation_id {
            write!(f, " (MobilePay correlation id {id})")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is wrong (a configuration or programming error); do not retry.
    #[error("MobilePay rejected {endpoint} as invalid (HTTP 400, {error})")]
    BadRequest {
        endpoint: &'static str,
        error: MobilePayError,
    },
    /// 403: the resource belongs to another integrator or merchant.
    #[error("MobilePay refused {endpoint} (HTTP 403, {error})")]
    Forbidden {
        endpoint: &'static str,
        error: MobilePayError,
    },
    /// 404: the PoS, payment, refund or store does not exist.
    #[error("MobilePay does not know the resource of {endpoint} (HTTP 404)")]
    NotFound {
        endpoint: &'static str,
        error: MobilePayError,
    },
    /// 409: the backend's state disagrees with the request; re-query and reconcile.
    #[error("MobilePay refused {endpoint} in the current state (HTTP 409, {error})")]
    Conflict {
        endpoint: &'static str,
        error: MobilePayError,
    },
    /// 401 even with a freshly fetched token.
    #[error("MobilePay did not accept our access token for {endpoint} (HTTP 401, also after renewing it)")]
    Unauthorized { endpoint: &'static str },
    /// Another 4xx MobilePay does not document.
    #[error("MobilePay answered {endpoint} with HTTP {status} ({error})")]
    UnexpectedStatus {
        endpoint: &'static str,
        status: u16,
        error: MobilePayError,
    },
    /// Every attempt got a 5xx: the request did not take effect.
    #[error("MobilePay failed {endpoint} with HTTP {status} on all {attempts} attempts ({error})")]
    ServerError {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        error: MobilePayError,
    },
    /// At least one attempt got no answer and none succeeded: the outcome is unknown. Look the
    /// resource up (or repeat with the same idempotency key) before deciding anything.
    #[error("no answer from MobilePay for {endpoint} after {attempts} attempts, outcome unknown ({reason})")]
    NoAnswer {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A 2xx answer we could not read.
    #[error("MobilePay's answer to {endpoint} could not be read: {reason}")]
    InvalidAnswer { endpoint: &'static str, reason: String },
    /// No usable access token.
    #[error(transparent)]
    Token(#[from] TokenError),
}

impl ApiError {
    /// The MobilePay error code (`"1301"`...), if the answer carried one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::BadRequest { error, .. }
            | ApiError::Forbidden { error, .. }
            | ApiError::NotFound { error, .. }
            | ApiError::Conflict { error, .. }
            | ApiError::UnexpectedStatus { error, .. }
            | ApiError::ServerError { error, .. } => error.code.as_deref(),
            _ => None,
        }
    }

    /// A 409 with this code.
    pub fn is_conflict(&self, code: &str) -> bool {
        matches!(self, ApiError::Conflict { error, .. } if error.code.as_deref() == Some(code))
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::NotFound { .. })
    }

    /// The request may or may not have taken effect.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, ApiError::NoAnswer { .. })
    }

    /// Whether trying the same call later (not immediately) may succeed: outages and token
    /// trouble pass, 4xx answers do not.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::ServerError { .. } | ApiError::NoAnswer { .. } | ApiError::Unauthorized { .. } => true,
            ApiError::Token(err) => err.is_transient(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_are_read_leniently() {
        let e = MobilePayError::from_body(
            br#"{"code":"1301","message":"A payment is already active","correlationId":"c-1","origin":"PoS"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("1301"));
        assert_eq!(
            e.to_string(),
            "code 1301: A payment is already active (MobilePay correlation id c-1)"
        );
        assert_eq!(
            MobilePayError::from_body(b"<html>oops</html>"),
            MobilePayError::default()
        );
        assert_eq!(MobilePayError::from_body(b""), MobilePayError::default());
    }

    #[test]
    fn conflicts_carry_their_code() {
        let err = ApiError::Conflict {
            endpoint: "initiatePayment",
            error: MobilePayError {
                code: Some(codes::PAYMENT_ALREADY_ACTIVE.into()),
                ..Default::default()
            },
        };
        assert!(err.is_conflict(codes::PAYMENT_ALREADY_ACTIVE));
        assert!(!err.is_conflict(codes::IDEMPOTENCY_KEY_REUSED));
        assert_eq!(err.code(), Some("1301"));
        assert!(!err.is_transient() && !err.outcome_unknown());
        assert!(err.to_string().contains("HTTP 409") && err.to_string().contains("1301"));
        let lost = ApiError::NoAnswer {
            endpoint: "createPos",
            attempts: 3,
            reason: "timed out".into(),
        };
        assert!(lost.outcome_unknown() && lost.is_transient());
    }
}
