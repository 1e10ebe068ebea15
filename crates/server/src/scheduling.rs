//! Two services keep deployments' runs moving: `scheduler` creates scheduled runs ahead (the
//! store's pass takes the deployments whose planning time has come, once each even with several
//! replicas on one PostgreSQL) and `late-runs` marks overdue runs Late or skips them as their
//! deployment's late-run policy says. Both work in bounded batches, go again at once while a
//! batch came back full, publish the events of what they changed, and wake waiting workers.

use std::time::Duration;

use flowgate_core::scheduler::Horizon;
use flowgate_store::StoreError;

use crate::app::AppState;
use crate::services::Shutdown;

/// How often the scheduler looks when nothing wakes it.
const SCHEDULER_EVERY: Duration = Duration::from_secs(5);
/// How often overdue runs are looked for.
const LATE_RUNS_EVERY: Duration = Duration::from_secs(5);
/// Deployments planned per transaction.
const SCHEDULER_BATCH: usize = 100;
/// Overdue runs handled per transaction.
const LATE_BATCH: usize = 500;

/// The `scheduler` service: runs until shutdown.
pub async fn scheduler(app: AppState, mut shutdown: Shutdown) {
    let horizon = Horizon::default();
    loop {
        match schedule_once(&app, &horizon).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "scheduling deployments' runs failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(SCHEDULER_EVERY) => {}
            () = app.scheduler.notified() => {}
            () = shutdown.requested() => return,
        }
    }
}

/// One scheduler pass; `true` when the batch was full (more may be waiting).
pub async fn schedule_once(app: &AppState, horizon: &Horizon) -> Result<bool, StoreError> {
    let pass = app
        .store
        .schedule_runs(app.now(), horizon, SCHEDULER_BATCH)
        .await?;
    if pass.runs_created > 0 {
        tracing::debug!(
            runs = pass.runs_created,
            deployments = pass.deployments,
            "scheduled runs"
        );
        app.publish(pass.events);
        app.work.notify_waiters();
    }
    Ok(pass.deployments >= SCHEDULER_BATCH)
}

/// The `late-runs` service: runs until shutdown.
pub async fn late_runs(app: AppState, mut shutdown: Shutdown) {
    loop {
        match mark_late_once(&app).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "marking late runs failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(LATE_RUNS_EVERY) => {}
            () = shutdown.requested() => return,
        }
    }
}

/// One late-runs pass; `true` when the batch was full.
pub async fn mark_late_once(app: &AppState) -> Result<bool, StoreError> {
    let pass = app.store.mark_late_runs(app.now(), LATE_BATCH).await?;
    let handled = pass.marked_late + pass.skipped;
    if handled > 0 {
        tracing::debug!(late = pass.marked_late, skipped = pass.skipped, "late runs");
        app.publish(pass.events);
    }
    Ok(handled >= LATE_BATCH)
}
