//! Lost answers, server errors, 429 and 423: what the ePayment client repeats, with which key,
//! and what it ends up with.

use super::epayment_support::*;
use super::support::*;
use mposd::{
    backends::epayment::{model::CancelRequest, translate, EpError, EpaymentClient},
    engine::backend::{BackendError, Refusal},
};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_repeated_with_the_same_key_and_makes_one_payment() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = new_reference();
    let key = new_key();
    h.control
        .fault("epCreatePayment", "commitThenDrop", 1, None)
        .await;
    let created = client
        .create(&correlation(), &key, &push_request(&reference, 1200))
        .await
        .unwrap();
    assert_eq!(created.reference, reference);
    let log = h.control.log("epCreatePayment").await;
    assert_eq!(keys(&log), [Some(key.clone()), Some(key)]);
    assert_eq!(ground(&h, &reference).await.len(), 1);
}

#[tokio::test]
async fn a_capture_whose_answer_is_lost_captures_once() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = authorized(&h, &client, 1000).await;
    h.control.fault("epCapture", "commitThenDrop", 1, None).await;
    let captured = client
        .capture(&correlation(), &reference, &new_key(), &dkk(600))
        .await
        .unwrap();
    assert_eq!(captured.aggregate.captured_amount.value, 600);
    let truth = &ground(&h, &reference).await[0];
    assert_eq!(truth["capturedMinor"], json!(600));
    let events = client.events(&correlation(), &reference).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.name.as_str() == "CAPTURED").count(), 1);
    let log = keys(&h.control.log("epCapture").await);
    assert_eq!(log.len(), 2);
    assert_eq!(log[0], log[1], "the repeat carried the same key");
}

#[tokio::test]
async fn a_refund_that_times_out_is_repeated_with_the_same_key_and_refunds_once() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.timeouts.write = Duration::from_millis(500);
    });
    let reference = authorized(&h, &client, 1000).await;
    client
        .capture(&correlation(), &reference, &new_key(), &dkk(1000))
        .await
        .unwrap();
    // The API carries the first attempt out after 1.5 s, long after the client gave up on it
    // and repeated it with the same key.
    h.control.fault("epRefund", "delay", 1, Some(1500)).await;
    let refunded = client
        .refund(&correlation(), &reference, &new_key(), &dkk(250))
        .await
        .unwrap();
    assert_eq!(refunded.aggregate.refunded_amount.value, 250);
    eventually("the held attempt was carried out", || async {
        h.control.log("epRefund").await.len() == 2
    })
    .await;
    let log = keys(&h.control.log("epRefund").await);
    assert_eq!(log[0], log[1], "one key");
    assert_eq!(ground(&h, &reference).await[0]["refundedMinor"], json!(250));
    let events = client.events(&correlation(), &reference).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.name.as_str() == "REFUNDED").count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_as_nothing_done() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = authorized(&h, &client, 1000).await;
    h.control.fault("epRefund", "serverError", 1, None).await;
    client
        .capture(&correlation(), &reference, &new_key(), &dkk(1000))
        .await
        .unwrap();
    client
        .refund(&correlation(), &reference, &new_key(), &dkk(300))
        .await
        .unwrap();

    h.control.fault("epCapture", "serverError", 3, None).await;
    let other = authorized(&h, &client, 500).await;
    let err = client
        .capture(&correlation(), &other, &new_key(), &dkk(500))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EpError::Server {
                status: 500,
                attempts: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.code(), Some("3010"));
    assert!(translate::error(err).is_transient());
    assert_eq!(ground(&h, &other).await[0]["capturedMinor"], json!(0));
}

/// Five cancels a minute per payment: the replays of one key use them up. Returns the key.
async fn use_up_cancels(client: &EpaymentClient, reference: &str) -> String {
    let key = new_key();
    for _ in 0..5 {
        client
            .cancel(&correlation(), reference, &key, &CancelRequest::default())
            .await
            .unwrap();
    }
    key
}

#[tokio::test]
async fn a_rate_limited_call_waits_for_retry_after_then_goes_through() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = created(&client, 100).await;
    let key = use_up_cancels(&client, &reference).await;
    // 59 s later the minute still holds the five: the API asks for one more second.
    h.advance(Duration::from_secs(59)).await;
    let started = Instant::now();
    client
        .cancel(&correlation(), &reference, &key, &CancelRequest::default())
        .await
        .unwrap();
    let statuses = statuses(&h.control.log("epCancel").await);
    assert_eq!(statuses[5], Some(429), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&Some(200)), "{statuses:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for Retry-After"
    );
}

#[tokio::test]
async fn a_rate_limit_that_persists_ends_in_a_transient_error() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.waits.max_retry_after = Duration::from_millis(50);
    });
    let reference = created(&client, 100).await;
    let key = use_up_cancels(&client, &reference).await;
    let err = client
        .cancel(&correlation(), &reference, &key, &CancelRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EpError::RateLimited { attempts: 3, .. }), "{err}");
    assert!(translate::error(err).is_transient());
    let statuses = statuses(&h.control.log("epCancel").await);
    assert_eq!(&statuses[5..], [Some(429); 3]);
}

