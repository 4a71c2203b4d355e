//! The merchant's OpenID Connect consent on the box, against the simulator's provider over
//! loopback: `mposd consent authorize` (the loopback flow, with the portal user played through
//! the simulator's control API), `import` and `show`, both rotation modes, revocation, a lost
//! `OneTime` refresh answer and a crash between a refresh request and storing its answer, and
//! the daemon's status line.

use super::support::{write_private, DaemonLog, Setup, MPOSD};
use super::systemd::NotifySocket;
use mposd::sim::WebServiceConsent;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const MERCHANT: &str = "DK12345678";
const ONE_TIME: (&str, &str) = ("sim-oidc-onetime", "sim-secret-oidc-onetime");
const REUSE: (&str, &str) = ("sim-oidc-reuse", "sim-secret-oidc-reuse");
/// The loopback redirect URI every simulator client has registered.
const LOOPBACK: &str = "http://127.0.0.1:7890/";

/// A daemon setup whose configuration also has a `[[consent]]` section for `client`.
async fn setup(client: (&str, &str), rotation: &str) -> Setup {
    let setup = Setup::new().await;
    let secret = setup.dir.path().join("oidc-secret");
    write_private(&secret, client.1);
    let mut config = std::fs::read_to_string(&setup.config).expect("config");
    config.push_str(&format!(
        "\n[[consent]]\nvat = \"{MERCHANT}\"\nenvironment = \"custom\"\n\
         authority = \"{}/merchant-authentication-openidconnect\"\nclient_id = \"{}\"\n\
         client_secret = {{ file = \"{}\" }}\nrotation = \"{rotation}\"\n\
         scopes = [\"invoice\", \"subscriptions\"]\nredirect_uri = \"{LOOPBACK}\"\n",
        setup.sim.base_url(),
        client.0,
        secret.display()
    ));
    std::fs::write(&setup.config, config).expect("config");
    setup
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn control(setup: &Setup, path: &str, body: Value) -> reqwest::Response {
    http()
        .post(format!("{}{path}", setup.sim.base_url()))
        .json(&body)
        .send()
        .await
        .expect("control call")
}

/// The simulator's consents of `client`.
async fn consents(setup: &Setup, client: &str) -> Vec<Value> {
    let all: Value = http()
        .get(format!("{}/_sim/oidc/consents", setup.sim.base_url()))
        .send()
        .await
        .expect("consents")
        .json()
        .await
        .expect("json");
    all["consents"]
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| c["clientId"] == client)
        .cloned()
        .collect()
}

/// What the integrator's web service does with its own redirect URI: the portal user
/// approves, the code is exchanged; returns the refresh token it hands over to the box.
async fn consent_by_web_service(setup: &Setup, client: (&str, &str)) -> String {
    WebServiceConsent {
        client_id: client.0,
        client_secret: client.1,
        vat: MERCHANT,
        user: "owner@bageriet.example",
        scopes: &["invoice", "subscriptions"],
    }
    .obtain(&setup.sim.base_url())
    .await
    .expect("the merchant's consent")
}

