//! A recognisable client secret and the access tokens made from it must not show up in any
//! log line, error message or `Debug` output of a flow that goes through retries, a 401 and
//! refusals.

use super::support::*;
use base64::Engine;
use mposd::{
    backends::pos_v10::{
        model::PaymentStatus, Correlation, Credentials, IdempotencyKey, Secret, TokenSettings,
    },
    money::Minor,
    sim::{Fixtures, SimConfig},
};

const CANARY: &str = "CANARY-c0ffee-5ecret-7a1e";

#[tokio::test]
async fn the_canary_secret_and_the_tokens_appear_nowhere() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.subscriber());

    let mut fixtures = Fixtures::default();
    fixtures.integrators[0].client_secret = CANARY.into();
    let h = Harness::with(SimConfig {
        fixtures,
        ..SimConfig::default()
    })
    .await;
    let db = h.open_db();
    let client = h.client_with(
        db.clone(),
        h.config(),
        Secret::new(CANARY),
        TokenSettings::default(),
    );
    let mut seen: Vec<String> = Vec::new();
    let correlation = Correlation::new("payment");

    // Onboarding with a failed attempt, a payment, a 401 in the middle, errors.
    h.control.fault("createPos", "serverError", 1, None).await;
    let pos = onboard(&client, &db, &pos_settings("kasse-1")).await;
    let first_token = client.tokens().token(&correlation).await.unwrap();
    h.control.customer(&pos.beacon_id, "accept").await;
    let payment = initiate(&client, &pos.pos_id, "order-1").await;
    h.control.fault("getPayment", "unauthorized", 1, None).await;
    eventually("payment reserved", || async {
        client.get_payment(&correlation, &payment).await.unwrap().status == PaymentStatus::Reserved
    })
    .await;
    let second_token = client.tokens().token(&correlation).await.unwrap();
    assert_ne!(first_token.access_token, second_token.access_token);

    let conflict = client
        .capture_payment(&correlation, &payment, Minor(999_999))
        .await
        .unwrap_err();
    seen.push(format!("{conflict} {conflict:?}"));
    let missing = client
        .get_payment(&correlation, "0f0e0d0c-0b0a-4908-8706-050403020100")
        .await
        .unwrap_err();
    seen.push(format!("{missing} {missing:?}"));
    h.control.fault("cancelPayment", "unauthorized", 2, None).await;
    let refused = client.cancel_payment(&correlation, &payment).await.unwrap_err();
    seen.push(format!("{refused} {refused:?}"));
    h.control.fault("token", "serverError", 3, None).await;
    h.control.fault("getPayment", "unauthorized", 1, None).await;
    let no_token = client.get_payment(&correlation, &payment).await.unwrap_err();
    seen.push(format!("{no_token} {no_token:?}"));
    let duplicate = client
        .initiate_payment(
            &correlation,
            &IdempotencyKey::generate(),
            &payment_request("not-a-guid", "order-2", Minor(100)),
        )
        .await
        .unwrap_err();
    seen.push(format!("{duplicate} {duplicate:?}"));

    // Debug output of everything that holds a secret or token.
    seen.push(format!("{client:?}"));
    seen.push(format!("{:?}", client.tokens()));
    seen.push(format!("{first_token:?} {second_token:?}"));
    seen.push(format!("{:?}", Credentials::ClientSecret(Secret::new(CANARY))));
    seen.push(format!("{:?}", client.config()));

    let logged = logs.text();
    assert!(
        logged.contains(&correlation.id().to_string()),
        "the correlation's correlation id is logged"
    );
    assert!(logged.contains("retrying"), "the failed attempts were logged");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CANARY}"));
    let needles = [
        CANARY.to_string(),
        basic,
        first_token.access_token.expose().to_string(),
        second_token.access_token.expose().to_string(),
    ];
    for (i, needle) in needles.iter().enumerate() {
        assert!(
            !logged.contains(needle.as_str()),
            "secret #{i} appears in the logs"
        );
        for text in &seen {
            assert!(!text.contains(needle.as_str()), "secret #{i} appears in: {text}");
        }
    }
}
