//! Flows: `POST /flows/` and what flow routes answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::Micros;

/// `POST /flows/`: creates a flow, or returns the one with that name.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct FlowCreate {
    /// The flow's name; at most one flow has it.
    pub name: String,
    /// Tags, kept from the first create.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Labels (a JSON object), kept from the first create.
    #[serde(default)]
    pub labels: Option<Value>,
}

/// A flow as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Flow {
    /// The flow's id.
    pub id: Uuid,
    /// When the server stored it.
    pub created: Micros,
    /// When the server last changed it.
    pub updated: Micros,
    /// Its unique name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// Its labels (a JSON object).
    pub labels: Value,
}
