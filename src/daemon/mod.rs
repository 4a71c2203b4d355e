//! `mposd run`: the daemon that serves one or more checkout lanes, and `mposd check-config`.

pub mod config;
pub mod consent_config;
pub mod epayment_config;
pub mod lane;
mod pos_watch;
mod problem;
mod registration;
pub mod run;
#[cfg(feature = "sim")]
pub mod sim_config;
pub(crate) mod state_dir;
pub mod sticker;
mod store_watch;
mod troubles;
pub mod webhooks;

use clap::Args;
use std::path::PathBuf;

/// Serve the configured checkout lanes: cash registers, MobilePay and customer displays.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The configuration file.
    #[arg(long, default_value = "/etc/mposd/mposd.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Log output: auto (journald under systemd, else human), human, json or journald.
    #[arg(long, value_enum, default_value_t = crate::logging::LogFormat::Auto, env = "MPOSD_LOG_FORMAT")]
    pub log_format: crate::logging::LogFormat,
}

/// Check a configuration file and print every problem with its line (exit code 1 if any).
#[derive(Args, Debug)]
pub struct CheckConfigArgs {
    /// The configuration file.
    #[arg(value_name = "FILE", default_value = "/etc/mposd/mposd.toml")]
    pub config: PathBuf,
}

pub fn run_command(args: RunArgs) -> anyhow::Result<()> {
    crate::logging::init(args.log_format);
    run::run(&args.config)
}

pub fn check_command(args: CheckConfigArgs) -> anyhow::Result<()> {
    run::check(&args.config)
}
