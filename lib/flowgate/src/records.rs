//! What the server recorded, typed: flow runs, task runs, their states and log lines, as the
//! test harness's queries return them (so assertions need no raw JSON).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

/// The type of a run's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateType {
    /// Waiting for its time (`AwaitingRetry` is one).
    Scheduled,
    /// Created, not yet running.
    Pending,
    /// Running.
    Running,
    /// Waiting for someone to resume it.
    Paused,
    /// Being cancelled.
    Cancelling,
    /// Finished with a value.
    Completed,
    /// Finished with a failure.
    Failed,
    /// Cancelled.
    Cancelled,
    /// Ended without reporting (its process died).
    Crashed,
}

impl StateType {
    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StateType::Completed | StateType::Failed | StateType::Cancelled | StateType::Crashed
        )
    }
}

/// A state as the server reports it.
#[derive(Deserialize)]
struct StateWire {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    data: Option<Value>,
}

/// What flow runs and task runs have in common on the wire.
#[derive(Deserialize)]
struct RunWire {
    id: Uuid,
    name: String,
    state_type: StateType,
    state_name: String,
    state: Option<StateWire>,
    #[serde(default)]
    parameters: Value,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    run_count: i64,
}

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

impl From<RunWire> for Run {
    fn from(w: RunWire) -> Run {
        let (message, result) = match w.state {
            Some(s) => (
                s.message.filter(|m| !m.is_empty()),
                s.data.and_then(|d| d.get("value").cloned()),
            ),
            None => (None, None),
        };
        Run {
            id: w.id,
            name: w.name,
            state: w.state_type,
            state_name: w.state_name,
            message,
            parameters: w.parameters,
            tags: w.tags,
            run_count: w.run_count,
            result,
        }
    }
}

impl Run {
    /// The value it completed with, read as `T` (`None` when it has none or it is not a `T`).
    pub fn result<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_value(self.result.clone()?).ok()
    }
}

#[derive(Deserialize)]
struct FlowRunWire {
    #[serde(flatten)]
    run: RunWire,
    flow_id: Uuid,
    parent_task_run_id: Option<Uuid>,
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
}

impl FlowRun {
    /// Reads a flow run answer; `flows` maps flow ids to names.
    pub(crate) fn from_json(
        v: Value,
        flows: &BTreeMap<Uuid, String>,
    ) -> Result<FlowRun, serde_json::Error> {
        let w: FlowRunWire = serde_json::from_value(v)?;
        Ok(FlowRun {
            flow: flows.get(&w.flow_id).cloned().unwrap_or_default(),
            parent_task_run_id: w.parent_task_run_id,
            run: w.run.into(),
        })
    }
}

impl std::ops::Deref for FlowRun {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

#[derive(Deserialize)]
struct TaskRunWire {
    #[serde(flatten)]
    run: RunWire,
    task_key: String,
    flow_run_id: Option<Uuid>,
    #[serde(default)]
    task_inputs: BTreeMap<String, Vec<TaskInputWire>>,
}

#[derive(Deserialize)]
struct TaskInputWire {
    id: Option<Uuid>,
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
    /// Reads a task run answer.
    pub(crate) fn from_json(v: Value) -> Result<TaskRun, serde_json::Error> {
        let w: TaskRunWire = serde_json::from_value(v)?;
        Ok(TaskRun {
            run: w.run.into(),
            task_key: w.task_key,
            flow_run_id: w.flow_run_id,
            upstream: w
                .task_inputs
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().filter_map(|i| i.id).collect()))
                .filter(|(_, v): &(String, Vec<Uuid>)| !v.is_empty())
                .collect(),
        })
    }

    /// Whether it is a run of the task named `task` (its `#[task]` name).
    pub fn is_of(&self, task: &str) -> bool {
        self.task_key.rsplit("::").next() == Some(task)
    }
}

impl std::ops::Deref for TaskRun {
    type Target = Run;
    fn deref(&self) -> &Run {
        &self.run
    }
}

/// A log line as recorded.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct LogLine {
    /// Python-style level: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR.
    pub level: i64,
    /// The message.
    pub message: String,
    /// The task run that logged it, if a task did.
    pub task_run_id: Option<Uuid>,
}
