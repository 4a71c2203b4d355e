//! Invoices through `mposd run` and the virtual cash register: a lane with the merchant's
//! invoice product (consent, gateway pair) against the simulator. An invoice pushed to a phone
//! and paid at once; a QR invoice scanned and scheduled (not money), then paid on its day as the
//! resolution; a create whose answer was lost, then a SIGKILL: no second push, the cashier told
//! the truth before and after the restart.

use super::consent::with_invoices;
use super::support::{final_outcome, stops_with_exit_0, Setup, MPOSD};
use mposd::sim::fixtures::INVOICE_USER_PHONE;
use serde_json::{json, Value};

pub(super) async fn post(setup: &Setup, path: &str, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", setup.sim.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control call");
    assert!(response.status().is_success(), "{path}: {}", response.status());
}

/// The simulator's ground truth of invoices and pushes per phone.
async fn invoices(setup: &Setup) -> Value {
    reqwest::get(format!("{}/_sim/invoice/invoices", setup.sim.base_url()))
        .await
        .expect("ground truth")
        .json()
        .await
        .expect("json")
}

/// Runs `mposd ecr --json <args>` and, when the terminal says an invoice or an agreement waits
/// with a link, opens that link as the customer's phone does after scanning the code on the
/// display; returns the exit success and every message.
pub(super) async fn ecr_scanning(setup: &Setup, args: &[&str]) -> (bool, Vec<Value>) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(MPOSD)
        .args(["ecr", "--tcp", &setup.ecr_addrs[0], "--json", "--timeout", "60"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run mposd ecr");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut messages = Vec::new();
    while let Some(line) = lines.next_line().await.expect("read") {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let shown = message["event"] == "invoice_issued" || message["event"] == "agreement_pending";
        if let (true, Some(link)) = (shown, message["link"].as_str()) {
            let page = reqwest::get(link).await.expect("the landing page");
            assert!(page.status().is_success(), "{link}: {}", page.status());
        }
        messages.push(message);
    }
    (child.wait().await.expect("exit").success(), messages)
}

fn event<'a>(messages: &'a [Value], name: &str) -> Option<&'a Value> {
    messages
        .iter()
        .find(|m| m["type"] == "event" && m["event"] == name)
}

#[tokio::test]
async fn invoices_by_phone_and_by_qr_code_through_the_cash_register() {
    let setup = with_invoices().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    post(
        &setup,
        "/_sim/invoice/customers",
        json!({"phone": INVOICE_USER_PHONE, "action": "payNow", "delayMs": 500}),
    )
    .await;
    let phone = INVOICE_USER_PHONE.trim_start_matches('+');
    let (ok, messages) = setup
        .ecr(&[
            "invoice",
            "349.00",
            "--order",
            "R1-0200",
            "--phone",
            phone,
            "--id",
            "inv-phone",
        ])
        .await;
    assert!(ok, "{messages:?}");
    let issued = event(&messages, "invoice_issued").expect("an invoice_issued event");
    assert_eq!(issued["phone"], json!("+••••••3259"), "{issued}");
    let outcome = final_outcome(&messages);
    assert_eq!(outcome["result"], json!("invoice_paid"), "{messages:?}");
    assert_eq!(outcome["approved"], json!(true));
    assert_eq!(outcome["amount"], json!(34900));

    // A QR invoice: the customer scans the code (opens its link) and schedules the payment
    // for a later day: not money, answered as such.
    let later = (chrono::Utc::now().date_naive() + chrono::Days::new(5)).to_string();
    post(
        &setup,
        "/_sim/invoice/customers",
        json!({"phone": INVOICE_USER_PHONE, "action": "schedule", "paymentDate": later, "opensLinks": true}),
    )
    .await;
    let (ok, messages) = ecr_scanning(
        &setup,
        &[
            "invoice", "120.00", "--order", "R1-0201", "--wait", "60", "--id", "inv-qr",
        ],
    )
    .await;
    assert!(
        ok,
        "issued and scheduled is a success of the command: {messages:?}"
    );
    let outcome = final_outcome(&messages);
    assert_eq!(outcome["result"], json!("invoice_scheduled"), "{messages:?}");
    assert_eq!(
        outcome["approved"],
        json!(false),
        "a scheduled invoice is not money"
    );
    assert_eq!(outcome["payment_date"], json!(later));

    // A query later gives the stored answer and the invoice's id.
    let (_, queried) = setup.ecr(&["query", "inv-qr"]).await;
    assert_eq!(final_outcome(&queried)["result"], json!("invoice_scheduled"));
    assert!(queried.iter().any(|m| m["invoice_id"].is_string()), "{queried:?}");

    stops_with_exit_0(daemon).await;
    let secret = mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET;
    assert!(log
        .lines()
        .iter()
        .all(|l| !l.contains(secret) && !l.contains(phone)));
}

#[tokio::test]
async fn a_lost_create_answer_and_a_sigkill_never_push_a_second_invoice() {
    let setup = with_invoices().await;
    let (mut daemon, _log) = setup.start_daemon_logged().await;
    // Warm the merchant and issuer look-ups, so the fault meets the create itself.
    post(
        &setup,
        "/_sim/invoice/customers",
        json!({"phone": INVOICE_USER_PHONE, "action": "ignore"}),
    )
    .await;
    let phone = INVOICE_USER_PHONE.trim_start_matches('+');
    let (ok, warm) = setup
        .ecr(&[
            "invoice", "10.00", "--order", "R1-0300", "--phone", phone, "--wait", "0",
        ])
        .await;
    assert!(ok, "{warm:?}");
    post(
        &setup,
        "/_sim/faults",
        json!({"endpoint": "invoiceCreate", "mode": "commitThenDrop", "count": 1}),
    )
    .await;
    let (ok, messages) = setup
        .ecr(&[
            "invoice", "25.00", "--order", "R1-0301", "--phone", phone, "--id", "inv-lost",
        ])
        .await;
    assert!(!ok, "{messages:?}");
    let outcome = final_outcome(&messages);
    assert_eq!(outcome["result"], json!("needs_human"), "{messages:?}");
    assert!(
        outcome["detail"].as_str().unwrap().contains("MobilePay app"),
        "{outcome}"
    );
    let truth = invoices(&setup).await;
    let made: Vec<&Value> = truth["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["paymentReference"] == "R1-0301")
        .collect();
    assert_eq!(made.len(), 1, "one invoice for the command: {made:?}");
    assert_eq!(
        truth["pushes"][INVOICE_USER_PHONE],
        json!(2),
        "the warm-up's and this one's"
    );

    // SIGKILL and restart: the repeated command gets the same answer, and nothing is sent.
    daemon.kill().await.expect("SIGKILL");
    let (daemon, _log) = setup.start_daemon_logged().await;
    let (_, again) = setup
        .ecr(&[
            "invoice", "25.00", "--order", "R1-0301", "--phone", phone, "--id", "inv-lost",
        ])
        .await;
    assert_eq!(final_outcome(&again), outcome, "{again:?}");
    assert_eq!(invoices(&setup).await["pushes"][INVOICE_USER_PHONE], json!(2));
    stops_with_exit_0(daemon).await;
}
