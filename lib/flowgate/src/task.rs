//! Running a task call as a recorded task run: states reported as events (Pending, Running,
//! then Completed or Failed, with AwaitingRetry between attempts), retries, panics caught and
//! recorded, parameters and a result reference recorded.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::context::{self, Frame, TaskRunRef};
use crate::error::TaskError;
use crate::future::{Slot, TaskFuture};
use crate::logging;

/// Results larger than this are recorded as a size, not inline.
const MAX_INLINE_RESULT: usize = 64 * 1024;

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

/// How a task's return value turns into a recorded result (implemented by the wrappers the
/// macros put around a task body's value).
pub trait TaskOutcome {
    /// What a submitted task's future yields.
    type Value;
    /// What a direct call returns.
    type Output;
    /// The value as JSON, or the failure message.
    fn json(&self) -> Result<Value, String>;
    /// The direct call's return value.
    fn into_output(self) -> Self::Output;
    /// The future's value, or the failure message.
    fn into_value(self) -> Result<Self::Value, String>;
}

/// A task that returns a plain value (failure is a panic).
pub struct Plain<T>(pub T);

/// A task that returns `Result<T, E>`: `Err` is a failure, retried and recorded with `E`'s text.
pub struct Fallible<T, E>(pub Result<T, E>);

fn to_json<T: Serialize>(value: &T) -> Result<Value, String> {
    serde_json::to_value(value)
        .map_err(|e| format!("the result cannot be serialised for the record: {e}"))
}

/// The result reference recorded in a state: the value inline, or its size when large.
pub(crate) fn result_reference(json: Value) -> Value {
    let size = json.to_string().len();
    if size <= MAX_INLINE_RESULT {
        json!({"type": "json", "value": json})
    } else {
        json!({"type": "json", "omitted": true, "bytes": size})
    }
}

impl<T: Serialize> TaskOutcome for Plain<T> {
    type Value = T;
    type Output = T;
    fn json(&self) -> Result<Value, String> {
        to_json(&self.0)
    }
    fn into_output(self) -> T {
        self.0
    }
    fn into_value(self) -> Result<T, String> {
        Ok(self.0)
    }
}

impl<T: Serialize, E: std::fmt::Display> TaskOutcome for Fallible<T, E> {
    type Value = T;
    type Output = Result<T, E>;
    fn json(&self) -> Result<Value, String> {
        match &self.0 {
            Ok(v) => to_json(v),
            Err(e) => Err(e.to_string()),
        }
    }
    fn into_output(self) -> Result<T, E> {
        self.0
    }
    fn into_value(self) -> Result<T, String> {
        self.0.map_err(|e| e.to_string())
    }
}

/// The parts of a `Result` type, so generated code can name a fallible task's value type.
pub trait ResultParts {
    /// The success type.
    type Ok;
}

impl<T, E> ResultParts for Result<T, E> {
    type Ok = T;
}

/// Resolves a submitted task's argument: waits for a future input.
pub fn resolve<T: Clone>(input: crate::Input<T>) -> Result<(T, Option<Uuid>), TaskError> {
    input.resolve()
}

