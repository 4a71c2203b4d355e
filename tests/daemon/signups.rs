//! Sign-ups through `mposd run` and the virtual cash register: a lane with the merchant's
//! subscription product against the simulator. A customer scans the agreement's code, accepts
//! and pays a first amount, which is captured once and refunded in part; a create whose answer
//! was lost, then a SIGKILL: one agreement, one reservation, one capture.

use super::consent::with_invoices_and_signups;
use super::invoices::{ecr_scanning, post};
use super::support::{final_outcome, stops_with_exit_0, Setup, MPOSD};
use serde_json::{json, Value};

/// The simulator's ground truth of agreements, one-offs, refunds and their counters.
async fn agreements(setup: &Setup) -> Value {
    reqwest::get(format!("{}/_sim/subscriptions/agreements", setup.sim.base_url()))
        .await
        .expect("ground truth")
        .json()
        .await
        .expect("json")
}

/// Every counter of the ground truth is at most one: no agreement made twice for one
/// reference, no one-off reserved, captured or refunded twice.
fn at_most_once(truth: &Value) {
    for counter in [
        "agreementsPerExternalId",
        "reservationsPerAgreement",
        "capturesPerAgreement",
        "refundsPerPayment",
    ] {
        for (key, count) in truth["counters"][counter].as_object().expect("counters") {
            assert!(count.as_u64() <= Some(1), "{counter}[{key}] = {count}: {truth}");
        }
    }
}

#[tokio::test]
async fn a_customer_scans_signs_up_pays_the_first_amount_and_gets_part_of_it_back() {
    let setup = with_invoices_and_signups().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    post(
        &setup,
        "/_sim/subscriptions/customers",
        json!({"action": "accept", "delayMs": 500}),
    )
    .await;
    let (ok, messages) = ecr_scanning(
        &setup,
        &[
            "signup",
            "Brødklubben",
            "--order",
            "M-1042",
            "--price",
            "99.00",
            "--per-year",
            "12",
            "--first-payment",
            "49.00",
            "--id",
            "join-1",
        ],
    )
    .await;
    assert!(ok, "{messages:?}");
    let pending = messages
        .iter()
        .find(|m| m["event"] == "agreement_pending")
        .expect("the agreement's code was shown");
    assert_eq!(pending["plan"], json!("Brødklubben"));
    assert_eq!(pending["first_payment"], json!(4900));
    assert_eq!(pending["per_year"], json!(12), "{pending}");
    let outcome = final_outcome(&messages);
    assert_eq!(outcome["result"], json!("signed_up"), "{messages:?}");
    assert_eq!(outcome["approved"], json!(true));
    assert_eq!(outcome["first_payment"], json!(4900));

    let truth = agreements(&setup).await;
    at_most_once(&truth);
    let agreement = &truth["agreements"][0];
    assert_eq!(agreement["status"], json!("Accepted"), "{truth}");
    assert_eq!(agreement["plan"], json!("Brødklubben"));
    let one_off = &truth["oneOffs"][0];
    assert_eq!(one_off["capturedAmountMinor"], json!(4900), "{truth}");

    // Part of the first payment back, then more than is left: refused by mposd itself.
    let (ok, messages) = setup
        .ecr(&[
            "refund",
            "20.00",
            "--payment",
            "join-1",
            "--refund-order",
            "RF-1",
            "--id",
            "rf-1",
        ])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(final_outcome(&messages)["result"], json!("refunded"));
    let (ok, messages) = setup
        .ecr(&[
            "refund",
            "30.00",
            "--payment",
            "join-1",
            "--refund-order",
            "RF-2",
            "--id",
            "rf-2",
        ])
        .await;
    assert!(!ok);
    assert_eq!(
        final_outcome(&messages)["code"],
        json!("refund_too_high"),
        "{messages:?}"
    );
    let truth = agreements(&setup).await;
    at_most_once(&truth);
    assert_eq!(truth["refunds"].as_array().map(Vec::len), Some(1), "{truth}");
    assert_eq!(truth["refunds"][0]["amountMinor"], json!(2000));

    stops_with_exit_0(daemon).await;
    let secret = mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET;
    assert!(log.lines().iter().all(|l| !l.contains(secret)));
}

#[tokio::test]
async fn a_lost_create_answer_and_a_sigkill_make_one_agreement_one_reservation_one_capture() {
    let setup = with_invoices_and_signups().await;
    let (mut daemon, _log) = setup.start_daemon_logged().await;
    // The customer accepts a few seconds after the agreement exists, without a scan: across
    // the lost answer, the kill and the restart.
    post(
        &setup,
        "/_sim/subscriptions/customers",
        json!({"action": "accept", "delayMs": 4000, "withoutLink": true}),
    )
    .await;
    post(
        &setup,
        "/_sim/faults",
        json!({"endpoint": "subscriptionsCreateAgreement", "mode": "commitThenDrop", "count": 1}),
    )
    .await;
    let command = [
        "signup",
        "Kaffeklub",
        "--order",
        "M-2001",
        "--first-payment",
        "25.00",
        "--id",
        "join-2",
    ];
    // The register gives up waiting after 2 s; the daemon is killed in the middle.
    let first = tokio::process::Command::new(MPOSD)
        .args(["ecr", "--tcp", &setup.ecr_addrs[0], "--json", "--timeout", "2"])
        .args(command)
        .output()
        .await
        .expect("run mposd ecr");
    let first = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(first.contains(r#""type":"accepted""#), "{first}");
    daemon.kill().await.expect("SIGKILL");
    let (daemon, _log) = setup.start_daemon_logged().await;
    let (ok, again) = setup.ecr(&command).await;
    assert!(ok, "{again:?}");
    assert_eq!(final_outcome(&again)["result"], json!("signed_up"), "{again:?}");
    let truth = agreements(&setup).await;
    at_most_once(&truth);
    let made: Vec<&Value> = truth["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["plan"] == "Kaffeklub")
        .collect();
    assert_eq!(made.len(), 1, "one agreement for the command: {truth}");
    assert_eq!(truth["oneOffs"][0]["capturedAmountMinor"], json!(2500), "{truth}");
    stops_with_exit_0(daemon).await;
}
