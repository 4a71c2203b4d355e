//! The customer display of a lane as the configuration file describes it, and starting it
//! next to the lane's engine.
//!
//! ```toml
//! board = "pi-ili9341-2.8"            # a profile name, see boards/
//! boards_dir = "/etc/mposd/boards"    # optional: extra profiles
//! language = "da"                     # da | fi | en
//! header = "Bageriet - Kasse 1"       # shown in the header bar
//! idle_qr = false                     # QR code on the idle screen (early check-in)
//! result_hold_ms = 5000               # how long a result stays before the idle screen
//! ```

use super::board::{BoardProfile, ProfileError};
use super::follow::{follow, FollowSettings, ScreenFollower};
use super::language::Language;
use super::render::Look;
use super::renderer::DisplayHandle;
use super::screen::Screen;
use crate::engine::EngineHandle;
use crate::money::Currency;
use embedded_graphics::mono_font::iso_8859_15::FONT_6X10;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinHandle;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisplaySettings {
    pub board: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boards_dir: Option<PathBuf>,
    #[serde(default)]
    pub language: Language,
    pub header: String,
    /// Show the QR code between payments so customers can check in before the total is
    /// known (MobilePay's recommendation). Leave off for PoSes created with
    /// `requirePaymentBeforeCheckin`, which refuse such check-ins.
    #[serde(default)]
    pub idle_qr: bool,
    #[serde(default = "default_result_hold_ms")]
    pub result_hold_ms: u64,
}

fn default_result_hold_ms() -> u64 {
    5000
}

/// Longest header that still reads well on a 240-pixel-wide panel.
pub const MAX_HEADER: usize = 36;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error("display header {0:?} must be 1 to {MAX_HEADER} characters")]
    HeaderLength(String),
    #[error("display header {header:?} contains {c:?}, which the display fonts cannot draw")]
    HeaderCharacter { header: String, c: char },
    #[error("result_hold_ms must be between 500 and 60000, not {0}")]
    ResultHold(u64),
}

impl SettingsError {
    /// The `[lane.display]` setting the error is about, so a configuration check can point at
    /// its line.
    pub fn key(&self) -> &'static str {
        match self {
            SettingsError::Profile(_) => "board",
            SettingsError::HeaderLength(_) | SettingsError::HeaderCharacter { .. } => "header",
            SettingsError::ResultHold(_) => "result_hold_ms",
        }
    }
}

/// A started display: the handle for the daemon's status and the tasks to await at shutdown.
pub struct RunningDisplay {
    pub handle: DisplayHandle,
    pub renderer: JoinHandle<()>,
    pub follower: JoinHandle<()>,
}

impl DisplaySettings {
    /// Checks everything that can be checked without hardware and returns the board profile.
    pub fn validate(&self) -> Result<BoardProfile, SettingsError> {
        let count = self.header.chars().count();
        if count == 0 || count > MAX_HEADER {
            return Err(SettingsError::HeaderLength(self.header.clone()));
        }
        let replacement = FONT_6X10.glyph_mapping.index('?');
        if let Some(c) = self
            .header
            .chars()
            .find(|c| *c != '?' && FONT_6X10.glyph_mapping.index(*c) == replacement)
        {
            return Err(SettingsError::HeaderCharacter {
                header: self.header.clone(),
                c,
            });
        }
        if !(500..=60_000).contains(&self.result_hold_ms) {
            return Err(SettingsError::ResultHold(self.result_hold_ms));
        }
        Ok(BoardProfile::load(&self.board, self.boards_dir.as_deref())?)
    }

    pub fn look(&self) -> Look {
        Look {
            language: self.language,
            header: self.header.clone(),
        }
    }

    /// Starts the display for the lane of `engine`, whose point of sale's QR code encodes
    /// `qr` (shown between payments with `idle_qr`), and makes it follow the lane's events.
    /// Never fails on hardware: a missing panel is retried.
    pub fn start(
        &self,
        engine: &EngineHandle,
        qr: Option<&str>,
        currency: Currency,
    ) -> Result<RunningDisplay, SettingsError> {
        let profile = self.validate()?;
        let idle = Screen::Idle {
            qr: qr.filter(|_| self.idle_qr).map(str::to_string),
        };
        let events = engine.subscribe();
        let (handle, renderer) = super::start(profile, self.look(), qr, idle.clone());
        let follower = ScreenFollower::new(FollowSettings {
            idle,
            currency,
            result_hold: Duration::from_millis(self.result_hold_ms),
        });
        let follower = tokio::spawn(follow(events, handle.clone(), follower));
        Ok(RunningDisplay {
            handle,
            renderer,
            follower,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DisplaySettings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn settings_parse_with_defaults_and_validate() {
        let s = parse("board = \"pi-ili9341-2.8\"\nheader = \"Bageriet Ærø\"\n").unwrap();
        assert_eq!(s.language, Language::Da);
        assert_eq!(s.result_hold_ms, 5000);
        assert!(!s.idle_qr);
        assert_eq!(s.validate().unwrap().name, "pi-ili9341-2.8");
        assert!(parse("board = \"x\"\nheader = \"h\"\nlanguage = \"sv\"\n").is_err());
        assert!(parse("board = \"x\"\nheader = \"h\"\nlangauge = \"da\"\n").is_err());
    }

    #[test]
    fn bad_settings_are_explained() {
        let with = |board: &str, header: &str, hold: u64| DisplaySettings {
            board: board.into(),
            boards_dir: None,
            language: Language::En,
            header: header.into(),
            idle_qr: false,
            result_hold_ms: hold,
        };
        let err = with("pi-nothing", "Shop", 5000)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown board profile"), "{err}");
        let err = with("terminal", "Shop ★", 5000)
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains('★'), "{err}");
        assert!(with("terminal", "", 5000).validate().is_err());
        assert!(with("terminal", &"x".repeat(37), 5000).validate().is_err());
        assert!(with("terminal", "Shop", 10).validate().is_err());
        assert!(with("terminal", "Kauppa Äö €", 5000).validate().is_ok());
    }
}
