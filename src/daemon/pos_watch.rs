//! A lane's point of sale while the daemon runs: a settings change that had to wait for open
//! payments, and a point of sale that disappeared at MobilePay.
//!
//! - **Settings changed, payments open.** A point of sale cannot be edited, only deleted and
//!   created again, and MobilePay's best practice is to delete one only after its payments are
//!   captured or cancelled. Start-up then keeps the live point of sale; this watcher asks the
//!   engine every [`LOOK_EVERY`] whether our payments on it have ended (MobilePay's own list at
//!   most every [`RECHECK_AFTER`]) and, once none is open, re-creates it and moves the lane to
//!   the new one, without a restart.
//! - **Point of sale gone.** When MobilePay refuses a payment because it does not know the
//!   point of sale (code `1000`: deleted by someone else, or by MobilePay support), the payment
//!   is answered `rejected point_of_sale_not_found` (nothing happened), an alarm is raised, and
//!   the point of sale is registered again; the cashier's next payment runs on it.
//!
//! While the point of sale is being replaced the engine refuses new payments as `lane_busy`
//! with the reason, so no payment starts on a point of sale about to be deleted. What waits is
//! shown in the systemd status line (see [`super::troubles`]).

use super::registration::{self, KnownPos, PosV10Context};
use crate::backends::pos_v10::engine::prompt;
use crate::backends::pos_v10::onboarding::{OnboardedPos, SyncOutcome};
use crate::daemon::config::LaneSettings;
use crate::engine::{pos::is_point_of_sale_gone, EngineHandle};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// How often the engine is asked whether the payments a kept point of sale waits for ended.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// MobilePay's open payments on a kept point of sale (someone else's, or ours that the journal
/// no longer knows) are not asked for more often than this, nor is a failed registration
/// repeated sooner.
const RECHECK_AFTER: Duration = Duration::from_secs(30);

/// What the watcher does next.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Nothing,
    /// Register the point of sale again (re-create it, or create it if it is gone).
    Sync,
}

/// The watcher's decisions, free of I/O. Times are milliseconds on the watcher's own clock.
#[derive(Debug, Default)]
struct Watch {
    /// The settings differ from the live point of sale, which is kept while this many
    /// payments are open on it.
    kept: Option<usize>,
    /// MobilePay refused a payment because it does not know the point of sale.
    gone: bool,
    /// MobilePay listed open payments on the kept point of sale: not asked again before this.
    listed_until_ms: u64,
    /// A registration failed: not tried again before this.
    retry_at_ms: u64,
}

impl Watch {
    /// After registering with `ours` open: kept again (the payments MobilePay or we still have
    /// open), or done. MobilePay is asked again soon only when all it listed were ours.
    fn registered(&mut self, outcome: &SyncOutcome, ours: &[String], now_ms: u64) {
        *self = Watch::default();
        if let SyncOutcome::OutOfSync { open_payments, .. } = outcome {
            self.kept = Some(open_payments.len());
            if open_payments.iter().any(|p| !ours.contains(p)) {
                self.listed_until_ms = now_ms + RECHECK_AFTER.as_millis() as u64;
            }
        }
    }

    /// A registration failed; it is tried again later.
    fn failed(&mut self, now_ms: u64) {
        self.retry_at_ms = now_ms + RECHECK_AFTER.as_millis() as u64;
    }

    /// The point of sale is unknown to MobilePay; returns whether this is news.
    fn lost(&mut self) -> bool {
        !std::mem::replace(&mut self.gone, true)
    }

    /// Whether anything waits, so the engine must be asked about open payments.
    fn waiting(&self) -> bool {
        self.gone || self.kept.is_some()
    }

    /// Decides with `ours_open`, the number of our payments open on the point of sale.
    fn step(&mut self, ours_open: usize, now_ms: u64) -> Step {
        if let Some(kept) = self.kept.as_mut() {
            if ours_open > 0 {
                *kept = ours_open;
            }
        }
        if now_ms < self.retry_at_ms {
            return Step::Nothing;
        }
        if self.gone {
            return Step::Sync;
        }
        match self.kept {
            Some(_) if ours_open == 0 && now_ms >= self.listed_until_ms => Step::Sync,
            _ => Step::Nothing,
        }
    }

