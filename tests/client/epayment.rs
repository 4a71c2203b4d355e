//! The ePayment client's calls, token, refusals and secrets against the simulator.

use super::epayment_support::*;
use super::support::*;
use mposd::{
    backends::epayment::{
        model::{CancelRequest, State},
        translate, EpError, EpaymentClient, EpaymentConfig,
    },
    engine::backend::{BackendError, PaymentState, Refusal},
    secrets::SecretSource,
    sim::{
        fixtures::{EP_CLIENT_ID, EP_CLIENT_SECRET, EP_MSN, EP_OTHER_MSN, EP_SUBSCRIPTION_KEY},
        Fixtures, Settings, SimConfig,
    },
};
use serde_json::Value;
use std::{os::unix::fs::PermissionsExt, time::Duration};

#[tokio::test]
async fn a_payment_goes_through_create_read_capture_refund_and_its_event_log() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let c = correlation();
    let reference = new_reference();
    let key = new_key();
    let created = client
        .create(&c, &key, &push_request(&reference, 1500))
        .await
        .unwrap();
    assert_eq!(created.reference, reference);
    let read = client.payment(&c, &reference).await.unwrap();
    assert_eq!(
        translate::payment_state(&read.state, &read.amount, &read.aggregate),
        PaymentState::WaitingForCustomer
    );

    customer(&h, &reference, "approve").await;
    let read = client.payment(&c, &reference).await.unwrap();
    let state = translate::payment_state(&read.state, &read.amount, &read.aggregate);
    assert!(state.is_reserved(), "{state}");

    let captured = client
        .capture(&c, &reference, &new_key(), &dkk(1000))
        .await
        .unwrap();
    assert_eq!(captured.aggregate.captured_amount.value, 1000);
    let refunded = client
        .refund(&c, &reference, &new_key(), &dkk(400))
        .await
        .unwrap();
    assert_eq!(refunded.aggregate.refunded_amount.value, 400);
    let released = client
        .cancel(&c, &reference, &new_key(), &CancelRequest::default())
        .await
        .unwrap();
    assert_eq!(released.state, State::Authorized);
    assert_eq!(released.aggregate.cancelled_amount.value, 500);

    let names: Vec<String> = client
        .events(&c, &reference)
        .await
        .unwrap()
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(
        names,
        ["CREATED", "AUTHORIZED", "CAPTURED", "REFUNDED", "CANCELLED"]
    );
    // Every modifying call carried its key; reads carry none.
    assert_eq!(keys(&h.control.log("epCreatePayment").await), [Some(key)]);
    for endpoint in ["epCapture", "epRefund", "epCancel"] {
        assert!(keys(&h.control.log(endpoint).await)[0].is_some(), "{endpoint}");
    }
    assert_eq!(keys(&h.control.log("epGetPayment").await), [None, None]);
}

#[tokio::test]
async fn a_cancel_before_approval_terminates_the_payment() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = created(&client, 700).await;
    let cancelled = client
        .cancel(&correlation(), &reference, &new_key(), &CancelRequest::default())
        .await
        .unwrap();
    assert_eq!(
        translate::payment_state(&cancelled.state, &cancelled.amount, &cancelled.aggregate),
        PaymentState::Cancelled
    );
}

#[tokio::test]
async fn refusals_are_decoded_and_translated_by_code_and_status() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let c = correlation();
    let reference = authorized(&h, &client, 1000).await;

    let above = client
        .capture(&c, &reference, &new_key(), &dkk(1001))
        .await
        .unwrap_err();
    assert_eq!(above.code(), Some("6090"), "{above}");
    assert!(matches!(above, EpError::Refused { status: 400, .. }));
    assert_eq!(
        translate::error(above).refusal(),
        Some(Refusal::AmountAboveReserved)
    );

    let refund = client
        .refund(&c, &reference, &new_key(), &dkk(1))
        .await
        .unwrap_err();
    assert_eq!(
        translate::error(refund).refusal(),
        Some(Refusal::AmountAboveRefundable)
    );

    let mut other_currency = dkk(100);
    other_currency.currency = mposd::backends::epayment::model::Currency::Nok;
    let currency = client
        .capture(&c, &reference, &new_key(), &other_currency)
        .await
        .unwrap_err();
    assert_eq!(
        translate::error(currency).refusal(),
        Some(Refusal::CurrencyMismatch)
    );

    let only_transaction = CancelRequest {
        cancel_transaction_only: Some(true),
    };
    let cancel = client
        .cancel(&c, &reference, &new_key(), &only_transaction)
        .await
        .unwrap_err();
    assert_eq!(translate::error(cancel).refusal(), Some(Refusal::NotCancellable));

    let reused = client
        .create(&c, &new_key(), &push_request(&reference, 1000))
        .await
        .unwrap_err();
    assert!(matches!(reused, EpError::Refused { status: 409, .. }), "{reused}");
    assert_eq!(translate::error(reused).refusal(), Some(Refusal::KeyReused));

    let unknown = client.payment(&c, &new_reference()).await.unwrap_err();
    assert_eq!(translate::error(unknown), BackendError::NotFound);

    let bad_key = client
        .create(&c, &"k".repeat(51), &push_request(&new_reference(), 100))
        .await
        .unwrap_err();
    assert!(matches!(bad_key, EpError::BadIdempotencyKey { .. }));
    assert_eq!(
        h.control.count("epCreatePayment").await,
        2,
        "the bad key was never sent"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reads = (0..8).map(|_| {
        let client = client.clone();
        async move { client.payment(&correlation(), &new_reference()).await }
    });
    for result in futures::future::join_all(reads).await {
        assert!(matches!(result, Err(EpError::Refused { status: 404, .. })));
    }
    assert_eq!(h.control.count("epAccessToken").await, 1);
}

