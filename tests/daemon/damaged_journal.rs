//! The journal damaged between two runs of the daemon, as an SD card can leave it after a bad
//! power cut, and a cash register that repeats its commands as the protocol tells it to.

use super::store_copy::copy_dir;
use super::support::*;
use serde_json::Value;

async fn paid_for_order(setup: &Setup, order: &str) -> Vec<Value> {
    setup
        .payments()
        .await
        .into_iter()
        .filter(|p| p["orderId"] == order && (p["status"] == "Captured" || p["status"] == "Reserved"))
        .collect()
}

async fn query_state(setup: &Setup, command: &str) -> String {
    let (_, messages) = setup.ecr(&["query", command]).await;
    messages
        .iter()
        .find(|m| m["type"] == "query_result")
        .and_then(|m| m["state"].as_str())
        .unwrap_or_else(|| panic!("no query_result in {messages:?}"))
        .to_string()
}

#[tokio::test]
async fn a_journal_that_lost_its_tail_is_caught_and_repeated_commands_pay_nothing_twice() {
    let setup = Setup::new().await;
    setup.customers_accept(20).await;
    let store = setup.dir.path().join("state/store");
    let early = setup.dir.path().join("store-early");

    let daemon = setup.start_daemon().await;
    let (ok, m) = setup
        .ecr(&["pay", "12.00", "--order", "R1", "--id", "sale-1"])
        .await;
    assert!(ok, "{m:?}");
    stops_with_exit_0(daemon).await;
    copy_dir(&store, &early);

    let daemon = setup.start_daemon().await;
    let (ok, m) = setup
        .ecr(&["pay", "77.00", "--order", "R2", "--id", "sale-2", "--reserve"])
        .await;
    assert!(ok, "{m:?}");
    let (ok, m) = setup
        .ecr(&["pay", "5.00", "--order", "R3", "--id", "sale-3"])
        .await;
    assert!(ok, "{m:?}");
    stops_with_exit_0(daemon).await;

    // sled opening cleanly without its latest writes: the store's files go back to the
    // earlier copy, while the mark beside them says more was durable.
    let mark = store.join(mposd::store::mark::FILE_NAME);
    let newer_mark = std::fs::read(&mark).unwrap();
    std::fs::remove_dir_all(&store).unwrap();
    std::fs::rename(&early, &store).unwrap();
    std::fs::write(&mark, newer_mark).unwrap();

    let (_daemon, log) = setup.start_daemon_logged().await;
    assert!(
        log.lines()
            .iter()
            .any(|l| l.contains("ALARM") && l.contains("latest records are gone")),
        "{:?}",
        log.lines()
    );
    // The register asks about its commands: the journal cannot vouch for them.
    for command in ["sale-1", "sale-2", "sale-3"] {
        assert_eq!(query_state(&setup, command).await, "in_doubt", "{command}");
    }
    // Repeating them (safe, says the protocol) creates nothing: each order is found paid at
    // MobilePay and handed to a person.
    for args in [
        &["pay", "5.00", "--order", "R3", "--id", "sale-3"][..],
        &["pay", "77.00", "--order", "R2", "--id", "sale-2", "--reserve"][..],
        &["pay", "12.00", "--order", "R1", "--id", "sale-1"][..],
    ] {
        let (ok, messages) = setup.ecr(args).await;
        let outcome = final_outcome(&messages);
        assert!(!ok, "{messages:?}");
        assert_eq!(outcome["result"], "needs_human", "{messages:?}");
        assert!(outcome["detail"]
            .as_str()
            .unwrap()
            .contains("check it before selling again"));
    }
    for order in ["R1", "R2", "R3"] {
        assert_eq!(paid_for_order(&setup, order).await.len(), 1, "order {order}");
    }
    // The kept reservation was rebuilt from MobilePay: a person captures it by its recovered id.
    let reservation = paid_for_order(&setup, "R2").await[0]["paymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let recovered = format!("recovered-{reservation}");
    let (ok, m) = setup.ecr(&["capture", &recovered]).await;
    assert!(ok, "{m:?}");
    assert_eq!(final_outcome(&m)["result"], "captured");
    // New sales go on.
    let (ok, m) = setup
        .ecr(&["pay", "9.00", "--order", "R4", "--id", "sale-4"])
        .await;
    assert!(ok, "{m:?}");
    assert_eq!(paid_for_order(&setup, "R4").await.len(), 1);
}

#[tokio::test]
async fn a_zeroed_tail_of_the_store_never_turns_a_paid_sale_into_not_found() {
    let setup = Setup::new().await;
    setup.customers_accept(20).await;
    let mut daemon = setup.start_daemon().await;
    let mut sales = Vec::new();
    for i in 0..4 {
        let (id, order) = (format!("sale-{i}"), format!("Z{i}"));
        let (ok, m) = setup.ecr(&["pay", "3.00", "--order", &order, "--id", &id]).await;
        assert!(ok, "{m:?}");
        sales.push((id, order));
    }
    daemon.kill().await.expect("SIGKILL");

    // What a bad power cut can leave on an SD card: the second half of the data file zeroed.
    let db = setup.dir.path().join("state/store/db");
    let mut bytes = std::fs::read(&db).unwrap();
    let half = bytes.len() / 2;
    bytes[half..].fill(0);
    std::fs::write(&db, &bytes).unwrap();

    let _daemon = setup.start_daemon().await;
    for (id, order) in &sales {
        let state = query_state(&setup, id).await;
        assert!(state == "finished" || state == "in_doubt", "{id}: {state}");
        // The register repeats the command: never a second payment.
        let (_, messages) = setup.ecr(&["pay", "3.00", "--order", order, "--id", id]).await;
        let result = final_outcome(&messages)["result"].clone();
        assert!(
            result == "captured" || result == "needs_human",
            "{id}: {messages:?}"
        );
        assert_eq!(paid_for_order(&setup, order).await.len(), 1, "order {order}");
    }
}
