//! What the store can do, one capability per module: each holds the records it keeps, the
//! queries it answers, and its trait. [`Store`](crate::Store) is the union of the traits.
//!
//! A new capability (work pools, concurrency limits, automations) is a new module here, a new
//! module in `sql_store/` implementing its trait, a migration, and one line in `Store`.

pub mod artifacts;
pub mod automations;
pub mod blocks;
pub mod concurrency_limits;
pub mod deployments;
pub mod events;
pub mod flow_runs;
pub mod flows;
pub mod inputs;
pub mod logs;
pub mod maintenance;
pub mod retention;
pub mod task_queue;
pub mod task_runs;
pub mod variables;
pub mod work_pools;
