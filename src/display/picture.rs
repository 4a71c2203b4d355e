//! An in-memory RGB picture: what every screen is first drawn into. Outputs then send it to a
//! PNG file, a terminal, a framebuffer or an SPI panel in one go, so a panel is never left
//! half-drawn for long and drawing code has one target to be tested against.

use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use std::convert::Infallible;
use std::io::{Read, Write};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    size: Size,
    pixels: Vec<Rgb888>,
}

#[derive(Debug, thiserror::Error)]
pub enum PngError {
    #[error("cannot write PNG: {0}")]
    Encode(#[from] png::EncodingError),
    #[error("cannot read PNG: {0}")]
    Decode(#[from] png::DecodingError),
    #[error("unsupported PNG layout {0:?}/{1:?} (expected 8-bit RGB or RGBA)")]
    Layout(png::ColorType, png::BitDepth),
}

impl Picture {
    pub fn new(size: Size) -> Picture {
        Picture {
            size,
            pixels: vec![Rgb888::WHITE; (size.width * size.height) as usize],
        }
    }

    pub fn width(&self) -> u32 {
        self.size.width
    }

    pub fn height(&self) -> u32 {
        self.size.height
    }

    /// The colour at (x, y); white outside the picture.
    pub fn pixel(&self, x: u32, y: u32) -> Rgb888 {
        if x < self.size.width && y < self.size.height {
            self.pixels[(y * self.size.width + x) as usize]
        } else {
            Rgb888::WHITE
        }
    }

    /// Rows top to bottom, pixels left to right.
    pub fn pixels(&self) -> &[Rgb888] {
        &self.pixels
    }

    /// Perceived brightness 0..=255 (ITU-R BT.601 weights), for QR decoding.
    #[cfg(feature = "sim")]
    pub fn luma(&self, x: u32, y: u32) -> u8 {
        let c = self.pixel(x, y);
        ((299 * c.r() as u32 + 587 * c.g() as u32 + 114 * c.b() as u32) / 1000) as u8
    }

    /// Every QR code a phone camera would find in the picture, decoded. The demo and the tests
    /// check what a customer would scan with it; the daemon never reads its own pictures, so
    /// the production build leaves it out.
    #[cfg(feature = "sim")]
    pub fn decode_qr_codes(&self) -> Vec<String> {
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(
            self.size.width as usize,
            self.size.height as usize,
            |x, y| self.luma(x as u32, y as u32),
        );
        image
            .detect_grids()
            .into_iter()
            .filter_map(|grid| grid.decode().ok().map(|(_, text)| text))
            .collect()
    }

    pub fn write_png<W: Write>(&self, out: W) -> Result<(), PngError> {
        let mut encoder = png::Encoder::new(out, self.size.width, self.size.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        let mut writer = encoder.write_header()?;
        let bytes: Vec<u8> = self.pixels.iter().flat_map(|c| [c.r(), c.g(), c.b()]).collect();
        writer.write_image_data(&bytes)?;
        writer.finish()?;
        Ok(())
    }

    pub fn read_png<R: Read>(input: R) -> Result<Picture, PngError> {
        let mut reader = png::Decoder::new(input).read_info()?;
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf)?;
        let channels = match (info.color_type, info.bit_depth) {
            (png::ColorType::Rgb, png::BitDepth::Eight) => 3,
            (png::ColorType::Rgba, png::BitDepth::Eight) => 4,
            (c, d) => return Err(PngError::Layout(c, d)),
        };
        let pixels = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| Rgb888::new(p[0], p[1], p[2]))
            .collect();
        Ok(Picture {
            size: Size::new(info.width, info.height),
            pixels,
        })
    }
}

impl OriginDimensions for Picture {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Picture {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Self::Color>>,
    {
        let (w, h) = (self.size.width as i32, self.size.height as i32);
        for Pixel(p, color) in pixels {
            if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
                self.pixels[(p.y * w + p.x) as usize] = color;
            }
        }
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: Self::Color) -> Result<(), Self::Error> {
        let area = area.intersection(&self.bounding_box());
        let Some(br) = area.bottom_right() else {
            return Ok(());
        };
        let w = self.size.width as usize;
        for y in area.top_left.y..=br.y {
            let row = y as usize * w;
            self.pixels[row + area.top_left.x as usize..=row + br.x as usize].fill(color);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_keeps_every_pixel() {
        let mut picture = Picture::new(Size::new(7, 5));
        picture
            .fill_solid(
                &Rectangle::new(Point::new(2, 1), Size::new(3, 2)),
                Rgb888::new(1, 2, 3),
            )
            .unwrap();
        let mut png = Vec::new();
        picture.write_png(&mut png).unwrap();
        assert_eq!(Picture::read_png(&png[..]).unwrap(), picture);
        assert_eq!(picture.pixel(4, 2), Rgb888::new(1, 2, 3));
        assert_eq!(picture.pixel(5, 2), Rgb888::WHITE);
    }

    #[test]
    fn drawing_outside_is_clipped() {
        let mut picture = Picture::new(Size::new(4, 4));
        picture
            .fill_solid(
                &Rectangle::new(Point::new(-2, -2), Size::new(10, 3)),
                Rgb888::BLACK,
            )
            .unwrap();
        assert_eq!(picture.pixel(3, 0), Rgb888::BLACK);
        assert_eq!(picture.pixel(0, 1), Rgb888::WHITE);
    }
}
