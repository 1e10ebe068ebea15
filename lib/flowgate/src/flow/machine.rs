//! A flow run's state machine: created Pending and moved to Running (with its parent task run
//! when it is a subflow), then after each attempt its submitted tasks awaited, its events and
//! logs flushed, and Completed or Failed proposed. The server's orchestration decides what
//! happens: a retry comes back as `AwaitingRetry`, a cancellation as Cancelling or Cancelled,
//! anything else it refuses as an error the caller can match.

use std::cell::Cell;
use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use flowgate_wire::flow_runs::{FlowRun, FlowRunCreate};
use flowgate_wire::states::{State, StateCreate};
use flowgate_wire::task_runs::{TaskRun, TaskRunCreate};
use flowgate_wire::{Micros, StateType};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::FlowMeta;
use crate::api::Answer;
use crate::attempt::{Attempted, Begin, Finished, Machine, Step};
use crate::context::{ActiveFlow, FlowRunScope, Frame};
use crate::engine::Engine;
use crate::error::{ApiError, FlowError};
use crate::flow::EarlierResults;
use crate::flow::stop::{self, Stop, Watch};
use crate::logging;
use crate::outcome::{ErrorValue, result_reference, to_json};
use crate::runner::TaskRunner;

/// A flow run in progress.
pub(crate) struct FlowMachine {
    meta: &'static FlowMeta,
    scope: Arc<FlowRunScope>,
    attempts: u32,
    _active: ActiveFlow,
    _watch: Option<Watch>,
}

/// What the server decided about an attempt's final state.
enum Closed {
    /// The run is over.
    Done,
    /// Run the body again at this delay (the server put the run in `AwaitingRetry`).
    Retry(Duration),
    /// The run was cancelled meanwhile.
    Cancelled(String),
}

/// How an attempt's outcome is recorded: the failure message, or the result reference.
type Verdict = Result<Option<Value>, String>;

/// A subflow's link to its parent: the parent run, its name, and the call's dynamic key.
pub(crate) type ParentLink = (Uuid, String, u64);

/// Creates the task run that stands for a child run (a subflow's, or a deployment's run asked
/// for inside a flow) in its parent flow run, named after `task_key`; the server has it follow
/// the child's state. Its id is chosen here, so a resent request finds it.
pub(crate) async fn parent_task_run(
    engine: &Engine,
    (parent_run, parent_name, key): ParentLink,
    task_key: &str,
) -> Result<Uuid, ApiError> {
    let id = Uuid::now_v7();
    let create = TaskRunCreate {
        id: Some(id),
        name: Some(format!("{task_key}-{key}")),
        flow_run_id: Some(parent_run),
        task_key: task_key.to_owned(),
        dynamic_key: key.to_string(),
        labels: Some(json!({"parent_flow_run": parent_name})),
        state: Some(StateCreate::new(StateType::Pending)),
        ..Default::default()
    };
    let _: TaskRun = engine
        .api
        .post("a child run's parent task run", "/task_runs/", &create)
        .await?;
    Ok(id)
}

/// Creates the run (and, for a subflow, its parent task run). Both requests are idempotent:
/// the task run's id and the flow run's idempotency key are chosen here, so a request resent
/// after a lost answer finds what the first one created.
async fn create_run(
    engine: Arc<Engine>,
    meta: &'static FlowMeta,
    parameters: Value,
    parent: Option<ParentLink>,
) -> Result<(Uuid, String), ApiError> {
    let flow_id = engine.flow_id(meta.name).await?;
    let parent_task_run_id = match parent {
        Some(link) => Some(parent_task_run(&engine, link, meta.name).await?),
        None => None,
    };
    let create = FlowRunCreate {
        flow_id,
        state: Some(StateCreate::new(StateType::Pending)),
        parameters: Some(parameters),
        parent_task_run_id,
        empirical_policy: Some(json!({"retries": meta.retries, "retry_delay": meta.retry_delay})),
        tags: Some(meta.tags.iter().map(|t| (*t).to_owned()).collect()),
        idempotency_key: Some(Uuid::new_v4().to_string()),
        ..Default::default()
    };
    let run: FlowRun = engine
        .api
        .post("creating a flow run", "/flow_runs/", &create)
        .await?;
    Ok((run.id, run.name))
}

