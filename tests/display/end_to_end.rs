//! The whole chain: the payment engine against the MobilePay simulator over loopback HTTP,
//! the display following its lane, and a "customer" who checks in with the beacon id read
//! from the QR code in the rendered PNG. The payment only completes if the code on the
//! screen is right.

use crate::engine_support::{id, lane, pay, CREDIT_USER};
use crate::renderer::wait_for;
use mposd::backends::pos_v10::formats::qr_payload;
use mposd::display::settings::DisplaySettings;
use mposd::display::Picture;
use mposd::engine::Outcome;
use mposd::money::{Currency, Minor};
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use serde_json::json;
use std::time::Duration;

async fn user_simulation(base: &str, action: &str, beacon_id: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/pos/app/usersimulation/{action}"))
        .header("x-ibm-client-id", DEMO_CLIENT_ID)
        .header("x-ibm-client-secret", DEMO_CLIENT_SECRET)
        .json(&json!({ "beaconId": beacon_id, "phoneNumber": CREDIT_USER }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{action}: {}", response.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_pays_by_scanning_the_code_on_the_display() {
    let lane = lane().await;
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("display.png");
    std::fs::write(
        dir.path().join("till.toml"),
        format!(
            "name = \"till\"\ndescription = \"x\"\n[display]\nkind = \"png\"\npath = \"{}\"\nwidth = 320\nheight = 240\n",
            png.display()
        ),
    )
    .unwrap();
    let settings: DisplaySettings = toml::from_str(&format!(
        "board = \"till\"\nboards_dir = \"{}\"\nlanguage = \"da\"\nheader = \"Kiosken på Ærø\"\nresult_hold_ms = 60000\n",
        dir.path().display()
    ))
    .unwrap();
    let display = settings
        .start(lane.engine(), Some(&qr_payload(&lane.beacon_id)), Currency::DKK)
        .unwrap();
    let handle = display.handle.clone();

    let engine = lane.engine().clone();
    let sale = tokio::spawn(async move {
        tokio::time::timeout(
            Duration::from_secs(120),
            engine.run(id("sale-1"), pay(12_950, "order-1", false)),
        )
        .await
        .expect("the sale finishes")
        .expect("the engine runs")
    });

    wait_for(&handle, "the QR code for the sale", |s| {
        s.showing == Some("scan-to-pay")
    })
    .await;
    let picture = Picture::read_png(std::fs::File::open(&png).unwrap()).unwrap();
    let codes = picture.decode_qr_codes();
    assert_eq!(codes.len(), 1, "exactly one code on the screen");
    let scanned = codes[0]
        .strip_prefix("mobilepaypos://pos?id=")
        .and_then(|rest| rest.strip_suffix("&source=qr"))
        .expect("a MobilePay PoS code");

    user_simulation(&lane.sim.base_url(), "checkin", scanned).await;
    wait_for(&handle, "the check-in", |s| s.showing == Some("checked-in")).await;
    user_simulation(&lane.sim.base_url(), "acceptpayment", scanned).await;
    wait_for(&handle, "the approval", |s| s.showing == Some("approved")).await;

    let outcome = sale.await.unwrap();
    assert!(
        matches!(
            outcome,
            Outcome::Captured {
                amount: Minor(12_950),
                ..
            }
        ),
        "{outcome:?}"
    );
    let approved = Picture::read_png(std::fs::File::open(&png).unwrap()).unwrap();
    assert!(approved.decode_qr_codes().is_empty(), "no code after the payment");
    assert!(handle.status().healthy);
    assert_eq!(handle.status().failures, 0);
}
