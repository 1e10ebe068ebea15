//! The `triggers` service: the core's trigger [`Engine`] fed with every stored event (clients'
//! events from ingest and the server's own state-change events, as they are published), woken
//! at the engine's next timer for proactive and metric triggers, and acting on its firings.
//!
//! One server at a time runs the engine: it holds the store's engine lease, renewed with each
//! checkpoint (every second: the changed trigger states and how far the engine has read, in one
//! transaction that writes nothing once the lease is lost). A server that takes over (after a
//! restart, or another replica's lapsed lease) loads the stored states and reads the events
//! stored after the checkpoint, so a window open before a restart still fires. A firing is
//! recorded under a key the engine's determinism makes stable (trigger, sequence number, time,
//! triggering event): replaying events after a takeover finds it recorded and does not act
//! twice. On PostgreSQL, other replicas' events are read from the database every second.

mod actions;
mod feed;
mod notify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flowgate_core::automations::{Engine, EngineSettings, Firing};
use flowgate_core::{Event, Micros};
use flowgate_store::StoreError;
use flowgate_store::model::{EngineCheckpoint, EventFilter, FeedPosition, FiringRecord, Page};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::app::AppState;
use crate::convert::automations::{stored_actions, stored_trigger, trigger};
use crate::services::Shutdown;
pub use actions::Armed;
use feed::Seen;

/// How long the engine lease lasts without a checkpoint.
const LEASE: Duration = Duration::from_secs(10);
/// How often the engine's state is stored (and the lease renewed).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);
/// How often a server without the lease tries to take it.
const CLAIM_EVERY: Duration = Duration::from_secs(2);
/// Events read from the database per query when catching up.
const PAGE: u32 = 1000;
/// Events taken from the live feed in one go at most.
const BURST: usize = 512;
/// How often the automations are read again on a shared database (other replicas change them).
const RELOAD_EVERY: Duration = Duration::from_secs(5);
/// How long a stopping server lets running actions finish before it abandons the rest (their
/// firings stay recorded; an action cut short is not retried, as after a crash).
const ACTIONS_GRACE: Duration = Duration::from_secs(5);

/// Why leading stopped.
enum Stop {
    /// Shutdown was requested.
    Shutdown,
    /// The lease went to another server, or the store failed: start again from the checkpoint.
    Lost,
}

/// Runs until shutdown: takes the engine lease when it is free and leads while it holds it. On
/// a database where no engine ever ran, it starts with the events received from `since` (the
/// server's start).
pub async fn run(app: AppState, since: Micros, mut shutdown: Shutdown) {
    let holder = Uuid::now_v7();
    let mut running = JoinSet::new();
    loop {
        match app
            .store
            .claim_engine(holder, since, app.now(), LEASE)
            .await
        {
            Ok(Some(position)) => {
                let mut leader = Leader::new(&app, holder, position);
                match leader.lead(&mut shutdown, &mut running).await {
                    Stop::Shutdown => break,
                    Stop::Lost => {
                        tracing::info!("the trigger engine stopped leading; it will claim again")
                    }
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "claiming the trigger engine's lease failed"),
        }
        tokio::select! {
            () = app.clock.sleep(CLAIM_EVERY) => {}
            () = shutdown.requested() => break,
        }
    }
    let drained = async { while running.join_next().await.is_some() {} };
    if tokio::time::timeout(ACTIONS_GRACE, drained).await.is_err() {
        tracing::warn!(
            left = running.len(),
            "actions still running at shutdown were abandoned"
        );
        running.shutdown().await;
    }
}

/// The engine while this server holds the lease.
struct Leader<'a> {
    app: &'a AppState,
    holder: Uuid,
    engine: Engine,
    /// Loaded automations: when each was last changed, and what its firings do.
    armed: HashMap<Uuid, (Micros, Arc<Armed>)>,
    position: FeedPosition,
    seen: Seen,
}

