//! Panel rotation: panels are often mounted turned, so pictures are drawn in the customer's
//! orientation and mapped to the panel's native pixels on the way out.

use embedded_graphics::prelude::*;
use serde::Deserialize;

/// Clockwise rotation from the panel's native orientation to what the customer sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation(u16);

impl Rotation {
    pub const NONE: Rotation = Rotation(0);

    pub fn new(degrees: u16) -> Result<Rotation, String> {
        match degrees {
            0 | 90 | 180 | 270 => Ok(Rotation(degrees)),
            other => Err(format!("rotation must be 0, 90, 180 or 270, not {other}")),
        }
    }

    pub fn degrees(self) -> u16 {
        self.0
    }

    /// The size pictures are drawn at for a panel of `native` size.
    pub fn logical_size(self, native: Size) -> Size {
        match self.0 {
            90 | 270 => Size::new(native.height, native.width),
            _ => native,
        }
    }

    /// The logical (customer-facing) pixel shown at native pixel (`nx`, `ny`).
    pub fn to_logical(self, native: Size, nx: u32, ny: u32) -> (u32, u32) {
        let (w, h) = (native.width, native.height);
        match self.0 {
            90 => (ny, w - 1 - nx),
            180 => (w - 1 - nx, h - 1 - ny),
            270 => (h - 1 - ny, nx),
            _ => (nx, ny),
        }
    }
}

impl<'de> Deserialize<'de> for Rotation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Rotation::new(u16::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_maps_native_pixels_to_the_customer_view() {
        let native = Size::new(4, 2);
        // 90° clockwise: the logical top-left pixel sits at the native top-right.
        assert_eq!(Rotation::new(90).unwrap().to_logical(native, 3, 0), (0, 0));
        assert_eq!(Rotation::new(180).unwrap().to_logical(native, 3, 1), (0, 0));
        assert_eq!(Rotation::new(270).unwrap().to_logical(native, 0, 1), (0, 0));
        assert_eq!(Rotation::new(90).unwrap().logical_size(native), Size::new(2, 4));
    }
}
