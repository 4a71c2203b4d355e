//! The daemon's configuration file (`/etc/mposd/mposd.toml`): one TOML file with the state
//! directory, the backends (`[mobilepay]` for PoS V10, one `[[epayment]]` per Vipps MobilePay
//! sales unit) and one `[[lane]]` per checkout. A lane takes payments through PoS V10 when it
//! has a `[lane.pos]`, through ePayment when it names a sales unit with `msn`, and issues
//! MobilePay invoices as well when it names a merchant's `[[consent]]` with `invoice`.
//!
//! Loading never stops at the first mistake: every problem found is reported with the line it
//! is on, so an integrator fixes a file in one round (`mposd check-config`). The sections of a
//! lane reuse the settings types of the parts they configure (PoS onboarding, cash-register
//! link, display), so a setting is defined exactly once.

use super::consent_config::{ConsentSettings, Product};
use super::epayment_config::SalesUnitSettings;
use super::problem::read_pem;
pub use super::problem::Problem;
use crate::backends::invoice_v1::config::merchant_currency;
use crate::backends::pos_v10::config::{ClientConfig, Endpoints};
use crate::backends::pos_v10::onboarding::PosSettings;
use crate::backends::pos_v10::tokens::Credentials;
use crate::backends::subscriptions_v1::AgreementLinks;
use crate::display::settings::DisplaySettings;
use crate::ecr::config::EcrSettings;
use crate::money::Currency;
use crate::secrets::{self, SecretSource};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub state: StateSettings,
    /// PoS V10; needed when a lane has a `[lane.pos]`.
    #[serde(default)]
    pub mobilepay: Option<MobilePaySettings>,
    #[serde(rename = "epayment", default)]
    pub sales_units: Vec<SalesUnitSettings>,
    #[serde(rename = "lane", default)]
    pub lanes: Vec<LaneSettings>,
    /// Merchants whose OpenID Connect consent (Invoice, Subscriptions) the box keeps.
    #[serde(rename = "consent", default)]
    pub consents: Vec<ConsentSettings>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateSettings {
    /// Where the payment journal and the token cache live. Default: systemd's
    /// `$STATE_DIRECTORY`, else `/var/lib/mposd`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Page cache of the store in MiB; a few MiB suit a Raspberry Pi.
    #[serde(default = "default_cache_mib")]
    pub cache_mib: u64,
    /// Finished payments are kept this many days, then pruned.
    #[serde(default = "default_retention_days")]
    pub retention_days: u64,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            dir: None,
            cache_mib: default_cache_mib(),
            retention_days: default_retention_days(),
        }
    }
}

fn default_cache_mib() -> u64 {
    8
}

fn default_retention_days() -> u64 {
    400
}

impl StateSettings {
    pub fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| {
                std::env::var_os("STATE_DIRECTORY")
                    .map(|d| PathBuf::from(d.to_string_lossy().split(':').next().unwrap_or_default()))
            })
            .unwrap_or_else(|| PathBuf::from("/var/lib/mposd"))
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_days.saturating_mul(24 * 3600))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    Production,
    Sandbox,
    SelfCertification,
    Custom,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobilePaySettings {
    pub environment: Environment,
    /// With `environment = "custom"`: the integrator authentication base URL.
    #[serde(default)]
    pub auth_url: Option<String>,
    /// With `environment = "custom"`: the PoS API base URL (ending in `/pos/v10`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// The integrator's client id (also sent as `x-ibm-client-id`).
    pub client_id: String,
    /// The client secret: `{ file = "..." }` (mode 600) or `{ credential = "NAME" }` (systemd
    /// `LoadCredential=`). Leave out when tokens are provisioned.
    #[serde(default)]
    pub client_secret: Option<SecretSource>,
    /// A directory with one long-lived merchant-locked token per VAT (`DK12345678.jwt`,
    /// mode 600), for devices that must not hold the client secret.
    #[serde(default)]
    pub provisioned_tokens: Option<PathBuf>,
    /// Extra certificates to trust (PEM), e.g. a corporate proxy.
    #[serde(default)]
    pub extra_ca: Option<PathBuf>,
    /// Retries after a failed request (MobilePay: 2 suggested, at most 5).
    #[serde(default)]
    pub retries: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneSettings {
    /// A short name for logs and status lines, unique in the file.
    pub name: String,
    #[serde(default = "default_currency")]
    pub currency: Currency,
    /// The lane's point of sale at PoS V10.
    #[serde(default)]
    pub pos: Option<PosSettings>,
    /// The ePayment sales unit (MSN of an `[[epayment]]` section) the lane takes payments for.
    #[serde(default)]
    pub msn: Option<String>,
    /// The printed sticker customers check in at (ePayment lanes with webhooks only).
    #[serde(default)]
    pub sticker: Option<super::sticker::StickerSettings>,
    pub ecr: EcrSettings,
    #[serde(default)]
    pub display: Option<DisplaySettings>,
    /// MobilePay Invoice at this lane, through the merchant's `[[consent]]`.
    #[serde(default)]
    pub invoice: Option<LaneInvoiceSettings>,
    /// The merchant's agreements the lane signs customers up to.
    #[serde(default)]
    pub signup: Option<LaneSignupSettings>,
}

/// `invoice = { merchant = "DK12345678", issuer = "…" }` in a `[[lane]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneInvoiceSettings {
    /// The merchant's VAT number, as in its `[[consent]]` section.
    pub merchant: String,
    /// The invoice issuer (a GUID from the MobilePay portal) the lane sends invoices under;
    /// left out, the merchant's only enabled issuer.
    #[serde(default)]
    pub issuer: Option<String>,
}