impl<'a> Leader<'a> {
    fn new(app: &'a AppState, holder: Uuid, position: FeedPosition) -> Leader<'a> {
        Leader {
            app,
            holder,
            engine: Engine::new(EngineSettings::default()),
            armed: HashMap::new(),
            position,
            seen: Seen::default(),
        }
    }

    async fn lead(&mut self, shutdown: &mut Shutdown, running: &mut JoinSet<()>) -> Stop {
        // Subscribed before catching up, so nothing published meanwhile is missed.
        let mut live = self.app.bus.subscribe();
        if let Err(e) = self.start(running).await {
            tracing::warn!(error = %e, "the trigger engine could not start");
            return Stop::Lost;
        }
        let shared = self.app.store.is_shared();
        let mut checkpoint_due = self.app.now().plus_seconds(CHECKPOINT_EVERY.as_secs_f64());
        let mut reload_due = self.app.now().plus_seconds(RELOAD_EVERY.as_secs_f64());
        loop {
            let now = self.app.now();
            let timer = self
                .engine
                .next_wakeup()
                .unwrap_or(checkpoint_due)
                .min(checkpoint_due);
            let result = tokio::select! {
                biased;
                () = shutdown.requested() => {
                    let _ = self.checkpoint().await;
                    let _ = self.app.store.release_engine(self.holder).await;
                    return Stop::Shutdown;
                }
                // Before events: an event published after an automation was created must find
                // it loaded.
                () = self.app.automations.notified() => self.reload().await,
                received = live.recv() => match received {
                    Ok(event) => self.take_burst(event, &mut live, running).await,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "the trigger engine fell behind; reading the events it missed from the database");
                        self.catch_up(running).await
                    }
                    Err(RecvError::Closed) => return Stop::Shutdown,
                },
                () = self.app.clock.sleep(wait(now, timer)) => Ok(()),
            };
            let now = self.app.now();
            let mut step = result;
            if step.is_ok() && self.engine.next_wakeup().is_some_and(|t| t <= now) {
                let firings = self.engine.advance(now);
                step = self.fire(firings, None, running).await;
            }
            if step.is_ok() && now >= checkpoint_due {
                checkpoint_due = now.plus_seconds(CHECKPOINT_EVERY.as_secs_f64());
                step = match self.checkpoint().await {
                    Ok(true) if shared => self.catch_up(running).await,
                    Ok(true) => Ok(()),
                    Ok(false) => return Stop::Lost,
                    Err(e) => Err(e),
                };
                if step.is_ok() && shared && now >= reload_due {
                    reload_due = now.plus_seconds(RELOAD_EVERY.as_secs_f64());
                    step = self.reload().await;
                }
            }
            if let Err(e) = step {
                tracing::warn!(error = %e, "the trigger engine failed; it starts again from its last checkpoint");
                return Stop::Lost;
            }
        }
    }

    /// Loads the automations and reads the events stored since the checkpoint.
    async fn start(&mut self, running: &mut JoinSet<()>) -> Result<(), StoreError> {
        self.reload().await?;
        self.catch_up(running).await
    }

    /// Reads the enabled automations again: new and changed ones are loaded (a changed one
    /// keeps its live state when its trigger tree is the same), gone ones unloaded.
    async fn reload(&mut self) -> Result<(), StoreError> {
        let now = self.app.now();
        let listed = self.app.store.engine_automations().await?;
        let keep: std::collections::HashSet<Uuid> =
            listed.iter().map(|a| a.automation.id).collect();
        let gone: Vec<Uuid> = (self.armed.keys())
            .filter(|id| !keep.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.engine.unload(id);
            self.armed.remove(&id);
        }
        for entry in listed {
            let a = &entry.automation;
            if self
                .armed
                .get(&a.id)
                .is_some_and(|(updated, _)| *updated == a.updated)
            {
                continue;
            }
            let parsed = stored_trigger(a).and_then(|t| {
                trigger(&t).map_err(|e| StoreError::Corrupt(format!("automation {}: {e:?}", a.id)))
            });
            let trigger = match parsed {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(automation = %a.id, error = %e, "an automation's trigger is unreadable; it is not evaluated");
                    continue;
                }
            };
            let state = match self.engine.state(a.id) {
                Some(live) => Some(live.clone()),
                None => entry.state,
            };
            let restored = self.engine.load(a.id, &trigger, state, now);
            tracing::debug!(automation = %a.id, ?restored, "automation loaded");
            let armed = Armed {
                id: a.id,
                name: a.spec.name.clone(),
                trigger_kind: trigger.kind(),
                actions: stored_actions(a, &a.spec.actions)?,
                actions_on_trigger: stored_actions(a, &a.spec.actions_on_trigger)?,
                actions_on_resolve: stored_actions(a, &a.spec.actions_on_resolve)?,
            };
            self.armed.insert(a.id, (a.updated, Arc::new(armed)));
        }
        Ok(())
    }

    /// Feeds the events stored after the engine's position, in receive order.
    async fn catch_up(&mut self, running: &mut JoinSet<()>) -> Result<(), StoreError> {
        loop {
            let page = self.app.store.events_after(&self.position, PAGE).await?;
            let full = page.len() == PAGE as usize;
            for event in page {
                self.take(Arc::new(event), running).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    /// Feeds `first` and whatever else is already waiting (up to a bound), without going
    /// back to the timers in between: under a burst of events the loop's overhead is paid once
    /// per burst. A lag found here is caught up from the database.
    async fn take_burst(
        &mut self,
        first: Arc<Event>,
        live: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
        running: &mut JoinSet<()>,
    ) -> Result<(), StoreError> {
        self.take(first, running).await?;
        for _ in 0..BURST {
            match live.try_recv() {
                Ok(event) => self.take(event, running).await?,
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::warn!(
                        missed,
                        "the trigger engine fell behind; reading the events it missed from the database"
                    );
                    return self.catch_up(running).await;
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Feeds one event (once), and acts on what it completes.
    async fn take(
        &mut self,
        event: Arc<Event>,
        running: &mut JoinSet<()>,
    ) -> Result<(), StoreError> {
        if !self.seen.first_time(&event) {
            return Ok(());
        }
        feed::advance(&mut self.position, &event);
        let firings = self.engine.on_event(&event, self.app.now());
        self.fire(firings, Some(&event), running).await
    }

    /// Records each firing (once across replicas and replays) and starts its actions.
    async fn fire(
        &mut self,
        firings: Vec<Firing>,
        event: Option<&Arc<Event>>,
        running: &mut JoinSet<()>,
    ) -> Result<(), StoreError> {
        for firing in firings {
            let Some((_, armed)) = self.armed.get(&firing.automation_id) else {
                continue;
            };
            let armed = armed.clone();
            let record = FiringRecord {
                automation_id: firing.automation_id,
                key: feed::firing_key(&firing),
                id: Uuid::now_v7(),
                state: firing.state.as_str().to_owned(),
                occurred: firing.occurred,
                decided: firing.decided,
                triggering_event: firing.triggering_event,
                outcomes: serde_json::Value::Null,
            };
            if !self.app.store.record_firing(&record).await? {
                continue;
            }
            let triggering = match (event, firing.triggering_event) {
                (Some(e), Some(id)) if e.id == id => Some(e.clone()),
                (_, Some(id)) => self.stored_event(id).await?,
                (_, None) => None,
            };
            tracing::info!(automation = %armed.id, state = record.state, "automation fired");
            running.spawn(actions::act(
                self.app.clone(),
                armed,
                firing,
                record,
                triggering,
            ));
        }
        // Finished action runs are reaped as they go, so the set stays small.
        while running.try_join_next().is_some() {}
        Ok(())
    }

    async fn stored_event(&self, id: Uuid) -> Result<Option<Arc<Event>>, StoreError> {
        let filter = EventFilter {
            ids: Some(vec![id]),
            ..Default::default()
        };
        let found = self
            .app
            .store
            .filter_events(&filter, Page::default())
            .await?;
        Ok(found.into_iter().next().map(Arc::new))
    }

    /// Stores the changed states and the position; `false` when the lease is gone.
    async fn checkpoint(&mut self) -> Result<bool, StoreError> {
        let states = (self.engine.take_dirty().into_iter())
            .filter_map(|id| self.engine.state(id).map(|s| (id, s.clone())))
            .collect();
        let checkpoint = EngineCheckpoint {
            position: self.position.clone(),
            states,
        };
        self.seen.forget_before(self.position.received);
        (self.app.store)
            .save_engine(self.holder, &checkpoint, self.app.now(), LEASE)
            .await
    }
}

/// How long until `at` (nothing when it has come).
fn wait(now: Micros, at: Micros) -> Duration {
    Duration::from_micros(u64::try_from(at.0.saturating_sub(now.0)).unwrap_or(0))
}
