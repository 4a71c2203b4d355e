//! Building the output device a board profile describes: the profile says what is wired
//! how, this turns it into an open [`Output`].

use super::board::DisplayConfig;
use super::output::framebuffer::FramebufferSink;
use super::output::png::PngSink;
use super::output::ssd1306::OledSize;
use super::output::terminal::TerminalSink;
use super::output::{self, DisplayError, Graphic, Output};
use embedded_graphics::prelude::*;

/// Opens the display `config` describes. Missing devices give [`DisplayError::DeviceMissing`]
/// with a hint.
pub fn open(config: &DisplayConfig) -> Result<Box<dyn Output>, DisplayError> {
    match config {
        DisplayConfig::Png { path, width, height } => Ok(Box::new(Graphic::new(PngSink::new(
            path,
            Size::new(*width, *height),
        )?))),
        DisplayConfig::Terminal {
            width,
            height,
            downscale,
        } => Ok(Box::new(Graphic::new(TerminalSink::new(
            std::io::stdout(),
            Size::new(*width, *height),
            *downscale,
        )))),
        DisplayConfig::Framebuffer {
            device,
            rotation,
            geometry,
        } => Ok(Box::new(Graphic::new(FramebufferSink::open(
            device, *geometry, *rotation,
        )?))),
        DisplayConfig::Spi(spi) => output::spi::open(spi),
        DisplayConfig::Ssd1306 {
            i2c_device,
            address,
            height,
            rotate_180,
        } => {
            let size = if *height == 32 {
                OledSize::W128H32
            } else {
                OledSize::W128H64
            };
            output::ssd1306::open(i2c_device, *address, size, *rotate_180)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::display::board::BoardProfile;

    #[test]
    fn missing_devices_say_which_and_how_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let spi = format!(
            "name = \"nospi\"\ndescription = \"x\"\n[display]\nkind = \"spi\"\ncontroller = \"ili9341\"\nspi_device = \"{}/spidev9.9\"\ndc_pin = 24\nwidth = 240\nheight = 320\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("nospi.toml"), spi).unwrap();
        let profile = BoardProfile::load("nospi", Some(dir.path())).unwrap();
        let err = open(&profile.display).err().unwrap();
        assert!(matches!(err, DisplayError::DeviceMissing { .. }), "{err}");
        assert!(
            err.to_string().contains("spidev9.9") && err.to_string().contains("dtparam=spi=on"),
            "{err}"
        );

        let fb = format!(
            "name = \"nofb\"\ndescription = \"x\"\n[display]\nkind = \"framebuffer\"\ndevice = \"{}/fb7\"\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("nofb.toml"), fb).unwrap();
        let profile = BoardProfile::load("nofb", Some(dir.path())).unwrap();
        let err = open(&profile.display).err().unwrap();
        assert!(err.to_string().contains("fb7 does not exist"), "{err}");

        let oled = format!(
            "name = \"nooled\"\ndescription = \"x\"\n[display]\nkind = \"ssd1306\"\ni2c_device = \"{}/i2c-9\"\n",
            dir.path().display()
        );
        std::fs::write(dir.path().join("nooled.toml"), oled).unwrap();
        let profile = BoardProfile::load("nooled", Some(dir.path())).unwrap();
        let err = open(&profile.display).err().unwrap();
        assert!(err.to_string().contains("i2c_arm=on"), "{err}");
    }
}