    fn note(&self) -> Option<String> {
        if self.gone {
            return Some("point of sale unknown to MobilePay; registering it again".into());
        }
        self.kept.map(|n| {
            format!(
                "point of sale settings changed; kept until {n} open payment{} end{}",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            )
        })
    }

    /// Why new payments are refused while the point of sale is replaced.
    fn busy_reason(&self) -> &'static str {
        if self.gone {
            "the point of sale is being registered again at MobilePay; send the payment again in a moment"
        } else {
            "the point of sale is being re-created at MobilePay with its new settings; send the payment again in a moment"
        }
    }
}

/// Watches the lane's point of sale `pos` (registered with `outcome` while the engine had
/// `ours_open`) until the daemon stops.
pub fn spawn(
    ctx: PosV10Context,
    settings: LaneSettings,
    engine: EngineHandle,
    pos: KnownPos,
    outcome: SyncOutcome,
    ours_open: &[String],
) {
    let started = tokio::time::Instant::now();
    let now_ms = move || started.elapsed().as_millis() as u64;
    let mut watch = Watch::default();
    watch.registered(&outcome, ours_open, now_ms());
    // Noted before the lane is reported ready, so the first status line already says it.
    ctx.lane.troubles.point_of_sale(&settings.name, watch.note());
    let mut events = engine.subscribe();
    tokio::spawn(async move {
        let mut current = pos;
        let mut look = tokio::time::interval(LOOK_EVERY);
        loop {
            ctx.lane.troubles.point_of_sale(&settings.name, watch.note());
            tokio::select! {
                _ = ctx.lane.shutdown.cancelled() => return,
                event = events.recv() => match event {
                    Ok(event) if is_point_of_sale_gone(&event.kind) => {
                        if watch.lost() {
                            let detail = format!(
                                "MobilePay refused payment {} because it does not know the point of sale {} \
                                 (deleted at MobilePay?); registering it again",
                                event.command_id.map(|id| id.to_string()).unwrap_or_default(),
                                current.pos_id
                            );
                            let _ = engine.raise_alarm(&detail).await;
                        }
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                },
                _ = look.tick() => {}
            }
            if !watch.waiting() {
                continue;
            }
            let Ok(open) = engine.open_payments().await else {
                return;
            };
            if watch.step(open.len(), now_ms()) == Step::Nothing {
                continue;
            }
            ctx.lane.troubles.point_of_sale(&settings.name, watch.note());
            match register(&ctx, &settings, &engine, watch.busy_reason()).await {
                Ok((onboarded, ours)) => {
                    current = KnownPos {
                        pos_id: onboarded.pos_id,
                        beacon_id: onboarded.beacon_id,
                    };
                    watch.registered(&onboarded.outcome, &ours, now_ms());
                }
                Err(err) => {
                    if ctx.lane.shutdown.is_cancelled() {
                        return;
                    }
                    let detail = format!(
                        "lane {}: the point of sale cannot be registered: {err:#}",
                        settings.name
                    );
                    let _ = engine.raise_alarm(&detail).await;
                    // Take payments again: MobilePay answers them with a clear refusal.
                    let _ = engine.move_to(&current.pos_id, prompt(&current.beacon_id)).await;
                    watch.failed(now_ms());
                }
            }
        }
    });
}

/// Registers the point of sale again with the engine's payments held back, and moves the
/// engine (and the lane's record of its point of sale) to the result. Returns it with our
/// payments that were open.
async fn register(
    ctx: &PosV10Context,
    settings: &LaneSettings,
    engine: &EngineHandle,
    busy_reason: &str,
) -> anyhow::Result<(OnboardedPos, Vec<String>)> {
    let ours = engine.retire(busy_reason).await?;
    let onboarded = registration::onboard_until_done(ctx, settings, &ours).await?;
    registration::report(settings, &onboarded);
    engine
        .move_to(&onboarded.pos_id, prompt(&onboarded.beacon_id))
        .await?;
    let pos = KnownPos {
        pos_id: onboarded.pos_id.clone(),
        beacon_id: onboarded.beacon_id.clone(),
    };
    if let Err(err) = registration::remember_pos(&ctx.lane.db, &settings.name, &pos) {
        // The next start finds the point of sale at MobilePay by its merchantPosId anyway.
        tracing::warn!(lane = %settings.name, error = %format!("{err:#}"), "cannot record the new point of sale");
    }
    Ok((onboarded, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_of_sync(open: usize) -> SyncOutcome {
        SyncOutcome::OutOfSync {
            differences: vec!["name".into()],
            open_payments: (0..open).map(|i| format!("p{i}")).collect(),
        }
    }

    #[test]
    fn when_all_mobilepay_listed_were_ours_it_is_asked_again_as_soon_as_they_end() {
        let mut watch = Watch::default();
        watch.registered(&out_of_sync(1), &["p0".to_string()], 0);
        assert_eq!(watch.step(1, 500), Step::Nothing);
        assert_eq!(watch.step(0, 1_000), Step::Sync);
    }

    #[test]
    fn a_kept_point_of_sale_is_recreated_once_our_payments_end_and_mobilepay_was_asked_recently() {
        let mut watch = Watch::default();
        watch.registered(&out_of_sync(2), &[], 0);
        assert!(watch.waiting());
        assert_eq!(
            watch.note().as_deref(),
            Some("point of sale settings changed; kept until 2 open payments end")
        );
        assert_eq!(watch.step(1, 1_000), Step::Nothing);
        assert_eq!(
            watch.note().as_deref(),
            Some("point of sale settings changed; kept until 1 open payment ends")
        );
        // Ours ended, but MobilePay listed payments at the last look: not asked again so soon.
        assert_eq!(watch.step(0, 2_000), Step::Nothing);
        assert_eq!(watch.step(0, 30_000), Step::Sync);
        watch.registered(&SyncOutcome::Recreated { differences: vec![] }, &[], 31_000);
        assert!(!watch.waiting());
        assert_eq!(watch.note(), None);
        assert_eq!(watch.step(0, 40_000), Step::Nothing);
    }

    #[test]
    fn ours_still_open_never_lead_to_a_recreation() {
        let mut watch = Watch::default();
        watch.registered(&out_of_sync(1), &[], 0);
        assert_eq!(watch.step(1, 100_000), Step::Nothing);
        assert_eq!(watch.step(0, 100_001), Step::Sync);
    }

    #[test]
    fn a_point_of_sale_in_sync_is_left_alone() {
        let mut watch = Watch::default();
        watch.registered(&SyncOutcome::Unchanged, &[], 0);
        assert!(!watch.waiting());
        assert_eq!(watch.step(0, 1_000_000), Step::Nothing);
    }

    #[test]
    fn a_gone_point_of_sale_is_registered_at_once_and_again_after_a_pause_when_that_fails() {
        let mut watch = Watch::default();
        watch.registered(&SyncOutcome::Unchanged, &[], 0);
        assert!(watch.lost());
        assert!(!watch.lost(), "the second refusal is no news");
        assert_eq!(
            watch.note().as_deref(),
            Some("point of sale unknown to MobilePay; registering it again")
        );
        assert!(watch.busy_reason().contains("registered again"));
        assert_eq!(watch.step(0, 10), Step::Sync);
        watch.failed(10);
        assert_eq!(watch.step(0, 20), Step::Nothing);
        assert_eq!(watch.step(0, 30_010), Step::Sync);
        watch.registered(&SyncOutcome::Created, &[], 30_500);
        assert!(!watch.waiting());
        // Gone again right after: registered at once, the pause was for the failure only.
        assert!(watch.lost());
        assert_eq!(watch.step(0, 30_600), Step::Sync);
    }
}
