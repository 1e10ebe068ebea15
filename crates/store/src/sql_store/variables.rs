//! [`VariableStore`] on SQL: the `variables` table (the value as JSON text, tags as a JSON
//! array).

use async_trait::async_trait;
use flowgate_core::Micros;
use uuid::Uuid;

use super::{SqlStore, commit, filters, not_found, rows};
use crate::backend::Backend;
use crate::capabilities::variables::{
    NewVariable, Variable, VariableFilter, VariableKey, VariableSort, VariableStore, VariableUpdate,
};
use crate::model::Page;
use crate::sql::{Conditions, Row, Sql};
use crate::store::{Result, StoreError};

#[async_trait]
impl<B: Backend> VariableStore for SqlStore<B> {
    async fn create_variable(&self, new: &NewVariable, now: Micros) -> Result<Variable> {
        let mut tx = self.begin().await?;
        let mut insert =
            Sql::new("INSERT INTO variables (id, created, updated, name, value, tags) VALUES ");
        insert
            .rows([vec![
                Uuid::now_v7().into(),
                now.into(),
                now.into(),
                new.name.as_str().into(),
                (&new.value).into(),
                rows::string_list(&new.tags).into(),
            ]])
            .push(" ON CONFLICT (name) DO NOTHING RETURNING *");
        let rows = B::fetch_all(&mut tx, insert).await?;
        let variable = variable(rows.first().ok_or_else(|| taken(&new.name))?)?;
        commit(tx).await?;
        Ok(variable)
    }

    async fn read_variable(&self, key: &VariableKey) -> Result<Variable> {
        self.query_one(select_by(key, ""), variable, || missing(key))
            .await
    }

    async fn filter_variables(
        &self,
        filter: &VariableFilter,
        sort: VariableSort,
        page: Page,
    ) -> Result<Vec<Variable>> {
        let mut sql = Sql::new("SELECT * FROM variables");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(match sort {
            VariableSort::NameAsc => " ORDER BY name",
            VariableSort::NameDesc => " ORDER BY name DESC",
            VariableSort::CreatedDesc => " ORDER BY created DESC, id DESC",
            VariableSort::UpdatedDesc => " ORDER BY updated DESC, id DESC",
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(variable).collect()
    }

    async fn count_variables(&self, filter: &VariableFilter) -> Result<i64> {
        self.count("variables", conditions::<B>(filter)).await
    }

    async fn update_variable(
        &self,
        key: &VariableKey,
        update: &VariableUpdate,
        now: Micros,
    ) -> Result<Variable> {
        let mut tx = self.begin().await?;
        let rows = B::fetch_all(&mut tx, select_by(key, B::FOR_UPDATE)).await?;
        let mut changed = variable(rows.first().ok_or_else(|| missing(key))?)?;
        if let Some(name) = update.name.as_ref().filter(|n| **n != changed.name) {
            let other = B::fetch_all(&mut tx, select_by(&VariableKey::Name(name.clone()), ""));
            if !other.await?.is_empty() {
                return Err(taken(name));
            }
            changed.name.clone_from(name);
        }
        if let Some(value) = &update.value {
            changed.value = value.clone();
        }
        if let Some(tags) = &update.tags {
            changed.tags.clone_from(tags);
        }
        changed.updated = now;
        let mut write = Sql::new("UPDATE variables SET name = ");
        write
            .arg(changed.name.as_str())
            .push(", value = ")
            .arg(&changed.value)
            .push(", tags = ")
            .arg(rows::string_list(&changed.tags))
            .push(", updated = ")
            .arg(now)
            .push(" WHERE id = ")
            .arg(changed.id);
        B::execute(&mut tx, write).await?;
        commit(tx).await?;
        Ok(changed)
    }

    async fn delete_variable(&self, key: &VariableKey) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut delete = Sql::new("DELETE FROM variables");
        key_condition(&mut delete, key);
        if B::execute(&mut tx, delete).await? == 0 {
            return Err(missing(key));
        }
        commit(tx).await
    }
}

/// `SELECT * FROM variables WHERE <key> <tail>`.
fn select_by(key: &VariableKey, tail: &str) -> Sql {
    let mut sql = Sql::new("SELECT * FROM variables");
    key_condition(&mut sql, key);
    sql.push(tail);
    sql
}

/// ` WHERE id = $n` or ` WHERE name = $n`.
fn key_condition(sql: &mut Sql, key: &VariableKey) {
    match key {
        VariableKey::Id(id) => sql.push(" WHERE id = ").arg(*id),
        VariableKey::Name(name) => sql.push(" WHERE name = ").arg(name.as_str()),
    };
}

fn missing(key: &VariableKey) -> StoreError {
    not_found("variable", key)
}

fn taken(name: &str) -> StoreError {
    StoreError::Conflict(format!(
        "a variable with the name {name:?} already exists; update it, or pick another name"
    ))
}

/// Reads a `variables` row.
fn variable(row: &Row) -> Result<Variable> {
    Ok(Variable {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        value: row.json("value")?,
        tags: row.string_list("tags")?,
    })
}

/// The `WHERE` conditions of a variable filter.
fn conditions<B: Backend>(f: &VariableFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::any_of(&mut c, "id", &f.ids);
    filters::any_of(&mut c, "name", &f.names);
    filters::contains::<B>(&mut c, "name", &f.name_like);
    filters::has_all_tags::<B>(&mut c, "tags", &f.tags_all);
    if let Some(empty) = f.tags_empty {
        c.add(|s| {
            s.push(if empty { "tags = '[]'" } else { "tags <> '[]'" });
        });
    }
    c
}
