//! PoS onboarding and offboarding, including MobilePay's Onboarding certification cases.

use super::support::*;
use mposd::backends::pos_v10::{
    model::BeaconType,
    onboarding::{
        self, BeaconChoice, OffboardOutcome, OnboardingError, PendingCreations, StoreRef, SyncOutcome,
    },
    Correlation,
};

fn live(all: &[serde_json::Value], merchant_pos_id: &str) -> Vec<serde_json::Value> {
    all.iter()
        .filter(|p| p["merchantPosId"] == merchant_pos_id && p["deleted"] == false)
        .cloned()
        .collect()
}

/// Retry lines our client logged for `endpoint`: one per failed attempt, with its problem.
fn retry_lines<'a>(logged: &'a str, endpoint: &str) -> Vec<&'a str> {
    logged
        .lines()
        .filter(|l| {
            l.contains("MobilePay call failed; retrying") && l.contains(&format!("endpoint=\"{endpoint}\""))
        })
        .collect()
}

/// Certification "Onboard a PoS": create PoS (timeout) → (500) → success, with MobilePay's 2 s
/// timeout; exactly one PoS and one idempotency key on every attempt.
#[tokio::test]
async fn certification_create_pos_timeout_then_500_then_success() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client_with(
        db.clone(),
        h.strict_config(),
        mposd::backends::pos_v10::Secret::new(SECRET),
        Default::default(),
    );
    // The first attempt is held 4 s (past the 2 s timeout); the second fails with a 500.
    h.control.fault("createPos", "delay", 1, Some(4000)).await;
    h.control.fault("createPos", "serverError", 1, None).await;

    let pos = onboard(&client, &db, &pos_settings("cert-1")).await;
    assert_eq!(pos.outcome, SyncOutcome::Created);

    let attempts = h.control.log("createPos").await;
    let answered: Vec<_> = attempts
        .iter()
        .filter(|e| e["fault"] != "delay")
        .cloned()
        .collect();
    assert_eq!(statuses(&answered), vec![Some(500), Some(200)]);
    let key = keys(&attempts)[0].clone().expect("an idempotency key");
    assert!(
        keys(&attempts).iter().all(|k| k.as_deref() == Some(key.as_str())),
        "{attempts:?}"
    );
    // The attempt that timed out carried the same key (our own log of it).
    let logged = logs.text();
    let retries = retry_lines(&logged, "createPos");
    assert_eq!(retries.len(), 2, "{retries:#?}");
    assert!(
        retries[0].contains("timed out") && retries[1].contains("HTTP 500"),
        "{retries:#?}"
    );
    assert!(retries.iter().all(|l| l.contains(&key)), "{retries:#?}");

    let all = h.control.pointofsales().await;
    let ours = live(&all, "cert-1");
    assert_eq!(ours.len(), 1, "exactly one PoS: {all:?}");
    assert_eq!(all.len(), 1, "and no deleted duplicate either");
    assert_eq!(ours[0]["posId"], pos.pos_id.as_str());
    assert_eq!(
        ours[0]["beaconId"].as_str().unwrap().to_lowercase(),
        pos.beacon_id
    );
    // The finished creation no longer holds a key.
    let pending = PendingCreations::open(db.clone()).unwrap();
    assert_eq!(pending.pending_key(VAT, "cert-1"), None);
}

/// The same case, checked only through the simulator: its request log must show the held
/// first attempt with the same key as the others.
#[tokio::test]
async fn certification_create_pos_held_attempt_is_in_the_request_log() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client_with(
        db.clone(),
        h.strict_config(),
        mposd::backends::pos_v10::Secret::new(SECRET),
        Default::default(),
    );
    h.control.fault("createPos", "delay", 1, Some(4000)).await;
    h.control.fault("createPos", "serverError", 1, None).await;
    onboard(&client, &db, &pos_settings("cert-1")).await;
    eventually("all three createPos attempts logged", || async {
        h.control.log("createPos").await.len() == 3
    })
    .await;
    let attempts = h.control.log("createPos").await;
    let keys = keys(&attempts);
    assert!(
        keys[0].is_some() && keys.iter().all(|k| k == &keys[0]),
        "{keys:?}"
    );
    assert_eq!(live(&h.control.pointofsales().await, "cert-1").len(), 1);
}

