//! Running a flow call as a recorded flow run (see [`machine`] for its states). The code the
//! macros generate composes [`execute`] with a way to wait (a sync flow blocks the calling
//! thread with [`crate::block::block_on`], an async flow `.await`s) and a way to answer: the
//! plain call ([`plain`], panicking on anything but the body's own error) or
//! `my_flow::run(...)` ([`into_result`], every failure a [`FlowError`]).

mod earlier;
mod machine;
mod stop;

pub(crate) use earlier::EarlierResults;
pub(crate) use machine::{ParentLink, WORKER_RUN_ENV, adopting, parent_task_run};
pub(crate) use stop::{Stop, StopSignal};

use serde::Serialize;

use crate::attempt::{Attempts, Finished, drive};
use crate::context;
use crate::engine::Engine;
use crate::error::{FlowError, UserError};
use crate::outcome::ErrorValue;
use crate::runner::IntoTaskRunner;
use crate::task::Params;
use machine::FlowMachine;

/// What `#[flow(...)]` declares about a flow.
#[derive(Debug)]
pub struct FlowMeta {
    /// The flow's name (the function's name with `-` for `_`, unless `name = "..."`).
    pub name: &'static str,
    /// Extra attempts after a failure (orchestrated by the server).
    pub retries: u32,
    /// Seconds between attempts.
    pub retry_delay: f64,
    /// Tags recorded on each flow run.
    pub tags: &'static [&'static str],
    /// Whether `println!` in the body is also logged.
    pub log_prints: bool,
    /// Seconds an attempt may take.
    pub timeout: Option<f64>,
}

/// Runs a flow call to its end: opens the run (a subflow of the caller's flow run, if any),
/// drives its attempts, and says how it ended.
pub async fn execute<A, V, E>(
    meta: &'static FlowMeta,
    params: Params,
    runner: impl IntoTaskRunner,
    mut attempts: A,
) -> Finished<V, E, FlowError<V>>
where
    A: Attempts<Output = Result<V, E>>,
    V: Serialize,
    E: ErrorValue,
{
    let runner = match runner.into_runner() {
        Ok(r) => r,
        Err(e) => return Finished::Error(FlowError::Invalid(format!("invalid task runner: {e}"))),
    };
    let parameters = match params.to_json() {
        Ok(p) => p,
        Err((p, m)) => {
            return Finished::Error(FlowError::Invalid(format!(
                "parameter `{p}` cannot be serialised for the record: {m}"
            )));
        }
    };
    let parent = context::current();
    // A subflow called after its parent's run was suspended or cancelled is not started: the
    // parent stops at this call as at a task call.
    if let Some(stop) = parent.as_ref().and_then(|p| p.flow.stop.check()) {
        return Finished::Error(match stop {
            Stop::Suspended => FlowError::Suspended,
            Stop::Cancelled(reason) => FlowError::Cancelled(reason),
        });
    }
    let engine = match parent.as_ref().map(|f| f.flow.engine.clone()) {
        Some(engine) => engine,
        None => match Engine::current() {
            Ok(engine) => engine,
            Err(e) => return Finished::Error(FlowError::Infrastructure(e)),
        },
    };
    match FlowMachine::open(meta, engine, runner, parameters, parent.as_ref()).await {
        Ok(mut machine) => drive(&mut machine, &mut attempts).await,
        Err(e) => Finished::Error(e),
    }
}

/// What a plain call returns: the body's outcome; other failures panic, naming the flow. A
/// suspended flow ends its caller too: a subflow's suspension unwinds into its parent's body,
/// and a top-level flow's ends the process (exit code 0: the run waits to be resumed).
pub fn plain<V, E>(meta: &FlowMeta, finished: Finished<V, E, FlowError<V>>) -> Result<V, E> {
    match finished {
        Finished::Error(FlowError::Suspended) if context::current().is_some() => {
            std::panic::resume_unwind(Box::new(crate::pause::Suspension))
        }
        Finished::Error(FlowError::Suspended) => {
            tracing::info!(target: "flowgate", "flow {}: suspended; this process ends", meta.name);
            std::process::exit(0)
        }
        Finished::Error(e) => panic!("flow {}: {e}", meta.name),
        other => other.into_plain(),
    }
}

/// What `my_flow::run` returns: every failure as a [`FlowError`].
pub fn into_result<V, E: ErrorValue>(
    finished: Finished<V, E, FlowError<V>>,
) -> Result<V, FlowError<V>> {
    match finished {
        Finished::Value(v) => Ok(v),
        Finished::UserError(e) => Err(FlowError::Failed(UserError::new(e))),
        Finished::Panicked(p) => Err(FlowError::Panicked(p.message)),
        Finished::Error(e) => Err(e),
    }
}
