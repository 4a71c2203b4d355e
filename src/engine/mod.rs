//! The payment engine: every MobilePay flow, a durable journal, crash recovery and a
//! reconciler. Front ends talk to it only through [`api`]; the daemon starts it with
//! [`driver::start`] over a [`backend::Backend`] (the PoS V10 client through
//! [`pos_v10::PosV10Backend`]).

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

pub use api::*;
pub use driver::{start, EngineConfig};