/// A call's arguments as recorded: each parameter's JSON, or why it has none.
#[derive(Default)]
pub struct Params {
    values: Vec<(&'static str, Result<Value, String>)>,
    upstream: Vec<(&'static str, Uuid)>,
}

impl Params {
    /// No parameters yet.
    pub fn new() -> Params {
        Params::default()
    }

    /// Records parameter `name`.
    pub fn add<T: Serialize>(mut self, name: &'static str, value: &T) -> Params {
        self.values
            .push((name, serde_json::to_value(value).map_err(|e| e.to_string())));
        self
    }

    /// Records that parameter `name` came from task run `from`.
    pub fn upstream(mut self, name: &'static str, from: Option<Uuid>) -> Params {
        if let Some(id) = from {
            self.upstream.push((name, id));
        }
        self
    }

    /// The parameters as a JSON object, or the first one that cannot be serialised.
    pub(crate) fn to_json(&self) -> Result<Value, (String, String)> {
        let mut map = Map::new();
        for (name, v) in &self.values {
            match v {
                Ok(v) => {
                    map.insert((*name).to_owned(), v.clone());
                }
                Err(e) => return Err(((*name).to_owned(), e.clone())),
            }
        }
        Ok(Value::Object(map))
    }

    /// Prefect's `task_inputs`: upstream task runs per parameter.
    fn task_inputs(&self) -> Value {
        let mut map = Map::new();
        for (name, _) in &self.values {
            let refs: Vec<Value> = self
                .upstream
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, id)| json!({"input_type": "task_run", "id": id}))
                .collect();
            map.insert((*name).to_owned(), Value::Array(refs));
        }
        Value::Object(map)
    }
}

/// A task run being executed: what its events say.
pub(crate) struct LiveTaskRun {
    meta: &'static TaskMeta,
    frame: Frame,
    pub id: Uuid,
    pub name: String,
    dynamic_key: String,
    parameters: Value,
    task_inputs: Value,
    run_count: i64,
    expected_start: String,
    start_time: Option<String>,
    running_since: Option<Instant>,
    total_run_time: f64,
    previous: Option<(Uuid, &'static str)>,
}

impl LiveTaskRun {
    /// Registers a new task run of `meta` in the frame's flow run and reports it Pending.
    pub fn start(
        meta: &'static TaskMeta,
        id: Uuid,
        frame: Frame,
        params: &Params,
    ) -> Result<LiveTaskRun, TaskError> {
        let key = frame.flow.next_key(meta.key);
        let name = format!("{}-{:03x}", meta.name, id.as_u128() as u16 & 0xfff);
        let mut live = LiveTaskRun {
            meta,
            frame,
            id,
            name,
            dynamic_key: key.to_string(),
            parameters: Value::Object(Map::new()),
            task_inputs: params.task_inputs(),
            run_count: 0,
            expected_start: crate::stamp(jiff::Timestamp::now()),
            start_time: None,
            running_since: None,
            total_run_time: 0.0,
            previous: None,
        };
        let parameters = params.to_json();
        if let Ok(p) = &parameters {
            live.parameters = p.clone();
        }
        live.emit("PENDING", "Pending", None, None, None);
        match parameters {
            Ok(_) => Ok(live),
            Err((param, message)) => {
                let err = TaskError::Serialization {
                    task: live.name.clone(),
                    what: format!("parameter `{param}`"),
                    message,
                };
                live.emit("FAILED", "Failed", Some(&err.to_string()), None, None);
                Err(err)
            }
        }
    }

    /// The frame task code runs in.
    fn task_frame(&self) -> Frame {
        Frame {
            flow: self.frame.flow.clone(),
            task: Some(TaskRunRef {
                id: self.id,
                name: self.name.clone(),
            }),
        }
    }

