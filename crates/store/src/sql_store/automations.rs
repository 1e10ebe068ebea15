//! [`AutomationStore`] on SQL: `automations` (definitions as JSON text, the engine's state),
//! `automation_resources` (owned-by and related-to), `automation_firings`, and the one-row
//! `automation_engine` lease with the engine's feed position.

use std::time::Duration;

use async_trait::async_trait;
use flowgate_core::automations::AutomationState;
use flowgate_core::{Event, Micros};
use serde_json::Value;
use uuid::Uuid;

use super::events::event_row;
use super::rows::string_list;
use super::{SqlStore, commit, filters, not_found};
use crate::backend::Backend;
use crate::capabilities::automations::{
    Automation, AutomationFilter, AutomationSort, AutomationSpec, AutomationStore,
    EngineAutomation, EngineCheckpoint, FeedPosition, FiringRecord,
};
use crate::model::Page;
use crate::sql::{Conditions, Row, Sql};
use crate::store::Result;

/// The engine lease's row.
const ENGINE: &str = "triggers";

/// Columns a listing reads (everything but the engine's state).
const COLUMNS: &str = "id, created, updated, name, description, enabled, tags, trigger_doc, \
                       actions, actions_on_trigger, actions_on_resolve";

#[async_trait]
impl<B: Backend> AutomationStore for SqlStore<B> {
    async fn create_automation(
        &self,
        spec: &AutomationSpec,
        related: &[String],
        owner: Option<&str>,
        now: Micros,
    ) -> Result<Automation> {
        let id = Uuid::now_v7();
        let mut tx = self.begin().await?;
        let mut insert = Sql::new(&format!("INSERT INTO automations ({COLUMNS}) VALUES "));
        insert.rows([vec![
            id.into(),
            now.into(),
            now.into(),
            spec.name.as_str().into(),
            spec.description.as_str().into(),
            spec.enabled.into(),
            string_list(&spec.tags).into(),
            (&spec.trigger).into(),
            (&spec.actions).into(),
            (&spec.actions_on_trigger).into(),
            (&spec.actions_on_resolve).into(),
        ]]);
        B::execute(&mut tx, insert).await?;
        relate::<B>(&mut tx, id, related, owner).await?;
        commit(tx).await?;
        Ok(Automation {
            id,
            created: now,
            updated: now,
            spec: spec.clone(),
        })
    }

