//! Variables: `/variables/…`, as `prefect==3.9.1` sends and reads them (`Variable.set`,
//! `Variable.get`, `prefect variable …`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::filters::{AnyOf, NameFilter, Operator};
use crate::{Micros, present_value};

/// `POST /variables/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct VariableCreate {
    /// Unique name: lowercase letters, digits, `-` and `_`, at most 255 characters.
    pub name: String,
    /// Any JSON value (`null` included), at most 5,000 characters as compact JSON.
    pub value: Value,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// `PATCH /variables/{id}` and `/variables/name/{name}`: only the fields present change.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct VariableUpdate {
    /// A new unique name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new value (an explicit `null` stores `null`).
    #[serde(
        default,
        deserialize_with = "present_value",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
    /// New tags, replacing the old (`null` keeps them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

/// A variable as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Variable {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its unique name.
    pub name: String,
    /// Its value.
    pub value: Value,
    /// Its tags.
    pub tags: Vec<String>,
}

/// Tags a variable must have, or that it has none.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct VariableTagsFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// Every one of these tags (at most 100).
    pub all_: Option<Vec<String>>,
    /// `true`: no tags; `false`: at least one.
    pub is_null_: Option<bool>,
}

/// Which variables (`variables`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct VariableFilter {
    /// How the fields combine (`and_` only).
    pub operator: Option<Operator>,
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name.
    pub name: Option<NameFilter>,
    /// By tags.
    pub tags: Option<VariableTagsFilter>,
}

/// Variable sort orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VariableSort {
    /// Newest first.
    CreatedDesc,
    /// Most recently changed first.
    UpdatedDesc,
    /// By name, reversed.
    NameDesc,
    /// By name (the default).
    NameAsc,
}

/// `POST /variables/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct VariableFilterRequest {
    /// Which variables.
    pub variables: Option<VariableFilter>,
    /// Their order (by name when absent).
    pub sort: Option<VariableSort>,
    /// How many at most (200 when absent, at most 10,000).
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `POST /variables/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct VariableCountRequest {
    /// Which variables.
    pub variables: Option<VariableFilter>,
}
