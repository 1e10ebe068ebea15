//! Running a flow call as a recorded flow run: created Pending, moved to Running, its body run
//! (tasks inside report to it), its submitted tasks awaited, its events and logs flushed, then
//! Completed or Failed as the server's orchestration decides (flow retries come back as
//! `AwaitingRetry`). A flow called inside another flow is a subflow, linked through a parent
//! task run.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::uuid_field;
use crate::context::{self, FlowRunScope, Frame};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::logging;
use crate::runner::{IntoTaskRunner, TaskRunner};
use crate::task::{Params, TaskOutcome, panic_message};

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
}

fn fail(meta: &FlowMeta, e: impl std::fmt::Display) -> ! {
    panic!("flow {}: {e}", meta.name)
}

/// Creates the run (and, for a subflow, its parent task run) and moves it to Running.
async fn open_run(
    engine: Arc<Engine>,
    meta: &'static FlowMeta,
    parameters: Value,
    parent: Option<(Uuid, String, u64)>,
) -> Result<(Uuid, String), ApiError> {
    let flow_id = engine.flow_id(meta.name).await?;
    let parent_task_run_id = match parent {
        Some((parent_run, parent_name, key)) => {
            let task = engine
                .api
                .post(
                    "a subflow's parent task run",
                    "/task_runs/",
                    &json!({"flow_run_id": parent_run, "task_key": meta.name, "dynamic_key": key.to_string(),
                            "name": format!("{}-{key}", meta.name), "state": {"type": "PENDING"},
                            "labels": {"parent_flow_run": parent_name}}),
                )
                .await?;
            Some(uuid_field(&task, "id")?)
        }
        None => None,
    };
    let run = engine
        .api
        .post(
            "creating a flow run",
            "/flow_runs/",
            &json!({"flow_id": flow_id, "parameters": parameters, "tags": meta.tags,
                    "parent_task_run_id": parent_task_run_id, "state": {"type": "PENDING"},
                    "empirical_policy": {"retries": meta.retries, "retry_delay": meta.retry_delay}}),
        )
        .await?;
    let id = uuid_field(&run, "id")?;
    let name = run["name"].as_str().unwrap_or_default().to_owned();
    engine
        .api
        .set_flow_run_state(id, json!({"type": "RUNNING"}))
        .await?
        .accepted("moving the run to Running")?;
    Ok((id, name))
}

/// What happens after an attempt.
enum Next {
    /// The run is over.
    Done,
    /// Run the body again at this delay (the server put the run in `AwaitingRetry`).
    Retry(Duration),
}

/// Waits for tasks the body submitted but did not wait for, warning about them.
fn wait_outstanding(frame: &Frame) {
    let outstanding = frame.flow.take_outstanding();
    let unobserved = outstanding.iter().filter(|c| !c.observed()).count();
    for c in &outstanding {
        c.wait_done();
    }
    if unobserved > 0 {
        logging::for_frame(frame).warning(format!(
            "{unobserved} submitted task run(s) were not waited for before the flow returned; \
             Flowgate waited for them. Resolve futures with .wait(), .result(), wait() or as_completed()"
        ));
    }
}

/// Flushes the run's events and logs, then proposes its final state. When the outcome cannot
/// be turned into a retry (success, or the last attempt), the closing log line goes out with
/// the same flush instead of a second one.
async fn close_attempt(
    scope: Arc<FlowRunScope>,
    failure: Option<String>,
    data: Option<Value>,
    last: bool,
) -> Result<Next, ApiError> {
    let engine = scope.engine.clone();
    let frame = Frame {
        flow: scope.clone(),
        task: None,
    };
    let finished = match &failure {
        None => "Finished in state Completed()".to_owned(),
        Some(m) => format!("Finished in state Failed('{m}')"),
    };
    let final_for_sure = failure.is_none() || last;
    if final_for_sure {
        logging::for_frame(&frame).info(&finished);
    }
    // Every task run and log line reaches the server before the run is declared finished.
    if let Err(e) = engine.events.flush().await {
        eprintln!("flowgate: flow run {}: {e}", scope.name);
    }
    let state = match &failure {
        None => json!({"type": "COMPLETED", "data": data}),
        Some(message) => json!({"type": "FAILED", "message": message}),
    };
    let answer = engine.api.set_flow_run_state(scope.id, state).await?;
    if let Some(reason) = &answer.aborted {
        logging::for_frame(&frame).warning(format!(
            "The run keeps its state {}: {reason}",
            answer.state["name"]
        ));
        let _ = engine.events.flush().await;
        return Ok(Next::Done);
    }
    if answer.state["type"] == "SCHEDULED" {
        let at = answer.state["state_details"]["scheduled_time"]
            .as_str()
            .and_then(|s| s.parse::<jiff::Timestamp>().ok());
        let delay = at
            .map(|at| {
                (at - jiff::Timestamp::now())
                    .try_into()
                    .unwrap_or(Duration::ZERO)
            })
            .unwrap_or(Duration::ZERO);
        logging::for_frame(&frame).warning(format!(
            "Flow run failed ({}); the server scheduled a retry in {:.1} s",
            failure.unwrap_or_default(),
            delay.as_secs_f64()
        ));
        let _ = engine.events.flush().await;
        return Ok(Next::Retry(delay));
    }
    if !final_for_sure {
        logging::for_frame(&frame).info(&finished);
        let _ = engine.events.flush().await;
    }
    Ok(Next::Done)
}

