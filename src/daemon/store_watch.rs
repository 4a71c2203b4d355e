//! Watches the store's writes from a thread of its own, for the watchdog loop.
//!
//! A write stuck inside sled 0.34 does not stay alone for long: every `apply_batch` takes
//! sled's process-wide lock for writers, so the next journal write blocks too, and readers
//! queue behind it. Each blocked call holds a runtime thread, and with two of them the async
//! runtime, and the watchdog loop on it, can stop altogether. The pings then stop, but nothing
//! on the runtime could say why. This thread needs neither the runtime nor sled: it reads the
//! writes in flight ([`crate::store::in_flight`]), says which one is stuck and for how long in
//! the log and the status line, and tells the watchdog loop not to ping.

use crate::store::in_flight::{self, InFlight, Oldest, Writes};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Checks per limit: a stuck write is seen at most a third of the limit late.
const CHECKS_PER_LIMIT: u32 = 3;
/// However short the limit, the watch does not check more often than this.
const MIN_CHECK_EVERY: Duration = Duration::from_millis(100);

/// What the watch found, shared with the watchdog loop.
#[derive(Clone, Default)]
pub struct StoreWatch {
    /// The stuck write, as the status line says it; `None` while writes complete.
    stuck: Arc<Mutex<Option<String>>>,
}

impl StoreWatch {
    /// Starts the watch of a store's `writes`: one taking `limit` or longer is stuck. `report` gets
    /// the stuck write at every check while there is one, and `None` once when it has
    /// returned, for the status line.
    pub fn start(
        writes: Arc<InFlight>,
        limit: Duration,
        report: impl Fn(Option<&str>) + Send + 'static,
    ) -> anyhow::Result<StoreWatch> {
        let watch = StoreWatch::default();
        let shared = watch.clone();
        std::thread::Builder::new()
            .name("store watch".into())
            .spawn(move || {
                let mut reported: Option<Oldest> = None;
                loop {
                    std::thread::sleep((limit / CHECKS_PER_LIMIT).max(MIN_CHECK_EVERY));
                    let found = check(&writes, limit, reported.as_ref());
                    if found.is_none() && reported.is_none() {
                        continue;
                    }
                    let note = found.as_ref().map(|(_, note)| note.clone());
                    shared.set(note.clone());
                    report(note.as_deref());
                    reported = found.map(|(write, _)| write);
                }
            })?;
        Ok(watch)
    }

    /// Whether every write into the store has returned within the limit.
    pub fn writes_complete(&self) -> bool {
        self.lock().is_none()
    }

    /// The stuck write for the status line, e.g. `store stuck: a write of lane till-1's
    /// journal has not returned for 31 s`.
    pub fn stuck(&self) -> Option<String> {
        self.lock().clone()
    }

    fn set(&self, note: Option<String>) {
        *self.lock() = note;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.stuck.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The stuck write, if any, with its note for the status line. Logs a write when it is first
/// found stuck, and that a stuck write (`reported`) has returned. Allocates only then.
fn check(writes: &InFlight, limit: Duration, reported: Option<&Oldest>) -> Option<(Oldest, String)> {
    let oldest = writes.oldest();
    match (
        oldest,
        in_flight::judge(oldest.map(|o| o.since), writes.now(), limit),
    ) {
        (Some(write), Writes::Stuck(age)) => {
            let what = writes.name(write.writer);
            let age = age.as_secs();
            if reported != Some(&write) {
                // Named in the message too: the journal shows messages, not fields, by default.
                tracing::error!(
                    write = %what,
                    in_flight_s = age,
                    "ALARM: the store is stuck: {what} has not returned for {age} s; the systemd \
                     watchdog is no longer pinged, so that systemd restarts mposd and the payment \
                     resumes"
                );
            }
            Some((write, format!("store stuck: {what} has not returned for {age} s")))
        }
        _ => {
            if let Some(write) = reported {
                let what = writes.name(write.writer);
                tracing::warn!(
                    write = %what,
                    "the store is no longer stuck: {what} has returned; the watchdog is pinged again"
                );
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_in_flight_past_the_limit_is_noted_until_it_returns() {
        let writes = InFlight::default();
        let writer = writes.writer("a write of lane till-1's journal");
        let limit = Duration::from_millis(20);
        assert_eq!(check(&writes, limit, None), None);

        let writing = writes.begin(writer);
        assert_eq!(
            check(&writes, Duration::from_secs(15), None),
            None,
            "a write younger than the limit completes"
        );
        // The write's age must pass the limit: time, not another thread, is awaited here.
        std::thread::sleep(limit);
        let (write, note) = check(&writes, limit, None).expect("stuck");
        assert_eq!(write.writer, writer);
        assert!(
            note.starts_with("store stuck: a write of lane till-1's journal has not returned for "),
            "{note}"
        );
        assert_eq!(check(&writes, limit, Some(&write)).map(|(w, _)| w), Some(write));

        drop(writing);
        assert_eq!(check(&writes, limit, Some(&write)), None);
    }
}
