//! Fuzzes the ECR message parsers: any body must give a message or a clear error, never a
//! panic.
//!
//! Run with `scripts/fuzz.sh` (libFuzzer on a stable toolchain).

#![no_main]

use libfuzzer_sys::fuzz_target;
use mposd::ecr::message::{parse_ecr_message, DaemonMessage};

fuzz_target!(|data: &[u8]| {
    if let Err(err) = parse_ecr_message(data) {
        assert!(!err.message.is_empty());
    }
    let _ = serde_json::from_slice::<DaemonMessage>(data);
});
