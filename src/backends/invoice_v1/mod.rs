//! MobilePay Invoice API v1: invoices at the counter, "take the goods now, pay by the due
//! date", as an InvoiceLink the customer scans from the display or an InvoiceDirect pushed to
//! the phone number typed at the till.
//!
//! The API authorises with the merchant's OpenID Connect consent ([`crate::consent`]) and the
//! API gateway's app pair. One [`InvoiceClient`] per merchant does the HTTP (headers, one
//! token renewal after a 401, bounded repeats of reads); [`InvoiceBackend`] is a lane's
//! [`crate::engine::invoicing::Invoicing`] over it, with the lane's invoice issuer. The wire
//! model is in `model.rs`, the translation into the engine's words (pure, tested apart from
//! HTTP) in `translate.rs`.

pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod model;
pub mod translate;

pub use client::InvoiceClient;
pub use config::{GatewayApp, InvoiceConfig};
pub use engine::InvoiceBackend;
pub use error::InvoiceError;
