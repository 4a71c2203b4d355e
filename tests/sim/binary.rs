//! The real `mposd sim` binary: HTTPS with `--tls --ca-out`, and `--fixtures FILE` with a
//! custom file and with an invalid one.

use crate::common::*;
use mposd::daemon::sim_config::spawn_simulator;
use mposd::sim::fixtures::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DK_STORE, DK_VAT};
use serde_json::json;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};

/// Starts `mposd sim ARGS` and waits for its "listening on URL" line; returns the child and URL.
async fn spawn_sim(args: &[&str]) -> (Child, String) {
    spawn_simulator(Path::new(env!("CARGO_BIN_EXE_mposd")), args, Stdio::null())
        .await
        .expect("mposd sim prints its address within 60 s")
}

#[tokio::test]
async fn https_with_the_written_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_path = dir.path().join("sim-ca.pem");
    let ca_arg = ca_path.to_str().expect("utf-8 path");
    let (mut child, url) = spawn_sim(&["--tls", "--ca-out", ca_arg]).await;
    assert!(url.starts_with("https://"), "{url}");
    let pem = std::fs::read(&ca_path).expect("the CA file was written");
    let cert = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
    let http = reqwest::Client::builder()
        .add_root_certificate(cert)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let token = http
        .post(format!("{url}/integrator-authentication/connect/token"))
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token over HTTPS");
    assert_eq!(token.status().as_u16(), 200);
    let token: serde_json::Value = token.json().await.expect("token JSON");
    let access = token["access_token"].as_str().expect("access_token");
    let stores = http
        .get(format!("{url}/pos/v10/stores"))
        .bearer_auth(access)
        .header("x-mobilepay-client-system-version", VERSION)
        .header("x-mobilepay-merchant-vat-number", DK_VAT)
        .send()
        .await
        .expect("stores over HTTPS");
    assert_eq!(stores.status().as_u16(), 200);
    let stores: serde_json::Value = stores.json().await.expect("stores JSON");
    assert!(
        stores["storeIds"]
            .as_array()
            .is_some_and(|ids| ids.contains(&json!(DK_STORE))),
        "{stores}"
    );

    // A client that does not trust the CA is refused.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    assert!(untrusting
        .get(format!("{url}/_sim/fixtures"))
        .send()
        .await
        .is_err());
    child.kill().await.expect("stop the simulator");
}

