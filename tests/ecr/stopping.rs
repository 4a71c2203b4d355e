//! The cash-register side as mposd stops: a command that arrives is refused before the
//! session returns (so it is among what the closing link still sends), what was queued goes
//! out, and the connection ends only once the register has acknowledged it.

use bytes::BytesMut;
use mposd::ecr::connection::{run_connection, ConnectionEnd};
use mposd::ecr::frame::{Decoded, Frame, FrameCodec, FrameKind};
use mposd::ecr::link::{Link, LinkConfig};
use mposd::ecr::message::{DaemonMessage, ErrorCode};
use mposd::ecr::session::{Session, SessionConfig};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_command_that_arrives_while_stopping_is_refused_before_the_session_returns() {
    let mut engine = super::support::ScriptedEngine::start();
    engine.handle.stop_accepting();
    let (outbox, mut sent) = mpsc::unbounded_channel();
    let mut session = Session::start(engine.handle.clone(), SessionConfig::default(), outbox);
    session.handle(br#"{"type":"pay","id":"sale-9","amount":1000,"order":"R1-0009"}"#);
    let body = sent
        .try_recv()
        .expect("the refusal is queued before handle() returns");
    let reply: DaemonMessage = serde_json::from_slice(&body).expect("a daemon message");
    match reply {
        DaemonMessage::Error {
            id,
            code: ErrorCode::EngineUnavailable,
            message,
        } => {
            assert_eq!(id.as_deref(), Some("sale-9"));
            assert!(message.contains("stopping"), "{message}");
        }
        other => panic!("expected engine_unavailable, got {other:?}"),
    }
    assert!(
        engine.started.try_recv().is_err(),
        "the refused command reached the engine"
    );
}

#[tokio::test]
async fn a_stopping_link_delivers_its_last_message_and_ends_once_it_is_acknowledged() {
    let (ours, mut theirs) = tokio::io::duplex(4096);
    let (outbox_tx, mut outbox) = mpsc::unbounded_channel();
    let last = br#"{"type":"event","event":"backend_offline"}"#.to_vec();
    outbox_tx.send(last.clone()).unwrap();
    // Asked to stop before the connection even starts; no retransmission is due within the
    // test, so only the acknowledgement can let the link go idle.
    let task = tokio::spawn(async move {
        let mut link = Link::new(LinkConfig {
            ack_timeout: Duration::from_secs(3600),
            ..LinkConfig::default()
        });
        run_connection(ours, &mut link, &mut outbox, std::future::ready(()), |_| {}).await
    });

    let mut codec = FrameCodec::new();
    let mut received = BytesMut::new();
    let frame = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(Decoded::Frame(frame)) = codec.decode_step(&mut received) {
                return frame;
            }
            let mut chunk = [0u8; 512];
            let n = theirs.read(&mut chunk).await.expect("read");
            assert!(n > 0, "the link closed without sending its last message");
            received.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("the last message was sent");
    assert_eq!(frame.kind(), FrameKind::Data);
    assert_eq!(frame.body().as_ref(), last.as_slice());
    assert!(
        !task.is_finished(),
        "the connection ended before its last message was acknowledged"
    );

    theirs
        .write_all(&Frame::ack(frame.seq()).to_wire())
        .await
        .expect("ack");
    let report = tokio::time::timeout(WAIT, task)
        .await
        .expect("ends")
        .expect("join");
    assert!(matches!(report.end, ConnectionEnd::Shutdown), "{:?}", report.end);
    drop(outbox_tx);
}
