//! The daemon's entry point to the display: open the board's panel, warn when its QR code
//! would be too small, and start the renderer. A missing or broken panel never prevents the
//! daemon from taking payments: opening is retried by the renderer until it works.

use super::board::BoardProfile;
use super::device;
use super::output::{DisplayError, Output};
use super::qr_size;
use super::render::Look;
use super::renderer::{self, DisplayHandle};
use super::screen::Screen;
use tokio::task::JoinHandle;

/// A board's display, (re)opened on demand: after a failure the device is closed and opened
/// again on the next attempt, so an unplugged or reset panel recovers by itself.
pub struct ProfileOutput {
    profile: BoardProfile,
    open: Option<Box<dyn Output>>,
}

impl ProfileOutput {
    pub fn new(profile: BoardProfile) -> ProfileOutput {
        ProfileOutput { profile, open: None }
    }
}

impl Output for ProfileOutput {
    fn describe(&self) -> String {
        match &self.open {
            Some(output) => format!("{} ({})", output.describe(), self.profile.name),
            None => format!("board profile {}", self.profile.name),
        }
    }

    fn show(&mut self, screen: &Screen, look: &Look) -> Result<(), DisplayError> {
        let output = match &mut self.open {
            Some(output) => output,
            None => self.open.insert(device::open(&self.profile.display)?),
        };
        let result = output.show(screen, look);
        if result.is_err() {
            self.open = None;
        }
        result
    }
}

/// Starts the customer display for `profile`. `qr` sizes the start-up check of the QR code
/// against the panel's physical size: the content the lane's customers are shown, or the
/// longest the caller expects when it does not know it yet (longer content needs more
/// modules); `None` where each payment brings its own code. The warning goes to the log.
pub fn start(
    profile: BoardProfile,
    look: Look,
    qr: Option<&str>,
    initial: Screen,
) -> (DisplayHandle, JoinHandle<()>) {
    if let Some(warning) = qr.and_then(|qr| qr_size::warning(&profile, qr, &look)) {
        tracing::warn!("{warning}");
    }
    renderer::spawn(Box::new(ProfileOutput::new(profile)), look, initial)
}
