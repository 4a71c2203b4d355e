//! The `[[consent]]` sections of the configuration file: one per merchant whose consent the
//! box holds for MobilePay Invoice and Subscriptions (OpenID Connect, see `docs/consent.md`).
//!
//! A section only describes the OIDC client and the merchant; the consent itself (the refresh
//! token) is put on the box with `mposd consent` and kept in the state directory.

use super::config::LaneSignupSettings;
use super::problem::Problem;
use crate::backends::consent_api::{self, GatewayApp};
use crate::backends::invoice_v1::InvoiceConfig;
use crate::backends::subscriptions_v1::SubscriptionsConfig;
use crate::consent::refresh::Rotation;
use crate::consent::ClientSettings;
use crate::secrets::{self, SecretSource};
use serde::Deserialize;

/// The product scopes MobilePay's provider knows.
const PRODUCTS: [&str; 5] = [
    "invoice",
    "subscriptions",
    "transactionreporting",
    "merchantpayments",
    "webhooks",
];

/// A product of the merchant's consent that a lane offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Product {
    Invoice,
    Subscriptions,
}

impl Product {
    /// The consent's scope for it.
    pub fn scope(self) -> &'static str {
        match self {
            Product::Invoice => "invoice",
            Product::Subscriptions => "subscriptions",
        }
    }

    /// What a lane takes with it, in words.
    pub fn uses(self) -> &'static str {
        match self {
            Product::Invoice => "invoices",
            Product::Subscriptions => "sign-ups",
        }
    }
}

/// Which MobilePay provider issues the consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConsentEnvironment {
    Production,
    Sandbox,
    /// Another provider (`authority`) and API host (`api`), e.g. `mposd sim` on the same box.
    Custom,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSettings {
    /// The merchant's VAT number: `DK` or `FI` and 8 digits.
    pub vat: String,
    pub environment: ConsentEnvironment,
    /// With `environment = "custom"`: the base URL of the discovery document
    /// (`<authority>/.well-known/openid-configuration`).
    #[serde(default)]
    pub authority: Option<String>,
    /// The OpenID Connect client id MobilePay issued (not a secret: it is in the authorize URL).
    pub client_id: String,
    pub client_secret: SecretSource,
    /// The refresh-token rotation MobilePay configured for the client.
    pub rotation: Rotation,
    /// The products the consent is for, e.g. `["invoice", "subscriptions"]`.
    pub scopes: Vec<String>,
    /// The registered redirect URI the loopback flow (`mposd consent authorize`) listens on,
    /// e.g. `http://127.0.0.1:7890/`.
    #[serde(default)]
    pub redirect_uri: Option<String>,
    /// With `environment = "custom"`: the base URL of the products' APIs (the Invoice API is
    /// below it at `invoice-restapi`).
    #[serde(default)]
    pub api: Option<String>,
    /// The API gateway app's `x-ibm-client-id` (the developer portal's "My Apps"); needed
    /// when a lane takes invoices for the merchant.
    #[serde(default)]
    pub gateway_client_id: Option<String>,
    /// The API gateway app's `x-ibm-client-secret`.
    #[serde(default)]
    pub gateway_client_secret: Option<SecretSource>,
}

impl ConsentSettings {
    /// The discovery base URL: MobilePay's portal host of the merchant's country, or the
    /// configured one.
    pub fn authority(&self) -> Result<String, String> {
        let country = if self.vat.starts_with("FI") { "fi" } else { "dk" };
        self.by_environment(
            "authority",
            &self.authority,
            format!("https://admin.mobilepay.{country}/account"),
            format!("https://sandprod-admin.mobilepay.{country}/account"),
        )
    }

    /// The base URL of the products' APIs: MobilePay's API host, or the configured one.
    pub fn api(&self) -> Result<String, String> {
        self.by_environment(
            "api",
            &self.api,
            consent_api::PRODUCTION.into(),
            consent_api::SANDBOX.into(),
        )
    }

