//! Flowgate for Rust: write flows and tasks as plain functions, and every call becomes a
//! recorded, steerable run on a Flowgate server.
//!
//! ```no_run
//! use flowgate::{FlowError, flow, task};
//!
//! #[task(retries = 2)]
//! fn add(x: i64, y: i64) -> i64 {
//!     x + y
//! }
//!
//! #[flow]
//! fn plain_flow() -> i64 {
//!     let a = add(1, 2);
//!     add(a, 3)
//! }
//!
//! fn main() {
//!     println!("{}", plain_flow()); // a flow run with two task runs, recorded
//!     match plain_flow::run() {
//!         Ok(n) => println!("{n}"),
//!         Err(FlowError::Infrastructure(e)) => eprintln!("the server: {e}"),
//!         Err(other) => eprintln!("{other}"),
//!     }
//! }
//! ```
//!
//! - `#[task]` on a function makes every call inside a flow a task run (states, parameters,
//!   result reference, retries, panics caught and recorded). It also generates a module of the
//!   same name: `add::run(1, 2)` returns every failure as a [`TaskError`]; `add::submit(1, 2)`
//!   runs the task on the flow's task runner and returns a [`TaskFuture`] (blocking `.result()`
//!   or `.await`); `add::submit_with(Input::from(future), Input::value(2))` takes other tasks'
//!   futures as inputs; `add::map(items)` submits one run per item.
//! - `#[flow]` makes every call a flow run; `plain_flow::run()` returns every failure as a
//!   [`FlowError`] (your own error kept typed, a panic, a timeout, a cancellation, the server's
//!   trouble, or the value with the error when only the final report failed);
//!   `task_runner = ThreadPoolTaskRunner::new(3)` picks how submitted tasks run. A flow called
//!   from a flow is a subflow.
//! - A return type implementing [`Fallible`] (any `Result`, under any alias) makes `Err` a
//!   recorded failure, retried as asked.
//! - Async functions work the same way; [`spawn`], [`spawn_thread`] and [`RunContext`] carry a
//!   run's context into tasks and threads you start.
//! - With `FLOWGATE_API_URL` unset, an in-process server on `$FLOWGATE_HOME/flowgate.db` records
//!   the runs (feature `embedded`, on by default), so examples need no set-up. Programs that
//!   always talk to a remote server can turn it off (`default-features = false`).
//! - [`concurrency`] holds slots of a global concurrency limit while its guard lives,
//!   [`rate_limit`] spaces calls out by a limit's decay; a task's tags take their tag limits'
//!   slots while it runs.
//! - `my_flow::deployment("name")` deploys a flow (work pool, schedules, defaults; its parameter
//!   schema from the argument types); [`Deployments::main`] deploys, or runs the run a worker
//!   started the program for; [`Deployments::serve`] runs the deployments' runs in the program;
//!   [`run_deployment`] asks for a run and may wait for it; [`suspend_flow_run_for`] waits for
//!   input with no process held.
//! - `testing::harness()` isolates tests on a temporary database and answers typed queries.

mod api;
mod attempt;
pub mod automations;
mod block;
mod concurrency;
mod context;
mod deploy;
mod distributed;
mod engine;
mod error;
mod events;
mod flow;
mod future;
mod logging;
mod outcome;
mod panic;
mod patience;
mod pause;
mod records;
mod run_deployment;
mod runner;
mod sinks;
mod task;
#[cfg(feature = "embedded")]
pub mod testing;

pub use concurrency::{
    Concurrency, ConcurrencyError, ConcurrencyGuard, LimitNames, RateLimit, concurrency, rate_limit,
};
pub use context::{
    RunContext, current_flow_run_id, current_flow_run_name, current_task_run_id, spawn,
    spawn_thread,
};
pub use deploy::{
    CollisionStrategy, DeployError, Deployed, Deployment, Deployments, FlowParameters, Schedule,
};
pub use distributed::{DistributedTaskRunner, RemoteTask, serve};
pub use error::{ApiError, FlowError, TaskError, UserError};
pub use events::{EmitError, Resource, emit_event, emit_event_async};
pub use flowgate_macros::{RunInput, flow, task};
pub use flowgate_wire::StateType;
pub use future::{AsCompleted, Input, TaskFuture, TaskFutureAwait, as_completed, wait};
pub use logging::{RunLogger, logger};
pub use outcome::{ErrorValue, Fallible};
pub use pause::{
    Pause, PauseError, RunInput, pause_flow_run, pause_flow_run_for, suspend_flow_run,
    suspend_flow_run_for,
};
pub use records::{FlowRun, LogLine, Run, TaskRun};
pub use run_deployment::{RunDeployment, RunDeploymentError, run_deployment};
pub use runner::{
    AsyncJob, IntoTaskRunner, InvalidWorkers, Job, ParallelTaskRunner, SequentialTaskRunner,
    TaskRunner, ThreadPoolTaskRunner,
};
/// The `schemars` version `RunInput` types derive `JsonSchema` from (1.x).
pub use schemars;

/// The API URL flows on this thread report to (`FLOWGATE_API_URL`, a test harness's, or the
/// embedded server's, which this starts if needed): hand it to task workers.
pub fn api_url() -> Result<String, ApiError> {
    engine::Engine::current().map(|e| e.api_url().to_owned())
}

/// Everything a flow file usually needs.
pub mod prelude {
    pub use crate::{
        DistributedTaskRunner, FlowError, Input, ParallelTaskRunner, SequentialTaskRunner,
        TaskError, TaskFuture, ThreadPoolTaskRunner, as_completed, flow, logger, task, wait,
    };
}

/// Used by the code `#[flow]` and `#[task]` generate; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::attempt::{Async, Inline, Threaded};
    pub use crate::block::block_on;
    pub use crate::distributed::{RemoteCall, decode, run_remote};
    pub use crate::flow::{
        FlowMeta, execute as flow, into_result as flow_result, plain as flow_plain,
    };
    pub use crate::logging::print_and_log;
    pub use crate::outcome::{NotFallible, Outcome, Probe};
    pub use crate::pause::DerivesJsonSchema;
    pub use crate::task::{
        Params, TaskMeta, call as task, into_result as task_result, now, plain as task_plain,
        resolve, resolve_async, submit_async_task, submit_task, upstream_failed,
    };
    pub use serde_json::Value;
}

/// `println!` that also logs the line to the current run (what `log_prints` rewrites to).
#[doc(hidden)]
#[macro_export]
macro_rules! __log_println {
    ($($arg:tt)*) => { $crate::__private::print_and_log(format_args!($($arg)*)) };
}
