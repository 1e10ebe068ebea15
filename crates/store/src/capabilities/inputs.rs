//! Pauses: values kept on a flow run by key (a pause's input schema and description, the input
//! a person resumed it with), resuming a paused run, and timing out a pause nobody resumed.

use async_trait::async_trait;
use flowgate_core::{Event, Micros};
use uuid::Uuid;

use crate::capabilities::flow_runs::FlowRun;
use crate::store::Result;

/// A value stored on a flow run under a key: a pause's input schema, description, or the
/// input a person resumed the run with.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowRunInput {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was stored.
    pub created: Micros,
    /// The flow run it belongs to.
    pub flow_run_id: Uuid,
    /// The key, unique per flow run.
    pub key: String,
    /// The value, as JSON text.
    pub value: String,
    /// Who sent it, if the sender said.
    pub sender: Option<String>,
}

/// How a paused run is resumed: the pause it was checked against, the input to store under
/// its response key, and who resumed it.
#[derive(Clone, Debug)]
pub struct Resume {
    /// The id of the Paused state the resume was checked against; if the run is in another
    /// state by the time it is resumed, the resume is a conflict.
    pub paused: Uuid,
    /// `(key, JSON text)` of the input, when the pause asked for one.
    pub input: Option<(String, String)>,
    /// Who resumed the run (for the `prefect.flow-run.Resumed` event).
    pub resumed_by: Option<String>,
}

/// Storing flow-run inputs, resuming paused runs, and timing out pauses.
#[async_trait]
pub trait InputStore: Send + Sync {
    /// Stores a value on a flow run under a new key ([`StoreError::Conflict`] when taken).
    ///
    /// [`StoreError::Conflict`]: crate::StoreError::Conflict
    async fn create_flow_run_input(&self, input: &FlowRunInput) -> Result<()>;
    /// Reads a flow run's value by key.
    async fn read_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<FlowRunInput>;
    /// A flow run's values whose keys start with `prefix`, except `exclude`, oldest first.
    async fn filter_flow_run_inputs(
        &self,
        flow_run_id: Uuid,
        prefix: &str,
        exclude: &[String],
        limit: u32,
    ) -> Result<Vec<FlowRunInput>>;
    /// Deletes a flow run's value by key.
    async fn delete_flow_run_input(&self, flow_run_id: Uuid, key: &str) -> Result<()>;
    /// Resumes a paused run: stores the input (if any) and moves the run to Running, with its
    /// state and `prefect.flow-run.Resumed` events, in one transaction. A run no longer in the
    /// pause `resume.paused` (another resume won, or it paused again) is a
    /// [`StoreError::Conflict`].
    ///
    /// [`StoreError::Conflict`]: crate::StoreError::Conflict
    async fn resume_flow_run(
        &self,
        id: Uuid,
        resume: Resume,
        now: Micros,
    ) -> Result<(FlowRun, Vec<Event>)>;
    /// Paused runs whose pause timed out by `now`, earliest deadline first, at most `limit`
    /// (an indexed deadline kept with each run, so none is missed however many runs wait).
    async fn expired_pauses(&self, now: Micros, limit: u32) -> Result<Vec<Uuid>>;
    /// Fails a paused run whose pause timed out by `now`, returning its state events; `None`
    /// when it is no longer such a pause (it was resumed, or another server failed it first).
    async fn expire_pause(&self, id: Uuid, now: Micros) -> Result<Option<Vec<Event>>>;
}
