//! Linux framebuffer devices (`/dev/fbN`): HDMI and DSI screens, and SPI panels driven by a
//! kernel driver (fbtft, tinydrm/`mipi-dbi` with fbdev emulation).
//!
//! The geometry is read from the device with `FBIOGET_VSCREENINFO`/`FBIOGET_FSCREENINFO`,
//! or given explicitly (then any file works, which is how the tests run). Pictures are
//! converted to the device's pixel format (RGB565 or XRGB8888), rotated in software when the
//! board profile says so, and written with one `pwrite` to the visible page.

use super::rotation::Rotation;
use super::{DisplayError, PictureSink};
use crate::display::picture::Picture;
use embedded_graphics::pixelcolor::{Rgb565, Rgb888, RgbColor};
use embedded_graphics::prelude::*;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Pixel layouts mposd can write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PixelFormat {
    /// 16 bits per pixel, little-endian `rrrrrggggggbbbbb`.
    Rgb565,
    /// 32 bits per pixel, little-endian `0xXXRRGGBB` (bytes B, G, R, X).
    Xrgb8888,
}

impl PixelFormat {
    pub fn bytes_per_pixel(self) -> u32 {
        match self {
            PixelFormat::Rgb565 => 2,
            PixelFormat::Xrgb8888 => 4,
        }
    }
}

/// The device's own (unrotated) geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct FbGeometry {
    pub width: u32,
    pub height: u32,
    /// Bytes per row (`line_length`), at least `width * bytes_per_pixel`.
    pub stride: u32,
    pub format: PixelFormat,
}

impl FbGeometry {
    pub fn validate(&self) -> Result<(), String> {
        if self.width == 0 || self.height == 0 {
            return Err("framebuffer width and height must be positive".into());
        }
        if self.stride < self.width * self.format.bytes_per_pixel() {
            return Err(format!(
                "framebuffer stride {} is shorter than a row of {} pixels",
                self.stride, self.width
            ));
        }
        Ok(())
    }
}

pub struct FramebufferSink {
    file: File,
    path: PathBuf,
    geometry: FbGeometry,
    rotation: Rotation,
    /// Byte offset of the visible page (`yoffset`/`xoffset` of a panned framebuffer).
    origin: u64,
    buffer: Vec<u8>,
}

impl FramebufferSink {
    /// Opens `path`; without `geometry` it is asked from the device.
    pub fn open(
        path: &Path,
        geometry: Option<FbGeometry>,
        rotation: Rotation,
    ) -> Result<FramebufferSink, DisplayError> {
        let file = OpenOptions::new().read(true).write(true).open(path).map_err(|e| {
            DisplayError::opening(
                path,
                e,
                "no framebuffer: connect the screen, enable its overlay (e.g. dtoverlay=vc4-kms-v3d) and reboot",
            )
        })?;
        let (geometry, origin) = match geometry {
            Some(g) => (g, 0),
            None => query::geometry(&file).map_err(|message| DisplayError::Device {
                device: path.display().to_string(),
                message,
            })?,
        };
        geometry.validate().map_err(|message| DisplayError::Device {
            device: path.display().to_string(),
            message,
        })?;
        Ok(FramebufferSink {
            file,
            path: path.to_path_buf(),
            geometry,
            rotation,
            origin,
            buffer: vec![0; (geometry.stride * geometry.height) as usize],
        })
    }
}

impl PictureSink for FramebufferSink {
    fn describe(&self) -> String {
        format!(
            "framebuffer {} ({}x{} {:?}, rotation {})",
            self.path.display(),
            self.geometry.width,
            self.geometry.height,
            self.geometry.format,
            self.rotation.degrees()
        )
    }

    fn size(&self) -> Size {
        self.rotation
            .logical_size(Size::new(self.geometry.width, self.geometry.height))
    }

    fn push(&mut self, picture: &Picture) -> Result<(), DisplayError> {
        let g = self.geometry;
        let native = Size::new(g.width, g.height);
        let bpp = g.format.bytes_per_pixel() as usize;
        for ny in 0..g.height {
            let row = (ny * g.stride) as usize;
            for nx in 0..g.width {
                let (lx, ly) = self.rotation.to_logical(native, nx, ny);
                let c = picture.pixel(lx, ly);
                let at = row + nx as usize * bpp;
                match g.format {
                    PixelFormat::Rgb565 => {
                        let raw = Rgb565::from(c).into_storage();
                        self.buffer[at..at + 2].copy_from_slice(&raw.to_le_bytes());
                    }
                    PixelFormat::Xrgb8888 => {
                        self.buffer[at..at + 4].copy_from_slice(&[c.b(), c.g(), c.r(), 0]);
                    }
                }
            }
        }
        self.file
            .write_all_at(&self.buffer, self.origin)
            .map_err(|error| DisplayError::Io {
                path: self.path.clone(),
                error,
            })
    }
}

