//! Log output through `tracing`: journald fields when systemd runs the daemon, readable lines
//! on a terminal, or JSON for log collectors.
//!
//! Correlation log lines carry payment ids, order ids and correlation ids as fields. Secrets never
//! reach a log line because the types holding them redact themselves in `Debug`/`Display`.

use clap::ValueEnum;
use std::io::IsTerminal;
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// journald when started by systemd with its output connected to the journal, else human.
    #[default]
    Auto,
    /// Readable lines on standard error.
    Human,
    /// One JSON object per line on standard error.
    Json,
    /// Structured fields sent to the systemd journal.
    Journald,
}

impl LogFormat {
    /// `auto` resolved for this process: systemd sets `JOURNAL_STREAM` when standard error is
    /// connected to the journal.
    fn resolve(self) -> LogFormat {
        match self {
            LogFormat::Auto if std::env::var_os("JOURNAL_STREAM").is_some() => LogFormat::Journald,
            LogFormat::Auto => LogFormat::Human,
            other => other,
        }
    }
}

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format.resolve() {
        LogFormat::Journald => match tracing_journald::layer() {
            Ok(layer) => registry.with(layer).try_init(),
            Err(_) => registry
                .with(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::io::stderr),
                )
                .try_init(),
        },
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Human | LogFormat::Auto => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // A subscriber installed earlier (e.g. by a test harness) stays in place.
    drop(result);
}
