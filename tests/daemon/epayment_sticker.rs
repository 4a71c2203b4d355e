//! `mposd run` with a printed sticker on its ePayment lane: the merchant callback QR is
//! created at start, a customer who scans it is told to the cash register, and a sale for the
//! sticker is pushed to that customer and captured; without a check-in it is refused cleanly.

use super::support::{final_outcome, stops_with_exit_0, Setup, MPOSD};
use mposd::sim::fixtures::{
    EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_OTHER_CLIENT_ID, EP_OTHER_CLIENT_SECRET, EP_OTHER_MSN,
    EP_OTHER_SUBSCRIPTION_KEY, EP_SUBSCRIPTION_KEY, EP_USERS,
};
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(60);
const LOCATION: &str = "Kasse 1";

/// A sales unit's keys: MSN, client id, client secret, subscription key.
type Unit = (&'static str, &'static str, &'static str, &'static str);
const BAGERIET: Unit = (EP_MSN, EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY);
const KIOSKEN: Unit = (
    EP_OTHER_MSN,
    EP_OTHER_CLIENT_ID,
    EP_OTHER_CLIENT_SECRET,
    EP_OTHER_SUBSCRIPTION_KEY,
);

/// A call of the QR API as the shop owner's tools of sales unit `unit` make it.
async fn qr_api(
    base: &str,
    unit: Unit,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let (msn, client_id, client_secret, key) = unit;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/accesstoken/get"))
        .header("client_id", client_id)
        .header("client_secret", client_secret)
        .header("Ocp-Apim-Subscription-Key", key)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let mut request = http
        .request(method, format!("{base}/qr/v1/merchant-callback{path}"))
        .bearer_auth(token["access_token"].as_str().expect("access_token"))
        .header("Ocp-Apim-Subscription-Key", key)
        .header("Merchant-Serial-Number", msn);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("the QR API answers")
}

/// The sticker as the sales unit's QR API shows it.
async fn callback_qr(base: &str, id: &str) -> Value {
    let answer = qr_api(base, BAGERIET, reqwest::Method::GET, &format!("/{id}"), None).await;
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.expect("json")
}

/// Gives the last lane of `setup` the sticker `sticker` (a TOML table's lines).
fn with_sticker(setup: &Setup, sticker: &str) {
    let mut config = std::fs::read_to_string(&setup.config).expect("config");
    // The last [[lane]]'s table, like [epayment.webhooks] belongs to the last [[epayment]].
    config.push_str(&format!("\n[lane.sticker]\n{sticker}"));
    std::fs::write(&setup.config, config).expect("config");
}

/// Waits for the next `sticker_check_in` the lane's cash register is told.
async fn next_check_in_event(setup: &Setup) -> Value {
    // What the lane tells while no cash register is connected waits for the next
    // connection, so the watcher may connect after the check-in.
    let mut watch = tokio::process::Command::new(MPOSD)
        .args([
            "ecr",
            "--tcp",
            &setup.ecr_addr,
            "--json",
            "--timeout",
            "60",
            "watch",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ecr watch");
    let mut lines = BufReader::new(watch.stdout.take().expect("stdout")).lines();
    let event = tokio::time::timeout(WAIT, async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("stdout")
                .expect("the watcher runs");
            let message: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if message["event"] == json!("sticker_check_in") {
                return message;
            }
        }
    })
    .await
    .expect("the cash register hears of the check-in");
    let _ = watch.kill().await;
    event
}

async fn check_in(setup: &Setup, content: &Value, phone: &str) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/_sim/epayment/checkin", setup.sim.base_url()))
        .json(&json!({"qrContent": content, "phoneNumber": phone}))
        .send()
        .await
        .expect("check-in");
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.expect("json")
}

