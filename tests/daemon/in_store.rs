//! The in-store flows through `mposd run` and the virtual cash register on PoS V10, whose
//! customers always scan: a sale pushed to a phone number or to a scanned personal QR code is
//! refused `not_supported` before anything is stored or sent, values the engine checks are
//! refused with their own codes first, and a sale with a receipt is paid as ever (V10 shows no
//! receipt in the app). Through an ePayment sales unit the same sales are pushed to the
//! customer and paid, with the receipt. The customer's number and code stay out of the
//! daemon's log.

use super::support::{final_outcome, stops_with_exit_0, DaemonLog, Setup};
use mposd::sim::fixtures::{personal_qr_of, EP_USERS};
use serde_json::{json, Value};
use std::time::Duration;

fn rejection(ok: bool, messages: &[Value]) -> (String, String) {
    assert!(!ok, "a refused command exits non-zero: {messages:?}");
    assert!(
        !messages.iter().any(|m| m["type"] == "accepted"),
        "a refused command is not stored: {messages:?}"
    );
    let outcome = final_outcome(messages);
    assert_eq!(outcome["result"], json!("rejected"), "{messages:?}");
    (
        outcome["code"].as_str().unwrap_or_default().to_string(),
        outcome["message"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn pushed_sales_are_refused_on_pos_v10_and_a_receipt_is_paid_as_ever() {
    let setup = Setup::new().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    setup.customers_accept(100).await;
    let pay = |id: &'static str, amount: &'static str, extra: &[&'static str]| {
        let mut args = vec!["pay", amount, "--order", "R1-0100", "--id", id];
        args.extend_from_slice(extra);
        args
    };

    for (flag, value) in [
        ("--phone", "+45 20 31 77 94"),
        ("--personal-qr", "https://qr.example/p/3f9a2c"),
    ] {
        let (ok, messages) = setup.ecr(&pay("push-1", "12.50", &[flag, value])).await;
        let (code, message) = rejection(ok, &messages);
        assert_eq!(code, "not_supported", "{flag}: {message}");
        assert!(message.contains("let the customer scan"), "{message}");
    }
    // Checked before the backend's features: a wrong number is the cashier's to fix anywhere.
    let (ok, messages) = setup.ecr(&pay("push-2", "12.50", &["--phone", "20317794"])).await;
    let (code, message) = rejection(ok, &messages);
    assert_eq!(code, "invalid_phone_number", "{message}");
    let lines = [
        "--line",
        "5701234567890;Rugbrød;2;39.90;25",
        "--line",
        "bag;Bærepose;;10.00;0",
    ];
    let (ok, messages) = setup.ecr(&pay("lines-1", "49.95", &lines)).await;
    let (code, message) = rejection(ok, &messages);
    assert_eq!(code, "invalid_order_lines", "{message}");
    assert_eq!(
        message,
        "the order lines add up to 49.90, not to the amount 49.95"
    );
    // Both customers at once is refused by the register itself; nothing is sent.
    let (ok, messages) = setup
        .ecr(&pay(
            "push-3",
            "12.50",
            &["--phone", "4512345678", "--personal-qr", "q"],
        ))
        .await;
    assert!(!ok && messages.is_empty(), "{messages:?}");

    // None of them was stored or reached MobilePay.
    for id in ["push-1", "push-2", "lines-1", "push-3"] {
        let (_, messages) = setup.ecr(&["query", id]).await;
        let answer = messages
            .iter()
            .find(|m| m["type"] == "query_result")
            .unwrap_or_else(|| panic!("no query_result for {id}: {messages:?}"));
        assert_eq!(answer["state"], json!("not_found"), "{answer}");
    }
    assert!(setup.payments().await.is_empty());

    // The receipt adds up: the sale is paid, the receipt is left out where V10 has none.
    let lines = [
        "--line",
        "5701234567890;Rugbrød;2;39.90;25",
        "--line",
        "bag;Bærepose;;10.05;0",
    ];
    let (ok, messages) = setup.ecr(&pay("lines-2", "49.95", &lines)).await;
    let outcome = final_outcome(&messages);
    assert!(ok, "{messages:?}");
    assert_eq!(outcome["result"], json!("captured"), "{outcome}");
    let payments = setup.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["capturedMinor"], json!(4995));

    stops_with_exit_0(daemon).await;
    never_logged(&log, &["20317794", "20 31 77 94", "3f9a2c"]).await;
}

/// The customer's number and personal code are theirs, not the log's: none of `private` is in
/// the log of a daemon that stopped (read to its end).
async fn never_logged(log: &DaemonLog, private: &[&str]) {
    log.wait_for(Duration::from_secs(30), |l| l.contains("\"message\":\"stopped\""))
        .await
        .unwrap_or_else(|| panic!("no \"stopped\" line in {:#?}", log.lines()));
    for line in log.lines() {
        for text in private {
            assert!(!line.contains(text), "{text:?} was logged: {line}");
        }
    }
}

/// On ePayment the same flows push the payment to the customer's app: to the number as the
/// cashier typed it, and to the customer whose personal QR code was scanned. The phone sale
/// carries its receipt lines (the simulator checks the create request; the receipt's form is
/// the backend's own tests' concern).
#[tokio::test]
async fn sales_pushed_to_a_phone_or_a_personal_qr_are_paid_through_epayment() {
    let setup = Setup::epayment().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    let (by_phone, by_code) = (EP_USERS[0], EP_USERS[1]);
    for phone in [by_phone, by_code] {
        let response = reqwest::Client::new()
            .post(format!("{}/_sim/epayment/behaviour", setup.sim.base_url()))
            .json(&json!({"phoneNumber": phone, "action": "approve", "delayMs": 100}))
            .send()
            .await
            .expect("the simulator answers");
        assert!(response.status().is_success(), "{}", response.status());
    }
    // The number as a cashier types it: +, country code, spaces.
    let typed = format!("+{} {} {}", &by_phone[..2], &by_phone[2..6], &by_phone[6..]);
    let code = personal_qr_of(by_code);
    let sales = [
        vec![
            "pay",
            "49.95",
            "--order",
            "R1-0200",
            "--id",
            "push-phone",
            "--phone",
            &typed,
            "--line",
            "5701234567890;Rugbrød;2;39.90;25",
            "--line",
            "BAG;Bærepose;;10.05;25",
        ],
        vec![
            "pay",
            "12.50",
            "--order",
            "R1-0201",
            "--id",
            "push-code",
            "--personal-qr",
            &code,
        ],
    ];
    for args in sales {
        let (ok, messages) = setup.ecr(&args).await;
        let outcome = final_outcome(&messages);
        assert!(ok, "{args:?}: {messages:?}");
        assert_eq!(outcome["result"], json!("captured"), "{args:?}: {outcome}");
    }

    let payments = super::sim_ep::payments(&setup.sim.base_url()).await;
    assert_eq!(payments.len(), 2, "{payments:?}");
    for (customer, captured) in [(by_phone, 4995), (by_code, 1250)] {
        let payment = payments
            .iter()
            .find(|p| p["customer"] == json!(customer))
            .unwrap_or_else(|| panic!("no payment pushed to {customer}: {payments:?}"));
        assert_eq!(payment["userFlow"], json!("PUSH_MESSAGE"), "{payment}");
        assert_eq!(payment["capturedMinor"], json!(captured), "{payment}");
    }

    stops_with_exit_0(daemon).await;
    never_logged(&log, &[&by_phone[2..], &by_code[2..]]).await;
}
