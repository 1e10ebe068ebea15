//! Blocks between the wire and the store. On the way out a document's secret fields are
//! shown as `********` unless the request asked for them (`include_secrets=true`).

use flowgate_core::blocks::{obfuscate, secret_fields};
use flowgate_store::model::{BlockDocument, BlockSchema, BlockType, BlockTypeAbout};
use flowgate_wire::blocks as wire;
use serde_json::Map;

/// A stored block type as the client reads it.
pub fn block_type_out(t: BlockType) -> wire::BlockType {
    let BlockTypeAbout {
        logo_url,
        documentation_url,
        description,
        code_example,
    } = t.about;
    wire::BlockType {
        id: t.id,
        created: t.created,
        updated: t.updated,
        name: t.name,
        slug: t.slug,
        logo_url,
        documentation_url,
        description,
        code_example,
        is_protected: t.is_protected,
    }
}

/// A stored block schema as the client reads it.
pub fn block_schema_out(s: BlockSchema) -> wire::BlockSchema {
    wire::BlockSchema {
        id: s.id,
        created: s.created,
        updated: s.updated,
        checksum: s.checksum,
        fields: s.fields,
        block_type_id: s.block_type.id,
        block_type: block_type_out(s.block_type),
        capabilities: s.capabilities,
        version: s.version,
    }
}

/// A stored document as the client reads it: its secrets obfuscated unless
/// `include_secrets`.
pub fn block_document_out(d: BlockDocument, include_secrets: bool) -> wire::BlockDocument {
    let data = if include_secrets {
        d.data
    } else {
        obfuscate(d.data, &secret_fields(&d.schema.fields))
    };
    wire::BlockDocument {
        id: d.id,
        created: d.created,
        updated: d.updated,
        name: d.name,
        data,
        block_schema_id: d.schema.id,
        block_type_id: d.schema.block_type.id,
        block_type_name: d.schema.block_type.name.clone(),
        block_type: block_type_out(d.schema.block_type.clone()),
        block_schema: block_schema_out(d.schema),
        block_document_references: Map::new(),
        is_anonymous: d.is_anonymous,
    }
}

/// The texts of a block type after a PATCH: each field given replaces the stored one.
pub fn about_after(stored: BlockTypeAbout, update: wire::BlockTypeUpdate) -> BlockTypeAbout {
    BlockTypeAbout {
        logo_url: update.logo_url.unwrap_or(stored.logo_url),
        documentation_url: update.documentation_url.unwrap_or(stored.documentation_url),
        description: update.description.unwrap_or(stored.description),
        code_example: update.code_example.unwrap_or(stored.code_example),
    }
}
