//! `mposd run` with an ePayment lane: sales from the cash register line reach the simulator's
//! ePayment API, captures, reservations and refunds move the money once, and a daemon killed
//! in the middle of a sale finds it again by its reference.

use super::sim_ep;
use super::support::{final_outcome, stops_with_exit_0, Setup};
use mposd::sim::fixtures::{EP_CLIENT_SECRET, EP_MSN, EP_SUBSCRIPTION_KEY, EP_USERS};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn sales_reservations_and_refunds_move_the_money_once() {
    let setup = Setup::epayment().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    sim_ep::customers(&setup.sim.base_url(), "approve", 200).await;

    let (ok, messages) = setup
        .ecr(&["pay", "49.95", "--order", "R1-0001", "--id", "sale-1"])
        .await;
    let outcome = final_outcome(&messages);
    assert!(ok, "{messages:?}");
    assert_eq!(outcome["result"], json!("captured"), "{outcome}");
    assert!(
        messages
            .iter()
            .any(|m| m["event"] == json!("waiting_for_customer")),
        "{messages:?}"
    );
    let sold = sim_ep::payments(&setup.sim.base_url()).await;
    assert_eq!(sold.len(), 1, "{sold:?}");
    assert_eq!(sold[0]["userFlow"], json!("QR"));
    assert_eq!(sold[0]["capturedMinor"], json!(4995));
    let reference = sold[0]["reference"].as_str().expect("reference").to_string();
    assert_eq!(
        outcome["payment_id"],
        json!(reference),
        "the payment is named by our reference"
    );

    // A reservation, captured in two parts.
    let (_, messages) = setup
        .ecr(&[
            "pay",
            "120.00",
            "--order",
            "R1-0002",
            "--id",
            "sale-2",
            "--reserve",
        ])
        .await;
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("reserved"),
        "{messages:?}"
    );
    for (id, amount) in [("cap-1", "50.00"), ("cap-2", "45.50")] {
        let (_, messages) = setup.ecr(&["capture", "sale-2", amount, "--id", id]).await;
        assert_eq!(
            final_outcome(&messages)["result"],
            json!("captured"),
            "{messages:?}"
        );
    }
    // A repeated capture command is answered from the journal, not captured again.
    let (_, messages) = setup.ecr(&["capture", "sale-2", "50.00", "--id", "cap-1"]).await;
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let reserved = sim_ep::payments(&setup.sim.base_url())
        .await
        .into_iter()
        .find(|p| p["amountMinor"] == json!(12000))
        .expect("the reservation");
    assert_eq!(reserved["capturedMinor"], json!(9550), "{reserved}");

    // Two refunds of the first sale.
    for (id, amount) in [("refund-1", "10.00"), ("refund-2", "5.00")] {
        let (_, messages) = setup
            .ecr(&[
                "refund",
                amount,
                "--payment",
                "sale-1",
                "--refund-order",
                id,
                "--id",
                id,
            ])
            .await;
        assert_eq!(
            final_outcome(&messages)["result"],
            json!("refunded"),
            "{messages:?}"
        );
    }
    let first = sim_ep::payments(&setup.sim.base_url())
        .await
        .into_iter()
        .find(|p| p["reference"] == json!(reference))
        .expect("the first sale");
    assert_eq!(first["refundedMinor"], json!(1500), "{first}");

    // Prepared payments do not exist at ePayment: refused, not pretended.
    let (_, messages) = setup
        .ecr(&["prepare", "--order", "R1-0003", "--id", "prep-1"])
        .await;
    assert_eq!(
        final_outcome(&messages)["code"],
        json!("not_supported"),
        "{messages:?}"
    );

    for line in log.lines() {
        for secret in [EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY] {
            assert!(!line.contains(secret), "a key was logged: {line}");
        }
    }
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn a_killed_daemon_finds_its_sale_by_reference_and_never_creates_a_second() {
    let setup = Setup::epayment().await;
    sim_ep::customers(&setup.sim.base_url(), "ignore", 0).await;
    let mut daemon = setup.start_daemon().await;
    let ecr_addr = setup.ecr_addr.clone();
    let pay = tokio::spawn(async move {
        tokio::process::Command::new(super::support::MPOSD)
            .args(["ecr", "--tcp", &ecr_addr, "--json", "--timeout", "60"])
            .args(["pay", "20.00", "--order", "R1-0009", "--id", "sale-9"])
            .output()
            .await
    });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let reference = loop {
        if let Some(p) = sim_ep::payments(&setup.sim.base_url()).await.first() {
            break p["reference"].as_str().expect("reference").to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the payment never reached the backend"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    daemon.kill().await.expect("SIGKILL");
    let _ = pay.await;

    // The customer approves while the terminal is down.
    let r = reqwest::Client::new()
        .post(format!(
            "{}/_sim/epayment/payments/{EP_MSN}/{reference}/approve",
            setup.sim.base_url()
        ))
        .json(&json!({"phoneNumber": EP_USERS[0]}))
        .send()
        .await
        .expect("approve");
    assert!(r.status().is_success(), "{}", r.status());

    let _daemon = setup.start_daemon().await;
    let (ok, messages) = setup
        .ecr(&["pay", "20.00", "--order", "R1-0009", "--id", "sale-9"])
        .await;
    let outcome = final_outcome(&messages);
    assert!(ok, "{messages:?}");
    assert_eq!(outcome["result"], json!("captured"), "{outcome}");
    let all = sim_ep::payments(&setup.sim.base_url()).await;
    assert_eq!(all.len(), 1, "one payment, never a second: {all:?}");
    assert_eq!(all[0]["capturedMinor"], json!(2000));
}
