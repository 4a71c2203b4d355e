//! `[epayment.webhooks]`: where a sales unit's webhook deliveries reach the box.

use super::super::problem::Problem;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// The address the box listens on for deliveries (plain HTTP; the public `https` end is a
    /// port forward through a TLS proxy, a tunnel or a relay).
    pub listen: SocketAddr,
    /// The public URL Vipps MobilePay posts to, registered at start. Deliveries are signed
    /// over its host and path, so whatever forwards them to `listen` may change neither
    /// the body nor the signing headers.
    pub url: String,
}

impl WebhookSettings {
    /// The `Host` value and the path the sender signs a delivery to [`WebhookSettings::url`]
    /// with. `None` for a URL without a host.
    pub fn signed_target(&self) -> Option<(String, String)> {
        let url = reqwest::Url::parse(&self.url).ok()?;
        let host = url.host_str()?;
        let host = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        Some((host, url.path().to_string()))
    }

    /// Every problem of `[epayment[index].webhooks]`.
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let key = |k: &str| format!("epayment[{index}].webhooks.{k}");
        let mut out = Vec::new();
        if let Err(e) = crate::backends::http::check_url("webhooks.url", &self.url) {
            out.push(Problem {
                line: None,
                key: key("url"),
                message: e.to_string(),
            });
        } else if self.signed_target().is_none() {
            out.push(Problem {
                line: None,
                key: key("url"),
                message: "must name a host".into(),
            });
        }
        if self.listen.port() == 0 {
            out.push(Problem {
                line: None,
                key: key("listen"),
                message: "needs a port: the public URL forwards to it".into(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(listen: &str, url: &str) -> WebhookSettings {
        WebhookSettings {
            listen: listen.parse().unwrap(),
            url: url.into(),
        }
    }

    #[test]
    fn the_signed_target_is_the_public_urls_host_and_path() {
        let s = settings("0.0.0.0:8080", "https://hooks.shop.example/mposd/bageriet");
        assert_eq!(
            s.signed_target(),
            Some(("hooks.shop.example".into(), "/mposd/bageriet".into()))
        );
        let s = settings("127.0.0.1:8080", "http://127.0.0.1:8080/hook");
        assert_eq!(s.signed_target(), Some(("127.0.0.1:8080".into(), "/hook".into())));
        assert!(s.problems(0).is_empty());
    }

    #[test]
    fn plain_http_off_the_box_a_query_and_port_zero_are_refused() {
        let keys = |s: WebhookSettings| -> Vec<String> { s.problems(1).into_iter().map(|p| p.key).collect() };
        assert_eq!(
            keys(settings("0.0.0.0:8080", "http://hooks.shop.example/x")),
            ["epayment[1].webhooks.url"]
        );
        assert_eq!(
            keys(settings("0.0.0.0:8080", "https://hooks.shop.example/x?a=1")),
            ["epayment[1].webhooks.url"]
        );
        assert_eq!(
            keys(settings("0.0.0.0:0", "https://hooks.shop.example/x")),
            ["epayment[1].webhooks.listen"]
        );
    }
}
