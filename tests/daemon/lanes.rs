//! Several lanes in one `mposd run`: each has its own point of sale, and a lane whose customer
//! display hangs and whose cash register stops mid-frame neither holds up the other lane nor
//! its own payments, nor the daemon's orderly stop.

use super::support::{final_outcome, stops_with_exit_0, Setup};
use mposd::daemon::sim_config::png_path;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_stuck_display_and_cash_register_on_one_lane_block_nothing_else() {
    let setup = Setup::with_lanes(2).await;
    // Lane 1's display writes its image through a temporary file; a FIFO without a reader
    // in its place makes every draw hang in open(2), like a wedged display driver.
    let mut fifo = png_path(setup.dir.path(), 0).into_os_string();
    fifo.push(".tmp");
    nix::unistd::mkfifo(fifo.as_os_str(), nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");

    let daemon = setup.start_daemon().await;
    setup.customers_accept(100).await;
    // Lane 1's cash register sends the start of a frame and then nothing, never reading.
    let mut stuck = tokio::net::TcpStream::connect(&setup.ecr_addrs[0])
        .await
        .expect("connect lane 1");
    stuck.write_all(&[0x02, b'0', b'1']).await.expect("half a frame");

    let (ok, messages) = setup
        .ecr_on(1, &["pay", "12.50", "--order", "L2-0001", "--id", "lane2-sale"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    assert!(
        png_path(setup.dir.path(), 1).exists(),
        "lane 2's display never drew"
    );

    // Lane 1 still takes payments: a new connection replaces the stuck one, and the hanging
    // display does not hold up the engine.
    let (ok, messages) = setup
        .ecr_on(0, &["pay", "7.00", "--order", "L1-0001", "--id", "lane1-sale"])
        .await;
    assert!(ok, "{messages:?}");
    assert_eq!(
        final_outcome(&messages)["result"],
        json!("captured"),
        "{messages:?}"
    );
    drop(stuck);

    // Each payment went to its own lane's point of sale.
    let poses: Value = reqwest::get(format!("{}/_sim/pointofsales", setup.sim.base_url()))
        .await
        .expect("pos")
        .json()
        .await
        .expect("json");
    let pos_of: HashMap<String, String> = poses["pointOfSales"]
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["posId"].as_str().unwrap().to_string(),
                p["merchantPosId"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut paid: Vec<(String, String, i64)> = setup
        .payments()
        .await
        .iter()
        .map(|p| {
            (
                pos_of[p["posId"].as_str().unwrap()].clone(),
                p["status"].as_str().unwrap().to_string(),
                p["capturedMinor"].as_i64().unwrap(),
            )
        })
        .collect();
    paid.sort();
    assert_eq!(
        paid,
        vec![
            ("till-1".to_string(), "Captured".to_string(), 700),
            ("till-2".to_string(), "Captured".to_string(), 1250),
        ]
    );

    // The hanging display does not keep the daemon from stopping in time.
    stops_with_exit_0(daemon).await;
}
