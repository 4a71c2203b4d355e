//! The lane's point of sale while `mposd run` runs: deleted at MobilePay behind the daemon's
//! back, it is registered again without a restart and the next payment runs on the new one;
//! re-created at start because its settings changed, it is served at once.

use super::support::{final_outcome, stops_with_exit_0, Setup};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_point_of_sale_deleted_behind_the_daemons_back_is_registered_again_without_a_restart() {
    let setup = Setup::new().await;
    let (mut daemon, log) = setup.start_daemon_logged().await;
    setup.customers_accept(100).await;
    let (ok, messages) = setup
        .ecr(&["--id", "sale-1", "pay", "10.00", "--order", "R-0001", "--reserve"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("reserved"),
        "{messages:?}"
    );
    let old = setup.live_pos("till-1").await;
    let old_id = old["posId"].as_str().expect("posId").to_string();

    // MobilePay support deletes the point of sale; the daemon is not told.
    let url = format!("{}/_sim/pointofsales/{old_id}", setup.sim.base_url());
    let deleted = reqwest::Client::new().delete(url).send().await.expect("delete");
    assert!(deleted.status().is_success(), "{}", deleted.status());

    // The payment that meets the missing point of sale is refused: nothing happened.
    let (ok, messages) = setup
        .ecr(&["--id", "sale-2", "pay", "20.00", "--order", "R-0002"])
        .await;
    assert!(!ok, "{messages:?}");
    let refused = final_outcome(&messages);
    assert_eq!(refused["result"], json!("rejected"), "{refused}");
    assert_eq!(refused["code"], json!("point_of_sale_not_found"), "{refused}");

    // The lane registers it again by itself and says so.
    log.wait_for(Duration::from_secs(60), |l| {
        l.contains("the lane serves a new point of sale")
    })
    .await
    .unwrap_or_else(|| panic!("no new point of sale in {:#?}", log.lines()));
    let new = setup.live_pos("till-1").await;
    let new_id = new["posId"].as_str().expect("posId").to_string();
    assert_ne!(new_id, old_id);
    let (_, messages) = setup.ecr(&["status"]).await;
    let status = messages
        .iter()
        .find(|m| m["type"] == "status")
        .unwrap_or_else(|| panic!("no status in {messages:?}"));
    assert_eq!(status["lane"], json!(new_id), "{status}");
    let alarms = status["alarms"].to_string();
    assert!(
        alarms.contains("sale-2")
            && alarms.contains(&old_id)
            && alarms.contains("does not know the point of sale"),
        "{status}"
    );
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("payment engine alarm") && l.contains(&old_id)),
        "the alarm is logged"
    );

    // The cashier's next payment runs on the new point of sale, and the reservation made on the
    // old one can still be captured.
    let (ok, messages) = setup
        .ecr(&["--id", "sale-3", "pay", "20.00", "--order", "R-0003"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let (ok, messages) = setup.ecr(&["--id", "capture-1", "capture", "sale-1"]).await;
    assert!(ok, "{messages:?}");
    let payments = setup.payments().await;
    let on = |order: &str| {
        payments
            .iter()
            .find(|p| p["orderId"] == order)
            .unwrap_or_else(|| panic!("no payment {order} in {payments:?}"))
            .clone()
    };
    assert_eq!(on("R-0003")["posId"], json!(new_id));
    assert_eq!(on("R-0003")["status"], json!("Captured"));
    assert_eq!(on("R-0001")["posId"], json!(old_id));
    assert_eq!(on("R-0001")["status"], json!("Captured"));
    assert!(
        !payments.iter().any(|p| p["orderId"] == "R-0002"),
        "the refused payment was not created: {payments:?}"
    );

    assert!(daemon.try_wait().expect("wait").is_none(), "mposd kept running");
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_point_of_sale_recreated_at_start_is_served_at_once() {
    let setup = Setup::new().await;
    setup.customers_accept(100).await;
    let daemon = setup.start_daemon().await;
    let (ok, messages) = setup
        .ecr(&["--id", "sale-1", "pay", "10.00", "--order", "R-0001"])
        .await;
    assert!(ok, "{messages:?}");
    let old = setup.live_pos("till-1").await;
    stops_with_exit_0(daemon).await;

    // Nothing is open, so the changed name is applied at start: deleted and created again.
    let text = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(
        &setup.config,
        text.replace("name = \"Kasse 1\"", "name = \"Kasse 1 (ny)\""),
    )
    .expect("config");
    let (mut daemon, log) = setup.start_daemon_logged().await;
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("point of sale re-created to match the configuration")),
        "{:#?}",
        log.lines()
    );
    let new = setup.live_pos("till-1").await;
    assert_eq!(new["name"], json!("Kasse 1 (ny)"));
    assert_ne!(new["posId"], old["posId"]);

    let (ok, messages) = setup
        .ecr(&["--id", "sale-2", "pay", "20.00", "--order", "R-0002"])
        .await;
    assert!(ok, "{messages:?}");
    let payments = setup.payments().await;
    let sale_2 = payments
        .iter()
        .find(|p| p["orderId"] == "R-0002")
        .expect("sale-2");
    assert_eq!(sale_2["posId"], new["posId"]);
    // The earlier sale is still answered from the journal.
    let (_, messages) = setup.ecr(&["query", "sale-1"]).await;
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    assert!(daemon.try_wait().expect("wait").is_none(), "mposd kept running");
    stops_with_exit_0(daemon).await;
}
