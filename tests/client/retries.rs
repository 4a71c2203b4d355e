//! The retry rules of reference §7, proven from the simulator's request log.

use super::support::*;
use mposd::backends::pos_v10::{ApiError, Correlation, IdempotencyKey, Secret};
use std::time::Duration;

const UNKNOWN_POS: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

async fn create_pos_with_key(
    client: &mposd::backends::pos_v10::MobilePayClient,
    key: &IdempotencyKey,
    id: &str,
) -> Result<String, ApiError> {
    let request = mposd::backends::pos_v10::model::CreatePosRequest {
        merchant_pos_id: id.into(),
        store_id: STORE.into(),
        name: "Kasse".into(),
        beacon_id: None,
        callback_alias: None,
        supported_beacon_types: vec![mposd::backends::pos_v10::model::BeaconType::QR],
        require_payment_before_checkin: None,
    };
    client
        .create_pos(&Correlation::new("onboarding"), key, &request)
        .await
        .map(|r| r.pos_id)
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_key_then_succeed() {
    let h = Harness::start().await;
    let client = h.client(h.open_db());
    h.control.fault("createPos", "serverError", 2, None).await;
    let key = IdempotencyKey::generate();
    let pos_id = create_pos_with_key(&client, &key, "kasse-1").await.unwrap();
    let attempts = h.control.log("createPos").await;
    assert_eq!(statuses(&attempts), vec![Some(500), Some(500), Some(200)]);
    assert!(keys(&attempts).iter().all(|k| k.as_deref() == Some(key.as_str())));
    let all = h.control.pointofsales().await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["posId"], pos_id.as_str());
}

#[tokio::test]
async fn retries_stop_after_two_by_default_and_after_five_at_most() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    h.control.fault("createPos", "serverError", 100, None).await;
    let err = create_pos_with_key(&client, &IdempotencyKey::generate(), "kasse-1")
        .await
        .unwrap_err();
    match &err {
        ApiError::ServerError { status, attempts, .. } => {
            assert_eq!((*status, *attempts), (500, 3));
        }
        other => panic!("expected a server error, got {other}"),
    }
    assert_eq!(err.code(), Some("2000"));
    assert!(
        !err.outcome_unknown(),
        "every attempt was answered: nothing happened"
    );
    assert_eq!(h.control.count("createPos").await, 3);

    let mut config = h.config();
    config.retry.retries = 5;
    let patient = h.client_with(db, config, Secret::new(SECRET), Default::default());
    let key = IdempotencyKey::generate();
    assert!(create_pos_with_key(&patient, &key, "kasse-1").await.is_err());
    let attempts = h.control.log("createPos").await;
    assert_eq!(attempts.len(), 3 + 6);
    assert!(keys(&attempts[3..])
        .iter()
        .all(|k| k.as_deref() == Some(key.as_str())));
    assert!(h.control.pointofsales().await.is_empty());
}

#[tokio::test]
async fn client_errors_are_answers_and_are_not_retried() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let correlation = Correlation::new("test");

    // 404 has its own variant.
    let err = client.get_pos(&correlation, UNKNOWN_POS).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(h.control.count("getPos").await, 1);

    // 400 keeps MobilePay's code (no filter at all: 1121).
    let err = client.find_pos(&correlation, None, None, None).await.unwrap_err();
    assert!(matches!(err, ApiError::BadRequest { .. }), "{err}");
    assert_eq!(err.code(), Some("1121"));
    assert_eq!(h.control.count("findPos").await, 1);

    // 409 keeps MobilePay's code (a second active payment on one PoS: 1301).
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    initiate(&client, &pos.pos_id, "order-1").await;
    let err = client
        .initiate_payment(
            &correlation,
            &IdempotencyKey::generate(),
            &payment_request(&pos.pos_id, "order-2", mposd::money::Minor(100)),
        )
        .await
        .unwrap_err();
    assert!(
        err.is_conflict(mposd::backends::pos_v10::codes::PAYMENT_ALREADY_ACTIVE),
        "{err}"
    );
    assert_eq!(h.control.count("initiatePayment").await, 2);

    // 403 keeps MobilePay's code: a PoS of another merchant (the second DK merchant).
    let foreign = MposdClientForOtherMerchant::new(&h);
    let other_pos = foreign.create().await;
    let err = client.get_pos(&correlation, &other_pos).await.unwrap_err();
    assert!(matches!(err, ApiError::Forbidden { .. }), "{err}");
    assert_eq!(err.code(), Some("1410"));
    assert_eq!(h.control.count("getPos").await, 1 + 1 + 1);
}

