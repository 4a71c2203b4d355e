//! A terminal as the customer display, for demos over SSH: two pixel rows per character cell
//! using the upper half block `▀` with 24-bit foreground (top pixel) and background (bottom
//! pixel) colours. Phones read the QR code from the screen when the terminal font is small.

use super::{DisplayError, PictureSink};
use crate::display::picture::Picture;
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use std::io::Write;

pub struct TerminalSink<W> {
    out: W,
    size: Size,
    downscale: u32,
}

impl<W: Write + Send> TerminalSink<W> {
    /// Pictures of `size` are shrunk by `downscale` (1 = one cell column per pixel) by
    /// averaging `downscale`×`downscale` blocks, so a 240-pixel-wide picture fits 120 columns.
    pub fn new(out: W, size: Size, downscale: u32) -> TerminalSink<W> {
        TerminalSink {
            out,
            size,
            downscale: downscale.max(1),
        }
    }

    fn sample(&self, picture: &Picture, x: u32, y: u32) -> Rgb888 {
        let d = self.downscale;
        let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
        for dy in 0..d {
            for dx in 0..d {
                let c = picture.pixel(x * d + dx, y * d + dy);
                r += c.r() as u32;
                g += c.g() as u32;
                b += c.b() as u32;
            }
        }
        let n = d * d;
        Rgb888::new((r / n) as u8, (g / n) as u8, (b / n) as u8)
    }

    /// The whole picture as terminal text: cursor home, then one line per two pixel rows.
    pub fn encode(&self, picture: &Picture) -> String {
        let cols = picture.width() / self.downscale;
        let rows = picture.height() / self.downscale;
        let mut s = String::with_capacity((cols * rows * 20) as usize);
        s.push_str("\x1b[H");
        for y in (0..rows).step_by(2) {
            let mut last: Option<(Rgb888, Rgb888)> = None;
            for x in 0..cols {
                let top = self.sample(picture, x, y);
                let bottom = if y + 1 < rows {
                    self.sample(picture, x, y + 1)
                } else {
                    Rgb888::BLACK
                };
                if last != Some((top, bottom)) {
                    s.push_str(&format!(
                        "\x1b[38;2;{};{};{};48;2;{};{};{}m",
                        top.r(),
                        top.g(),
                        top.b(),
                        bottom.r(),
                        bottom.g(),
                        bottom.b()
                    ));
                    last = Some((top, bottom));
                }
                s.push('▀');
            }
            s.push_str("\x1b[0m\n");
        }
        s
    }
}

impl<W: Write + Send> PictureSink for TerminalSink<W> {
    fn describe(&self) -> String {
        format!(
            "terminal ({}x{} / {})",
            self.size.width, self.size.height, self.downscale
        )
    }

    fn size(&self) -> Size {
        self.size
    }

    fn push(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let text = self.encode(picture);
        let io = |error| DisplayError::Io {
            path: "terminal".into(),
            error,
        };
        self.out.write_all(text.as_bytes()).map_err(io)?;
        self.out.flush().map_err(io)
    }
}
