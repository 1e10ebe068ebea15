//! Blocks: `/block_types/…`, `/block_schemas/…` and `/block_documents/…`, as `prefect==3.9.1`
//! sends and reads them when a block is saved (`Secret(value=…).save("name")`: the type by
//! slug, the schema by checksum, then the document) and loaded (`Secret.load("name")`: the
//! document by type slug and name, with its secrets).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Micros;
use crate::filters::{AnyOf, NameFilter};
use crate::work_pools::explicit_null;

/// `POST /block_types/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct BlockTypeCreate {
    /// Display name, unique.
    pub name: String,
    /// Slug, unique: lowercase letters, digits and dashes.
    pub slug: String,
    /// A logo's URL.
    pub logo_url: Option<String>,
    /// Its documentation's URL.
    pub documentation_url: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// Markdown with example code.
    pub code_example: Option<String>,
}

/// `PATCH /block_types/{id}`: only the fields present change (`null` clears one).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct BlockTypeUpdate {
    /// A logo's URL.
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub logo_url: Option<Option<String>>,
    /// Its documentation's URL.
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub documentation_url: Option<Option<String>>,
    /// Markdown describing it.
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    /// Markdown with example code.
    #[serde(
        default,
        deserialize_with = "explicit_null",
        skip_serializing_if = "Option::is_none"
    )]
    pub code_example: Option<Option<String>>,
}

/// A block type as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockType {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Display name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// A logo's URL.
    pub logo_url: Option<String>,
    /// Its documentation's URL.
    pub documentation_url: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// Markdown with example code.
    pub code_example: Option<String>,
    /// Whether it is one of the server's own.
    pub is_protected: bool,
}

fn non_versioned() -> String {
    "non-versioned".to_owned()
}

/// `POST /block_schemas/`: answered with the existing schema when its checksum and version
/// are already stored.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockSchemaCreate {
    /// The JSON Schema of the documents' data; `secret_fields` lists the secret paths.
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Its block type.
    pub block_type_id: Uuid,
    /// What its blocks can do.
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// The version of the code that made it.
    #[serde(default = "non_versioned")]
    pub version: String,
}

/// A block schema as a client reads it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockSchema {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Prefect's checksum of `fields` (`sha256:…`).
    pub checksum: String,
    /// The JSON Schema.
    pub fields: Value,
    /// Its block type's id.
    pub block_type_id: Uuid,
    /// Its block type.
    pub block_type: BlockType,
    /// What its blocks can do.
    pub capabilities: Vec<String>,
    /// Its version.
    pub version: String,
}

/// `POST /block_documents/`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockDocumentCreate {
    /// Unique within its type: lowercase letters, digits and dashes. Absent for an
    /// anonymous document (a name is made up).
    pub name: Option<String>,
    /// The data, secrets included.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Its schema.
    pub block_schema_id: Uuid,
    /// Its type (the schema's).
    pub block_type_id: Uuid,
    /// Whether it has no name of its own.
    #[serde(default)]
    pub is_anonymous: bool,
}

fn yes() -> bool {
    true
}

/// `PATCH /block_documents/{id}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockDocumentUpdate {
    /// A new schema of the same type.
    pub block_schema_id: Option<Uuid>,
    /// New data; secret values sent back as `********` keep their stored values.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Lay `data` over the stored data key by key (the default) instead of replacing it.
    #[serde(default = "yes")]
    pub merge_existing_data: bool,
}

/// A block document as a client reads it. Secret fields read `********` unless
/// `include_secrets=true` was asked for.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct BlockDocument {
    /// Its id.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its name.
    pub name: String,
    /// Its data.
    pub data: Value,
    /// Its schema's id.
    pub block_schema_id: Uuid,
    /// Its schema.
    pub block_schema: BlockSchema,
    /// Its type's id.
    pub block_type_id: Uuid,
    /// Its type's name.
    pub block_type_name: String,
    /// Its type.
    pub block_type: BlockType,
    /// Other documents it refers to (Flowgate keeps none: always empty).
    pub block_document_references: Map<String, Value>,
    /// Whether it has no name of its own.
    pub is_anonymous: bool,
}

/// `?include_secrets=true`: show secret fields as stored.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct SecretsQuery {
    /// Show secret values (default false: they read `********`).
    #[serde(default)]
    pub include_secrets: bool,
}

/// `GET /block_schemas/checksum/{checksum}?version=`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct VersionQuery {
    /// Only the schema of this version (the newest when absent).
    pub version: Option<String>,
}

/// Which block types (`block_types`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockTypeFilter {
    /// By name (`like_` only).
    pub name: Option<NameFilter>,
    /// By slug.
    pub slug: Option<AnyOf<String>>,
}

/// `POST /block_types/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockTypeFilterRequest {
    /// Which types.
    pub block_types: Option<BlockTypeFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// Which block schemas (`block_schemas`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockSchemaFilter {
    /// By block type.
    pub block_type_id: Option<AnyOf<Uuid>>,
}

/// `POST /block_schemas/filter`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockSchemaFilterRequest {
    /// Which schemas.
    pub block_schemas: Option<BlockSchemaFilter>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}

/// `{"eq_": bool}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct BoolFilter {
    /// The value must be this.
    pub eq_: Option<bool>,
}

/// Which block documents (`block_documents`).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockDocumentFilter {
    /// By id.
    pub id: Option<AnyOf<Uuid>>,
    /// By name.
    pub name: Option<NameFilter>,
    /// Anonymous or named.
    pub is_anonymous: Option<BoolFilter>,
    /// By block type.
    pub block_type_id: Option<AnyOf<Uuid>>,
}

/// The block types of `/block_documents/filter` (`slug` only).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockTypeSlugFilter {
    /// By slug.
    pub slug: Option<AnyOf<String>>,
}

/// `POST /block_documents/filter` and `/count`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq, Default)]
pub struct BlockDocumentFilterRequest {
    /// Which documents.
    pub block_documents: Option<BlockDocumentFilter>,
    /// Of which block types.
    pub block_types: Option<BlockTypeSlugFilter>,
    /// Show secret values.
    pub include_secrets: Option<bool>,
    /// Sort order (by name; `NAME_ASC` only).
    pub sort: Option<String>,
    /// How many at most.
    pub limit: Option<i64>,
    /// How many to skip.
    pub offset: Option<i64>,
}
