//! Nested blocks: a block whose field is itself a block (`Warehouse(login=WarehouseLogin(…))`)
//! is saved by Prefect's client as the inner document, then the outer one with that field
//! written as `{"$ref": {"block_document_id": ID}}`. Answers carry the inner document's data in
//! its place (its own secrets obfuscated by its own schema) and name it in
//! `block_document_references`, as Prefect's server does, so `Block.load` rebuilds the whole.
//! References are followed in top-level fields, to a depth of [`MAX_DEPTH`]; one to a
//! document deleted since is left as stored.

use flowgate_store::DynStore;
use flowgate_store::model::BlockDocument;
use flowgate_wire::blocks as wire;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::convert::blocks::block_document_out;
use crate::error::{ApiError, ApiResult};

/// How deep references are followed.
const MAX_DEPTH: usize = 8;

/// `d` as the client reads it, its references resolved.
pub async fn document_out(
    store: &DynStore,
    d: BlockDocument,
    include_secrets: bool,
) -> ApiResult<wire::BlockDocument> {
    resolved(store, d, include_secrets, MAX_DEPTH).await
}

/// [`document_out`] for several documents.
pub async fn documents_out(
    store: &DynStore,
    found: Vec<BlockDocument>,
    include_secrets: bool,
) -> ApiResult<Vec<wire::BlockDocument>> {
    let mut out = Vec::with_capacity(found.len());
    for d in found {
        out.push(document_out(store, d, include_secrets).await?);
    }
    Ok(out)
}

/// The id a field's value refers to: `{"$ref": {"block_document_id": ID}}` or `{"$ref": ID}`.
fn reference(value: &Value) -> Option<Uuid> {
    let target = value.as_object().filter(|o| o.len() == 1)?.get("$ref")?;
    let id = target.get("block_document_id").unwrap_or(target).as_str()?;
    Uuid::parse_str(id).ok()
}

fn resolved(
    store: &DynStore,
    d: BlockDocument,
    include_secrets: bool,
    depth: usize,
) -> BoxFuture<'_, ApiResult<wire::BlockDocument>> {
    Box::pin(async move {
        let name = d.name.clone();
        let mut out = block_document_out(d, include_secrets);
        let Value::Object(data) = &mut out.data else {
            return Ok(out);
        };
        for (field, value) in data.iter_mut() {
            let Some(id) = reference(value) else {
                continue;
            };
            if depth == 0 {
                return Err(ApiError::Invalid(format!(
                    "block document {name:?} refers to blocks nested deeper than {MAX_DEPTH}"
                )));
            }
            // A reference to a document deleted since stays as stored: listings still answer,
            // and the client's load names the field it cannot read.
            let Ok(nested) = store.read_block_document(id).await else {
                continue;
            };
            let nested = resolved(store, nested, include_secrets, depth - 1).await?;
            *value = nested.data;
            out.block_document_references.insert(
                field.clone(),
                json!({"block_document": {
                    "id": nested.id,
                    "name": nested.name,
                    "block_type": nested.block_type,
                    "is_anonymous": nested.is_anonymous,
                    "block_document_references": nested.block_document_references,
                }}),
            );
        }
        Ok(out)
    })
}