/// The environment variable naming the flow run a worker started this process for
/// (`flowgate worker` sets it, beside Prefect's `PREFECT__FLOW_RUN_ID`).
pub const WORKER_RUN_ENV: &str = "FLOWGATE_FLOW_RUN_ID";

/// Whether this process's worker run was taken: only the first top-level call of its flow
/// reports into it; every later call makes a run of its own.
static WORKER_RUN_TAKEN: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The run the next top-level flow call on this thread reports into (see [`adopting`]).
    static ADOPT: Cell<Option<Uuid>> = const { Cell::new(None) };
}

/// Runs `f` so that the first top-level flow call it makes on this thread reports into the
/// existing run `id` (handed to this program by a worker or by serving) instead of creating one.
pub(crate) fn adopting<R>(id: Uuid, f: impl FnOnce() -> R) -> R {
    if worker_run_id() == Some(id) {
        WORKER_RUN_TAKEN.store(true, Ordering::SeqCst);
    }
    ADOPT.with(|a| a.set(Some(id)));
    let out = f();
    ADOPT.with(|a| a.set(None));
    out
}

fn worker_run_id() -> Option<Uuid> {
    std::env::var(WORKER_RUN_ENV)
        .ok()
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
}

/// The run a worker started this process for, when it is a run of `meta`'s flow and no call
/// took it yet: a deployed program's flow reports into the run the worker was handed instead of
/// creating another (for a program that calls its flow itself rather than through
/// `Deployments`).
async fn worker_run(
    engine: &Arc<Engine>,
    meta: &'static FlowMeta,
) -> Result<Option<Opened>, NotStarted> {
    let Some(id) = worker_run_id() else {
        return Ok(None);
    };
    if WORKER_RUN_TAKEN.load(Ordering::SeqCst) {
        return Ok(None);
    }
    let run = read_run(engine, id).await?;
    let flow_id = engine
        .flow_id(meta.name)
        .await
        .map_err(NotStarted::Failed)?;
    if run.flow_id != flow_id || WORKER_RUN_TAKEN.swap(true, Ordering::SeqCst) {
        return Ok(None);
    }
    adopt(engine, run).await.map(Some)
}

async fn read_run(engine: &Engine, id: Uuid) -> Result<FlowRun, NotStarted> {
    engine
        .api
        .get("the flow run to run", &format!("/flow_runs/{id}"))
        .await
        .map_err(NotStarted::Failed)
}

/// A run this process reports into: its id, its name, what earlier processes did for it, and
/// for a run taken over, the time of the Running state it started from (it is watched for
/// stops asked from then on).
type Opened = (Uuid, String, EarlierResults, Option<Micros>);

/// Takes over an existing run: a worker moves it to Running before starting the process; a run
/// still Scheduled (served) or Pending is moved here. The results of the task runs earlier
/// processes completed for it are read, so those tasks are not run again.
async fn adopt(engine: &Arc<Engine>, run: FlowRun) -> Result<Opened, NotStarted> {
    if run.state_type == Some(StateType::Scheduled) {
        let answer = engine
            .api
            .set_flow_run_state(run.id, StateCreate::new(StateType::Pending))
            .await
            .map_err(NotStarted::Failed)?;
        answer
            .accepted("moving the handed-out run to Pending")
            .map_err(NotStarted::Failed)?;
    }
    let running_since = match &run.state {
        Some(state) if state.state_type == StateType::Running => state.timestamp,
        _ => {
            start_running(
                engine.clone(),
                run.id,
                "moving the handed-out run to Running",
            )
            .await?
        }
    };
    let earlier = EarlierResults::load(engine, run.id)
        .await
        .map_err(NotStarted::Failed)?;
    Ok((run.id, run.name, earlier, Some(running_since)))
}

/// Why a run could not be (re)started.
enum NotStarted {
    /// It was cancelled meanwhile.
    Cancelled(String),
    /// The server could not be reached, or refused.
    Failed(ApiError),
}

impl<V> From<NotStarted> for FlowError<V> {
    fn from(n: NotStarted) -> FlowError<V> {
        match n {
            NotStarted::Cancelled(reason) => FlowError::Cancelled(reason),
            NotStarted::Failed(e) => FlowError::Infrastructure(e),
        }
    }
}

