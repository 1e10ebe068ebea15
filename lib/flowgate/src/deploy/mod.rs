//! Deployments: a flow packaged to run on demand or on a schedule, in a work pool's queue (run
//! by `flowgate worker start`) or served by the program itself.
//!
//! `#[flow]` gives every flow `my_flow::deployment("name")`, a [`Deployment`] builder:
//!
//! ```no_run
//! use flowgate::{Deployments, Schedule, flow};
//!
//! #[flow]
//! fn nightly_etl(day: String, limit: Option<u32>) -> u64 {
//!     limit.unwrap_or(10).into()
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     Deployments::new()
//!         .with(
//!             nightly_etl::deployment("nightly")
//!                 .work_pool("etl")
//!                 .schedule(Schedule::cron("0 3 * * *").timezone("Europe/Berlin"))
//!                 .parameter("day", "monday")
//!                 .tags(["etl"])
//!                 .concurrency_limit(1),
//!         )
//!         .main() // deploys, or runs the run a worker started this process for
//! }
//! ```
//!
//! The parameters' JSON Schema is generated from the flow's argument types ([`params`]), and
//! the server checks every run against it. The command a worker runs defaults to this program
//! itself: started by a worker (`FLOWGATE_FLOW_RUN_ID` in its environment), the program's
//! [`Deployments::main`] runs that run ([`run`]) instead of deploying.

mod builder;
pub(crate) mod params;
pub(crate) mod run;
mod serve;

pub use builder::{CollisionStrategy, DeployError, Deployed, Deployment, Schedule};
pub use params::FlowParameters;
pub use run::Deployments;
