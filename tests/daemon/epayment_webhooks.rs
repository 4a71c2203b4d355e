//! `mposd run` with webhooks for its ePayment sales unit: the registration is made once and
//! kept across restarts (made again when it was deleted or its URL changed), forged
//! deliveries are refused, duplicates dropped, and a delivery makes the lane poll its payment
//! at once.

use super::sim_ep;
use super::support::{final_outcome, stops_with_exit_0, DaemonLog, Setup, MPOSD};
use mposd::correlation::Correlation;
use mposd::sim::fixtures::{EP_MSN, EP_USERS};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(60);

/// The simulator's request log.
async fn requests(setup: &Setup) -> Vec<Value> {
    let v: Value = reqwest::get(format!("{}/_sim/requests", setup.sim.base_url()))
        .await
        .expect("requests")
        .json()
        .await
        .expect("json");
    v["log"].as_array().cloned().unwrap_or_default()
}

async fn count(setup: &Setup, endpoint: &str) -> usize {
    requests(setup)
        .await
        .iter()
        .filter(|r| r["endpoint"] == json!(endpoint))
        .count()
}

/// How often the payment `reference` has been read.
async fn reads_of(setup: &Setup, reference: &str) -> usize {
    requests(setup)
        .await
        .iter()
        .filter(|r| r["endpoint"] == json!("epGetPayment"))
        .filter(|r| r["path"].as_str().is_some_and(|p| p.ends_with(reference)))
        .count()
}

/// Polls the simulator (another process) every 10 ms until `done` holds.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + WAIT;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn registered(log: &DaemonLog, how: &str) {
    log.wait_for(WAIT, |l| l.contains("webhooks registered") && l.contains(how))
        .await
        .unwrap_or_else(|| panic!("no \"webhooks registered\" ({how}): {:?}", log.lines()));
}

