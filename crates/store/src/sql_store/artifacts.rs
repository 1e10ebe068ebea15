//! [`ArtifactStore`] on SQL: the `artifacts` table. A key's latest artifact is the row no
//! newer row of the same key follows (by `created`, then `id`), found through the
//! `(key, created)` index when read.

use std::collections::BTreeMap;

use async_trait::async_trait;
use flowgate_core::Micros;
use uuid::Uuid;

use super::{SqlStore, by_id, commit, filters, not_found};
use crate::backend::Backend;
use crate::capabilities::artifacts::{
    Artifact, ArtifactFilter, ArtifactSort, ArtifactStore, ArtifactUpdate, NewArtifact,
};
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::{Result, StoreError};

/// The condition that `artifacts` (the outer row) is its key's newest.
const IS_LATEST: &str = "artifacts.key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts newer \
     WHERE newer.key = artifacts.key AND (newer.created > artifacts.created \
     OR (newer.created = artifacts.created AND newer.id > artifacts.id)))";

#[async_trait]
impl<B: Backend> ArtifactStore for SqlStore<B> {
    async fn create_artifact(&self, new: &NewArtifact, now: Micros) -> Result<Artifact> {
        let mut tx = self.begin().await?;
        let mut insert = Sql::new(
            "INSERT INTO artifacts (id, created, updated, key, type, description, data, \
             metadata, flow_run_id, task_run_id) VALUES ",
        );
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                new.key.clone().into(),
                new.artifact_type.clone().into(),
                new.description.clone().into(),
                (&new.data).into(),
                metadata_text(&new.metadata),
                new.flow_run_id.into(),
                new.task_run_id.into(),
            ]])
            .push(" RETURNING *");
        let artifact = artifact(&B::fetch_all(&mut tx, insert).await?[0])?;
        commit(tx).await?;
        Ok(artifact)
    }

    async fn read_artifact(&self, id: Uuid) -> Result<Artifact> {
        self.query_one(by_id("SELECT * FROM artifacts", id), artifact, || {
            not_found("artifact", id)
        })
        .await
    }

    async fn read_latest_artifact(&self, key: &str) -> Result<Artifact> {
        let mut sql = Sql::new("SELECT * FROM artifacts WHERE key = ");
        sql.arg(key).push(" ORDER BY created DESC, id DESC LIMIT 1");
        self.query_one(sql, artifact, || {
            not_found("artifact with key", format!("{key:?}"))
        })
        .await
    }

    async fn filter_artifacts(
        &self,
        filter: &ArtifactFilter,
        sort: ArtifactSort,
        page: Page,
    ) -> Result<Vec<Artifact>> {
        let mut sql = Sql::new("SELECT * FROM artifacts");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(match sort {
            ArtifactSort::IdDesc => " ORDER BY id DESC",
            ArtifactSort::CreatedDesc => " ORDER BY created DESC, id DESC",
            ArtifactSort::UpdatedDesc => " ORDER BY updated DESC, id DESC",
            ArtifactSort::KeyAsc => " ORDER BY key, id DESC",
            ArtifactSort::KeyDesc => " ORDER BY key DESC, id DESC",
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(artifact).collect()
    }

    async fn count_artifacts(&self, filter: &ArtifactFilter) -> Result<i64> {
        self.count("artifacts", conditions::<B>(filter)).await
    }

    async fn update_artifact(
        &self,
        id: Uuid,
        update: &ArtifactUpdate,
        now: Micros,
    ) -> Result<Artifact> {
        let mut tx = self.begin().await?;
        let mut select = by_id("SELECT * FROM artifacts", id);
        select.push(B::FOR_UPDATE);
        let rows = B::fetch_all(&mut tx, select).await?;
        let mut changed = artifact(rows.first().ok_or_else(|| not_found("artifact", id))?)?;
        if let Some(data) = &update.data {
            changed.data = data.clone();
        }
        if let Some(description) = &update.description {
            changed.description.clone_from(description);
        }
        if let Some(metadata) = &update.metadata {
            changed.metadata.clone_from(metadata);
        }
        changed.updated = now;
        let mut write = Sql::new("UPDATE artifacts SET data = ");
        write
            .arg(&changed.data)
            .push(", description = ")
            .arg(changed.description.clone())
            .push(", metadata = ")
            .arg(metadata_text(&changed.metadata))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(id);
        B::execute(&mut tx, write).await?;
        commit(tx).await?;
        Ok(changed)
    }

    async fn delete_artifact(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        if B::execute(&mut tx, by_id("DELETE FROM artifacts", id)).await? == 0 {
            return Err(not_found("artifact", id));
        }
        commit(tx).await
    }
}

/// Metadata as JSON text, NULL when absent.
fn metadata_text(metadata: &Option<BTreeMap<String, String>>) -> Arg {
    metadata
        .as_ref()
        .map(|m| serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned()))
        .into()
}

/// Reads an `artifacts` row.
fn artifact(row: &Row) -> Result<Artifact> {
    let metadata: Option<String> = row.get("metadata")?;
    Ok(Artifact {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        key: row.get("key")?,
        artifact_type: row.get("type")?,
        description: row.get("description")?,
        data: row.json("data")?,
        metadata: metadata
            .map(|m| serde_json::from_str(&m))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("column metadata: {e}")))?,
        flow_run_id: row.opt_uuid("flow_run_id")?,
        task_run_id: row.opt_uuid("task_run_id")?,
    })
}

/// The `WHERE` conditions of an artifact filter.
fn conditions<B: Backend>(f: &ArtifactFilter) -> Conditions {
    let mut c = Conditions::default();
    if f.latest_only {
        c.add(|s| {
            s.push(IS_LATEST);
        });
    }
    filters::any_of(&mut c, "id", &f.ids);
    filters::any_of(&mut c, "key", &f.keys);
    filters::contains::<B>(&mut c, "key", &f.key_like);
    filters::is_null(&mut c, "key", f.key_exists);
    filters::any_of(&mut c, "flow_run_id", &f.flow_run_ids);
    filters::any_of(&mut c, "task_run_id", &f.task_run_ids);
    filters::any_of(&mut c, "type", &f.types);
    if let Some(excluded) = f.types_not.as_ref().filter(|t| !t.is_empty()) {
        c.add(|s| {
            s.push("(type IS NULL OR type NOT IN (")
                .arg_list(excluded.iter().map(String::as_str))
                .push("))");
        });
    }
    c
}
