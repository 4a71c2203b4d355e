//! What an integrator's web service does once for a merchant (docs/consent.md), against the
//! simulator's provider: the merchant's portal user approves (scripted through the control
//! endpoint), the hybrid flow redirects to the web service's own address with a code, and the
//! web service exchanges the code for the refresh token it then hands to the box with
//! `mposd consent import`. The demo and the tests obtain the merchant's consent this way, so
//! that the box gets exactly what it would get in a shop.

use super::paths;
use crate::consent::authorize::Pkce;
use crate::sim::fixtures::OIDC_WEB_REDIRECT;
use anyhow::Context;

/// Who consents to what, through which OpenID Connect client of the web service.
pub struct WebServiceConsent<'a> {
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// The merchant's VAT number (`DK12345678`).
    pub vat: &'a str,
    /// The portal user who approves.
    pub user: &'a str,
    /// The products consented to (`invoice`, `subscriptions`).
    pub scopes: &'a [&'a str],
}

impl WebServiceConsent<'_> {
    /// Runs the flow against the simulator at `sim_url`; returns the refresh token.
    pub async fn obtain(&self, sim_url: &str) -> anyhow::Result<String> {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let login = serde_json::json!({"clientId": self.client_id, "user": self.user, "decision": "approve"});
        browser
            .post(format!("{sim_url}/_sim/oidc/login"))
            .json(&login)
            .send()
            .await?
            .error_for_status()?;
        let pkce = Pkce::new();
        let scope = format!("openid offline_access {}", self.scopes.join(" "));
        let nonce = uuid::Uuid::new_v4().to_string();
        let authorize = reqwest::Url::parse_with_params(
            &format!("{sim_url}{}", paths::AUTHORIZE),
            [
                ("client_id", self.client_id),
                ("redirect_uri", OIDC_WEB_REDIRECT),
                ("response_type", "code id_token"),
                ("response_mode", "fragment"),
                ("scope", &scope),
                ("state", "web-service"),
                ("nonce", &nonce),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
                ("merchant_vat", self.vat),
            ],
        )?;
        let answer = browser.get(authorize).send().await?;
        let location = answer
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("the portal did not redirect back")?;
        let fragment = location.split_once('#').map(|(_, f)| f).unwrap_or_default();
        let code = form_urlencoded::parse(fragment.as_bytes())
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .with_context(|| format!("the portal gave no code: {location}"))?;
        let tokens: serde_json::Value = browser
            .post(format!("{sim_url}{}", paths::TOKEN))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", OIDC_WEB_REDIRECT),
                ("code_verifier", &pkce.verifier),
                ("client_id", self.client_id),
                ("client_secret", self.client_secret),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens["refresh_token"]
            .as_str()
            .map(str::to_string)
            .context("the token answer has no refresh token")
    }
}
