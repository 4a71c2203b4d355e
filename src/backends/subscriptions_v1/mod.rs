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

pub use crate::backends::consent_api::GatewayApp;
pub use client::SubscriptionsClient;

/// The longest agreement link to expect on the customer display, for sizing its QR code: the
/// shape of MobilePay's `mobile-pay` link (a landing page with the agreement's id, the
/// merchant's redirect address encoded, the country and a phone number to fill in), with a
/// first payment's id and a redirect address of a usual length.
pub const LONGEST_LINK: &str =
    "https://sandprod-open.mobilepay.dk/subscriptions-landing-website/?flow=agreement\
     &id=00000000-0000-4000-8000-000000000000&redirectUrl=https%3A%2F%2Fbageriet.example%2Fvelkommen\
     &countryCode=DK&mobile=4512345678&oneOffPaymentId=00000000-0000-4000-8000-000000000000";
pub use config::{AgreementLinks, SubscriptionsConfig};
pub use engine::SubscriptionsBackend;
pub use error::SubscriptionsError;