    async fn read_automation(&self, id: Uuid) -> Result<Automation> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM automations WHERE id = "));
        sql.arg(id);
        self.query_one(sql, automation_row, || not_found("automation", id))
            .await
    }

    async fn replace_automation(
        &self,
        id: Uuid,
        spec: &AutomationSpec,
        related: &[String],
        now: Micros,
    ) -> Result<Automation> {
        let mut tx = self.begin().await?;
        let mut update = Sql::new("UPDATE automations SET updated = ");
        update
            .arg(now)
            .push(", name = ")
            .arg(spec.name.as_str())
            .push(", description = ")
            .arg(spec.description.as_str())
            .push(", enabled = ")
            .arg(spec.enabled)
            .push(", tags = ")
            .arg(string_list(&spec.tags))
            .push(", trigger_doc = ")
            .arg(&spec.trigger)
            .push(", actions = ")
            .arg(&spec.actions)
            .push(", actions_on_trigger = ")
            .arg(&spec.actions_on_trigger)
            .push(", actions_on_resolve = ")
            .arg(&spec.actions_on_resolve)
            .push(", engine_state = NULL WHERE id = ")
            .arg(id)
            .push(&format!(" RETURNING {COLUMNS}"));
        let rows = B::fetch_all(&mut tx, update).await?;
        let automation = automation_row(rows.first().ok_or_else(|| not_found("automation", id))?)?;
        let mut unrelate =
            Sql::new("DELETE FROM automation_resources WHERE owned = 0 AND automation_id = ");
        unrelate.arg(id);
        B::execute(&mut tx, unrelate).await?;
        relate::<B>(&mut tx, id, related, None).await?;
        commit(tx).await?;
        Ok(automation)
    }

    async fn set_automation_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        now: Micros,
    ) -> Result<Automation> {
        let mut tx = self.begin().await?;
        let mut update = Sql::new("UPDATE automations SET updated = ");
        update
            .arg(now)
            .push(", enabled = ")
            .arg(enabled)
            .push(" WHERE id = ")
            .arg(id)
            .push(&format!(" RETURNING {COLUMNS}"));
        let rows = B::fetch_all(&mut tx, update).await?;
        let automation = automation_row(rows.first().ok_or_else(|| not_found("automation", id))?)?;
        commit(tx).await?;
        Ok(automation)
    }

    async fn delete_automation(&self, id: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut delete = Sql::new("DELETE FROM automations WHERE id = ");
        delete.arg(id).push(" RETURNING id");
        if B::fetch_all(&mut tx, delete).await?.is_empty() {
            return Err(not_found("automation", id));
        }
        commit(tx).await
    }

    async fn filter_automations(
        &self,
        filter: &AutomationFilter,
        sort: AutomationSort,
        page: Page,
    ) -> Result<Vec<Automation>> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM automations"));
        conditions(filter).append_to(&mut sql);
        sql.push(match sort {
            AutomationSort::CreatedDesc => " ORDER BY created DESC, id DESC",
            AutomationSort::UpdatedDesc => " ORDER BY updated DESC, id DESC",
            AutomationSort::NameAsc => " ORDER BY name, id",
            AutomationSort::NameDesc => " ORDER BY name DESC, id DESC",
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(automation_row).collect()
    }

    async fn count_automations(&self, filter: &AutomationFilter) -> Result<i64> {
        self.count("automations", conditions(filter)).await
    }

    async fn automations_related_to(&self, resource_id: &str) -> Result<Vec<Automation>> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLUMNS} FROM automations WHERE id IN \
             (SELECT automation_id FROM automation_resources WHERE resource_id = "
        ));
        sql.arg(resource_id).push(") ORDER BY name, id");
        self.query(sql).await?.iter().map(automation_row).collect()
    }

    async fn delete_automations_owned_by(
        &self,
        resource_id: &str,
        created_before: Micros,
    ) -> Result<Vec<Uuid>> {
        let mut tx = self.begin().await?;
        let mut delete = Sql::new(
            "DELETE FROM automations WHERE id IN (SELECT automation_id FROM \
             automation_resources WHERE owned = 1 AND resource_id = ",
        );
        delete
            .arg(resource_id)
            .push(") AND created <= ")
            .arg(created_before)
            .push(" RETURNING id");
        let ids = B::fetch_all(&mut tx, delete)
            .await?
            .iter()
            .map(|r| r.uuid("id"))
            .collect::<Result<Vec<_>>>()?;
        commit(tx).await?;
        Ok(ids)
    }

    async fn engine_automations(&self) -> Result<Vec<EngineAutomation>> {
        let sql = Sql::new(&format!(
            "SELECT {COLUMNS}, engine_state FROM automations WHERE enabled = 1 ORDER BY id"
        ));
        self.query(sql)
            .await?
            .iter()
            .map(|row| {
                let automation = automation_row(row)?;
                let state = state_row(row, automation.id)?;
                Ok(EngineAutomation { automation, state })
            })
            .collect()
    }

    async fn automation_state(&self, id: Uuid) -> Result<Option<AutomationState>> {
        let mut sql = Sql::new("SELECT engine_state FROM automations WHERE id = ");
        sql.arg(id);
        self.query_one(
            sql,
            |row| state_row(row, id),
            || not_found("automation", id),
        )
        .await
    }

    async fn claim_engine(
        &self,
        holder: Uuid,
        first: Micros,
        now: Micros,
        ttl: Duration,
    ) -> Result<Option<FeedPosition>> {
        let mut tx = self.begin().await?;
        let mut claim = Sql::new(
            "INSERT INTO automation_engine (name, holder, expires, received, received_ids) VALUES ",
        );
        claim
            .rows([vec![
                ENGINE.into(),
                holder.into(),
                until(now, ttl).into(),
                first.into(),
                "[]".into(),
            ]])
            .push(
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
                 expires = excluded.expires WHERE automation_engine.holder = excluded.holder \
                 OR automation_engine.expires < ",
            )
            .arg(now)
            .push(" RETURNING received, received_ids");
        let rows = B::fetch_all(&mut tx, claim).await?;
        let position = rows.first().map(position_row).transpose()?;
        commit(tx).await?;
        Ok(position)
    }

    async fn save_engine(
        &self,
        holder: Uuid,
        checkpoint: &EngineCheckpoint,
        now: Micros,
        ttl: Duration,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let ids: Vec<String> = (checkpoint.position.ids.iter())
            .map(Uuid::to_string)
            .collect();
        let mut extend = Sql::new("UPDATE automation_engine SET expires = ");
        extend
            .arg(until(now, ttl))
            .push(", received = ")
            .arg(checkpoint.position.received)
            .push(", received_ids = ")
            .arg(string_list(&ids))
            .push(" WHERE name = ")
            .arg(ENGINE)
            .push(" AND holder = ")
            .arg(holder)
            .push(" RETURNING name");
        if B::fetch_all(&mut tx, extend).await?.is_empty() {
            return Ok(false);
        }
        for (id, state) in &checkpoint.states {
            let text = serde_json::to_string(state)
                .map_err(|e| crate::StoreError::Invalid(format!("trigger state: {e}")))?;
            let mut save = Sql::new("UPDATE automations SET engine_state = ");
            save.arg(text).push(" WHERE id = ").arg(*id);
            B::execute(&mut tx, save).await?;
        }
        commit(tx).await?;
        Ok(true)
    }

    async fn release_engine(&self, holder: Uuid) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut release = Sql::new("UPDATE automation_engine SET expires = 0 WHERE name = ");
        release.arg(ENGINE).push(" AND holder = ").arg(holder);
        B::execute(&mut tx, release).await?;
        commit(tx).await
    }

    async fn events_after(&self, position: &FeedPosition, limit: u32) -> Result<Vec<Event>> {
        let mut sql = Sql::new("SELECT * FROM events WHERE received > ");
        sql.arg(position.received)
            .push(" OR (received = ")
            .arg(position.received);
        if !position.ids.is_empty() {
            sql.push(" AND id NOT IN (")
                .arg_list(position.ids.iter().copied())
                .push(")");
        }
        sql.push(") ORDER BY received, id LIMIT ")
            .arg(i64::from(limit));
        self.query(sql).await?.iter().map(event_row).collect()
    }

    async fn record_firing(&self, firing: &FiringRecord) -> Result<bool> {
        let mut tx = self.begin().await?;
        let mut insert = Sql::new(
            "INSERT INTO automation_firings (automation_id, firing_key, id, state, occurred, \
             decided, triggering_event, outcomes) VALUES ",
        );
        insert
            .rows([vec![
                firing.automation_id.into(),
                firing.key.as_str().into(),
                firing.id.into(),
                firing.state.as_str().into(),
                firing.occurred.into(),
                firing.decided.into(),
                firing.triggering_event.into(),
                None::<String>.into(),
            ]])
            .push(" ON CONFLICT (automation_id, firing_key) DO NOTHING RETURNING id");
        let fresh = !B::fetch_all(&mut tx, insert).await?.is_empty();
        commit(tx).await?;
        Ok(fresh)
    }

    async fn finish_firing(&self, automation_id: Uuid, key: &str, outcomes: &Value) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut update = Sql::new("UPDATE automation_firings SET outcomes = ");
        update
            .arg(outcomes)
            .push(" WHERE automation_id = ")
            .arg(automation_id)
            .push(" AND firing_key = ")
            .arg(key);
        B::execute(&mut tx, update).await?;
        commit(tx).await
    }

    async fn automation_firings(&self, id: Uuid, limit: u32) -> Result<Vec<FiringRecord>> {
        let mut sql = Sql::new("SELECT * FROM automation_firings WHERE automation_id = ");
        sql.arg(id)
            .push(" ORDER BY decided DESC, firing_key DESC LIMIT ")
            .arg(i64::from(limit));
        self.query(sql).await?.iter().map(firing_row).collect()
    }

    fn is_shared(&self) -> bool {
        B::KIND == "postgres"
    }
}

