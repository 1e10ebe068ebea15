//! The harness's typed queries: what the server recorded, as [`FlowRun`], [`TaskRun`] and
//! [`LogLine`] values with states as [`crate::StateType`], so tests assert without raw JSON.

use std::collections::BTreeMap;

use flowgate_wire::filters::{
    AnyOf, FlowFilter, FlowFilterRequest, FlowRunFilter, FlowRunFilterRequest, FlowRunSort,
    IdFilter, LogFilter, LogFilterRequest, LogSort, NameFilter, TaskRunFilterRequest, TaskRunSort,
};
use flowgate_wire::flows::Flow;
use flowgate_wire::{flow_runs, logs, task_runs};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::Harness;
use crate::records::{FlowRun, LogLine, TaskRun};

/// Rows per page of a query.
const PAGE: i64 = 1000;

/// A filter request that pages with `limit` and `offset`.
trait Paged: Serialize + Clone {
    fn page(&mut self, limit: i64, offset: i64);
}

macro_rules! paged {
    ($($request:ty),*) => {$(
        impl Paged for $request {
            fn page(&mut self, limit: i64, offset: i64) {
                self.limit = Some(limit);
                self.offset = Some(offset);
            }
        }
    )*};
}

paged!(
    FlowFilterRequest,
    FlowRunFilterRequest,
    TaskRunFilterRequest,
    LogFilterRequest
);

impl Harness {
    /// `POST path` with `body`, read as `T`, for queries.
    fn query<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> T {
        let body = serde_json::to_value(body).expect("a request serialises");
        serde_json::from_value(self.post(path, body))
            .unwrap_or_else(|e| panic!("the answer to {path} could not be read: {e}"))
    }

    /// Every page of `path`'s answer to `request`, each row read with `read`.
    fn all<W: DeserializeOwned, T>(
        &self,
        path: &str,
        mut request: impl Paged,
        read: impl Fn(W) -> T,
    ) -> Vec<T> {
        let mut rows = Vec::new();
        loop {
            request.page(PAGE, rows.len() as i64);
            let page: Vec<W> = self.query(path, &request);
            let full = page.len() as i64 == PAGE;
            rows.extend(page.into_iter().map(&read));
            if !full {
                return rows;
            }
        }
    }

    fn flow_runs_where(
        &self,
        flows: Option<FlowFilter>,
        runs: Option<FlowRunFilter>,
    ) -> Vec<FlowRun> {
        let names: BTreeMap<Uuid, String> = self
            .all("/flows/filter", FlowFilterRequest::default(), |f: Flow| {
                (f.id, f.name)
            })
            .into_iter()
            .collect();
        let request = FlowRunFilterRequest {
            flows,
            flow_runs: runs,
            sort: Some(FlowRunSort::IdDesc),
            ..Default::default()
        };
        let read = |r: flow_runs::FlowRun| FlowRun::new(r, &names);
        let mut found = self.all("/flow_runs/filter", request, read);
        found.reverse();
        found
    }

    /// Every flow run, oldest first.
    pub fn flow_runs(&self) -> Vec<FlowRun> {
        self.flow_runs_where(None, None)
    }

    /// The runs of the flow named `flow` (its `#[flow]` name, e.g. `my-favorite-flow`),
    /// oldest first.
    pub fn flow_runs_of(&self, flow: &str) -> Vec<FlowRun> {
        let by_name = FlowFilter {
            name: Some(NameFilter {
                any_: Some(vec![flow.to_owned()]),
                like_: None,
            }),
            ..Default::default()
        };
        self.flow_runs_where(Some(by_name), None)
    }

    /// One flow run, if it exists.
    pub fn flow_run(&self, id: Uuid) -> Option<FlowRun> {
        self.flow_runs_where(None, Some(by_id(id))).pop()
    }

    fn task_runs_where(&self, flow_runs: Option<FlowRunFilter>) -> Vec<TaskRun> {
        let request = TaskRunFilterRequest {
            flow_runs,
            sort: Some(TaskRunSort::ExpectedStartTimeAsc),
            ..Default::default()
        };
        self.all("/task_runs/filter", request, |t: task_runs::TaskRun| {
            TaskRun::new(t)
        })
    }

    /// Every task run, in the order they were started.
    pub fn task_runs(&self) -> Vec<TaskRun> {
        self.task_runs_where(None)
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
        self.task_runs_where(Some(by_id(flow_run.id)))
    }

    /// The log lines of one flow run (its own and its task runs'), oldest first.
    pub fn logs_of(&self, flow_run: &FlowRun) -> Vec<LogLine> {
        let request = LogFilterRequest {
            logs: Some(LogFilter {
                flow_run_id: Some(AnyOf::new([flow_run.id])),
                ..Default::default()
            }),
            sort: Some(LogSort::TimestampAsc),
            ..Default::default()
        };
        self.all("/logs/filter", request, |l: logs::Log| LogLine::from(l))
    }
}

/// The flow run with this id.
fn by_id(id: Uuid) -> FlowRunFilter {
    FlowRunFilter {
        id: Some(IdFilter {
            any_: Some(vec![id]),
            not_any_: None,
        }),
        ..Default::default()
    }
}
