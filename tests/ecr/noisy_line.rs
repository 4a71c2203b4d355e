//! The link layer over real pseudo-terminals with a deterministic noise source in between:
//! bit flips, dropped, duplicated and inserted bytes and bursts of garbage, in both
//! directions. Only intact frames may act, nothing may be delivered twice or out of order, and
//! retransmission must get every message through.

use bytes::BytesMut;
use mposd::ecr::connection::run_connection;
use mposd::ecr::frame::{Decoded, Frame, FrameCodec, FrameKind};
use mposd::ecr::link::{Link, LinkConfig, LinkEvent};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_serial::SerialStream;

/// Per-byte probabilities of the noise source, in parts per million.
pub struct Noise {
    pub flip: u32,
    pub drop: u32,
    pub duplicate: u32,
    pub insert: u32,
    pub burst: u32,
}

impl Noise {
    fn apply(&self, rng: &mut StdRng, input: &[u8], out: &mut Vec<u8>) {
        for &byte in input {
            let roll = rng.gen_range(0..1_000_000u32);
            let mut t = self.flip;
            if roll < t {
                out.push(byte ^ (1 << rng.gen_range(0..8)));
                continue;
            }
            t += self.drop;
            if roll < t {
                continue;
            }
            t += self.duplicate;
            if roll < t {
                out.extend([byte, byte]);
                continue;
            }
            t += self.insert;
            if roll < t {
                out.extend([rng.gen::<u8>(), byte]);
                continue;
            }
            t += self.burst;
            if roll < t {
                let len = rng.gen_range(1..40);
                out.extend((0..len).map(|_| rng.gen::<u8>()));
            }
            out.push(byte);
        }
    }
}

