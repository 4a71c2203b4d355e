//! The merchant's OpenID Connect consent for MobilePay Invoice and Subscriptions, on a box
//! without a browser and without a public address.
//!
//! Both APIs authorise with the merchant's consent: five-minute access tokens, renewed with a
//! long-lived, sliding refresh token that a merchant grants once in a browser. The box keeps
//! that refresh token in its state directory and keeps it alive.
//!
//! | module | job |
//! |---|---|
//! | [`store`] | the consent file per merchant: checksummed, atomic, private, locked |
//! | [`refresh`] | the decisions of a refresh, without I/O (in-flight marker, lost answers) |
//! | [`provider`] | discovery and the token endpoint over HTTP |
//! | [`driver`] | a refresh carried out in the core's order; access tokens in memory |
//! | [`keeper`] | the daemon's task that refreshes each consent at start and daily |
//! | [`authorize`] | the loopback authorization flow (PKCE, `state`, `nonce`, `form_post`) |
//! | [`cli`] | `mposd consent`: authorize, import, show |

pub mod authorize;
pub mod cli;
pub mod driver;
pub mod keeper;
pub mod provider;
pub mod refresh;
pub mod store;

use crate::secrets::Secret;
use std::time::{SystemTime, UNIX_EPOCH};

/// The OIDC client of one merchant's consent, with its secret read.
#[derive(Clone, Debug)]
pub struct ClientSettings {
    /// The merchant's VAT number (`DK12345678`).
    pub vat: String,
    /// The discovery base URL.
    pub authority: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub rotation: refresh::Rotation,
    /// The products (`invoice`, `subscriptions`).
    pub scopes: Vec<String>,
}

impl ClientSettings {
    /// The scopes to ask for: `openid` and `offline_access` (for a refresh token) and the
    /// products.
    pub fn requested_scope(&self) -> String {
        let mut scopes = vec!["openid".to_string(), "offline_access".to_string()];
        scopes.extend(self.scopes.iter().cloned());
        scopes.join(" ")
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A Unix time as `2026-12-05 23:30:00 UTC`.
pub(crate) fn show_time(unix: u64) -> String {
    chrono::DateTime::from_timestamp(unix as i64, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| unix.to_string())
}