#[tokio::test]
async fn the_registration_is_kept_across_restarts_and_made_again_when_deleted_or_moved() {
    let (setup, url) = Setup::epayment_with_webhooks().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    registered(&log, "Registered").await;
    stops_with_exit_0(daemon).await;

    let (daemon, log) = setup.start_daemon_logged().await;
    registered(&log, "Kept").await;
    assert_eq!(count(&setup, "epRegisterWebhook").await, 1, "registered once");
    stops_with_exit_0(daemon).await;

    // Someone deletes it while the box is off: the next start registers again.
    let client = sim_ep::client(&setup.sim.base_url());
    let correlation = Correlation::new("test");
    let listed = client.webhooks(&correlation).await.expect("list").webhooks;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].url, url);
    assert!(listed[0]
        .events
        .contains(&"epayments.payment.authorized.v1".to_string()));
    client
        .delete_webhook(&correlation, &listed[0].id)
        .await
        .expect("delete");
    let (daemon, log) = setup.start_daemon_logged().await;
    registered(&log, "Registered").await;
    assert_eq!(count(&setup, "epRegisterWebhook").await, 2);
    let listed = client.webhooks(&correlation).await.expect("list").webhooks;
    assert_eq!(listed.len(), 1, "one registration of the URL: {listed:?}");
    stops_with_exit_0(daemon).await;

    // The shop moves the box to another public URL: the old registration goes.
    let moved = url.replace("/hooks/bageriet", "/hooks/bageriet-kasse");
    let config = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(&setup.config, config.replace(&url, &moved)).expect("config");
    let (daemon, log) = setup.start_daemon_logged().await;
    registered(&log, "Registered").await;
    let listed = client.webhooks(&correlation).await.expect("list").webhooks;
    let urls: Vec<&str> = listed.iter().map(|r| r.url.as_str()).collect();
    assert_eq!(urls, [moved.as_str()]);
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_delivery_makes_the_lane_poll_at_once_and_duplicates_or_forgeries_change_nothing() {
    let (setup, url) = Setup::epayment_with_webhooks().await;
    let base = setup.sim.base_url();
    sim_ep::customers(&setup.sim.base_url(), "ignore", 0).await;
    let r = reqwest::Client::new()
        .post(format!("{base}/_sim/epayment/webhooks/duplicates"))
        .json(&json!({"everyDelivery": true}))
        .send()
        .await
        .expect("duplicates");
    assert!(r.status().is_success());
    let (daemon, log) = setup.start_daemon_logged().await;
    registered(&log, "Registered").await;

    // A forged delivery: refused, and no poll follows.
    let forged = reqwest::Client::new()
        .post(&url)
        .header("x-ms-date", httpdate_now())
        .header("x-ms-content-sha256", "bm90IHRoZSBoYXNo")
        .header(
            "authorization",
            "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=Zm9yZ2Vk",
        )
        .body(r#"{"msn":"123456","reference":"nobody","name":"AUTHORIZED"}"#)
        .send()
        .await
        .expect("the listener answers");
    assert_eq!(forged.status(), 401);
    let unsigned = reqwest::Client::new()
        .post(&url)
        .body("{}")
        .send()
        .await
        .expect("the listener answers");
    assert_eq!(unsigned.status(), 401);
    let huge = reqwest::Client::new()
        .post(&url)
        .body(vec![b' '; 1 << 20])
        .send()
        .await
        .expect("the listener answers");
    assert_eq!(huge.status(), 413);
    log.wait_for(WAIT, |l| l.contains("webhook delivery refused"))
        .await
        .expect("the refusal is logged");

    let ecr_addr = setup.ecr_addr.clone();
    let pay = tokio::spawn(async move {
        tokio::process::Command::new(MPOSD)
            .args(["ecr", "--tcp", &ecr_addr, "--json", "--timeout", "60"])
            .args(["pay", "20.00", "--order", "R1-0042", "--id", "sale-42"])
            .output()
            .await
    });
    let deadline = Instant::now() + WAIT;
    let reference = loop {
        let v: Value = reqwest::get(format!("{base}/_sim/epayment/payments"))
            .await
            .expect("payments")
            .json()
            .await
            .expect("json");
        if let Some(r) = v["payments"][0]["reference"].as_str() {
            break r.to_string();
        }
        assert!(Instant::now() < deadline, "the payment never reached the backend");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Right after a poll, the customer approves: the next scheduled poll is 2 s away, the
    // delivery of AUTHORIZED brings it forward.
    let (s, r) = (&setup, reference.as_str());
    let polled = reads_of(s, r).await;
    until("a poll", || async move { reads_of(s, r).await > polled }).await;
    let polled = reads_of(s, r).await;
    let approve = reqwest::Client::new()
        .post(format!(
            "{base}/_sim/epayment/payments/{EP_MSN}/{reference}/approve"
        ))
        .json(&json!({"phoneNumber": EP_USERS[0]}))
        .send()
        .await
        .expect("approve");
    assert!(approve.status().is_success(), "{}", approve.status());
    let approved = Instant::now();
    until("the poll after the delivery", || async move {
        reads_of(s, r).await > polled
    })
    .await;
    let waited = approved.elapsed();
    assert!(
        waited < Duration::from_millis(1500),
        "the payment was read {waited:?} after the approval; the scheduled poll comes 2 s after the last"
    );
    let output = pay.await.expect("ecr").expect("ecr runs");
    let messages: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );

    // Every delivery came twice; each event was news once.
    log.wait_for(WAIT, |l| l.contains("webhook delivery seen before"))
        .await
        .expect("a duplicate is dropped");
    let news: Vec<String> = log
        .lines()
        .into_iter()
        .filter(|l| l.contains("payment news") && l.contains(&reference))
        .collect();
    for event in ["CREATED", "AUTHORIZED"] {
        let n = news
            .iter()
            .filter(|l| l.contains(&format!("\"{event}\"")))
            .count();
        assert_eq!(n, 1, "{event} once: {news:?}");
    }
    stops_with_exit_0(daemon).await;
}

fn httpdate_now() -> String {
    chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