/// `signup = { merchant = "DK12345678", user_redirect = "https://…", success_callback =
/// "https://…", cancel_callback = "https://…" }` in a `[[lane]]`: the lane signs customers up to
/// the merchant's agreements (MobilePay Subscriptions). The box has no public address, so the
/// addresses MobilePay wants for an agreement are the merchant's or the integrator's web pages.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneSignupSettings {
    /// The merchant's VAT number, as in its `[[consent]]` section.
    pub merchant: String,
    /// The subscription provider (a GUID from the MobilePay portal); left out, the merchant's
    /// only enabled one.
    #[serde(default)]
    pub provider: Option<String>,
    /// Where the customer's browser goes after accepting or rejecting (https).
    pub user_redirect: String,
    /// Where MobilePay reports an accepted agreement (https; the box does not read it).
    pub success_callback: String,
    /// Where MobilePay reports a rejected, expired or cancelled agreement (https).
    pub cancel_callback: String,
    /// Where MobilePay reports a refund's result (https); left out, `success_callback`.
    #[serde(default)]
    pub refund_callback: Option<String>,
}

impl LaneSignupSettings {
    pub fn links(&self) -> AgreementLinks {
        AgreementLinks {
            user_redirect: self.user_redirect.clone(),
            success_callback: self.success_callback.clone(),
            cancel_callback: self.cancel_callback.clone(),
            refund_callback: self.refund_callback.clone(),
        }
    }
}

fn default_currency() -> Currency {
    Currency::DKK
}

