//! The payment engine: every MobilePay flow, a durable journal, crash recovery and a
//! reconciler. Front ends talk to it only through [`api`].

pub mod api;

pub use api::*;
