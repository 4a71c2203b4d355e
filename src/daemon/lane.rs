//! One checkout lane at run time: its point of sale at MobilePay, its engine, its cash
//! register link and its customer display. Lanes share the store and the per-merchant
//! MobilePay client but nothing else, so a stuck display or cash register on one lane never
//! blocks another.

use super::config::LaneSettings;
use super::troubles::Troubles;
use crate::backends::pos_v10::engine::{prompt as v10_prompt, PosV10Backend};
use crate::backends::pos_v10::formats::qr_payload;
use crate::backends::pos_v10::onboarding::{self, OnboardedPos, PendingCreations, SyncOutcome};
use crate::backends::pos_v10::{Correlation, MobilePayClient};
use crate::backoff::Backoff;
use crate::display::settings::RunningDisplay;
use crate::ecr::config::LineReport;
use crate::engine::{self, journal::Journal, EngineConfig, EngineHandle};
use crate::store::Db;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
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

/// Everything a lane needs from the daemon.
#[derive(Clone)]
pub struct LaneContext {
    pub db: Arc<Db>,
    pub client: MobilePayClient,
    pub pending: PendingCreations,
    pub set_aside: Option<engine::journal::SetAside>,
    pub retention: Duration,
    pub shutdown: CancellationToken,
    pub troubles: Troubles,
}

pub struct RunningLane {
    pub name: String,
    /// The handle the cash register is served with.
    pub engine: EngineHandle,
    /// The point of sale served at start; the lane moves on when it is replaced.
    pub pos: KnownPos,
    pub ecr: JoinHandle<()>,
    pub display: Option<RunningDisplay>,
}

/// Starts the lane's engine on the point of sale `pos` (recovering its unfinished work first).
async fn start_engine(
    ctx: &LaneContext,
    settings: &LaneSettings,
    pos: &KnownPos,
) -> anyhow::Result<EngineHandle> {
    let journal = Journal::for_lane(ctx.db.clone(), &settings.name)?;
    let mut config = EngineConfig::new(pos.pos_id.clone(), v10_prompt(&pos.beacon_id));
    config.retention = ctx.retention;
    let backend = Arc::new(PosV10Backend::new(ctx.client.clone()));
    engine::start(backend, journal, config, ctx.set_aside.clone())
        .await
        .with_context(|| format!("lane {}: cannot start its payment engine", settings.name))
}

/// Onboards the lane's point of sale, retrying while MobilePay cannot be reached. `ours_open`
/// are the payments the lane's engine still has open (see [`onboarding::onboard`]).
pub(super) async fn onboard_until_done(
    ctx: &LaneContext,
    settings: &LaneSettings,
    ours_open: &[String],
) -> anyhow::Result<OnboardedPos> {
    ctx.troubles.registering(&settings.name, None);
    let onboarded = onboard_with_retries(ctx, settings, ours_open).await;
    ctx.troubles.registered(&settings.name);
    onboarded
}

