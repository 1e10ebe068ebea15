//! Blocks: block types (by slug), their schemas (JSON Schemas, found by checksum and
//! version) and block documents (named data for one schema, unique by name within a type).
//! Documents are stored whole; what is shown of their secret fields is decided at the edge
//! (`flowgate_core::blocks::obfuscate`).

use async_trait::async_trait;
use flowgate_core::Micros;
use serde_json::Value;
use uuid::Uuid;

use crate::model::Page;
use crate::store::Result;

/// A kind of block (`secret`, `slack-webhook`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct BlockType {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its display name, unique.
    pub name: String,
    /// Its slug, unique: how clients find it.
    pub slug: String,
    /// The type's fixed texts for people.
    pub about: BlockTypeAbout,
    /// Whether it is one of the server's own (never changed by clients).
    pub is_protected: bool,
}

/// A block type's texts for people; `None` when not given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockTypeAbout {
    /// A logo's URL.
    pub logo_url: Option<String>,
    /// Its documentation's URL.
    pub documentation_url: Option<String>,
    /// Markdown describing it.
    pub description: Option<String>,
    /// Markdown with example code.
    pub code_example: Option<String>,
}

/// A block type to create.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NewBlockType {
    /// Unique name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// Texts for people.
    pub about: BlockTypeAbout,
}

/// How a block type is addressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockTypeKey {
    /// By id.
    Id(Uuid),
    /// By slug.
    Slug(String),
}

/// A JSON Schema for the data of one block type's documents.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockSchema {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Prefect's checksum of `fields` (`flowgate_core::blocks::schema_checksum`).
    pub checksum: String,
    /// The JSON Schema, with `secret_fields` naming the secret paths.
    pub fields: Value,
    /// The version of the code that made it (Prefect's version, for its own blocks).
    pub version: String,
    /// What its blocks can do (`notify`, …).
    pub capabilities: Vec<String>,
    /// Its block type.
    pub block_type: BlockType,
}

/// A block schema to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBlockSchema {
    /// Its checksum (computed by the caller).
    pub checksum: String,
    /// The JSON Schema.
    pub fields: Value,
    /// Its version.
    pub version: String,
    /// Its capabilities.
    pub capabilities: Vec<String>,
    /// Its block type.
    pub block_type_id: Uuid,
}

/// Named data for one block schema.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDocument {
    /// Server-assigned uuid7.
    pub id: Uuid,
    /// When it was created.
    pub created: Micros,
    /// When it last changed.
    pub updated: Micros,
    /// Its name, unique within its block type.
    pub name: String,
    /// The data, secrets included.
    pub data: Value,
    /// Whether it was saved without a name (a name was made up for it).
    pub is_anonymous: bool,
    /// Its schema (and through it, its type).
    pub schema: BlockSchema,
}

/// A block document to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBlockDocument {
    /// Unique name within the type.
    pub name: String,
    /// The data.
    pub data: Value,
    /// Whether the name was made up.
    pub is_anonymous: bool,
    /// Its schema, which must be of `block_type_id`.
    pub block_schema_id: Uuid,
    /// Its type.
    pub block_type_id: Uuid,
}

/// A change to a document's data or schema.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockDocumentUpdate {
    /// A new schema of the same type.
    pub block_schema_id: Option<Uuid>,
    /// New data (secrets sent back obfuscated keep their stored values).
    pub data: Option<Value>,
    /// Lay `data` over the stored data key by key, instead of replacing it.
    pub merge_existing_data: bool,
}

/// Which block documents; every set field must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BlockDocumentFilter {
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// Any of these names.
    pub names: Option<Vec<String>>,
    /// Name contains this text, case-insensitively.
    pub name_like: Option<String>,
    /// Anonymous or named only.
    pub is_anonymous: Option<bool>,
    /// Of any of these block types.
    pub block_type_ids: Option<Vec<Uuid>>,
    /// Of any of these block types, by slug.
    pub block_type_slugs: Option<Vec<String>>,
}

/// Storing and finding block types, schemas and documents.
#[async_trait]
pub trait BlockStore: Send + Sync {
    /// Creates a block type; a name or slug taken is a [`crate::StoreError::Conflict`].
    async fn create_block_type(&self, new: &NewBlockType, now: Micros) -> Result<BlockType>;
    /// Reads a block type by id or slug.
    async fn read_block_type(&self, key: &BlockTypeKey) -> Result<BlockType>;
    /// Replaces a block type's texts.
    async fn update_block_type(
        &self,
        id: Uuid,
        about: &BlockTypeAbout,
        now: Micros,
    ) -> Result<BlockType>;
    /// Block types whose slug is one of `slugs` (all when `None`) and whose name contains
    /// `name_like`, by name.
    async fn filter_block_types(
        &self,
        slugs: Option<&[String]>,
        name_like: Option<&str>,
        page: Page,
    ) -> Result<Vec<BlockType>>;
    /// Creates a block schema, or returns the one with its checksum and version (`false`).
    async fn create_block_schema(
        &self,
        new: &NewBlockSchema,
        now: Micros,
    ) -> Result<(BlockSchema, bool)>;
    /// Reads a block schema by id.
    async fn read_block_schema(&self, id: Uuid) -> Result<BlockSchema>;
    /// The newest block schema with `checksum` (and `version`, when given).
    async fn read_block_schema_by_checksum(
        &self,
        checksum: &str,
        version: Option<&str>,
    ) -> Result<BlockSchema>;
    /// Block schemas of any of `block_type_ids` (all when `None`), newest first.
    async fn filter_block_schemas(
        &self,
        block_type_ids: Option<&[Uuid]>,
        page: Page,
    ) -> Result<Vec<BlockSchema>>;
    /// Deletes a block type with its schemas and documents (whether it may be deleted is the
    /// caller's decision: [`BlockType::is_protected`]).
    async fn delete_block_type(&self, id: Uuid) -> Result<()>;
    /// Deletes a block schema with its documents.
    async fn delete_block_schema(&self, id: Uuid) -> Result<()>;
    /// Every capability some block schema has, sorted (`/block_capabilities`).
    async fn block_capabilities(&self) -> Result<Vec<String>>;
    /// Creates a block document; a name its type already has is a
    /// [`crate::StoreError::Conflict`], a schema of another type
    /// [`crate::StoreError::Invalid`].
    async fn create_block_document(
        &self,
        new: &NewBlockDocument,
        now: Micros,
    ) -> Result<BlockDocument>;
    /// Reads a block document by id.
    async fn read_block_document(&self, id: Uuid) -> Result<BlockDocument>;
    /// Reads the block document `name` of the type `slug`.
    async fn read_block_document_by_name(&self, slug: &str, name: &str) -> Result<BlockDocument>;
    /// Block documents matching `filter`, by name.
    async fn filter_block_documents(
        &self,
        filter: &BlockDocumentFilter,
        page: Page,
    ) -> Result<Vec<BlockDocument>>;
    /// How many block documents match `filter`.
    async fn count_block_documents(&self, filter: &BlockDocumentFilter) -> Result<i64>;
    /// Changes a document's data or schema (`flowgate_core::blocks::updated_data`).
    async fn update_block_document(
        &self,
        id: Uuid,
        update: &BlockDocumentUpdate,
        now: Micros,
    ) -> Result<BlockDocument>;
    /// Deletes a block document.
    async fn delete_block_document(&self, id: Uuid) -> Result<()>;
}
