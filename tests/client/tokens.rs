//! Tokens per merchant VAT: sharing, caching across restarts, renewal on the virtual clock,
//! 401 handling and the provisioned-token mode.

use super::support::*;
use mposd::{
    backends::pos_v10::{ApiError, Correlation, Credentials, MobilePayClient, Secret, TokenSettings},
    sim::{Settings, SimConfig},
};
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(3700);

fn token_statuses(entries: &[serde_json::Value]) -> Vec<Option<u64>> {
    statuses(entries)
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let h = Harness::start().await;
    let client = h.client(h.open_db());
    let calls = (0..8).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .find_pos(&Correlation::new("test"), Some(&format!("kasse-{i}")), None, None)
                .await
        })
    });
    for call in calls {
        assert!(call.await.unwrap().unwrap().is_empty());
    }
    assert_eq!(h.control.count("token").await, 1);
    assert_eq!(h.control.count("findPos").await, 8);
}

#[tokio::test]
async fn a_cached_token_is_reused_after_a_restart() {
    let h = Harness::start().await;
    {
        let client = h.client(h.open_db());
        client
            .find_pos(&Correlation::new("test"), Some("k"), None, None)
            .await
            .unwrap();
    }
    // The daemon restarts: a new client on the same database directory.
    let client = h.client(h.open_db());
    client
        .find_pos(&Correlation::new("test"), Some("k"), None, None)
        .await
        .unwrap();
    assert_eq!(
        h.control.count("token").await,
        1,
        "no new token after the restart"
    );
    assert_eq!(h.control.count("findPos").await, 2);
    assert!(statuses(&h.control.log("findPos").await)
        .iter()
        .all(|s| *s == Some(200)));
}

#[tokio::test]
async fn the_token_is_renewed_ahead_of_expiry_on_the_virtual_clock() {
    let h = Harness::start().await;
    let client = h.client(h.open_db());
    let correlation = Correlation::new("test");
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    // Five minutes before expiry: inside the renewal window (10-12 minutes ahead).
    h.advance(LIFETIME - Duration::from_secs(300)).await;
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    eventually("the token is renewed", || async {
        h.control.count("token").await == 2
    })
    .await;
    // Past the first token's expiry: the renewed token is used, MobilePay never says 401.
    h.advance(Duration::from_secs(600)).await;
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    assert!(statuses(&h.control.log("findPos").await)
        .iter()
        .all(|s| *s == Some(200)));
    assert_eq!(h.control.count("token").await, 2);

    // A jump far past expiry (a suspended box): a new token first, still no 401.
    h.advance(LIFETIME * 2).await;
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    assert_eq!(h.control.count("token").await, 3);
    assert!(statuses(&h.control.log("findPos").await)
        .iter()
        .all(|s| *s == Some(200)));
}

#[tokio::test]
async fn a_failed_renewal_keeps_the_old_token_and_retries_with_back_off() {
    let h = Harness::start().await;
    let settings = TokenSettings {
        retry_base: Duration::from_millis(200),
        retry_max: Duration::from_millis(400),
        check_interval: Duration::from_millis(50),
        ..TokenSettings::default()
    };
    let client = h.client_with(h.open_db(), h.config(), Secret::new(SECRET), settings);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let refresher = client.tokens().spawn_refresher(shutdown.clone());
    let correlation = Correlation::new("test");
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    // One whole renewal fails (three attempts), then the token endpoint recovers.
    h.control.fault("token", "serverError", 3, None).await;
    h.advance(LIFETIME - Duration::from_secs(300)).await;

    // Calls go on with the old token, which is still valid, while renewal struggles.
    for _ in 0..3 {
        client
            .find_pos(&correlation, Some("k"), None, None)
            .await
            .unwrap();
    }
    eventually("the renewal succeeds after its back-off", || async {
        token_statuses(&h.control.log("token").await).last() == Some(&Some(200))
            && h.control.count("token").await == 5
    })
    .await;
    let log = h.control.log("token").await;
    assert_eq!(
        token_statuses(&log),
        vec![Some(200), Some(500), Some(500), Some(500), Some(200)]
    );
    // The new token works past the old one's expiry.
    h.advance(Duration::from_secs(600)).await;
    client
        .find_pos(&correlation, Some("k"), None, None)
        .await
        .unwrap();
    assert!(statuses(&h.control.log("findPos").await)
        .iter()
        .all(|s| *s == Some(200)));
    assert_eq!(h.control.count("token").await, 5);
    shutdown.cancel();
    refresher.await.unwrap();
}

