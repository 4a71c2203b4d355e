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

/// The longest invoice link to expect on the customer display, for sizing its QR code: the
/// shape of MobilePay's InvoiceLink `Href` (a landing page with a GUID token), whose host and
/// path are MobilePay's and may be longer than the example in its specification.
pub const LONGEST_LINK: &str = "https://sandprod-open.mobilepay.dk/usersettings-landing-website/\
     ?token=00000000-0000-4000-8000-000000000000&countryCode=DK&product=Invoice&redirect=00000";
pub use config::{GatewayApp, InvoiceConfig};
pub use engine::InvoiceBackend;
pub use error::InvoiceError;
