//! The same client over HTTPS, trusting the simulator's certificate through the extra CA file.

use super::support::*;
use mposd::{
    backends::pos_v10::{model::PaymentStatus, ApiError, Correlation},
    money::Minor,
    sim::SimConfig,
};

#[tokio::test]
async fn onboarding_and_a_payment_over_https_with_the_extra_ca() {
    let h = Harness::with(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await;
    assert!(h.sim.base_url().starts_with("https://"));
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    h.control.customer(&pos.beacon_id, "accept").await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;
    let correlation = Correlation::new("payment");
    eventually("payment reserved", || async {
        client.get_payment(&correlation, &payment).await.unwrap().status == PaymentStatus::Reserved
    })
    .await;
    client
        .capture_payment(&correlation, &payment, Minor(4995))
        .await
        .unwrap();
    let truth = h.control.payments().await;
    assert_eq!(truth[0]["status"], "Captured");
    assert_eq!(truth[0]["capturedMinor"], 4995);
}

#[tokio::test]
async fn without_the_extra_ca_the_simulator_is_not_trusted() {
    let h = Harness::with(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await;
    let mut config = h.config();
    config.extra_ca_file = None;
    let client = h.client_with(
        h.open_db(),
        config,
        mposd::backends::pos_v10::Secret::new(SECRET),
        Default::default(),
    );
    let err = client
        .find_pos(&Correlation::new("test"), Some("k"), None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Token(_)), "{err}");
    assert_eq!(h.control.count("token").await, 0, "no request got through TLS");
}
