//! MobilePay PoS V10, one backend of the engine: the wire model shared by our client and our
//! simulator, the input formats MobilePay validates, the client (configuration, tokens per
//! merchant, the HTTP rules, poll pacing, PoS onboarding) and the engine's adapter
//! ([`engine::PosV10Backend`]).

pub mod client;
pub mod config;
pub mod engine;
pub mod error;
pub mod formats;
mod http;
pub mod idempotency;
pub mod model;
pub mod onboarding;
pub mod polling;
pub mod tokens;
mod translate;

pub use crate::correlation::{Correlation, CorrelationId};
pub use crate::secrets::{AccessToken, Secret, SecretSource};
pub use client::{ClientSetupError, MobilePayClient};
pub use config::{ClientConfig, Endpoints};
pub use error::{codes, ApiError, MobilePayError};
pub use idempotency::IdempotencyKey;
pub use tokens::{Clock, Credentials, SystemClock, TokenManager, TokenSettings};
