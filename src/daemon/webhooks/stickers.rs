//! The printed stickers of a sales unit's lanes: each one's merchant callback QR is made to
//! exist at start (created, or an old MobilePay sticker moved to the sales unit), and a
//! check-in at one is recorded for its lane and told to the lane's cash register.

use crate::backends::epayment::check_ins::CheckIns;
use crate::backends::epayment::{EpError, EpaymentClient};
use crate::backoff::Backoff;
use crate::correlation::Correlation;
use crate::daemon::sticker::{StickerId, StickerSettings};
use crate::engine::{EngineHandle, EventKind};
use crate::secrets::Secret;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// One lane's sticker.
#[derive(Clone, Debug)]
pub struct StickerLane {
    pub lane: String,
    pub sticker: StickerSettings,
    pub engine: EngineHandle,
    /// Where the lane's backend takes the check-ins from.
    pub check_ins: Arc<CheckIns>,
}

/// Records a check-in at the sticker `merchant_qr_id` and tells its lane. The token goes to
/// the backend only, never to a log or the cash register.
pub fn checked_in(stickers: &[StickerLane], merchant_qr_id: &str, token: Secret) {
    for s in stickers
        .iter()
        .filter(|s| s.sticker.merchant_qr_id() == Some(merchant_qr_id))
    {
        s.check_ins.record(&s.lane, token.clone(), Instant::now());
        tracing::info!(lane = %s.lane, merchant_qr_id, "customer checked in at the sticker");
        s.engine.announce(EventKind::StickerCheckIn {
            location: s.sticker.location.clone(),
        });
    }
}

/// Makes every sticker's callback QR exist, trying again with growing pauses until each one
/// does (or `shutdown`). Until then its customers' app says it cannot find the code; sales
/// scanned from the display or pushed to a phone are not affected.
pub async fn ensure(client: EpaymentClient, stickers: Vec<StickerLane>, shutdown: CancellationToken) {
    let backoff = Backoff::jittered(Duration::from_secs(1), Duration::from_secs(300));
    let mut waiting: Vec<&StickerLane> = stickers.iter().collect();
    let mut failures = 0;
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for s in waiting {
            match put(&client, &s.sticker).await {
                Ok(()) => {
                    tracing::info!(lane = %s.lane, merchant_qr_id = s.sticker.merchant_qr_id(), "the sticker is ready for check-ins")
                }
                Err(e) => {
                    report(&s.lane, &s.sticker, &e);
                    still.push(s);
                }
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return;
        }
        failures += 1;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(backoff.delay(failures)) => {}
        }
    }
}

async fn put(client: &EpaymentClient, sticker: &StickerSettings) -> Result<(), EpError> {
    let correlation = Correlation::new("sticker");
    let request = sticker.put_request();
    match sticker.id() {
        Some(StickerId::Callback(id)) => client.put_callback_qr(&correlation, id, &request).await,
        Some(StickerId::MobilePayBeacon(id)) => {
            client.put_mobilepay_callback_qr(&correlation, id, &request).await
        }
        // check-config refuses such a sticker before the daemon starts.
        None => Ok(()),
    }
}

fn report(lane: &str, sticker: &StickerSettings, e: &EpError) {
    let error = format!("{e:#}");
    match (sticker.id(), e) {
        (Some(StickerId::MobilePayBeacon(beacon_id)), EpError::Refused { status: 409, .. }) => {
            tracing::error!(
                lane,
                beacon_id,
                error,
                "the MobilePay sticker is linked to another sales unit: Vipps MobilePay must release it before customers can check in here; trying again"
            )
        }
        _ => tracing::warn!(
            lane,
            merchant_qr_id = sticker.merchant_qr_id(),
            error,
            "cannot set up the sticker yet; trying again (other sales are not affected)"
        ),
    }
}
