//! Writes the journal kept in `tests/fixtures/journal-v1/` with this release's engine: run with
//! `MPOSD_FIXTURE_OUT=<empty directory> cargo test --test engine make_fixture -- --ignored`.

use super::store_copy::copy_dir;
use super::support::*;
use mposd::engine::api::{Command, EngineHandle, PaymentSelector};
use mposd::engine::journal::Journal;
use mposd::engine::pos_v10::PosV10Backend;
use mposd::engine::{start, EngineConfig};
use mposd::money::{Currency, Minor};
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Runtime;

const LANE: &str = "till-1";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
#[ignore]
fn make_fixture() {
    let out = std::path::PathBuf::from(std::env::var("MPOSD_FIXTURE_OUT").expect("MPOSD_FIXTURE_OUT"));
    let main = runtime();
    let lane = main.block_on(lane_without_engine());
    let store = lane.dir.path().join("store");
    let client = main.block_on(client_for(&lane.sim, &lane.dir, "tokens"));
    let engine_rt = runtime();
    let engine: EngineHandle = engine_rt.block_on(async {
        let (journal, aside) = Journal::open_or_set_aside(&store, 4 << 20, 1).unwrap();
        assert!(aside.is_none());
        let journal = Journal::for_lane(journal.db().clone(), LANE).unwrap();
        let mut config = EngineConfig::new(lane.pos_id.clone(), lane.beacon_id.clone());
        config.policy = mposd::engine::flow::Policy {
            beacon_id: lane.beacon_id.clone(),
            answer_unknown_after_ms: 600_000,
            ..test_policy()
        };
        start(
            Arc::new(PosV10Backend::new(client.clone())),
            journal,
            config,
            None,
        )
        .await
        .unwrap()
    });
    let run = |command_id: &str, command: Command| {
        let outcome = main
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(60), engine.run(id(command_id), command)).await
            })
            .unwrap()
            .unwrap();
        println!("{command_id}: {outcome:?}");
        outcome
    };

    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    run("sale-1", pay(1500, "order-1", false));
    main.block_on(lane.no_customers());
    main.block_on(lane.customer(CREDIT_USER, "cancel", 20));
    run("sale-2", pay(800, "order-2", false));
    main.block_on(lane.no_customers());
    main.block_on(lane.customer(CREDIT_USER, "accept", 20));
    run("sale-3", pay(2500, "order-3", true));
    run(
        "refund-1",
        Command::Refund {
            payment: PaymentSelector::Command(id("sale-1")),
            amount: Minor(500),
            currency: Currency::DKK,
            refund_order_id: "refund-order-1".into(),
        },
    );
    main.block_on(lane.no_customers());

    // MobilePay answers every create with a server error: the payment is never created, the
    // engine keeps its record in phase `create` and retries until it is stopped dead.
    main.block_on(lane.fault("initiatePayment", "serverError", 100_000));
    let before = main.block_on(lane.requests_to("initiatePayment")).len();
    let submission = main
        .block_on(engine.submit(id("sale-4"), pay(1200, "order-4", false)))
        .unwrap();
    main.block_on(async {
        while lane.requests_to("initiatePayment").await.len() <= before {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    drop(submission);
    drop(engine);
    engine_rt.shutdown_timeout(Duration::from_secs(10));

    std::fs::create_dir_all(&out).unwrap();
    copy_dir(&store, &out.join("store"));
    std::fs::copy(
        lane.dir.path().join("store.installation"),
        out.join("store.installation"),
    )
    .unwrap();
    // What the journal holds, read from a second copy (opening a store writes to it).
    let probe = lane.dir.path().join("probe");
    copy_dir(&out.join("store"), &probe);
    std::fs::copy(
        out.join("store.installation"),
        lane.dir.path().join("probe.installation"),
    )
    .unwrap();
    let (journal, aside) = Journal::open_or_set_aside(&probe, 4 << 20, 1).unwrap();
    assert!(aside.is_none());
    let journal = Journal::for_lane(journal.db().clone(), LANE).unwrap();
    for record in journal.load().unwrap().records {
        println!("record {}", serde_json::to_string(&record).unwrap());
    }
    for entry in std::fs::read_dir(lane.dir.path()).unwrap() {
        println!("beside the store: {:?}", entry.unwrap().file_name());
    }
    let points_of_sale: serde_json::Value = main.block_on(async {
        let url = format!("{}/_sim/pointofsales", lane.sim.base_url());
        lane.http.get(url).send().await.unwrap().json().await.unwrap()
    });
    println!("points of sale {points_of_sale}");
    for request in main.block_on(lane.requests_to("initiatePayment")) {
        println!("initiatePayment {request}");
    }
    for payment in main.block_on(lane.payments()) {
        println!("payment {payment}");
    }
    for refund in main.block_on(lane.refunds()) {
        println!("refund {refund}");
    }
}