/// A client for merchant DK87654321, to own a PoS our merchant may not touch.
struct MposdClientForOtherMerchant {
    client: mposd::backends::pos_v10::MobilePayClient,
}

impl MposdClientForOtherMerchant {
    fn new(h: &Harness) -> Self {
        let db = std::sync::Arc::new(mposd::store::Db::open(&h.dir.path().join("other"), 1 << 20).unwrap());
        let client = mposd::backends::pos_v10::MobilePayClient::open(
            h.config(),
            "DK87654321",
            mposd::backends::pos_v10::Credentials::ClientSecret(Secret::new(SECRET)),
            db,
        )
        .unwrap();
        MposdClientForOtherMerchant { client }
    }

    async fn create(&self) -> String {
        let request = mposd::backends::pos_v10::model::CreatePosRequest {
            merchant_pos_id: "other-1".into(),
            store_id: "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f".into(),
            name: "Other".into(),
            beacon_id: None,
            callback_alias: None,
            supported_beacon_types: vec![mposd::backends::pos_v10::model::BeaconType::QR],
            require_payment_before_checkin: None,
        };
        self.client
            .create_pos(&Correlation::new("other"), &IdempotencyKey::generate(), &request)
            .await
            .unwrap()
            .pos_id
    }
}

#[tokio::test]
async fn a_get_that_times_out_is_retried_within_half_a_second_timeouts() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let strict = h.client_with(
        db.clone(),
        h.strict_config(),
        Secret::new(SECRET),
        Default::default(),
    );
    h.control.fault("getPos", "delay", 1, Some(2000)).await;
    let started = tokio::time::Instant::now();
    let live = strict
        .get_pos(&Correlation::new("test"), &pos.pos_id)
        .await
        .unwrap();
    assert_eq!(live.pos_id, pos.pos_id);
    // It gave up on the held attempt after 0.5 s instead of waiting 2 s for it.
    assert!(started.elapsed() >= Duration::from_millis(500));
    let answered: Vec<_> = h
        .control
        .log("getPos")
        .await
        .into_iter()
        .filter(|e| e["fault"] != "delay")
        .collect();
    assert!(answered.len() >= 2, "{answered:?}");
    assert!(
        statuses(&answered).iter().all(|s| *s == Some(200)),
        "{answered:?}"
    );
}

#[tokio::test]
async fn answers_lost_on_every_attempt_are_an_unknown_outcome() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    h.control
        .fault("initiatePayment", "commitThenDrop", 3, None)
        .await;
    let key = IdempotencyKey::generate();
    let request = payment_request(&pos.pos_id, "order-1", mposd::money::Minor(1250));
    let err = client
        .initiate_payment(&Correlation::new("payment"), &key, &request)
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert!(err.is_transient());
    let attempts = h.control.log("initiatePayment").await;
    assert_eq!(attempts.len(), 3);
    assert!(keys(&attempts).iter().all(|k| k.as_deref() == Some(key.as_str())));
    // The first attempt did create the payment; the retries were replays of it.
    let payments = h.control.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    // Asking again with the same key gives the payment id instead of a second payment.
    let again = client
        .initiate_payment(&Correlation::new("payment"), &key, &request)
        .await
        .unwrap();
    assert_eq!(payments[0]["paymentId"], again.payment_id.as_str());
    assert_eq!(h.control.payments().await.len(), 1);
}

/// A lost answer followed by a failure that stops the retries (here: 401 twice) is still an
/// unknown outcome: the lost attempt did create the payment.
#[tokio::test]
async fn a_lost_answer_is_not_hidden_by_a_later_refusal() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    h.control
        .fault("initiatePayment", "commitThenDrop", 1, None)
        .await;
    h.control.fault("initiatePayment", "unauthorized", 2, None).await;
    let err = client
        .initiate_payment(
            &Correlation::new("payment"),
            &IdempotencyKey::generate(),
            &payment_request(&pos.pos_id, "order-1", mposd::money::Minor(1250)),
        )
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    assert!(err.to_string().contains("401"), "{err}");
    assert_eq!(h.control.payments().await.len(), 1);
}