    fn emit(
        &mut self,
        ty: &'static str,
        name: &str,
        message: Option<&str>,
        data: Option<Value>,
        details: Option<Value>,
    ) {
        let at = crate::stamp(jiff::Timestamp::now());
        if ty == "RUNNING" {
            self.run_count += 1;
            self.start_time.get_or_insert_with(|| at.clone());
            self.running_since = Some(Instant::now());
        } else if let Some(since) = self.running_since.take() {
            self.total_run_time += since.elapsed().as_secs_f64();
        }
        let event_id = Uuid::now_v7();
        let flow = &self.frame.flow;
        let terminal = matches!(ty, "COMPLETED" | "FAILED" | "CRASHED" | "CANCELLED");
        let mut task_run = json!({
            "run_count": self.run_count, "flow_run_run_count": flow.run_count,
            "total_run_time": self.total_run_time,
        });
        // The task run's description goes in its first event only; the server fills later
        // reports from earlier ones, so repeating it would only cost bytes and parsing.
        if self.previous.is_none() {
            let description = json!({
                "name": self.name, "task_key": self.meta.key, "dynamic_key": self.dynamic_key,
                "empirical_policy": {"max_retries": self.meta.retries, "retry_delay_seconds": self.meta.retry_delay,
                                     "retries": self.meta.retries, "retry_delay": self.meta.retry_delay},
                "tags": self.meta.tags, "labels": {}, "task_inputs": self.task_inputs,
                "parameters": self.parameters, "expected_start_time": self.expected_start,
            });
            if let (Value::Object(t), Value::Object(d)) = (&mut task_run, description) {
                t.extend(d);
            }
        }
        if let Some(start) = &self.start_time {
            task_run["start_time"] = json!(start);
        }
        if terminal {
            task_run["end_time"] = json!(at);
        }
        let event = json!({
            "id": event_id, "occurred": at, "event": format!("prefect.task-run.{name}"),
            "resource": {"prefect.resource.id": format!("prefect.task-run.{}", self.id),
                         "prefect.resource.name": self.name, "prefect.state-type": ty,
                         "prefect.state-name": name, "prefect.run-count": self.run_count.to_string(),
                         "prefect.orchestration": "client"},
            "related": [{"prefect.resource.id": format!("prefect.flow-run.{}", flow.id),
                         "prefect.resource.role": "flow-run", "prefect.resource.name": flow.name}],
            "payload": {
                "intended": {"from": self.previous.map(|p| p.1), "to": ty},
                "validated_state": {"type": ty, "name": name, "message": message.unwrap_or(""),
                                    "state_details": details.unwrap_or_else(|| json!({})), "data": data},
                "task_run": task_run,
            },
            "follows": self.previous.map(|p| p.0),
        });
        self.previous = Some((event_id, ty));
        flow.engine.events.send(event.to_string());
    }