async fn onboard_with_retries(
    ctx: &LaneContext,
    settings: &LaneSettings,
    ours_open: &[String],
) -> anyhow::Result<OnboardedPos> {
    let mut pauses = Backoff::new(Duration::from_millis(500), Duration::from_secs(30)).pauses();
    loop {
        let flow = Correlation::new("onboarding");
        let pause = match onboarding::onboard(&ctx.client, &ctx.pending, &flow, &settings.pos, ours_open)
            .await
        {
            Ok(pos) => return Ok(pos),
            Err(onboarding::OnboardingError::Api(err)) if err.is_transient() => {
                let pause = pauses.next_pause();
                tracing::warn!(lane = %settings.name, error = %err, retry_in_ms = pause.as_millis() as u64,
                    "cannot register the point of sale at MobilePay yet");
                ctx.troubles.registering(&settings.name, Some(err.to_string()));
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
            _ = ctx.shutdown.cancelled() => anyhow::bail!("stopped while registering lane {}", settings.name),
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

/// Serves the lane's cash register through `engine` until shutdown, reporting a line that
/// cannot be opened. The returned receiver fires once the first attempt to open the line has
/// ended, either way: start-up waits for it, so "ready" is never announced before a
/// cash register could connect to a line that opens.
fn serve_cash_register(
    ctx: &LaneContext,
    settings: &LaneSettings,
    engine: &EngineHandle,
) -> (JoinHandle<()>, tokio::sync::oneshot::Receiver<()>) {
    let ecr_settings = settings.ecr.clone();
    let engine = engine.clone();
    let currency = settings.currency;
    let shutdown = ctx.shutdown.clone();
    let lane_name = settings.name.clone();
    let troubles = ctx.troubles.clone();
    let (tried, first_try) = tokio::sync::oneshot::channel();
    let tried = std::sync::Mutex::new(Some(tried));
    let report: LineReport = Arc::new({
        let lane_name = lane_name.clone();
        move |problem| {
            troubles.line(&lane_name, problem);
            if let Some(tried) = tried.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = tried.send(());
            }
        }
    });
    let task = tokio::spawn(async move {
        if let Err(err) =
            crate::ecr::config::serve_lane(ecr_settings, engine, currency, shutdown, report).await
        {
            tracing::error!(lane = %lane_name, error = %format!("{err:#}"), "the cash register link stopped");
        }
    });
    (task, first_try)
}

/// Starts a lane: store → recovery (when the lane ran before) → cash register → onboarding →
/// engine → display → the watcher that keeps the point of sale registered while it runs.
///
/// The cash register is served as soon as the journal is recovered, before the point of sale
/// is registered: while MobilePay cannot be reached at start, the register gets its queries
/// answered and a clear `not_ready` for new commands instead of a silent line.
pub async fn start(ctx: &LaneContext, settings: &LaneSettings) -> anyhow::Result<RunningLane> {
    let known = known_pos(&ctx.db, &settings.name)?;
    let (mut front, mut slot) = EngineHandle::ahead_of_engine();
    let recovered = match &known {
        Some(pos) => {
            let engine = start_engine(ctx, settings, pos).await?;
            slot.attach(&engine);
            Some(engine)
        }
        None => {
            // No journal records yet, but a store rebuilt after damage may have lost them:
            // until the engine runs, unknown ids are answered "in doubt" as it will answer them.
            if let Some(doubt) = Journal::for_lane(ctx.db.clone(), &settings.name)?.doubt() {
                let until = engine::driver::doubt_until(&doubt, engine::driver::DOUBT_WINDOW);
                front = front.with_doubt(doubt, until);
            }
            None
        }
    };
    let (ecr, line_tried) = serve_cash_register(ctx, settings, &front);
    // What the recovered engine still has open keeps the point of sale from being re-created
    // under it (no new payment starts: the front takes commands only once it is opened).
    let ours_open = match &recovered {
        Some(engine) => engine
            .open_payments()
            .await
            .with_context(|| format!("lane {}: payment engine", settings.name))?,
        None => Vec::new(),
    };
    let onboarded = onboard_until_done(ctx, settings, &ours_open).await?;
    report(settings, &onboarded);
    let pos = KnownPos {
        pos_id: onboarded.pos_id.clone(),
        beacon_id: onboarded.beacon_id.clone(),
    };
    remember_pos(&ctx.db, &settings.name, &pos)?;
    let engine = match recovered {
        // A re-created point of sale is served at once; work begun on the old one finishes there.
        Some(engine) => {
            front
                .move_to(&pos.pos_id, v10_prompt(&pos.beacon_id))
                .await
                .with_context(|| format!("lane {}: payment engine", settings.name))?;
            engine
        }
        None => {
            let engine = start_engine(ctx, settings, &pos).await?;
            slot.attach(&engine);
            engine
        }
    };
    slot.open();
    let display = match &settings.display {
        Some(display) => Some(
            display
                .start(&engine, &qr_payload(&pos.beacon_id), settings.currency)
                .with_context(|| format!("lane {}: display", settings.name))?,
        ),
        None => None,
    };
    super::pos_watch::spawn(
        ctx.clone(),
        settings.clone(),
        front.clone(),
        pos.clone(),
        onboarded.outcome,
        &ours_open,
    );
    // The line's first attempt has ended (opened, or its failure is in the status): a cash
    // register that connects once "ready" is announced finds it listening. A line that ends
    // without trying (nothing configured) drops the sender, which ends the wait as well.
    let _ = line_tried.await;
    tracing::info!(lane = %settings.name, pos_id = %pos.pos_id, beacon_id = %pos.beacon_id, "lane ready");
    Ok(RunningLane {
        name: settings.name.clone(),
        engine: front,
        pos,
        ecr,
        display,
    })
}