    /// The URL `environment` selects: MobilePay's `production` or `sandbox` one, or the
    /// setting `name` (`configured`) with `custom`, which only `custom` takes.
    fn by_environment(
        &self,
        name: &str,
        configured: &Option<String>,
        production: String,
        sandbox: String,
    ) -> Result<String, String> {
        match (self.environment, configured) {
            (ConsentEnvironment::Production, None) => Ok(production),
            (ConsentEnvironment::Sandbox, None) => Ok(sandbox),
            (ConsentEnvironment::Custom, Some(url)) => Ok(url.trim_end_matches('/').to_string()),
            (ConsentEnvironment::Custom, None) => Err(format!("\"custom\" needs {name}")),
            (_, Some(_)) => Err(format!("{name} is only used with environment = \"custom\"")),
        }
    }

    /// The Invoice client's settings and the gateway's app pair, with its secret read.
    pub fn invoice_client(&self) -> anyhow::Result<(InvoiceConfig, GatewayApp)> {
        let (client_id, client_secret) = self.gateway_pair(Product::Invoice)?;
        let config = InvoiceConfig::new(&self.api().map_err(anyhow::Error::msg)?, &self.vat);
        Ok((
            config,
            GatewayApp {
                client_id,
                client_secret,
            },
        ))
    }

    /// The Subscriptions client's settings for a lane's sign-ups and the gateway's app pair,
    /// with its secret read.
    pub fn subscriptions_client(
        &self,
        signup: &LaneSignupSettings,
    ) -> anyhow::Result<(SubscriptionsConfig, GatewayApp)> {
        let (client_id, client_secret) = self.gateway_pair(Product::Subscriptions)?;
        let mut config = SubscriptionsConfig::new(&self.api().map_err(anyhow::Error::msg)?, signup.links());
        config.provider = signup.provider.clone();
        let app = GatewayApp {
            client_id,
            client_secret,
        };
        Ok((config, app))
    }

    /// The gateway's app pair, with its secret read.
    fn gateway_pair(&self, product: Product) -> anyhow::Result<(String, crate::secrets::Secret)> {
        let (Some(client_id), Some(secret)) = (&self.gateway_client_id, &self.gateway_client_secret) else {
            anyhow::bail!(
                "{} need gateway_client_id and gateway_client_secret",
                product.uses()
            );
        };
        Ok((client_id.clone(), secrets::load_secret(secret)?))
    }

    /// What the section `consent[index]` lacks for a lane (`lane`) that offers `product`.
    pub fn product_problems(&self, index: usize, lane: &str, product: Product) -> Vec<Problem> {
        let (scope, uses) = (product.scope(), product.uses());
        let key = |k: &str| format!("consent[{index}]{k}");
        let mut out = Vec::new();
        let mut add = |key: String, message: String| {
            out.push(Problem {
                line: None,
                key,
                message,
            })
        };
        if !self.scopes.iter().any(|s| s == scope) {
            add(
                key(".scopes"),
                format!(
                    "lane {lane:?} takes {uses} for {}: the consent needs the scope \"{scope}\"",
                    self.vat
                ),
            );
        }
        if self.gateway_client_id.is_none() || self.gateway_client_secret.is_none() {
            add(
                key(""),
                format!(
                    "lane {lane:?} takes {uses} for {}: set gateway_client_id and gateway_client_secret (the API gateway's app pair)",
                    self.vat
                ),
            );
        }
        if self.api.is_none() {
            if let Err(e) = self.api() {
                add(key(".environment"), format!("{e} (lane {lane:?} takes {uses})"));
            }
        }
        out
    }

    /// The client settings, with the secret read.
    pub fn client(&self) -> anyhow::Result<ClientSettings> {
        Ok(ClientSettings {
            vat: self.vat.clone(),
            authority: self.authority().map_err(anyhow::Error::msg)?,
            client_id: self.client_id.clone(),
            client_secret: secrets::load_secret(&self.client_secret)?,
            rotation: self.rotation,
            scopes: self.scopes.clone(),
        })
    }

