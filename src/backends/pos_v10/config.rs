//! Where MobilePay is and how patiently we talk to it.
//!
//! The authentication API and the PoS API have separate base URLs because the
//! self-certification run uses a different PoS base URL with the normal authentication API
//! (reference §16.3). Plain `http://` is accepted only for loopback hosts (the simulator on the
//! same box); anything that leaves the machine must be `https://`.

use crate::backoff::Backoff;
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

#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{what} {url:?} is not a URL: {reason}")]
    BadUrl {
        what: &'static str,
        url: String,
        reason: String,
    },
    #[error(
        "{what} {url:?} must use https:// (plain http:// is only allowed for loopback hosts \
         such as 127.0.0.1 or localhost)"
    )]
    InsecureUrl { what: &'static str, url: String },
    #[error("{retries} retries asked for, but MobilePay allows at most {MAX_RETRIES}")]
    TooManyRetries { retries: u32 },
    #[error("the {what} timeout must be longer than zero")]
    ZeroTimeout { what: &'static str },
    #[error("cannot use the CA file {path}: {reason}")]
    BadCaFile { path: String, reason: String },
    #[error("{0:?} is not a valid merchant VAT number (expected DK or FI and 8 digits, e.g. DK12345678)")]
    BadVat(String),
    #[error("the HTTP client cannot be built: {0}")]
    Http(String),
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
        check_url("PoS API base URL", &self.pos_base)
    }

    pub fn token_url(&self) -> String {
        format!("{}/connect/token", self.auth_base)
    }
}

/// Checks a configured base URL: a URL without credentials, query or fragment, `https://`
/// unless the host is loopback. Shared by every backend's configuration.
pub(crate) fn check_url(what: &'static str, url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| ConfigError::BadUrl {
        what,
        url: url.to_string(),
        reason: err.to_string(),
    })?;
    let bad = |reason: &str| ConfigError::BadUrl {
        what,
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("a base URL has no query or fragment"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        "http" => Err(ConfigError::InsecureUrl {
            what,
            url: url.to_string(),
        }),
        other => Err(bad(&format!("unsupported scheme {other:?}"))),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Client-side timeouts (reference §7.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `POST` and `DELETE`: 2 s.
    pub write: Duration,
    /// `GET`: 0.5 s.
    pub read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            write: Duration::from_secs(2),
            read: Duration::from_millis(500),
        }
    }
}

/// Bounded retries with exponential back-off and jitter (reference §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first request: 2 by default, at most [`MAX_RETRIES`].
    pub retries: u32,
    /// Delay before the first retry; doubled for each further one, then jittered.
    pub base_delay: Duration,
    /// No single back-off is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            retries: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The back-off between retries: `base_delay` doubled per retry up to `max_delay`, then
    /// jittered so that many terminals recovering from the same outage do not retry in
    /// lockstep.
    pub fn backoff(&self) -> Backoff {
        Backoff::jittered(self.base_delay, self.max_delay)
    }
}

/// Everything the HTTP side of the client needs.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub endpoints: Endpoints,
    /// The integrator's client id: OAuth `client_id` and the `x-ibm-client-id` header.
    pub client_id: String,
    pub timeouts: Timeouts,
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
            timeouts: Timeouts::default(),
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
        build_http(self.timeouts.write, self.extra_ca_file.as_deref())
    }
}

/// A reqwest client as every backend uses it: rustls only, HTTP/1.1 only, no redirects, the
/// built-in web PKI roots plus `extra_ca_file` if one is configured.
pub(crate) fn build_http(
    connect_timeout: Duration,
    extra_ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, ConfigError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .http1_only()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mposd/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca_file {
        let bad = |reason: String| ConfigError::BadCaFile {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|err| bad(err.to_string()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| bad(err.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(|err| ConfigError::Http(err.to_string()))
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
        assert!(matches!(err, ConfigError::InsecureUrl { .. }), "{err}");
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
    fn backoff_is_jittered_between_base_and_max_delay() {
        let p = RetryPolicy {
            retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        assert_eq!(
            p.backoff(),
            Backoff::jittered(Duration::from_millis(100), Duration::from_millis(1000))
        );
    }

    #[test]
    fn default_timeouts_follow_mobilepay() {
        let t = Timeouts::default();
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
