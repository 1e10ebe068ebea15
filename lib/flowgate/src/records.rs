//! What the server recorded, typed for people writing tests: flow runs, task runs and log lines
//! as the test harness's queries return them, read from the wire types (`flowgate-wire`), with
//! states as [`StateType`] and results readable as your own types.

use std::collections::BTreeMap;

use flowgate_wire::StateType;
use flowgate_wire::states::State;
use flowgate_wire::{flow_runs, logs, task_runs};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// What flow runs and task runs have in common as recorded (a [`FlowRun`] or [`TaskRun`]
/// dereferences to it).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Run {
    /// Its id.
    pub id: Uuid,
    /// Its name (`calm-roadrunner` for a flow run, `add-2b9` for a task run).
    pub name: String,
    /// Its state's type.
    pub state: StateType,
    /// Its state's name (`Completed`, `AwaitingRetry`, …).
    pub state_name: String,
    /// Its state's message (why it failed, for example).
    pub message: Option<String>,
    /// The parameters it was called with.
    pub parameters: Value,
    /// Its tags.
    pub tags: Vec<String>,
    /// How many attempts it made.
    pub run_count: i64,
    /// The recorded value (`{"type": "json", "value": …}`), when inline.
    result: Option<Value>,
}

impl Run {
    fn new(id: Uuid, name: String, state: Option<State>) -> Run {
        let (state_type, state_name, message, result) = match state {
            Some(s) => (
                s.state_type,
                s.name,
                s.message.filter(|m| !m.is_empty()),
                s.data.and_then(|d| d.get("value").cloned()),
            ),
            None => (StateType::Pending, "Pending".to_owned(), None, None),
        };
        Run {
            id,
            name,
            state: state_type,
            state_name,
            message,
            parameters: Value::Null,
            tags: Vec::new(),
            run_count: 0,
            result,
        }
    }

    /// The value it completed with, read as `T` (`None` when it has none or it is not a `T`).
    pub fn result<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.result.clone()?).ok()
    }
}

/// A flow run as recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FlowRun {
    run: Run,
    /// Its flow's name.
    pub flow: String,
    /// For a subflow, the task run that stands for it in the parent run.
    pub parent_task_run_id: Option<Uuid>,
    /// The deployment it is a run of, if any.
    pub deployment_id: Option<Uuid>,
}

impl FlowRun {
    /// A flow run as read from the API; `flows` maps flow ids to names.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))] // read by the test harness
    pub(crate) fn new(w: flow_runs::FlowRun, flows: &BTreeMap<Uuid, String>) -> FlowRun {
        let flow = flows.get(&w.flow_id).cloned().unwrap_or_default();
        FlowRun::named(w, &flow)
    }

    /// A flow run of the flow named `flow`, as read from the API.
    pub(crate) fn named(w: flow_runs::FlowRun, flow: &str) -> FlowRun {
        let mut run = Run::new(w.id, w.name, w.state);
        run.parameters = w.parameters;
        run.tags = w.tags;
        run.run_count = w.run_count;
        FlowRun {
            run,
            flow: flow.to_owned(),
            parent_task_run_id: w.parent_task_run_id,
            deployment_id: w.deployment_id,
        }
    }
}

/// A task run as recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskRun {
    run: Run,
    /// Its task's key (module path and name).
    pub task_key: String,
    /// The flow run it belongs to.
    pub flow_run_id: Option<Uuid>,
    /// Per parameter, the task runs whose futures supplied it.
    pub upstream: BTreeMap<String, Vec<Uuid>>,
}

impl TaskRun {
    /// A task run as read from the API.
    #[cfg_attr(not(feature = "embedded"), allow(dead_code))] // read by the test harness
    pub(crate) fn new(w: task_runs::TaskRun) -> TaskRun {
        let upstream = w
            .task_inputs
            .as_object()
            .into_iter()
            .flatten()
            .map(|(param, inputs)| {
                let ids = inputs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i["id"].as_str()?.parse().ok())
                    .collect::<Vec<Uuid>>();
                (param.clone(), ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect();
        let mut run = Run::new(w.id, w.name, Some(w.state));
        run.parameters = w.parameters;
        run.tags = w.tags;
        run.run_count = w.run_count;
        TaskRun {
            run,
            task_key: w.task_key,
            flow_run_id: w.flow_run_id,
            upstream,
        }
    }

    /// Whether it is a run of the task named `task` (its `#[task]` name).
    pub fn is_of(&self, task: &str) -> bool {
        self.task_key.rsplit("::").next() == Some(task)
    }
}

/// Flow runs and task runs read as their common [`Run`] (`run.state`, `run.result::<T>()`).
macro_rules! deref_to_run {
    ($($record:ty),*) => {$(
        impl std::ops::Deref for $record {
            type Target = Run;
            fn deref(&self) -> &Run {
                &self.run
            }
        }
    )*};
}

deref_to_run!(FlowRun, TaskRun);

/// A log line as recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogLine {
    /// Python-style level: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR.
    pub level: i64,
    /// The message.
    pub message: String,
    /// The task run that logged it, if a task did.
    pub task_run_id: Option<Uuid>,
}

impl From<logs::Log> for LogLine {
    fn from(l: logs::Log) -> LogLine {
        LogLine {
            level: l.level,
            message: l.message,
            task_run_id: l.task_run_id,
        }
    }
}
