//! `/block_types`, `/block_schemas`, `/block_documents`: what `Block.save` and `Block.load`
//! call. Secret fields of documents read `********` unless `include_secrets=true`; secrets
//! never appear in an error (errors name documents, never their data).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use flowgate_core::blocks::{check_slug, is_system_block_type, schema_checksum};
use flowgate_store::model::{
    BlockDocumentFilter, BlockDocumentUpdate, BlockType, BlockTypeAbout, BlockTypeKey,
    NewBlockDocument, NewBlockSchema, NewBlockType,
};
use flowgate_wire::blocks as wire;
use serde_json::Value;
use uuid::Uuid;

use super::block_references::{document_out, documents_out};
use super::{created_status, invalid, parse_id};
use crate::app::AppState;
use crate::convert::blocks::{about_after, block_schema_out, block_type_out};
use crate::convert::filters::page;
use crate::convert::plain_texts;
use crate::error::{ApiError, ApiResult, Body};
use crate::extract::FilterBody;
use crate::openapi::{ApiRoutes, doc};

pub fn routes() -> ApiRoutes {
    ApiRoutes::new("Blocks")
        .post(
            "/block_types/",
            create_type,
            doc("Create a block type").status(201, "the new block type"),
        )
        .post("/block_types/filter", filter_types, doc("List block types"))
        .get("/block_types/{id}", read_type, doc("Read a block type"))
        .patch(
            "/block_types/{id}",
            update_type,
            doc("Change a block type's texts").status(204, "changed"),
        )
        .delete(
            "/block_types/{id}",
            delete_type,
            doc("Delete a block type with its schemas and documents")
                .status(204, "deleted")
                .describe("Prefect's own block types (secret, json, …) are protected: 403."),
        )
        .get(
            "/block_capabilities/",
            capabilities,
            doc("List the capabilities block schemas have"),
        )
        .get(
            "/block_types/slug/{slug}",
            read_type_by_slug,
            doc("Read a block type by slug"),
        )
        .get(
            "/block_types/slug/{slug}/block_documents",
            documents_of_type,
            doc("List a block type's documents"),
        )
        .get(
            "/block_types/slug/{slug}/block_documents/name/{block_document_name}",
            document_by_name,
            doc("Read a block document by its type's slug and its name"),
        )
        .post(
            "/block_schemas/",
            create_schema,
            doc("Create a block schema, or read the one with its checksum and version")
                .status(201, "the new block schema")
                .status(
                    200,
                    "the schema already stored with this checksum and version",
                ),
        )
        .post(
            "/block_schemas/filter",
            filter_schemas,
            doc("List block schemas, newest first"),
        )
        .get(
            "/block_schemas/{id}",
            read_schema,
            doc("Read a block schema"),
        )
        .delete(
            "/block_schemas/{id}",
            delete_schema,
            doc("Delete a block schema with its documents")
                .status(204, "deleted")
                .describe("A schema of a protected block type: 403."),
        )
        .get(
            "/block_schemas/checksum/{checksum}",
            read_schema_by_checksum,
            doc("Read a block schema by checksum"),
        )
        .post(
            "/block_documents/",
            create_document,
            doc("Create a block document")
                .status(201, "the new block document")
                .describe("A name the block type already has is a 409."),
        )
        .post(
            "/block_documents/filter",
            filter_documents,
            doc("List block documents, by name"),
        )
        .post(
            "/block_documents/count",
            count_documents,
            doc("Count block documents"),
        )
        .get(
            "/block_documents/{id}",
            read_document,
            doc("Read a block document"),
        )
        .patch(
            "/block_documents/{id}",
            update_document,
            doc("Change a block document's data or schema").status(204, "changed"),
        )
        .delete(
            "/block_documents/{id}",
            delete_document,
            doc("Delete a block document").status(204, "deleted"),
        )
}

async fn create_type(
    State(app): State<AppState>,
    Body(body): Body<wire::BlockTypeCreate>,
) -> ApiResult<(StatusCode, Json<wire::BlockType>)> {
    invalid(check_slug("block type slug", &body.slug))?;
    invalid(plain_texts([
        ("name", Some(body.name.as_str())),
        ("logo_url", body.logo_url.as_deref()),
        ("documentation_url", body.documentation_url.as_deref()),
        ("description", body.description.as_deref()),
        ("code_example", body.code_example.as_deref()),
    ]))?;
    if body.name.trim().is_empty() {
        return Err(ApiError::Invalid(
            "a block type's name must not be empty".into(),
        ));
    }
    let new = NewBlockType {
        name: body.name,
        slug: body.slug,
        about: BlockTypeAbout {
            logo_url: body.logo_url,
            documentation_url: body.documentation_url,
            description: body.description,
            code_example: body.code_example,
        },
    };
    let created = app.store.create_block_type(&new, app.now()).await?;
    Ok((StatusCode::CREATED, Json(block_type_out(created))))
}

