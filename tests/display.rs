//! Customer display: every screen rendered headless at every supported panel size, with the
//! QR code decoded back from the pixels; golden images; outputs writing to real files,
//! pipes and devices; and a whole payment through the engine and the simulator in which the
//! customer checks in with the code read from the screen.

#[path = "display/support.rs"]
mod support;

/// The engine tests' lane: simulator, registered point of sale and a running engine.
#[path = "engine/support.rs"]
#[allow(dead_code)]
mod engine_support;
/// The simulator harness the engine tests' lane is built on.
#[path = "shared/sim_pos.rs"]
#[allow(dead_code)]
mod sim_pos;

/// The client tests' log capture.
#[path = "client/support.rs"]
#[allow(dead_code)]
mod client_support;

#[path = "display/backend_code.rs"]
mod backend_code;
#[path = "display/cli.rs"]
mod cli;
#[path = "display/end_to_end.rs"]
mod end_to_end;
#[path = "display/golden.rs"]
mod golden;
#[path = "display/invoices.rs"]
mod invoices;
#[path = "display/outputs.rs"]
mod outputs;
#[path = "display/renderer.rs"]
mod renderer;
#[path = "display/screens.rs"]
mod screens;
#[path = "display/signups.rs"]
mod signups;
