//! The harness's typed queries: what the server recorded, as [`FlowRun`], [`TaskRun`] and
//! [`LogLine`] values with states as [`crate::StateType`], so tests assert without raw JSON.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use uuid::Uuid;

use super::Harness;
use crate::records::{FlowRun, LogLine, TaskRun};

/// Rows per page of a query.
const PAGE: usize = 1000;

impl Harness {
    /// Every page of `path`'s answer to `body`.
    fn all(&self, path: &str, mut body: Value) -> Vec<Value> {
        let mut rows = Vec::new();
        loop {
            body["limit"] = json!(PAGE);
            body["offset"] = json!(rows.len());
            let page = self.post(path, body.clone());
            let page = page.as_array().cloned().unwrap_or_default();
            let full = page.len() == PAGE;
            rows.extend(page);
            if !full {
                return rows;
            }
        }
    }

    /// Every record of `path`'s answer to `filter` sorted by `sort`, read with `read`.
    fn records<T>(
        &self,
        path: &str,
        mut filter: Value,
        sort: &str,
        read: impl Fn(Value) -> Result<T, serde_json::Error>,
    ) -> Vec<T> {
        filter["sort"] = json!(sort);
        self.all(path, filter)
            .into_iter()
            .map(|r| {
                read(r).unwrap_or_else(|e| panic!("a record of {path} could not be read: {e}"))
            })
            .collect()
    }

    fn flow_runs_where(&self, filter: Value) -> Vec<FlowRun> {
        let flows: BTreeMap<Uuid, String> = self
            .all("/flows/filter", json!({}))
            .into_iter()
            .filter_map(|f| {
                Some((
                    f["id"].as_str()?.parse().ok()?,
                    f["name"].as_str()?.to_owned(),
                ))
            })
            .collect();
        let read = |r| FlowRun::from_json(r, &flows);
        let mut runs = self.records("/flow_runs/filter", filter, "ID_DESC", read);
        runs.reverse();
        runs
    }

    /// Every flow run, oldest first.
    pub fn flow_runs(&self) -> Vec<FlowRun> {
        self.flow_runs_where(json!({}))
    }

    /// The runs of the flow named `flow` (its `#[flow]` name, e.g. `my-favorite-flow`),
    /// oldest first.
    pub fn flow_runs_of(&self, flow: &str) -> Vec<FlowRun> {
        self.flow_runs_where(json!({"flows": {"name": {"any_": [flow]}}}))
    }

    /// One flow run, if it exists.
    pub fn flow_run(&self, id: Uuid) -> Option<FlowRun> {
        self.flow_runs_where(json!({"flow_runs": {"id": {"any_": [id]}}}))
            .pop()
    }

    fn task_runs_where(&self, filter: Value) -> Vec<TaskRun> {
        let sort = "EXPECTED_START_TIME_ASC";
        self.records("/task_runs/filter", filter, sort, TaskRun::from_json)
    }

    /// Every task run, in the order they were started.
    pub fn task_runs(&self) -> Vec<TaskRun> {
        self.task_runs_where(json!({}))
    }

    /// The runs of the task named `task` (its `#[task]` name), in the order they started.
    pub fn task_runs_of(&self, task: &str) -> Vec<TaskRun> {
        self.task_runs()
            .into_iter()
            .filter(|t| t.is_of(task))
            .collect()
    }

    /// The task runs of one flow run, in the order they started.
    pub fn task_runs_in(&self, flow_run: &FlowRun) -> Vec<TaskRun> {
        self.task_runs_where(json!({"flow_runs": {"id": {"any_": [flow_run.id]}}}))
    }

    /// The log lines of one flow run (its own and its task runs'), oldest first.
    pub fn logs_of(&self, flow_run: &FlowRun) -> Vec<LogLine> {
        let filter = json!({"logs": {"flow_run_id": {"any_": [flow_run.id]}}});
        self.records(
            "/logs/filter",
            filter,
            "TIMESTAMP_ASC",
            serde_json::from_value,
        )
    }
}