/// Reads a pixel back from a framebuffer image, for checks and tests.
pub fn read_pixel(bytes: &[u8], geometry: &FbGeometry, x: u32, y: u32) -> Option<Rgb888> {
    let at = (y * geometry.stride + x * geometry.format.bytes_per_pixel()) as usize;
    match geometry.format {
        PixelFormat::Rgb565 => {
            let raw = u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?);
            Some(Rgb565::from(embedded_graphics::pixelcolor::raw::RawU16::new(raw)).into())
        }
        PixelFormat::Xrgb8888 => {
            let p = bytes.get(at..at + 4)?;
            Some(Rgb888::new(p[2], p[1], p[0]))
        }
    }
}

/// The fbdev ioctls. The structures mirror `<linux/fb.h>`.
mod query {
    use super::{FbGeometry, PixelFormat};
    use nix::libc::c_ulong;
    use std::fs::File;
    use std::os::fd::AsRawFd;

    #[repr(C)]
    #[derive(Default)]
    struct Bitfield {
        offset: u32,
        length: u32,
        msb_right: u32,
    }

    #[repr(C)]
    #[derive(Default)]
    struct VarScreenInfo {
        xres: u32,
        yres: u32,
        xres_virtual: u32,
        yres_virtual: u32,
        xoffset: u32,
        yoffset: u32,
        bits_per_pixel: u32,
        grayscale: u32,
        red: Bitfield,
        green: Bitfield,
        blue: Bitfield,
        transp: Bitfield,
        nonstd: u32,
        activate: u32,
        height_mm: u32,
        width_mm: u32,
        accel_flags: u32,
        timings: [u32; 7],
        sync: u32,
        vmode: u32,
        rotate: u32,
        colorspace: u32,
        reserved: [u32; 4],
    }

    #[repr(C)]
    #[derive(Default)]
    struct FixScreenInfo {
        id: [u8; 16],
        smem_start: c_ulong,
        smem_len: u32,
        kind: u32,
        type_aux: u32,
        visual: u32,
        xpanstep: u16,
        ypanstep: u16,
        ywrapstep: u16,
        line_length: u32,
        mmio_start: c_ulong,
        mmio_len: u32,
        accel: u32,
        capabilities: u16,
        reserved: [u16; 2],
    }

    #[cfg(test)]
    #[test]
    fn structures_have_the_kernel_sizes() {
        // The kernel writes this many bytes into them; smaller structures would be overrun.
        assert_eq!(std::mem::size_of::<VarScreenInfo>(), 160);
        let fix = if cfg!(target_pointer_width = "64") { 80 } else { 68 };
        assert_eq!(std::mem::size_of::<FixScreenInfo>(), fix);
    }

    nix::ioctl_read_bad!(get_var, 0x4600, VarScreenInfo);
    nix::ioctl_read_bad!(get_fix, 0x4602, FixScreenInfo);

    /// The device's geometry and the byte offset of its visible page.
    pub fn geometry(file: &File) -> Result<(FbGeometry, u64), String> {
        let mut var = VarScreenInfo::default();
        let mut fix = FixScreenInfo::default();
        // SAFETY: both structures match the kernel's layout and outlive the calls.
        unsafe {
            get_var(file.as_raw_fd(), &mut var)
                .map_err(|e| format!("not a framebuffer ({e}); give its geometry in the board profile"))?;
            get_fix(file.as_raw_fd(), &mut fix).map_err(|e| format!("FBIOGET_FSCREENINFO failed: {e}"))?;
        }
        let format = match (var.bits_per_pixel, var.red.offset) {
            (16, 11) => PixelFormat::Rgb565,
            (32, 16) => PixelFormat::Xrgb8888,
            (bits, red) => {
                return Err(format!(
                    "unsupported pixel layout: {bits} bits per pixel with red at bit {red} (expected RGB565 or XRGB8888)"
                ))
            }
        };
        let geometry = FbGeometry {
            width: var.xres,
            height: var.yres,
            stride: fix.line_length,
            format,
        };
        let origin = u64::from(var.yoffset) * u64::from(fix.line_length)
            + u64::from(var.xoffset) * u64::from(format.bytes_per_pixel());
        let end = origin + u64::from(fix.line_length) * u64::from(var.yres);
        if end > u64::from(fix.smem_len) {
            return Err(format!(
                "visible page ends at byte {end} but the framebuffer memory has {} bytes",
                fix.smem_len
            ));
        }
        Ok((geometry, origin))
    }
}
