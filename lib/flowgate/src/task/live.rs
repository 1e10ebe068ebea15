//! A task run's state machine: registered Pending, each attempt Running, then Completed,
//! Failed, or AwaitingRetry before the next attempt. Every state change goes to the server as
//! a `prefect.task-run.<State>` event (the flow never waits on the server for a task call).

use std::future::{Future, ready};
use std::time::{Duration, Instant};

use flowgate_wire::events::Event;
use flowgate_wire::task_runs::{ReportedState, TaskRunEventPayload, TaskRunReport, Transition};
use flowgate_wire::{Micros, StateType};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Params, TaskMeta};
use crate::attempt::{Attempted, Begin, Finished, Machine, Step};
use crate::context::{Frame, TaskRunRef};
use crate::error::{ApiError, TaskError};
use crate::logging;
use crate::outcome::{ErrorValue, result_reference, to_json};

/// Now, as the API writes times.
fn now() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

/// A resource's labels.
fn labels<const N: usize>(pairs: [(&str, String); N]) -> Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect()
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
    expected_start: Micros,
    start_time: Option<Micros>,
    running_since: Option<Instant>,
    total_run_time: f64,
    previous: Option<(Uuid, StateType)>,
}

impl LiveTaskRun {
    /// Registers a new task run of `meta` in the frame's flow run and reports it Pending (then
    /// Failed, when a parameter cannot be recorded).
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
            expected_start: now(),
            start_time: None,
            running_since: None,
            total_run_time: 0.0,
            previous: None,
        };
        let parameters = params.to_json();
        if let Ok(p) = &parameters {
            live.parameters = p.clone();
        }
        live.emit(StateType::Pending, "Pending", None, None, None);
        match parameters {
            Ok(_) => Ok(live),
            Err((param, message)) => {
                let err = TaskError::Serialization {
                    task: live.name.clone(),
                    what: format!("parameter `{param}`"),
                    message,
                };
                live.emit(
                    StateType::Failed,
                    "Failed",
                    Some(&err.to_string()),
                    None,
                    None,
                );
                Err(err)
            }
        }
    }

    /// Ends the run Crashed before any attempt: the server could not give it its tags' slots.
    pub fn crash(&mut self, error: ApiError) -> TaskError {
        let message = format!("the task's tag concurrency slots could not be taken: {error}");
        self.emit(StateType::Crashed, "Crashed", Some(&message), None, None);
        logging::for_frame(&self.task_frame()).error(format!("Crashed: {message}"));
        TaskError::Infrastructure {
            task: self.name.clone(),
            error,
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

    /// Reports a state change as a `prefect.task-run.<name>` event.
    fn emit(
        &mut self,
        ty: StateType,
        name: &str,
        message: Option<&str>,
        data: Option<Value>,
        details: Option<Map<String, Value>>,
    ) {
        let at = now();
        if ty == StateType::Running {
            self.run_count += 1;
            self.start_time.get_or_insert(at);
            self.running_since = Some(Instant::now());
        } else if let Some(since) = self.running_since.take() {
            self.total_run_time += since.elapsed().as_secs_f64();
        }
        let flow = &self.frame.flow;
        let mut report = TaskRunReport {
            run_count: Some(self.run_count),
            flow_run_run_count: Some(flow.run_count),
            total_run_time: Some(self.total_run_time),
            start_time: self.start_time,
            end_time: ty.is_terminal().then_some(at),
            ..Default::default()
        };
        // The task run's description goes in its first event only; the server fills later
        // reports from earlier ones, so repeating it would only cost bytes and parsing.
        if self.previous.is_none() {
            let (retries, delay) = (self.meta.retries, self.meta.retry_delay);
            report.name = Some(self.name.clone());
            report.task_key = Some(self.meta.key.to_owned());
            report.dynamic_key = Some(self.dynamic_key.clone());
            report.empirical_policy =
                Some(json!({"max_retries": retries, "retry_delay_seconds": delay,
                                                  "retries": retries, "retry_delay": delay}));
            report.tags = Some(self.meta.tags.iter().map(|t| (*t).to_owned()).collect());
            report.labels = Some(Value::Object(Map::new()));
            report.task_inputs = Some(self.task_inputs.clone());
            report.parameters = Some(self.parameters.clone());
            report.expected_start_time = Some(self.expected_start);
        }
        let payload = TaskRunEventPayload {
            intended: Some(Transition {
                from: self.previous.map(|p| p.1),
                to: ty,
            }),
            initial_state: None,
            validated_state: ReportedState {
                state_type: ty,
                name: name.to_owned(),
                message: message.unwrap_or_default().to_owned(),
                state_details: details.unwrap_or_default(),
                data,
            },
            task_run: report,
        };
        let event = Event {
            id: Uuid::now_v7(),
            occurred: at,
            event: format!("prefect.task-run.{name}"),
            resource: labels([
                (
                    "prefect.resource.id",
                    format!("prefect.task-run.{}", self.id),
                ),
                ("prefect.resource.name", self.name.clone()),
                ("prefect.state-type", ty.as_str().to_owned()),
                ("prefect.state-name", name.to_owned()),
                ("prefect.run-count", self.run_count.to_string()),
                ("prefect.orchestration", "client".to_owned()),
            ]),
            related: vec![labels([
                (
                    "prefect.resource.id",
                    format!("prefect.flow-run.{}", flow.id),
                ),
                ("prefect.resource.role", "flow-run".to_owned()),
                ("prefect.resource.name", flow.name.clone()),
            ])],
            payload: serde_json::value::to_raw_value(&payload).ok(),
            follows: self.previous.map(|p| p.0),
            received: None,
        };
        self.previous = Some((event.id, ty));
        match serde_json::to_string(&event) {
            Ok(text) => flow.engine.events.send(text),
            Err(e) => {
                tracing::error!(target: "flowgate", "a task-run event could not be written: {e}")
            }
        }
    }

    /// Records one attempt's result. Returns how long to wait before the next attempt, or
    /// `None` when the run is over.
    fn record(&mut self, failure: Option<&str>, data: Option<Value>) -> Option<Duration> {
        let frame = self.task_frame();
        match failure {
            None => {
                self.emit(StateType::Completed, "Completed", None, data, None);
                logging::for_frame(&frame).info("Finished in state Completed()");
                None
            }
            Some(message) if self.run_count <= i64::from(self.meta.retries) => {
                let delay = Duration::from_secs_f64(self.meta.retry_delay.max(0.0));
                let at = jiff::Timestamp::now()
                    + jiff::SignedDuration::try_from(delay).unwrap_or_default();
                let at = Micros::from_timestamp(at);
                let details = Map::from_iter([("scheduled_time".to_owned(), json!(at))]);
                self.emit(
                    StateType::Scheduled,
                    "AwaitingRetry",
                    Some(message),
                    None,
                    Some(details),
                );
                logging::for_frame(&frame).warning(format!(
                    "Task run failed with {message}. Retry {}/{} will start {}.",
                    self.run_count,
                    self.meta.retries,
                    if delay.is_zero() {
                        "immediately".to_owned()
                    } else {
                        format!("in {} s", delay.as_secs_f64())
                    }
                ));
                Some(delay)
            }
            Some(message) => {
                self.emit(StateType::Failed, "Failed", Some(message), None, None);
                logging::for_frame(&frame).error(format!("Finished in state Failed('{message}')"));
                None
            }
        }
    }

    /// Settles an attempt: records it, and says whether to retry or what the caller gets.
    fn settle_now<V: Serialize, E: ErrorValue>(
        &mut self,
        attempted: Attempted<Result<V, E>>,
    ) -> Step<Finished<V, E, TaskError>> {
        // The serialiser's message, when the body's value cannot be recorded.
        let mut unserialisable = None;
        let (failure, data) = match &attempted {
            Attempted::Returned(Ok(v)) => match to_json(v) {
                Ok(json) => (None, Some(result_reference(json))),
                Err(m) => {
                    let failure = format!("the result cannot be serialised for the record: {m}");
                    unserialisable = Some(m);
                    (Some(failure), None)
                }
            },
            Attempted::Returned(Err(e)) => (Some(e.to_string()), None),
            Attempted::Panicked(p) => (Some(format!("panicked: {}", p.message)), None),
            Attempted::TimedOut(after) => (
                Some(format!("timed out after {} s", after.as_secs_f64())),
                None,
            ),
        };
        if let Some(delay) = self.record(failure.as_deref(), data) {
            return Step::Retry(delay);
        }
        let task = self.name.clone();
        Step::Done(match attempted {
            Attempted::Returned(Ok(v)) => match unserialisable {
                None => Finished::Value(v),
                Some(message) => Finished::Error(TaskError::Serialization {
                    task,
                    what: "the result".to_owned(),
                    message,
                }),
            },
            Attempted::Returned(Err(e)) => Finished::UserError(e),
            Attempted::Panicked(p) => {
                if let Some(backtrace) = &p.backtrace {
                    logging::for_frame(&self.task_frame())
                        .debug(format!("Backtrace of the panic:\n{backtrace}"));
                }
                Finished::Panicked(p)
            }
            Attempted::TimedOut(after) => Finished::Error(TaskError::TimedOut { task, after }),
        })
    }
}

impl<V: Serialize, E: ErrorValue> Machine<Result<V, E>> for LiveTaskRun {
    type Done = Finished<V, E, TaskError>;

    fn begin(&mut self) -> Begin {
        self.emit(StateType::Running, "Running", None, None, None);
        Begin {
            last: self.run_count > i64::from(self.meta.retries),
            frame: Some(self.task_frame()),
        }
    }

    fn settle(
        &mut self,
        attempted: Attempted<Result<V, E>>,
    ) -> impl Future<Output = Step<Self::Done>> {
        ready(self.settle_now(attempted))
    }

    fn resume(&mut self) -> impl Future<Output = Result<(), Self::Done>> {
        ready(Ok(()))
    }
}
