//! The payment engine: every payment flow, a durable journal, crash recovery and a
//! reconciler, in its own vocabulary. Front ends talk to it only through [`api`]; the daemon
//! starts it with [`driver::start`] over a [`backend::Backend`] (one of `crate::backends`).

pub mod api;
mod audit;
pub mod backend;
pub mod driver;
pub mod flow;
pub mod journal;
mod keys;
pub mod pos;
mod reconciler;
pub mod record;
mod recovery;
pub mod refund_limit;
pub mod text;
mod upgrade;

pub use api::*;
pub use driver::{start, EngineConfig};
