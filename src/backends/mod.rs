//! The payment backends the engine can drive, as sibling folders behind the engine's one
//! interface ([`crate::engine::backend::Backend`]), and MobilePay Invoice and Subscriptions,
//! which a lane's payment backend offers beside its payments
//! ([`crate::engine::invoicing::Invoicing`], [`crate::engine::agreements::Agreements`]). Each
//! folder holds everything of its API: wire model, client, credentials and the adapter that
//! speaks the engine's vocabulary. What they all need of HTTP lives beside them in [`http`], so
//! that no API's folder depends on another's internals.

pub mod epayment;
pub mod http;
pub mod invoice_v1;
pub mod pos_v10;
pub mod products;
pub mod subscriptions_v1;
