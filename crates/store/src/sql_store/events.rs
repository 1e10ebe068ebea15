//! [`EventStore`] on SQL: the `events` table, and ingest, the batched write path that stores
//! new events, folds task-run events into task runs and stores log lines in one transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use flowgate_core::task_run::{TASK_RUN_EVENT_PREFIX, TaskRunRecord};
use flowgate_core::{Event, Micros, Payload};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{SqlStore, commit, filters, insert_rows, logs, task_runs};
use crate::backend::Backend;
use crate::capabilities::events::{
    EventFilter, EventGroup, EventGroupKey, EventGrouping, EventStore, IngestOutcome,
};
use crate::capabilities::logs::LogEntry;
use crate::model::Page;
use crate::sql::{Arg, Conditions, Row, Sql};
use crate::store::Result;

#[async_trait]
impl<B: Backend> EventStore for SqlStore<B> {
    async fn ingest(
        &self,
        events: &[Event],
        logs: &[LogEntry],
        now: Micros,
    ) -> Result<IngestOutcome> {
        let mut outcome = IngestOutcome::default();
        let mut seen = HashSet::new();
        let unique: Vec<&Event> = events.iter().filter(|e| seen.insert(e.id)).collect();
        let mut tx = self.begin().await?;
        let inserted = insert_events::<B>(&mut tx, &unique).await?;
        let fresh: Vec<&Event> = unique
            .into_iter()
            .filter(|e| inserted.contains(&e.id))
            .collect();
        outcome.duplicates = events.len() - fresh.len();
        outcome.stored = fresh.len();
        outcome.fresh = fresh.iter().map(|e| e.id).collect();

        let mut reports: HashMap<Uuid, TaskRunRecord> = HashMap::new();
        for ev in fresh
            .iter()
            .filter(|e| e.event.starts_with(TASK_RUN_EVENT_PREFIX))
        {
            match TaskRunRecord::from_event(ev) {
                Ok(rec) => {
                    let merged = match reports.remove(&rec.id) {
                        Some(prev) => prev.merge(rec),
                        None => rec,
                    };
                    reports.insert(merged.id, merged);
                }
                Err(e) => {
                    outcome.unreadable += 1;
                    tracing::warn!(event = %ev.id, error = %e, "task-run event not applied");
                }
            }
        }
        if !reports.is_empty() {
            outcome.task_runs = task_runs::fold_reports::<B>(&mut tx, reports, now).await?;
        }
        logs::insert_logs::<B>(&mut tx, logs).await?;
        commit(tx).await?;
        Ok(outcome)
    }

    async fn filter_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<Event>> {
        let mut sql = Sql::new("SELECT * FROM events");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(if filter.newest_first {
            " ORDER BY occurred DESC, id DESC"
        } else {
            " ORDER BY occurred, id"
        });
        filters::page(&mut sql, page);
        self.query(sql).await?.iter().map(event_row).collect()
    }

    async fn count_events(&self, filter: &EventFilter) -> Result<i64> {
        self.count("events", conditions::<B>(filter)).await
    }

    async fn count_events_by(
        &self,
        filter: &EventFilter,
        by: EventGrouping,
    ) -> Result<Vec<EventGroup>> {
        let mut sql = Sql::new("SELECT ");
        let limit = match by {
            EventGrouping::Buckets(b) => {
                sql.push("(occurred - ")
                    .arg(b.start)
                    .push(") / ")
                    .arg(b.width)
                    .push(" AS bucket");
                None
            }
            EventGrouping::Name(limit) => {
                sql.push("event AS value");
                Some(limit)
            }
            // Any one of the resource's descriptions: they name it the same way.
            EventGrouping::Resource(limit) => {
                sql.push("resource_id AS value, MAX(resource) AS resource");
                Some(limit)
            }
        };
        sql.push(", COUNT(*) AS n, MIN(occurred) AS first, MAX(occurred) AS last FROM events");
        conditions::<B>(filter).append_to(&mut sql);
        sql.push(" GROUP BY 1");
        if let Some(limit) = limit {
            sql.push(" ORDER BY n DESC, value LIMIT ")
                .arg(i64::from(limit));
        }
        self.query(sql)
            .await?
            .iter()
            .map(|row| {
                let key = match by {
                    EventGrouping::Buckets(_) => EventGroupKey::Bucket(row.get("bucket")?),
                    EventGrouping::Name(_) => EventGroupKey::Name(row.get("value")?),
                    EventGrouping::Resource(_) => EventGroupKey::Resource {
                        id: row.get("value")?,
                        name: row
                            .json("resource")?
                            .get("prefect.resource.name")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    },
                };
                Ok(EventGroup {
                    key,
                    count: row.get("n")?,
                    first: row.micros("first")?,
                    last: row.micros("last")?,
                })
            })
            .collect()
    }
}

