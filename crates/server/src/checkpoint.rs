//! The `checkpoint` service, started where the store has a checkpoint interval (SQLite): copies
//! the write-ahead log into the database file on a connection of its own. SQLite otherwise does
//! this inside the commit that takes the log past its backstop, holding up every writer queued
//! behind that commit for as long as copying (and syncing) every page not yet copied takes (the
//! slot round trip's p99, the retention batches' tail).
//!
//! Under a steady stream of writes the log still reaches that backstop now and then (SQLite
//! starts it over only once every page in it is copied, which a checkpoint beside busy writers
//! seldom sees), so the service keeps what is left for that commit small: every [`BUSY`] while
//! the log changes, every [`flowgate_store::MaintenanceStore::checkpoint_every`] once it is
//! still. (Every 100 ms instead of every second halved the writers' p99 in the retention
//! benchmark, 42–47 ms to 25 ms, and took its flow-run batches over 25 ms from 9–23 to none.)

use std::time::{Duration, Instant};

use flowgate_store::{Checkpointed, DynStore};

use crate::metrics::Metrics;
use crate::services::Shutdown;

/// The pause after a checkpoint that found the log changed since the one before.
const BUSY: Duration = Duration::from_millis(100);

/// Checkpoints until shutdown: every [`BUSY`] while the log changes, every `quiet` while it
/// does not.
pub async fn run(store: DynStore, quiet: Duration, metrics: Metrics, mut shutdown: Shutdown) {
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
    let mut last = Checkpointed::default();
    let mut pause = quiet;
    loop {
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.requested() => return,
        }
        let started = Instant::now();
        match store.checkpoint().await {
            Ok(done) => {
                took.observe(started.elapsed());
                logged.set(done.logged);
                tracing::trace!(logged = done.logged, copied = done.copied, "checkpointed");
                pause = pause_after(&last, &done, quiet);
                last = done;
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpointing the write-ahead log failed");
                pause = quiet;
            }
        }
    }
}

/// How long to wait after a checkpoint that found `done`, the one before having found `last`:
/// the log is still when both found the same pages, all of them copied.
fn pause_after(last: &Checkpointed, done: &Checkpointed, quiet: Duration) -> Duration {
    if done == last && done.copied == done.logged {
        quiet
    } else {
        BUSY.min(quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_secs(1);

    fn found(logged: u64, copied: u64) -> Checkpointed {
        Checkpointed { logged, copied }
    }

    #[test]
    fn a_still_log_is_checkpointed_at_the_quiet_interval() {
        assert_eq!(pause_after(&found(0, 0), &found(0, 0), QUIET), QUIET);
        assert_eq!(
            pause_after(&found(300, 300), &found(300, 300), QUIET),
            QUIET
        );
    }

    #[test]
    fn a_changing_log_is_checkpointed_again_soon() {
        // Grown, started over, or with pages a reader kept from being copied.
        assert_eq!(pause_after(&found(300, 300), &found(900, 900), QUIET), BUSY);
        assert_eq!(pause_after(&found(9000, 9000), &found(40, 40), QUIET), BUSY);
        assert_eq!(pause_after(&found(900, 800), &found(900, 800), QUIET), BUSY);
        // Never later than the quiet interval.
        let short = Duration::from_millis(5);
        assert_eq!(pause_after(&found(0, 0), &found(10, 10), short), short);
    }
}
