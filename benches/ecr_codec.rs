//! Throughput of the ECR frame codec and round-trip latency through a real pseudo-terminal.
//!
//! `cargo bench --bench ecr_codec` prints:
//! - frame encode and decode throughput for a typical command (~100 bytes) and a maximal frame;
//! - decode throughput on line noise;
//! - round-trip latency ECR → pty → link → session → reply for `status` (p50/p99);
//! - command latency from the pty to the real payment engine: a `pay` sent by the cash
//!   register until its `accepted` (the engine has made the intent durable on disk), against
//!   the simulator (p50/p99).

use bytes::BytesMut;
use mposd::ecr::frame::{Decoded, Frame, FrameCodec, MAX_BODY};
use mposd::ecr::lane::{Lane, LaneConfig};
use mposd::ecr::link::LinkConfig;
use mposd::ecr::message::{DaemonMessage, EcrMessage};
use mposd::ecr::register::{Heard, Register};
use mposd::engine::EngineHandle;
use std::time::{Duration, Instant};

fn report(name: &str, frames: usize, bytes: usize, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{name:<44} {:>12.0} frames/s {:>9.1} MB/s",
        frames as f64 / secs,
        bytes as f64 / secs / 1e6
    );
}

fn bench_encode(name: &str, body: &[u8], iterations: usize) {
    let frame = Frame::data(1, body.to_vec()).expect("frameable");
    let mut buf = BytesMut::with_capacity(frame.wire_len() * 64);
    let start = Instant::now();
    for _ in 0..iterations {
        // black_box: the work is redone for every frame, not hoisted out of the loop.
        std::hint::black_box(&frame).encode(&mut buf);
        if buf.len() > 1 << 20 {
            buf.clear();
        }
    }
    report(name, iterations, iterations * frame.wire_len(), start.elapsed());
    std::hint::black_box(buf);
}

fn bench_decode(name: &str, wire: &[u8], frames_per_copy: usize, copies: usize) {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut frames = 0;
    let start = Instant::now();
    for _ in 0..copies {
        buf.extend_from_slice(wire);
        while let Some(item) = codec.decode_step(&mut buf) {
            if matches!(item, Decoded::Frame(_)) {
                frames += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    assert!(frames >= frames_per_copy * copies / 2 || frames_per_copy == 0);
    report(name, frames, copies * wire.len(), elapsed);
}

fn codec() {
    let command = br#"{"type":"pay","id":"sale-0001","amount":4995,"currency":"DKK","order":"R1-0001"}"#;
    let large = vec![b'x'; MAX_BODY];
    bench_encode("encode: pay command (97 B frame)", command, 2_000_000);
    bench_encode("encode: maximal frame (4113 B)", &large, 100_000);

    let one = Frame::data(1, command.to_vec()).unwrap().to_wire();
    let many: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    bench_decode("decode: pay commands", &many, 1000, 2000);
    let big = Frame::data(1, large).unwrap().to_wire();
    bench_decode("decode: maximal frames", &big, 1, 100_000);

    // Line noise: pseudo-random bytes with many start markers.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state % 16 == 0 {
                0x01
            } else {
                (state >> 24) as u8
            }
        })
        .collect();
    bench_decode("decode: line noise (contains no frames)", &noise, 0, 50);
}

/// An engine stand-in that answers `status`'s one engine request (the alarm list) at once, so
/// the figure is the protocol stack's own latency: pty, link, session and the engine channel.
fn idle_engine() -> EngineHandle {
    let (requests, mut incoming) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Some(request) = incoming.recv().await {
            if let mposd::engine::Request::Alarms { reply } = request {
                let _ = reply.send(Ok(Vec::new()));
            }
        }
    });
    let (events, _) = tokio::sync::broadcast::channel(16);
    EngineHandle::new(requests, events, "bench-lane".into())
}

async fn pty_latency() {
    let (ecr_end, daemon_end) = tokio_serial::SerialStream::pair().expect("pty pair");
    let mut lane = Lane::new(idle_engine(), LaneConfig::default());
    tokio::spawn(async move { lane.serve(daemon_end, std::future::pending()).await });
    let mut register = Register::over(ecr_end, LinkConfig::default());
    let mut samples = Vec::new();
    for i in 0..2000 {
        let id = format!("st-{i}");
        let start = Instant::now();
        register.send(&EcrMessage::Status { id: id.clone() });
        loop {
            match register.next().await {
                Some(Heard::Message(DaemonMessage::Status { id: got, .. })) if got == id => break,
                Some(Heard::Message(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{:<44} p50 {:>6.0} µs   p99 {:>6.0} µs   ({} round trips)",
        "status round trip over a pty",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        samples.len()
    );
}

#[allow(dead_code)]
#[path = "../tests/engine/support.rs"]
mod engine_support;
#[allow(dead_code)]
#[path = "../tests/shared/sim_pos.rs"]
mod sim_pos;

/// `pay` → `accepted` through a pty, the session and the real engine with its sled journal.
async fn pay_latency() {
    let lane = engine_support::lane().await;
    lane.customer(engine_support::CREDIT_USER, "accept", 0).await;
    let (ecr_end, daemon_end) = tokio_serial::SerialStream::pair().expect("pty pair");
    let mut daemon = Lane::new(lane.engine().clone(), LaneConfig::default());
    tokio::spawn(async move { daemon.serve(daemon_end, std::future::pending()).await });
    let mut register = Register::over(ecr_end, LinkConfig::default());
    let mut samples = Vec::new();
    for i in 0..100 {
        let id = format!("bench-{i}");
        let start = Instant::now();
        register.send(&EcrMessage::Pay {
            id: id.clone(),
            amount: mposd::money::Minor(100 + i),
            currency: None,
            order: format!("B-{i}"),
            reserve: false,
            options: Default::default(),
        });
        let mut accepted = false;
        // Wait for the outcome too, so the next payment finds the point of sale free.
        loop {
            match register.next().await {
                Some(Heard::Message(DaemonMessage::Accepted { id: got })) if got == id => {
                    samples.push(start.elapsed());
                    accepted = true;
                }
                Some(Heard::Message(DaemonMessage::Outcome { id: got, .. })) if got == id => break,
                Some(Heard::Message(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(accepted, "no accepted for {id}");
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    println!(
        "{:<44} p50 {:>6.0} µs   p99 {:>6.0} µs   ({} payments)",
        "pay → accepted (pty, engine, fsync on disk)",
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        samples.len()
    );
}

fn main() {
    codec();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(pty_latency());
    runtime.block_on(pay_latency());
}
