//! Block documents on SQL: the `block_documents` table, each document read back with its
//! schema and type. The [`BlockStore`](crate::capabilities::blocks::BlockStore) methods in
//! `blocks.rs` call these. Secret values are sealed on the way in and opened on the way out
//! (`crate::secrets`): the table never holds them in plain text.

use flowgate_core::Micros;
use flowgate_core::blocks::updated_data;
use uuid::Uuid;

use super::{SqlStore, by_id, commit, filters, not_found};
use crate::backend::Backend;
use crate::capabilities::blocks::{
    BlockDocument, BlockDocumentFilter, BlockDocumentUpdate, BlockSchema, BlockStore,
    NewBlockDocument,
};
use crate::model::Page;
use crate::secrets::Sealer;
use crate::sql::{Conditions, Row, Sql};
use crate::store::{Result, StoreError};

pub(super) async fn create<B: Backend>(
    store: &SqlStore<B>,
    new: &NewBlockDocument,
    now: Micros,
) -> Result<BlockDocument> {
    let schema = store.read_block_schema(new.block_schema_id).await?;
    if schema.block_type.id != new.block_type_id {
        return Err(StoreError::Invalid(format!(
            "block schema {} is a schema of the block type {:?}, not of block type {}",
            schema.id, schema.block_type.slug, new.block_type_id
        )));
    }
    let id = Uuid::now_v7();
    let data = store.sealer.seal(id, new.data.clone(), &schema.fields)?;
    let mut tx = store.begin().await?;
    let mut insert = Sql::new(
        "INSERT INTO block_documents (id, created, updated, name, data, is_anonymous, \
         block_schema_id, block_type_id) VALUES ",
    );
    insert
        .rows([vec![
            id.into(),
            now.into(),
            now.into(),
            new.name.as_str().into(),
            (&data).into(),
            new.is_anonymous.into(),
            new.block_schema_id.into(),
            new.block_type_id.into(),
        ]])
        .push(" ON CONFLICT (block_type_id, name) DO NOTHING RETURNING *");
    let rows = B::fetch_all(&mut tx, insert).await?;
    let Some(row) = rows.first() else {
        return Err(StoreError::Conflict(format!(
            "a {:?} block named {:?} already exists; update it, or pick another name",
            schema.block_type.slug, new.name
        )));
    };
    let document = document(store, row, schema)?;
    commit(tx).await?;
    Ok(document)
}

pub(super) async fn read_one<B: Backend>(store: &SqlStore<B>, id: Uuid) -> Result<BlockDocument> {
    let found = documents(store, by_id("SELECT * FROM block_documents", id)).await?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| not_found("block document", id))
}

pub(super) async fn read_by_name<B: Backend>(
    store: &SqlStore<B>,
    slug: &str,
    name: &str,
) -> Result<BlockDocument> {
    let mut sql = Sql::new(
        "SELECT * FROM block_documents WHERE block_type_id IN \
         (SELECT id FROM block_types WHERE slug = ",
    );
    sql.arg(slug).push(") AND name = ").arg(name);
    let found = documents(store, sql).await?;
    found
        .into_iter()
        .next()
        .ok_or_else(|| not_found("block document", format!("{slug}/{name}")))
}

pub(super) async fn filter<B: Backend>(
    store: &SqlStore<B>,
    f: &BlockDocumentFilter,
    page: Page,
) -> Result<Vec<BlockDocument>> {
    let mut sql = Sql::new("SELECT * FROM block_documents");
    conditions::<B>(f).append_to(&mut sql);
    sql.push(" ORDER BY name, id");
    filters::page(&mut sql, page);
    documents(store, sql).await
}

pub(super) async fn update<B: Backend>(
    store: &SqlStore<B>,
    id: Uuid,
    update: &BlockDocumentUpdate,
    now: Micros,
) -> Result<BlockDocument> {
    let current = read_one(store, id).await?;
    let schema = match update.block_schema_id {
        Some(schema_id) if schema_id != current.schema.id => {
            let schema = store.read_block_schema(schema_id).await?;
            if schema.block_type.id != current.schema.block_type.id {
                return Err(StoreError::Invalid(format!(
                    "block schema {schema_id} is of the block type {:?}, not of this \
                     document's type {:?}",
                    schema.block_type.slug, current.schema.block_type.slug
                )));
            }
            schema
        }
        _ => current.schema.clone(),
    };
    let mut tx = store.begin().await?;
    let mut lock = by_id("SELECT data FROM block_documents", id);
    lock.push(B::FOR_UPDATE);
    let rows = B::fetch_all(&mut tx, lock).await?;
    let stored = rows
        .first()
        .ok_or_else(|| not_found("block document", id))?
        .json("data")?;
    let stored = store.sealer.open(id, stored, &current.schema.fields)?;
    let data = match &update.data {
        Some(given) => updated_data(
            &stored,
            given.clone(),
            update.merge_existing_data,
            &current.schema.fields,
        ),
        None => stored,
    };
    let sealed = store.sealer.seal(id, data.clone(), &schema.fields)?;
    let mut write = Sql::new("UPDATE block_documents SET data = ");
    write
        .arg(&sealed)
        .push(", block_schema_id = ")
        .arg(schema.id)
        .push(", updated = ")
        .arg(now)
        .push(" WHERE id = ")
        .arg(id);
    B::execute(&mut tx, write).await?;
    commit(tx).await?;
    Ok(BlockDocument {
        updated: now,
        data,
        schema,
        ..current
    })
}

