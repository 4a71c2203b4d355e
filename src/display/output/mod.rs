//! Where screens go. Every output takes a [`Screen`] and shows it; graphic outputs render it
//! into a [`Picture`] first and then push the whole picture, the status OLED shows text only.

pub mod framebuffer;
pub mod gpio;
pub mod png;
pub mod rotation;
pub mod spi;
pub mod ssd1306;
pub mod terminal;

use super::picture::Picture;
use super::render::{render, Look};
use super::screen::Screen;
use embedded_graphics::prelude::*;
use std::path::PathBuf;

/// Why a display could not be opened or updated. Payments never depend on it.
#[derive(Debug, thiserror::Error)]
pub enum DisplayError {
    #[error("display device {path} does not exist: {hint}")]
    DeviceMissing { path: PathBuf, hint: String },
    #[error("cannot use display device {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("display device {device}: {message}")]
    Device { device: String, message: String },
    #[error("cannot draw the screen: {0}")]
    Render(String),
}

impl DisplayError {
    /// Maps an error from opening `path` to a clear message, with `hint` when it is absent.
    pub fn opening(path: impl Into<PathBuf>, error: std::io::Error, hint: &str) -> DisplayError {
        let path = path.into();
        if error.kind() == std::io::ErrorKind::NotFound {
            DisplayError::DeviceMissing {
                path,
                hint: hint.to_string(),
            }
        } else {
            DisplayError::Io { path, error }
        }
    }
}

/// A customer display the renderer can drive. `show` may block (SPI transfers do); the
/// renderer calls it off the async runtime.
pub trait Output: Send {
    /// A short description for logs and the status API, e.g. `ili9341 on /dev/spidev0.0`.
    fn describe(&self) -> String;
    /// Shows `screen`, replacing whatever was shown before.
    fn show(&mut self, screen: &Screen, look: &Look) -> Result<(), DisplayError>;
}

/// A device that takes whole pictures of a fixed logical size.
pub trait PictureSink: Send {
    fn describe(&self) -> String;
    /// Logical size (after rotation) that pictures must have.
    fn size(&self) -> Size;
    fn push(&mut self, picture: &Picture) -> Result<(), DisplayError>;
}

/// Renders screens into a picture and pushes it to a [`PictureSink`].
pub struct Graphic<S> {
    sink: S,
    picture: Picture,
}

impl<S: PictureSink> Graphic<S> {
    pub fn new(sink: S) -> Graphic<S> {
        let picture = Picture::new(sink.size());
        Graphic { sink, picture }
    }

    /// The last picture rendered (what the panel should be showing).
    pub fn picture(&self) -> &Picture {
        &self.picture
    }
}

impl<S: PictureSink> Output for Graphic<S> {
    fn describe(&self) -> String {
        self.sink.describe()
    }

    fn show(&mut self, screen: &Screen, look: &Look) -> Result<(), DisplayError> {
        render(&mut self.picture, screen, look).map_err(|e| DisplayError::Render(e.to_string()))?;
        self.sink.push(&self.picture)
    }
}
