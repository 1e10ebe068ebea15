//! Keeping held slots' leases alive: one task per engine renews the lease of every live guard
//! at a third of its duration. A guard costs an entry in a map, not a task of its own: most
//! guards end long before their first renewal, and spawning and aborting a task for each was a
//! good part of a short guard's cost (two wake-ups of the engine's runtime).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use flowgate_wire::concurrency_limits::LeaseRenewal;
use flowgate_wire::slot_channel::SlotCall;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

use super::channel;
use crate::engine::Engine;
use crate::error::ApiError;

/// The leases one engine keeps alive.
#[derive(Default)]
pub(crate) struct Renewals {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Rung when a lease is due before the renewer's next wake-up.
    wake: Notify,
}

#[derive(Default)]
struct State {
    /// Each live lease: when it is renewed next, and its duration.
    leases: HashMap<Uuid, (Instant, Duration)>,
    /// When the renewer wakes up next; `None` while it waits to be rung (or is not started).
    wakes_at: Option<Instant>,
    started: bool,
}

impl Renewals {
    /// Renews `lease` every third of `duration` from now on, until [`Renewals::forget`].
    pub fn keep(&self, engine: &Arc<Engine>, lease: Uuid, duration: Duration) {
        let due = Instant::now() + duration / 3;
        let mut state = self.shared.state.lock().expect("not poisoned");
        state.leases.insert(lease, (due, duration));
        if !state.started {
            state.started = true;
            // The renewer holds the engine weakly: the engine owns the runtime it runs on.
            engine
                .handle()
                .spawn(renew_due(self.shared.clone(), Arc::downgrade(engine)));
        } else if state.wakes_at.is_none_or(|at| due < at) {
            self.shared.wake.notify_one();
        }
    }

    /// Stops renewing `lease` (its slots were given back).
    pub fn forget(&self, lease: Uuid) {
        self.shared
            .state
            .lock()
            .expect("not poisoned")
            .leases
            .remove(&lease);
    }
}

/// The renewer: renews the leases that are due, then sleeps until the next one is, or until
/// rung for a lease due sooner.
async fn renew_due(shared: Arc<Shared>, engine: Weak<Engine>) {
    loop {
        let (due, next) = {
            let mut state = shared.state.lock().expect("not poisoned");
            let now = Instant::now();
            let mut due = Vec::new();
            for (lease, (at, duration)) in &mut state.leases {
                if *at <= now {
                    due.push((*lease, *duration));
                    *at = now + *duration / 3;
                }
            }
            let next = state.leases.values().map(|(at, _)| *at).min();
            state.wakes_at = next;
            (due, next)
        };
        if !due.is_empty() {
            let Some(engine) = engine.upgrade() else {
                return;
            };
            for (lease, duration) in due {
                tokio::spawn(renew(engine.clone(), shared.clone(), lease, duration));
            }
        }
        match next {
            Some(at) => tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = shared.wake.notified() => {}
            },
            None => shared.wake.notified().await,
        }
    }
}

/// One renewal (over the slot channel, else over HTTP); a lease the server no longer has is
/// forgotten.
async fn renew(engine: Arc<Engine>, shared: Arc<Shared>, lease: Uuid, duration: Duration) {
    const WHAT: &str = "renewing a concurrency lease";
    let call = SlotCall::Renew {
        id: 0,
        lease_id: lease,
        lease_duration: duration.as_secs_f64(),
    };
    let renewed = match engine.slots.call(call).await {
        Some(answer) => channel::done(answer, WHAT),
        None => {
            let path = format!("/v2/concurrency_limits/leases/{lease}/renew");
            let body = LeaseRenewal {
                lease_duration: duration.as_secs_f64(),
            };
            engine.api.post::<()>(WHAT, &path, &body).await
        }
    };
    match renewed {
        Ok(()) => {}
        Err(ApiError::Refused { status: 404, .. }) => {
            // Unless its guard gave it back meanwhile, the lease died unrenewed.
            let held = shared
                .state
                .lock()
                .expect("not poisoned")
                .leases
                .remove(&lease)
                .is_some();
            if held {
                tracing::warn!(target: "flowgate", "concurrency lease {lease} expired before it could be renewed; its slots are no longer held");
            }
        }
        // Unreachable for now: the next renewal may still come in time.
        Err(e) => tracing::warn!(target: "flowgate", "renewing concurrency lease {lease}: {e}"),
    }
}
