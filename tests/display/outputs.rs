//! Outputs writing to real files and pipes: PNG, terminal half blocks, a framebuffer image
//! with a given geometry, and the status OLED's text drawing.

use crate::support::{all_screens, look, DIGITS, GUID};
use embedded_graphics::pixelcolor::{BinaryColor, Rgb565, Rgb888};
use embedded_graphics::prelude::*;
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::output::framebuffer::{read_pixel, FbGeometry, FramebufferSink, PixelFormat};
use mposd::display::output::png::PngSink;
use mposd::display::output::rotation::Rotation;
use mposd::display::output::ssd1306::draw_status;
use mposd::display::output::terminal::TerminalSink;
use mposd::display::output::{Graphic, Output};
use mposd::display::render::palette;
use mposd::display::{Language, Picture, Screen};
use mposd::money::{Currency, Minor};
use std::convert::Infallible;

fn scan(beacon: &str) -> Screen {
    Screen::ScanToPay {
        amount: Minor(12_500),
        currency: Currency::DKK,
        qr: qr_payload(beacon),
    }
}

#[test]
fn png_output_writes_a_scannable_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("display.png");
    let mut output = Graphic::new(PngSink::new(&path, Size::new(480, 320)).unwrap());
    output.show(&scan(GUID), &look(Language::Da)).unwrap();
    let picture = Picture::read_png(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!((picture.width(), picture.height()), (480, 320));
    assert_eq!(picture.decode_qr_codes(), vec![qr_payload(GUID)]);
    assert!(!dir.path().join("display.png.tmp").exists());

    let missing = PngSink::new(dir.path().join("no/such/dir/x.png"), Size::new(240, 240));
    assert!(missing.err().unwrap().to_string().contains("does not exist"));
}

/// Rebuilds the pixels from half-block terminal output (the last frame in `text`).
pub fn parse_terminal(text: &str) -> Picture {
    let last = text.rsplit("\x1b[H").next().unwrap();
    let rows: Vec<&str> = last.lines().collect();
    let mut pixels: Vec<Vec<(Rgb888, Rgb888)>> = Vec::new();
    for row in &rows {
        let mut cells = Vec::new();
        let (mut fg, mut bg) = (Rgb888::BLACK, Rgb888::BLACK);
        let mut rest = *row;
        while !rest.is_empty() {
            if let Some(seq) = rest.strip_prefix("\x1b[") {
                let end = seq.find('m').unwrap();
                let nums: Vec<u8> = seq[..end].split(';').filter_map(|n| n.parse().ok()).collect();
                if nums.len() == 10 {
                    fg = Rgb888::new(nums[2], nums[3], nums[4]);
                    bg = Rgb888::new(nums[7], nums[8], nums[9]);
                }
                rest = &seq[end + 1..];
            } else {
                let c = rest.chars().next().unwrap();
                assert_eq!(c, '▀', "unexpected character in terminal output");
                cells.push((fg, bg));
                rest = &rest[c.len_utf8()..];
            }
        }
        pixels.push(cells);
    }
    let width = pixels.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let mut picture = Picture::new(Size::new(width, rows.len() as u32 * 2));
    let points = pixels.iter().enumerate().flat_map(|(y, row)| {
        row.iter().enumerate().flat_map(move |(x, (top, bottom))| {
            [
                Pixel(Point::new(x as i32, 2 * y as i32), *top),
                Pixel(Point::new(x as i32, 2 * y as i32 + 1), *bottom),
            ]
        })
    });
    let _: Result<(), Infallible> = picture.draw_iter(points);
    picture
}

#[test]
fn terminal_half_blocks_carry_a_scannable_code() {
    let dir = tempfile::tempdir().unwrap();
    for downscale in [1, 2] {
        let path = dir.path().join(format!("tty-{downscale}"));
        let out = std::fs::File::create(&path).unwrap();
        let mut output = Graphic::new(TerminalSink::new(out, Size::new(240, 240), downscale));
        output.show(&Screen::Closed, &look(Language::En)).unwrap();
        output.show(&scan(DIGITS), &look(Language::Fi)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("\x1b[H").count(), 2, "one frame per show");
        let picture = parse_terminal(&text);
        assert_eq!(picture.width(), 240 / downscale);
        assert_eq!(
            picture.decode_qr_codes(),
            vec![qr_payload(DIGITS)],
            "downscale {downscale}"
        );
    }
}

