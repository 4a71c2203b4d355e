//! Polling never goes faster than the last `pollDelayInMs`, whoever polls and whatever fails.

use super::support::*;
use mposd::{
    backends::pos_v10::{Correlation, Secret, TokenSettings},
    sim::{Settings, SimConfig},
};
use std::time::Duration;

fn arrival_gaps(entries: &[serde_json::Value]) -> Vec<Duration> {
    let times: Vec<_> = entries
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    sorted
        .windows(2)
        .map(|w| (w[1] - w[0]).to_std().unwrap_or_default())
        .collect()
}

async fn harness() -> Harness {
    Harness::with(SimConfig {
        settings: Settings {
            payment_poll_delay_ms: 400,
            checkin_poll_delay_ms: 300,
            ..Settings::default()
        },
        ..SimConfig::default()
    })
    .await
}

#[tokio::test]
async fn payment_polls_from_several_tasks_respect_poll_delay() {
    let h = harness().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;

    let pollers = (0..2).map(|_| {
        let client = client.clone();
        let payment = payment.clone();
        tokio::spawn(async move {
            for _ in 0..3 {
                let answer = client
                    .get_payment(&Correlation::new("payment"), &payment)
                    .await
                    .unwrap();
                assert_eq!(answer.poll_delay_in_ms, 400);
            }
        })
    });
    for poller in pollers {
        poller.await.unwrap();
    }
    let polls = h.control.log("getPayment").await;
    assert_eq!(polls.len(), 6);
    for gap in arrival_gaps(&polls) {
        assert!(gap >= Duration::from_millis(400), "polled after {gap:?}");
    }
}

#[tokio::test]
async fn checkin_polls_respect_their_own_poll_delay() {
    let h = harness().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    for _ in 0..4 {
        let answer = client
            .get_checkin(&Correlation::new("checkin"), &pos.pos_id)
            .await
            .unwrap();
        assert!(!answer.is_user_checked_in);
    }
    let polls = h.control.log("getCheckin").await;
    assert_eq!(polls.len(), 4);
    for gap in arrival_gaps(&polls) {
        assert!(gap >= Duration::from_millis(300), "polled after {gap:?}");
    }
}

/// A poll that times out (0.5 s) is retried, but no sooner than the last `pollDelayInMs`.
#[tokio::test]
async fn a_timed_out_poll_is_repeated_after_the_last_poll_delay() {
    let h = harness().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;
    let strict = h.client_with(
        db.clone(),
        h.strict_config(),
        Secret::new(SECRET),
        TokenSettings::default(),
    );

    strict
        .get_payment(&Correlation::new("payment"), &payment)
        .await
        .unwrap();
    h.control.fault("getPayment", "delay", 1, Some(1500)).await;
    let started = tokio::time::Instant::now();
    let answer = strict
        .get_payment(&Correlation::new("payment"), &payment)
        .await
        .unwrap();
    assert_eq!(answer.payment_id, payment);
    // 0.5 s timeout, then at least the last pollDelayInMs (400 ms) before the repeat; an
    // ordinary retry back-off would have been about 50 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let polls = h.control.log("getPayment").await;
    for gap in arrival_gaps(&polls) {
        assert!(gap >= Duration::from_millis(400), "polled after {gap:?}");
    }
}