/// Certification "Offboard a PoS": delete PoS (timeout) → (500) → success.
#[tokio::test]
async fn certification_delete_pos_timeout_then_500_then_success() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client_with(
        db.clone(),
        h.strict_config(),
        mposd::backends::pos_v10::Secret::new(SECRET),
        Default::default(),
    );
    let pos = onboard(&client, &db, &pos_settings("cert-2")).await;
    h.control.fault("deletePos", "delay", 1, Some(4000)).await;
    h.control.fault("deletePos", "serverError", 1, None).await;

    let outcome = onboarding::offboard(&client, &Correlation::new("offboarding"), "cert-2")
        .await
        .unwrap();
    assert_eq!(
        outcome,
        OffboardOutcome::Deleted {
            pos_id: pos.pos_id.clone()
        }
    );
    let attempts = h.control.log("deletePos").await;
    let answered: Vec<_> = attempts
        .iter()
        .filter(|e| e["fault"] != "delay")
        .cloned()
        .collect();
    assert_eq!(statuses(&answered), vec![Some(500), Some(200)]);
    assert!(attempts
        .iter()
        .all(|e| e["path"].as_str().unwrap().ends_with(&pos.pos_id)));
    let logged = logs.text();
    let retries = retry_lines(&logged, "deletePos");
    assert_eq!(retries.len(), 2, "{retries:#?}");
    assert!(
        retries[0].contains("timed out") && retries[1].contains("HTTP 500"),
        "{retries:#?}"
    );

    let all = h.control.pointofsales().await;
    assert!(live(&all, "cert-2").is_empty(), "{all:?}");
    // Offboarding again finds nothing to do.
    let again = onboarding::offboard(&client, &Correlation::new("offboarding"), "cert-2")
        .await
        .unwrap();
    assert_eq!(again, OffboardOutcome::NotFound);
}

/// Certification "Onboard a PoS (final)", then a restart that finds the PoS in sync.
#[tokio::test]
async fn a_second_start_finds_the_pos_and_creates_nothing() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let first = onboard(&client, &db, &pos_settings("kasse-1")).await;
    assert_eq!(first.outcome, SyncOutcome::Created);
    let second = onboard(&client, &db, &pos_settings("kasse-1")).await;
    assert_eq!(second.outcome, SyncOutcome::Unchanged);
    assert_eq!(second.pos_id, first.pos_id);
    assert_eq!(second.beacon_id, first.beacon_id);
    assert_eq!(h.control.count("createPos").await, 1);
    assert_eq!(live(&h.control.pointofsales().await, "kasse-1").len(), 1);
}

#[tokio::test]
async fn store_by_brand_and_location_and_a_fixed_beacon() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let mut settings = pos_settings("kasse-2");
    settings.store = StoreRef::Location {
        merchant_brand_id: "POSDK12345".into(),
        merchant_location_id: "00001".into(),
    };
    settings.beacon = BeaconChoice::Fixed("123456789012345".into());
    settings.supported_beacon_types = vec![BeaconType::QR, BeaconType::NFC];
    let pos = onboard(&client, &db, &settings).await;
    assert_eq!(pos.store_id, STORE);
    assert_eq!(pos.beacon_id, "123456789012345");
    let truth = live(&h.control.pointofsales().await, "kasse-2");
    assert_eq!(truth[0]["storeId"], STORE);

    settings.store = StoreRef::Location {
        merchant_brand_id: "POSDK12345".into(),
        merchant_location_id: "99999".into(),
    };
    settings.merchant_pos_id = "kasse-3".into();
    let pending = PendingCreations::open(db.clone()).unwrap();
    let err = onboarding::onboard(&client, &pending, &Correlation::new("onboarding"), &settings, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, OnboardingError::StoreNotFound { .. }), "{err}");
}

#[tokio::test]
async fn a_changed_pos_is_recreated_only_once_its_reservation_is_captured() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let first = onboard(&client, &db, &pos_settings("kasse-1")).await;
    h.control.customer(&first.beacon_id, "accept").await;
    let payment = initiate(&client, &first.pos_id, "order-1").await;
    eventually("payment reserved", || async {
        client
            .get_payment(&Correlation::new("payment"), &payment)
            .await
            .unwrap()
            .status
            == mposd::backends::pos_v10::model::PaymentStatus::Reserved
    })
    .await;

    let mut settings = pos_settings("kasse-1");
    settings.name = "Kasse 1 (ny)".into();
    settings.supported_beacon_types = vec![BeaconType::QR, BeaconType::Bluetooth];
    // A reservation is an open payment: the PoS is not deleted under it (§17.16).
    let kept = onboard(&client, &db, &settings).await;
    assert_eq!(kept.pos_id, first.pos_id);
    match &kept.outcome {
        SyncOutcome::OutOfSync { open_payments, .. } => assert_eq!(open_payments, &vec![payment.clone()]),
        other => panic!("expected the PoS kept, got {other:?}"),
    }
    assert_eq!(h.control.count("deletePos").await, 0);

    client
        .capture_payment(&Correlation::new("payment"), &payment, mposd::money::Minor(4995))
        .await
        .unwrap();
    let second = onboard(&client, &db, &settings).await;
    match &second.outcome {
        SyncOutcome::Recreated { differences } => assert_eq!(differences.len(), 2, "{differences:?}"),
        other => panic!("expected a re-creation, got {other:?}"),
    }
    assert_ne!(second.pos_id, first.pos_id);
    let all = h.control.pointofsales().await;
    let current = live(&all, "kasse-1");
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["name"], "Kasse 1 (ny)");
    assert!(all
        .iter()
        .any(|p| p["posId"] == first.pos_id.as_str() && p["deleted"] == true));
}