async fn rerun(scope: Arc<FlowRunScope>, delay: Duration) -> Result<(), ApiError> {
    tokio::time::sleep(delay).await;
    scope
        .engine
        .api
        .set_flow_run_state(scope.id, json!({"type": "RUNNING"}))
        .await?
        .accepted("rerunning the flow")?;
    Ok(())
}

/// An attempt's failure message and result reference.
fn judge<O: TaskOutcome>(
    attempt: &Result<O, Box<dyn Any + Send>>,
) -> (Option<String>, Option<Value>) {
    match attempt {
        Ok(o) => match o.json() {
            Ok(value) => (None, Some(crate::task::result_reference(value))),
            Err(m) => (Some(m), None),
        },
        Err(p) => (
            Some(format!(
                "Flow run encountered a panic: {}",
                panic_message(p.as_ref())
            )),
            None,
        ),
    }
}

/// Prepares a run: the engine (a parent flow's, else this thread's), the runner, the run itself.
fn prepare(
    meta: &'static FlowMeta,
    params: &Params,
    runner: impl IntoTaskRunner,
) -> (Arc<Engine>, Arc<dyn TaskRunner>, Value, Option<Frame>) {
    let runner = runner
        .into_runner()
        .unwrap_or_else(|e| fail(meta, format!("invalid task runner: {e}")));
    let parameters = params.to_json().unwrap_or_else(|(p, e)| {
        fail(
            meta,
            format!("parameter `{p}` cannot be serialised for the record: {e}"),
        )
    });
    let parent = context::current();
    let engine = match &parent {
        Some(f) => f.flow.engine.clone(),
        None => Engine::current().unwrap_or_else(|e| fail(meta, e)),
    };
    (engine, runner, parameters, parent)
}

fn open_scope(
    engine: Arc<Engine>,
    runner: Arc<dyn TaskRunner>,
    (id, name): (Uuid, String),
) -> Arc<FlowRunScope> {
    Arc::new(FlowRunScope::new(engine, id, name, runner))
}

fn parent_link(meta: &'static FlowMeta, parent: &Option<Frame>) -> Option<(Uuid, String, u64)> {
    parent
        .as_ref()
        .map(|f| (f.flow.id, f.flow.name.clone(), f.flow.next_key(meta.name)))
}

/// Runs a synchronous flow call. `body(last_attempt)` runs once per attempt.
pub fn run_flow<O: TaskOutcome>(
    meta: &'static FlowMeta,
    params: Params,
    runner: impl IntoTaskRunner,
    mut body: impl FnMut(bool) -> O,
) -> O::Output {
    let (engine, runner, parameters, parent) = prepare(meta, &params, runner);
    let link = parent_link(meta, &parent);
    let opened = engine.block_on(open_run(engine.clone(), meta, parameters, link));
    let scope = open_scope(
        engine.clone(),
        runner,
        opened.unwrap_or_else(|e| fail(meta, e)),
    );
    let frame = Frame {
        flow: scope.clone(),
        task: None,
    };
    logging::for_frame(&frame).info(format!(
        "Beginning flow run '{}' for flow '{}'",
        scope.name, meta.name
    ));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = attempts > meta.retries;
        let attempt = context::enter(frame.clone(), || {
            catch_unwind(AssertUnwindSafe(|| body(last)))
        });
        wait_outstanding(&frame);
        let (failure, data) = judge(&attempt);
        match engine
            .block_on(close_attempt(scope.clone(), failure, data, last))
            .unwrap_or_else(|e| fail(meta, e))
        {
            Next::Done => {
                return match attempt {
                    Ok(o) => o.into_output(),
                    Err(p) => resume_unwind(p),
                };
            }
            Next::Retry(delay) => engine
                .block_on(rerun(scope.clone(), delay))
                .unwrap_or_else(|e| fail(meta, e)),
        }
    }
}

/// Runs an async flow call.
pub async fn run_flow_async<O, F, Fut>(
    meta: &'static FlowMeta,
    params: Params,
    runner: impl IntoTaskRunner,
    mut body: F,
) -> O::Output
where
    O: TaskOutcome,
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = O>,
{
    let (engine, runner, parameters, parent) = prepare(meta, &params, runner);
    let link = parent_link(meta, &parent);
    let opened = engine
        .run(open_run(engine.clone(), meta, parameters, link))
        .await;
    let scope = open_scope(
        engine.clone(),
        runner,
        opened.unwrap_or_else(|e| fail(meta, e)),
    );
    let frame = Frame {
        flow: scope.clone(),
        task: None,
    };
    logging::for_frame(&frame).info(format!(
        "Beginning flow run '{}' for flow '{}'",
        scope.name, meta.name
    ));
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last = attempts > meta.retries;
        let attempt =
            context::enter_async(frame.clone(), AssertUnwindSafe(body(last)).catch_unwind()).await;
        let waiting = frame.clone();
        let _ =
            engine
                .run(async move {
                    tokio::task::spawn_blocking(move || wait_outstanding(&waiting)).await
                })
                .await;
        let (failure, data) = judge(&attempt);
        match engine
            .run(close_attempt(scope.clone(), failure, data, last))
            .await
            .unwrap_or_else(|e| fail(meta, e))
        {
            Next::Done => {
                return match attempt {
                    Ok(o) => o.into_output(),
                    Err(p) => resume_unwind(p),
                };
            }
            Next::Retry(delay) => engine
                .run(rerun(scope.clone(), delay))
                .await
                .unwrap_or_else(|e| fail(meta, e)),
        }
    }
}
