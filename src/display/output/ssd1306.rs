//! A 128×64 or 128×32 SSD1306 OLED on I2C as a text-only status display (for staff or as a
//! second line of information). It never shows the QR code: at ~1 mm per module a code on
//! it is not reliably scannable from a customer's distance.

use super::{DisplayError, Output};
use crate::display::content::{Content, Role};
use crate::display::render::Look;
use crate::display::screen::Screen;
use crate::display::text::{self, Align};
use embedded_graphics::pixelcolor::BinaryColor;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;
use linux_embedded_hal::I2cdev;
use ssd1306::mode::BufferedGraphicsMode;
use ssd1306::prelude::*;
use ssd1306::{I2CDisplayInterface, Ssd1306};
use std::path::Path;

/// Draws the status text of `screen`: the title on top, the amount (or the detail) below.
pub fn draw_status<D>(target: &mut D, screen: &Screen, look: &Look) -> Result<Vec<text::Fitted>, D::Error>
where
    D: DrawTarget<Color = BinaryColor>,
{
    target.clear(BinaryColor::Off)?;
    let content = Content::of(screen, look.language);
    let title = content.lines.iter().find(|l| l.role == Role::Title);
    let second = content
        .lines
        .iter()
        .find(|l| l.role == Role::Amount)
        .or_else(|| content.lines.iter().find(|l| l.role == Role::Detail));
    let size = target.bounding_box().size;
    let half = size.height / 2;
    let mut fitted = Vec::new();
    for (line, area) in [
        (title, Rectangle::new(Point::zero(), Size::new(size.width, half))),
        (
            second,
            Rectangle::new(
                Point::new(0, half as i32),
                Size::new(size.width, size.height - half),
            ),
        ),
    ] {
        if let Some(line) = line {
            let f = text::fit(&line.text, area.size, 2, line.role == Role::Amount);
            text::draw(target, &f, area, Align::Center, BinaryColor::On)?;
            fitted.push(f);
        }
    }
    Ok(fitted)
}

/// Panel heights the driver supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OledSize {
    W128H64,
    W128H32,
}

pub struct StatusOled<S: DisplaySize> {
    display: Ssd1306<I2CInterface<I2cdev>, S, BufferedGraphicsMode<S>>,
    description: String,
}

/// Opens and initialises the OLED at `address` on `bus` (e.g. `/dev/i2c-1`, 0x3C).
pub fn open(
    bus: &Path,
    address: u8,
    size: OledSize,
    rotate_180: bool,
) -> Result<Box<dyn Output>, DisplayError> {
    let description = format!("ssd1306 status on {} at {address:#04x}", bus.display());
    if !bus.exists() {
        return Err(DisplayError::DeviceMissing {
            path: bus.to_path_buf(),
            hint: "I2C is off: add dtparam=i2c_arm=on to /boot/firmware/config.txt and reboot".into(),
        });
    }
    let i2c = I2cdev::new(bus).map_err(|e| DisplayError::Device {
        device: description.clone(),
        message: e.to_string(),
    })?;
    let interface = I2CDisplayInterface::new_custom_address(i2c, address);
    let rotation = if rotate_180 {
        DisplayRotation::Rotate180
    } else {
        DisplayRotation::Rotate0
    };
    match size {
        OledSize::W128H64 => init(Ssd1306::new(interface, DisplaySize128x64, rotation), description),
        OledSize::W128H32 => init(Ssd1306::new(interface, DisplaySize128x32, rotation), description),
    }
}

fn init<S>(
    display: Ssd1306<I2CInterface<I2cdev>, S, ssd1306::mode::BasicMode>,
    description: String,
) -> Result<Box<dyn Output>, DisplayError>
where
    S: DisplaySize + Send + 'static,
    S::Buffer: Send,
{
    let mut display = display.into_buffered_graphics_mode();
    display.init().map_err(|e| DisplayError::Device {
        device: description.clone(),
        message: format!("initialisation failed: {e:?}"),
    })?;
    Ok(Box::new(StatusOled { display, description }))
}

impl<S> Output for StatusOled<S>
where
    S: DisplaySize + Send,
    S::Buffer: Send,
{
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn show(&mut self, screen: &Screen, look: &Look) -> Result<(), DisplayError> {
        let device = |e: &dyn std::fmt::Debug| DisplayError::Device {
            device: self.description.clone(),
            message: format!("{e:?}"),
        };
        draw_status(&mut self.display, screen, look).map_err(|e| device(&e))?;
        self.display.flush().map_err(|e| device(&e))
    }
}
