//! Records the store keeps and the queries it answers, gathered from every capability module
//! (`use flowgate_store::model::*`), plus the two shapes every query shares: [`TimeRange`] and
//! [`Page`]. Domain-shaped, not wire-shaped: the server converts them to and from Prefect's JSON
//! at the edge.

use flowgate_core::Micros;

pub use crate::capabilities::artifacts::{
    Artifact, ArtifactFilter, ArtifactSort, ArtifactUpdate, NewArtifact,
};
pub use crate::capabilities::automations::{
    Automation, AutomationFilter, AutomationSort, AutomationSpec, EngineAutomation,
    EngineCheckpoint, FeedPosition, FiringRecord,
};
pub use crate::capabilities::blocks::{
    BlockDocument, BlockDocumentFilter, BlockDocumentUpdate, BlockSchema, BlockType,
    BlockTypeAbout, BlockTypeKey, NewBlockDocument, NewBlockSchema, NewBlockType,
};
pub use crate::capabilities::concurrency_limits::{
    ConcurrencyLimit, LimitKey, LimitKind, LimitUpdate, NewLimit,
};
pub use crate::capabilities::deployments::{
    Deployment, DeploymentFilter, DeploymentSchedule, DeploymentUpdate, LatePass, NewDeployment,
    NewDeploymentSchedule, SchedulerPass,
};
pub use crate::capabilities::events::{
    EventFilter, EventGroup, EventGroupKey, EventGrouping, EventPosition, IngestOutcome,
};
pub use crate::capabilities::flow_runs::{
    FlowRun, FlowRunFilter, FlowRunSort, FlowRunUpdate, NewFlowRun, QueuePlace, SetStateOutcome,
};
pub use crate::capabilities::flows::{Flow, FlowFilter, FlowSort};
pub use crate::capabilities::inputs::{FlowRunInput, Resume};
pub use crate::capabilities::logs::{LogEntry, LogFilter};
pub use crate::capabilities::task_queue::QueuedTask;
pub use crate::capabilities::task_runs::{GraphNode, TaskRun, TaskRunFilter, TaskRunSort};
pub use crate::capabilities::variables::{
    NewVariable, Variable, VariableFilter, VariableKey, VariableSort, VariableUpdate,
};
pub use crate::capabilities::work_pools::{
    HandedOutRun, NewWorkPool, NewWorkQueue, Poll, QueuedFlowRun, WorkPool, WorkPoolFilter,
    WorkPoolUpdate, WorkQueue, WorkQueueFilter, WorkQueueUpdate, Worker,
};

/// A time window; either end may be open.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeRange {
    /// Inclusive lower bound.
    pub after: Option<Micros>,
    /// Inclusive upper bound.
    pub before: Option<Micros>,
}

/// A page of results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows to return at most.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 200,
            offset: 0,
        }
    }
}
