//! Variables: named JSON values that flows read and write, unique by name, with tags.

use async_trait::async_trait;
use flowgate_core::Micros;
use serde_json::Value;
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// A stored variable.
#[derive(Clone, Debug, PartialEq)]
pub struct Variable {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its unique name (checked by the caller with `flowgate_core::variables::check_name`).
    pub name: String,
    /// Any JSON value, `null` included.
    pub value: Value,
    /// Its tags.
    pub tags: Vec<String>,
}

/// A variable to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewVariable {
    /// Unique name.
    pub name: String,
    /// Its value.
    pub value: Value,
    /// Its tags.
    pub tags: Vec<String>,
}

/// Changes to a variable; `None` keeps a field.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariableUpdate {
    /// A new unique name.
    pub name: Option<String>,
    /// A new value (`Some(Value::Null)` stores `null`).
    pub value: Option<Value>,
    /// New tags, replacing the old.
    pub tags: Option<Vec<String>>,
}

/// How a variable is addressed: Prefect's routes take either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VariableKey {
    /// By id.
    Id(Uuid),
    /// By name.
    Name(String),
}

impl std::fmt::Display for VariableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VariableKey::Id(id) => write!(f, "{id}"),
            VariableKey::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// Which variables to return; every set field must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariableFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these exact names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// Has all of these tags.
    pub tags_all: Option<Vec<String>>,
    /// `true`: has no tags; `false`: has at least one.
    pub tags_empty: Option<bool>,
}

/// Sort orders for variables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VariableSort {
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

/// Storing and finding variables.
#[async_trait]
pub trait VariableStore: Send + Sync {
    /// Creates a variable; [`crate::StoreError::Conflict`] when the name is taken.
    async fn create_variable(&self, new: &NewVariable, now: Micros) -> Result<Variable>;
    /// Reads a variable by id or name.
    async fn read_variable(&self, key: &VariableKey) -> Result<Variable>;
    /// Variables matching `filter`, in `sort` order.
    async fn filter_variables(
        &self,
        filter: &VariableFilter,
        sort: VariableSort,
        page: Page,
    ) -> Result<Vec<Variable>>;
    /// How many variables match `filter`.
    async fn count_variables(&self, filter: &VariableFilter) -> Result<i64>;
    /// Changes a variable; a new name another variable has is a
    /// [`crate::StoreError::Conflict`].
    async fn update_variable(
        &self,
        key: &VariableKey,
        update: &VariableUpdate,
        now: Micros,
    ) -> Result<Variable>;
    /// Deletes a variable.
    async fn delete_variable(&self, key: &VariableKey) -> Result<()>;
}