/// Every problem found in a configuration file.
#[derive(Debug)]
pub struct Problems {
    pub file: PathBuf,
    pub list: Vec<Problem>,
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.list.len();
        writeln!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.list {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, Problems> {
        let text = std::fs::read_to_string(path).map_err(|e| Problems {
            file: path.to_path_buf(),
            list: vec![Problem {
                line: None,
                key: "file".into(),
                message: format!("cannot read it: {e}"),
            }],
        })?;
        Config::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, Problems> {
        let config: Config = toml::from_str(text).map_err(|e| Problems {
            file: path.to_path_buf(),
            list: vec![Problem {
                line: e.span().map(|s| line_of(text, s.start)),
                key: "syntax".into(),
                message: e.message().to_string(),
            }],
        })?;
        let list = with_lines(text, config.problems());
        if list.is_empty() {
            Ok(config)
        } else {
            Err(Problems {
                file: path.to_path_buf(),
                list,
            })
        }
    }

    /// Things that do not stop the daemon but deserve a look (a serial adapter not plugged in
    /// right now: mposd waits for it).
    pub fn warnings(&self, text: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        for (i, lane) in self.lanes.iter().enumerate() {
            if let Some(serial) = &lane.ecr.serial {
                if !serial.device.exists() {
                    out.push(Problem {
                        line: None,
                        key: format!("lane[{i}].ecr.serial.device"),
                        message: format!(
                            "{} does not exist now; mposd waits for it (check the cable or adapter)",
                            serial.device.display()
                        ),
                    });
                }
            }
        }
        with_lines(text, out)
    }

    fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut add = |key: String, message: String| {
            out.push(Problem {
                line: None,
                key,
                message,
            })
        };
        if self.state.cache_mib == 0 || self.state.cache_mib > 1024 {
            add("state.cache_mib".into(), "must be between 1 and 1024".into());
        }
        if self.state.retention_days < 30 {
            add(
                "state.retention_days".into(),
                "must be at least 30 days (payments must stay queryable and refundable)".into(),
            );
        }
        if let Some(dir) = &self.state.dir {
            if !dir.is_absolute() {
                add(
                    "state.dir".into(),
                    format!("{} is not an absolute path", dir.display()),
                );
            }
        }
        if let Err(e) = state_dir_possible(&self.state.dir()) {
            add("state.dir".into(), e);
        }
        if let Some(m) = &self.mobilepay {
            if let Err(e) = self.endpoints() {
                add("mobilepay.environment".into(), e);
            }
            if m.client_id.trim().is_empty() {
                add("mobilepay.client_id".into(), "is empty".into());
            }
            match (&m.client_secret, &m.provisioned_tokens) {
                (None, None) => add(
                    "mobilepay".into(),
                    "needs either client_secret or provisioned_tokens".into(),
                ),
                (Some(_), Some(_)) => add(
                    "mobilepay".into(),
                    "client_secret and provisioned_tokens exclude each other: choose one".into(),
                ),
                (Some(source), None) => {
                    let checkable = !matches!(source, SecretSource::Credential(_))
                        || std::env::var_os("CREDENTIALS_DIRECTORY").is_some();
                    if checkable {
                        if let Err(e) = secrets::load_secret(source) {
                            add("mobilepay.client_secret".into(), e.to_string());
                        }
                    }
                }
                (None, Some(dir)) => {
                    for pos in self.lanes.iter().filter_map(|l| l.pos.as_ref()) {
                        let file = dir.join(format!("{}.jwt", pos.vat));
                        if let Err(e) = secrets::check_private(&file) {
                            add("mobilepay.provisioned_tokens".into(), e.to_string());
                        }
                    }
                }
            }
            if let Some(ca) = &m.extra_ca {
                if let Err(e) = read_pem(ca) {
                    add("mobilepay.extra_ca".into(), e);
                }
            }
            if m.retries
                .is_some_and(|r| r > crate::backends::pos_v10::config::MAX_RETRIES)
            {
                add(
                    "mobilepay.retries".into(),
                    format!(
                        "MobilePay allows at most {} retries",
                        crate::backends::pos_v10::config::MAX_RETRIES
                    ),
                );
            }
        }
        let mut msns = HashSet::new();
        let mut hook_addresses = HashSet::new();
        for (i, unit) in self.sales_units.iter().enumerate() {
            for problem in unit.problems(i) {
                add(problem.key, problem.message);
            }
            if let Some(hooks) = &unit.webhooks {
                if !hook_addresses.insert(hooks.listen) {
                    add(
                        format!("epayment[{i}].webhooks.listen"),
                        format!("{} is used by another sales unit's webhooks", hooks.listen),
                    );
                }
            }
            if !msns.insert(unit.msn.clone()) {
                add(
                    format!("epayment[{i}].msn"),
                    format!("{:?} is configured twice", unit.msn),
                );
            }
        }
        let mut consent_vats = HashSet::new();
        for (i, consent) in self.consents.iter().enumerate() {
            for problem in consent.problems(i) {
                add(problem.key, problem.message);
            }
            if !consent_vats.insert(consent.vat.clone()) {
                add(
                    format!("consent[{i}].vat"),
                    format!("{:?} is configured twice", consent.vat),
                );
            }
        }
        if self.lanes.is_empty() {
            add("lane".into(), "at least one [[lane]] is needed".into());
        }
        let mut names = HashSet::new();
        let mut pos_ids = HashSet::new();
        let mut ports = HashSet::new();
        let mut stickers = HashSet::new();
        let mut invoice_consents = HashSet::new();
        let mut signup_consents = HashSet::new();
        for (i, lane) in self.lanes.iter().enumerate() {
            let key = |k: &str| format!("lane[{i}].{k}");
            if lane.name.is_empty()
                || lane.name.len() > 32
                || !lane
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                add(
                    key("name"),
                    "must be 1-32 letters, digits, '-', '_' or '.'".into(),
                );
            }
            if !names.insert(lane.name.clone()) {
                add(key("name"), format!("{:?} is used by another lane", lane.name));
            }
            match (&lane.pos, &lane.msn) {
                (Some(pos), None) => {
                    for (field, rule) in pos.problems() {
                        add(key(&format!("pos.{field}")), rule.into());
                    }
                    if !pos_ids.insert((pos.vat.clone(), pos.merchant_pos_id.clone())) {
                        add(
                            key("pos.merchant_pos_id"),
                            "is used by another lane of the same merchant".into(),
                        );
                    }
                    if self.mobilepay.is_none() {
                        add(
                            key("pos"),
                            "a PoS V10 lane needs the [mobilepay] section".into(),
                        );
                    }
                }
                (None, Some(msn)) => {
                    if !self.sales_units.iter().any(|u| &u.msn == msn) {
                        add(
                            key("msn"),
                            format!("no [[epayment]] section has msn = {msn:?}"),
                        );
                    }
                }
                (Some(_), Some(_)) => add(
                    key("msn"),
                    "a lane takes payments through one backend: give [lane.pos] (PoS V10) or msn (ePayment), not both".into(),
                ),
                (None, None) => add(
                    key("name"),
                    "the lane needs [lane.pos] (PoS V10) or msn (an ePayment sales unit)".into(),
                ),
            }
            if let Some(sticker) = &lane.sticker {
                for (field, message) in sticker.problems() {
                    add(key(&format!("sticker.{field}")), message);
                }
                match &lane.msn {
                    None => add(
                        key("sticker"),
                        "a sticker needs an ePayment lane (msn): PoS V10 points of sale have their own"
                            .into(),
                    ),
                    Some(msn) => {
                        let unit = self.sales_units.iter().find(|u| &u.msn == msn);
                        if unit.is_some_and(|u| u.webhooks.is_none()) {
                            add(
                                key("sticker"),
                                format!("check-ins at a sticker arrive only as webhook deliveries: the sales unit {msn} needs [epayment.webhooks]"),
                            );
                        }
                        if let Some(id) = sticker.merchant_qr_id() {
                            if !stickers.insert((msn.clone(), id.to_string())) {
                                add(
                                    key("sticker"),
                                    format!("{id:?} is the sticker of another lane of the sales unit"),
                                );
                            }
                        }
                    }
                }
            }
            if let Err(e) = lane.ecr.validate() {
                add(key("ecr"), e);
            }
            let port = match (&lane.ecr.serial, &lane.ecr.tcp) {
                (Some(s), _) => Some(s.device.display().to_string()),
                (None, Some(t)) => Some(t.listen.to_string()),
                (None, None) => None,
            };
            if let Some(port) = port {
                if !ports.insert(port.clone()) {
                    add(key("ecr"), format!("{port} is used by another lane"));
                }
            }
            if let Some(display) = &lane.display {
                if let Err(e) = display.validate() {
                    add(key(&format!("display.{}", e.key())), e.to_string());
                }
            }
            if let Some(invoice) = &lane.invoice {
                let merchant = (invoice.merchant.as_str(), invoice.issuer.as_deref());
                for problem in
                    self.product_problems(i, lane, Product::Invoice, merchant, &mut invoice_consents)
                {
                    add(problem.key, problem.message);
                }
            }
            if let Some(signup) = &lane.signup {
                if let Err(e) = signup.links().validate() {
                    add(key("signup.links"), e.to_string());
                }
                let merchant = (signup.merchant.as_str(), signup.provider.as_deref());
                for problem in
                    self.product_problems(i, lane, Product::Subscriptions, merchant, &mut signup_consents)
                {
                    add(problem.key, problem.message);
                }
            }
        }
        out
    }