#[tokio::test]
async fn a_401_mid_flow_renews_the_token_once_and_repeats_the_call_once() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;
    assert_eq!(h.control.count("token").await, 1);

    h.control.fault("getPayment", "unauthorized", 1, None).await;
    let status = client
        .get_payment(&Correlation::new("payment"), &payment)
        .await
        .unwrap();
    assert_eq!(status.payment_id, payment);
    assert_eq!(
        statuses(&h.control.log("getPayment").await),
        vec![Some(401), Some(200)]
    );
    assert_eq!(h.control.count("token").await, 2);

    // Refused again with the new token: one renewal, one repeat, then a clear error.
    h.control.fault("cancelPayment", "unauthorized", 5, None).await;
    let err = client
        .cancel_payment(&Correlation::new("payment"), &payment)
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Unauthorized { .. }), "{err}");
    assert_eq!(h.control.count("cancelPayment").await, 2);
    assert_eq!(h.control.count("token").await, 3);
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_error_not_retried() {
    let h = Harness::start().await;
    let client = h.client_with(
        h.open_db(),
        h.config(),
        Secret::new("wrong-secret"),
        TokenSettings::default(),
    );
    let err = client
        .find_pos(&Correlation::new("test"), Some("k"), None, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("client id and secret") && text.contains(VAT),
        "{text}"
    );
    assert!(!err.is_transient());
    assert_eq!(h.control.count("token").await, 1);
    assert_eq!(h.control.count("findPos").await, 0);
}

/// A long-lived token provisioned into a file: no secret on the device, no token requests,
/// and an alarm in the log because it expires within the alarm window.
#[tokio::test]
async fn a_provisioned_token_is_used_and_its_expiry_raises_an_alarm() {
    let settings = Settings {
        token_lifetime: Duration::from_secs(3 * 24 * 3600),
        ..Settings::default()
    };
    let h = Harness::with(SimConfig {
        settings,
        ..SimConfig::default()
    })
    .await;
    // The operator provisions the token (here: fetched once with the integrator's secret).
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!(
            "{}/integrator-authentication/connect/token",
            h.sim.base_url()
        ))
        .basic_auth(CLIENT_ID, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("merchant_vat", VAT)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = h.dir.path().join("DK12345678.token");
    std::fs::write(&path, answer["access_token"].as_str().unwrap()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    let logs = LogCapture::default();
    let db = h.open_db();
    let client = {
        let _guard = tracing::subscriber::set_default(logs.subscriber());
        MobilePayClient::with_clock(
            h.config(),
            VAT,
            Credentials::ProvisionedToken(path.clone()),
            db.clone(),
            h.clock.clone(),
            TokenSettings::default(),
        )
        .unwrap()
    };
    let text = logs.text();
    assert!(
        text.contains("ALARM") && text.contains("provision a new one"),
        "{text}"
    );
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    assert!(!pos.pos_id.is_empty());
    assert_eq!(h.control.count("token").await, 1, "only the operator's request");

    // Once it expires, the daemon says which file to replace.
    h.advance(Duration::from_secs(3 * 24 * 3600)).await;
    let err = client
        .find_pos(&Correlation::new("test"), Some("k"), None, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains("expired"),
        "{text}"
    );
}
