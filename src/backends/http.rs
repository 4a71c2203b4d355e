//! The HTTP rules every backend follows, whichever payment API it speaks.
//!
//! A till talks to one payment API over the internet from a shop's network, so every backend
//! needs the same guarantees: base URLs that cannot leak traffic or credentials, one TLS stack,
//! bounded waits and repeats, network failures in words a shop owner can act on, and the
//! server's `Retry-After` read as HTTP defines it. Each backend keeps only what its own API
//! adds (paths, headers, limits, error bodies).

use crate::backoff::Backoff;
use reqwest::{header::HeaderMap, StatusCode};
use std::{
    path::Path,
    time::{Duration, SystemTime},
};

/// What is wrong with the HTTP side of a backend's configuration.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum HttpConfigError {
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
    #[error("cannot use the CA file {path}: {reason}")]
    BadCaFile { path: String, reason: String },
    #[error("the HTTP client cannot be built: {0}")]
    Build(String),
}

/// Checks a configured base URL: a URL without credentials, query or fragment, `https://`
/// unless the host is loopback.
///
/// Credentials in a URL end up in logs and error messages; a query or fragment would be glued
/// onto every API path. Plain `http://` is only safe where the traffic never leaves the box
/// (the simulator beside the daemon): anything else carries keys and tokens.
pub(crate) fn check_url(what: &'static str, url: &str) -> Result<(), HttpConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| HttpConfigError::BadUrl {
        what,
        url: url.to_string(),
        reason: err.to_string(),
    })?;
    let bad = |reason: &str| HttpConfigError::BadUrl {
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
        "http" => Err(HttpConfigError::InsecureUrl {
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

/// Client-side timeouts. Each backend chooses its own values (what its API's reference asks
/// for, or what keeps a cashier from waiting long).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Calls that change something (`POST`, `DELETE`) and the token call.
    pub write: Duration,
    /// Reads (`GET`).
    pub read: Duration,
}

/// Bounded retries with exponential back-off and jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first request: 2 by default. A backend may bound it further.
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

/// A reqwest client as every backend uses it: rustls only, HTTP/1.1 only, no redirects, the
/// built-in web PKI roots plus `extra_ca_file` if one is configured.
///
/// One TLS stack keeps the daemon's behaviour the same on every board (no system OpenSSL);
/// redirects are refused because a redirected call would carry our keys to a host we did not
/// configure; an extra CA file serves a corporate proxy or the simulator's own CA.
pub(crate) fn build_http(
    connect_timeout: Duration,
    extra_ca_file: Option<&Path>,
) -> Result<reqwest::Client, HttpConfigError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .http1_only()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mposd/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = extra_ca_file {
        let bad = |reason: String| HttpConfigError::BadCaFile {
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
    builder
        .build()
        .map_err(|err| HttpConfigError::Build(err.to_string()))
}

/// Sends `request` and reads the whole answer: its status, headers and body, or what went wrong
/// on the way in words ([`describe_network_error`]). Any status is an answer: what a status
/// means is the backend's rule, not the transport's.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), String> {
    let response = request.send().await.map_err(|err| describe_network_error(&err))?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|err| describe_network_error(&err))?;
    Ok((status, headers, body.to_vec()))
}

/// A reqwest error in words, without the chain's noise. Never contains secrets: the URL is
/// the only request detail reqwest includes, and ours carry none.
pub(crate) fn describe_network_error(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "cannot connect".into()
    } else if err.is_body() || err.is_decode() {
        "the answer broke off".into()
    } else {
        "connection failed".into()
    }
}

/// How long the `Retry-After` header of an answer asks us to wait, seen at `now`.
///
/// RFC 9110 §10.2.3 allows whole seconds (`120`) or an HTTP date (`Wed, 21 Oct 2026 07:28:00
/// GMT`, or one of the two obsolete date forms every recipient must accept). A date already
/// past means "now" (zero). Anything else is `None`: the caller falls back to its own wait
/// rather than trusting a value it cannot read; so is an answer without the header. The caller
/// caps the result, so that a misbehaving gateway cannot freeze a till.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "very long": the caller's cap applies.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:18080",
            "http://localhost:1/",
            "http://[::1]:8080",
            "https://mp.example.com",
        ] {
            check_url("base", ok).unwrap();
        }
        let err = check_url("base", "http://mp.example.com").unwrap_err();
        assert!(matches!(err, HttpConfigError::InsecureUrl { .. }), "{err}");
        assert!(err.to_string().contains("https://"));
        assert!(check_url("base", "http://10.0.0.1/pos/v10").is_err());
        assert!(check_url("base", "ftp://a.example").is_err());
        assert!(check_url("base", "https://user:pw@a.example").is_err());
        assert!(check_url("base", "https://a.example/?x=1").is_err());
        assert!(check_url("base", "not a url").is_err());
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
    fn bad_ca_file_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = build_http(Duration::from_secs(1), Some(&path)).unwrap_err();
        assert!(matches!(err, HttpConfigError::BadCaFile { .. }), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()), "{err}");
    }

    /// 2026-10-21 07:28:00 UTC.
    fn then() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_792_567_680)
    }

    /// What an answer with `Retry-After: value` asks for at `now`.
    fn wait(value: &str, now: SystemTime) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::RETRY_AFTER, value.parse().unwrap());
        retry_after(&headers, now)
    }

    #[test]
    fn retry_after_reads_seconds() {
        assert_eq!(retry_after(&HeaderMap::new(), then()), None);
        assert_eq!(wait("7", then()), Some(Duration::from_secs(7)));
        assert_eq!(wait(" 0 ", then()), Some(Duration::ZERO));
        assert_eq!(
            wait("99999999999999999999999", then()),
            Some(Duration::from_secs(u64::MAX))
        );
        for unreadable in ["", "-1", "1.5", "soon", "7 s"] {
            assert_eq!(wait(unreadable, then()), None, "{unreadable:?}");
        }
    }

    #[test]
    fn retry_after_reads_every_http_date_form() {
        let now = then() - Duration::from_secs(90);
        for date in [
            "Wed, 21 Oct 2026 07:28:00 GMT",
            "Wednesday, 21-Oct-26 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2026",
        ] {
            assert_eq!(wait(date, now), Some(Duration::from_secs(90)), "{date}");
        }
    }

    #[test]
    fn a_date_already_past_means_now() {
        let later = then() + Duration::from_secs(3600);
        assert_eq!(wait("Wed, 21 Oct 2026 07:28:00 GMT", later), Some(Duration::ZERO));
        assert_eq!(
            wait("Wed, 21 Oct 2026 07:28:00 GMT", then()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn a_malformed_date_is_unreadable() {
        for bad in [
            "Wed, 21 Oct 2026 07:28:00 CET",
            "Wed, 32 Oct 2026 07:28:00 GMT",
            "2026-10-21T07:28:00Z",
        ] {
            assert_eq!(wait(bad, then()), None, "{bad}");
        }
    }
}
