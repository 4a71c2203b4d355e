//! What the Subscriptions client of one merchant needs besides the consent: where the API is,
//! the API gateway's app pair, which subscription provider to sign customers up to, where
//! MobilePay sends the customer and its notifications, and how long to wait.

use crate::backends::http::{check_url, HttpConfigError, RetryPolicy, Timeouts};
use crate::secrets::Secret;
use std::path::PathBuf;
use std::time::Duration;

/// MobilePay's API host in production.
pub const PRODUCTION: &str = "https://api.mobilepay.dk";
/// MobilePay's API host in the sandbox.
pub const SANDBOX: &str = "https://api.sandbox.mobilepay.dk";
/// The Subscriptions API's path below the API host.
pub const BASE_PATH: &str = "subscriptions";

/// No published limits: long enough for a slow mobile uplink at a market stall, short enough
/// that a cashier is not kept waiting for a dead connection.
pub const DEFAULT_TIMEOUTS: Timeouts = Timeouts {
    write: Duration::from_secs(15),
    read: Duration::from_secs(10),
};

/// Agreements asked for per page when looking for one by its reference: few pages for a shop's
/// pending sign-ups, small answers for a slow uplink.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// The https addresses every agreement carries. The box has no public address, so none of
/// them can point at it: they are the merchant's web pages and the integrator's endpoint for
/// MobilePay's notifications (which the box does not need: it follows agreements by reading
/// them). MobilePay refuses an agreement without all three, and any that is not https.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgreementLinks {
    /// Where the customer's browser goes after answering in the app (`user-redirect`): a page
    /// of the merchant's web site, e.g. "Welcome to the bread club".
    pub user_redirect: String,
    /// Where MobilePay posts the acceptance (`success-callback`).
    pub success_callback: String,
    /// Where MobilePay posts a rejection, expiry or cancellation (`cancel-callback`).
    pub cancel_callback: String,
    /// Where MobilePay posts a refund's result (`status_callback_url`); `None`: the
    /// `success_callback` address.
    pub refund_callback: Option<String>,
}

impl AgreementLinks {
    /// The address a refund's result is posted to.
    pub fn refund_callback(&self) -> &str {
        self.refund_callback.as_deref().unwrap_or(&self.success_callback)
    }

    pub fn validate(&self) -> Result<(), HttpConfigError> {
        check_https("the agreements' user_redirect", &self.user_redirect)?;
        check_https("the agreements' success_callback", &self.success_callback)?;
        check_https("the agreements' cancel_callback", &self.cancel_callback)?;
        check_https("the refunds' refund_callback", self.refund_callback())
    }
}

/// One merchant's Subscriptions API settings.
#[derive(Clone, Debug)]
pub struct SubscriptionsConfig {
    /// The API host's base URL ([`PRODUCTION`], [`SANDBOX`], or e.g. `mposd sim`); the
    /// Subscriptions API is below it at [`BASE_PATH`].
    pub api: String,
    /// The subscription provider (MobilePay's word for a brand of the merchant) agreements are
    /// made under; `None`: the merchant's only enabled one, looked up once.
    pub provider: Option<String>,
    pub links: AgreementLinks,
    pub timeouts: Timeouts,
    /// Repeats of reads after no answer or a 5xx. Creates, captures, cancels and refunds are
    /// sent once: the engine decides what a lost answer means for them.
    pub retry: RetryPolicy,
    /// Agreements per page when looking for one by its reference.
    pub page_size: u32,
    /// Extra certificates to trust (PEM), e.g. a corporate proxy or the simulator's CA.
    pub extra_ca_file: Option<PathBuf>,
}

impl SubscriptionsConfig {
    pub fn new(api: &str, links: AgreementLinks) -> SubscriptionsConfig {
        SubscriptionsConfig {
            api: api.trim_end_matches('/').to_string(),
            provider: None,
            links,
            timeouts: DEFAULT_TIMEOUTS,
            retry: RetryPolicy::default(),
            page_size: DEFAULT_PAGE_SIZE,
            extra_ca_file: None,
        }
    }

    pub fn validate(&self) -> Result<(), HttpConfigError> {
        check_url("the Subscriptions API base URL", &self.api)?;
        self.links.validate()
    }
}

/// An absolute `https` URL: MobilePay refuses anything else in an agreement's links ("The
/// hyperlink reference must use https scheme"), loopback included.
fn check_https(what: &'static str, url: &str) -> Result<(), HttpConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|err| HttpConfigError::BadUrl {
        what,
        url: url.to_string(),
        reason: err.to_string(),
    })?;
    if parsed.scheme() != "https" || parsed.host_str().is_none() {
        return Err(HttpConfigError::BadUrl {
            what,
            url: url.to_string(),
            reason: "MobilePay takes only absolute https:// addresses here".into(),
        });
    }
    Ok(())
}

/// The API gateway's app pair (the developer portal's "My Apps"), sent as `x-ibm-client-id`
/// and `x-ibm-client-secret` on every call. Not the OpenID Connect client of the consent.
#[derive(Clone, Debug)]
pub struct GatewayApp {
    pub client_id: String,
    pub client_secret: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> AgreementLinks {
        AgreementLinks {
            user_redirect: "https://bageriet.example/welcome".into(),
            success_callback: "https://integrator.example/mobilepay/ok".into(),
            cancel_callback: "https://integrator.example/mobilepay/cancel".into(),
            refund_callback: None,
        }
    }

    #[test]
    fn links_must_be_https_and_refunds_default_to_the_success_callback() {
        let config = SubscriptionsConfig::new("https://api.sandbox.mobilepay.dk/", links());
        assert_eq!(config.api, "https://api.sandbox.mobilepay.dk");
        assert!(config.validate().is_ok());
        assert_eq!(
            config.links.refund_callback(),
            "https://integrator.example/mobilepay/ok"
        );

        let mut plain = links();
        plain.user_redirect = "http://bageriet.example/welcome".into();
        let err = SubscriptionsConfig::new(SANDBOX, plain).validate().unwrap_err();
        assert!(err.to_string().contains("user_redirect"), "{err}");

        let mut relative = links();
        relative.refund_callback = Some("/refunds".into());
        let err = SubscriptionsConfig::new(SANDBOX, relative)
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("refund_callback"), "{err}");

        // The API itself may be plain http on loopback only (the simulator beside the box).
        assert!(SubscriptionsConfig::new("http://127.0.0.1:18080", links())
            .validate()
            .is_ok());
        assert!(SubscriptionsConfig::new("http://api.example", links())
            .validate()
            .is_err());
    }
}
