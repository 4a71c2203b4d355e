//! The payment engine: every MobilePay flow, a durable journal, crash recovery and a
//! reconciler. Front ends talk to it only through [`api`].

pub mod api;
pub mod backend;
pub mod flow;
pub mod journal;
pub mod record;

pub use api::*;
