//! Retention: removing what has aged out, a small batch per call, so a pass never holds the
//! writer for long and several replicas share the work instead of repeating it.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::retention::Prunable;

use crate::store::Result;

/// Removes aged records.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Removes at most `limit` records of `kind` from before `before` (oldest first), in one
    /// transaction; returns how many went (a flow run counts once, with everything of it that
    /// goes along). Calls running at once on several replicas take disjoint records
    /// (PostgreSQL's `FOR UPDATE SKIP LOCKED`; SQLite has one writer).
    async fn prune(&self, kind: Prunable, before: Micros, limit: usize) -> Result<usize>;
}
