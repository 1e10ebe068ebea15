//! What an earlier process already did for a flow run this process takes over (a suspended run
//! resumed and handed out again, a run handed out again after its process died): the results
//! of the task runs it completed, found by key so those tasks are not run a second time.
//!
//! The key is the task (its key: module path and name) and the call's recorded parameters;
//! calls with the same key take the earlier results in the order the earlier process made them
//! (by dynamic key). A result recorded inline in its Completed state (up to 64 KiB of JSON) can
//! be reused; a larger one was recorded by size only, and that task runs again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use flowgate_wire::StateType;
use flowgate_wire::filters::{
    OptionalIdFilter, StateFilter, StateTypeFilter, TaskRunFilter, TaskRunFilterRequest,
};
use flowgate_wire::task_runs::TaskRun;
use serde_json::Value;
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::ApiError;

/// Task runs read per request.
const PAGE: i64 = 1000;

/// A call's key: the task's key and its parameters as JSON text.
type CallKey = (String, String);

/// A completed task run's name and result.
type Recorded = (String, Value);

/// The earlier processes' task results of a flow run, by task and parameters.
#[derive(Default)]
pub(crate) struct EarlierResults {
    by_key: Mutex<HashMap<CallKey, VecDeque<Recorded>>>,
}

/// The key of a call of `task_key` with `parameters`.
fn key(task_key: &str, parameters: &Value) -> CallKey {
    (task_key.to_owned(), parameters.to_string())
}

impl EarlierResults {
    /// Reads the completed task runs of `run`.
    pub async fn load(engine: &Engine, run: Uuid) -> Result<EarlierResults, ApiError> {
        let mut completed: Vec<TaskRun> = Vec::new();
        loop {
            let request = TaskRunFilterRequest {
                task_runs: Some(TaskRunFilter {
                    flow_run_id: Some(OptionalIdFilter {
                        any_: Some(vec![run]),
                        is_null_: None,
                    }),
                    state: Some(StateFilter {
                        state_type: Some(StateTypeFilter {
                            any_: Some(vec![StateType::Completed]),
                            not_any_: None,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                limit: Some(PAGE),
                offset: Some(completed.len() as i64),
                ..Default::default()
            };
            let page: Vec<TaskRun> = engine
                .api
                .post(
                    "the run's completed task runs",
                    "/task_runs/filter",
                    &request,
                )
                .await?;
            let full = page.len() as i64 == PAGE;
            completed.extend(page);
            if !full {
                break;
            }
        }
        completed.sort_by_key(|t| t.dynamic_key.parse::<u64>().unwrap_or(u64::MAX));
        let mut by_key: HashMap<_, VecDeque<_>> = HashMap::new();
        for t in completed {
            if let Some(value) = t.state.data.as_ref().and_then(|d| d.get("value")) {
                by_key
                    .entry(key(&t.task_key, &t.parameters))
                    .or_default()
                    .push_back((t.name, value.clone()));
            }
        }
        Ok(EarlierResults {
            by_key: Mutex::new(by_key),
        })
    }

    /// The next earlier result of a call of `task_key` with `parameters`, and the name of the
    /// task run that produced it.
    pub fn take(&self, task_key: &str, parameters: &Value) -> Option<Recorded> {
        let mut by_key = self.by_key.lock().expect("not poisoned");
        if by_key.is_empty() {
            return None;
        }
        by_key.get_mut(&key(task_key, parameters))?.pop_front()
    }
}
