//! Reads the QR symbol out of a payment backend's PNG image, module for module.
//!
//! The backend (ePayment with `userFlow: QR`) draws the payment's code itself and the display
//! shows exactly that symbol: rqrr finds the code's grid in the picture and every module's
//! colour is read from it, then [`QrSymbol::from_modules`] takes the modules over. Nothing is
//! encoded again from the decoded text, so the customer never scans a code of the display's
//! making, only the backend's, redrawn crisply at the panel's whole-pixel module size.
//!
//! Pure: bytes in, symbol out. Fetching the image is [`super::qr_fetch`]'s job.

use super::qr::QrSymbol;
use rqrr::BitGrid;

/// Largest picture side accepted: the backend draws 100 to 2000 pixels; anything far larger
/// is not a payment code and would cost a small board too much memory to decode.
pub const MAX_SIDE: u32 = 4096;

/// Why no symbol could be read from an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrImageError {
    #[error("the image is not a PNG picture: {0}")]
    NotPng(String),
    #[error("the picture is {width}x{height} pixels, larger than a QR image can be")]
    TooLarge { width: u32, height: u32 },
    #[error("no readable QR code in the picture")]
    NoCode,
    #[error("the picture holds {0} QR codes, not one")]
    SeveralCodes(usize),
}

/// The one QR symbol drawn in the PNG picture `bytes`.
pub fn read_symbol(bytes: &[u8]) -> Result<QrSymbol, QrImageError> {
    let (width, height, luma) = greyscale(bytes)?;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| luma[y * width + x]);
    let mut symbols: Vec<QrSymbol> = image.detect_grids().iter().filter_map(readable).collect();
    match symbols.len() {
        0 => Err(QrImageError::NoCode),
        1 => Ok(symbols.remove(0)),
        n => Err(QrImageError::SeveralCodes(n)),
    }
}

/// The modules of a grid found in the picture, if it is a QR symbol that reads as drawn:
/// its format information is valid without mirroring and its error correction succeeds, so
/// the modules copied are the backend's symbol and not a misread of it.
fn readable<G: BitGrid>(grid: &rqrr::Grid<G>) -> Option<QrSymbol> {
    grid.get_raw_data().ok()?;
    grid.decode().ok()?;
    let side = grid.grid.size();
    let dark = (0..side * side)
        .map(|i| grid.grid.bit(i / side, i % side))
        .collect();
    QrSymbol::from_modules(u32::try_from(side).ok()?, dark)
}

/// The picture's brightness, 0 (black) to 255 (white), row by row; transparent pixels count
/// as the white they are shown on.
fn greyscale(bytes: &[u8]) -> Result<(usize, usize, Vec<u8>), QrImageError> {
    let not_png = |e: png::DecodingError| QrImageError::NotPng(e.to_string());
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(not_png)?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(QrImageError::TooLarge { width, height });
    }
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(not_png)?;
    let over_white = |value: u8, alpha: u8| {
        let (v, a) = (u32::from(value), u32::from(alpha));
        ((v * a + 255 * (255 - a)) / 255) as u8
    };
    let luma =
        |r: u8, g: u8, b: u8| ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000) as u8;
    let pixels = &buf[..info.buffer_size()];
    let grey: Vec<u8> = match info.color_type {
        png::ColorType::Grayscale => pixels.to_vec(),
        png::ColorType::GrayscaleAlpha => pixels.chunks_exact(2).map(|p| over_white(p[0], p[1])).collect(),
        png::ColorType::Rgb => pixels.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])).collect(),
        png::ColorType::Rgba => pixels
            .chunks_exact(4)
            .map(|p| over_white(luma(p[0], p[1], p[2]), p[3]))
            .collect(),
        // Palettes are expanded to RGB(A) by the normalising transformation.
        png::ColorType::Indexed => return Err(QrImageError::NotPng("unexpanded palette".into())),
    };
    Ok((width as usize, height as usize, grey))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::qr::QUIET_ZONE;

    const PAYLOAD: &str = "https://qr.example/pay?token=0f3c9a";

    /// `symbol` as a `module`-pixel PNG of `color` type, dark modules `dark`, light ones
    /// `light` (grey levels), with a quiet zone.
    fn png_of(symbol: &QrSymbol, module: u32, color: png::ColorType, dark: u8, light: u8) -> Vec<u8> {
        let side = symbol.width_with_quiet_zone() * module;
        let channels = match color {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            _ => 4,
        };
        let mut data = Vec::new();
        for y in 0..side {
            for x in 0..side {
                let (mx, my) = (
                    (x / module).checked_sub(QUIET_ZONE),
                    (y / module).checked_sub(QUIET_ZONE),
                );
                let is_dark = matches!((mx, my), (Some(mx), Some(my)) if symbol.is_dark(mx, my));
                let v = if is_dark { dark } else { light };
                data.extend(std::iter::repeat_n(v, channels));
                if channels % 2 == 0 {
                    *data.last_mut().unwrap() = 255;
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn the_modules_are_read_back_exactly_in_every_colour_type() {
        let symbol = QrSymbol::encode(PAYLOAD).unwrap();
        for color in [
            png::ColorType::Grayscale,
            png::ColorType::GrayscaleAlpha,
            png::ColorType::Rgb,
            png::ColorType::Rgba,
        ] {
            let png = png_of(&symbol, 7, color, 20, 240);
            assert_eq!(read_symbol(&png), Ok(symbol.clone()), "{color:?}");
        }
    }

    #[test]
    fn a_symbol_of_another_encoder_is_kept_as_drawn_not_re_encoded() {
        // Level H holds the same text in a different symbol than the display's own level M:
        // the modules read back are the picture's, not an encoding of the decoded text.
        let code = qrcode::QrCode::with_error_correction_level(PAYLOAD, qrcode::EcLevel::H).unwrap();
        let width = code.width() as u32;
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        let theirs = QrSymbol::from_modules(width, dark).unwrap();
        assert_ne!(theirs, QrSymbol::encode(PAYLOAD).unwrap());
        let png = png_of(&theirs, 5, png::ColorType::Grayscale, 0, 255);
        assert_eq!(read_symbol(&png), Ok(theirs));
    }

    #[test]
    fn pictures_without_one_code_are_refused() {
        assert!(matches!(
            read_symbol(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Err(QrImageError::NotPng(_))
        ));
        let mut truncated = png_of(
            &QrSymbol::encode(PAYLOAD).unwrap(),
            4,
            png::ColorType::Rgb,
            0,
            255,
        );
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(read_symbol(&truncated), Err(QrImageError::NotPng(_))));

        // A picture wider than any QR image is refused before it is decoded.
        let mut wide = Vec::new();
        let mut encoder = png::Encoder::new(&mut wide, MAX_SIDE + 1, 1);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[255; MAX_SIDE as usize + 1]).unwrap();
        writer.finish().unwrap();
        assert_eq!(
            read_symbol(&wide),
            Err(QrImageError::TooLarge {
                width: MAX_SIDE + 1,
                height: 1
            })
        );

        let blank = QrSymbol::from_modules(21, vec![false; 21 * 21]).unwrap();
        let png = png_of(&blank, 8, png::ColorType::Grayscale, 0, 255);
        assert_eq!(read_symbol(&png), Err(QrImageError::NoCode));
    }
}