#[tokio::test]
async fn the_token_is_renewed_ahead_of_its_expiry_and_kept_while_renewal_fails() {
    // An 8 s token is due for renewal after 6 s, before the API would refuse it.
    let h = Harness::with(SimConfig {
        settings: Settings {
            token_lifetime: Duration::from_secs(8),
            ..Settings::default()
        },
        ..SimConfig::default()
    })
    .await;
    let client = ep_client(&h);
    let reference = created(&client, 100).await;
    assert_eq!(h.control.count("epAccessToken").await, 1);
    // The passing of time is what is tested here.
    tokio::time::sleep(Duration::from_millis(6200)).await;
    // The renewal fails; the token, still valid, serves meanwhile.
    h.control.fault("epAccessToken", "serverError", 1, None).await;
    client.payment(&correlation(), &reference).await.unwrap();
    assert_eq!(h.control.count("epAccessToken").await, 2);
    client.payment(&correlation(), &reference).await.unwrap();
    assert_eq!(h.control.count("epAccessToken").await, 3);
    let statuses = statuses(&h.control.log("epGetPayment").await);
    assert_eq!(statuses, [Some(200); 2], "no call was made with an expired token");
}

#[tokio::test]
async fn without_a_token_nothing_is_sent_and_the_error_is_transient() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    h.control.fault("epAccessToken", "serverError", 1, None).await;
    let err = client
        .create(&correlation(), &new_key(), &push_request(&new_reference(), 100))
        .await
        .unwrap_err();
    assert!(matches!(err, EpError::Token(_)), "{err}");
    assert!(translate::error(err).is_transient());
    assert_eq!(h.control.count("epCreatePayment").await, 0);
}

#[tokio::test]
async fn a_rejected_token_is_replaced_once() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = created(&client, 100).await;
    h.control.fault("epGetPayment", "unauthorized", 1, None).await;
    client.payment(&correlation(), &reference).await.unwrap();
    assert_eq!(h.control.count("epAccessToken").await, 2);

    h.control.fault("epGetPayment", "unauthorized", 2, None).await;
    let err = client.payment(&correlation(), &reference).await.unwrap_err();
    assert!(matches!(err, EpError::Unauthorized { .. }), "{err}");
    assert_eq!(translate::error(err), BackendError::Unauthorized);
}

#[tokio::test]
async fn wrong_keys_are_an_error_that_names_the_sales_unit_and_no_secret() {
    let h = Harness::start().await;
    let mut keys = ep_keys();
    keys.client_secret = mposd::secrets::Secret::new("not-the-secret-at-all");
    let client = EpaymentClient::with_keys(ep_config(&h), keys).unwrap();
    let err = client
        .payment(&correlation(), &new_reference())
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(text.contains(EP_MSN), "{text}");
    assert!(!text.contains("not-the-secret-at-all"), "{text}");
    assert_eq!(translate::error(err), BackendError::Unauthorized);
}

#[tokio::test]
async fn the_sales_unit_is_named_in_every_call() {
    // The keys are the first unit's; calls for another unit's MSN are refused by the API,
    // which only happens if the header is sent.
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.msn = EP_OTHER_MSN.into();
    });
    let err = client
        .create(&correlation(), &new_key(), &push_request(&new_reference(), 100))
        .await
        .unwrap_err();
    assert!(matches!(err, EpError::Refused { status: 403, .. }), "{err}");
    assert!(matches!(translate::error(err), BackendError::Forbidden { .. }));
}

