//! SPI panels (ST7789, ILI9341, ILI9486 class) driven from user space with mipidsi over
//! linux-embedded-hal: `/dev/spidevB.C` for data, GPIO lines for data/command, reset and
//! backlight. No kernel display driver or overlay beyond `dtparam=spi=on` is needed.

use super::gpio::{self, GpioDriver, Pin};
use super::rotation::Rotation;
use super::{DisplayError, Graphic, Output, PictureSink};
use crate::display::picture::Picture;
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
use serde::Deserialize;
use std::path::PathBuf;

/// Panel controllers supported over SPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    St7789,
    Ili9341,
    Ili9486,
}

/// How an SPI panel is wired: a board profile's `[display]` table with `kind = "spi"`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpiConfig {
    pub controller: Controller,
    pub spi_device: PathBuf,
    #[serde(default = "default_spi_speed")]
    pub spi_speed_hz: u32,
    #[serde(default)]
    pub spi_mode: u8,
    #[serde(default)]
    pub gpio: GpioDriver,
    #[serde(default = "default_gpio_chip")]
    pub gpio_chip: PathBuf,
    /// GPIO line offsets (on a Raspberry Pi: the BCM numbers).
    pub dc_pin: u32,
    pub reset_pin: Option<u32>,
    pub backlight_pin: Option<u32>,
    /// Native panel size, before rotation.
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub rotation: Rotation,
    #[serde(default)]
    pub offset_x: u32,
    #[serde(default)]
    pub offset_y: u32,
    #[serde(default)]
    pub invert_colors: bool,
    #[serde(default)]
    pub bgr: bool,
}

fn default_spi_speed() -> u32 {
    32_000_000
}

fn default_gpio_chip() -> PathBuf {
    PathBuf::from("/dev/gpiochip0")
}

/// spidev's default transfer limit (`bufsiz` module parameter) is 4096 bytes; larger writes
/// fail, so pixel data goes out in chunks of this size.
const CHUNK: usize = 4096;

/// The mipidsi command/pixel interface on an SPI device plus a data/command line (spidev and
/// a GPIO line in the daemon).
pub struct SpidevInterface<SPI, DC> {
    spi: SPI,
    dc: DC,
    buffer: Vec<u8>,
}

#[derive(Debug)]
pub enum LinkError<S, P> {
    Spi(S),
    Dc(P),
}

impl<SPI: SpiDevice, DC: OutputPin> SpidevInterface<SPI, DC> {
    pub fn new(spi: SPI, dc: DC) -> Self {
        SpidevInterface {
            spi,
            dc,
            buffer: Vec::with_capacity(CHUNK),
        }
    }

