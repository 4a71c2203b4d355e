//! `mposd consent`: putting a merchant's consent on the box, and showing what the box holds.
//!
//! Two ways in: `authorize` runs the loopback flow itself (sandbox, or a laptop), `import`
//! takes a refresh token that the integrator's web service obtained with its own https
//! redirect URI, and validates it with one refresh. Both write the consent file the daemon
//! uses (under its lock) and never print a token.

use super::driver::{Consent, RefreshError};
use super::store::{ConsentFile, Record, RefreshToken};
use super::{authorize, unix_now};
use crate::daemon::config::Config;
use crate::daemon::consent_config::ConsentSettings;
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ConsentArgs {
    #[command(subcommand)]
    command: ConsentCommand,
}

#[derive(Subcommand, Debug)]
enum ConsentCommand {
    /// Obtain the merchant's consent through the loopback flow (sandbox or a laptop): prints
    /// the address the merchant opens, waits for the answer on the redirect URI.
    Authorize {
        #[command(flatten)]
        merchant: Merchant,
        /// Give up after this many seconds without an answer.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Store a refresh token read from standard input (obtained by the integrator's web
    /// service) after validating it with one refresh.
    Import {
        #[command(flatten)]
        merchant: Merchant,
    },
    /// Show the consent state of every merchant in the configuration (no secrets).
    Show {
        /// The configuration file.
        #[arg(long, default_value = "/etc/mposd/mposd.toml", value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Args, Debug)]
struct Merchant {
    /// The configuration file.
    #[arg(long, default_value = "/etc/mposd/mposd.toml", value_name = "FILE")]
    config: PathBuf,
    /// The merchant's VAT number, as in its [[consent]] section.
    #[arg(long)]
    vat: String,
}

pub fn run(args: ConsentArgs) -> anyhow::Result<()> {
    crate::daemon::state_dir::private_umask();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match args.command {
        ConsentCommand::Show { config } => show(&config),
        ConsentCommand::Authorize { merchant, timeout } => runtime.block_on(async {
            let (consent, settings) = open(&merchant)?;
            let redirect_uri = settings.redirect_uri.clone().ok_or_else(|| {
                anyhow::anyhow!("consent for {} has no redirect_uri for the loopback flow", merchant.vat)
            })?;
            let record = authorize::run(&consent, &redirect_uri, Duration::from_secs(timeout), |url| {
                println!("Open this address in a browser and log in as the merchant:\n{url}");
            })
            .await?;
            println!("{}: consent stored ({})", merchant.vat, record.scopes.join(" "));
            Ok(())
        }),
        ConsentCommand::Import { merchant } => runtime.block_on(async {
            let (consent, _) = open(&merchant)?;
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            let token = text.trim();
            if token.is_empty() || token.contains(char::is_whitespace) {
                anyhow::bail!("standard input must hold one refresh token");
            }
            let scopes = consent.settings().requested_scope().split(' ').map(str::to_string).collect();
            consent
                .store(Record::new(RefreshToken::new(token), scopes, unix_now()))
                .await?;
            match consent.refresh().await {
                Ok(_) => {
                    println!("{}: consent imported and validated", merchant.vat);
                    Ok(())
                }
                Err(RefreshError::Unavailable(reason)) => anyhow::bail!(
                    "the consent is stored but not validated: {reason}; mposd run validates it when MobilePay answers"
                ),
                Err(err) => anyhow::bail!("the imported refresh token does not work: {err}"),
            }
        }),
    }
}

/// The configuration, the merchant's section and its consent.
fn open(merchant: &Merchant) -> anyhow::Result<(Consent, ConsentSettings)> {
    let config = Config::load(&merchant.config)?;
    let settings = config
        .consents
        .iter()
        .find(|c| c.vat == merchant.vat)
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "{} has no [[consent]] section with vat = {:?}",
                merchant.config.display(),
                merchant.vat
            )
        })?;
    let dir = config.state.dir();
    crate::daemon::state_dir::prepare(&dir)?;
    let consent = Consent::new(settings.client()?, ConsentFile::new(&dir, &settings.vat))?;
    Ok((consent, settings))
}

fn show(config: &Path) -> anyhow::Result<()> {
    let config = Config::load(config)?;
    let dir = config.state.dir();
    if config.consents.is_empty() {
        println!("no [[consent]] section in the configuration");
    }
    for settings in &config.consents {
        let state = ConsentFile::new(&dir, &settings.vat).read()?.state();
        println!("{} {}: {state}", settings.vat, settings.scopes.join(", "));
    }
    Ok(())
}
