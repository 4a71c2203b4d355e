//! Wall-clock time as the journal stores it: milliseconds since the Unix epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now; 0 on a clock set before 1970 (a board without a real-time clock may boot like that:
/// every rule that compares times then errs on the side of waiting or asking).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
