//! The TCP transport, and `mposd ecr` (the virtual cash register binary) over a
//! pseudo-terminal and over TCP.

use super::support::{ask, ScriptedEngine, WAIT};
use mposd::ecr::lane::{Lane, LaneConfig};
use mposd::ecr::link::LinkConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage};
use mposd::ecr::register::{Heard, Register};
use mposd::ecr::tcp::serve_tcp;
use mposd::engine::{DeclineReason, EventKind, Outcome};
use mposd::money::{Currency, Minor};
use std::process::Stdio;
use tokio_util::sync::CancellationToken;

async fn tcp_lane(engine: &ScriptedEngine) -> (std::net::SocketAddr, tokio_util::sync::DropGuard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(serve_tcp(
        listener,
        engine.handle.clone(),
        LaneConfig::default(),
        token.clone(),
    ));
    (address, token.drop_guard())
}

async fn tcp_register(address: std::net::SocketAddr) -> Register {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    Register::over(stream, LinkConfig::default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tcp_connection_takes_over_the_lane() {
    let engine = ScriptedEngine::start();
    let (address, _daemon) = tcp_lane(&engine).await;
    let mut old = tcp_register(address).await;
    assert!(matches!(
        ask(&mut old, EcrMessage::Status { id: "1".into() }).await,
        DaemonMessage::Status { .. }
    ));
    let mut new = tcp_register(address).await;
    assert!(matches!(
        ask(&mut new, EcrMessage::Status { id: "2".into() }).await,
        DaemonMessage::Status { .. }
    ));
    // The old connection was closed by the daemon.
    let heard = tokio::time::timeout(WAIT, old.next()).await.unwrap();
    assert_eq!(heard, Some(Heard::Closed));
}

async fn run_cli(args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_mposd"))
        .arg("ecr")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mposd runs")
}

/// The command the register's run started in the engine; fails with the register's own words
/// if it exits first.
async fn started_or_exited(
    engine: &mut ScriptedEngine,
    child: &mut tokio::process::Child,
) -> (mposd::engine::CommandId, mposd::engine::Command) {
    tokio::select! {
        started = engine.next_started() => started,
        status = child.wait() => {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut stderr).await;
            }
            panic!("the virtual register exited early ({status:?}): {stderr}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_register_pays_over_a_serial_line() {
    let mut engine = ScriptedEngine::start();
    // The daemon's lane on the master side; the virtual register opens the device by path.
    let (daemon_end, slave) = tokio_serial::SerialStream::pair().unwrap();
    let path = tokio_serial::SerialPort::name(&slave).unwrap();
    // Held open (never read) so the master does not see the line as hung up before the
    // register opens it.
    let _slave = slave;
    let mut lane = Lane::new(engine.handle.clone(), LaneConfig::default());
    tokio::spawn(async move { lane.serve(daemon_end, std::future::pending()).await });

    let child = run_cli(&[
        "--port", &path, "pay", "49.95", "--order", "R1-0001", "--id", "sale-cli", "--json",
    ])
    .await;
    let (id, command) = engine.next_started().await;
    assert_eq!(id.as_str(), "sale-cli");
    assert!(matches!(
        command,
        mposd::engine::Command::Pay {
            amount: Minor(4995),
            ..
        }
    ));
    engine.emit(
        "sale-cli",
        EventKind::WaitingForCustomer {
            payment_id: "p".into(),
            prompt: None,
            amount: Some(Minor(4995)),
            currency: Some(Currency::DKK),
        },
    );
    engine.emit(
        "sale-cli",
        EventKind::Finished {
            outcome: Outcome::Captured {
                payment_id: "p".into(),
                amount: Minor(4995),
                currency: Currency::DKK,
            },
        },
    );
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let messages: Vec<DaemonMessage> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON message per line"))
        .collect();
    assert_eq!(
        messages[0],
        DaemonMessage::Accepted {
            id: "sale-cli".into()
        }
    );
    assert!(matches!(&messages[1], DaemonMessage::Event { .. }));
    assert!(matches!(
        messages.last(),
        Some(DaemonMessage::Outcome { approved: true, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_register_reports_declines_and_answers_over_tcp() {
    let mut engine = ScriptedEngine::start();
    let (address, _daemon) = tcp_lane(&engine).await;
    let address = address.to_string();

    let mut child = run_cli(&["--tcp", &address, "pay", "10", "--order", "R2", "--id", "sale-d"]).await;
    started_or_exited(&mut engine, &mut child).await;
    engine.emit(
        "sale-d",
        EventKind::Finished {
            outcome: Outcome::Declined {
                payment_id: None,
                reason: DeclineReason::CancelledByUser,
            },
        },
    );
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a declined payment must not exit 0");
    assert!(stdout.contains("declined: cancelled_by_user"), "{stdout}");
    assert!(stderr.contains("cancelled_by_user"), "{stderr}");

    let output = run_cli(&["--tcp", &address, "query", "sale-d"])
        .await
        .wait_with_output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        stdout.contains("sale-d (pay): declined: cancelled_by_user"),
        "{stdout}"
    );

    let output = run_cli(&["--tcp", &address, "pay", "49.999", "--order", "R3"])
        .await
        .wait_with_output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("more than two decimals"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_register_shows_a_first_message_delivered_twice_once() {
    use mposd::ecr::frame::{Decoded, Frame, FrameCodec};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut terminal, slave) = tokio_serial::SerialStream::pair().unwrap();
    let path = tokio_serial::SerialPort::name(&slave).unwrap();
    let _slave = slave;
    let child = run_cli(&[
        "--port",
        &path,
        "pay",
        "49.95",
        "--order",
        "R1-0001",
        "--id",
        "sale-0001",
        "--json",
    ])
    .await;
    // A hand-written terminal: wait for the register's pay frame.
    let mut codec = FrameCodec::new();
    let mut buf = bytes::BytesMut::new();
    let pay = tokio::time::timeout(WAIT, async {
        loop {
            let mut chunk = [0u8; 256];
            let n = terminal.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            while let Some(item) = codec.decode_step(&mut buf) {
                if let Decoded::Frame(frame) = item {
                    if !frame.body().is_empty() {
                        return frame;
                    }
                }
            }
        }
    })
    .await
    .expect("the register sent its command");
    terminal
        .write_all(&Frame::ack(pay.seq()).to_wire())
        .await
        .unwrap();
    // The first frame again, byte for byte, as after a late acknowledgement: sequence number
    // 00 is never a duplicate at the link layer, so the register hears it twice.
    let accepted = Frame::data(0, &br#"{"type":"accepted","id":"sale-0001"}"#[..]).unwrap();
    let outcome = Frame::data(
        1,
        &br#"{"type":"outcome","id":"sale-0001","approved":true,"result":"captured","payment_id":"p-1","amount":4995,"currency":"DKK"}"#[..],
    )
    .unwrap();
    for frame in [&accepted, &accepted, &outcome] {
        terminal.write_all(&frame.to_wire()).await.unwrap();
    }
    let output = tokio::time::timeout(WAIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "accepted once, then the outcome: {stdout}");
    assert!(
        lines[0].contains("accepted") && lines[1].contains("outcome"),
        "{stdout}"
    );
}
