//! The storage interface the server programs against: [`Store`], the union of every
//! capability's trait, and [`StoreError`], the one error they share.

use std::sync::Arc;

use crate::capabilities::artifacts::ArtifactStore;
use crate::capabilities::automations::AutomationStore;
use crate::capabilities::blocks::BlockStore;
use crate::capabilities::concurrency_limits::ConcurrencyLimitStore;
use crate::capabilities::deployments::DeploymentStore;
use crate::capabilities::events::EventStore;
use crate::capabilities::flow_runs::FlowRunStore;
use crate::capabilities::flows::FlowStore;
use crate::capabilities::inputs::InputStore;
use crate::capabilities::logs::LogStore;
use crate::capabilities::maintenance::MaintenanceStore;
use crate::capabilities::retention::RetentionStore;
use crate::capabilities::task_queue::TaskQueueStore;
use crate::capabilities::task_runs::TaskRunStore;
use crate::capabilities::variables::VariableStore;
use crate::capabilities::work_pools::WorkPoolStore;

/// Why a store operation failed. The server maps each variant to one HTTP status; none carries
/// the database driver's error, and only [`StoreError::NotFound`], [`StoreError::Conflict`] and
/// [`StoreError::Invalid`] carry text meant for the client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// What kind of record, e.g. "flow run".
        kind: &'static str,
        /// The id or name looked up.
        id: String,
    },
    /// The write conflicts with stored data (e.g. a unique name).
    #[error("{0}")]
    Conflict(String),
    /// The value cannot be stored as given (e.g. text with a NUL character on PostgreSQL), or
    /// the database URL is not one the store opens.
    #[error("{0}")]
    Invalid(String),
    /// The database is unreachable, overloaded or shutting down: retrying later may succeed.
    /// The text is for the server's log.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The database refused the operation for a reason not listed above. The text is for the
    /// server's log.
    #[error("database error: {0}")]
    Database(String),
    /// A stored value could not be read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A shared, dynamically dispatched store.
pub type DynStore = Arc<dyn Store>;

/// Everything the server reads and writes: the union of the capability traits. Each method is
/// one transaction: it either happens whole and durably (once it returns `Ok`) or not at all.
/// Any type implementing every capability is a `Store`, and every capability's methods are
/// callable on a [`DynStore`] without importing its trait.
pub trait Store:
    FlowStore
    + FlowRunStore
    + TaskRunStore
    + EventStore
    + LogStore
    + InputStore
    + TaskQueueStore
    + WorkPoolStore
    + ConcurrencyLimitStore
    + DeploymentStore
    + VariableStore
    + ArtifactStore
    + BlockStore
    + AutomationStore
    + RetentionStore
    + MaintenanceStore
    + 'static
{
}

impl<T> Store for T where
    T: FlowStore
        + FlowRunStore
        + TaskRunStore
        + EventStore
        + LogStore
        + InputStore
        + TaskQueueStore
        + WorkPoolStore
        + ConcurrencyLimitStore
        + DeploymentStore
        + VariableStore
        + ArtifactStore
        + BlockStore
        + AutomationStore
        + RetentionStore
        + MaintenanceStore
        + 'static
{
}
