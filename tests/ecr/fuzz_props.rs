//! Property-based fuzzing of the frame decoder, the link layer and the message parser (the
//! fast variant that runs with every test run; fuzz/ holds the long-running libFuzzer target).

use bytes::BytesMut;
use mposd::ecr::frame::{decode_all, Decoded, Frame, FrameCodec, MAX_FRAME};
use mposd::ecr::link::{Link, LinkConfig};
use mposd::ecr::message::{parse_ecr_message, DaemonMessage};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn frame_strategy() -> impl Strategy<Value = Frame> {
    prop_oneof![
        (any::<u8>(), "[ -~]{0,300}").prop_map(
            |(seq, body)| Frame::data(seq, body.into_bytes()).expect("printable ASCII is frameable")
        ),
        any::<u8>().prop_map(Frame::ack),
        any::<u8>().prop_map(Frame::nak),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Drop(usize),
    Duplicate(usize),
    Insert(usize, u8),
    Garbage(usize, Vec<u8>),
}

fn mutation_strategy() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip(at, bit)),
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Duplicate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(at, g)| Mutation::Garbage(at, g)),
    ]
}

fn apply(wire: &mut Vec<u8>, mutation: &Mutation) {
    if wire.is_empty() {
        return;
    }
    let len = wire.len();
    match mutation {
        Mutation::Flip(at, bit) => wire[at % len] ^= 1 << bit,
        Mutation::Drop(at) => {
            wire.remove(at % len);
        }
        Mutation::Duplicate(at) => {
            let b = wire[at % len];
            wire.insert(at % len, b);
        }
        Mutation::Insert(at, b) => wire.insert(at % len, *b),
        Mutation::Garbage(at, g) => {
            let at = at % len;
            wire.splice(at..at, g.iter().copied());
        }
    }
}

/// Decodes `input` delivered in chunks of the given sizes, checking the buffer bound.
fn decode_chunked(input: &[u8], chunks: &[usize]) -> Vec<Decoded> {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = input;
    let mut sizes = chunks.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().unwrap_or(&1)).clamp(1, rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        while let Some(item) = codec.decode_step(&mut buf) {
            out.push(item);
        }
        assert!(buf.len() <= MAX_FRAME + n, "buffer grew to {}", buf.len());
    }
    out
}

/// Cases per property: 512 in a normal test run; set `ECR_FUZZ_CASES` for a long run.
fn cases() -> u32 {
    std::env::var("ECR_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn arbitrary_bytes_never_panic_and_frames_come_from_the_input(
        input in proptest::collection::vec(any::<u8>(), 0..3000),
        chunks in proptest::collection::vec(1usize..600, 1..8),
    ) {
        for item in decode_chunked(&input, &chunks) {
            if let Decoded::Frame(frame) = item {
                let wire = frame.to_wire();
                prop_assert!(input.windows(wire.len()).any(|w| w == wire.as_slice()));
            }
        }
    }

    #[test]
    fn intact_streams_decode_exactly_whatever_the_chunking(
        frames in proptest::collection::vec(frame_strategy(), 0..20),
        chunks in proptest::collection::vec(1usize..600, 1..8),
    ) {
        let wire: Vec<u8> = frames.iter().flat_map(|f| f.to_wire()).collect();
        let decoded = decode_chunked(&wire, &chunks);
        let expected: Vec<Decoded> = frames.into_iter().map(Decoded::Frame).collect();
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn damaged_streams_only_yield_frames_that_were_sent(
        frames in proptest::collection::vec(frame_strategy(), 1..12),
        mutations in proptest::collection::vec(mutation_strategy(), 1..10),
    ) {
        let mut wire: Vec<u8> = frames.iter().flat_map(|f| f.to_wire()).collect();
        for m in &mutations {
            apply(&mut wire, m);
        }
        for item in decode_all(&wire) {
            if let Decoded::Frame(frame) = item {
                prop_assert!(frames.contains(&frame), "invented frame {:?}", frame);
            }
        }
    }

    #[test]
    fn the_link_survives_any_sequence_of_input(
        items in proptest::collection::vec(
            prop_oneof![
                frame_strategy().prop_map(Decoded::Frame),
                Just(Decoded::Corrupt(mposd::ecr::frame::Corruption::BadCrc)),
            ],
            0..200,
        ),
        sends in 0usize..100,
        steps_ms in proptest::collection::vec(0u64..3000, 0..200),
    ) {
        let config = LinkConfig::default();
        let max_queued = config.max_queued;
        let mut link = Link::new(config);
        let mut now = Instant::now();
        for i in 0..sends {
            link.send(format!("{{\"n\":{i}}}").into_bytes()).unwrap();
        }
        for (item, step) in items.into_iter().zip(steps_ms.iter().cycle()) {
            now += Duration::from_millis(*step);
            link.receive(item, now);
            link.handle_timeout(now);
            let mut emitted = 0;
            while link.poll_transmit(now).is_some() {
                emitted += 1;
                prop_assert!(emitted <= 400, "transmit never stops");
            }
            let mut events = 0;
            while link.poll_event().is_some() {
                events += 1;
                prop_assert!(events <= 400 + max_queued);
            }
        }
    }

    #[test]
    fn the_message_parsers_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_ecr_message(&input);
        let _ = serde_json::from_slice::<DaemonMessage>(&input);
    }

    #[test]
    fn json_shaped_messages_never_panic(
        kind in prop_oneof![Just("pay"), Just("refund"), Just("query"), Just("hello"), Just("ready"), Just("x")],
        id in proptest::option::of("[ -~]{0,80}"),
        amount in prop_oneof![Just("4995".to_string()), Just("-1".to_string()), Just("1e400".to_string()), Just("49.95".to_string()), Just("\"12\"".to_string()), Just("99999999999999999999".to_string())],
        extra in "[a-z_]{0,12}",
    ) {
        let id = id.map(|i| format!(",\"id\":{}", serde_json::to_string(&i).unwrap())).unwrap_or_default();
        let body = format!(
            "{{\"type\":\"{kind}\"{id},\"amount\":{amount},\"order\":\"o\",\"payment\":\"p\",\"command\":\"c\",\"prepared\":\"p\",\"refund_order\":\"r\",\"{extra}\":null}}"
        );
        if let Err(err) = parse_ecr_message(body.as_bytes()) {
            prop_assert!(!err.message.is_empty());
        }
    }
}

#[test]
fn endless_garbage_keeps_memory_bounded() {
    let mut codec = FrameCodec::new();
    let mut buf = BytesMut::new();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut frames = 0;
    for _ in 0..20_000 {
        // 50 MB of pseudo-random bytes, rich in start markers and plausible headers.
        let chunk: Vec<u8> = (0..2500)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                match state % 7 {
                    0 => 0x01,
                    1 => b'D',
                    2 => b'0' + (state >> 8) as u8 % 10,
                    _ => (state >> 16) as u8,
                }
            })
            .collect();
        buf.extend_from_slice(&chunk);
        while let Some(item) = codec.decode_step(&mut buf) {
            if matches!(item, Decoded::Frame(_)) {
                frames += 1;
            }
        }
        assert!(buf.len() <= MAX_FRAME + chunk.len());
    }
    assert!(frames <= 1, "garbage produced {frames} valid frames");
}
