//! A journal written by an earlier release, kept in `tests/fixtures/journal-v1/` (its README
//! says what it holds and how it was made), opened by this release: the store is trusted as it
//! is, every finished command answers as it did then, and the payment it left unfinished is
//! created with its stored idempotency key and taken to its end, once.

use super::store_copy::copy_dir;
use super::support::*;
use mposd::backends::pos_v10::engine::PosV10Backend;
use mposd::engine::api::{Command, CommandState, DeclineReason, Outcome, PaymentSelector};
use mposd::engine::journal::Journal;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/journal-v1");
/// The lane, point of sale and beacon the fixture's commands ran on.
const LANE: &str = "till-1";
const POS_ID: &str = "6ceaad86-fe21-4354-8a0f-248de9e93754";
const BEACON_ID: &str = "403764044164484";
const MERCHANT_POS_ID: &str = "lane-403764044164484";
/// The unfinished `Pay` and the idempotency key stored for its create.
const UNFINISHED: &str = "sale-4";
const UNFINISHED_KEY: &str = "03fde9d2-c23c-87f2-9524-07e7d72e00a2";

/// The answers the release that wrote the fixture gave.
fn finished_commands() -> Vec<(&'static str, Outcome)> {
    vec![
        (
            "sale-1",
            Outcome::Captured {
                payment_id: "94a26ce6-28f0-4e23-a6fe-6e749af39c68".into(),
                amount: Minor(1500),
                currency: Currency::DKK,
            },
        ),
        (
            "sale-2",
            Outcome::Declined {
                payment_id: Some("76db8536-b346-49fd-b26c-6f1663867e8a".into()),
                reason: DeclineReason::CancelledByUser,
            },
        ),
        (
            "sale-3",
            Outcome::Reserved {
                payment_id: "e53d7663-9513-4f14-832d-e422d6d92575".into(),
                amount: Minor(2500),
                currency: Currency::DKK,
                partial_capture_possible: false,
            },
        ),
        (
            "refund-1",
            Outcome::Refunded {
                refund_id: "8f992295-ac36-4ee7-8063-3549b4818a79".into(),
                payment_id: "94a26ce6-28f0-4e23-a6fe-6e749af39c68".into(),
                amount: Minor(500),
                currency: Currency::DKK,
            },
        ),
    ]
}

/// Copies the fixture into `dir` with the private modes the daemon gives its state (git keeps
/// no modes).
fn install_fixture(dir: &Path) {
    let fixture = Path::new(FIXTURE);
    copy_dir(&fixture.join("store"), &dir.join("store"));
    std::fs::copy(fixture.join("store.installation"), dir.join("store.installation")).unwrap();
    make_private(dir);
}

fn make_private(path: &Path) {
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            make_private(&entry.unwrap().path());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_of_the_first_schema_is_answered_from_and_its_unfinished_payment_resumed() {
    let lane = lane_on_kept_pos(POS_ID, BEACON_ID, MERCHANT_POS_ID).await;
    lane.customer(CREDIT_USER, "accept", 20).await;
    install_fixture(lane.dir.path());
    let store = lane.dir.path().join("store");

    let (opened, aside) = Journal::open_or_set_aside(&store, 4 << 20, 1).unwrap();
    assert!(aside.is_none(), "the journal was set aside: {aside:?}");
    assert!(opened.doubt().is_none());
    let journal = Journal::for_lane(opened.db().clone(), LANE).unwrap();
    let client = client_for(&lane.sim, &lane.dir, "tokens").await;
    let mut config = EngineConfig::new(POS_ID, Some(mposd::backends::pos_v10::engine::prompt(BEACON_ID)));
    config.policy = mposd::engine::flow::Policy {
        // The fixture's create key is as old as the fixture; a box restarts well within
        // MobilePay's key retention, which this test stands for.
        create_key_max_age_ms: u64::MAX,
        ..test_policy()
    };
    let engine = start(Arc::new(PosV10Backend::new(client)), journal, config, None)
        .await
        .unwrap();

    let alarms = engine.alarms().await.unwrap();
    assert!(alarms.is_empty(), "{alarms:?}");
    for (command, outcome) in finished_commands() {
        let view = engine.query(&id(command)).await.unwrap().unwrap();
        assert_eq!(view.state, CommandState::Finished(outcome.clone()), "{command}");
        match &outcome {
            Outcome::Refunded {
                refund_id,
                payment_id,
                ..
            } => {
                assert_eq!(view.refund_id.as_ref(), Some(refund_id));
                assert_eq!(view.payment_id.as_ref(), Some(payment_id));
            }
            other => assert_eq!(view.payment_id, Some(payment_id_of(other))),
        }
    }

    // The cash register asks for the unfinished sale again and waits for its end.
    let resumed = tokio::time::timeout(
        Duration::from_secs(60),
        engine.run(id(UNFINISHED), pay(1200, "order-4", false)),
    )
    .await
    .expect("the resumed sale finishes")
    .unwrap();
    let Outcome::Captured {
        payment_id,
        amount: Minor(1200),
        currency: Currency::DKK,
    } = &resumed
    else {
        panic!("the resumed sale ended {resumed:?}");
    };
    let creates = lane.requests_to("initiatePayment").await;
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert_eq!(creates[0]["idempotencyKey"], UNFINISHED_KEY);
    assert_eq!(creates[0]["status"], 200);
    let payments = lane.payments().await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["paymentId"], payment_id.as_str());
    assert_eq!(payments[0]["orderId"], "order-4");
    assert_eq!(payments[0]["idempotencyKey"], UNFINISHED_KEY);
    assert_eq!(payments[0]["status"], "Captured");
    assert_eq!(payments[0]["capturedMinor"], 1200);
    let captures = lane.requests_to("capturePayment").await;
    assert_eq!(captures.len(), 1, "{captures:?}");
    assert!(captures[0]["path"]
        .as_str()
        .unwrap()
        .contains(payment_id.as_str()));
    for untouched in ["cancelPayment", "createRefund", "captureRefund"] {
        let requests = lane.requests_to(untouched).await;
        assert!(requests.is_empty(), "{untouched}: {requests:?}");
    }
    assert!(lane.refunds().await.is_empty());

    // The answers stay as they were, and the resumed sale is answered again without a second
    // payment.
    for (command, outcome) in finished_commands() {
        let view = engine.query(&id(command)).await.unwrap().unwrap();
        assert_eq!(view.state, CommandState::Finished(outcome), "{command}");
    }
    let again = engine
        .run(id(UNFINISHED), pay(1200, "order-4", false))
        .await
        .unwrap();
    assert_eq!(again, resumed);
    let refund_again = engine
        .run(
            id("refund-1"),
            Command::Refund {
                payment: PaymentSelector::Command(id("sale-1")),
                amount: Minor(500),
                currency: Currency::DKK,
                refund_order_id: "refund-order-1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(refund_again, finished_commands()[3].1);
    assert_eq!(lane.requests_to("initiatePayment").await.len(), 1);
    assert!(lane.refunds().await.is_empty());
}