/// Copies `from` to `to` through the noise source.
pub async fn noisy_copy(
    mut from: tokio::io::ReadHalf<SerialStream>,
    mut to: tokio::io::WriteHalf<SerialStream>,
    noise: Noise,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::new();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        out.clear();
        noise.apply(&mut rng, &buf[..n], &mut out);
        if to.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn noise() -> Noise {
    Noise {
        flip: 600,
        drop: 600,
        duplicate: 600,
        insert: 600,
        burst: 300,
    }
}

/// One end of the link running over a pseudo-terminal: messages to send in, link events out.
fn endpoint(
    stream: SerialStream,
    config: LinkConfig,
) -> (
    mpsc::UnboundedSender<Vec<u8>>,
    mpsc::UnboundedReceiver<LinkEvent>,
    tokio::task::JoinHandle<Link>,
) {
    let (outbox_tx, mut outbox) = mpsc::unbounded_channel();
    let (events_tx, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        let mut link = Link::new(config);
        run_connection(stream, &mut link, &mut outbox, std::future::pending(), |event| {
            let _ = events_tx.send(event);
        })
        .await;
        link
    });
    (outbox_tx, events, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_arrives_once_in_order_through_line_noise() {
    // ECR side: pty 1 master. Daemon side: pty 2 slave. The noise source sits on pty 1 slave
    // and pty 2 master and mangles both directions.
    let (ecr_end, proxy_a) = SerialStream::pair().expect("pty pair 1");
    let (proxy_b, daemon_end) = SerialStream::pair().expect("pty pair 2");
    let (a_read, a_write) = tokio::io::split(proxy_a);
    let (b_read, b_write) = tokio::io::split(proxy_b);
    tokio::spawn(noisy_copy(a_read, b_write, noise(), 0xEC12_0001));
    tokio::spawn(noisy_copy(b_read, a_write, noise(), 0xEC12_0002));

    let config = LinkConfig {
        ack_timeout: Duration::from_millis(300),
        // Enough that giving up is practically impossible at this noise level.
        max_retransmissions: 12,
        max_queued: 1000,
    };
    let (ecr_tx, mut ecr_events, ecr_task) = endpoint(ecr_end, config.clone());
    let (daemon_tx, mut daemon_events, daemon_task) = endpoint(daemon_end, config);

    const N: usize = 150;
    let sent: Vec<String> = (0..N)
        .map(|i| {
            format!(
                "{{\"type\":\"status\",\"id\":\"cmd-{i:04}\",\"pad\":\"{}\"}}",
                "x".repeat(i % 60)
            )
        })
        .collect();
    for body in &sent {
        ecr_tx.send(body.clone().into_bytes()).unwrap();
    }

    // The daemon side answers every message it receives; the ECR side collects the answers.
    let mut daemon_received = Vec::new();
    let mut ecr_received = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while ecr_received.len() < daemon_received.len().max(N) {
        tokio::select! {
            Some(event) = daemon_events.recv() => match event {
                LinkEvent::Received(body) => {
                    let text = String::from_utf8(body.to_vec()).expect("intact UTF-8");
                    daemon_tx.send(format!("{{\"re\":{text}}}").into_bytes()).unwrap();
                    daemon_received.push(text);
                }
                LinkEvent::GaveUp(body) => panic!("daemon gave up {body:?}"),
                LinkEvent::Delivered(_) => {}
            },
            Some(event) = ecr_events.recv() => match event {
                LinkEvent::Received(body) => ecr_received.push(String::from_utf8(body.to_vec()).expect("intact UTF-8")),
                LinkEvent::GaveUp(body) => panic!("ECR gave up {body:?}"),
                LinkEvent::Delivered(_) => {}
            },
            () = tokio::time::sleep_until(deadline) => panic!(
                "timed out: daemon got {} of {N}, ECR got {} answers",
                daemon_received.len(),
                ecr_received.len()
            ),
        }
    }

    // A first frame (sequence 00) whose ACK was lost is delivered again by design; everything
    // else exactly once, in order, and byte-for-byte what was sent.
    if daemon_received.len() > N {
        assert_eq!(daemon_received.len(), N + 1, "{daemon_received:?}");
        assert_eq!(daemon_received[0], daemon_received[1]);
        daemon_received.remove(0);
    }
    assert_eq!(daemon_received, sent);
    let expected_answers: Vec<String> = sent.iter().map(|b| format!("{{\"re\":{b}}}")).collect();
    if ecr_received.len() > N {
        ecr_received.remove(0);
    }
    assert_eq!(ecr_received, expected_answers);

    drop(ecr_tx);
    drop(daemon_tx);
    let ecr_link = ecr_task.await.unwrap();
    let daemon_link = daemon_task.await.unwrap();
    let (e, d) = (ecr_link.stats(), daemon_link.stats());
    // The noise really did damage frames, and retransmission repaired it.
    assert!(d.corrupt_received + e.corrupt_received > 0, "{e:?} {d:?}");
    assert!(e.retransmissions + d.retransmissions > 0, "{e:?} {d:?}");
    assert_eq!(e.given_up + d.given_up, 0);
    eprintln!("ECR link: {e:?}\ndaemon link: {d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_noise_gets_at_most_one_nak_per_ack_timeout_and_the_link_goes_on() {
    let (ecr_end, daemon_end) = SerialStream::pair().expect("pty pair");
    let config = LinkConfig::default();
    let ack_timeout = config.ack_timeout;
    let (daemon_tx, mut daemon_events, daemon_task) = endpoint(daemon_end, config);
    let (mut from_daemon, mut to_daemon) = tokio::io::split(ecr_end);
    // Everything the daemon side writes, decoded.
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut codec = FrameCodec::new();
        let mut buf = BytesMut::new();
        let mut chunk = vec![0u8; 4096];
        loop {
            match from_daemon.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while let Some(decoded) = codec.decode_step(&mut buf) {
                if frames_tx.send(decoded).is_err() {
                    return;
                }
            }
        }
    });

    // 100 kB of random bytes (about 400 frame starts, each a damaged frame), then a message.
    let mut rng = StdRng::seed_from_u64(0xEC12_0003);
    let noise: Vec<u8> = (0..100_000).map(|_| rng.gen()).collect();
    let message = br#"{"type":"status","id":"after-the-noise"}"#;
    let start = Instant::now();
    to_daemon.write_all(&noise).await.unwrap();
    to_daemon
        .write_all(&Frame::data(0, &message[..]).unwrap().to_wire())
        .await
        .unwrap();

    // The message's ACK comes after every answer to the noise.
    let mut naks = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let decoded = tokio::time::timeout_at(deadline, frames.recv())
            .await
            .expect("the message after the noise is acknowledged")
            .expect("the daemon side is running");
        match decoded {
            Decoded::Frame(f) if f.kind() == FrameKind::Nak => naks += 1,
            Decoded::Frame(f) if f.kind() == FrameKind::Ack && f.seq() == 0 => break,
            other => panic!("unexpected from the daemon side: {other:?}"),
        }
    }
    let elapsed = start.elapsed();
    let bound = 1 + (elapsed.as_millis() / ack_timeout.as_millis()) as usize;
    assert!(
        (1..=bound).contains(&naks),
        "{naks} NAKs in {elapsed:?}; at most {bound} (one per ACK timeout) allowed"
    );
    let received = tokio::time::timeout(Duration::from_secs(30), daemon_events.recv())
        .await
        .expect("the message is delivered")
        .expect("the daemon side is running");
    assert_eq!(received, LinkEvent::Received(message[..].into()));

    drop(daemon_tx);
    let stats = daemon_task.await.unwrap().stats();
    assert!(stats.corrupt_received > 100, "{stats:?}");
    eprintln!(
        "{naks} NAKs for {} damaged frames in {elapsed:?}",
        stats.corrupt_received
    );
}
