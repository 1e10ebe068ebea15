//! Flows on the wire.

use flowgate_core::Micros;
use flowgate_store::model::Flow;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

/// `POST /flows/`.
#[derive(Deserialize, Debug)]
pub struct FlowCreate {
    /// Unique name.
    pub name: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<Value>,
}

/// A flow as the client reads it.
#[derive(Serialize, Debug)]
pub struct FlowOut {
    id: Uuid,
    created: Micros,
    updated: Micros,
    name: String,
    tags: Vec<String>,
    labels: Value,
}

impl From<Flow> for FlowOut {
    fn from(f: Flow) -> Self {
        FlowOut {
            id: f.id,
            created: f.created,
            updated: f.updated,
            name: f.name,
            tags: f.tags,
            labels: super::object_or_empty(f.labels),
        }
    }
}