/// The `WHERE` conditions of a document filter.
pub(super) fn conditions<B: Backend>(f: &BlockDocumentFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "id", &f.ids);
    filters::any_of(&mut c, "name", &f.names);
    filters::contains::<B>(&mut c, "name", &f.name_like);
    if let Some(anonymous) = f.is_anonymous {
        c.add(|s| {
            s.push("is_anonymous = ").arg(anonymous);
        });
    }
    filters::any_of(&mut c, "block_type_id", &f.block_type_ids);
    if let Some(slugs) = &f.block_type_slugs {
        let mut types = Conditions::default();
        filters::any_of(&mut types, "slug", &Some(slugs.clone()));
        filters::nested(&mut c, "block_type_id", "block_types", types);
    }
    c
}

/// The documents `sql` selects, each with its schema and type.
async fn documents<B: Backend>(store: &SqlStore<B>, sql: Sql) -> Result<Vec<BlockDocument>> {
    let rows = store.query(sql).await?;
    let mut schema_ids: Vec<String> = rows
        .iter()
        .map(|r| r.get::<String>("block_schema_id"))
        .collect::<Result<_>>()?;
    schema_ids.sort_unstable();
    schema_ids.dedup();
    let mut select = Sql::new("SELECT * FROM block_schemas WHERE id IN (");
    select
        .arg_list(schema_ids.iter().map(String::as_str))
        .push(")");
    if schema_ids.is_empty() {
        return Ok(Vec::new());
    }
    let schemas = store.schemas(select).await?;
    rows.iter()
        .map(|row| {
            let schema_id = row.uuid("block_schema_id")?;
            let schema = schemas
                .iter()
                .find(|s| s.id == schema_id)
                .cloned()
                .ok_or_else(|| StoreError::Corrupt(format!("block schema {schema_id} is gone")))?;
            document(store, row, schema)
        })
        .collect()
}

/// Seals the secret values still stored in plain text (saved before sealing existed), in the
/// migration's transaction: after it the table holds no secret in the clear. Opens the first
/// sealed document on the way, so a server started with the wrong secret key fails at startup
/// with an error saying which key to use, instead of answering every read of a secret with one.
pub(super) async fn seal_plain_secrets<B: Backend>(
    store: &SqlStore<B>,
    conn: &mut B::Connection,
) -> Result<()> {
    let select = Sql::new(
        "SELECT d.id, d.data, s.fields FROM block_documents d \
         JOIN block_schemas s ON s.id = d.block_schema_id",
    );
    let (mut sealed, mut key_checked) = (0, false);
    for row in B::fetch_all(conn, select).await? {
        let (id, data, fields) = (row.uuid("id")?, row.json("data")?, row.json("fields")?);
        let (plain, has_sealed) = Sealer::plain_and_sealed(&data, &fields);
        if !plain {
            if !key_checked && has_sealed {
                store.sealer.open(id, data, &fields)?;
                key_checked = true;
            }
            continue;
        }
        let mut write = Sql::new("UPDATE block_documents SET data = ");
        write
            .arg(&store.sealer.seal(id, data, &fields)?)
            .push(" WHERE id = ")
            .arg(id);
        B::execute(conn, write).await?;
        sealed += 1;
    }
    if sealed > 0 {
        tracing::info!(
            documents = sealed,
            "sealed block documents' plain-text secrets"
        );
    }
    Ok(())
}

/// Reads a `block_documents` row of `schema`, its secrets opened.
fn document<B: Backend>(
    store: &SqlStore<B>,
    row: &Row,
    schema: BlockSchema,
) -> Result<BlockDocument> {
    let id = row.uuid("id")?;
    Ok(BlockDocument {
        id,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        data: store.sealer.open(id, row.json("data")?, &schema.fields)?,
        is_anonymous: row.get::<i64>("is_anonymous")? != 0,
        schema,
    })
}