/// Proposes Running: before the first attempt, and before each retry. Runs on the engine's
/// runtime (called inside [`Engine::run`]). Returns when the run entered Running.
async fn start_running(engine: Arc<Engine>, id: Uuid, what: &str) -> Result<Micros, NotStarted> {
    let answer = engine
        .api
        .set_flow_run_state(id, StateCreate::new(StateType::Running))
        .await
        .map_err(NotStarted::Failed)?;
    if answer.cancelled() {
        return Err(NotStarted::Cancelled(cancel_reason(answer.state())));
    }
    let state = answer.accepted(what).map_err(NotStarted::Failed)?;
    Ok(state.map_or_else(
        || Micros::from_timestamp(jiff::Timestamp::now()),
        |s| s.timestamp,
    ))
}

fn cancel_reason(state: Option<&State>) -> String {
    state
        .and_then(|s| s.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| "the run was cancelled".to_owned())
}

impl FlowMachine {
    /// Creates the run, moves it to Running, and registers it as in progress.
    pub async fn open<V>(
        meta: &'static FlowMeta,
        engine: Arc<Engine>,
        runner: Arc<dyn TaskRunner>,
        parameters: Value,
        parent: Option<&Frame>,
    ) -> Result<FlowMachine, FlowError<V>> {
        let link = parent.map(|f| (f.flow.id, f.flow.name.clone(), f.flow.next_key(meta.name)));
        let handed_out = match link {
            None => ADOPT.with(Cell::take),
            Some(_) => None,
        };
        // One hop to the engine's runtime for both requests.
        let (id, name, earlier, running_since) = engine
            .run({
                let engine = engine.clone();
                async move {
                    if let Some(id) = handed_out {
                        return adopt(&engine, read_run(&engine, id).await?).await;
                    }
                    if link.is_none()
                        && let Some(adopted) = worker_run(&engine, meta).await?
                    {
                        return Ok(adopted);
                    }
                    let (id, name) = create_run(engine.clone(), meta, parameters, link)
                        .await
                        .map_err(NotStarted::Failed)?;
                    start_running(engine, id, "moving the run to Running").await?;
                    Ok::<_, NotStarted>((id, name, EarlierResults::default(), None))
                }
            })
            .await?;
        let mut scope = FlowRunScope::new(engine.clone(), id, name, Some(meta.name), runner)
            .with_earlier(earlier);
        if let Some(parent) = parent {
            scope = scope.with_stop(parent.flow.stop.clone());
        }
        let scope = Arc::new(scope);
        // A run taken over (a deployment's, from a worker or serving) can be suspended or
        // cancelled from outside: it is watched, and stops at its next task call.
        let watch = running_since.map(|since| stop::watch(&engine, scope.stop.clone(), since));
        let machine = FlowMachine {
            meta,
            _active: ActiveFlow::register(&scope),
            scope,
            attempts: 0,
            _watch: watch,
        };
        machine.log().info(format!(
            "Beginning flow run '{}' for flow '{}'",
            machine.scope.name, meta.name
        ));
        Ok(machine)
    }

    fn frame(&self) -> Frame {
        Frame {
            flow: self.scope.clone(),
            task: None,
        }
    }

    fn log(&self) -> logging::RunLogger {
        logging::for_frame(&self.frame())
    }

    /// Waits for tasks the body submitted but did not wait for, warning about them.
    async fn wait_outstanding(&self) {
        let outstanding = self.scope.take_outstanding();
        let unobserved = outstanding.iter().filter(|c| !c.observed()).count();
        for c in &outstanding {
            poll_fn(|cx| c.poll_done(cx)).await;
        }
        if unobserved > 0 {
            self.log().warning(format!(
                "{unobserved} submitted task run(s) were not waited for before the flow returned; \
                 Flowgate waited for them. Resolve futures with .wait(), .result(), .await, wait() \
                 or as_completed()"
            ));
        }
    }

