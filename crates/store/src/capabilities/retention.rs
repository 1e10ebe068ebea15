//! Retention: removing what has aged out, a small batch per call, so a pass never holds the
//! writer for long and several replicas share the work instead of repeating it.

use std::time::Duration;

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::retention::Prunable;

use crate::store::Result;

/// What one batch removed, and how long its transaction held the writer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// Records removed (a flow run counts once).
    pub records: usize,
    /// From the transaction's start (the writer taken) to its commit: how long writers could
    /// not write because of this batch. Waiting for the writer beforehand is not included.
    pub held: Duration,
}

/// Removes aged records.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes at most `limit` records of `kind` from before `before` (oldest first), in one
    /// transaction; returns how many went (a flow run counts once, with everything of it that
    /// goes along) and how long the transaction held the writer. Calls running at once on several replicas take disjoint records
    /// (PostgreSQL's `FOR UPDATE SKIP LOCKED`; SQLite has one writer).
    async fn prune(&self, kind: Prunable, before: Micros, limit: usize) -> Result<Pruned>;
}
