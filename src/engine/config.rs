//! How an engine runs: its point of sale, the flows' timing, retention and the doubt window.

use super::backend::CustomerPrompt;
use super::doubt::DOUBT_WINDOW;
use super::flow::Policy;
use std::time::Duration;

/// How an engine runs.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The point of sale (the backend's id for it) this lane starts on; the lane's name for
    /// backends without registered points of sale.
    pub pos_id: String,
    /// What the customers of the point of sale are shown to start paying; `None` where every
    /// payment brings its own prompt ([`super::backend::PaymentInfo::prompt`]).
    pub prompt: Option<CustomerPrompt>,
    /// Timing of the flows (the backend's capabilities are added at start).
    pub policy: Policy,
    /// Finished records are pruned this long after their last change.
    pub retention: Duration,
    /// Pace of the reconciler's sweep of the point of sale (stale payments, pruning).
    pub reconcile_every: Duration,
    /// How long after a journal was rebuilt from damage a command id it does not know is
    /// answered "in doubt" instead of "not found", and payments are created only after their
    /// order id was looked up at the backend. Seven days: the longest a reservation lives, so
    /// the longest a cash register can still be asking about a sale from before the damage.
    pub doubt_window: Duration,
}

impl EngineConfig {
    pub fn new(pos_id: impl Into<String>, prompt: Option<CustomerPrompt>) -> EngineConfig {
        EngineConfig {
            pos_id: pos_id.into(),
            prompt,
            policy: Policy::default(),
            retention: Duration::from_secs(400 * 24 * 3600),
            reconcile_every: Duration::from_secs(60),
            doubt_window: DOUBT_WINDOW,
        }
    }
}
