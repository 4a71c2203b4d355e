//! What can go wrong when talking to the Invoice API, sorted by what the caller may conclude.
//!
//! A 4xx is an answer: nothing changed. A 5xx after every attempt and a missing answer leave
//! the outcome of a create or cancel unknown (MobilePay may have carried it out before it
//! failed). Messages never contain the access token or the gateway's secret: an error body is
//! shown only by its code, kind and description, a gateway refusal by its own short reason.

use super::model::ErrorBody;
use crate::backends::consent_api;
use crate::consent::driver::RefreshError;
use std::fmt;

/// The readable part of an error answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problem {
    /// The Invoice error body, when the answer had one.
    pub body: Option<ErrorBody>,
}

impl Problem {
    /// Reads an error body leniently: anything else is kept as "none".
    pub fn from_body(body: &[u8]) -> Problem {
        Problem {
            body: serde_json::from_slice::<ErrorBody>(body)
                .ok()
                .filter(|b| b.error.is_some() || b.error_description.is_some()),
        }
    }

    /// The numbered `error_code`, if there is one.
    pub fn code(&self) -> Option<String> {
        self.body.as_ref()?.code()
    }
}

impl consent_api::Problem for Problem {
    fn read(body: &[u8]) -> Self {
        Problem::from_body(body)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(body) = &self.body else {
            return f.write_str("no error details");
        };
        if let Some(code) = body.code() {
            write!(f, "{code} ")?;
        }
        f.write_str(body.error.as_deref().unwrap_or("error"))?;
        if let Some(description) = &body.error_description {
            write!(f, ": {description}")?;
        }
        if let Some(id) = &body.correlation_id {
            write!(f, " [correlation_id {id}]")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    /// A 4xx answer other than 401: nothing changed.
    #[error("MobilePay Invoice refused {endpoint} (HTTP {status}, {problem})")]
    Refused {
        endpoint: &'static str,
        status: u16,
        problem: Problem,
    },
    /// 401 also with a fresh access token, or a gateway that refuses the app pair itself.
    #[error("MobilePay Invoice did not accept {what} for {endpoint} (HTTP 401)")]
    Unauthorized { endpoint: &'static str, what: String },
    /// A 5xx on every attempt.
    #[error("MobilePay Invoice failed {endpoint} with HTTP {status} on all {attempts} attempts ({problem})")]
    Server {
        endpoint: &'static str,
        status: u16,
        attempts: u32,
        problem: Problem,
    },
    /// No answer: the call may or may not have taken effect.
    #[error("no answer from MobilePay Invoice for {endpoint} after {attempts} attempts, outcome unknown ({reason})")]
    NoAnswer {
        endpoint: &'static str,
        attempts: u32,
        reason: String,
    },
    /// A 2xx answer we could not read: it did take effect.
    #[error("MobilePay Invoice's answer to {endpoint} could not be read: {reason}")]
    InvalidAnswer { endpoint: &'static str, reason: String },
    /// No access token from the merchant's consent; nothing was sent.
    #[error("no access token from the merchant's consent: {0}")]
    Token(#[from] RefreshError),
    /// The merchant's invoice issuers do not say which one to use.
    #[error("{0}")]
    Issuer(String),
}

consent_api::from_failure!(InvoiceError, Problem);
