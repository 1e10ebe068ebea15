//! A task run's state machine: registered Pending, each attempt Running, then Completed,
//! Failed, or AwaitingRetry before the next attempt. Every state change goes to the server as
//! a `prefect.task-run.<State>` event (the flow never waits on the server for a task call).

use std::future::{Future, ready};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Params, TaskMeta};
use crate::attempt::{Attempted, Begin, Finished, Machine, Step};
use crate::context::{Frame, TaskRunRef};
use crate::error::TaskError;
use crate::logging;
use crate::outcome::{ErrorValue, result_reference, to_json};

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
    fn record(&mut self, failure: Option<&str>, data: Option<Value>) -> Option<Duration> {
        let frame = self.task_frame();
        match failure {
            None => {
                self.emit("COMPLETED", "Completed", None, data, None);
                logging::for_frame(&frame).info("Finished in state Completed()");
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
                self.emit("FAILED", "Failed", Some(message), None, None);
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
        self.emit("RUNNING", "Running", None, None, None);
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
