//! Where the ePayment API is, which sales unit we act for, and how patiently we talk to it.
//!
//! The three keys of a sales unit (client id, client secret, subscription key) are kept where
//! the daemon's other secrets are ([`SecretSource`]: a private file or a systemd credential)
//! and only read when the client starts. Plain `http://` is accepted only for loopback hosts
//! (the simulator on the same box), as for every backend.

use crate::backends::epayment::model::headers::{MAX_SYSTEM_HEADER, SYSTEM};
use crate::backends::http::{check_url, HttpConfigError, RetryPolicy, Timeouts};
use crate::secrets::{load_secret, Secret, SecretError, SecretSource};
use std::{path::PathBuf, time::Duration};

/// Production host of every Vipps MobilePay API.
pub const PRODUCTION: &str = "https://api.vipps.no";
/// The test environment (own credentials, force-approve available).
pub const TEST: &str = "https://apitest.vipps.no";

/// The `Vipps-System-*` headers: which system and plugin make the calls. Vipps MobilePay asks
/// platforms to send all four; each is at most 30 characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemHeaders {
    pub name: String,
    pub version: String,
    pub plugin_name: String,
    pub plugin_version: String,
}

impl Default for SystemHeaders {
    fn default() -> Self {
        SystemHeaders {
            name: "mposd".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            plugin_name: "mposd-epayment".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

impl SystemHeaders {
    /// The four headers, names and values, in the order of [`SYSTEM`].
    pub fn pairs(&self) -> [(&'static str, &str); 4] {
        [
            (SYSTEM[0], &self.name),
            (SYSTEM[1], &self.version),
            (SYSTEM[2], &self.plugin_name),
            (SYSTEM[3], &self.plugin_version),
        ]
    }
}

/// The reference names no timeouts; these leave room for a slow mobile link while a cashier
/// still gets an answer quickly.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    write: Duration::from_secs(5),
    read: Duration::from_secs(3),
};

/// How long to wait for what the API asks us to wait for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Waits {
    /// A `Retry-After` above this is cut to it, so a misbehaving gateway cannot freeze a till.
    pub max_retry_after: Duration,
    /// After a 429 without a `Retry-After` that can be read.
    pub rate_limited: Duration,
    /// Answers of 429 in a row before the call gives up.
    pub rate_limited_attempts: u32,
    /// Pause before repeating a cancel refused with 423 (the customer is approving).
    pub locked: Duration,
    /// Answers of 423 in a row before the cancel gives up.
    pub locked_attempts: u32,
    /// Shortest time between two reads of one payment: 120 per minute at most, with a margin.
    pub read_interval: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            max_retry_after: Duration::from_secs(60),
            rate_limited: Duration::from_secs(12),
            rate_limited_attempts: 3,
            locked: Duration::from_secs(2),
            locked_attempts: 5,
            read_interval: Duration::from_millis(505),
        }
    }
}

/// Everything the ePayment client needs for one sales unit.
#[derive(Clone, Debug)]
pub struct EpaymentConfig {
    /// e.g. [`PRODUCTION`]; the API paths (`/epayment/v1/…`, `/accesstoken/get`) go below it.
    pub base_url: String,
    /// The sales unit (Merchant Serial Number), 4 to 6 digits.
    pub msn: String,
    pub client_id: SecretSource,
    pub client_secret: SecretSource,
    pub subscription_key: SecretSource,
    pub system: SystemHeaders,
    /// `write`: create, capture, cancel, refund and the token; `read`: payment and event log.
    pub timeouts: Timeouts,
    /// Retries of an unanswered call or a 5xx, each with the same idempotency key and body.
    pub retry: RetryPolicy,
    pub waits: Waits,
    /// A PEM file with extra certificates to trust (a corporate proxy, the simulator's CA).
    pub extra_ca_file: Option<PathBuf>,
}

/// The sales unit's keys, read from their [`SecretSource`]s.
#[derive(Clone, Debug)]
pub struct Keys {
    pub client_id: Secret,
    pub client_secret: Secret,
    pub subscription_key: Secret,
}

impl Keys {
    pub fn load(config: &EpaymentConfig) -> Result<Keys, SecretError> {
        Ok(Keys {
            client_id: load_secret(&config.client_id)?,
            client_secret: load_secret(&config.client_secret)?,
            subscription_key: load_secret(&config.subscription_key)?,
        })
    }
}

/// What is wrong with an [`EpaymentConfig`].
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EpaymentConfigError {
    #[error(transparent)]
    Url(#[from] HttpConfigError),
    #[error("{0:?} is not a Merchant Serial Number (4 to 6 digits)")]
    BadMsn(String),
    #[error("the {header} header {value:?} is empty or longer than {MAX_SYSTEM_HEADER} characters")]
    BadSystemHeader { header: &'static str, value: String },
    #[error("the {what} timeout must be longer than zero")]
    ZeroTimeout { what: &'static str },
}

impl EpaymentConfig {
    /// A configuration with the default system headers, timeouts, retries and waits.
    pub fn new(
        base_url: &str,
        msn: &str,
        client_id: SecretSource,
        client_secret: SecretSource,
        subscription_key: SecretSource,
    ) -> EpaymentConfig {
        EpaymentConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            msn: msn.to_string(),
            client_id,
            client_secret,
            subscription_key,
            system: SystemHeaders::default(),
            timeouts: DEFAULT_TIMEOUTS,
            retry: RetryPolicy::default(),
            waits: Waits::default(),
            extra_ca_file: None,
        }
    }

    pub fn validate(&self) -> Result<(), EpaymentConfigError> {
        check_url("ePayment base URL", &self.base_url)?;
        if !(4..=6).contains(&self.msn.len()) || !self.msn.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EpaymentConfigError::BadMsn(self.msn.clone()));
        }
        for (header, value) in self.system.pairs() {
            if value.is_empty() || value.chars().count() > MAX_SYSTEM_HEADER || !value.is_ascii() {
                return Err(EpaymentConfigError::BadSystemHeader {
                    header,
                    value: value.to_string(),
                });
            }
        }
        if self.timeouts.write.is_zero() {
            return Err(EpaymentConfigError::ZeroTimeout { what: "write" });
        }
        if self.timeouts.read.is_zero() {
            return Err(EpaymentConfigError::ZeroTimeout { what: "read" });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str, msn: &str) -> EpaymentConfig {
        let source = || SecretSource::Credential("x".into());
        EpaymentConfig::new(base, msn, source(), source(), source())
    }

    #[test]
    fn only_loopback_may_be_plain_http() {
        assert!(config(PRODUCTION, "123456").validate().is_ok());
        assert!(config("http://127.0.0.1:8080/", "123456").validate().is_ok());
        assert!(matches!(
            config("http://api.vipps.no", "123456").validate(),
            Err(EpaymentConfigError::Url(HttpConfigError::InsecureUrl { .. }))
        ));
    }

    #[test]
    fn msn_and_system_headers_are_checked() {
        assert!(config(TEST, "1234").validate().is_ok());
        for bad in ["123", "1234567", "12a456", ""] {
            assert_eq!(
                config(TEST, bad).validate(),
                Err(EpaymentConfigError::BadMsn(bad.into()))
            );
        }
        let mut long = config(TEST, "123456");
        long.system.plugin_name = "p".repeat(31);
        assert!(matches!(
            long.validate(),
            Err(EpaymentConfigError::BadSystemHeader {
                header: "Vipps-System-Plugin-Name",
                ..
            })
        ));
    }
}
