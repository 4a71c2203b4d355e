//! SPI panels (ST7789, ILI9341, ILI9486 class) driven from user space with mipidsi over
//! linux-embedded-hal: `/dev/spidevB.C` for data, GPIO lines for data/command, reset and
//! backlight. No kernel display driver or overlay beyond `dtparam=spi=on` is needed.

use super::gpio::{self, Pin};
use super::{Backend, DisplayError, FrameSink, Graphic};
use crate::display::board::{Controller, SpiConfig};
use crate::display::frame::Frame;
use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{Delay, SpidevDevice};
use mipidsi::interface::{Interface, InterfacePixelFormat};
use mipidsi::models::{ILI9341Rgb565, ILI9486Rgb666, Model, ST7789};
use mipidsi::options::{ColorInversion, ColorOrder, Orientation, Rotation as PanelRotation};
use mipidsi::{Builder, Display, NoResetPin};

/// spidev's default transfer limit (`bufsiz` module parameter) is 4096 bytes; larger writes
/// fail, so pixel data goes out in chunks of this size.
const CHUNK: usize = 4096;

/// The mipidsi command/pixel interface on a spidev device plus a data/command line.
pub struct SpidevInterface {
    spi: SpidevDevice,
    dc: Pin,
    buffer: Vec<u8>,
}

#[derive(Debug)]
pub enum LinkError {
    Spi(linux_embedded_hal::SPIError),
    Dc(gpio::PinError),
}