/// One sale through `mposd ecr`; the messages it printed.
async fn pay(setup: &Setup, id: &str, extra: &[&str]) -> Vec<Value> {
    let output = tokio::process::Command::new(MPOSD)
        .args(["ecr", "--tcp", &setup.ecr_addr, "--json", "--timeout", "60"])
        .args(["pay", "20.00", "--order", "R1-0042", "--id", id])
        .args(extra)
        .output()
        .await
        .expect("ecr runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test]
async fn a_customer_who_scans_the_sticker_gets_the_sale_pushed_and_pays() {
    let (setup, _url) = Setup::epayment_with_webhooks().await;
    with_sticker(
        &setup,
        &format!("merchant_qr_id = \"kasse-1\"\nlocation = \"{LOCATION}\"\n"),
    );
    let base = setup.sim.base_url();
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(WAIT, |l| l.contains("the sticker is ready for check-ins"))
        .await
        .unwrap_or_else(|| panic!("no sticker: {:?}", log.lines()));
    log.wait_for(WAIT, |l| l.contains("webhooks registered"))
        .await
        .unwrap_or_else(|| panic!("no registration: {:?}", log.lines()));
    let qr = callback_qr(&base, "kasse-1").await;
    assert_eq!(qr["locationDescription"], json!(LOCATION));

    // Nobody has checked in yet: refused before anything reaches the backend.
    let messages = pay(&setup, "sale-41", &["--sticker"]).await;
    let outcome = final_outcome(&messages);
    assert_eq!(outcome["result"], json!("rejected"), "{messages:?}");
    assert_eq!(outcome["code"], json!("invalid_request"), "{messages:?}");
    assert!(
        outcome["message"]
            .as_str()
            .is_some_and(|m| m.contains("no customer has checked in at the sticker")),
        "{outcome}"
    );

    let checked_in = check_in(&setup, &qr["qrContent"], EP_USERS[1]).await;
    let token = checked_in["customerToken"].as_str().expect("a token").to_string();
    assert_eq!(
        next_check_in_event(&setup).await,
        json!({"type": "event", "event": "sticker_check_in", "location": LOCATION})
    );

    // The customer approves what is pushed to their phone.
    let r = reqwest::Client::new()
        .post(format!("{base}/_sim/epayment/behaviour"))
        .json(&json!({"phoneNumber": EP_USERS[1], "action": "approve", "delayMs": 0, "scansQr": false}))
        .send()
        .await
        .expect("behaviour");
    assert!(r.status().is_success(), "{}", r.status());
    let messages = pay(&setup, "sale-42", &["--sticker"]).await;
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    let truth: Value = reqwest::get(format!("{base}/_sim/epayment/payments"))
        .await
        .expect("payments")
        .json()
        .await
        .expect("json");
    let payments = truth["payments"].as_array().expect("payments");
    assert_eq!(
        payments.len(),
        1,
        "the refused sale created nothing: {payments:?}"
    );
    assert_eq!(payments[0]["userFlow"], json!("PUSH_MESSAGE"));
    assert_eq!(payments[0]["customer"], json!(EP_USERS[1]));
    assert_eq!(payments[0]["capturedMinor"], json!(2000));

    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("customer checked in at the sticker")),
        "{:?}",
        log.lines()
    );
    assert!(
        !log.lines().iter().any(|l| l.contains(&token)),
        "the customer's token never reaches the log"
    );
    stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn an_old_mobilepay_sticker_is_moved_to_the_sales_unit_once_another_one_lets_it_go() {
    const BEACON: &str = "100000000000042";
    let (setup, _url) = Setup::epayment_with_webhooks().await;
    with_sticker(
        &setup,
        &format!("beacon_id = \"{BEACON}\"\nlocation = \"{LOCATION}\"\n"),
    );
    let base = setup.sim.base_url();
    // Another sales unit still has the sticker: the box says so and keeps trying.
    let taken = qr_api(
        &base,
        KIOSKEN,
        reqwest::Method::PUT,
        &format!("/mobilepay/{BEACON}"),
        Some(json!({"locationDescription": "Kiosken"})),
    )
    .await;
    assert!(taken.status().is_success(), "{}", taken.status());
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(WAIT, |l| {
        l.contains("the MobilePay sticker is linked to another sales unit")
    })
    .await
    .unwrap_or_else(|| panic!("the conflict is not reported: {:?}", log.lines()));
    let released = qr_api(
        &base,
        KIOSKEN,
        reqwest::Method::DELETE,
        &format!("/{BEACON}"),
        None,
    )
    .await;
    assert!(released.status().is_success(), "{}", released.status());
    log.wait_for(WAIT, |l| l.contains("the sticker is ready for check-ins"))
        .await
        .unwrap_or_else(|| panic!("the sticker never moved: {:?}", log.lines()));
    let qr = callback_qr(&base, BEACON).await;
    assert_eq!(qr["merchantQrId"], json!(BEACON));
    log.wait_for(WAIT, |l| l.contains("webhooks registered"))
        .await
        .unwrap_or_else(|| panic!("no registration: {:?}", log.lines()));
    // The printed sticker keeps its old content; its check-ins name the beacon id.
    check_in(
        &setup,
        &json!(format!("mobilepaypos://pos?id={BEACON}&source=qr")),
        EP_USERS[2],
    )
    .await;
    assert_eq!(
        next_check_in_event(&setup).await,
        json!({"type": "event", "event": "sticker_check_in", "location": LOCATION})
    );
    stops_with_exit_0(daemon).await;
}
