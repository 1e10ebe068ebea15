//! Flow-run inputs and resuming a paused run: `POST /flow_runs/{id}/input`, `…/input/filter`,
//! `GET …/input/{key}` (answers the stored value itself), and `POST /flow_runs/{id}/resume`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;

/// `POST /flow_runs/{id}/input`: stores a value on a run under a new key.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowRunInputCreate {
    /// 1–255 letters, digits, `-`, `_` or `.`, unique per run.
    pub key: String,
    /// The value, as JSON text.
    pub value: String,
    /// Who sent it.
    #[serde(default)]
    pub sender: Option<String>,
}

/// A stored value, as `POST …/input/filter` answers it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowRunInput {
    /// The value's id.
    pub id: Uuid,
    /// When it was stored.
    pub created: Micros,
    /// Same as `created` (values do not change).
    pub updated: Micros,
    /// The run it belongs to.
    pub flow_run_id: Uuid,
    /// Its key.
    pub key: String,
    /// The value, as JSON text.
    pub value: String,
    /// Who sent it.
    pub sender: Option<String>,
}

/// `POST /flow_runs/{id}/input/filter`: a run's values by key prefix, oldest first.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct FlowRunInputFilter {
    /// Keys starting with this (all keys when absent).
    #[serde(default)]
    pub prefix: Option<String>,
    /// How many at most (1 when absent, at most 1,000).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Keys to leave out.
    #[serde(default)]
    pub exclude_keys: Option<Vec<String>>,
}

/// `POST /flow_runs/{id}/resume` (the body may be empty when the pause waits for no input).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct ResumeRequest {
    /// The input the pause waits for, checked against the JSON Schema the flow stored.
    #[serde(default)]
    pub run_input: Option<Value>,
    /// Who is resuming (a Flowgate extension the CLI and UI send; Prefect's client does not).
    #[serde(default)]
    pub resumed_by: Option<String>,
}