    /// Flushes the run's events and logs, then proposes its final state. When the outcome
    /// cannot be turned into a retry (success, or the last attempt), the closing log line goes
    /// out with the same flush instead of a second one.
    async fn close(&self, verdict: &Verdict, last: bool) -> Result<Closed, ApiError> {
        let finished = match verdict {
            Ok(_) => "Finished in state Completed()".to_owned(),
            Err(m) => format!("Finished in state Failed('{m}')"),
        };
        let final_for_sure = verdict.is_ok() || last;
        if final_for_sure {
            self.log().info(&finished);
        }
        let state = match verdict {
            Ok(data) => StateCreate {
                data: data.clone(),
                ..StateCreate::new(StateType::Completed)
            },
            Err(message) => StateCreate {
                message: Some(message.clone()),
                ..StateCreate::new(StateType::Failed)
            },
        };
        let (engine, id) = (self.scope.engine.clone(), self.scope.id);
        let answer = self
            .scope
            .engine
            .run(async move {
                // Every task run and log line reaches the server before the run is finished:
                // events that could not be delivered leave the run unfinished, and the caller
                // gets the error (with the value, if any), never a finished run missing them.
                engine
                    .events
                    .flush()
                    .await
                    .map_err(|cause| ApiError::Unreachable {
                        url: engine.api_url().to_owned(),
                        cause,
                    })?;
                engine.api.set_flow_run_state(id, state).await
            })
            .await?;
        let closed = match &answer {
            Answer::Accepted(_) => Closed::Done,
            _ if answer.cancelled() => Closed::Cancelled(cancel_reason(answer.state())),
            Answer::Rejected {
                state: Some(state), ..
            } if state.state_type == StateType::Scheduled => Closed::Retry(retry_delay(state)),
            // The server ended the run first (e.g. a pause that timed out): its record stands,
            // and the caller still gets what the body returned.
            Answer::Aborted { state, reason } => {
                let kept = state.as_ref().map_or("unknown", |s| s.name.as_str());
                self.log()
                    .warning(format!("The run keeps its state {kept}: {reason}"));
                Closed::Done
            }
            _ => {
                return answer
                    .accepted("the run's final state")
                    .map(|_| Closed::Done);
            }
        };
        match &closed {
            Closed::Retry(delay) => self.log().warning(format!(
                "Flow run failed ({}); the server scheduled a retry in {:.1} s",
                verdict.as_ref().err().cloned().unwrap_or_default(),
                delay.as_secs_f64()
            )),
            Closed::Done if !final_for_sure => self.log().info(&finished),
            _ => return Ok(closed),
        }
        self.flush().await;
        Ok(closed)
    }

    /// Waits until the run's events and log lines sent so far are stored (best effort).
    async fn flush(&self) {
        let engine = self.scope.engine.clone();
        let _ = self
            .scope
            .engine
            .run(async move { engine.events.flush().await })
            .await;
    }

    /// A task call found the run suspended or cancelled from outside, so the body did not run
    /// to its end. A suspended run keeps its state (the process has nothing more to do; a
    /// subflow of it is ended Cancelled, and its parent runs it again when resumed); a
    /// cancelled one is ended Cancelled, as a worker would (a refusal means someone ended it
    /// first).
    async fn stopped<V, E>(&self, stop: Stop) -> Finished<V, E, FlowError<V>> {
        let own = self.scope.stop.run == self.scope.id;
        let message = match &stop {
            Stop::Suspended if own => return self.suspended().await,
            Stop::Suspended => {
                "Its parent flow run was suspended; it runs again when the parent is resumed"
                    .to_owned()
            }
            Stop::Cancelled(reason) => reason.clone(),
        };
        self.log().info(format!(
            "Flow run stopped at a task call: {message}; finished in state Cancelled"
        ));
        let state = StateCreate {
            message: Some(message.clone()),
            ..StateCreate::new(StateType::Cancelled)
        };
        let (engine, id) = (self.scope.engine.clone(), self.scope.id);
        let answer = self
            .scope
            .engine
            .run(async move {
                if let Err(e) = engine.events.flush().await {
                    tracing::warn!(target: "flowgate", "flow run {id}: {e}");
                }
                engine.api.set_flow_run_state(id, state).await
            })
            .await;
        if let Err(e) = answer {
            tracing::warn!(target: "flowgate", "flow run '{}' could not be recorded as cancelled: {e}", self.scope.name);
        }
        match stop {
            Stop::Suspended => Finished::Error(FlowError::Suspended),
            Stop::Cancelled(_) => Finished::Error(FlowError::Cancelled(message)),
        }
    }