    /// Records one attempt's result. Returns how long to wait before the next attempt, or
    /// `None` when the run is over.
    fn settle(&mut self, failure: Option<String>, data: Option<Value>) -> Option<Duration> {
        match failure {
            None => {
                self.emit("COMPLETED", "Completed", None, data, None);
                logging::task_finished(&self.task_frame(), "Completed()");
                None
            }
            Some(message) if self.run_count <= i64::from(self.meta.retries) => {
                let delay = Duration::from_secs_f64(self.meta.retry_delay.max(0.0));
                let at = jiff::Timestamp::now()
                    + jiff::SignedDuration::try_from(delay).unwrap_or_default();
                let details = json!({"scheduled_time": crate::stamp(at)});
                self.emit(
                    "SCHEDULED",
                    "AwaitingRetry",
                    Some(&message),
                    None,
                    Some(details),
                );
                logging::task_log(
                    &self.task_frame(),
                    30,
                    &format!(
                        "Task run failed with {message}. Retry {}/{} will start {}.",
                        self.run_count,
                        self.meta.retries,
                        if delay.is_zero() {
                            "immediately".to_owned()
                        } else {
                            format!("in {} s", delay.as_secs_f64())
                        }
                    ),
                );
                Some(delay)
            }
            Some(message) => {
                self.emit("FAILED", "Failed", Some(&message), None, None);
                logging::task_finished(&self.task_frame(), &format!("Failed('{message}')"));
                None
            }
        }
    }
}

/// How a run ended, for the caller.
enum Ended<O> {
    /// The body returned (its outcome may be a failure value).
    Returned(O),
    /// The last attempt panicked.
    Panicked(Box<dyn Any + Send>),
    /// The run failed without a value (timeout).
    Error(TaskError),
}

/// The text of a panic payload.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}

/// One attempt's result, settled: `Err(delay)` means try again after `delay`.
fn settle_attempt<O: TaskOutcome>(
    live: &mut LiveTaskRun,
    attempt: Result<O, Box<dyn Any + Send>>,
    elapsed: Duration,
) -> Result<Ended<O>, Duration> {
    let (mut failure, data) = match &attempt {
        Ok(o) => match o.json() {
            Ok(value) => (None, Some(result_reference(value))),
            Err(message) => (Some(message), None),
        },
        Err(p) => (
            Some(format!("panicked: {}", panic_message(p.as_ref()))),
            None,
        ),
    };
    let timed_out =
        failure.is_none() && live.meta.timeout.is_some_and(|t| elapsed.as_secs_f64() > t);
    if timed_out {
        failure = Some(format!(
            "exceeded its timeout of {} s",
            live.meta.timeout.unwrap_or_default()
        ));
    }
    if let Some(delay) = live.settle(failure, data) {
        return Err(delay);
    }
    Ok(match attempt {
        _ if timed_out => Ended::Error(TaskError::TimedOut {
            task: live.name.clone(),
            seconds: live.meta.timeout.unwrap_or_default(),
        }),
        Ok(o) => Ended::Returned(o),
        Err(p) => Ended::Panicked(p),
    })
}

/// Runs the attempts of a synchronous task body in the current thread.
fn run_sync<O: TaskOutcome>(live: &mut LiveTaskRun, body: &mut dyn FnMut(bool) -> O) -> Ended<O> {
    loop {
        live.emit("RUNNING", "Running", None, None, None);
        let last = live.run_count > i64::from(live.meta.retries);
        let started = Instant::now();
        let attempt = context::enter(live.task_frame(), || {
            catch_unwind(AssertUnwindSafe(|| body(last)))
        });
        match settle_attempt(live, attempt, started.elapsed()) {
            Ok(ended) => return ended,
            Err(delay) => std::thread::sleep(delay),
        }
    }
}

/// Runs the attempts of an async task body.
async fn run_async<O, F, Fut>(live: &mut LiveTaskRun, body: &mut F) -> Ended<O>
where
    O: TaskOutcome,
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = O>,
{
    loop {
        live.emit("RUNNING", "Running", None, None, None);
        let last = live.run_count > i64::from(live.meta.retries);
        let started = Instant::now();
        let fut = context::enter_async(
            live.task_frame(),
            AssertUnwindSafe(body(last)).catch_unwind(),
        );
        let attempt = match live.meta.timeout {
            Some(t) => match tokio::time::timeout(Duration::from_secs_f64(t), fut).await {
                Ok(a) => a,
                Err(_) => {
                    Err(Box::new(format!("exceeded its timeout of {t} s")) as Box<dyn Any + Send>)
                }
            },
            None => fut.await,
        };
        match settle_attempt(live, attempt, started.elapsed()) {
            Ok(ended) => return ended,
            Err(delay) => tokio::time::sleep(delay).await,
        }
    }
}

/// Runs a task run's attempts to the end: its value as JSON, or why it has none.
pub(crate) fn run_to_end<O: TaskOutcome>(
    live: &mut LiveTaskRun,
    body: &mut dyn FnMut(bool) -> O,
) -> Result<Value, TaskError> {
    let task = live.name.clone();
    match run_sync(live, body) {
        Ended::Returned(o) => o
            .json()
            .map_err(|message| TaskError::Failed { task, message }),
        Ended::Panicked(p) => Err(TaskError::Panicked {
            task,
            message: panic_message(p.as_ref()),
        }),
        Ended::Error(e) => Err(e),
    }
}

/// The direct-call result: the body's output, or the failure re-raised as a panic (a direct
/// call of a task has no other way to fail; submit the task to get failures as values).
fn into_output<O: TaskOutcome>(ended: Ended<O>) -> O::Output {
    match ended {
        Ended::Returned(o) => o.into_output(),
        Ended::Panicked(p) => resume_unwind(p),
        Ended::Error(e) => panic!("{e}"),
    }
}

/// Runs a direct call of a synchronous task. Outside a flow, the body runs unrecorded.
/// `body(last_attempt)` is called once per attempt.
pub fn call_task<O: TaskOutcome>(
    meta: &'static TaskMeta,
    params: Params,
    mut body: impl FnMut(bool) -> O,
) -> O::Output {
    let Some(frame) = context::current() else {
        return body(true).into_output();
    };
    match LiveTaskRun::start(meta, Uuid::now_v7(), frame, &params) {
        Ok(mut live) => into_output(run_sync(&mut live, &mut body)),
        Err(e) => panic!("{e}"),
    }
}

/// Runs a direct call of an async task.
pub async fn call_task_async<O, F, Fut>(
    meta: &'static TaskMeta,
    params: Params,
    mut body: F,
) -> O::Output
where
    O: TaskOutcome,
    F: FnMut(bool) -> Fut,
    Fut: Future<Output = O>,
{
    let Some(frame) = context::current() else {
        return body(true).await.into_output();
    };
    match LiveTaskRun::start(meta, Uuid::now_v7(), frame, &params) {
        Ok(mut live) => into_output(run_async(&mut live, &mut body).await),
        Err(e) => panic!("{e}"),
    }
}

/// What a submitted task needs once its inputs are resolved: its recorded parameters and body.
pub type Prepared<O> = (Params, Box<dyn FnMut(bool) -> O + Send>);

/// Submits a synchronous task to the current flow's task runner. `prepare` runs on the runner:
/// it resolves future inputs (failing with [`TaskError::Upstream`]) and returns the parameters
/// and the body. Outside a flow, the task runs at once, unrecorded.
pub fn submit_task<O>(
    meta: &'static TaskMeta,
    prepare: impl FnOnce() -> Result<Prepared<O>, TaskError> + Send + 'static,
    read: fn(Value) -> Result<O::Value, String>,
) -> TaskFuture<O::Value>
where
    O: TaskOutcome + 'static,
    O::Value: Send + 'static,
{
    let slot = Slot::new();
    let frame = context::current();
    let id = Uuid::now_v7();
    let future = TaskFuture::new(slot.clone(), id);
    if let Some(frame) = frame.as_ref().filter(|f| f.flow.runner.is_distributed()) {
        frame.flow.track(slot.clone());
        crate::distributed::submit_remote(meta, frame.clone(), id, slot, prepare, read);
        return future;
    }
    let job_slot = slot.clone();
    let job_frame = frame.clone();
    let job = move || job_slot.complete(execute_submitted(meta, id, job_frame, prepare));
    match frame {
        Some(frame) => {
            frame.flow.track(slot);
            frame.flow.runner.spawn(Box::new(job));
        }
        None => job(),
    }
    future
}

fn execute_submitted<O: TaskOutcome>(
    meta: &'static TaskMeta,
    id: Uuid,
    frame: Option<Frame>,
    prepare: impl FnOnce() -> Result<Prepared<O>, TaskError>,
) -> Result<O::Value, TaskError> {
    let (params, mut body) = prepare()?;
    let Some(frame) = frame else {
        return body(true)
            .into_value()
            .map_err(|message| TaskError::Failed {
                task: meta.name.to_owned(),
                message,
            });
    };
    let mut live = LiveTaskRun::start(meta, id, frame, &params)?;
    let task = live.name.clone();
    match run_sync(&mut live, &mut body) {
        Ended::Returned(o) => o
            .into_value()
            .map_err(|message| TaskError::Failed { task, message }),
        Ended::Panicked(p) => Err(TaskError::Panicked {
            task,
            message: panic_message(p.as_ref()),
        }),
        Ended::Error(e) => Err(e),
    }
}

/// Builds the [`TaskError::Upstream`] for parameter `input` of `meta`.
pub fn upstream_failed(meta: &'static TaskMeta, input: &str, cause: TaskError) -> TaskError {
    TaskError::Upstream {
        task: meta.name.to_owned(),
        input: input.to_owned(),
        cause: cause.to_string(),
    }
}