    /// What keeps lane `index` from offering `product` of the merchant `vat`, with the id
    /// (`id_key` = `id`: invoice issuer, subscription provider) it names, if any. A consent's
    /// own problems are told once, for the first lane that uses it (`told` holds those told).
    fn product_problems(
        &self,
        index: usize,
        lane: &LaneSettings,
        product: Product,
        (vat, id): (&str, Option<&str>),
        told: &mut HashSet<usize>,
    ) -> Vec<Problem> {
        let section = match product {
            Product::Invoice => "invoice",
            Product::Subscriptions => "signup",
        };
        let problem = |key: &str, message: String| Problem {
            line: None,
            key: format!("lane[{index}].{section}.{key}"),
            message,
        };
        let mut out = Vec::new();
        if let Some(id) = id {
            if uuid::Uuid::try_parse(id).is_err() {
                let (key, what) = match product {
                    Product::Invoice => ("issuer", "an invoice issuer"),
                    Product::Subscriptions => ("provider", "a subscription provider"),
                };
                out.push(problem(
                    key,
                    format!("{id:?} is not {what} id (a GUID from the MobilePay portal)"),
                ));
            }
        }
        let Some((at, consent)) = self.consents.iter().enumerate().find(|(_, c)| c.vat == vat) else {
            out.push(problem(
                "merchant",
                format!(
                    "no [[consent]] section has vat = {vat:?}: {} are made with the merchant's consent",
                    product.uses()
                ),
            ));
            return out;
        };
        let currency = merchant_currency(&consent.vat);
        if lane.currency != currency {
            out.push(problem(
                "merchant",
                format!(
                    "MobilePay {} of {} are in {currency}, but the lane's currency is {}",
                    product.uses(),
                    consent.vat,
                    lane.currency
                ),
            ));
        }
        if told.insert(at) {
            out.extend(consent.product_problems(at, &lane.name, product));
        }
        out
    }