/// `now + ttl`.
fn until(now: Micros, ttl: Duration) -> Micros {
    Micros(
        now.0
            .saturating_add(i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX)),
    )
}

/// Relates an automation to the resources its actions name, and to its owner.
async fn relate<B: Backend>(
    conn: &mut B::Connection,
    id: Uuid,
    related: &[String],
    owner: Option<&str>,
) -> Result<()> {
    let mut rows: Vec<(&str, bool)> = related.iter().map(|r| (r.as_str(), false)).collect();
    if let Some(owner) = owner {
        rows.retain(|(r, _)| *r != owner);
        rows.push((owner, true));
    }
    rows.sort_unstable();
    rows.dedup_by_key(|(r, _)| *r);
    if rows.is_empty() {
        return Ok(());
    }
    let mut insert =
        Sql::new("INSERT INTO automation_resources (automation_id, resource_id, owned) VALUES ");
    insert.rows(
        rows.iter()
            .map(|(r, owned)| vec![id.into(), (*r).into(), (*owned).into()]),
    );
    insert.push(" ON CONFLICT (automation_id, resource_id) DO NOTHING");
    B::execute(conn, insert).await.map(drop)
}

fn conditions(f: &AutomationFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(
        &mut c,
        "id",
        &f.ids
            .as_ref()
            .map(|ids| ids.iter().map(Uuid::to_string).collect::<Vec<_>>()),
    );
    filters::any_of(&mut c, "name", &f.names);
    if let Some(before) = f.created_before {
        c.add(|s| {
            s.push("created <= ").arg(before);
        });
    }
    c
}

