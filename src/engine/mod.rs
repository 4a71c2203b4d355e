//! The payment engine: every payment flow, a durable journal, crash recovery and a
//! reconciler, in its own vocabulary. Front ends talk to it only through [`api`]; the daemon
//! starts it with [`driver::start`] over a [`backend::Backend`] (one of `crate::backends`).

mod admission;
pub mod agreements;
pub mod api;
mod audit;
pub mod backend;
mod clock;
pub mod config;
mod core;
pub mod doubt;
pub mod driver;
pub mod flow;
pub mod invoicing;
pub mod journal;
mod keys;
pub mod pos;
mod reconciler;
pub mod record;
mod recovery;
pub mod refund_limit;
mod runner;
pub mod text;
mod upgrade;
mod verification;

pub use api::*;
pub use config::EngineConfig;
pub use driver::start;
