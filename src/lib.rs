//! mposd: a MobilePay PoS V10 payment terminal daemon for checkout hardware.
//!
//! The crate is both the daemon's library and the home of its tools: the MobilePay simulator
//! used for demos and tests, and the virtual cash register.

pub mod backends;
pub mod backoff;
pub mod correlation;
pub mod daemon;
pub mod demo;
pub mod display;
pub mod ecr;
pub mod engine;
pub mod logging;
pub mod money;
pub mod secrets;
pub mod service;
pub mod sim;
pub mod store;
