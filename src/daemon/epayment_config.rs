//! The `[[epayment]]` sections of the configuration file: one per Vipps MobilePay sales unit
//! (MSN) the box takes payments for. A lane names its sales unit with `msn = "…"`.
//!
//! The sales unit's three keys are secrets and are given like the daemon's other secrets: a
//! private file (`{ file = "…" }`, mode 600) or a systemd credential (`{ credential = "…" }`).

use super::problem::Problem;
use super::webhooks::settings::WebhookSettings;
use crate::backends::epayment::config::{PRODUCTION, TEST};
use crate::backends::epayment::engine::{EpaymentBackend, QrDrawing};
use crate::backends::epayment::{EpaymentClient, EpaymentConfig};
use crate::money::Currency;
use crate::secrets::{self, SecretSource};
use serde::Deserialize;
use std::path::PathBuf;

/// Which Vipps MobilePay environment a sales unit lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpaymentEnvironment {
    Production,
    /// The test environment ("MT"): test keys, test users, no real money.
    Test,
    /// Another base URL (`base_url`), e.g. `mposd sim` on the same box.
    Custom,
}

/// How the payment QR code reaches the customer display.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QrSetting {
    /// The official image, fetched from Vipps MobilePay. Needs no approval.
    #[default]
    OfficialImage,
    /// Drawn by the box from the payment's target URL. Only for sales units Vipps MobilePay
    /// approved for self-drawn QR codes.
    SelfDrawn,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesUnitSettings {
    /// The Merchant Serial Number, 4 to 6 digits.
    pub msn: String,
    pub environment: EpaymentEnvironment,
    /// With `environment = "custom"`: the API's base URL.
    #[serde(default)]
    pub base_url: Option<String>,
    pub client_id: SecretSource,
    pub client_secret: SecretSource,
    pub subscription_key: SecretSource,
    #[serde(default)]
    pub qr: QrSetting,
    /// Pixels per side of the official image (100–2000); the display redraws its modules at
    /// its own resolution, so this only needs to be large enough to read them.
    #[serde(default = "default_qr_image_size")]
    pub qr_image_size: u32,
    /// Extra certificates to trust (PEM), e.g. a corporate proxy.
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// Webhook deliveries as an early signal beside polling.
    #[serde(default)]
    pub webhooks: Option<WebhookSettings>,
}

fn default_qr_image_size() -> u32 {
    600
}

impl SalesUnitSettings {
    /// The API base URL the environment selects.
    pub fn base_url(&self) -> Result<String, String> {
        match (self.environment, &self.base_url) {
            (EpaymentEnvironment::Production, None) => Ok(PRODUCTION.into()),
            (EpaymentEnvironment::Test, None) => Ok(TEST.into()),
            (EpaymentEnvironment::Custom, Some(url)) => Ok(url.clone()),
            (EpaymentEnvironment::Custom, None) => Err("\"custom\" needs base_url".into()),
            (_, Some(_)) => Err("base_url is only used with environment = \"custom\"".into()),
        }
    }

    fn client_config(&self) -> Result<EpaymentConfig, String> {
        let mut config = EpaymentConfig::new(
            &self.base_url()?,
            &self.msn,
            self.client_id.clone(),
            self.client_secret.clone(),
            self.subscription_key.clone(),
        );
        config.extra_ca_file = self.extra_ca.clone();
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    fn qr_drawing(&self) -> QrDrawing {
        match self.qr {
            QrSetting::OfficialImage => QrDrawing::OfficialImage {
                size: self.qr_image_size,
            },
            QrSetting::SelfDrawn => QrDrawing::FromTargetUrl,
        }
    }

    /// The engine's backend for this sales unit, taking `currency` (its market's).
    pub fn backend(&self, currency: Currency) -> anyhow::Result<EpaymentBackend> {
        let config = self.client_config().map_err(anyhow::Error::msg)?;
        let client = EpaymentClient::new(config)?;
        Ok(EpaymentBackend::new(client, self.qr_drawing(), currency))
    }

    /// Every problem of the section `epayment[index]`.
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let key = |k: &str| format!("epayment[{index}].{k}");
        let mut out = Vec::new();
        let mut add = |key: String, message: String| {
            out.push(Problem {
                line: None,
                key,
                message,
            })
        };
        if !(4..=6).contains(&self.msn.len()) || !self.msn.bytes().all(|b| b.is_ascii_digit()) {
            add(
                key("msn"),
                "must be the Merchant Serial Number, 4 to 6 digits".into(),
            );
        }
        match self.base_url() {
            Err(e) => add(key("environment"), e),
            Ok(url) => {
                if let Err(e) = crate::backends::http::check_url("base_url", &url) {
                    add(key("base_url"), e.to_string());
                }
            }
        }
        // A systemd credential can only be read under systemd; elsewhere it is checked at start.
        let checkable = |source: &SecretSource| {
            !matches!(source, SecretSource::Credential(_))
                || std::env::var_os("CREDENTIALS_DIRECTORY").is_some()
        };
        for (name, source) in [
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("subscription_key", &self.subscription_key),
        ] {
            if checkable(source) {
                if let Err(e) = secrets::load_secret(source) {
                    add(key(name), e.to_string());
                }
            }
        }
        if !(100..=2000).contains(&self.qr_image_size) {
            add(key("qr_image_size"), "must be between 100 and 2000 pixels".into());
        }
        if let Some(ca) = &self.extra_ca {
            if let Err(e) = super::problem::read_pem(ca) {
                add(key("extra_ca"), e);
            }
        }
        if let Some(hooks) = &self.webhooks {
            out.extend(hooks.problems(index));
        }
        out
    }
}
