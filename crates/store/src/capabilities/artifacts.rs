//! Artifacts: what runs report for people to read. An artifact may carry a key; the newest
//! artifact of a key (by creation, then id) is its *latest*, which Prefect calls the key's
//! collection. Latest is worked out when read, so deleting the newest version makes the one
//! before it latest again.

use std::collections::BTreeMap;

use async_trait::async_trait;
use flowgate_core::Micros;
use serde_json::Value;
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// A stored artifact.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its key, shared by every version of one artifact.
    pub key: Option<String>,
    /// The shape of `data` (`markdown`, `table`, `progress`, `image`, `result`, or any text).
    pub artifact_type: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// The content: markdown text, a table as JSON text, a percentage, an image URL.
    pub data: Value,
    /// String pairs the user attached.
    pub metadata: Option<BTreeMap<String, String>>,
    /// The flow run that reported it.
    pub flow_run_id: Option<Uuid>,
    /// The task run that reported it.
    pub task_run_id: Option<Uuid>,
}

/// An artifact to create (checked by the caller with `flowgate_core::artifacts`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewArtifact {
    /// Its key.
    pub key: Option<String>,
    /// Its type.
    pub artifact_type: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its content.
    pub data: Value,
    /// Its metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// The reporting flow run.
    pub flow_run_id: Option<Uuid>,
    /// The reporting task run.
    pub task_run_id: Option<Uuid>,
}

/// Changes to an artifact; `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArtifactUpdate {
    /// New content.
    pub data: Option<Value>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New metadata (`Some(None)` clears it).
    pub metadata: Option<Option<BTreeMap<String, String>>>,
}

/// Which artifacts to return; every set field must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ArtifactFilter {
    /// Only the latest artifact of each key (unkeyed artifacts never are).
    pub latest_only: bool,
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these keys.
    pub keys: Option<Vec<String>>,
    /// Key contains this text, case-insensitively.
    pub key_like: Option<String>,
    /// `true`: has a key; `false`: has none.
    pub key_exists: Option<bool>,
    /// Reported by any of these flow runs.
    pub flow_run_ids: Option<Vec<Uuid>>,
    /// Reported by any of these task runs.
    pub task_run_ids: Option<Vec<Uuid>>,
    /// Any of these types.
    pub types: Option<Vec<String>>,
    /// None of these types.
    pub types_not: Option<Vec<String>>,
}

/// Sort orders for artifacts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArtifactSort {
    /// Newest id first.
    #[default]
    IdDesc,
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By key.
    KeyAsc,
    /// By key, reversed.
    KeyDesc,
}

/// Storing and finding artifacts.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores a new artifact (a new version, when its key has others).
    async fn create_artifact(&self, new: &NewArtifact, now: Micros) -> Result<Artifact>;
    /// Reads an artifact by id.
    async fn read_artifact(&self, id: Uuid) -> Result<Artifact>;
    /// The latest artifact with `key`.
    async fn read_latest_artifact(&self, key: &str) -> Result<Artifact>;
    /// Artifacts matching `filter`, in `sort` order.
    async fn filter_artifacts(
        &self,
        filter: &ArtifactFilter,
        sort: ArtifactSort,
        page: Page,
    ) -> Result<Vec<Artifact>>;
    /// How many artifacts match `filter`.
    async fn count_artifacts(&self, filter: &ArtifactFilter) -> Result<i64>;
    /// Changes an artifact's data, description or metadata.
    async fn update_artifact(
        &self,
        id: Uuid,
        update: &ArtifactUpdate,
        now: Micros,
    ) -> Result<Artifact>;
    /// Deletes an artifact (the version before it becomes its key's latest).
    async fn delete_artifact(&self, id: Uuid) -> Result<()>;
}
