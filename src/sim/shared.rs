//! What every request handler shares: the state behind its lock, the virtual clock, the token
//! issuer, pending faults and the request log.

use super::clock::{Clock, Millis};
use super::observe::Observer;
use super::state::{ScheduledUserAction, State, UserStep};
use super::tokens::TokenIssuer;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Shared {
    state: Mutex<State>,
    pub clock: Clock,
    pub tokens: TokenIssuer,
    pub observer: Observer,
}

impl Shared {
    pub fn new(state: State) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(state),
            clock: Clock::default(),
            tokens: TokenIssuer::new(),
            observer: Observer::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock would be a simulator bug; keep serving regardless.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the state after applying due timers, then starts any automatic customer
    /// actions it queued.
    pub fn with_state<T>(self: &Arc<Self>, f: impl FnOnce(&mut State, Millis) -> T) -> T {
        let now = self.clock.now();
        let (result, scheduled) = {
            let mut state = self.lock();
            state.tick(now);
            let result = f(&mut state, now);
            (result, state.take_scheduled())
        };
        for action in scheduled {
            self.spawn_customer(action);
        }
        result
    }

    fn spawn_customer(self: &Arc<Self>, action: ScheduledUserAction) {
        let shared = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(action.delay).await;
            let outcome = shared.with_state(|st, now| match action.step {
                UserStep::Checkin => st.user_checkin(&action.beacon_id, &action.phone, now),
                UserStep::Accept => st.user_accept(&action.beacon_id, &action.phone, now),
                UserStep::Cancel => st.user_cancel(&action.beacon_id, now),
            });
            if let Err(err) = outcome {
                tracing::debug!(step = ?action.step, beacon = %action.beacon_id, reason = %err.message, "automatic customer step skipped");
            }
        });
    }
}
