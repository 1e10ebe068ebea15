//! The `pause-timeouts` service: a paused flow run whose `pause_timeout` passed with nobody
//! resuming it is marked Failed, with a message saying so. It reads the server's clock, finds
//! expired pauses through the store's indexed deadline (all of them, in batches), and leaves the
//! decision for each run to the core, under the run's lock, so several replicas never fail a
//! run twice nor a run resumed meanwhile.

use std::time::Duration;

use flowgate_core::Micros;
use flowgate_store::StoreError;

use crate::app::AppState;
use crate::services::Shutdown;

/// How often paused runs are checked.
const EVERY: Duration = Duration::from_secs(1);
/// Runs failed per store query.
const BATCH: u32 = 200;

/// Runs until shutdown.
pub async fn run(app: AppState, mut shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = app.clock.sleep(EVERY) => {}
            () = shutdown.requested() => return,
        }
        if let Err(e) = expire(&app, app.now()).await {
            tracing::warn!(error = %e, "checking paused runs for timeouts failed");
        }
    }
}

/// Fails every paused run whose timeout is at or before `now`; returns how many.
pub async fn expire(app: &AppState, now: Micros) -> Result<usize, StoreError> {
    let mut failed = 0;
    loop {
        let due = app.store.expired_pauses(now, BATCH).await?;
        let mut progressed = false;
        for id in &due {
            if let Some(events) = app.store.expire_pause(*id, now).await? {
                failed += 1;
                progressed = true;
                tracing::info!(flow_run = %id, "paused run timed out");
                app.publish(events);
            }
        }
        // A short batch was the last one; a batch where nothing changed would come back.
        if due.len() < BATCH as usize || !progressed {
            return Ok(failed);
        }
    }
}
