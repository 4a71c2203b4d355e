//! The MobilePay QR code: encoding (EC level M) or taking over a symbol read from a backend's
//! image, placement with whole-pixel modules and a four-module quiet zone, and the
//! physical-size check behind the start-up warning.

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use qrcode::{Color, EcLevel, QrCode};

/// Modules of white border the QR specification asks for on every side.
pub const QUIET_ZONE: u32 = 4;

/// Below this printed side length (quiet zone excluded) phones struggle to read the code
/// from a normal checkout distance of ~30 cm; see docs/display.md.
pub const MIN_SIDE_MM: f64 = 25.0;

/// A QR symbol: its modules, encoded here or read from a picture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrSymbol {
    /// Modules per side, without the quiet zone.
    pub width: u32,
    dark: Vec<bool>,
}

#[derive(Debug, thiserror::Error)]
#[error("the QR payload cannot be encoded: {0}")]
pub struct QrError(String);

/// Modules per side of the smallest (version 1) and largest (version 40) QR symbol.
const WIDTHS: std::ops::RangeInclusive<u32> = 21..=177;

impl QrSymbol {
    /// Encodes `payload` at error-correction level M (15 % of the symbol may be damaged or
    /// dirty and it still reads).
    pub fn encode(payload: &str) -> Result<QrSymbol, QrError> {
        let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
            .map_err(|e| QrError(e.to_string()))?;
        let width = code.width() as u32;
        let dark = code.to_colors().into_iter().map(|c| c == Color::Dark).collect();
        Ok(QrSymbol { width, dark })
    }

    /// The symbol whose modules are `dark`, row by row from the top left (`width` × `width`,
    /// quiet zone excluded). For a symbol someone else drew: its modules are drawn as they
    /// are, nothing is encoded again. `None` unless `width` is a QR symbol's (21, 25, … 177
    /// modules) and `dark` holds exactly its modules.
    pub fn from_modules(width: u32, dark: Vec<bool>) -> Option<QrSymbol> {
        let is_qr_width = WIDTHS.contains(&width) && (width - 21) % 4 == 0;
        (is_qr_width && dark.len() == (width * width) as usize).then_some(QrSymbol { width, dark })
    }

    /// Modules per side including the quiet zone on both sides.
    pub fn width_with_quiet_zone(&self) -> u32 {
        self.width + 2 * QUIET_ZONE
    }

    pub fn is_dark(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.width && self.dark[(y * self.width + x) as usize]
    }
}

/// Where and how large a QR code is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QrPlacement {
    /// The code including its quiet zone, centred in the area it was given.
    pub outer: Rectangle,
    /// Pixels per module (always whole pixels: scaled modules of uneven size read badly).
    pub module_px: u32,
    /// Modules per side without the quiet zone.
    pub modules: u32,
}

impl QrPlacement {
    /// The largest whole-pixel module size at which `symbol` plus quiet zone fits `area`;
    /// `None` when not even one pixel per module fits.
    pub fn fit(symbol: &QrSymbol, area: Rectangle) -> Option<QrPlacement> {
        let outer_modules = symbol.width_with_quiet_zone();
        let module_px = area.size.width.min(area.size.height) / outer_modules;
        if module_px == 0 {
            return None;
        }
        let side = module_px * outer_modules;
        let top_left = area.top_left
            + Point::new(
                ((area.size.width - side) / 2) as i32,
                ((area.size.height - side) / 2) as i32,
            );
        Some(QrPlacement {
            outer: Rectangle::new(top_left, Size::new(side, side)),
            module_px,
            modules: symbol.width,
        })
    }

    /// Side of the code itself (quiet zone excluded) in pixels.
    pub fn code_side_px(&self) -> u32 {
        self.module_px * self.modules
    }
}

/// Draws `symbol` black on white, quiet zone included, at `placement`.
pub fn draw<D>(target: &mut D, symbol: &QrSymbol, placement: &QrPlacement) -> Result<(), D::Error>
where
    D: DrawTarget,
    D::Color: From<Rgb888>,
{
    target.fill_solid(&placement.outer, Rgb888::WHITE.into())?;
    let m = placement.module_px;
    let origin = placement.outer.top_left + Point::new((QUIET_ZONE * m) as i32, (QUIET_ZONE * m) as i32);
    for y in 0..symbol.width {
        // Runs of dark modules become one rectangle: far fewer calls on slow SPI panels.
        let mut x = 0;
        while x < symbol.width {
            if !symbol.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < symbol.width && symbol.is_dark(x, y) {
                x += 1;
            }
            let run = Rectangle::new(
                origin + Point::new((start * m) as i32, (y * m) as i32),
                Size::new((x - start) * m, m),
            );
            target.fill_solid(&run, Rgb888::BLACK.into())?;
        }
    }
    Ok(())
}

/// The physical side of the drawn code in millimetres, given the panel's pixel pitch.
pub fn code_side_mm(placement: &QrPlacement, mm_per_px: f64) -> f64 {
    placement.code_side_px() as f64 * mm_per_px
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PoS V10 payloads of a 15-digit and of a GUID beacon id.
    const SHORT: &str = "mobilepaypos://pos?id=123456789012345&source=qr";
    const LONG: &str = "mobilepaypos://pos?id=cd851cd7-8398-4a03-83c1-391a2f5cb71c&source=qr";

    #[test]
    fn fifteen_digit_beacon_fits_version_3_and_guid_version_5() {
        assert_eq!(QrSymbol::encode(SHORT).unwrap().width, 29);
        assert_eq!(QrSymbol::encode(LONG).unwrap().width, 37);
    }

    #[test]
    fn a_symbol_from_modules_is_drawn_as_given() {
        let encoded = QrSymbol::encode(SHORT).unwrap();
        let modules: Vec<bool> = (0..29 * 29).map(|i| encoded.is_dark(i % 29, i / 29)).collect();
        assert_eq!(QrSymbol::from_modules(29, modules.clone()), Some(encoded));
        // Not a QR symbol's size, or not its number of modules.
        assert_eq!(QrSymbol::from_modules(30, vec![false; 30 * 30]), None);
        assert_eq!(QrSymbol::from_modules(17, vec![false; 17 * 17]), None);
        assert_eq!(QrSymbol::from_modules(181, vec![false; 181 * 181]), None);
        assert_eq!(QrSymbol::from_modules(29, modules[1..].to_vec()), None);
    }

    #[test]
    fn modules_are_whole_pixels_and_as_large_as_possible() {
        let symbol = QrSymbol::encode(SHORT).unwrap();
        let area = Rectangle::new(Point::new(10, 20), Size::new(200, 150));
        let p = QrPlacement::fit(&symbol, area).unwrap();
        // 37 modules with quiet zone: 150 / 37 = 4 px; 5 px would need 185.
        assert_eq!(p.module_px, 4);
        assert_eq!(p.outer.size, Size::new(148, 148));
        assert!(area.contains(p.outer.top_left));
        assert!(area.contains(p.outer.bottom_right().unwrap()));
        assert_eq!(
            QrPlacement::fit(&symbol, Rectangle::new(Point::zero(), Size::new(36, 36))),
            None
        );
    }
}
