//! What guards the simulated API against repeats and floods: remembered answers per
//! idempotency key, and request rates per reference on a sliding minute.

use super::problem::EpError;
use crate::sim::clock::Millis;
use axum::http::StatusCode;
use std::collections::{HashMap, VecDeque};

const MINUTE: Millis = 60_000;
/// Requests per minute per reference: create, capture, cancel and refund (each)…
pub const MODIFY_RATE: usize = 5;
/// …and get payment and event log (each).
pub const READ_RATE: usize = 120;
/// Past this many rate windows, idle ones are dropped, so that calls for many references do not
/// accumulate.
const RATE_WINDOWS_KEPT: usize = 4096;

/// The operations whose idempotency keys and rates are kept apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    Create,
    Get,
    Events,
    Capture,
    Cancel,
    Refund,
}

/// A remembered answer for an idempotency key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remembered {
    pub status: StatusCode,
    pub body: String,
    pub problem: bool,
}

struct KeyEntry {
    fingerprint: String,
    answer: Remembered,
    at: Millis,
}

/// Sales unit, operation, reference (empty for create) and key.
pub type KeyScope = (String, Op, String, String);

/// Remembered answers per idempotency key, forgotten after the retention time.
pub struct Keys {
    entries: HashMap<KeyScope, KeyEntry>,
    /// Keys in the order they were remembered, to forget them oldest first.
    order: VecDeque<(Millis, KeyScope)>,
    retention: Millis,
}

impl Keys {
    pub fn new(retention: Millis) -> Keys {
        Keys {
            entries: HashMap::new(),
            order: VecDeque::new(),
            retention,
        }
    }

    /// The remembered answer for a retry, or 409 when the key was used for another request.
    pub fn replay(
        &mut self,
        scope: &KeyScope,
        fingerprint: &str,
        now: Millis,
    ) -> Result<Option<Remembered>, EpError> {
        while let Some((at, _)) = self.order.front() {
            if at + self.retention > now {
                break;
            }
            if let Some((at, old)) = self.order.pop_front() {
                if self.entries.get(&old).is_some_and(|e| e.at == at) {
                    self.entries.remove(&old);
                }
            }
        }
        match self.entries.get(scope) {
            None => Ok(None),
            Some(e) if e.fingerprint == fingerprint => Ok(Some(e.answer.clone())),
            Some(_) => {
                let (code, what) = if scope.1 == Op::Create {
                    ("4020", "Idempotency-Key already exists for another request")
                } else {
                    (
                        "4010",
                        "A retry with the same Idempotency-Key must have the same body",
                    )
                };
                Err(EpError::code(StatusCode::CONFLICT, code, what))
            }
        }
    }

    pub fn remember(&mut self, scope: KeyScope, fingerprint: String, answer: Remembered, now: Millis) {
        self.order.push_back((now, scope.clone()));
        self.entries.insert(
            scope,
            KeyEntry {
                fingerprint,
                answer,
                at: now,
            },
        );
    }
}

/// Request times per caller, reference and operation over the last minute.
#[derive(Default)]
pub struct Rates {
    windows: HashMap<(String, String, Op), VecDeque<Millis>>,
}

impl Rates {
    /// Counts a request against the per-minute limit of `who` (MSN or subscription key),
    /// reference and operation.
    pub fn count(&mut self, who: &str, reference: &str, op: Op, now: Millis) -> Result<(), EpError> {
        let limit = match op {
            Op::Get | Op::Events => READ_RATE,
            _ => MODIFY_RATE,
        };
        let window = self
            .windows
            .entry((who.to_string(), reference.to_string(), op))
            .or_default();
        while window.front().is_some_and(|t| *t <= now - MINUTE) {
            window.pop_front();
        }
        if window.len() >= limit {
            let oldest = window.front().copied().unwrap_or(now);
            let wait_ms = (oldest + MINUTE - now).max(1);
            return Err(EpError::rate_limited(((wait_ms + 999) / 1000) as u64));
        }
        window.push_back(now);
        if self.windows.len() > RATE_WINDOWS_KEPT {
            self.windows
                .retain(|_, w| w.back().is_some_and(|t| *t > now - MINUTE));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Millis = 1_700_000_000_000;

    #[test]
    fn the_rate_window_slides_over_one_minute() {
        let mut rates = Rates::default();
        for i in 0..MODIFY_RATE as i64 {
            rates.count("123456", "r", Op::Capture, T0 + i * 1000).unwrap();
        }
        let refused = rates.count("123456", "r", Op::Capture, T0 + 10_000).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        rates.count("123456", "r", Op::Cancel, T0 + 10_000).unwrap();
        // A minute after the first request, its place is free again, and only its place.
        rates.count("123456", "r", Op::Capture, T0 + MINUTE).unwrap();
        rates
            .count("123456", "r", Op::Capture, T0 + MINUTE + 1)
            .unwrap_err();
        rates
            .count("123456", "r", Op::Capture, T0 + MINUTE + 1000)
            .unwrap();
    }

    #[test]
    fn keys_replay_the_same_body_refuse_another_and_are_forgotten() {
        let mut keys = Keys::new(MINUTE);
        let scope: KeyScope = ("123456".into(), Op::Capture, "ref-1".into(), "k".into());
        let answer = Remembered {
            status: StatusCode::OK,
            body: "{}".into(),
            problem: false,
        };
        keys.remember(scope.clone(), "a".into(), answer.clone(), T0);
        assert_eq!(keys.replay(&scope, "a", T0 + 1).unwrap(), Some(answer));
        let conflict = keys.replay(&scope, "b", T0 + 1).unwrap_err();
        assert_eq!(conflict.error_code(), Some("4010"));
        assert_eq!(keys.replay(&scope, "b", T0 + MINUTE).unwrap(), None);
    }
}