fn framebuffer_image(bytes: &[u8], g: &FbGeometry) -> Picture {
    let mut picture = Picture::new(Size::new(g.width, g.height));
    let points = (0..g.height).flat_map(|y| {
        (0..g.width).map(move |x| {
            Pixel(
                Point::new(x as i32, y as i32),
                read_pixel(bytes, g, x, y).unwrap(),
            )
        })
    });
    let _: Result<(), Infallible> = picture.draw_iter(points);
    picture
}

#[test]
fn framebuffer_rgb565_rotated_writes_the_customer_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb1");
    let g = FbGeometry {
        width: 240,
        height: 320,
        stride: 480,
        format: PixelFormat::Rgb565,
    };
    std::fs::write(&path, vec![0u8; 480 * 320]).unwrap();
    let sink = FramebufferSink::open(&path, Some(g), Rotation::new(90).unwrap()).unwrap();
    let mut output = Graphic::new(sink);
    output.show(&scan(GUID), &look(Language::Da)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 480 * 320, "writes stay inside the framebuffer");
    let native = framebuffer_image(&bytes, &g);
    // Rotated 90° clockwise, the header bar across the logical top is the native right edge.
    let accent: Rgb888 = Rgb565::from(palette::ACCENT).into();
    assert_eq!(native.pixel(239, 160), accent);
    assert_eq!(native.pixel(0, 160), Rgb565::from(palette::BACKGROUND).into());
    assert_eq!(native.decode_qr_codes(), vec![qr_payload(GUID)]);
}

#[test]
fn framebuffer_xrgb8888_with_padded_rows_keeps_exact_colours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb0");
    let g = FbGeometry {
        width: 320,
        height: 240,
        stride: 320 * 4 + 64,
        format: PixelFormat::Xrgb8888,
    };
    std::fs::write(&path, vec![0xAB; (g.stride * g.height) as usize]).unwrap();
    let mut output = Graphic::new(FramebufferSink::open(&path, Some(g), Rotation::NONE).unwrap());
    output.show(&scan(DIGITS), &look(Language::En)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        bytes.len(),
        (g.stride * g.height) as usize,
        "writes stay inside the framebuffer"
    );
    assert_eq!(framebuffer_image(&bytes, &g), *output.picture());
    assert_eq!(output.picture().decode_qr_codes(), vec![qr_payload(DIGITS)]);
}

#[test]
fn framebuffer_geometry_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fb0");
    std::fs::write(&path, b"").unwrap();
    let err = FramebufferSink::open(&path, None, Rotation::NONE)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("not a framebuffer") && err.contains("geometry"),
        "{err}"
    );
    let bad = FbGeometry {
        width: 100,
        height: 10,
        stride: 100,
        format: PixelFormat::Xrgb8888,
    };
    let err = FramebufferSink::open(&path, Some(bad), Rotation::NONE)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("stride"), "{err}");
}

/// A 1-bit frame like the SSD1306's buffer.
struct Mono {
    size: Size,
    on: Vec<bool>,
}

impl OriginDimensions for Mono {
    fn size(&self) -> Size {
        self.size
    }
}

impl DrawTarget for Mono {
    type Color = BinaryColor;
    type Error = Infallible;
    fn draw_iter<I: IntoIterator<Item = Pixel<BinaryColor>>>(&mut self, pixels: I) -> Result<(), Infallible> {
        for Pixel(p, c) in pixels {
            assert!(
                p.x >= 0 && p.y >= 0 && (p.x as u32) < self.size.width && (p.y as u32) < self.size.height,
                "drawn off the OLED at {p:?}"
            );
            self.on[(p.y as u32 * self.size.width + p.x as u32) as usize] = c.is_on();
        }
        Ok(())
    }
}

#[test]
fn status_oled_text_fits_128x64_and_128x32() {
    for height in [64, 32] {
        for language in Language::ALL {
            for screen in all_screens() {
                let mut oled = Mono {
                    size: Size::new(128, height),
                    on: vec![false; 128 * height as usize],
                };
                let fitted = draw_status(&mut oled, &screen, &look(language)).unwrap();
                assert!(!fitted.is_empty());
                assert!(
                    fitted.iter().all(|f| !f.lines.is_empty()),
                    "{} {language} {height}: nothing drawn",
                    screen.kind()
                );
                assert!(oled.on.iter().any(|p| *p));
            }
        }
    }
}
