//! Where MobilePay is and how patiently we talk to it.
//!
//! The authentication API and the PoS API have separate base URLs because the
//! self-certification run uses a different PoS base URL with the normal authentication API
//! (reference §16.3). Plain `http://` is accepted only for loopback hosts (the simulator on the
//! same box); anything that leaves the machine must be `https://`.

use crate::backends::http::{build_http, check_url, HttpConfigError, RetryPolicy, Timeouts};
use std::{path::PathBuf, time::Duration};

/// Most retries MobilePay allows for one request (reference §7.2): six requests in all.
pub const MAX_RETRIES: u32 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// e.g. `https://api.mobilepay.dk/integrator-authentication`
    pub auth_base: String,
    /// e.g. `https://api.mobilepay.dk/pos/v10`
    pub pos_base: String,
}

/// What is wrong with a PoS V10 client configuration.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    Http(#[from] HttpConfigError),
    #[error("{retries} retries asked for, but MobilePay allows at most {MAX_RETRIES}")]
    TooManyRetries { retries: u32 },
    #[error("the {what} timeout must be longer than zero")]
    ZeroTimeout { what: &'static str },
    #[error("{0:?} is not a valid merchant VAT number (expected DK or FI and 8 digits, e.g. DK12345678)")]
    BadVat(String),
}

impl Endpoints {
    pub fn production() -> Endpoints {
        Endpoints {
            auth_base: "https://api.mobilepay.dk/integrator-authentication".into(),
            pos_base: "https://api.mobilepay.dk/pos/v10".into(),
        }
    }

    pub fn sandbox() -> Endpoints {
        Endpoints {
            auth_base: "https://api.sandbox.mobilepay.dk/integrator-authentication".into(),
            pos_base: "https://api.sandbox.mobilepay.dk/pos/v10".into(),
        }
    }

    /// The sandbox self-certification run: certification PoS API, normal sandbox authentication.
    pub fn self_certification() -> Endpoints {
        Endpoints {
            auth_base: "https://api.sandbox.mobilepay.dk/integrator-authentication".into(),
            pos_base: "https://api.sandbox.mobilepay.dk/pos-self-certification-api/pos/v10".into(),
        }
    }

    /// Any other pair of base URLs; both are checked (https unless loopback).
    pub fn custom(auth_base: &str, pos_base: &str) -> Result<Endpoints, ConfigError> {
        let endpoints = Endpoints {
            auth_base: auth_base.trim_end_matches('/').to_string(),
            pos_base: pos_base.trim_end_matches('/').to_string(),
        };
        endpoints.validate()?;
        Ok(endpoints)
    }

    /// A server that, like `mposd sim`, serves both APIs under one origin with MobilePay's paths.
    pub fn single_host(origin: &str) -> Result<Endpoints, ConfigError> {
        let origin = origin.trim_end_matches('/');
        Endpoints::custom(
            &format!("{origin}/integrator-authentication"),
            &format!("{origin}/pos/v10"),
        )
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        check_url("authentication base URL", &self.auth_base)?;
        Ok(check_url("PoS API base URL", &self.pos_base)?)
    }

    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.auth_base)
    }
}

/// Client-side timeouts of MobilePay (reference §7.3): 2 s for `POST` and `DELETE`, 0.5 s
/// for `GET`.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    write: Duration::from_secs(2),
    read: Duration::from_millis(500),
};

/// Everything the HTTP side of the client needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoints: Endpoints,
    /// The integrator's client id: OAuth `client_id` and the `x-ibm-client-id` header.
    pub client_id: String,
    pub timeouts: Timeouts,
    /// Bounded retries (reference §7.2): at most [`MAX_RETRIES`].
    pub retry: RetryPolicy,
    /// A PEM file with extra certificates to trust (a corporate proxy, the simulator's CA).
    pub extra_ca_file: Option<PathBuf>,
    /// `x-mobilepay-client-system-version`: MobilePay certifies per Major.Minor.
    pub client_version: String,
}

impl ClientConfig {
    pub fn new(endpoints: Endpoints, client_id: impl Into<String>) -> ClientConfig {
        ClientConfig {
            endpoints,
            client_id: client_id.into(),
            timeouts: DEFAULT_TIMEOUTS,
            retry: RetryPolicy::default(),
            extra_ca_file: None,
            client_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.endpoints.validate()?;
        if self.retry.retries > MAX_RETRIES {
            return Err(ConfigError::TooManyRetries {
                retries: self.retry.retries,
            });
        }
        if self.timeouts.write.is_zero() {
            return Err(ConfigError::ZeroTimeout { what: "POST/DELETE" });
        }
        if self.timeouts.read.is_zero() {
            return Err(ConfigError::ZeroTimeout { what: "GET" });
        }
        Ok(())
    }

    /// The reqwest client: rustls only, HTTP/1.1 only, the built-in web PKI roots plus the
    /// extra CA file if one is configured.
    pub fn build_http(&self) -> Result<reqwest::Client, ConfigError> {
        self.validate()?;
        Ok(build_http(self.timeouts.write, self.extra_ca_file.as_deref())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_https() {
        for e in [
            Endpoints::production(),
            Endpoints::sandbox(),
            Endpoints::self_certification(),
        ] {
            e.validate().unwrap();
            assert!(e
                .token_url()
                .ends_with("/integrator-authentication/connect/token"));
        }
    }

    #[test]
    fn plain_http_only_on_loopback() {
        assert!(Endpoints::single_host("http://127.0.0.1:18080").is_ok());
        assert!(Endpoints::single_host("http://localhost:1/").is_ok());
        assert!(Endpoints::single_host("http://[::1]:8080").is_ok());
        assert!(Endpoints::single_host("https://mp.example.com").is_ok());
        let err = Endpoints::single_host("http://mp.example.com").unwrap_err();
        assert!(
            matches!(err, ConfigError::Http(HttpConfigError::InsecureUrl { .. })),
            "{err}"
        );
        assert!(err.to_string().contains("https://"));
        assert!(Endpoints::custom("https://a.example", "http://10.0.0.1/pos/v10").is_err());
        assert!(Endpoints::custom("ftp://a.example", "https://b.example").is_err());
        assert!(Endpoints::custom("https://user:pw@a.example", "https://b.example").is_err());
        assert!(Endpoints::custom("not a url", "https://b.example").is_err());
    }

    #[test]
    fn trailing_slashes_do_not_double() {
        let e = Endpoints::single_host("http://127.0.0.1:9/").unwrap();
        assert_eq!(e.pos_base, "http://127.0.0.1:9/pos/v10");
        assert_eq!(
            e.token_url(),
            "http://127.0.0.1:9/integrator-authentication/connect/token"
        );
    }

    #[test]
    fn retries_are_bounded() {
        let mut c = ClientConfig::new(Endpoints::sandbox(), "id");
        assert_eq!(c.retry.retries, 2);
        c.retry.retries = 5;
        c.validate().unwrap();
        c.retry.retries = 6;
        assert_eq!(c.validate(), Err(ConfigError::TooManyRetries { retries: 6 }));
    }

    #[test]
    fn default_timeouts_follow_mobilepay() {
        let t = ClientConfig::new(Endpoints::sandbox(), "id").timeouts;
        assert_eq!(t.write, Duration::from_secs(2));
        assert_eq!(t.read, Duration::from_millis(500));
    }

    #[test]
    fn bad_ca_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let mut c = ClientConfig::new(Endpoints::sandbox(), "id");
        c.extra_ca_file = Some(path.clone());
        let err = c.build_http().unwrap_err();
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }
}