#[tokio::test]
async fn a_changed_pos_is_kept_while_the_caller_has_payments_open_that_mobilepay_does_not_list() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let first = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let pending = PendingCreations::open(db.clone()).unwrap();
    let mut settings = pos_settings("kasse-1");
    settings.name = "Kasse 2".into();
    // E.g. a payment whose create is still on its way, known only to the caller's journal.
    let ours = vec!["sale-7".to_string()];
    let kept = onboarding::onboard(
        &client,
        &pending,
        &Correlation::new("onboarding"),
        &settings,
        &ours,
    )
    .await
    .unwrap();
    assert_eq!(kept.pos_id, first.pos_id);
    assert!(
        matches!(&kept.outcome, SyncOutcome::OutOfSync { open_payments, .. } if open_payments == &ours),
        "{:?}",
        kept.outcome
    );
    assert_eq!(h.control.count("deletePos").await, 0);
}

#[tokio::test]
async fn a_changed_pos_with_an_active_payment_is_left_alone_and_says_why() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let first = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let payment = initiate(&client, &first.pos_id, "order-1").await;

    let mut settings = pos_settings("kasse-1");
    settings.name = "Kasse 9".into();
    let second = onboard(&client, &db, &settings).await;
    assert_eq!(second.pos_id, first.pos_id);
    match &second.outcome {
        SyncOutcome::OutOfSync {
            differences,
            open_payments,
        } => {
            assert_eq!(open_payments, &vec![payment.clone()]);
            assert!(differences[0].contains("Kasse 9"), "{differences:?}");
        }
        other => panic!("expected out of sync, got {other:?}"),
    }
    assert_eq!(h.control.count("deletePos").await, 0);
    let truth = live(&h.control.pointofsales().await, "kasse-1");
    assert_eq!(truth[0]["name"], "Kasse 1");
}

#[tokio::test]
async fn offboarding_waits_until_every_payment_is_captured_or_cancelled() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    h.control.customer(&pos.beacon_id, "accept").await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;
    eventually("payment reserved", || async {
        client
            .get_payment(&Correlation::new("payment"), &payment)
            .await
            .unwrap()
            .status
            == mposd::backends::pos_v10::model::PaymentStatus::Reserved
    })
    .await;

    let err = onboarding::offboard(&client, &Correlation::new("offboarding"), "kasse-1")
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, OnboardingError::OpenPayments { .. }), "{text}");
    assert!(text.contains(&payment) && text.contains("Reserved"), "{text}");
    assert_eq!(h.control.count("deletePos").await, 0);

    client
        .cancel_payment(&Correlation::new("payment"), &payment)
        .await
        .unwrap();
    let done = onboarding::offboard(&client, &Correlation::new("offboarding"), "kasse-1")
        .await
        .unwrap();
    assert_eq!(done, OffboardOutcome::Deleted { pos_id: pos.pos_id });
}

/// Every attempt of a creation commits but loses its answer: the outcome is unknown, the key
/// stays stored, and a repeat with that key gets the same PoS instead of a second one.
#[tokio::test]
async fn a_creation_whose_answers_are_lost_keeps_its_key() {
    let h = Harness::start().await;
    let db = h.open_db();
    let client = h.client(db.clone());
    h.control.fault("createPos", "commitThenDrop", 3, None).await;
    let pending = PendingCreations::open(db.clone()).unwrap();
    let settings = pos_settings("kasse-1");
    let err = onboarding::onboard(&client, &pending, &Correlation::new("onboarding"), &settings, &[])
        .await
        .unwrap_err();
    match &err {
        OnboardingError::Api(api) => assert!(api.outcome_unknown(), "{api}"),
        other => panic!("expected an unknown outcome, got {other}"),
    }
    let key = pending.pending_key(VAT, "kasse-1").expect("the key is kept");
    let attempts = h.control.log("createPos").await;
    assert_eq!(attempts.len(), 3);
    assert!(keys(&attempts).iter().all(|k| k.as_deref() == Some(key.as_str())));
    assert_eq!(live(&h.control.pointofsales().await, "kasse-1").len(), 1);

    // The repeat (as after a restart) uses the stored key and gets the existing PoS back.
    let request = mposd::backends::pos_v10::model::CreatePosRequest {
        merchant_pos_id: "kasse-1".into(),
        store_id: STORE.into(),
        name: "Kasse 1".into(),
        beacon_id: None,
        callback_alias: None,
        supported_beacon_types: vec![BeaconType::QR],
        require_payment_before_checkin: Some(false),
    };
    let again = client
        .create_pos(&Correlation::new("onboarding"), &key, &request)
        .await
        .unwrap();
    assert_eq!(h.control.pointofsales().await.len(), 1);
    assert_eq!(
        live(&h.control.pointofsales().await, "kasse-1")[0]["posId"],
        again.pos_id.as_str()
    );
    // And a new start simply finds it.
    let pos = onboard(&client, &db, &settings).await;
    assert_eq!(pos.pos_id, again.pos_id);
    assert_eq!(pending.pending_key(VAT, "kasse-1"), None);
}
