//! Board profiles: which display a supported setup has and how it is wired. One TOML file
//! per setup lives in `boards/`; the shipped ones are built into the binary, and a directory
//! given in the configuration may add more or override them by name.
//!
//! This module only reads and checks profiles: [`super::device`] opens the output a profile
//! describes and [`super::qr_size`] checks its QR code. The outputs own their wiring types
//! ([`Rotation`], [`SpiConfig`], [`FbGeometry`]), so they never need to know about profiles.

use super::output::framebuffer::FbGeometry;
use super::output::rotation::Rotation;
use super::output::spi::{Controller, SpiConfig};
use embedded_graphics::prelude::*;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The profiles shipped in `boards/`.
const BUILT_IN: &[(&str, &str)] = &[
    ("headless-png", include_str!("../../boards/headless-png.toml")),
    ("terminal", include_str!("../../boards/terminal.toml")),
    ("pi-ili9341-2.8", include_str!("../../boards/pi-ili9341-2.8.toml")),
    (
        "pi-zero2w-st7789-1.3",
        include_str!("../../boards/pi-zero2w-st7789-1.3.toml"),
    ),
    ("pi-st7789-2.0", include_str!("../../boards/pi-st7789-2.0.toml")),
    ("pi-ili9486-3.5", include_str!("../../boards/pi-ili9486-3.5.toml")),
    (
        "pi-hdmi-framebuffer",
        include_str!("../../boards/pi-hdmi-framebuffer.toml"),
    ),
    ("pi-dsi-7inch", include_str!("../../boards/pi-dsi-7inch.toml")),
    (
        "pi-ssd1306-status",
        include_str!("../../boards/pi-ssd1306-status.toml"),
    ),
];

/// The display part of a profile, by kind.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DisplayConfig {
    /// Writes the current screen to a PNG file.
    Png {
        path: PathBuf,
        width: u32,
        height: u32,
    },
    /// Draws into the terminal mposd runs in (demos).
    Terminal {
        width: u32,
        height: u32,
        #[serde(default = "one")]
        downscale: u32,
    },
    /// A Linux framebuffer device; `geometry` is read from the device when absent.
    Framebuffer {
        device: PathBuf,
        #[serde(default)]
        rotation: Rotation,
        geometry: Option<FbGeometry>,
    },
    Spi(SpiConfig),
    /// Text-only status OLED.
    Ssd1306 {
        i2c_device: PathBuf,
        #[serde(default = "ssd1306_address")]
        address: u8,
        #[serde(default = "oled_height")]
        height: u32,
        #[serde(default)]
        rotate_180: bool,
    },
}

fn one() -> u32 {
    1
}

fn ssd1306_address() -> u8 {
    0x3c
}

fn oled_height() -> u32 {
    64
}

/// The visible area of the panel in millimetres, in its native orientation.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Physical {
    pub width_mm: f64,
    pub height_mm: f64,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardProfile {
    pub name: String,
    pub description: String,
    pub display: DisplayConfig,
    pub physical: Option<Physical>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown board profile {name:?}; known profiles: {known}")]
    Unknown { name: String, known: String },
    #[error("board profile name {0:?} may only contain a-z, 0-9, '.', '-' and '_'")]
    BadName(String),
    #[error("board profile {name:?} ({source_path}) is invalid: {message}")]
    Invalid {
        name: String,
        source_path: String,
        message: String,
    },
    #[error("cannot read board profiles in {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
}

