//! Flows: named workflow functions, unique by name, that flow runs are made of.

use async_trait::async_trait;
use flowgate_core::Micros;
use serde_json::Value;
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// A flow: a named workflow function that runs are made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When the server first stored it.
    pub created: Micros,
    /// When the server last changed it.
    pub updated: Micros,
    /// The flow's name; at most one flow has it.
    pub name: String,
    /// Tags given when the flow was first created.
    pub tags: Vec<String>,
    /// Labels given when the flow was first created (a JSON object).
    pub labels: Value,
}

/// Which flows to return; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct FlowFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
}

/// Sort orders for flows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FlowSort {
    /// By name.
    #[default]
    NameAsc,
    /// By name, reversed.
    NameDesc,
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
}

/// Storing and finding flows.
#[async_trait]
pub trait FlowStore: Send + Sync {
    /// Creates a flow, or returns the existing one with that name (`false` when it existed).
    async fn create_flow(
        &self,
        name: &str,
        tags: &[String],
        labels: &Value,
        now: Micros,
    ) -> Result<(Flow, bool)>;
    /// Reads a flow by id.
    async fn read_flow(&self, id: Uuid) -> Result<Flow>;
    /// Reads a flow by name.
    async fn read_flow_by_name(&self, name: &str) -> Result<Flow>;
    /// Flows matching `filter`, in `sort` order.
    async fn filter_flows(
        &self,
        filter: &FlowFilter,
        sort: FlowSort,
        page: Page,
    ) -> Result<Vec<Flow>>;
    /// How many flows match `filter`.
    async fn count_flows(&self, filter: &FlowFilter) -> Result<i64>;
    /// Deletes a flow and its runs.
    async fn delete_flow(&self, id: Uuid) -> Result<()>;
}