fn automation_row(row: &Row) -> Result<Automation> {
    Ok(Automation {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        spec: AutomationSpec {
            name: row.get("name")?,
            description: row.get("description")?,
            enabled: row.get::<i64>("enabled")? != 0,
            tags: row.string_list("tags")?,
            trigger: row.json("trigger_doc")?,
            actions: row.json("actions")?,
            actions_on_trigger: row.json("actions_on_trigger")?,
            actions_on_resolve: row.json("actions_on_resolve")?,
        },
    })
}

/// The stored engine state of a row (an unreadable one is logged and read as none: the
/// automation starts afresh rather than failing).
fn state_row(row: &Row, id: Uuid) -> Result<Option<AutomationState>> {
    let text = row.get::<Option<String>>("engine_state")?;
    Ok(text.and_then(|text| match serde_json::from_str(&text) {
        Ok(state) => Some(state),
        Err(e) => {
            tracing::warn!(automation = %id, error = %e,
                "stored trigger state is unreadable; the automation starts afresh");
            None
        }
    }))
}

fn position_row(row: &Row) -> Result<FeedPosition> {
    Ok(FeedPosition {
        received: row.micros("received")?,
        ids: (row.string_list("received_ids")?.iter())
            .filter_map(|s| Uuid::parse_str(s).ok())
            .collect(),
    })
}

fn firing_row(row: &Row) -> Result<FiringRecord> {
    Ok(FiringRecord {
        automation_id: row.uuid("automation_id")?,
        key: row.get("firing_key")?,
        id: row.uuid("id")?,
        state: row.get("state")?,
        occurred: row.micros("occurred")?,
        decided: row.micros("decided")?,
        triggering_event: row.opt_uuid("triggering_event")?,
        outcomes: row.json("outcomes")?,
    })
}
