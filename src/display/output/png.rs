//! PNG files: the headless output for tests, demos, documentation and kiosks that display
//! an image file with another program.

use super::{DisplayError, PictureSink};
use crate::display::picture::Picture;
use embedded_graphics::prelude::*;
use std::fs;
use std::io::BufWriter;
use std::path::PathBuf;

pub struct PngSink {
    path: PathBuf,
    size: Size,
}

impl PngSink {
    /// Pictures of `size` are written to `path`. The directory must exist.
    pub fn new(path: impl Into<PathBuf>, size: Size) -> Result<PngSink, DisplayError> {
        let path = path.into();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        if !dir.is_dir() {
            return Err(DisplayError::DeviceMissing {
                path: dir,
                hint: "create the directory for the display image".into(),
            });
        }
        Ok(PngSink { path, size })
    }
}

impl PictureSink for PngSink {
    fn describe(&self) -> String {
        format!("png {}", self.path.display())
    }

    fn size(&self) -> Size {
        self.size
    }

    /// Writes to a temporary file and renames it, so a viewer never reads half an image.
    fn push(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let io = |error| DisplayError::Io {
            path: self.path.clone(),
            error,
        };
        let file = fs::File::create(&tmp).map_err(io)?;
        picture
            .write_png(BufWriter::new(file))
            .map_err(|e| DisplayError::Render(e.to_string()))?;
        fs::rename(&tmp, &self.path).map_err(io)
    }
}
