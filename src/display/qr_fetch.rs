//! Fetches the QR image a payment backend drew and reads its symbol: the display's only
//! network call.
//!
//! The image's address comes from the backend's answer, so it is held to what a payment
//! backend gives: `https://`, or plain `http://` to this machine (a simulator). The fetch is
//! short and small (a few seconds, at most [`MAX_BYTES`]) because a customer is waiting,
//! follows no redirects, and never names the address's query in an error: it carries the
//! token that lets anyone see the payment's code.

use super::qr::QrSymbol;
use super::qr_image::{self, QrImageError};
use crate::backends::http::build_http;
use reqwest::Url;
use std::net::IpAddr;
use std::time::Duration;

/// How long the whole fetch may take: the customer sees the amount without a code until then.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest image accepted; the backend's PNGs are a few kilobytes.
pub const MAX_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the QR image address {0} is not https:// (nor http:// to this machine)")]
    Address(String),
    #[error("the QR image could not be fetched: {0}")]
    Http(String),
    #[error("the QR image was answered with HTTP {0}")]
    Status(u16),
    #[error("the QR image did not arrive within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("the QR image is larger than {} KiB", MAX_BYTES / 1024)]
    TooLarge,
    #[error(transparent)]
    Image(#[from] QrImageError),
    #[error("the QR image could not be read")]
    Reader,
}

/// The address as it may be logged: scheme, host, port and path, without the query that
/// carries the payment's token.
pub fn loggable(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            // Credentials in the authority are as secret as the token.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        Err(_) => "(not a URL)".to_string(),
    }
}

/// `url` parsed, if the display may fetch it.
pub fn checked(url: &str) -> Result<Url, FetchError> {
    let refused = || FetchError::Address(loggable(url));
    let parsed = Url::parse(url).map_err(|_| refused())?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(refused()),
    }
}

/// Fetches QR images; one per display, its connections reused.
pub struct QrFetcher {
    http: Result<reqwest::Client, String>,
}

impl Default for QrFetcher {
    fn default() -> QrFetcher {
        QrFetcher {
            http: build_http(TIMEOUT, None).map_err(|e| e.to_string()),
        }
    }
}

impl QrFetcher {
    /// The symbol drawn in the PNG image at `url`.
    pub async fn symbol(&self, url: &str) -> Result<QrSymbol, FetchError> {
        let url = checked(url)?;
        let http = self.http.as_ref().map_err(|e| FetchError::Http(e.clone()))?;
        let bytes = tokio::time::timeout(TIMEOUT, download(http, url))
            .await
            .map_err(|_| FetchError::Timeout)??;
        // Decoding a large picture takes a small board a while: off the async workers, and a
        // reader that trips over a hostile picture fails this fetch only.
        match tokio::task::spawn_blocking(move || qr_image::read_symbol(&bytes)).await {
            Ok(symbol) => Ok(symbol?),
            Err(_) => Err(FetchError::Reader),
        }
    }
}

async fn download(http: &reqwest::Client, url: Url) -> Result<Vec<u8>, FetchError> {
    let failed = |e: reqwest::Error| {
        // The causes say why (refused, reset, TLS); the address stays out with its token.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        FetchError::Http(text)
    };
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "image/png")
        .send()
        .await
        .map_err(failed)?;
    if !response.status().is_success() {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    if response.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if bytes.len() + chunk.len() > MAX_BYTES {
            return Err(FetchError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_this_machine_is_fetched() {
        for ok in [
            "https://qr.example.com/qr-image/v1?token=abc",
            "http://127.0.0.1:8080/qr-image/v1?token=abc",
            "http://localhost/x.png",
            "http://[::1]:9000/x.png",
        ] {
            assert!(checked(ok).is_ok(), "{ok}");
        }
        for refused in [
            "http://qr.example.com/x.png?token=secret",
            "http://192.168.1.10/x.png",
            "file:///etc/passwd",
            "ftp://qr.example.com/x.png",
            "not a url",
        ] {
            let err = checked(refused).unwrap_err().to_string();
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn logged_addresses_keep_no_token() {
        assert_eq!(
            loggable("https://user:pw@qr.example.com/qr-image/v1?token=s3cret#x"),
            "https://qr.example.com/qr-image/v1"
        );
        assert_eq!(loggable("::"), "(not a URL)");
    }
}
