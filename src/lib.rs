//! mposd: a MobilePay payment terminal daemon for checkout hardware.
//!
//! The crate is both the daemon's library and the home of its tools: the virtual cash register,
//! and, with the `sim` feature, the simulator used for demos and tests.
//!
//! Layout, from the core outwards (a module uses only those above it, and the cash register,
//! display and engine never use a backend):
//!
//! | module | job |
//! |---|---|
//! | [`money`], [`correlation`], [`secrets`] | amounts and currencies; the id that follows one command's calls; secrets that never print |
//! | [`store`] | the durable sled database: fsync, mark file, installation id |
//! | [`consent`] | the merchant's OpenID Connect consent (Invoice, Subscriptions): the refresh token kept and kept alive |
//! | [`engine`] | the payment core in its own words: commands, flows (sans-IO) and their driver, journal, recovery, reconciler, and the [`engine::backend::Backend`] interface |
//! | [`backends`] | one folder per payment backend behind that interface (PoS V10 today) |
//! | [`ecr`] | the cash-register protocol: frames, links over serial and TCP, sessions |
//! | [`display`] | the customer display: screens, layout, rendering, outputs |
//! | [`daemon`], [`service`], [`logging`] | configuration, lanes and start-up; systemd integration; logs |
//! | `sim`, `demo` | the simulator (`mposd sim`) and the demo; only with the `sim` feature (on by default), which the production build leaves out |

pub mod backends;
pub mod backoff;
pub mod consent;
pub mod correlation;
pub mod daemon;
#[cfg(feature = "sim")]
pub mod demo;
pub mod display;
pub mod ecr;
pub mod engine;
pub mod logging;
pub mod money;
pub mod secrets;
pub mod service;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
