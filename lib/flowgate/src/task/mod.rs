//! Running a task call as a recorded task run. Every way to call a task goes through
//! [`execute`]: the plain call (`add(1, 2)`, answered by [`plain`]: panicking on anything but
//! the body's own error), `add::run(1, 2)` ([`into_result`]: every failure a [`TaskError`]),
//! and `add::submit(1, 2)` (the run goes to the flow's task runner; its [`TaskFuture`]
//! resolves to what `run` returns). Sync and async tasks differ only in the [`Attempts`]
//! driving the body and in how the caller waits ([`now`] or `.await`).

mod live;
mod params;

use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

pub use params::Params;

use live::LiveTaskRun;

use crate::attempt::{Attempted, Attempts, Begin, Finished, drive};
use crate::concurrency;
use crate::context::{self, Frame};
use crate::error::{TaskError, UserError};
use crate::flow::Stop;
use crate::future::{Input, Slot, TaskFuture};
use crate::outcome::ErrorValue;
use crate::runner::AsyncJob;

/// What `#[task(...)]` declares about a task.
#[derive(Debug)]
pub struct TaskMeta {
    /// Display name (the function's name unless `name = "..."`).
    pub name: &'static str,
    /// Identifies the task function (its module path and name).
    pub key: &'static str,
    /// Extra attempts after a failure.
    pub retries: u32,
    /// Seconds between attempts.
    pub retry_delay: f64,
    /// Tags recorded on each task run.
    pub tags: &'static [&'static str],
    /// Seconds an attempt may take.
    pub timeout: Option<f64>,
}

/// Runs a task call to its end: a recorded task run inside a flow (`frame`), a plain call
/// outside one. Returns the task run's name with the outcome.
pub(crate) async fn execute<A, V, E>(
    meta: &'static TaskMeta,
    id: Uuid,
    frame: Option<Frame>,
    params: &Params,
    mut attempts: A,
) -> (String, Finished<V, E, TaskError>)
where
    A: Attempts<Output = Result<V, E>>,
    V: Serialize + DeserializeOwned,
    E: ErrorValue,
{
    let Some(frame) = frame else {
        context::warn_unrecorded(meta.name, meta.key);
        let unrecorded = Begin {
            last: true,
            frame: None,
        };
        let finished = match attempts.attempt(unrecorded).await {
            Attempted::Returned(Ok(v)) => Finished::Value(v),
            Attempted::Returned(Err(e)) => Finished::UserError(e),
            Attempted::Panicked(p) => Finished::Panicked(p),
            Attempted::TimedOut(after) => Finished::Error(TaskError::TimedOut {
                task: meta.name.to_owned(),
                after,
            }),
        };
        return (meta.name.to_owned(), finished);
    };
    // The run was suspended or cancelled from outside: the flow stops here (one atomic load
    // while nobody asks; nothing is sent).
    if let Some(stop) = frame.flow.stop.check() {
        return (meta.name.to_owned(), Finished::Error(stopped(meta, stop)));
    }
    if let Some((name, value)) = earlier_result(meta, &frame, params) {
        return (name, Finished::Value(value));
    }
    let engine = frame.flow.engine.clone();
    let mut live = match LiveTaskRun::start(meta, id, frame, params) {
        Ok(live) => live,
        Err(e) => return (meta.name.to_owned(), Finished::Error(e)),
    };
    // A run with tags holds their slots from before its first attempt to after its last; the
    // guard gives them back on any other way out (a panic unwinding through here). A run without
    // tags skips both trips to the engine's runtime: they doubled a sequential task call's cost.
    let slots = if meta.tags.is_empty() {
        None
    } else {
        let taking = concurrency::take_tag_slots(engine.clone(), id, meta.tags);
        match attempts.wait_for(engine.handle(), taking).await {
            Ok(slots) => Some(slots),
            Err(error) => return (live.name.clone(), Finished::Error(live.crash(error))),
        }
    };
    let finished = drive(&mut live, &mut attempts).await;
    if let Some(slots) = slots {
        let giving_back = concurrency::give_back_tag_slots(slots);
        if let Err(e) = attempts.wait_for(engine.handle(), giving_back).await {
            tracing::warn!(target: "flowgate", "task run {}: its tag slots were not given back ({e}); they free when its lease expires", live.name);
        }
    }
    (live.name, finished)
}

