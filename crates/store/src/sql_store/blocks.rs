//! [`BlockStore`] on SQL, types and schemas: the `block_types` and `block_schemas` tables.
//! Documents live in `block_documents.rs`.

use async_trait::async_trait;
use flowgate_core::Micros;
use flowgate_core::blocks::is_system_block_type;
use serde_json::Value;
use uuid::Uuid;

use super::{SqlStore, by_id, commit, filters, not_found, rows, rows_by_ids};
use crate::backend::Backend;
use crate::capabilities::blocks::{
    BlockDocument, BlockDocumentFilter, BlockDocumentUpdate, BlockSchema, BlockStore, BlockType,
    BlockTypeAbout, BlockTypeKey, NewBlockDocument, NewBlockSchema, NewBlockType,
};
use crate::model::Page;
use crate::sql::{Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> BlockStore for SqlStore<B> {
    async fn create_block_type(&self, new: &NewBlockType, now: Micros) -> Result<BlockType> {
        let mut tx = self.begin().await?;
        let mut taken = Sql::new("SELECT name, slug FROM block_types WHERE name = ");
        taken
            .arg(new.name.as_str())
            .push(" OR slug = ")
            .arg(new.slug.as_str());
        if let Some(row) = B::fetch_all(&mut tx, taken).await?.first() {
            let (field, value) = if row.get::<String>("slug")? == new.slug {
                ("slug", &new.slug)
            } else {
                ("name", &new.name)
            };
            return Err(StoreError::Conflict(format!(
                "a block type with the {field} {value:?} already exists; read it by its slug"
            )));
        }
        let mut insert = Sql::new(
            "INSERT INTO block_types (id, created, updated, name, slug, logo_url, \
             documentation_url, description, code_example, is_protected) VALUES ",
        );
        let a = &new.about;
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                new.name.as_str().into(),
                new.slug.as_str().into(),
                a.logo_url.clone().into(),
                a.documentation_url.clone().into(),
                a.description.clone().into(),
                a.code_example.clone().into(),
                is_system_block_type(&new.slug).into(),
            ]])
            .push(" RETURNING *");
        let created = block_type(&B::fetch_all(&mut tx, insert).await?[0])?;
        commit(tx).await?;
        Ok(created)
    }

    async fn read_block_type(&self, key: &BlockTypeKey) -> Result<BlockType> {
        let sql = match key {
            BlockTypeKey::Id(id) => by_id("SELECT * FROM block_types", *id),
            BlockTypeKey::Slug(slug) => {
                let mut sql = Sql::new("SELECT * FROM block_types WHERE slug = ");
                sql.arg(slug.as_str());
                sql
            }
        };
        let missing = || match key {
            BlockTypeKey::Id(id) => not_found("block type", id),
            BlockTypeKey::Slug(slug) => not_found("block type with slug", format!("{slug:?}")),
        };
        self.query_one(sql, block_type, missing).await
    }

    async fn update_block_type(
        &self,
        id: Uuid,
        about: &BlockTypeAbout,
        now: Micros,
    ) -> Result<BlockType> {
        let mut tx = self.begin().await?;
        let mut update = Sql::new("UPDATE block_types SET logo_url = ");
        update
            .arg(about.logo_url.clone())
            .push(", documentation_url = ")
            .arg(about.documentation_url.clone())
            .push(", description = ")
            .arg(about.description.clone())
            .push(", code_example = ")
            .arg(about.code_example.clone())
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(id)
            .push(" RETURNING *");
        let rows = B::fetch_all(&mut tx, update).await?;
        let changed = block_type(rows.first().ok_or_else(|| not_found("block type", id))?)?;
        commit(tx).await?;
        Ok(changed)
    }

    async fn filter_block_types(
        &self,
        slugs: Option<&[String]>,
        name_like: Option<&str>,
        page: Page,
    ) -> Result<Vec<BlockType>> {
        let mut c = crate::sql::Conditions::default();
        filters::any_of(&mut c, "slug", &slugs.map(<[String]>::to_vec));
        filters::contains::<B>(&mut c, "name", &name_like.map(str::to_owned));
        let mut sql = Sql::new("SELECT * FROM block_types");
        c.append_to(&mut sql);
        sql.push(" ORDER BY name");
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(block_type).collect()
    }

    async fn create_block_schema(
        &self,
        new: &NewBlockSchema,
        now: Micros,
    ) -> Result<(BlockSchema, bool)> {
        let mut tx = self.begin().await?;
        let ty = B::fetch_all(
            &mut tx,
            by_id("SELECT * FROM block_types", new.block_type_id),
        );
        let ty = block_type(ty.await?.first().ok_or_else(|| {
            StoreError::Invalid(format!(
                "block type {} does not exist; create the block type first",
                new.block_type_id
            ))
        })?)?;
        let mut insert = Sql::new(
            "INSERT INTO block_schemas (id, created, updated, checksum, fields, version, \
             capabilities, block_type_id) VALUES ",
        );
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                new.checksum.as_str().into(),
                (&new.fields).into(),
                new.version.as_str().into(),
                rows::string_list(&new.capabilities).into(),
                new.block_type_id.into(),
            ]])
            .push(" ON CONFLICT (checksum, version) DO NOTHING");
        let created = B::execute(&mut tx, insert).await? == 1;
        let mut select = Sql::new("SELECT * FROM block_schemas WHERE checksum = ");
        select
            .arg(new.checksum.as_str())
            .push(" AND version = ")
            .arg(new.version.as_str());
        let row = &B::fetch_all(&mut tx, select).await?[0];
        let stored_type = row.uuid("block_type_id")?;
        let ty = if stored_type == ty.id {
            ty
        } else {
            block_type(
                &B::fetch_all(&mut tx, by_id("SELECT * FROM block_types", stored_type)).await?[0],
            )?
        };
        let schema = block_schema(row, ty)?;
        commit(tx).await?;
        Ok((schema, created))
    }

    async fn read_block_schema(&self, id: Uuid) -> Result<BlockSchema> {
        let found = self
            .schemas(by_id("SELECT * FROM block_schemas", id))
            .await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| not_found("block schema", id))
    }

    async fn read_block_schema_by_checksum(
        &self,
        checksum: &str,
        version: Option<&str>,
    ) -> Result<BlockSchema> {
        let mut sql = Sql::new("SELECT * FROM block_schemas WHERE checksum = ");
        sql.arg(checksum);
        if let Some(version) = version {
            sql.push(" AND version = ").arg(version);
        }
        sql.push(" ORDER BY created DESC, id DESC LIMIT 1");
        let found = self.schemas(sql).await?;
        found
            .into_iter()
            .next()
            .ok_or_else(|| not_found("block schema with checksum", checksum))
    }

    async fn filter_block_schemas(
        &self,
        block_type_ids: Option<&[Uuid]>,
        page: Page,
    ) -> Result<Vec<BlockSchema>> {
        let mut c = crate::sql::Conditions::default();
        filters::any_of(
            &mut c,
            "block_type_id",
            &block_type_ids.map(<[Uuid]>::to_vec),
        );
        let mut sql = Sql::new("SELECT * FROM block_schemas");
        c.append_to(&mut sql);
        sql.push(" ORDER BY created DESC, id DESC");
        filters::page(&mut sql, page);
        self.schemas(sql).await
    }

    async fn delete_block_type(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        if B::execute(&mut tx, by_id("DELETE FROM block_types", id)).await? == 0 {
            return Err(not_found("block type", id));
        }
        commit(tx).await
    }

    async fn delete_block_schema(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        if B::execute(&mut tx, by_id("DELETE FROM block_schemas", id)).await? == 0 {
            return Err(not_found("block schema", id));
        }
        commit(tx).await
    }

    async fn block_capabilities(&self) -> Result<Vec<String>> {
        let rows = self
            .query(Sql::new("SELECT DISTINCT capabilities FROM block_schemas"))
            .await?;
        let mut all = Vec::new();
        for row in rows {
            all.extend(row.string_list("capabilities")?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    async fn create_block_document(
        &self,
        new: &NewBlockDocument,
        now: Micros,
    ) -> Result<BlockDocument> {
        super::block_documents::create::<B>(self, new, now).await
    }

    async fn read_block_document(&self, id: Uuid) -> Result<BlockDocument> {
        super::block_documents::read_one::<B>(self, id).await
    }

    async fn read_block_document_by_name(&self, slug: &str, name: &str) -> Result<BlockDocument> {
        super::block_documents::read_by_name::<B>(self, slug, name).await
    }

    async fn filter_block_documents(
        &self,
        filter: &BlockDocumentFilter,
        page: Page,
    ) -> Result<Vec<BlockDocument>> {
        super::block_documents::filter::<B>(self, filter, page).await
    }

    async fn count_block_documents(&self, filter: &BlockDocumentFilter) -> Result<i64> {
        let conditions = super::block_documents::conditions::<B>(filter);
        self.count("block_documents", conditions).await
    }

    async fn update_block_document(
        &self,
        id: Uuid,
        update: &BlockDocumentUpdate,
        now: Micros,
    ) -> Result<BlockDocument> {
        super::block_documents::update::<B>(self, id, update, now).await
    }

    async fn delete_block_document(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        if B::execute(&mut tx, by_id("DELETE FROM block_documents", id)).await? == 0 {
            return Err(not_found("block document", id));
        }
        commit(tx).await
    }
}

impl<B: Backend> SqlStore<B> {
    /// The block schemas `sql` selects, each with its block type.
    pub(super) async fn schemas(&self, sql: Sql) -> Result<Vec<BlockSchema>> {
        let rows = self.query(sql).await?;
        let type_ids: Vec<String> = rows
            .iter()
            .map(|r| r.get::<String>("block_type_id"))
            .collect::<Result<_>>()?;
        let mut conn = self
            .read
            .acquire()
            .await
            .map_err(crate::backend::driver_error)?;
        let types = rows_by_ids::<B>(&mut conn, "SELECT * FROM block_types", &type_ids).await?;
        let types: Vec<BlockType> = types.iter().map(block_type).collect::<Result<_>>()?;
        rows.iter()
            .map(|row| {
                let type_id = row.uuid("block_type_id")?;
                let ty = types
                    .iter()
                    .find(|t| t.id == type_id)
                    .cloned()
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("block type {type_id} of a schema is gone"))
                    })?;
                block_schema(row, ty)
            })
            .collect()
    }
}

/// Reads a `block_types` row.
pub(super) fn block_type(row: &Row) -> Result<BlockType> {
    Ok(BlockType {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        slug: row.get("slug")?,
        about: BlockTypeAbout {
            logo_url: row.get("logo_url")?,
            documentation_url: row.get("documentation_url")?,
            description: row.get("description")?,
            code_example: row.get("code_example")?,
        },
        is_protected: row.get::<i64>("is_protected")? != 0,
    })
}

/// Reads a `block_schemas` row of the block type `ty`.
fn block_schema(row: &Row, ty: BlockType) -> Result<BlockSchema> {
    let fields: Value = row.json("fields")?;
    Ok(BlockSchema {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        checksum: row.get("checksum")?,
        fields,
        version: row.get("version")?,
        capabilities: row.string_list("capabilities")?,
        block_type: ty,
    })
}