/// Any fallback to the default wait after a 429 would take this long; a test whose repeat
/// comes well before it was not waiting for the default.
const FALLBACK: Duration = Duration::from_secs(40);

#[tokio::test]
async fn a_retry_after_date_is_waited_for_then_the_call_goes_through() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| c.waits.rate_limited = FALLBACK);
    let reference = created(&client, 100).await;
    // The date has whole seconds: two seconds ahead is at least one second of waiting.
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2));
    let until = httpdate::parse_http_date(&date).unwrap();
    rate_limit_once(&h, "epGetPayment", &date).await;
    client.payment(&correlation(), &reference).await.unwrap();
    let log = h.control.log("epGetPayment").await;
    assert_eq!(statuses(&log), [Some(429), Some(200)]);
    let repeated = logged_at(&log[1]);
    assert!(repeated >= until, "repeated before {date}");
    assert!(
        repeated < until + FALLBACK / 2,
        "repeated at the date, not after the default wait"
    );
}

/// How long the simulator saw the client wait between a 429 and its repeat.
fn waited(answer: &Value, repeat: &Value) -> Duration {
    logged_at(repeat)
        .duration_since(logged_at(answer))
        .unwrap_or_default()
}

#[tokio::test]
async fn a_retry_after_date_already_past_repeats_at_once() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| c.waits.rate_limited = FALLBACK);
    let reference = created(&client, 100).await;
    let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(3600));
    rate_limit_once(&h, "epGetEvents", &past).await;
    client.events(&correlation(), &reference).await.unwrap();
    let log = h.control.log("epGetEvents").await;
    assert_eq!(statuses(&log), [Some(429), Some(200)]);
    let waited = waited(&log[0], &log[1]);
    assert!(waited < FALLBACK / 2, "waited {waited:?}");
}

#[tokio::test]
async fn a_retry_after_date_far_ahead_waits_only_as_long_as_the_cap() {
    let h = Harness::start().await;
    let cap = Duration::from_secs(1);
    let client = ep_client_with(&h, |c| {
        // Shorter than the cap: a date read as absent would be repeated sooner.
        c.waits.rate_limited = Duration::from_millis(10);
        c.waits.max_retry_after = cap;
    });
    let reference = created(&client, 100).await;
    let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    rate_limit_once(&h, "epGetEvents", &far).await;
    client.events(&correlation(), &reference).await.unwrap();
    let log = h.control.log("epGetEvents").await;
    assert_eq!(statuses(&log), [Some(429), Some(200)]);
    let waited = waited(&log[0], &log[1]);
    assert!(waited >= cap, "waited {waited:?}");
    assert!(waited < FALLBACK / 2, "waited {waited:?}");
}

#[tokio::test]
async fn a_cancel_while_the_customer_is_approving_waits_until_they_answer() {
    let h = Harness::start().await;
    let client = ep_client(&h);
    let reference = created(&client, 800).await;
    customer(&h, &reference, "open").await;
    let cancel = tokio::spawn({
        let client = client.clone();
        let reference = reference.clone();
        async move {
            client
                .cancel(&correlation(), &reference, &new_key(), &CancelRequest::default())
                .await
        }
    });
    eventually("the cancel was refused with 423", || async {
        statuses(&h.control.log("epCancel").await).contains(&Some(423))
    })
    .await;
    customer(&h, &reference, "approve").await;
    let released = cancel.await.unwrap().unwrap();
    assert_eq!(released.aggregate.authorized_amount.value, 800);
    assert_eq!(released.aggregate.cancelled_amount.value, 800);
}

#[tokio::test]
async fn a_lock_that_outlasts_the_waits_is_a_state_conflict() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.waits.locked = Duration::from_millis(20);
        c.waits.locked_attempts = 3;
    });
    let reference = created(&client, 800).await;
    customer(&h, &reference, "open").await;
    let err = client
        .cancel(&correlation(), &reference, &new_key(), &CancelRequest::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EpError::Locked { attempts: 3, .. }), "{err}");
    assert_eq!(err.code(), Some("6250"));
    match translate::error(err) {
        BackendError::Refused { reason, .. } => assert_eq!(reason, Refusal::StateConflict),
        other => panic!("{other:?}"),
    }
    assert_eq!(statuses(&h.control.log("epCancel").await), [Some(423); 3]);
    assert_eq!(ground(&h, &reference).await[0]["state"], json!("CREATED"));
}

#[tokio::test]
async fn reads_of_one_payment_are_paced() {
    let h = Harness::start().await;
    let client = ep_client_with(&h, |c| {
        c.waits.read_interval = Duration::from_millis(200);
    });
    let reference = created(&client, 100).await;
    let c = correlation();
    let started = Instant::now();
    let reads = (0..4).map(|_| client.payment(&c, &reference));
    for read in futures::future::join_all(reads).await {
        read.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "four reads take three intervals"
    );
}