    /// Every problem of the section `consent[index]`.
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let key = |k: &str| format!("consent[{index}].{k}");
        let mut out = Vec::new();
        let mut add = |key: String, message: String| {
            out.push(Problem {
                line: None,
                key,
                message,
            })
        };
        if !is_vat(&self.vat) {
            add(
                key("vat"),
                "must be DK or FI followed by 8 digits, e.g. DK12345678".into(),
            );
        }
        match self.authority() {
            Err(e) => add(key("environment"), e),
            Ok(url) => {
                if let Err(e) = crate::backends::http::check_url("authority", &url) {
                    add(key("authority"), e.to_string());
                }
            }
        }
        if self.client_id.trim().is_empty() {
            add(key("client_id"), "is empty".into());
        }
        if let Some(e) = unreadable(&self.client_secret) {
            add(key("client_secret"), e);
        }
        if self.scopes.is_empty() {
            add(
                key("scopes"),
                format!("name at least one product: {}", PRODUCTS.join(", ")),
            );
        }
        for scope in &self.scopes {
            if !PRODUCTS.contains(&scope.as_str()) {
                add(
                    key("scopes"),
                    format!("{scope:?} is not a product; use {}", PRODUCTS.join(", ")),
                );
            }
        }
        if self.api.is_some() {
            match self.api() {
                Err(e) => add(key("api"), e),
                Ok(url) => {
                    if let Err(e) = crate::backends::http::check_url("api", &url) {
                        add(key("api"), e.to_string());
                    }
                }
            }
        }
        if self
            .gateway_client_id
            .as_ref()
            .is_some_and(|id| id.trim().is_empty())
        {
            add(key("gateway_client_id"), "is empty".into());
        }
        if let Some(e) = self.gateway_client_secret.as_ref().and_then(unreadable) {
            add(key("gateway_client_secret"), e);
        }
        if let Some(uri) = &self.redirect_uri {
            if let Err(e) = crate::consent::authorize::loopback_address(uri) {
                add(key("redirect_uri"), e);
            }
        }
        out
    }
}

/// Why the secret `source` cannot be used (a file others may read, a file missing). A systemd
/// credential is only checked where systemd passes credentials: `check-config` run by hand
/// cannot see them.
fn unreadable(source: &SecretSource) -> Option<String> {
    let checkable =
        !matches!(source, SecretSource::Credential(_)) || std::env::var_os("CREDENTIALS_DIRECTORY").is_some();
    if !checkable {
        return None;
    }
    secrets::load_secret(source).err().map(|e| e.to_string())
}