#[tokio::test]
async fn every_call_token_call_included_names_the_system_the_sales_unit_and_carries_the_keys() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.system.name = "Bageriet-Kasse".into();
        c.system.version = "4.2.1".into();
        c.system.plugin_name = "mposd-ep-test".into();
        c.system.plugin_version = "0.9".into();
    });
    let c = correlation();
    // A 401 makes the client fetch a second token, so the token call is seen twice.
    h.control.fault("epGetPayment", "unauthorized", 1, None).await;
    let reference = authorized(&h, &client, 1000).await;
    client.payment(&c, &reference).await.unwrap();
    client.events(&c, &reference).await.unwrap();
    client
        .capture(&c, &reference, &new_key(), &dkk(1000))
        .await
        .unwrap();

    let requests = h.control.get("/_sim/requests").await;
    let calls: Vec<&Value> = requests["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["endpoint"].as_str().unwrap().starts_with("ep"))
        .collect();
    let endpoints: Vec<&str> = calls.iter().map(|e| e["endpoint"].as_str().unwrap()).collect();
    assert_eq!(
        endpoints,
        [
            "epAccessToken",
            "epCreatePayment",
            "epGetPayment",
            "epAccessToken",
            "epGetPayment",
            "epGetEvents",
            "epCapture"
        ]
    );
    for call in &calls {
        let headers = &call["headers"];
        assert_eq!(headers["Merchant-Serial-Number"], EP_MSN, "{call}");
        assert_eq!(headers["Vipps-System-Name"], "Bageriet-Kasse", "{call}");
        assert_eq!(headers["Vipps-System-Version"], "4.2.1", "{call}");
        assert_eq!(headers["Vipps-System-Plugin-Name"], "mposd-ep-test", "{call}");
        assert_eq!(headers["Vipps-System-Plugin-Version"], "0.9", "{call}");
        let secrets: Vec<&str> = call["secretHeaders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let expected: &[&str] = if call["endpoint"] == "epAccessToken" {
            &["Ocp-Apim-Subscription-Key", "client_id", "client_secret"]
        } else {
            &["Authorization", "Ocp-Apim-Subscription-Key"]
        };
        assert_eq!(secrets, expected, "{call}");
    }
    // The simulator's log says the keys were sent, never what they were.
    let text = requests.to_string();
    for secret in [EP_CLIENT_ID, EP_CLIENT_SECRET, EP_SUBSCRIPTION_KEY, "Bearer"] {
        assert!(!text.contains(secret), "{secret} in the request log");
    }
}

#[tokio::test]
async fn key_files_readable_by_others_are_refused_and_private_ones_used() {
    let h = Harness::start().await;
    let write = |name: &str, value: &str, mode: u32| {
        let path = h.dir.path().join(name);
        std::fs::write(&path, format!("{value}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        SecretSource::File(path)
    };
    let base = ep_config(&h);
    let keys = ep_keys();
    let secret = write("client-secret", keys.client_secret.expose(), 0o600);
    let key = write("subscription-key", keys.subscription_key.expose(), 0o644);
    let id = write("client-id", keys.client_id.expose(), 0o600);
    let config = |key: SecretSource| EpaymentConfig {
        client_id: id.clone(),
        client_secret: secret.clone(),
        subscription_key: key,
        ..base.clone()
    };
    let err = EpaymentClient::new(config(key.clone())).unwrap_err().to_string();
    assert!(err.contains("chmod 600"), "{err}");
    assert!(!err.contains(keys.subscription_key.expose()), "{err}");

    let SecretSource::File(path) = &key else {
        unreachable!()
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let client = EpaymentClient::new(config(key)).unwrap();
    created(&client, 100).await;
}

#[tokio::test]
async fn the_keys_and_tokens_appear_in_no_log_line_error_or_debug_output() {
    const SECRET: &str = "CANARY-ep-5ecret-c0ffee";
    const KEY: &str = "CANARY-ep-subscription-key";
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let mut fixtures = Fixtures::default();
    let unit = &mut fixtures.epayment.sales_units[0];
    unit.client_secret = SECRET.into();
    unit.subscription_key = KEY.into();
    let h = Harness::with(SimConfig {
        fixtures,
        ..SimConfig::default()
    })
    .await;
    let mut keys = ep_keys();
    keys.client_secret = mposd::secrets::Secret::new(SECRET);
    keys.subscription_key = mposd::secrets::Secret::new(KEY);
    let client = EpaymentClient::with_keys(ep_config(&h), keys.clone()).unwrap();
    let c = correlation();
    let mut seen = vec![format!("{client:?} {keys:?}")];

    // A retry, a 401 with a renewed token, refusals, a lost answer.
    h.control.fault("epCreatePayment", "serverError", 1, None).await;
    let reference = created(&client, 1000).await;
    h.control.fault("epGetPayment", "unauthorized", 1, None).await;
    client.payment(&c, &reference).await.unwrap();
    let refused = client
        .capture(&c, &reference, &new_key(), &dkk(100))
        .await
        .unwrap_err();
    seen.push(format!(
        "{refused} {refused:?} {:?}",
        translate::error(refused.clone())
    ));
    h.control.fault("epGetPayment", "unauthorized", 2, None).await;
    let unauthorized = client.payment(&c, &reference).await.unwrap_err();
    seen.push(format!("{unauthorized} {unauthorized:?}"));
    h.control.fault("epCancel", "commitThenDrop", 3, None).await;
    let lost = client
        .cancel(&c, &reference, &new_key(), &CancelRequest::default())
        .await
        .unwrap_err();
    seen.push(format!("{lost} {lost:?}"));
    assert!(lost.outcome_unknown(), "{lost}");

    seen.push(logs.text());
    // Which lines are logged depends on callsites other tests may be hitting at the same time;
    // that something was captured is what makes the search below meaningful.
    assert!(!logs.text().is_empty(), "the flow was logged");
    for text in seen {
        for secret in [SECRET, KEY, "Bearer "] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
    }
}
