//! A lane's point of sale at MobilePay: registering it (retried while MobilePay cannot be
//! reached), reporting what registration found, and remembering it in the store so that after
//! a restart the lane's unfinished payments are recovered before MobilePay is asked anything.
//! Used at lane start and by the watcher that keeps the point of sale registered.

use super::config::LaneSettings;
use super::troubles::Troubles;
use crate::backends::pos_v10::onboarding::{self, OnboardedPos, PendingCreations, PosSettings, SyncOutcome};
use crate::backends::pos_v10::{Correlation, MobilePayClient};
use crate::backends::products::CounterProducts;
use crate::backoff::Backoff;
use crate::engine;
use crate::store::Db;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The point of sale a lane used last time, so that after a restart its unfinished payments
/// are recovered before MobilePay is asked anything else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownPos {
    pub pos_id: String,
    pub beacon_id: String,
}

const LANES_TREE: &str = "lanes";

pub fn known_pos(db: &Db, lane: &str) -> anyhow::Result<Option<KnownPos>> {
    let tree = db.tree(LANES_TREE)?;
    Ok(tree.get(lane)?.and_then(|v| serde_json::from_slice(&v).ok()))
}

pub(super) fn remember_pos(db: &Db, lane: &str, pos: &KnownPos) -> anyhow::Result<()> {
    let tree = db.tree(LANES_TREE)?;
    tree.insert(lane, serde_json::to_vec(pos)?)?;
    db.durable()
}

/// Everything a lane needs from the daemon, whatever its backend.
#[derive(Clone)]
pub struct LaneContext {
    pub db: Arc<Db>,
    pub set_aside: Option<engine::journal::SetAside>,
    pub retention: Duration,
    pub shutdown: CancellationToken,
    pub troubles: Troubles,
}

/// What a PoS V10 lane needs besides: its merchant's client and the point-of-sale creations
/// not yet confirmed.
#[derive(Clone)]
pub struct PosV10Context {
    pub lane: LaneContext,
    pub client: MobilePayClient,
    pub pending: PendingCreations,
    /// The point of sale the lane registers.
    pub pos: PosSettings,
    /// The lane's invoices and sign-ups, when it offers them.
    pub products: CounterProducts,
}

/// Onboards the lane's point of sale, retrying while MobilePay cannot be reached. `ours_open`
/// are the payments the lane's engine still has open (see [`onboarding::onboard`]).
pub(super) async fn onboard_until_done(
    ctx: &PosV10Context,
    settings: &LaneSettings,
    ours_open: &[String],
) -> anyhow::Result<OnboardedPos> {
    ctx.lane.troubles.registering(&settings.name, None);
    let onboarded = onboard_with_retries(ctx, settings, ours_open).await;
    ctx.lane.troubles.registered(&settings.name);
    onboarded
}

async fn onboard_with_retries(
    ctx: &PosV10Context,
    settings: &LaneSettings,
    ours_open: &[String],
) -> anyhow::Result<OnboardedPos> {
    let mut pauses = Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).pauses();
    loop {
        let correlation = Correlation::new("onboarding");
        let pause = match onboarding::onboard(&ctx.client, &ctx.pending, &correlation, &ctx.pos, ours_open)
            .await
        {
            Ok(pos) => return Ok(pos),
            Err(onboarding::OnboardingError::Api(err)) if err.is_transient() => {
                let pause = pauses.next_pause();
                tracing::warn!(lane = %settings.name, error = %err, retry_in_ms = pause.as_millis() as u64,
                    "cannot register the point of sale at MobilePay yet");
                ctx.lane
                    .troubles
                    .registering(&settings.name, Some(err.to_string()));
                pause
            }
            Err(err) => {
                return Err(anyhow::anyhow!(
                    "lane {}: point of sale cannot be registered: {err}",
                    settings.name
                ))
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = ctx.lane.shutdown.cancelled() => anyhow::bail!("stopped while registering lane {}", settings.name),
        }
    }
}

pub(super) fn report(settings: &LaneSettings, pos: &OnboardedPos) {
    match &pos.outcome {
        SyncOutcome::Unchanged => {}
        SyncOutcome::Created => {
            tracing::info!(lane = %settings.name, pos_id = %pos.pos_id, "point of sale created")
        }
        SyncOutcome::Recreated { differences } => tracing::info!(lane = %settings.name, pos_id = %pos.pos_id,
            differences = ?differences, "point of sale re-created to match the configuration"),
        SyncOutcome::OutOfSync {
            differences,
            open_payments,
        } => tracing::warn!(lane = %settings.name,
            pos_id = %pos.pos_id, differences = ?differences, open_payments = ?open_payments,
            "point of sale differs from the configuration but has open payments; it is kept until they end"),
    }
}
