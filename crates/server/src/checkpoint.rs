//! The `checkpoint` service, started where the store has a checkpoint interval (SQLite): copies
//! the write-ahead log into the database file on a connection of its own, every
//! [`flowgate_store::MaintenanceStore::checkpoint_every`] of real time. SQLite otherwise does
//! this inside the commit that takes the log past 1,000 pages, holding up every writer queued
//! behind that commit for tens of milliseconds (the slot round trip's p99, the retention
//! batches' tail).

use std::time::{Duration, Instant};

use flowgate_store::DynStore;

use crate::metrics::Metrics;
use crate::services::Shutdown;

/// Checkpoints every `every` until shutdown.
pub async fn run(store: DynStore, every: Duration, metrics: Metrics, mut shutdown: Shutdown) {
    let took = metrics.histogram(
        "flowgate_checkpoint_seconds",
        "How long each checkpoint of SQLite's write-ahead log took (writers are not held up)",
        &[],
    );
    let logged = metrics.gauge(
        "flowgate_wal_pages",
        "Pages in SQLite's write-ahead log at the last checkpoint (bounded while checkpoints \
         keep up: the log starts over once every page is copied)",
        &[],
    );
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.requested() => return,
        }
        let started = Instant::now();
        match store.checkpoint().await {
            Ok(done) => {
                took.observe(started.elapsed());
                logged.set(done.logged);
                tracing::trace!(logged = done.logged, copied = done.copied, "checkpointed");
            }
            Err(e) => tracing::warn!(error = %e, "checkpointing the write-ahead log failed"),
        }
    }
}