    fn flush(&mut self) -> Result<(), LinkError<SPI::Error, DC::Error>> {
        if !self.buffer.is_empty() {
            self.spi.write(&self.buffer).map_err(LinkError::Spi)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

impl<SPI: SpiDevice, DC: OutputPin> Interface for SpidevInterface<SPI, DC> {
    type Word = u8;
    type Error = LinkError<SPI::Error, DC::Error>;

    fn send_command(&mut self, command: u8, args: &[u8]) -> Result<(), Self::Error> {
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
    ) -> Result<(), Self::Error> {
        for pixel in pixels {
            if self.buffer.len() + N > CHUNK {
                self.flush()?;
            }
            self.buffer.extend_from_slice(&pixel);
        }
        self.flush()
    }

    fn send_repeated_pixel<const N: usize>(&mut self, pixel: [u8; N], count: u32) -> Result<(), Self::Error> {
        self.send_pixels((0..count).map(|_| pixel))
    }
}

/// A panel initialised and ready for whole pictures.
pub struct SpiPanel<DI, M, RST>
where
    DI: Interface<Word = u8>,
    M: Model,
    M::ColorFormat: InterfacePixelFormat<u8>,
    RST: OutputPin,
{
    display: Display<DI, M, RST>,
    size: Size,
    description: String,
    _backlight: Option<Pin>,
}

impl<DI, M, RST> PictureSink for SpiPanel<DI, M, RST>
where
    DI: Interface<Word = u8> + Send,
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

    /// One address window for the whole panel and one stream of pixels: the fewest
    /// commands, and the transfer goes out in 4 KiB chunks.
    fn push(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let (w, h) = (self.size.width as u16, self.size.height as u16);
        self.display
            .set_pixels(
                0,
                0,
                w - 1,
                h - 1,
                picture.pixels().iter().map(|c| M::ColorFormat::from(*c)),
            )
            .map_err(|e| DisplayError::Device {
                device: self.description.clone(),
                message: format!("{e:?}"),
            })
    }
}

/// Opens and initialises the panel described by `cfg`.
pub fn open(cfg: &SpiConfig) -> Result<Box<dyn Output>, DisplayError> {
    match cfg.controller {
        Controller::St7789 => open_model(cfg, ST7789),
        Controller::Ili9341 => open_model(cfg, ILI9341Rgb565),
        // ILI9486 boards on SPI only accept 18-bit pixels.
        Controller::Ili9486 => open_model(cfg, ILI9486Rgb666),
    }
}

fn open_model<M>(cfg: &SpiConfig, model: M) -> Result<Box<dyn Output>, DisplayError>
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
    let interface = SpidevInterface::new(spi, dc);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::render::{palette, render};
    use crate::display::{Language, Look, Screen};
    use embedded_graphics::pixelcolor::raw::ToBytes;
    use embedded_graphics::pixelcolor::Rgb565;
    use embedded_hal::spi::{ErrorType, Operation};
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    /// What went over the wire: (data/command line high, bytes of one SPI write).
    type Wire = Arc<Mutex<Vec<(bool, Vec<u8>)>>>;

    struct RecordingSpi {
        wire: Wire,
        dc: Arc<Mutex<bool>>,
    }

    struct RecordingPin(Arc<Mutex<bool>>);

    impl ErrorType for RecordingSpi {
        type Error = Infallible;
    }

    impl SpiDevice for RecordingSpi {
        fn transaction(&mut self, operations: &mut [Operation<'_, u8>]) -> Result<(), Infallible> {
            for op in operations {
                if let Operation::Write(bytes) = op {
                    let dc = *self.dc.lock().unwrap();
                    self.wire.lock().unwrap().push((dc, bytes.to_vec()));
                }
            }
            Ok(())
        }
    }

    impl embedded_hal::digital::ErrorType for RecordingPin {
        type Error = Infallible;
    }

    impl OutputPin for RecordingPin {
        fn set_low(&mut self) -> Result<(), Infallible> {
            *self.0.lock().unwrap() = false;
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            *self.0.lock().unwrap() = true;
            Ok(())
        }
    }

    struct NoDelay;
    impl embedded_hal::delay::DelayNs for NoDelay {
        fn delay_ns(&mut self, _: u32) {}
    }

    #[test]
    fn a_rotated_ili9341_frame_is_one_window_and_one_chunked_pixel_stream() {
        let wire: Wire = Arc::default();
        let dc = Arc::new(Mutex::new(false));
        let interface = SpidevInterface::new(
            RecordingSpi {
                wire: wire.clone(),
                dc: dc.clone(),
            },
            RecordingPin(dc),
        );
        let display = Builder::new(ILI9341Rgb565, interface)
            .display_size(240, 320)
            .orientation(Orientation::new().rotate(PanelRotation::Deg90))
            .init(&mut NoDelay)
            .unwrap();
        let mut panel = SpiPanel {
            display,
            size: Size::new(320, 240),
            description: "ili9341 test".into(),
            _backlight: None,
        };
        let mut picture = Picture::new(panel.size());
        let look = Look {
            language: Language::Da,
            header: "Kasse 1".into(),
        };
        render(&mut picture, &Screen::Closed, &look).unwrap();
        wire.lock().unwrap().clear();
        panel.push(&picture).unwrap();

        let wire = wire.lock().unwrap();
        let commands: Vec<(u8, Vec<u8>)> = wire
            .iter()
            .enumerate()
            .filter(|(_, (dc, bytes))| !dc && bytes.len() == 1)
            .map(|(i, (_, bytes))| {
                (
                    bytes[0],
                    wire.get(i + 1).map(|(_, a)| a.clone()).unwrap_or_default(),
                )
            })
            .collect();
        // Column and page address windows in the rotated (customer) coordinates, then
        // memory write.
        assert_eq!(commands[0], (0x2A, vec![0, 0, 0x01, 0x3F]));
        assert_eq!(commands[1], (0x2B, vec![0, 0, 0, 0xEF]));
        assert_eq!(commands[2].0, 0x2C);
        let start = wire.iter().position(|(dc, b)| !dc && b == &[0x2C]).unwrap() + 1;
        let data = &wire[start..];
        assert!(
            data.iter().all(|(dc, b)| *dc && b.len() <= CHUNK),
            "pixel data in <= 4 KiB writes"
        );
        let bytes: Vec<u8> = data.iter().flat_map(|(_, b)| b.iter().copied()).collect();
        assert_eq!(bytes.len(), 320 * 240 * 2);
        let first = Rgb565::from(palette::ACCENT).to_be_bytes();
        assert_eq!(&bytes[..2], &first[..], "the header colour comes first");
        let centre = ((120 * 320 + 160) * 2) as usize;
        let expected = Rgb565::from(picture.pixel(160, 120)).to_be_bytes();
        assert_eq!(&bytes[centre..centre + 2], &expected[..]);
    }
}