    /// The PoS V10 settings.
    fn pos_v10(&self) -> Result<&MobilePaySettings, String> {
        self.mobilepay
            .as_ref()
            .ok_or_else(|| "the [mobilepay] section (PoS V10) is missing".to_string())
    }

    /// The sales unit `msn`.
    pub fn sales_unit(&self, msn: &str) -> Option<&SalesUnitSettings> {
        self.sales_units.iter().find(|u| u.msn == msn)
    }

    /// The MobilePay base URLs this configuration selects.
    pub fn endpoints(&self) -> Result<Endpoints, String> {
        let m = self.pos_v10()?;
        let endpoints = match m.environment {
            Environment::Production => Endpoints::production(),
            Environment::Sandbox => Endpoints::sandbox(),
            Environment::SelfCertification => Endpoints::self_certification(),
            Environment::Custom => match (&m.auth_url, &m.api_url) {
                (Some(auth), Some(api)) => Endpoints::custom(auth, api).map_err(|e| e.to_string())?,
                _ => return Err("\"custom\" needs both auth_url and api_url".into()),
            },
        };
        if m.environment != Environment::Custom && (m.auth_url.is_some() || m.api_url.is_some()) {
            return Err("auth_url and api_url are only used with environment = \"custom\"".into());
        }
        Ok(endpoints)
    }

    /// The client settings shared by every merchant.
    pub fn client_config(&self) -> Result<ClientConfig, String> {
        let m = self.pos_v10()?;
        let mut config = ClientConfig::new(self.endpoints()?, m.client_id.clone());
        config.extra_ca_file = m.extra_ca.clone();
        if let Some(retries) = m.retries {
            config.retry.retries = retries;
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// How merchant `vat` gets its tokens.
    pub fn credentials(&self, vat: &str) -> Result<Credentials, String> {
        let m = self.pos_v10()?;
        match (&m.client_secret, &m.provisioned_tokens) {
            (Some(source), _) => secrets::load_secret(source)
                .map(Credentials::ClientSecret)
                .map_err(|e| e.to_string()),
            (None, Some(dir)) => Ok(Credentials::ProvisionedToken(dir.join(format!("{vat}.jwt")))),
            (None, None) => Err("no client secret and no provisioned tokens are configured".into()),
        }
    }
}

/// Fills in the line of each problem from its key path.
/// Whether the state directory exists or can be created: the path itself, or the nearest of
/// its parents that exists, must be a directory. Checked here so that a path pointing at a
/// file is refused with its key and line, not by an obscure error of the store.
fn state_dir_possible(dir: &Path) -> Result<(), String> {
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return Ok(());
    };
    if existing.is_dir() {
        return Ok(());
    }
    if existing == dir {
        Err(format!(
            "{} is a file, not a directory; give the directory for the payment journal",
            dir.display()
        ))
    } else {
        Err(format!(
            "{} cannot be created: {} is a file, not a directory",
            dir.display(),
            existing.display()
        ))
    }
}

fn with_lines(text: &str, mut list: Vec<Problem>) -> Vec<Problem> {
    if list.is_empty() {
        return list;
    }
    let doc = text.parse::<toml_edit::ImDocument<String>>().ok();
    for p in &mut list {
        p.line = doc
            .as_ref()
            .and_then(|d| locate(d, &p.key))
            .map(|offset| line_of(text, offset));
    }
    list
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The byte offset of the key path `a.b[2].c` in the parsed document, as far as it exists
/// (a missing key is reported at its nearest existing parent).
fn locate(doc: &toml_edit::ImDocument<String>, key: &str) -> Option<usize> {
    let mut item: &toml_edit::Item = doc.as_item();
    let mut best = None;
    for part in key.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        let Some((k, v)) = item.as_table_like().and_then(|t| t.get_key_value(name)) else {
            break;
        };
        best = k.span().or_else(|| span_of(v)).or(best);
        item = v;
        if let Some(i) = index {
            let Some(element) = item.get(i) else { break };
            best = span_of(element).or(best);
            item = element;
        }
    }
    best.map(|s| s.start)
}

fn span_of(item: &toml_edit::Item) -> Option<std::ops::Range<usize>> {
    match item {
        toml_edit::Item::Value(v) => v.span(),
        toml_edit::Item::Table(t) => t.span(),
        toml_edit::Item::ArrayOfTables(a) => a.span(),
        toml_edit::Item::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("t.toml")) {
            Ok(_) => Vec::new(),
            Err(p) => p.list.iter().map(|p| p.to_string()).collect(),
        }
    }

