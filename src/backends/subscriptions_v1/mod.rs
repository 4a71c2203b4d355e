//! MobilePay Subscriptions API v1: sign-ups at the counter. The box creates an agreement
//! (optionally with a one-off first payment), shows its `mobile-pay` link as a QR code, follows
//! it until the customer accepts, captures the reserved one-off, and can cancel the agreement
//! and refund the captured one-off.
//!
//! The API authorises with the merchant's OpenID Connect consent ([`crate::consent`]) and the
//! API gateway's app pair. One [`SubscriptionsClient`] per merchant does the HTTP (headers, one
//! token renewal after a 401, bounded repeats of reads, the subscription provider looked up
//! once); [`SubscriptionsBackend`] is a lane's [`crate::engine::agreements::Agreements`] over
//! it. The wire model is in `model.rs`, the translation into the engine's words (pure, tested
//! apart from HTTP) in `translate.rs`.

pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod model;
pub mod translate;

pub use client::SubscriptionsClient;
pub use config::{AgreementLinks, GatewayApp, SubscriptionsConfig};
pub use engine::SubscriptionsBackend;
pub use error::SubscriptionsError;
