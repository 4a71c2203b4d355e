//! MobilePay PoS V10: the wire model shared by our client and our simulator, the input formats
//! MobilePay validates, and the daemon's client (configuration, secrets, tokens per merchant,
//! the HTTP rules, poll pacing and PoS onboarding).

pub mod client;
pub mod config;
pub mod error;
pub mod flow;
pub mod formats;
mod http;
pub mod idempotency;
pub mod model;
pub mod onboarding;
pub mod polling;
pub mod secrets;
pub mod tokens;

pub use client::{ClientSetupError, MobilePayClient};
pub use config::{ClientConfig, Endpoints, RetryPolicy, Timeouts};
pub use error::{codes, ApiError, MobilePayError};
pub use flow::{CorrelationId, Flow};
pub use idempotency::IdempotencyKey;
pub use secrets::{AccessToken, Secret, SecretSource};
pub use tokens::{Clock, Credentials, SystemClock, TokenManager, TokenSettings};