    const UNIT: &str = r#"[[epayment]]
msn = "123456"
environment = "custom"
base_url = "http://127.0.0.1:9"
client_id = { credential = "a" }
client_secret = { credential = "b" }
subscription_key = { credential = "c" }
"#;

    #[test]
    fn a_lane_takes_payments_through_exactly_one_backend() {
        let neither = format!(
            "{UNIT}[[lane]]\nname = \"till-1\"\n[lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n"
        );
        let found = problems(&neither);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 9: lane[0].name: the lane needs")),
            "{found:?}"
        );
        let both = format!(
            "{UNIT}[[lane]]\nname = \"till-1\"\nmsn = \"123456\"\n[lane.pos]\nvat = \"DK12345678\"\n\
             store = {{ id = \"401b5617-ae5e-4f1a-9a59-5a446dbb3caa\" }}\nmerchant_pos_id = \"p\"\n\
             name = \"K\"\nbeacon = \"generated\"\nsupported_beacon_types = [\"QR\"]\n\
             [lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n"
        );
        let found = problems(&both);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 10: lane[0].msn: a lane takes payments through one backend")),
            "{found:?}"
        );
        let twice = format!("{UNIT}{UNIT}[[lane]]\nname = \"till-1\"\nmsn = \"123456\"\n[lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n");
        let found = problems(&twice);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("line 9: epayment[1].msn: \"123456\" is configured twice")),
            "{found:?}"
        );
        let good = format!("{UNIT}[[lane]]\nname = \"till-1\"\nmsn = \"123456\"\n[lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n");
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));
    }

    #[test]
    fn a_sticker_needs_an_epayment_lane_whose_sales_unit_has_webhooks() {
        let lane = |sticker: &str| {
            format!("[[lane]]\nname = \"till-1\"\nmsn = \"123456\"\nsticker = {sticker}\n[lane.ecr]\ntcp = {{ listen = \"127.0.0.1:7410\" }}\n")
        };
        let hooks =
            "[epayment.webhooks]\nlisten = \"127.0.0.1:7480\"\nurl = \"https://hooks.shop.example/mposd\"\n";
        let new = r#"{ merchant_qr_id = "kasse-1", location = "Kasse 1" }"#;
        let good = format!("{UNIT}{hooks}{}", lane(new));
        assert!(problems(&good).is_empty(), "{:?}", problems(&good));
        let found = problems(&format!("{UNIT}{}", lane(new)));
        assert!(
            found.iter().any(|p| p.starts_with(
                "line 11: lane[0].sticker: check-ins at a sticker arrive only as webhook deliveries"
            )),
            "{found:?}"
        );
        let old = r#"{ beacon_id = "12", location = "Kasse 1" }"#;
        let found = problems(&format!("{UNIT}{hooks}{}", lane(old)));
        assert!(
            found.iter().any(|p| p.starts_with(
                "line 14: lane[0].sticker.beacon_id: must be the MobilePay sticker's beacon id"
            )),
            "{found:?}"
        );
        let twice = format!(
            "{UNIT}{hooks}{}{}",
            lane(new),
            lane(new).replace("till-1", "till-2").replace("7410", "7411")
        );
        let found = problems(&twice);
        assert!(
            found.iter().any(
                |p| p.starts_with("line 20: lane[1].sticker: \"kasse-1\" is the sticker of another lane")
            ),
            "{found:?}"
        );
    }
}
