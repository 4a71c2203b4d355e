//! Log output through `tracing`: journald fields when systemd runs the daemon, readable lines
//! on a terminal, or JSON for log collectors.
//!
//! Correlation log lines carry payment ids, order ids and correlation ids as fields. Secrets never
//! reach a log line because the types holding them redact themselves in `Debug`/`Display`.

use clap::ValueEnum;
use std::io::IsTerminal;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};

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

/// The filter `RUST_LOG` asks for: a level (`debug`) or comma-separated `target=level`
/// directives (`info,mposd::engine=debug`); `info` when it is unset, empty or unreadable.
/// Plain targets and levels are all a checkout needs; full `EnvFilter` expressions (spans,
/// fields, regular expressions) would carry a regex engine in the binary.
fn filter(rust_log: Option<&str>) -> Targets {
    rust_log
        .filter(|value| !value.trim().is_empty())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

/// Installs the global subscriber. The level comes from `RUST_LOG` (default `info`).
pub fn init(format: LogFormat) {
    let filter = filter(std::env::var("RUST_LOG").ok().as_deref());
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

#[cfg(test)]
mod tests {
    use super::filter;
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target() {
        let f = filter(Some("warn,mposd::engine=debug"));
        assert!(f.would_enable("mposd::engine::driver", &Level::DEBUG));
        assert!(!f.would_enable("mposd::ecr", &Level::INFO));
        assert!(f.would_enable("mposd::ecr", &Level::WARN));
        assert!(filter(Some("debug")).would_enable("sled", &Level::DEBUG));
    }

    #[test]
    fn unset_empty_or_unreadable_rust_log_means_info() {
        for value in [None, Some(""), Some("  "), Some("mposd=loud")] {
            let f = filter(value);
            assert!(f.would_enable("mposd", &Level::INFO), "{value:?}");
            assert!(!f.would_enable("mposd", &Level::DEBUG), "{value:?}");
        }
    }
}
