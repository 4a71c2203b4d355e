//! The simulator's context, which every request handler shares: the simulated world behind its
//! lock, the virtual clock, the token issuer, pending faults and the request log.

use super::clock::{Clock, Millis};
use super::observe::Observer;
use super::tokens::TokenIssuer;
use super::world::{ScheduledUserAction, UserStep, World};
use std::sync::{Arc, Mutex, MutexGuard};

pub struct SimContext {
    world: Mutex<World>,
    pub clock: Clock,
    pub tokens: TokenIssuer,
    pub observer: Observer,
}

impl SimContext {
    pub fn new(world: World) -> Arc<SimContext> {
        Arc::new(SimContext {
            world: Mutex::new(world),
            clock: Clock::default(),
            tokens: TokenIssuer::new(),
            observer: Observer::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock would be a simulator bug; keep serving regardless.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the world after applying due timers, then starts any automatic customer
    /// actions it queued.
    pub fn with_world<T>(self: &Arc<Self>, f: impl FnOnce(&mut World, Millis) -> T) -> T {
        let now = self.clock.now();
        let (result, scheduled) = {
            let mut world = self.lock();
            world.tick(now);
            let result = f(&mut world, now);
            (result, world.take_scheduled())
        };
        for action in scheduled {
            self.spawn_customer(action);
        }
        result
    }

    fn spawn_customer(self: &Arc<Self>, action: ScheduledUserAction) {
        let context = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(action.delay).await;
            let outcome = context.with_world(|st, now| match action.step {
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
