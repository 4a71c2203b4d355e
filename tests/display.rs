//! Customer display: every screen rendered headless at every supported panel size, with the
//! QR code decoded back from the pixels; golden images; backends writing to real files,
//! pipes and devices.

#[path = "display/support.rs"]
mod support;

#[path = "display/backends.rs"]
mod backends;
#[path = "display/golden.rs"]
mod golden;
#[path = "display/renderer.rs"]
mod renderer;
#[path = "display/screens.rs"]
mod screens;