impl BoardProfile {
    /// Finds the profile `name`: first in `dir` (`{dir}/{name}.toml`), then among the
    /// built-in ones.
    pub fn load(name: &str, dir: Option<&Path>) -> Result<BoardProfile, ProfileError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        {
            return Err(ProfileError::BadName(name.to_string()));
        }
        if let Some(dir) = dir {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return BoardProfile::parse(name, &path.display().to_string(), &text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(ProfileError::Io { path, error }),
            }
        }
        match BUILT_IN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => BoardProfile::parse(name, "built in", text),
            None => Err(ProfileError::Unknown {
                name: name.to_string(),
                known: BoardProfile::names(dir)?.join(", "),
            }),
        }
    }

    /// Names of every profile available: built in plus those in `dir`.
    pub fn names(dir: Option<&Path>) -> Result<Vec<String>, ProfileError> {
        let mut names: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).map_err(|error| ProfileError::Io {
                path: dir.to_path_buf(),
                error,
            })?;
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                        names.push(stem.to_string());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Parses and validates profile text; `name` must match the `name` inside.
    pub fn parse(name: &str, source: &str, text: &str) -> Result<BoardProfile, ProfileError> {
        let invalid = |message: String| ProfileError::Invalid {
            name: name.to_string(),
            source_path: source.to_string(),
            message,
        };
        let profile: BoardProfile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if profile.name != name {
            return Err(invalid(format!("its name field says {:?}", profile.name)));
        }
        profile.validate().map_err(invalid)?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), String> {
        let positive = |w: u32, h: u32| {
            if w == 0 || h == 0 || w > 4096 || h > 4096 {
                Err(format!("display size {w}x{h} is out of range"))
            } else {
                Ok(())
            }
        };
        match &self.display {
            DisplayConfig::Png { width, height, .. } => positive(*width, *height)?,
            DisplayConfig::Terminal {
                width,
                height,
                downscale,
            } => {
                positive(*width, *height)?;
                if !(1..=8).contains(downscale) {
                    return Err("downscale must be 1..=8".into());
                }
            }
            DisplayConfig::Framebuffer { geometry, .. } => {
                if let Some(g) = geometry {
                    g.validate()?;
                }
            }
            DisplayConfig::Spi(spi) => {
                positive(spi.width, spi.height)?;
                let (fw, fh) = match spi.controller {
                    Controller::St7789 | Controller::Ili9341 => (240, 320),
                    Controller::Ili9486 => (320, 480),
                };
                if spi.width + spi.offset_x > fw || spi.height + spi.offset_y > fh {
                    return Err(format!(
                        "{}x{} at offset {},{} does not fit the {:?} controller ({fw}x{fh})",
                        spi.width, spi.height, spi.offset_x, spi.offset_y, spi.controller
                    ));
                }
                if spi.spi_mode > 3 {
                    return Err("spi_mode must be 0..=3".into());
                }
            }
            DisplayConfig::Ssd1306 { height, .. } => {
                if *height != 64 && *height != 32 {
                    return Err("ssd1306 height must be 64 or 32".into());
                }
            }
        }
        if let Some(p) = self.physical {
            if !(p.width_mm > 0.0 && p.height_mm > 0.0 && p.width_mm < 2000.0 && p.height_mm < 2000.0) {
                return Err("physical size must be positive millimetres".into());
            }
        }
        Ok(())
    }

    /// The native panel size in pixels, when the profile fixes it (a framebuffer without
    /// explicit geometry learns it from the device).
    pub fn native_size(&self) -> Option<Size> {
        match &self.display {
            DisplayConfig::Png { width, height, .. } | DisplayConfig::Terminal { width, height, .. } => {
                Some(Size::new(*width, *height))
            }
            DisplayConfig::Framebuffer { geometry, .. } => geometry.map(|g| Size::new(g.width, g.height)),
            DisplayConfig::Spi(spi) => Some(Size::new(spi.width, spi.height)),
            DisplayConfig::Ssd1306 { height, .. } => Some(Size::new(128, *height)),
        }
    }

    /// The size screens are drawn at, after rotation.
    pub fn logical_size(&self) -> Option<Size> {
        let native = self.native_size()?;
        Some(match &self.display {
            DisplayConfig::Framebuffer { rotation, .. } => rotation.logical_size(native),
            DisplayConfig::Spi(spi) => spi.rotation.logical_size(native),
            _ => native,
        })
    }

    /// Whether the display can show the QR code at all.
    pub fn shows_qr(&self) -> bool {
        !matches!(self.display, DisplayConfig::Ssd1306 { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_profile_loads_and_matches_its_file_name() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("boards");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.ok()?.path();
                (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(str::to_string))?
            })
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in, "boards/ and the built-in list differ");
        for name in &built_in {
            let profile = BoardProfile::load(name, None).unwrap();
            assert!(!profile.description.is_empty());
            let from_dir = BoardProfile::load(name, Some(&dir)).unwrap();
            assert_eq!(profile, from_dir);
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = BoardProfile::load("pi-ili9999", None).unwrap_err().to_string();
        assert!(err.contains("unknown board profile \"pi-ili9999\""), "{err}");
        assert!(err.contains("pi-ili9341-2.8"), "{err}");
        let err = BoardProfile::load("../etc/passwd", None).unwrap_err();
        assert!(matches!(err, ProfileError::BadName(_)), "{err}");
    }

    #[test]
    fn a_directory_can_add_profiles_and_typos_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("bench.toml"),
            "name = \"bench\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"/tmp/x.png\"\nwidth = 320\nheight = 240\n",
        )
        .unwrap();
        let p = BoardProfile::load("bench", Some(dir.path())).unwrap();
        assert_eq!(p.logical_size(), Some(Size::new(320, 240)));
        assert!(BoardProfile::names(Some(dir.path()))
            .unwrap()
            .contains(&"bench".to_string()));

        std::fs::write(
            dir.path().join("typo.toml"),
            "name = \"typo\"\ndescription = \"x\"\n[display]\nkind = \"spi\"\ncontroller = \"st7789\"\nspi_device = \"/dev/spidev0.0\"\ndc_pin = 1\nwidth = 240\nheight = 240\nrotaton = 90\n",
        )
        .unwrap();
        let err = BoardProfile::load("typo", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rotaton"), "{err}");

        std::fs::write(
            dir.path().join("big.toml"),
            "name = \"big\"\ndescription = \"x\"\n[display]\nkind = \"spi\"\ncontroller = \"ili9341\"\nspi_device = \"/dev/spidev0.0\"\ndc_pin = 1\nwidth = 320\nheight = 480\n",
        )
        .unwrap();
        let err = BoardProfile::load("big", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not fit"), "{err}");

        std::fs::write(
            dir.path().join("rot.toml"),
            "name = \"rot\"\ndescription = \"x\"\n[display]\nkind = \"framebuffer\"\ndevice = \"/dev/fb0\"\nrotation = 45\n",
        )
        .unwrap();
        let err = BoardProfile::load("rot", Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("0, 90, 180 or 270"), "{err}");
    }
}
