//! Flowgate's storage. One trait per capability ([`FlowStore`], [`FlowRunStore`],
//! [`TaskRunStore`], [`EventStore`], [`LogStore`], [`InputStore`], [`TaskQueueStore`],
//! [`WorkPoolStore`], [`ConcurrencyLimitStore`], [`DeploymentStore`], [`VariableStore`], [`ArtifactStore`], [`BlockStore`], [`RetentionStore`]) and [`Store`], their union; [`open`] returns
//! the one implementation, on SQLite (the embedded default) or on PostgreSQL (for several server
//! replicas), from one body of SQL with the differences between the two kept in one private
//! trait. The database driver stays inside this
//! crate: its errors become [`StoreError`]s. Only the server opens a store, with the [`SecretKey`] that seals block documents'
//! secret values.

mod backend;
pub mod capabilities;
pub mod model;
mod schema;
mod secrets;
mod sql;
mod sql_store;
mod store;

pub use capabilities::artifacts::ArtifactStore;
pub use capabilities::automations::AutomationStore;
pub use capabilities::blocks::BlockStore;
pub use capabilities::concurrency_limits::ConcurrencyLimitStore;
pub use capabilities::deployments::DeploymentStore;
pub use capabilities::events::EventStore;
pub use capabilities::flow_runs::FlowRunStore;
pub use capabilities::flows::FlowStore;
pub use capabilities::inputs::InputStore;
pub use capabilities::logs::LogStore;
pub use capabilities::maintenance::{Checkpointed, MaintenanceStore};
pub use capabilities::retention::{Pruned, RetentionStore};
pub use capabilities::task_queue::TaskQueueStore;
pub use capabilities::task_runs::TaskRunStore;
pub use capabilities::variables::VariableStore;
pub use capabilities::work_pools::WorkPoolStore;
pub use secrets::SecretKey;
pub use sql_store::open;
pub use store::{DynStore, Result, Store, StoreError};