    /// The body unwound from `suspend_flow_run`: the run stays Suspended (no final state); its
    /// events and logs are flushed before the call returns, since the process may end next.
    async fn suspended<V, E>(&self) -> Finished<V, E, FlowError<V>> {
        self.log().info(
            "Flow run suspended; it runs again from the start when resumed, using the results \
             of the tasks completed so far",
        );
        self.flush().await;
        Finished::Error(FlowError::Suspended)
    }
}

/// How long until the retry the server scheduled.
fn retry_delay(state: &State) -> Duration {
    state
        .state_details
        .get("scheduled_time")
        .and_then(Value::as_str)
        .and_then(|s| Micros::parse(s).ok())
        .map(|at| at.seconds_since(Micros::from_timestamp(jiff::Timestamp::now())))
        .map_or(Duration::ZERO, |secs| {
            Duration::from_secs_f64(secs.max(0.0))
        })
}

/// How an attempt is recorded, and the serialiser's message when its value cannot be.
fn verdict<V: Serialize, E: ErrorValue>(
    attempted: &Attempted<Result<V, E>>,
) -> (Verdict, Option<String>) {
    match attempted {
        Attempted::Returned(Ok(v)) => match to_json(v) {
            Ok(json) => (Ok(Some(result_reference(json))), None),
            Err(m) => (
                Err(format!(
                    "the result cannot be serialised for the record: {m}"
                )),
                Some(m),
            ),
        },
        Attempted::Returned(Err(e)) => (Err(e.to_string()), None),
        Attempted::Panicked(p) => (
            Err(format!("Flow run encountered a panic: {}", p.message)),
            None,
        ),
        Attempted::TimedOut(after) => (
            Err(format!(
                "Flow run timed out after {} s",
                after.as_secs_f64()
            )),
            None,
        ),
    }
}

/// What the caller gets for a recorded attempt.
fn finished<V, E>(
    attempted: Attempted<Result<V, E>>,
    unserialisable: Option<String>,
) -> Finished<V, E, FlowError<V>> {
    match attempted {
        Attempted::Returned(Ok(v)) => match unserialisable {
            None => Finished::Value(v),
            Some(message) => Finished::Error(FlowError::Invalid(format!(
                "the result cannot be serialised for the record: {message}"
            ))),
        },
        Attempted::Returned(Err(e)) => Finished::UserError(e),
        Attempted::Panicked(p) => Finished::Panicked(p),
        Attempted::TimedOut(after) => Finished::Error(FlowError::TimedOut(after)),
    }
}

impl<V: Serialize, E: ErrorValue> Machine<Result<V, E>> for FlowMachine {
    type Done = Finished<V, E, FlowError<V>>;

    fn begin(&mut self) -> Begin {
        self.attempts += 1;
        Begin {
            last: self.attempts > self.meta.retries,
            frame: Some(self.frame()),
        }
    }

    async fn settle(&mut self, attempted: Attempted<Result<V, E>>) -> Step<Self::Done> {
        self.wait_outstanding().await;
        if let Some(stop) = self.scope.stop.obeyed() {
            return Step::Done(self.stopped(stop).await);
        }
        if let Attempted::Panicked(p) = &attempted
            && crate::pause::is_suspension(p.payload.as_ref())
        {
            return Step::Done(self.suspended().await);
        }
        let (verdict, unserialisable) = verdict(&attempted);
        let last = self.attempts > self.meta.retries;
        match self.close(&verdict, last).await {
            Ok(Closed::Done) => Step::Done(finished(attempted, unserialisable)),
            Ok(Closed::Retry(delay)) => Step::Retry(delay),
            Ok(Closed::Cancelled(reason)) => {
                Step::Done(Finished::Error(FlowError::Cancelled(reason)))
            }
            Err(cause) => Step::Done(match attempted {
                Attempted::Returned(Ok(value)) if unserialisable.is_none() => {
                    Finished::Error(FlowError::Unrecorded { value, cause })
                }
                other => {
                    tracing::warn!(target: "flowgate", "flow run '{}' could not be recorded as failed: {cause}", self.scope.name);
                    finished(other, unserialisable)
                }
            }),
        }
    }

    async fn resume(&mut self) -> Result<(), Self::Done> {
        let (engine, id) = (self.scope.engine.clone(), self.scope.id);
        self.scope
            .engine
            .run(start_running(engine, id, "rerunning the flow"))
            .await
            .map(drop)
            .map_err(|e| Finished::Error(e.into()))
    }
}
