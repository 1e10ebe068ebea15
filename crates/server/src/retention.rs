//! The `retention` service: every minute (on the server's clock) it removes what has aged out
//! under the configured [`Retention`], kind by kind, in small batches with a pause between them,
//! so writers are never held up for long. The batch size adapts to keep the time each batch's
//! transaction holds the writer near [`TARGET`] (waiting for the writer, which busy writers
//! make long, says nothing about a batch's size and does not shrink it). Several replicas may run it at once: the store gives each batch
//! rows no other replica holds.

use std::time::Duration;

use flowgate_core::retention::{Prunable, Retention};
use flowgate_store::StoreError;

use crate::app::AppState;
use crate::services::Shutdown;

/// How often a pass starts.
const EVERY: Duration = Duration::from_secs(60);
/// How long one batch's transaction should take (the writer is held that long): well under
/// the 10 ms a batch may hold it, so that a batch of the size this keeps stays under that bound
/// when the machine is busy too.
const TARGET: Duration = Duration::from_millis(3);
/// The pause between batches, in which writers take their turn.
const BREATHE: Duration = Duration::from_millis(10);
/// Batch sizes (records) the adaptation stays within.
const BATCHES: (usize, usize) = (10, 2000);

/// Runs until shutdown.
pub async fn run(app: AppState, retention: Retention, mut shutdown: Shutdown) {
    let mut batch = 100;
    loop {
        tokio::select! {
            () = app.clock.sleep(EVERY) => {}
            () = shutdown.requested() => return,
        }
        if let Err(e) = pass(&app, &retention, &mut batch, &shutdown).await {
            tracing::warn!(error = %e, "pruning aged records failed; trying again next pass");
        }
    }
}

/// Removes every record aged out at the clock's current time, batch by batch, and returns how
/// many went of each kind. `batch` is the size to start with, and the one to start the next
/// pass with when this returns.
pub async fn pass(
    app: &AppState,
    retention: &Retention,
    batch: &mut usize,
    shutdown: &Shutdown,
) -> Result<Vec<(Prunable, usize)>, StoreError> {
    let mut pruned = Vec::new();
    for (kind, before) in retention.cutoffs(app.now()) {
        let counter = app.metrics.counter(
            "flowgate_retention_pruned_total",
            "Records removed by the retention service, by kind (a flow run counts once)",
            &[("kind", kind.as_str())],
        );
        let batches = app.metrics.histogram(
            "flowgate_retention_batch_seconds",
            "How long each retention batch's transaction held the writer (from its start to \
             its commit; waiting for the writer not included), by kind",
            &[("kind", kind.as_str())],
        );
        let (mut total, mut batch_count, mut slowest) = (0, 0, Duration::ZERO);
        while !shutdown.is_requested() {
            let done = app.store.prune(kind, before, *batch).await?;
            batches.observe(done.held);
            batch_count += 1;
            slowest = slowest.max(done.held);
            total += done.records;
            counter.add(done.records as u64);
            let full = done.records == *batch;
            *batch = next_batch(*batch, done.held);
            if !full {
                break;
            }
            tokio::time::sleep(BREATHE).await;
        }
        if total > 0 {
            tracing::info!(
                kind = kind.as_str(),
                records = total,
                batches = batch_count,
                slowest_batch_held_ms = slowest.as_secs_f64() * 1e3,
                "pruned aged records"
            );
        }
        pruned.push((kind, total));
    }
    Ok(pruned)
}

/// The next batch size after one of `size` held the writer `held`: halved when more than twice
/// [`TARGET`], doubled when under half of it.
fn next_batch(size: usize, held: Duration) -> usize {
    let next = if held > TARGET * 2 {
        size / 2
    } else if held < TARGET / 2 {
        size * 2
    } else {
        size
    };
    next.clamp(BATCHES.0, BATCHES.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_shrink_when_slow_and_grow_when_quick_within_bounds() {
        assert_eq!(next_batch(100, Duration::from_millis(30)), 50);
        assert_eq!(next_batch(100, Duration::from_millis(1)), 200);
        assert_eq!(next_batch(100, TARGET), 100);
        assert_eq!(next_batch(BATCHES.0, Duration::from_secs(1)), BATCHES.0);
        assert_eq!(next_batch(BATCHES.1, Duration::ZERO), BATCHES.1);
    }
}
