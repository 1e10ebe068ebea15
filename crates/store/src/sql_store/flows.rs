//! [`FlowStore`] on SQL: the `flows` table.

use async_trait::async_trait;
use flowgate_core::Micros;
use serde_json::Value;
use uuid::Uuid;

use super::{SqlStore, by_id, commit, filters, flow_runs, not_found, rows};
use crate::backend::Backend;
use crate::capabilities::flows::{Flow, FlowFilter, FlowSort, FlowStore};
use crate::model::Page;
use crate::sql::{Conditions, Row, Sql};
use crate::store::Result;

#[async_trait]
impl<B: Backend> FlowStore for SqlStore<B> {
    async fn create_flow(
        &self,
        name: &str,
        tags: &[String],
        labels: &Value,
        now: Micros,
    ) -> Result<(Flow, bool)> {
        let mut tx = self.begin().await?;
        let mut insert =
            Sql::new("INSERT INTO flows (id, created, updated, name, tags, labels) VALUES ");
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                name.into(),
                rows::string_list(tags).into(),
                rows::object_text(labels).into(),
            ]])
            .push(" ON CONFLICT (name) DO NOTHING");
        let created = B::execute(&mut tx, insert).await? == 1;
        let mut select = Sql::new("SELECT * FROM flows WHERE name = ");
        select.arg(name);
        let flow = flow(&B::fetch_all(&mut tx, select).await?[0])?;
        commit(tx).await?;
        Ok((flow, created))
    }

    async fn read_flow(&self, id: Uuid) -> Result<Flow> {
        self.query_one(by_id("SELECT * FROM flows", id), flow, || {
            not_found("flow", id)
        })
        .await
    }

    async fn read_flow_by_name(&self, name: &str) -> Result<Flow> {
        let mut sql = Sql::new("SELECT * FROM flows WHERE name = ");
        sql.arg(name);
        self.query_one(sql, flow, || not_found("flow", name)).await
    }

    async fn filter_flows(
        &self,
        filter: &FlowFilter,
        sort: FlowSort,
        page: Page,
    ) -> Result<Vec<Flow>> {
        let mut sql = Sql::new("SELECT * FROM flows");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(match sort {
            FlowSort::NameAsc => " ORDER BY name",
            FlowSort::NameDesc => " ORDER BY name DESC",
            FlowSort::CreatedDesc => " ORDER BY created DESC, id DESC",
            FlowSort::UpdatedDesc => " ORDER BY updated DESC, id DESC",
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(flow).collect()
    }

    async fn count_flows(&self, filter: &FlowFilter) -> Result<i64> {
        self.count("flows", conditions::<B>(filter)).await
    }

    async fn delete_flow(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut runs = Sql::new("SELECT id FROM flow_runs WHERE flow_id = ");
        runs.arg(id);
        for row in B::fetch_all(&mut tx, runs).await? {
            flow_runs::delete_run_children::<B>(&mut tx, row.uuid("id")?).await?;
        }
        let deleted = B::execute(&mut tx, by_id("DELETE FROM flows", id)).await?;
        if deleted == 0 {
            return Err(not_found("flow", id));
        }
        commit(tx).await
    }
}

/// Reads a `flows` row.
fn flow(row: &Row) -> Result<Flow> {
    Ok(Flow {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        tags: row.string_list("tags")?,
        labels: row.json("labels")?,
    })
}

/// The `WHERE` conditions of a flow filter (also nested in flow-run filters).
pub(super) fn conditions<B: Backend>(f: &FlowFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "id", &f.ids);
    filters::any_of(&mut c, "name", &f.names);
    filters::contains::<B>(&mut c, "name", &f.name_like);
    filters::has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    c
}