async fn read_type(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::BlockType>> {
    let key = BlockTypeKey::Id(parse_id(&id, "block type")?);
    Ok(Json(block_type_out(app.store.read_block_type(&key).await?)))
}

async fn read_type_by_slug(
    State(app): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<Json<wire::BlockType>> {
    let key = BlockTypeKey::Slug(slug);
    Ok(Json(block_type_out(app.store.read_block_type(&key).await?)))
}

async fn update_type(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::BlockTypeUpdate>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "block type")?;
    let stored = app.store.read_block_type(&BlockTypeKey::Id(id)).await?;
    let about = about_after(stored.about, body);
    invalid(plain_texts([
        ("logo_url", about.logo_url.as_deref()),
        ("documentation_url", about.documentation_url.as_deref()),
        ("description", about.description.as_deref()),
        ("code_example", about.code_example.as_deref()),
    ]))?;
    app.store.update_block_type(id, &about, app.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_type(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "block type")?;
    let stored = app.store.read_block_type(&BlockTypeKey::Id(id)).await?;
    if protected(&stored) {
        // Prefect's client recognises exactly this text (and then says the type is protected).
        return Err(ApiError::Forbidden(
            "protected block types cannot be deleted.".into(),
        ));
    }
    app.store.delete_block_type(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether a block type is Prefect's own: marked so when created, or (created before Flowgate
/// marked them) by its slug.
fn protected(t: &BlockType) -> bool {
    t.is_protected || is_system_block_type(&t.slug)
}

async fn capabilities(State(app): State<AppState>) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(app.store.block_capabilities().await?))
}

async fn filter_types(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::BlockTypeFilterRequest>,
) -> ApiResult<Json<Vec<wire::BlockType>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let f = req.block_types.unwrap_or_default();
    let name = f.name.unwrap_or_default();
    if name.any_.is_some() {
        return Err(ApiError::Invalid(
            "body.block_types.name.any_ is not supported; use like_".into(),
        ));
    }
    let slugs = f.slug.and_then(|s| s.any_);
    let found = app
        .store
        .filter_block_types(slugs.as_deref(), name.like_.as_deref(), page)
        .await?;
    Ok(Json(found.into_iter().map(block_type_out).collect()))
}

async fn create_schema(
    State(app): State<AppState>,
    Body(body): Body<wire::BlockSchemaCreate>,
) -> ApiResult<(StatusCode, Json<wire::BlockSchema>)> {
    let fields = Value::Object(body.fields);
    let new = NewBlockSchema {
        checksum: schema_checksum(&fields),
        fields,
        version: body.version,
        capabilities: body.capabilities,
        block_type_id: body.block_type_id,
    };
    let (schema, created) = app.store.create_block_schema(&new, app.now()).await?;
    Ok((created_status(created), Json(block_schema_out(schema))))
}

async fn read_schema(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<wire::BlockSchema>> {
    let id = parse_id(&id, "block schema")?;
    Ok(Json(block_schema_out(
        app.store.read_block_schema(id).await?,
    )))
}

async fn read_schema_by_checksum(
    State(app): State<AppState>,
    Path(checksum): Path<String>,
    Query(q): Query<wire::VersionQuery>,
) -> ApiResult<Json<wire::BlockSchema>> {
    let schema = app
        .store
        .read_block_schema_by_checksum(&checksum, q.version.as_deref())
        .await?;
    Ok(Json(block_schema_out(schema)))
}

async fn delete_schema(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "block schema")?;
    let schema = app.store.read_block_schema(id).await?;
    if protected(&schema.block_type) {
        return Err(ApiError::Forbidden(format!(
            "block schema {id} is a schema of the protected block type {:?}; it cannot be \
             deleted",
            schema.block_type.slug
        )));
    }
    app.store.delete_block_schema(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn filter_schemas(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::BlockSchemaFilterRequest>,
) -> ApiResult<Json<Vec<wire::BlockSchema>>> {
    let page = invalid(page(req.limit, req.offset))?;
    let types = req
        .block_schemas
        .and_then(|s| s.block_type_id)
        .and_then(|t| t.any_);
    let found = app
        .store
        .filter_block_schemas(types.as_deref(), page)
        .await?;
    Ok(Json(found.into_iter().map(block_schema_out).collect()))
}

async fn create_document(
    State(app): State<AppState>,
    Body(body): Body<wire::BlockDocumentCreate>,
) -> ApiResult<(StatusCode, Json<wire::BlockDocument>)> {
    let name = match body.name {
        Some(name) => {
            invalid(check_slug("block document name", &name))?;
            name
        }
        None if body.is_anonymous => format!("anonymous-{}", Uuid::new_v4()),
        None => {
            return Err(ApiError::Invalid(
                "a block document needs a name unless it is anonymous (is_anonymous: true)".into(),
            ));
        }
    };
    let new = NewBlockDocument {
        name,
        data: Value::Object(body.data),
        is_anonymous: body.is_anonymous,
        block_schema_id: body.block_schema_id,
        block_type_id: body.block_type_id,
    };
    let made = app.store.create_block_document(&new, app.now()).await?;
    let shown = document_out(&app.store, made, false).await?;
    Ok((StatusCode::CREATED, Json(shown)))
}

async fn read_document(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<wire::SecretsQuery>,
) -> ApiResult<Json<wire::BlockDocument>> {
    let id = parse_id(&id, "block document")?;
    let found = app.store.read_block_document(id).await?;
    Ok(Json(
        document_out(&app.store, found, q.include_secrets).await?,
    ))
}

async fn document_by_name(
    State(app): State<AppState>,
    Path((slug, name)): Path<(String, String)>,
    Query(q): Query<wire::SecretsQuery>,
) -> ApiResult<Json<wire::BlockDocument>> {
    let found = app.store.read_block_document_by_name(&slug, &name).await?;
    Ok(Json(
        document_out(&app.store, found, q.include_secrets).await?,
    ))
}

async fn documents_of_type(
    State(app): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<wire::SecretsQuery>,
) -> ApiResult<Json<Vec<wire::BlockDocument>>> {
    let f = BlockDocumentFilter {
        block_type_slugs: Some(vec![slug]),
        is_anonymous: Some(false),
        ..Default::default()
    };
    let found = app
        .store
        .filter_block_documents(&f, invalid(page(None, None))?)
        .await?;
    Ok(Json(
        documents_out(&app.store, found, q.include_secrets).await?,
    ))
}

/// The store's filter for a `/block_documents/filter` or `/count` body.
fn document_filter(req: &wire::BlockDocumentFilterRequest) -> ApiResult<BlockDocumentFilter> {
    if req.sort.as_deref().is_some_and(|s| s != "NAME_ASC") {
        return Err(ApiError::Invalid(
            "body.sort: block documents are listed by name only (NAME_ASC)".into(),
        ));
    }
    let d = req.block_documents.clone().unwrap_or_default();
    let name = d.name.unwrap_or_default();
    Ok(BlockDocumentFilter {
        ids: d.id.and_then(|i| i.any_),
        names: name.any_,
        name_like: name.like_,
        // Prefect's default: anonymous documents (made for a run, not saved by name) are
        // listed only when the filter asks about them (`is_anonymous: {eq_: null}` for all).
        is_anonymous: match d.is_anonymous {
            Some(given) => given.eq_,
            None => Some(false),
        },
        block_type_ids: d.block_type_id.and_then(|i| i.any_),
        block_type_slugs: req
            .block_types
            .clone()
            .and_then(|t| t.slug)
            .and_then(|s| s.any_),
    })
}

async fn filter_documents(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::BlockDocumentFilterRequest>,
) -> ApiResult<Json<Vec<wire::BlockDocument>>> {
    let f = document_filter(&req)?;
    let page = invalid(page(req.limit, req.offset))?;
    let found = app.store.filter_block_documents(&f, page).await?;
    let secrets = req.include_secrets.unwrap_or(false);
    Ok(Json(documents_out(&app.store, found, secrets).await?))
}

async fn count_documents(
    State(app): State<AppState>,
    FilterBody(req): FilterBody<wire::BlockDocumentFilterRequest>,
) -> ApiResult<Json<i64>> {
    let f = document_filter(&req)?;
    Ok(Json(app.store.count_block_documents(&f).await?))
}

async fn update_document(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Body(body): Body<wire::BlockDocumentUpdate>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "block document")?;
    let update = BlockDocumentUpdate {
        block_schema_id: body.block_schema_id,
        data: Some(Value::Object(body.data)),
        merge_existing_data: body.merge_existing_data,
    };
    app.store
        .update_block_document(id, &update, app.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_document(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "block document")?;
    app.store.delete_block_document(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
