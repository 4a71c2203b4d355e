//! The payment backends the engine can drive, as sibling folders behind the engine's one
//! interface ([`crate::engine::backend::Backend`]). Each folder holds everything of its API:
//! wire model, client, credentials and the adapter that speaks the engine's vocabulary. What
//! both need of HTTP lives beside them in [`http`], so that neither depends on the other.

pub mod epayment;
pub mod http;
pub mod pos_v10;
pub mod subscriptions_v1;