#[tokio::test]
async fn custom_fixtures_file_replaces_the_built_in_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fixtures.json");
    let fixtures = json!({
        "integrators": [{"client_id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "client_secret": "s3cret"}],
        "merchants": [{
            "vat": "DK11223344",
            "stores": [{
                "storeId": "12345678-1234-4234-8234-123456789abc",
                "merchantBrandId": "MPPOS00001",
                "merchantLocationId": "10001",
                "brandName": "Test Brand",
                "storeName": "Test Store",
                "storeStreet": "Street 1",
                "storeZipCode": "1000",
                "storeCity": "Town"
            }, {
                "storeId": "22345678-1234-4234-8234-123456789abc",
                "merchantBrandId": "MPPOS00001",
                "merchantLocationId": "10002",
                "brandName": "Test Brand",
                "storeName": "Closed Store",
                "storeStreet": "Street 2",
                "storeZipCode": "1000",
                "storeCity": "Town",
                "activated": false,
                "openingBalanceMinor": 500
            }]
        }],
        "users": [{"phoneNumber": "+4520031801", "feature": "credit"}]
    });
    std::fs::write(&path, fixtures.to_string()).expect("write fixtures");
    let (mut child, url) = spawn_sim(&["--fixtures", path.to_str().expect("utf-8")]).await;
    let http = http_client();
    let served: serde_json::Value = http
        .get(format!("{url}/_sim/fixtures"))
        .send()
        .await
        .expect("fixtures")
        .json()
        .await
        .expect("fixtures JSON");
    assert_eq!(served["integrators"], fixtures["integrators"]);
    assert_eq!(served["merchants"][0]["vat"], json!("DK11223344"));
    assert_eq!(served["merchants"].as_array().map(Vec::len), Some(1));
    assert_eq!(served["users"].as_array().map(Vec::len), Some(1));
    let closed = &served["merchants"][0]["stores"][1];
    assert_eq!(closed["activated"], json!(false), "{served}");
    assert_eq!(closed["openingBalanceMinor"], json!(500), "{served}");

    let token_url = format!("{url}/integrator-authentication/connect/token");
    let demo = http
        .post(&token_url)
        .basic_auth(DEMO_CLIENT_ID, Some(DEMO_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token");
    assert_eq!(demo.status().as_u16(), 401, "built-in integrator is gone");
    let custom: serde_json::Value = http
        .post(&token_url)
        .basic_auth("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", Some("s3cret"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("merchant_vat", "DK11223344"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token JSON");
    let stores: serde_json::Value = http
        .get(format!("{url}/pos/v10/stores"))
        .bearer_auth(custom["access_token"].as_str().expect("access_token"))
        .header("x-mobilepay-client-system-version", VERSION)
        .send()
        .await
        .expect("stores")
        .json()
        .await
        .expect("stores JSON");
    let mut ids: Vec<String> = stores["storeIds"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    ids.sort();
    assert_eq!(
        ids,
        vec![
            "12345678-1234-4234-8234-123456789abc".to_string(),
            "22345678-1234-4234-8234-123456789abc".to_string()
        ],
        "{stores}"
    );
    child.kill().await.expect("stop the simulator");
}

/// Runs `mposd sim ARGS`, expecting it to exit by itself; returns (success, stderr).
async fn run_to_exit(args: &[&str]) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mposd"))
        .arg("sim")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start mposd sim");
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().expect("stderr");
    let status = tokio::time::timeout(Duration::from_secs(60), async {
        pipe.read_to_string(&mut stderr).await.expect("read stderr");
        child.wait().await.expect("wait")
    })
    .await
    .expect("mposd sim exits by itself on a bad fixtures file");
    (status.success(), stderr)
}

#[tokio::test]
async fn invalid_fixtures_file_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad_vat = dir.path().join("bad-vat.json");
    let mut fixtures = serde_json::to_value(mposd::sim::Fixtures::default()).expect("json");
    fixtures["merchants"][0]["vat"] = json!("DK-1");
    std::fs::write(&bad_vat, fixtures.to_string()).expect("write");
    let (ok, stderr) = run_to_exit(&["--fixtures", bad_vat.to_str().expect("utf-8")]).await;
    assert!(!ok, "must fail");
    assert!(
        stderr.contains("DK-1") && stderr.contains("bad-vat.json"),
        "{stderr}"
    );

    let not_json = dir.path().join("broken.json");
    std::fs::write(&not_json, "{ this is not json").expect("write");
    let (ok, stderr) = run_to_exit(&["--fixtures", not_json.to_str().expect("utf-8")]).await;
    assert!(!ok, "must fail");
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let missing = dir.path().join("missing.json");
    let (ok, stderr) = run_to_exit(&["--fixtures", missing.to_str().expect("utf-8")]).await;
    assert!(!ok, "must fail");
    assert!(stderr.contains("missing.json"), "{stderr}");
}

#[tokio::test]
async fn https_certificate_covers_extra_tls_names() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_path = dir.path().join("sim-ca.pem");
    let ca_arg = ca_path.to_str().expect("utf-8 path");
    let (mut child, url) = spawn_sim(&["--tls", "--tls-name", "sim.test", "--ca-out", ca_arg]).await;
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port in the URL");
    let pem = std::fs::read(&ca_path).expect("the CA file was written");
    let client = |name_resolves: bool| {
        let mut builder = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("PEM"))
            .timeout(Duration::from_secs(30));
        if name_resolves {
            builder = builder.resolve("sim.test", ([127, 0, 0, 1], port).into());
            builder = builder.resolve("other.test", ([127, 0, 0, 1], port).into());
        }
        builder.build().expect("client")
    };
    let fixtures = client(true)
        .get(format!("https://sim.test:{port}/_sim/fixtures"))
        .send()
        .await
        .expect("the extra name is in the certificate");
    assert_eq!(fixtures.status().as_u16(), 200);
    let refused = client(true)
        .get(format!("https://other.test:{port}/_sim/fixtures"))
        .send()
        .await;
    assert!(refused.is_err(), "a name that was not asked for must not verify");
    child.kill().await.expect("stop the simulator");
}
