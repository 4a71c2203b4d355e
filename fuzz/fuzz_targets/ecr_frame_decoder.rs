//! Fuzzes the ECR frame decoder and the link layer behind it: no input may panic, buffer more
//! than one frame, or produce a frame that is not a contiguous part of the input.
//!
//! Run with `scripts/fuzz.sh` (libFuzzer on a stable toolchain).

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mposd::ecr::frame::{Decoded, FrameCodec, MAX_FRAME};
use mposd::ecr::link::{Link, LinkConfig};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses the chunk size, so split frames are explored too.
    let Some((&chunk, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut codec = FrameCodec::new();
    let mut link = Link::new(LinkConfig::default());
    let mut buf = BytesMut::new();
    let mut now = Instant::now();
    for part in input.chunks(chunk) {
        buf.extend_from_slice(part);
        while let Some(item) = codec.decode_step(&mut buf) {
            if let Decoded::Frame(frame) = &item {
                let wire = frame.to_wire();
                assert!(input.windows(wire.len()).any(|w| w == wire.as_slice()));
            }
            link.receive(item, now);
        }
        assert!(buf.len() <= MAX_FRAME + part.len());
        now += Duration::from_millis(700);
        link.handle_timeout(now);
        while link.poll_transmit(now).is_some() {}
        while link.poll_event().is_some() {}
    }
});
