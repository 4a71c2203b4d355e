//! The customer display: the screens a customer sees at the till, drawn with
//! embedded-graphics onto whatever panel the board has.
//!
//! - [`screen`] is the model the payment side sets (which screen is current);
//! - [`content`], [`layout`], [`text`], [`qr`] and [`render`](mod@render) turn it into
//!   pixels for any panel size, in Danish, Finnish or English;
//! - [`qr_fetch`] fetches the QR image a payment backend drew and [`qr_image`] reads its
//!   symbol back, module for module, to be redrawn at the panel's resolution;
//! - [`output`] sends pictures to PNG files, a terminal, a Linux framebuffer, SPI panels or a
//!   small status OLED;
//! - [`board`] reads the board profiles that say which panel is wired how, [`device`] opens
//!   the output a profile describes and [`qr_size`] checks that its QR code can be scanned;
//! - [`renderer`] runs all of it beside the payment engine without ever slowing it down;
//! - [`follow`] turns the engine's lane events into screens; [`start::start`] brings a
//!   board's display up; [`settings`] reads a lane's display configuration and starts the
//!   display following the lane's engine.

pub mod board;
pub mod cli;
pub mod content;
pub mod device;
pub mod follow;
pub mod language;
pub mod layout;
pub mod output;
pub mod picture;
pub mod qr;
pub mod qr_fetch;
pub mod qr_image;
pub mod qr_size;
pub mod render;
pub mod renderer;
pub mod screen;
pub mod settings;
pub mod start;
pub mod text;

pub use language::Language;
pub use picture::Picture;
pub use render::{render, render_picture, Look, RenderReport};
pub use screen::{BackendCode, Reason, Screen, StaffHint};
pub use start::start;