/// Inserts the events not stored yet; returns the ids of those it inserted.
pub(super) async fn insert_events<B: Backend>(
    conn: &mut B::Connection,
    events: &[&Event],
) -> Result<HashSet<Uuid>> {
    insert_rows::<B>(
        conn,
        &format!("INSERT INTO events ({COLUMNS}) VALUES "),
        " ON CONFLICT (id) DO NOTHING RETURNING id",
        events.iter().map(|e| args(e)).collect(),
    )
    .await?
    .iter()
    .map(|r| r.uuid("id"))
    .collect()
}

/// Columns of `events`, in the order of [`args`].
const COLUMNS: &str =
    "id, occurred, event, resource_id, resource, related, payload, follows, received";

/// An event's row, in [`COLUMNS`] order.
fn args(e: &Event) -> Vec<Arg> {
    vec![
        e.id.into(),
        e.occurred.into(),
        e.event.as_str().into(),
        e.resource_id().into(),
        Value::Object(e.resource.clone()).to_string().into(),
        serde_json::to_string(&e.related)
            .unwrap_or_else(|_| "[]".to_owned())
            .into(),
        e.payload.as_str().into(),
        e.follows.into(),
        e.received.into(),
    ]
}

/// Reads an `events` row.
pub(super) fn event_row(row: &Row) -> Result<Event> {
    let as_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    Ok(Event {
        id: row.uuid("id")?,
        occurred: row.micros("occurred")?,
        event: row.get("event")?,
        resource: as_map(row.json("resource")?),
        related: match row.json("related")? {
            Value::Array(items) => items.into_iter().map(as_map).collect(),
            _ => Vec::new(),
        },
        payload: Payload::from_json_text(row.get("payload")?),
        follows: row.opt_uuid("follows")?,
        received: row.micros("received")?,
    })
}

/// The `WHERE` conditions of an event filter.
fn conditions<B: Backend>(f: &EventFilter) -> Conditions {
    let mut c = Conditions::default();
    filters::time_range(&mut c, "occurred", &f.occurred);
    filters::any_of(&mut c, "event", &f.names);
    filters::starts_with_any(&mut c, "event", &f.name_prefixes);
    filters::any_of(&mut c, "resource_id", &f.resource_ids);
    filters::starts_with_any(&mut c, "resource_id", &f.resource_id_prefixes);
    filters::any_of(&mut c, "id", &f.ids);
    if let Some(ids) = &f.related_resource_ids {
        c.add(|s| {
            s.push("(");
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    s.push(" OR ");
                }
                let needle = format!("\"prefect.resource.id\":{}", Value::String(id.clone()));
                filters::contains_text::<B>(s, "related", needle);
            }
            if ids.is_empty() {
                s.push("1 = 0");
            }
            s.push(")");
        });
    }
    if let Some(until) = f.received_until {
        c.add(|s| {
            s.push("received <= ").arg(until);
        });
    }
    if let Some(p) = f.after {
        // Row-value comparison spelled out: both backends, and the (occurred) index applies.
        let op = if f.newest_first { " < " } else { " > " };
        c.add(|s| {
            s.push("(occurred")
                .push(op)
                .arg(p.occurred)
                .push(" OR (occurred = ")
                .arg(p.occurred)
                .push(" AND id")
                .push(op)
                .arg(p.id)
                .push("))");
        });
    }
    c
}
