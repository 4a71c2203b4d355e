//! `mposd run` end to end: a payment from the cash register, an orderly stop on SIGTERM, and a
//! restart after SIGKILL that neither loses nor repeats a payment.

use super::support::{final_outcome, stops_with_exit_0, Setup};
use mposd::sim::fixtures;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn pays_from_the_cash_register_and_stops_cleanly_on_sigterm() {
    let setup = Setup::new().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    setup.customers_accept(100).await;
    let (ok, messages) = setup
        .ecr(&["pay", "49.95", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    let outcome = final_outcome(&messages);
    assert!(ok, "{messages:?}");
    assert_eq!(outcome["result"], json!("captured"), "{outcome}");
    assert_eq!(outcome["amount"], json!(4995));
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["status"], json!("Captured"));
    assert_eq!(payments[0]["capturedMinor"], json!(4995));
    // The display shows the result.
    assert!(setup.dir.path().join("display.png").exists());

    // The journal tells the sale's story by command, order, payment and correlation id,
    // without the customer's phone number or any secret.
    let payment_id = payments[0]["paymentId"].as_str().expect("payment id").to_string();
    for step in [
        "command accepted",
        "waiting for the customer",
        "captured",
        "answered: captured",
    ] {
        let line = log
            .wait_for(Duration::from_secs(30), |l| {
                l.contains(&format!("\"message\":\"{step}\""))
            })
            .await
            .unwrap_or_else(|| panic!("no {step:?} line in {:#?}", log.lines()));
        let entry: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
        let fields = &entry["fields"];
        assert_eq!(fields["command"], json!("sale-1"), "{line}");
        assert_eq!(fields["order_id"], json!("R1-0001"), "{line}");
        assert!(
            fields["correlation_id"].as_str().is_some_and(|c| !c.is_empty()),
            "{line}"
        );
        if step != "command accepted" {
            assert_eq!(fields["payment_id"], json!(payment_id), "{line}");
        }
    }
    for line in log.lines() {
        assert!(
            !line.contains("20031801"),
            "the customer's phone number was logged: {line}"
        );
        assert!(
            !line.contains(fixtures::DEMO_CLIENT_SECRET),
            "the client secret was logged: {line}"
        );
    }

    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_killed_daemon_recovers_and_answers_the_same_command_with_the_same_payment() {
    let setup = Setup::new().await;
    let mut daemon = setup.start_daemon().await;
    // Nobody comes yet: the payment waits for the customer when the daemon dies.
    let ecr_addr = setup.ecr_addr.clone();
    let pay = tokio::spawn(async move {
        tokio::process::Command::new(super::support::MPOSD)
            .args([
                "ecr",
                "--tcp",
                &ecr_addr,
                "--json",
                "--timeout",
                "60",
                "pay",
                "20.00",
                "--order",
                "R1-0002",
                "--id",
                "sale-2",
            ])
            .output()
            .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while setup.payments().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment never reached MobilePay"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.kill().await.expect("SIGKILL");
    let _ = pay.await;

    // The customer approves while the terminal is down.
    let beacon = {
        let url = format!("{}/_sim/pointofsales", setup.sim.base_url());
        let v: serde_json::Value = reqwest::get(url).await.expect("pos").json().await.expect("json");
        v["pointOfSales"][0]["beaconId"]
            .as_str()
            .expect("beacon")
            .to_string()
    };
    for action in ["checkin", "acceptpayment"] {
        let r = reqwest::Client::new()
            .post(format!(
                "{}/pos/app/usersimulation/{action}",
                setup.sim.base_url()
            ))
            .header("x-ibm-client-id", fixtures::DEMO_CLIENT_ID)
            .header("x-ibm-client-secret", fixtures::DEMO_CLIENT_SECRET)
            .json(&json!({"beaconId": beacon, "phoneNumber": "+4520031801"}))
            .send()
            .await
            .expect("user simulation");
        assert!(r.status().is_success(), "{action}: {}", r.status());
    }

    let _daemon = setup.start_daemon().await;
    // Repeating the command gives the one payment, captured, and no second payment.
    let (ok, messages) = setup
        .ecr(&["pay", "20.00", "--order", "R1-0002", "--id", "sale-2"])
        .await;
    let outcome = final_outcome(&messages);
    assert!(ok, "{messages:?}");
    assert_eq!(outcome["result"], json!("captured"), "{outcome}");
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["status"], json!("Captured"));
    let (_, messages) = setup.ecr(&["query", "sale-2"]).await;
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
}