/// Runs `mposd consent <args>` with `stdin`; returns success and stdout + stderr.
async fn consent_tool(setup: &Setup, args: &[&str], stdin: &str) -> (bool, String) {
    let mut child = Command::new(MPOSD)
        .arg("consent")
        .args(args)
        .arg("--config")
        .arg(&setup.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mposd consent");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).await.expect("stdin");
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("mposd consent ends")
        .expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn import(setup: &Setup, token: &str) -> (bool, String) {
    let (ok, text) = consent_tool(setup, &["import", "--vat", MERCHANT], token).await;
    assert!(!text.contains(token), "the token must never be printed: {text}");
    (ok, text)
}

async fn show(setup: &Setup) -> String {
    let (ok, text) = consent_tool(setup, &["show"], "").await;
    assert!(ok, "{text}");
    text
}

fn consent_file(setup: &Setup) -> PathBuf {
    setup.dir.path().join("state").join(format!("consent-{MERCHANT}"))
}

fn stored_token(setup: &Setup) -> String {
    let text = std::fs::read_to_string(consent_file(setup)).expect("consent file");
    let json = text.split_once(' ').unwrap().1.split_once(' ').unwrap().1;
    let json = json.rsplit_once(' ').unwrap().0;
    let record: Value = serde_json::from_str(json).expect("record");
    record["refresh_token"].as_str().expect("token").to_string()
}

async fn wait_for_alarm(log: &DaemonLog) -> String {
    log.wait_for(Duration::from_secs(60), |l| l.contains("consent needed"))
        .await
        .unwrap_or_else(|| panic!("no consent-needed alarm: {:?}", log.lines()))
}

#[tokio::test]
async fn import_validates_the_token_durably_and_show_tells_the_state_without_secrets() {
    let setup = setup(REUSE, "reuse").await;
    assert!(show(&setup)
        .await
        .contains("DK12345678 invoice, subscriptions: not given"));
    let (ok, text) = import(&setup, "not-a-token-MobilePay-issued").await;
    assert!(!ok, "{text}");
    assert!(text.contains("does not work"), "{text}");
    assert!(show(&setup)
        .await
        .contains("consent needed (the refresh token was refused"));

    let token = consent_by_web_service(&setup, REUSE).await;
    let (ok, text) = import(&setup, &token).await;
    assert!(ok, "{text}");
    let shown = show(&setup).await;
    assert!(
        shown.contains("DK12345678 invoice, subscriptions: ok, refreshed "),
        "{shown}"
    );
    assert!(!shown.contains(&token));
    assert_eq!(consents(&setup, REUSE.0).await[0]["refreshes"], 1);
    // reUse: the same token is kept, and it still works.
    assert_eq!(stored_token(&setup), token);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(consent_file(&setup)).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn one_time_rotation_stores_every_new_token_and_the_daemon_refreshes_at_start() {
    let setup = setup(ONE_TIME, "one-time").await;
    let token = consent_by_web_service(&setup, ONE_TIME).await;
    assert!(import(&setup, &token).await.0);
    let after_import = stored_token(&setup);
    assert_ne!(
        after_import, token,
        "OneTime answers a new refresh token, which must be stored"
    );
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(Duration::from_secs(60), |l| l.contains("consent refreshed"))
        .await
        .unwrap_or_else(|| panic!("no refresh at start: {:?}", log.lines()));
    assert_ne!(stored_token(&setup), after_import);
    let consent = &consents(&setup, ONE_TIME.0).await[0];
    assert_eq!(consent["refreshes"], 2);
    // Exactly one live refresh token, and it is the stored one (the next refresh works).
    assert_eq!(consent["refreshTokens"].as_array().unwrap().len(), 1);
    super::support::stops_with_exit_0(daemon).await;
    assert!(import(&setup, &stored_token(&setup)).await.0);
    assert!(log.lines().iter().all(|l| !l.contains(&after_import)));
}

#[tokio::test]
async fn revocation_means_consent_needed_in_the_status_line_and_the_cash_registers_status() {
    let setup = setup(REUSE, "reuse").await;
    let token = consent_by_web_service(&setup, REUSE).await;
    assert!(import(&setup, &token).await.0);
    let notify = NotifySocket::bind(setup.dir.path());
    let daemon = notify.spawn(&setup.config, None);
    notify
        .until(Duration::from_secs(60), |m| {
            m.contains("consent DK12345678 (invoice, subscriptions): ok, refreshed ")
        })
        .await;
    let consent = ecr_consent(&setup).await;
    assert_eq!(consent["state"], "ok", "{consent}");
    assert_eq!(consent["products"], json!(["invoice", "subscriptions"]));
    assert!(
        consent["detail"].as_str().unwrap().starts_with("ok, refreshed "),
        "{consent}"
    );
    super::support::stops_with_exit_0(daemon).await;

    let revoke = json!({"clientId": REUSE.0, "merchantVat": MERCHANT});
    assert!(control(&setup, "/_sim/oidc/revoke", revoke)
        .await
        .status()
        .is_success());
    let daemon = notify.spawn(&setup.config, None);
    notify
        .until(Duration::from_secs(60), |m| {
            m.contains("consent DK12345678 (invoice, subscriptions): consent needed (the refresh token was refused: revoked or expired)")
        })
        .await;
    let consent = ecr_consent(&setup).await;
    assert_eq!(consent["state"], "consent_needed", "{consent}");
    assert_eq!(
        consent["detail"],
        "consent needed (the refresh token was refused: revoked or expired)"
    );
    super::support::stops_with_exit_0(daemon).await;
    assert!(show(&setup)
        .await
        .contains("consent needed (the refresh token was refused"));
}

/// The merchant's consent in the cash register's `status` answer.
async fn ecr_consent(setup: &Setup) -> Value {
    let (ok, messages) = setup.ecr(&["status"]).await;
    assert!(ok, "{messages:?}");
    let status = messages
        .iter()
        .find(|m| m["type"] == "status")
        .unwrap_or_else(|| panic!("no status: {messages:?}"));
    let consents = status["consents"].as_array().expect("consents");
    assert_eq!(consents.len(), 1, "{status}");
    assert_eq!(consents[0]["merchant"], MERCHANT);
    consents[0].clone()
}

/// The simulator's faults not yet taken by a request.
async fn pending_faults(setup: &Setup) -> Vec<Value> {
    let faults: Value = http()
        .get(format!("{}/_sim/faults", setup.sim.base_url()))
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("json");
    faults["faults"].as_array().expect("faults").clone()
}

/// How many requests the token endpoint has had.
async fn token_requests(setup: &Setup) -> u64 {
    let log: Value = http()
        .get(format!("{}/_sim/requests", setup.sim.base_url()))
        .send()
        .await
        .expect("requests")
        .json()
        .await
        .expect("json");
    log["counts"]["oidcToken"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn a_lost_one_time_answer_is_detected_reported_and_not_retried() {
    let setup = setup(ONE_TIME, "one-time").await;
    let token = consent_by_web_service(&setup, ONE_TIME).await;
    assert!(import(&setup, &token).await.0);
    let fault = json!({"endpoint": "oidcToken", "mode": "commitThenServerError", "count": 1});
    assert!(control(&setup, "/_sim/faults", fault).await.status().is_success());
    let before = token_requests(&setup).await;
    let (daemon, log) = setup.start_daemon_logged().await;
    let alarm = wait_for_alarm(&log).await;
    assert!(alarm.contains("ALARM"), "{alarm}");
    assert!(
        alarm.contains("a refresh answer was lost and the one-time refresh token is used up"),
        "{alarm}"
    );
    // The lost answer, then the old token once: no more.
    assert_eq!(token_requests(&setup).await, before + 2);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        token_requests(&setup).await,
        before + 2,
        "a dead token is not retried"
    );
    super::support::stops_with_exit_0(daemon).await;
    assert!(show(&setup)
        .await
        .contains("consent needed (a refresh answer was lost"));
}

#[tokio::test]
async fn a_lost_reuse_answer_is_simply_retried() {
    let setup = setup(REUSE, "reuse").await;
    let token = consent_by_web_service(&setup, REUSE).await;
    assert!(import(&setup, &token).await.0);
    let fault = json!({"endpoint": "oidcToken", "mode": "commitThenServerError", "count": 1});
    assert!(control(&setup, "/_sim/faults", fault).await.status().is_success());
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(Duration::from_secs(60), |l| l.contains("consent refreshed"))
        .await
        .unwrap_or_else(|| panic!("the retry did not refresh: {:?}", log.lines()));
    assert!(log.lines().iter().any(|l| l.contains("could not be refreshed")));
    super::support::stops_with_exit_0(daemon).await;
    assert!(show(&setup).await.contains("ok, refreshed"));
}

#[tokio::test]
async fn a_crash_between_the_refresh_request_and_storing_its_answer_is_detected_at_the_next_start() {
    let setup = setup(ONE_TIME, "one-time").await;
    let token = consent_by_web_service(&setup, ONE_TIME).await;
    assert!(import(&setup, &token).await.0);
    // The provider holds the daemon's refresh for 4 s (and then carries it out); the daemon is
    // killed meanwhile, with its request sent and its marker on disk.
    let fault = json!({"endpoint": "oidcToken", "mode": "delay", "delayMs": 4000, "count": 1});
    assert!(control(&setup, "/_sim/faults", fault).await.status().is_success());
    let (mut daemon, log) = setup.spawn_daemon(&[]);
    // Killed once its request has reached the provider (which then takes the fault).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !pending_faults(&setup).await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refresh sent: {:?}",
            log.lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.kill().await.expect("kill");
    assert!(
        std::fs::read_to_string(consent_file(&setup))
            .expect("consent file")
            .contains("\"in_flight\":true"),
        "the marker is on disk before the request is sent"
    );
    // The held refresh happened at the provider: the stored token is used up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consents(&setup, ONE_TIME.0).await[0]["refreshes"] != 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the held refresh never happened"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = show(&setup).await;
    assert!(
        shown.contains("the answer to the last refresh was lost"),
        "{shown}"
    );
    let (daemon, log) = setup.spawn_daemon(&[]);
    let alarm = wait_for_alarm(&log).await;
    assert!(
        alarm.contains("ALARM") && alarm.contains("one-time refresh token is used up"),
        "{alarm}"
    );
    super::support::stops_with_exit_0(daemon).await;
}

#[tokio::test]
async fn authorize_runs_the_loopback_flow_and_stores_the_consent() {
    let setup = setup(ONE_TIME, "one-time").await;
    let mut tool = Command::new(MPOSD)
        .args([
            "consent",
            "authorize",
            "--vat",
            MERCHANT,
            "--timeout",
            "60",
            "--config",
        ])
        .arg(&setup.config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mposd consent authorize");
    let mut lines = BufReader::new(tool.stdout.take().expect("stdout")).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("line") {
            if line.starts_with("http") {
                return line;
            }
        }
        panic!("no authorize URL printed");
    })
    .await
    .expect("the authorize URL");
    assert!(
        url.contains("merchant_vat=DK12345678") && url.contains("code_challenge_method=S256"),
        "{url}"
    );
    // The merchant logs in and approves; the browser posts the answer to the box.
    let login = json!({"clientId": ONE_TIME.0, "user": "owner@bageriet.example"});
    assert!(control(&setup, "/_sim/oidc/login", login)
        .await
        .status()
        .is_success());
    let page = http()
        .get(&url)
        .send()
        .await
        .expect("authorize")
        .text()
        .await
        .expect("page");
    let action = between(&page, "action=\"", "\"");
    let fields: Vec<(String, String)> = page
        .split("<input ")
        .skip(1)
        .map(|input| (between(input, "name=\"", "\""), between(input, "value=\"", "\"")))
        .collect();
    assert_eq!(action, LOOPBACK);
    let posted = http()
        .post(&action)
        .form(&fields)
        .send()
        .await
        .expect("form post");
    assert!(posted.status().is_success());
    let status = tokio::time::timeout(Duration::from_secs(60), tool.wait())
        .await
        .expect("authorize ends")
        .expect("status");
    let mut rest = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push_str(&line);
    }
    assert!(status.success(), "{rest}");
    assert!(rest.contains("DK12345678: consent stored"), "{rest}");
    let stored = stored_token(&setup);
    assert!(!rest.contains(&stored) && !url.contains(&stored));
    assert!(show(&setup).await.contains("ok, refreshed"));
    let consent = &consents(&setup, ONE_TIME.0).await[0];
    assert_eq!(consent["merchantVat"], MERCHANT);
    // The stored token is the live one: the daemon can refresh with it.
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(Duration::from_secs(60), |l| l.contains("consent refreshed"))
        .await
        .unwrap_or_else(|| panic!("no refresh: {:?}", log.lines()));
    super::support::stops_with_exit_0(daemon).await;
}

/// The text between `start` and the next `end` in `text`, with `&amp;` etc. undone.
fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).expect("start") + start.len();
    let len = text[from..].find(end).expect("end");
    text[from..from + len]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn a_new_consent_imported_while_the_daemon_runs_is_picked_up_without_a_restart() {
    let setup = setup(REUSE, "reuse").await;
    let notify = NotifySocket::bind(setup.dir.path());
    let daemon = notify.spawn(&setup.config, None);
    notify
        .until(Duration::from_secs(60), |m| {
            m.contains("consent DK12345678 (invoice, subscriptions): not given")
        })
        .await;
    let token = consent_by_web_service(&setup, REUSE).await;
    assert!(import(&setup, &token).await.0);
    // The daemon looks at the file again within a minute.
    notify
        .until(Duration::from_secs(150), |m| {
            m.contains("consent DK12345678 (invoice, subscriptions): ok, refreshed ")
        })
        .await;
    super::support::stops_with_exit_0(daemon).await;
    assert_eq!(consents(&setup, REUSE.0).await[0]["refreshes"], 2);
}

#[tokio::test]
async fn an_access_token_is_fetched_once_and_then_used_from_memory() {
    use mposd::consent::driver::Consent;
    use mposd::consent::refresh::Rotation;
    use mposd::consent::store::ConsentFile;
    use mposd::consent::ClientSettings;
    let setup = setup(ONE_TIME, "one-time").await;
    let token = consent_by_web_service(&setup, ONE_TIME).await;
    assert!(import(&setup, &token).await.0);
    let settings = ClientSettings {
        vat: MERCHANT.into(),
        authority: format!("{}/merchant-authentication-openidconnect", setup.sim.base_url()),
        client_id: ONE_TIME.0.into(),
        client_secret: mposd::secrets::Secret::new(ONE_TIME.1),
        rotation: Rotation::OneTime,
        scopes: vec!["invoice".into(), "subscriptions".into()],
    };
    let consent = Consent::new(
        settings,
        ConsentFile::new(&setup.dir.path().join("state"), MERCHANT),
    )
    .expect("consent");
    let before = token_requests(&setup).await;
    let first = consent.access_token().await.expect("access token");
    let again = consent.access_token().await.expect("access token");
    assert_eq!(first, again);
    assert_eq!(token_requests(&setup).await, before + 1, "one refresh for both");
    let bearer: Value = http()
        .get(format!("{}/_sim/oidc/bearer", setup.sim.base_url()))
        .bearer_auth(first.expose())
        .send()
        .await
        .expect("bearer")
        .json()
        .await
        .expect("json");
    assert_eq!(bearer["clientId"], ONE_TIME.0);
    assert!(!format!("{first:?}").contains(first.expose()));
}

#[tokio::test]
async fn a_damaged_consent_file_is_reported_never_used() {
    let setup = setup(REUSE, "reuse").await;
    let token = consent_by_web_service(&setup, REUSE).await;
    assert!(import(&setup, &token).await.0);
    let mut bytes = std::fs::read(consent_file(&setup)).expect("consent file");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(consent_file(&setup), &bytes).expect("damage");
    let before = token_requests(&setup).await;
    let (daemon, log) = setup.start_daemon_logged().await;
    let alarm = wait_for_alarm(&log).await;
    assert!(
        alarm.contains("ALARM") && alarm.contains("the consent file is damaged"),
        "{alarm}"
    );
    super::support::stops_with_exit_0(daemon).await;
    assert_eq!(
        token_requests(&setup).await,
        before,
        "nothing is sent with a damaged token"
    );
    assert!(show(&setup)
        .await
        .contains("consent needed (the consent file is damaged)"));
}

#[tokio::test]
async fn authorize_gives_up_cleanly_when_no_answer_comes() {
    let setup = setup(REUSE, "reuse").await;
    // Its own port: nobody answers there, and the loopback flow test keeps 7890.
    let port = super::support::free_port();
    let config = std::fs::read_to_string(&setup.config).expect("config");
    std::fs::write(&setup.config, config.replace(":7890/", &format!(":{port}/"))).expect("config");
    let (ok, text) = consent_tool(&setup, &["authorize", "--vat", MERCHANT, "--timeout", "2"], "").await;
    assert!(!ok, "{text}");
    assert!(
        text.contains("no answer from MobilePay within 2 s; nothing was stored"),
        "{text}"
    );
    assert!(show(&setup).await.contains("not given"));
    // The listener is gone with the tool.
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
}

/// A setup whose lane takes invoices for the merchant (a `OneTime` client), with the merchant's
/// consent handed to the box as an integrator's web service would.
pub(super) async fn with_invoices() -> Setup {
    let setup = setup(ONE_TIME, "one-time").await;
    let gateway = setup.dir.path().join("gateway-secret");
    write_private(&gateway, mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET);
    let config = std::fs::read_to_string(&setup.config)
        .expect("config")
        .replacen(
            "currency = \"DKK\"\n",
            &format!("currency = \"DKK\"\ninvoice = {{ merchant = \"{MERCHANT}\" }}\n"),
            1,
        )
        .replace(
            "rotation = \"one-time\"\n",
            &format!(
                "rotation = \"one-time\"\napi = \"{}\"\ngateway_client_id = \"{}\"\n\
                 gateway_client_secret = {{ file = \"{}\" }}\n",
                setup.sim.base_url(),
                mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_ID,
                gateway.display()
            ),
        );
    std::fs::write(&setup.config, &config).expect("config");
    assert!(config.contains("invoice = {"), "{config}");
    let token = consent_by_web_service(&setup, ONE_TIME).await;
    assert!(import(&setup, &token).await.0);
    setup
}

/// A setup whose lane takes invoices and signs customers up for the merchant, with the
/// merchant's consent on the box.
pub(super) async fn with_invoices_and_signups() -> Setup {
    let setup = with_invoices().await;
    let config = std::fs::read_to_string(&setup.config).expect("config").replacen(
        "invoice = {",
        "signup = { merchant = \"DK12345678\", user_redirect = \"https://bageriet.example/velkommen\", \
         success_callback = \"https://integrator.example/mobilepay/ok\", \
         cancel_callback = \"https://integrator.example/mobilepay/cancel\" }\ninvoice = {",
        1,
    );
    std::fs::write(&setup.config, config).expect("config");
    setup
}

#[tokio::test]
async fn a_lane_that_takes_invoices_starts_with_its_merchants_consent_refreshed_once() {
    let setup = with_invoices().await;
    let (daemon, log) = setup.start_daemon_logged().await;
    log.wait_for(Duration::from_secs(60), |l| l.contains("consent refreshed"))
        .await
        .unwrap_or_else(|| panic!("no refresh at start: {:?}", log.lines()));
    // One refresh state per merchant: the keeper's refresh left one live token, the stored one.
    let consent = &consents(&setup, ONE_TIME.0).await[0];
    assert_eq!(consent["refreshes"], 2);
    assert_eq!(consent["refreshTokens"].as_array().unwrap().len(), 1);
    super::support::stops_with_exit_0(daemon).await;
    let secret = mposd::sim::fixtures::INVOICE_GATEWAY_CLIENT_SECRET;
    assert!(log.lines().iter().all(|l| !l.contains(secret)));
}