impl SpidevInterface {
    fn flush(&mut self) -> Result<(), LinkError> {
        if !self.buffer.is_empty() {
            self.spi.write(&self.buffer).map_err(LinkError::Spi)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

impl Interface for SpidevInterface {
    type Word = u8;
    type Error = LinkError;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), LinkError> {
        self.dc.set_low().map_err(LinkError::Dc)?;
        self.spi.write(&[command]).map_err(LinkError::Spi)?;
        self.dc.set_high().map_err(LinkError::Dc)?;
        for chunk in args.chunks(CHUNK) {
            self.spi.write(chunk).map_err(LinkError::Spi)?;
        }
        Ok(())
    }

    fn send_pixels<const N: usize>(
        &mut self,
        pixels: impl IntoIterator<Item = [u8; N]>,
    ) -> Result<(), LinkError> {
        for pixel in pixels {
            if self.buffer.len() + N > CHUNK {
                self.flush()?;
            }
            self.buffer.extend_from_slice(&pixel);
        }
        self.flush()
    }

    fn send_repeated_pixel<const N: usize>(&mut self, pixel: [u8; N], count: u32) -> Result<(), LinkError> {
        self.send_pixels((0..count).map(|_| pixel))
    }
}

/// A panel initialised and ready for whole frames.
pub struct SpiPanel<M, RST>
where
    M: Model,
    M::ColorFormat: InterfacePixelFormat<u8>,
    RST: OutputPin,
{
    display: Display<SpidevInterface, M, RST>,
    size: Size,
    description: String,
    _backlight: Option<Pin>,
}

impl<M, RST> FrameSink for SpiPanel<M, RST>
where
    M: Model + Send,
    RST: OutputPin + Send,
    M::ColorFormat: From<Rgb888> + InterfacePixelFormat<u8>,
{
    fn describe(&self) -> String {
        self.description.clone()
    }

    fn size(&self) -> Size {
        self.size
    }

    fn push(&mut self, frame: &Frame) -> Result<(), DisplayError> {
        let (w, h) = (self.size.width as u16, self.size.height as u16);
        self.display
            .set_pixels(
                0,
                0,
                w - 1,
                h - 1,
                frame.pixels().iter().map(|c| M::ColorFormat::from(*c)),
            )
            .map_err(|e| DisplayError::Device {
                device: self.description.clone(),
                message: format!("{e:?}"),
            })
    }
}

/// Opens and initialises the panel described by `cfg`.
pub fn open(cfg: &SpiConfig) -> Result<Box<dyn Backend>, DisplayError> {
    match cfg.controller {
        Controller::St7789 => open_model(cfg, ST7789),
        Controller::Ili9341 => open_model(cfg, ILI9341Rgb565),
        // ILI9486 boards on SPI only accept 18-bit pixels.
        Controller::Ili9486 => open_model(cfg, ILI9486Rgb666),
    }
}

fn open_model<M>(cfg: &SpiConfig, model: M) -> Result<Box<dyn Backend>, DisplayError>
where
    M: Model + Send + 'static,
    M::ColorFormat: From<Rgb888> + InterfacePixelFormat<u8>,
{
    let description = format!("{:?} on {}", cfg.controller, cfg.spi_device.display()).to_lowercase();
    let (fw, fh) = M::FRAMEBUFFER_SIZE;
    if cfg.width + cfg.offset_x > u32::from(fw) || cfg.height + cfg.offset_y > u32::from(fh) {
        return Err(DisplayError::Device {
            device: description,
            message: format!(
                "{}x{} at offset {},{} exceeds the controller's {fw}x{fh}",
                cfg.width, cfg.height, cfg.offset_x, cfg.offset_y
            ),
        });
    }
    let mut spi = SpidevDevice::open(&cfg.spi_device).map_err(|e| {
        DisplayError::opening(
            &cfg.spi_device,
            std::io::Error::from(e.inner().kind()),
            "SPI is off: add dtparam=spi=on to /boot/firmware/config.txt and reboot",
        )
    })?;
    let mode = match cfg.spi_mode {
        0 => SpiModeFlags::SPI_MODE_0,
        1 => SpiModeFlags::SPI_MODE_1,
        2 => SpiModeFlags::SPI_MODE_2,
        _ => SpiModeFlags::SPI_MODE_3,
    };
    spi.configure(
        &SpidevOptions::new()
            .max_speed_hz(cfg.spi_speed_hz)
            .mode(mode)
            .build(),
    )
    .map_err(|e| DisplayError::Device {
        device: description.clone(),
        message: format!("cannot configure SPI: {e}"),
    })?;
    let dc = gpio::output(cfg.gpio, &cfg.gpio_chip, cfg.dc_pin, false)?;
    let reset = cfg
        .reset_pin
        .map(|line| gpio::output(cfg.gpio, &cfg.gpio_chip, line, true))
        .transpose()?;
    let interface = SpidevInterface {
        spi,
        dc,
        buffer: Vec::with_capacity(CHUNK),
    };
    let rotation = match cfg.rotation.degrees() {
        90 => PanelRotation::Deg90,
        180 => PanelRotation::Deg180,
        270 => PanelRotation::Deg270,
        _ => PanelRotation::Deg0,
    };
    let builder = Builder::new(model, interface)
        .display_size(cfg.width as u16, cfg.height as u16)
        .display_offset(cfg.offset_x as u16, cfg.offset_y as u16)
        .orientation(Orientation::new().rotate(rotation))
        .color_order(if cfg.bgr { ColorOrder::Bgr } else { ColorOrder::Rgb })
        .invert_colors(if cfg.invert_colors {
            ColorInversion::Inverted
        } else {
            ColorInversion::Normal
        });
    let init_error = |e: &dyn std::fmt::Debug| DisplayError::Device {
        device: description.clone(),
        message: format!("panel initialisation failed: {e:?}"),
    };
    let size = cfg.rotation.logical_size(Size::new(cfg.width, cfg.height));
    let backlight = || {
        cfg.backlight_pin
            .map(|line| gpio::output(cfg.gpio, &cfg.gpio_chip, line, true))
            .transpose()
    };
    match reset {
        Some(pin) => {
            let display = builder
                .reset_pin(pin)
                .init(&mut Delay)
                .map_err(|e| init_error(&e))?;
            let backlight = backlight()?;
            Ok(Box::new(Graphic::new(SpiPanel {
                display,
                size,
                description,
                _backlight: backlight,
            })))
        }
        None => {
            // Without a reset line mipidsi sends a software reset instead.
            let display: Display<_, _, NoResetPin> = builder.init(&mut Delay).map_err(|e| init_error(&e))?;
            let backlight = backlight()?;
            Ok(Box::new(Graphic::new(SpiPanel {
                display,
                size,
                description,
                _backlight: backlight,
            })))
        }
    }
}
