//! Artifacts: `/artifacts/…`, as `prefect==3.9.1` sends and reads them
//! (`create_markdown_artifact`, `create_table_artifact`, `create_link_artifact`,
//! `create_progress_artifact` / `update_progress_artifact`, `create_image_artifact`,
//! `Artifact.get`). `data` is markdown text (markdown and link artifacts), a table as JSON
//! text, a percentage (progress) or an image URL.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::filters::{AnyOf, Operator};
use crate::work_pools::explicit_null;
use crate::{Micros, present_value};

/// `POST /artifacts/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct ArtifactCreate {
    /// A key shared by every version of one artifact: lowercase letters, digits and dashes.
    pub key: Option<String>,
    /// The shape of `data`: `markdown`, `table`, `progress`, `image`, or any other text.
    #[serde(rename = "type")]
    pub artifact_type: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// The content (at most 1 MiB as JSON).
    #[serde(default)]
    pub data: Value,
    /// String pairs; values over 500 characters are cut and end in `...`.
    pub metadata_: Option<BTreeMap<String, String>>,
    /// The flow run reporting it.
    pub flow_run_id: Option<Uuid>,
    /// The task run reporting it.
    pub task_run_id: Option<Uuid>,
}

/// `PATCH /artifacts/{id}`: only the fields present change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct ArtifactUpdate {
    /// New content (an explicit `null` stores `null`).
    #[serde(
        default,
        deserialize_with = "present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub data: Option<Value>,
    /// New description (`null` clears it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// New metadata (`null` clears it).
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub metadata_: Option<Option<BTreeMap<String, String>>>,
}

/// An artifact as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Artifact {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its key.
    pub key: Option<String>,
    /// The shape of `data`.
    #[serde(rename = "type")]
    pub artifact_type: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// The content.
    pub data: Value,
    /// String pairs.
    pub metadata_: Option<BTreeMap<String, String>>,
    /// The flow run that reported it.
    pub flow_run_id: Option<Uuid>,
    /// The task run that reported it.
    pub task_run_id: Option<Uuid>,
}

/// The latest artifact of a key (Prefect's artifact collection). Flowgate works the latest
/// out when read, so `id`, `created` and `updated` are the latest version's.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct ArtifactCollection {
    /// The latest version's id.
    pub id: Uuid,
    /// When the latest version was created.
    pub created: Micros,
    /// When the latest version last changed.
    pub updated: Micros,
    /// The key.
    pub key: String,
    /// The latest version's id.
    pub latest_id: Uuid,
    /// The shape of `data`.
    #[serde(rename = "type")]
    pub artifact_type: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// The content.
    pub data: Value,
    /// String pairs.
    pub metadata_: Option<BTreeMap<String, String>>,
    /// The flow run that reported the latest version.
    pub flow_run_id: Option<Uuid>,
    /// The task run that reported the latest version.
    pub task_run_id: Option<Uuid>,
}

/// Keys to include, a case-insensitive substring, or whether there is one.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactKeyFilter {
    /// Any of these keys.
    pub any_: Option<Vec<String>>,
    /// The key contains this text, case-insensitively (`%` and `_` match themselves).
    pub like_: Option<String>,
    /// `true`: has a key; `false`: has none.
    pub exists_: Option<bool>,
}

/// Types to include and to exclude.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactTypeFilter {
    /// Any of these types.
    pub any_: Option<Vec<String>>,
    /// None of these types.
    pub not_any_: Option<Vec<String>>,
}

/// Which artifacts (`artifacts` of `/artifacts/filter` and `/count`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By key.
    pub key: Option<ArtifactKeyFilter>,
    /// By reporting flow run.
    pub flow_run_id: Option<AnyOf<Uuid>>,
    /// By reporting task run.
    pub task_run_id: Option<AnyOf<Uuid>>,
    /// By type.
    #[serde(rename = "type")]
    pub artifact_type: Option<ArtifactTypeFilter>,
}

/// Which latest artifacts (`artifacts` of `/artifacts/latest/filter` and `/latest/count`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactCollectionFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By the latest version's id.
    pub latest_id: Option<AnyOf<Uuid>>,
    /// By key.
    pub key: Option<ArtifactKeyFilter>,
    /// By the flow run that reported the latest version.
    pub flow_run_id: Option<AnyOf<Uuid>>,
    /// By the task run that reported the latest version.
    pub task_run_id: Option<AnyOf<Uuid>>,
    /// By type.
    #[serde(rename = "type")]
    pub artifact_type: Option<ArtifactTypeFilter>,
}

/// Artifact sort orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactSort {
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// Newest id first (the default).
    IdDesc,
    /// By key, reversed.
    KeyDesc,
    /// By key.
    KeyAsc,
}

/// `POST /artifacts/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactFilterRequest {
    /// Which artifacts.
    pub artifacts: Option<ArtifactFilter>,
    /// Their order (newest id first when absent).
    pub sort: Option<ArtifactSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /artifacts/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactCountRequest {
    /// Which artifacts.
    pub artifacts: Option<ArtifactFilter>,
}

/// `POST /artifacts/latest/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactCollectionFilterRequest {
    /// Which keys' latest artifacts.
    pub artifacts: Option<ArtifactCollectionFilter>,
    /// Their order (newest id first when absent).
    pub sort: Option<ArtifactSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /artifacts/latest/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct ArtifactCollectionCountRequest {
    /// Which keys' latest artifacts.
    pub artifacts: Option<ArtifactCollectionFilter>,
}