/// Why a call of `meta` did not run: its flow run was asked to `stop`.
fn stopped(meta: &'static TaskMeta, stop: Stop) -> TaskError {
    let why = match stop {
        Stop::Suspended => "its flow run was suspended".to_owned(),
        Stop::Cancelled(reason) => format!("its flow run was cancelled ({reason})"),
    };
    TaskError::Stopped {
        task: meta.name.to_owned(),
        why,
    }
}

/// A call for task workers is not queued once its flow run was asked to stop (a call run
/// here finds out in [`execute`]).
fn refuse_remote<V>(meta: &'static TaskMeta, frame: &Frame, slot: &Slot<V>) -> bool {
    match frame.flow.stop.check() {
        Some(stop) => {
            slot.complete(Err(stopped(meta, stop)));
            true
        }
        None => false,
    }
}

/// In a flow run taken over from an earlier process (a suspended run resumed), the result that
/// process recorded for this call (same task, same parameters), read back: the task is not run
/// again, and the call takes its dynamic key as a run would. `None` runs the task.
fn earlier_result<V: DeserializeOwned>(
    meta: &'static TaskMeta,
    frame: &Frame,
    params: &Params,
) -> Option<(String, V)> {
    let parameters = params.to_json().ok()?;
    let (name, value) = frame.flow.earlier.take(meta.key, &parameters)?;
    let value = serde_json::from_value(value).ok()?;
    frame.flow.next_key(meta.key);
    crate::logging::for_frame(frame).info(format!(
        "Task run '{name}' completed in an earlier process of this flow run; its result is \
         used and the task is not run again"
    ));
    Some((name, value))
}

/// What a plain call returns: the body's outcome; other failures panic.
pub fn plain<V, E>((_, finished): (String, Finished<V, E, TaskError>)) -> Result<V, E> {
    finished.into_plain()
}

/// What `task::run` and a future return: every failure as a [`TaskError`].
pub fn into_result<V, E: ErrorValue>(
    (task, finished): (String, Finished<V, E, TaskError>),
) -> Result<V, TaskError> {
    match finished {
        Finished::Value(v) => Ok(v),
        Finished::UserError(e) => Err(TaskError::Failed {
            task,
            error: UserError::new(e),
        }),
        Finished::Panicked(p) => Err(TaskError::Panicked {
            task,
            message: p.message,
        }),
        Finished::Error(e) => Err(e),
    }
}

/// Runs a direct call of a task in the caller's context (see [`execute`]).
pub async fn call<A, V, E>(
    meta: &'static TaskMeta,
    params: Params,
    attempts: A,
) -> (String, Finished<V, E, TaskError>)
where
    A: Attempts<Output = Result<V, E>>,
    V: Serialize + DeserializeOwned,
    E: ErrorValue,
{
    let frame = context::current();
    execute(meta, Uuid::now_v7(), frame, &params, attempts).await
}

/// Finishes a future whose attempts never wait on a waker (a synchronous task's) at once.
pub fn now<F: Future>(fut: F) -> F::Output {
    fut.now_or_never()
        .expect("a synchronous task's attempts finish without waiting on a waker")
}

/// A new future and, inside a flow, the frame that runs it (the flow waits for it).
fn new_submission<V: Send + 'static>() -> (Arc<Slot<V>>, TaskFuture<V>, Option<Frame>, Uuid) {
    let slot = Slot::new();
    let id = Uuid::now_v7();
    let frame = context::current();
    if let Some(f) = &frame {
        f.flow.track(slot.clone());
    }
    (slot.clone(), TaskFuture::new(slot, id), frame, id)
}