/// `DK` or `FI` and 8 digits.
pub fn is_vat(vat: &str) -> bool {
    vat.len() == 10
        && (vat.starts_with("DK") || vat.starts_with("FI"))
        && vat[2..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use crate::daemon::config::Config;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    const LANE: &str = "[[lane]]\nname = \"till-1\"\nmsn = \"123456\"\n[lane.ecr]\ntcp = { listen = \"127.0.0.1:7410\" }\n[[epayment]]\nmsn = \"123456\"\nenvironment = \"test\"\nclient_id = { credential = \"a\" }\nclient_secret = { credential = \"b\" }\nsubscription_key = { credential = \"c\" }\n";

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(p) => p.list.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_consent_section_without_lanes_using_it_is_valid_and_mistakes_are_named_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let section = |vat: &str, extra: &str| {
            format!(
                "[[consent]]\nvat = \"{vat}\"\nenvironment = \"sandbox\"\nclient_id = \"c\"\n\
                 client_secret = {{ file = \"{}\" }}\nrotation = \"reuse\"\n\
                 scopes = [\"invoice\", \"subscriptions\"]\n{extra}",
                secret.display()
            )
        };
        let good = format!(
            "{LANE}{}",
            section("DK12345678", "redirect_uri = \"http://127.0.0.1:7890/\"\n")
        );
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));

        let bad = format!(
            "{LANE}{}{}",
            section("DK1234", "scopes = [\"payments\"]\n")
                .replace("scopes = [\"invoice\", \"subscriptions\"]\n", ""),
            section(
                "FI12345678",
                "authority = \"http://mobilepay.example\"\nredirect_uri = \"https://shop.example/cb\"\n"
            )
        );
        let found = problems(&bad);
        for wanted in [
            "line 13: consent[0].vat: must be DK or FI",
            "line 18: consent[0].scopes: \"payments\" is not a product",
            "line 21: consent[1].environment: authority is only used with environment = \"custom\"",
            "line 27: consent[1].redirect_uri: \"https://shop.example/cb\": the loopback flow listens on",
        ] {
            assert!(found.iter().any(|p| p.starts_with(wanted)), "{wanted}: {found:?}");
        }
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = problems(&good);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 16: consent[0].client_secret: the secret file")),
            "{found:?}"
        );
    }

    /// An ePayment lane that takes invoices with `invoice`, and its sales unit.
    fn invoice_lane(currency: &str, invoice: &str) -> String {
        format!(
            "[[lane]]\nname = \"till-1\"\ncurrency = \"{currency}\"\nmsn = \"123456\"\ninvoice = {invoice}\n\
             [lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n[[epayment]]\nmsn = \"123456\"\n\
             environment = \"test\"\nclient_id = {{ credential = \"a\" }}\n\
             client_secret = {{ credential = \"b\" }}\nsubscription_key = {{ credential = \"c\" }}\n"
        )
    }

    #[test]
    fn a_lane_takes_invoices_through_a_consent_with_the_invoice_scope_and_the_gateway_pair() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let consent = |extra: &str| {
            format!(
                "[[consent]]\nvat = \"DK12345678\"\nenvironment = \"custom\"\n\
                 authority = \"http://127.0.0.1:18080/merchant-authentication-openidconnect\"\n\
                 client_id = \"c\"\nclient_secret = {{ file = \"{0}\" }}\nrotation = \"reuse\"\n{extra}",
                secret.display()
            )
        };
        let gateway = format!(
            "gateway_client_id = \"app\"\ngateway_client_secret = {{ file = \"{}\" }}\n",
            secret.display()
        );
        let merchant = r#"{ merchant = "DK12345678" }"#;
        let good = format!(
            "{}{}",
            invoice_lane("DKK", merchant),
            consent(&format!(
                "scopes = [\"invoice\"]\napi = \"http://127.0.0.1:18080\"\n{gateway}"
            ))
        );
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));
        let config = Config::parse(&good, Path::new("t.toml")).unwrap();
        let (client, app) = config.consents[0].invoice_client().unwrap();
        assert_eq!(client.api, "http://127.0.0.1:18080");
        assert_eq!(app.client_id, "app");
        let with_issuer = good.replace(
            merchant,
            r#"{ merchant = "DK12345678", issuer = "0e6c5b4a-3d2f-4e1a-8b9c-7d6e5f4a3b2c" }"#,
        );
        assert!(problems(&with_issuer).is_empty(), "{:?}", problems(&with_issuer));

        // No consent for the merchant at all, and an issuer that is no id.
        let found = problems(&invoice_lane(
            "DKK",
            r#"{ merchant = "DK87654321", issuer = "Bageriet" }"#,
        ));
        for wanted in [
            "line 5: lane[0].invoice.issuer: \"Bageriet\" is not an invoice issuer id",
            "line 5: lane[0].invoice.merchant: no [[consent]] section has vat = \"DK87654321\"",
        ] {
            assert!(found.iter().any(|p| p.starts_with(wanted)), "{wanted}: {found:?}");
        }
        // A consent for Subscriptions only, without the gateway pair or the API base; a lane in
        // another currency than the merchant's.
        let lacking = format!(
            "{}{}",
            invoice_lane("EUR", merchant),
            consent("scopes = [\"subscriptions\"]\n")
        );
        let found = problems(&lacking);
        for wanted in [
            "line 5: lane[0].invoice.merchant: MobilePay invoices of DK12345678 are in DKK, but the lane's currency is EUR",
            "line 21: consent[0].scopes: lane \"till-1\" takes invoices for DK12345678: the consent needs the scope \"invoice\"",
            "line 14: consent[0]: lane \"till-1\" takes invoices for DK12345678: set gateway_client_id and gateway_client_secret",
            "line 16: consent[0].environment: \"custom\" needs api (lane \"till-1\" takes invoices)",
        ] {
            assert!(found.iter().any(|p| p.starts_with(wanted)), "{wanted}: {found:?}");
        }
        // The API base only with "custom"; a gateway secret others may read.
        let sandbox = good
            .replace("environment = \"custom\"", "environment = \"sandbox\"")
            .replace(
                "authority = \"http://127.0.0.1:18080/merchant-authentication-openidconnect\"\n",
                "",
            );
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let found = problems(&sandbox);
        for wanted in [
            "line 21: consent[0].api: api is only used with environment = \"custom\"",
            "line 23: consent[0].gateway_client_secret: the secret file",
        ] {
            assert!(found.iter().any(|p| p.starts_with(wanted)), "{wanted}: {found:?}");
        }
        let unknown = good.replace(merchant, r#"{ merchant = "DK12345678", isuer = "x" }"#);
        assert!(
            problems(&unknown)[0].contains("unknown field `isuer`"),
            "{:?}",
            problems(&unknown)
        );
    }
}
