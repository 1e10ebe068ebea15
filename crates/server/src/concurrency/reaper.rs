//! The `lease-reaper` service: frees the slots of leases that expired unrenewed (their holder
//! died or lost touch) and of leases whose holder run has finished, and wakes the waiters of
//! those limits. It sleeps until the next lease deadline (at most a second, so that finished
//! runs are noticed), frees in bounded batches, and with several replicas on one PostgreSQL
//! each lease is freed by exactly one of them (the store skips limits another replica is
//! reaping).

use std::time::Duration;

use flowgate_store::DynStore;

use super::SlotEngine;
use crate::clock::Clock;
use crate::services::Shutdown;

/// Longest sleep between two passes.
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// Leases' limits handled per transaction.
const BATCH: u32 = 200;

/// Runs until shutdown.
pub async fn run(store: DynStore, engine: SlotEngine, clock: Clock, mut shutdown: Shutdown) {
    loop {
        let sleep = match store.next_lease_expiry().await {
            Ok(Some(next)) => {
                let micros = u64::try_from(next.0.saturating_sub(clock.now().0)).unwrap_or(0);
                Duration::from_micros(micros).min(MAX_SLEEP)
            }
            Ok(None) => MAX_SLEEP,
            Err(e) => {
                tracing::warn!(error = %e, "reading the next lease deadline failed");
                MAX_SLEEP
            }
        };
        tokio::select! {
            () = clock.sleep(sleep) => {}
            () = shutdown.requested() => return,
        }
        loop {
            match store.reap_leases(clock.now(), BATCH).await {
                Ok(freed) if freed.is_empty() => break,
                Ok(freed) => {
                    tracing::debug!(limits = ?freed, "freed the slots of dead leases");
                    engine.wake(freed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reaping expired leases failed");
                    break;
                }
            }
        }
    }
}
