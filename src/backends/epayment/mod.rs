//! The Vipps MobilePay ePayment API, the successor of PoS V10 for payments at a till.
//!
//! Its wire model (payments, webhooks, the QR API), shared by the simulator (`mposd sim`) and
//! the client, and the production client of one sales unit: configuration and keys, the access
//! token, the HTTP rules (headers, idempotent repeats, 429/423 waits, read pacing) and the
//! translation of its answers into the engine's words; and the engine's backend over it
//! (`engine.rs`): which in-store flow a sale takes, receipts, prompts.

pub mod check_ins;
pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod model;
mod pacing;
pub mod qr;
mod receipt;
mod tokens;
pub mod translate;
pub mod webhooks;

pub use client::{EpaymentClient, EpaymentSetupError};
pub use config::{EpaymentConfig, Keys, SystemHeaders, Waits, DEFAULT_TIMEOUTS};
pub use error::{EpError, ProblemInfo, TokenError};
pub use tokens::renew_after;
