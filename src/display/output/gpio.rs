//! GPIO output lines for panel control (data/command, reset, backlight): the Linux GPIO
//! character device by default, or rppal on a Raspberry Pi when built with the `rpi`
//! feature (rppal is no longer maintained upstream, so it is opt-in).

use super::DisplayError;
use embedded_hal::digital::{ErrorKind, ErrorType, OutputPin};
use std::path::Path;

/// How GPIO lines are reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GpioDriver {
    /// `/dev/gpiochipN` through linux-embedded-hal; works on every Linux board.
    #[default]
    Cdev,
    /// Raspberry Pi registers through rppal (BCM numbering); needs the `rpi` feature.
    Rppal,
}

pub enum Pin {
    Cdev(linux_embedded_hal::CdevPin),
    #[cfg(feature = "rpi")]
    Rppal(rppal::gpio::OutputPin),
}

#[derive(Debug)]
pub struct PinError(String);

impl std::fmt::Display for PinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GPIO: {}", self.0)
    }
}

impl embedded_hal::digital::Error for PinError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

impl ErrorType for Pin {
    type Error = PinError;
}

impl OutputPin for Pin {
    fn set_low(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_low().map_err(|e| PinError(e.to_string())),
            #[cfg(feature = "rpi")]
            Pin::Rppal(p) => {
                p.set_low();
                Ok(())
            }
        }
    }

    fn set_high(&mut self) -> Result<(), PinError> {
        match self {
            Pin::Cdev(p) => p.set_high().map_err(|e| PinError(e.to_string())),
            #[cfg(feature = "rpi")]
            Pin::Rppal(p) => {
                p.set_high();
                Ok(())
            }
        }
    }
}

/// Requests `line` as an output, initially `high` or low.
pub fn output(driver: GpioDriver, chip: &Path, line: u32, high: bool) -> Result<Pin, DisplayError> {
    match driver {
        GpioDriver::Cdev => {
            use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
            let device = |e: linux_embedded_hal::gpio_cdev::Error| DisplayError::Device {
                device: format!("{} line {line}", chip.display()),
                message: e.to_string(),
            };
            if !chip.exists() {
                return Err(DisplayError::DeviceMissing {
                    path: chip.to_path_buf(),
                    hint: "no GPIO character device: is this the right gpio_chip for the board?".into(),
                });
            }
            let mut c = Chip::new(chip).map_err(device)?;
            let handle = c
                .get_line(line)
                .and_then(|l| l.request(LineRequestFlags::OUTPUT, u8::from(high), "mposd-display"))
                .map_err(device)?;
            linux_embedded_hal::CdevPin::new(handle)
                .map(Pin::Cdev)
                .map_err(device)
        }
        #[cfg(feature = "rpi")]
        GpioDriver::Rppal => {
            let gpio = rppal::gpio::Gpio::new().map_err(|e| DisplayError::Device {
                device: "rppal GPIO".into(),
                message: e.to_string(),
            })?;
            let bcm = u8::try_from(line).map_err(|_| DisplayError::Device {
                device: "rppal GPIO".into(),
                message: format!("BCM pin {line} does not exist"),
            })?;
            let pin = gpio.get(bcm).map_err(|e| DisplayError::Device {
                device: format!("rppal GPIO {bcm}"),
                message: e.to_string(),
            })?;
            Ok(Pin::Rppal(if high {
                pin.into_output_high()
            } else {
                pin.into_output_low()
            }))
        }
        #[cfg(not(feature = "rpi"))]
        GpioDriver::Rppal => Err(DisplayError::Device {
            device: "rppal GPIO".into(),
            message: "this build has no rppal support; rebuild with --features rpi or use gpio = \"cdev\""
                .into(),
        }),
    }
}