/// Submits a synchronous task to the current flow's task runner. `prepare` runs on the runner:
/// it resolves future inputs (failing with [`TaskError::Upstream`]) and returns the parameters
/// and the attempts. Outside a flow, the task runs at once, unrecorded.
pub fn submit_task<P, A, V, E>(meta: &'static TaskMeta, prepare: P) -> TaskFuture<V>
where
    P: FnOnce() -> Result<(Params, A), TaskError> + Send + 'static,
    A: Attempts<Output = Result<V, E>>,
    V: Serialize + DeserializeOwned + Send + 'static,
    E: ErrorValue,
{
    let (slot, future, frame, id) = new_submission();
    if let Some(frame) = frame.as_ref().filter(|f| f.flow.runner.is_distributed()) {
        if refuse_remote(meta, frame, &slot) {
            return future;
        }
        let params = async move {
            tokio::task::spawn_blocking(move || prepare().map(|(params, _)| params))
                .await
                .unwrap_or_else(|e| {
                    Err(TaskError::Panicked {
                        task: meta.name.to_owned(),
                        message: e.to_string(),
                    })
                })
        };
        crate::distributed::submit_remote(meta, frame.clone(), id, slot, params);
        return future;
    }
    let runner = frame.as_ref().map(|f| f.flow.runner.clone());
    let job = move || {
        let outcome = prepare().and_then(|(params, attempts)| {
            into_result(now(execute(meta, id, frame, &params, attempts)))
        });
        slot.complete(outcome);
    };
    match runner {
        Some(runner) => runner.spawn(Box::new(job)),
        None => job(),
    }
    future
}

/// Submits an async task: to the task runner's threads, or (by default) as a tokio task on the
/// caller's runtime. `prepare` awaits future inputs and returns the parameters and attempts.
pub fn submit_async_task<P, F, Fut, V, E>(meta: &'static TaskMeta, prepare: P) -> TaskFuture<V>
where
    P: Future<Output = Result<(Params, crate::attempt::Async<F>), TaskError>> + Send + 'static,
    F: FnMut(bool) -> Fut + Send + 'static,
    Fut: Future<Output = Result<V, E>> + Send + 'static,
    V: Serialize + DeserializeOwned + Send + 'static,
    E: ErrorValue,
{
    let (slot, future, frame, id) = new_submission();
    let Some(frame) = frame else {
        let job = async move {
            let outcome = match prepare.await {
                Ok((params, attempts)) => {
                    into_result(execute(meta, id, None, &params, attempts).await)
                }
                Err(e) => Err(e),
            };
            slot.complete(outcome);
        };
        crate::runner::spawn_detached(job);
        return future;
    };
    if frame.flow.runner.is_distributed() {
        if refuse_remote(meta, &frame, &slot) {
            return future;
        }
        let params = async move { prepare.await.map(|(params, _)| params) };
        crate::distributed::submit_remote(meta, frame.clone(), id, slot, params);
        return future;
    }
    let runner = frame.flow.runner.clone();
    let engine = frame.flow.engine.clone();
    let job = async move {
        let outcome = match prepare.await {
            Ok((params, attempts)) => {
                into_result(execute(meta, id, Some(frame), &params, attempts).await)
            }
            Err(e) => Err(e),
        };
        slot.complete(outcome);
    };
    runner.spawn_async(AsyncJob::new(job, engine));
    future
}

/// Resolves a submitted task's argument: waits for a future input.
pub fn resolve<T>(input: Input<T>) -> Result<(T, Option<Uuid>), TaskError> {
    input.resolve()
}

/// Resolves an async submitted task's argument: awaits a future input.
pub async fn resolve_async<T>(input: Input<T>) -> Result<(T, Option<Uuid>), TaskError> {
    input.resolve_async().await
}

/// Builds the [`TaskError::Upstream`] for parameter `input` of `meta`.
pub fn upstream_failed(meta: &'static TaskMeta, input: &str, cause: TaskError) -> TaskError {
    TaskError::Upstream {
        task: meta.name.to_owned(),
        input: input.to_owned(),
        cause: Box::new(cause),
    }
}
