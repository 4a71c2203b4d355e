//! One checkout lane at run time: its backend (a point of sale at PoS V10, or an ePayment sales
//! unit), its engine, its cash register link and its customer display. Lanes share the store
//! and the per-merchant clients but nothing else, so a stuck display or cash register on one
//! lane never blocks another.

use super::config::LaneSettings;
use super::registration::{
    known_pos, onboard_until_done, remember_pos, report, KnownPos, LaneContext, PosV10Context,
};
use crate::backends::epayment::engine::EpaymentBackend;
use crate::backends::pos_v10::engine::{prompt as v10_prompt, PosV10Backend};
use crate::backends::pos_v10::formats::qr_payload;
use crate::display::settings::RunningDisplay;
use crate::ecr::lane::LineReport;
use crate::ecr::session::ConsentView;
use crate::engine::{self, journal::Journal, EngineConfig, EngineHandle};
use anyhow::Context;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub struct RunningLane {
    pub name: String,
    /// The handle the cash register is served with.
    pub engine: EngineHandle,
    /// The PoS V10 point of sale served at start (the lane moves on when it is replaced);
    /// `None` for an ePayment lane.
    pub pos: Option<KnownPos>,
    pub ecr: JoinHandle<()>,
    pub display: Option<RunningDisplay>,
}

/// Starts the lane's engine on the point of sale `pos` (recovering its unfinished work first).
async fn start_engine(
    ctx: &PosV10Context,
    settings: &LaneSettings,
    pos: &KnownPos,
) -> anyhow::Result<EngineHandle> {
    let config = EngineConfig::new(pos.pos_id.clone(), Some(v10_prompt(&pos.beacon_id)));
    let backend = Arc::new(PosV10Backend::new(ctx.client.clone()).with_products(ctx.products.clone()));
    start_engine_with(&ctx.lane, settings, backend, config).await
}

async fn start_engine_with<B: crate::engine::backend::Backend>(
    ctx: &LaneContext,
    settings: &LaneSettings,
    backend: Arc<B>,
    mut config: EngineConfig,
) -> anyhow::Result<EngineHandle> {
    let journal = Journal::for_lane(ctx.db.clone(), &settings.name)?;
    config.retention = ctx.retention;
    engine::start(backend, journal, config, ctx.set_aside.clone())
        .await
        .with_context(|| format!("lane {}: cannot start its payment engine", settings.name))
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
    let consents = ConsentView::new({
        let troubles = troubles.clone();
        move || troubles.consents()
    });
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
            crate::ecr::config::serve_lane(ecr_settings, engine, currency, consents, shutdown, report).await
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
pub async fn start_pos_v10(ctx: &PosV10Context, settings: &LaneSettings) -> anyhow::Result<RunningLane> {
    let known = known_pos(&ctx.lane.db, &settings.name)?;
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
            if let Some(doubt) = Journal::for_lane(ctx.lane.db.clone(), &settings.name)?.doubt() {
                let until = doubt.until_ms(engine::doubt::DOUBT_WINDOW);
                front = front.with_doubt(doubt, until);
            }
            None
        }
    };
    let (ecr, line_tried) = serve_cash_register(&ctx.lane, settings, &front);
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
    remember_pos(&ctx.lane.db, &settings.name, &pos)?;
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
                .start(&engine, Some(&qr_payload(&pos.beacon_id)), settings.currency)
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
        pos: Some(pos),
        ecr,
        display,
    })
}

/// Starts an ePayment lane: store → recovery → cash register → display. There is no point of
/// sale to register: the sales unit takes payments as soon as its keys are valid, and every
/// payment brings its own QR code.
pub async fn start_epayment(
    ctx: &LaneContext,
    settings: &LaneSettings,
    backend: Arc<EpaymentBackend>,
) -> anyhow::Result<RunningLane> {
    let config = EngineConfig::new(settings.name.clone(), None);
    let engine = start_engine_with(ctx, settings, backend, config).await?;
    let (ecr, line_tried) = serve_cash_register(ctx, settings, &engine);
    let display = match &settings.display {
        Some(display) => Some(
            display
                .start(&engine, None, settings.currency)
                .with_context(|| format!("lane {}: display", settings.name))?,
        ),
        None => None,
    };
    let _ = line_tried.await;
    tracing::info!(lane = %settings.name, "lane ready");
    Ok(RunningLane {
        name: settings.name.clone(),
        engine,
        pos: None,
        ecr,
        display,
    })
}
