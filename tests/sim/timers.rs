//! Timers on the virtual clock (reference §12.10, §19.3): inactivity cancel of every active
//! state, reservation expiry, check-in lifetime and `paymentExpiresAt`. Refund timers are in
//! `refunds`, token expiry in `auth`, idempotency retention in `idempotency`.

use crate::common::*;
use chrono::{DateTime, FixedOffset};
use serde_json::{json, Value};

fn parse_time(v: &Value) -> DateTime<FixedOffset> {
    let s = v.as_str().unwrap_or_else(|| panic!("a date-time string: {v}"));
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("{s} is ISO-8601: {e}"))
}

async fn sim_now(sim: &Sim) -> DateTime<FixedOffset> {
    parse_time(&sim.get("/_sim/clock").await.ok()["now"])
}

#[tokio::test]
async fn inactive_payments_are_cancelled_by_mobilepay_after_5_minutes() {
    let sim = start().await;
    let api = sim.api().await;
    let mut flows = Vec::new();
    for state in ["Prepared", "Paired", "Initiated", "IssuedToUser"] {
        flows.push((state, payment_in(&sim, &api, state).await));
    }
    sim.advance_ms(4 * MINUTE_MS).await;
    for (state, flow) in &flows {
        assert_eq!(api.status(&flow.payment_id).await, *state, "after 4 min");
    }
    sim.advance_ms(MINUTE_MS + 10_000).await;
    for (state, flow) in &flows {
        assert_eq!(
            api.status(&flow.payment_id).await,
            "CancelledByMobilePay",
            "{state} after 5 min"
        );
        // The PoS is free for a new payment.
        api.initiate(&flow.pos, 1.0).await;
    }
}

#[tokio::test]
async fn progress_restarts_the_inactivity_timer() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Initiated").await;
    sim.advance_ms(4 * MINUTE_MS).await;
    sim.checkin(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.advance_ms(4 * MINUTE_MS).await;
    assert_eq!(api.status(&flow.payment_id).await, "IssuedToUser");
    sim.advance_ms(2 * MINUTE_MS).await;
    assert_eq!(api.status(&flow.payment_id).await, "CancelledByMobilePay");
}

#[tokio::test]
async fn reservations_expire_after_7_days() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Reserved").await;
    sim.advance_ms(7 * DAY_MS - HOUR_MS).await;
    assert_eq!(api.status(&flow.payment_id).await, "Reserved");
    sim.advance_ms(2 * HOUR_MS).await;
    let p = api.payment(&flow.payment_id).await;
    assert_eq!(p["status"], json!("ExpiredAndCancelled"));
    assert!(p.get("partialCapturePossible").is_none(), "{p}");
    api.capture(&flow.payment_id, 100.0).await.err(409, "1304");
}

#[tokio::test]
async fn payment_expires_at_is_the_pending_timer() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "Initiated").await;
    let now = sim_now(&sim).await;
    let raw = api.payment(&flow.payment_id).await["paymentExpiresAt"].clone();
    // MobilePay's own format: seconds with seven fractional digits and an offset (§12.2).
    let text = raw.as_str().unwrap_or_default();
    let fraction = text.rsplit_once('.').map(|(_, f)| f).unwrap_or_default();
    assert!(
        fraction.len() == 13 && fraction[..7].bytes().all(|b| b.is_ascii_digit()),
        "2022-10-17T06:07:45.4847176+00:00 style expected, got {text}"
    );
    let expires = parse_time(&raw);
    let left = (expires - now).num_seconds();
    assert!((240..=300).contains(&left), "inactivity deadline in {left} s");

    sim.checkin(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.accept(&flow.pos.beacon_id, CREDIT_USER).await.ok_empty();
    let now = sim_now(&sim).await;
    let expires = parse_time(&api.payment(&flow.payment_id).await["paymentExpiresAt"]);
    let left = (expires - now).num_seconds();
    assert!(
        (7 * 86_400 - 60..=7 * 86_400).contains(&left),
        "reservation deadline in {left} s"
    );

    api.capture(&flow.payment_id, 100.0).await.ok_empty();
    let p = api.payment(&flow.payment_id).await;
    assert!(p["paymentExpiresAt"].is_null(), "ended payment: {p}");
}

#[tokio::test]
async fn a_checkin_without_payment_lapses_after_5_minutes() {
    let sim = start().await;
    let api = sim.api().await;
    let pos = api.create_pos().await;
    let path = format!("/pointofsales/{}/checkin", pos.pos_id);
    sim.checkin(&pos.beacon_id, CREDIT_USER).await.ok_empty();
    sim.advance_ms(4 * MINUTE_MS).await;
    assert_eq!(api.get(&path).await.ok()["isUserCheckedIn"], json!(true));
    sim.advance_ms(2 * MINUTE_MS).await;
    assert_eq!(api.get(&path).await.ok()["isUserCheckedIn"], json!(false));
    let id = api.initiate(&pos, 1.0).await;
    assert_eq!(api.status(&id).await, "Initiated");
}

#[tokio::test]
async fn advancing_the_clock_reports_the_offset() {
    let sim = start().await;
    let before = sim.get("/_sim/clock").await.ok().clone();
    assert_eq!(before["offsetMs"], json!(0));
    let after = sim.advance_ms(DAY_MS).await;
    assert_eq!(after["offsetMs"], json!(DAY_MS));
    let moved = (parse_time(&after["now"]) - parse_time(&before["now"])).num_seconds();
    assert!((86_400..86_400 + 60).contains(&moved), "moved {moved} s");
}

#[tokio::test]
async fn ended_payments_are_forgotten_after_7_days() {
    let sim = start().await;
    let api = sim.api().await;
    let flow = payment_in(&sim, &api, "CancelledByClient").await;
    sim.advance_ms(6 * DAY_MS).await;
    api.get(&format!("/payments/{}", flow.payment_id)).await.ok();
    sim.advance_ms(DAY_MS + HOUR_MS).await;
    api.get(&format!("/payments/{}", flow.payment_id)).await.bare(404);
    assert!(sim.ground_payments().await.is_empty());
}

#[tokio::test]
async fn captured_payments_are_kept_for_the_refund_window() {
    let sim = start().await;
    let api = sim.api().await;
    let payment = captured(&sim, &api).await;
    let refund = reserved_refund(&sim, &api, &payment, 1.0).await;
    sim.advance_ms(89 * DAY_MS).await;
    api.get(&format!("/payments/{payment}")).await.ok();
    api.get(&format!("/refunds/{refund}")).await.ok();
    sim.advance_ms(3 * DAY_MS).await;
    api.get(&format!("/payments/{payment}")).await.bare(404);
    // Its refunds go with it.
    api.get(&format!("/refunds/{refund}")).await.bare(404);
    assert!(sim.ground_refunds().await.is_empty());
}
