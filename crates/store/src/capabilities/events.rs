//! Events: the immutable record of what happened, written in group-committed batches together
//! with the task runs they fold into and the log lines that travel beside them.

use async_trait::async_trait;
use flowgate_core::event_counts::TimeBuckets;
use flowgate_core::{Event, Micros};
use serde_json::Value;
use uuid::Uuid;

use crate::capabilities::logs::LogEntry;
use crate::model::{Page, TimeRange};
use crate::store::Result;

/// Which events to return.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    /// Occurred within this window.
    pub occurred: TimeRange,
    /// Event name is any of these.
    pub names: Option<Vec<String>>,
    /// Event name starts with any of these.
    pub name_prefixes: Option<Vec<String>>,
    /// Resource id is any of these.
    pub resource_ids: Option<Vec<String>>,
    /// Resource id starts with any of these.
    pub resource_id_prefixes: Option<Vec<String>>,
    /// Any of these ids.
    pub ids: Option<Vec<Uuid>>,
    /// A related resource with one of these ids (matched as text in the related labels).
    pub related_resource_ids: Option<Vec<String>>,
    /// Received (stored) at or before this instant: a paged listing's anchor, so events
    /// arriving after its first page do not shift the pages after it.
    pub received_until: Option<Micros>,
    /// Only events after this position in the filter's order (a page's last event): keyset
    /// paging, which neither skips nor repeats rows when earlier ones are added or pruned.
    pub after: Option<EventPosition>,
    /// Newest first when true.
    pub newest_first: bool,
}

/// Where an event stands in a listing's order: its `occurred`, ties broken by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPosition {
    /// When the event occurred.
    pub occurred: Micros,
    /// Its id.
    pub id: Uuid,
}

impl EventPosition {
    /// The position of `event`.
    pub fn of(event: &Event) -> EventPosition {
        EventPosition {
            occurred: event.occurred,
            id: event.id,
        }
    }
}

impl EventFilter {
    /// Whether `event` passes this filter (the in-memory twin of the SQL filter, for live
    /// subscriptions).
    pub fn matches(&self, event: &Event) -> bool {
        let within = |r: &TimeRange, t: Micros| {
            r.after.is_none_or(|a| t >= a) && r.before.is_none_or(|b| t <= b)
        };
        let any_eq = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        let any_prefix = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref()
                .is_none_or(|l| l.iter().any(|p| v.starts_with(p.as_str())))
        };
        let related_ok = self.related_resource_ids.as_ref().is_none_or(|ids| {
            event.related.iter().any(|r| {
                r.get("prefect.resource.id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.iter().any(|x| x == id))
            })
        });
        within(&self.occurred, event.occurred)
            && any_eq(&self.names, &event.event)
            && any_prefix(&self.name_prefixes, &event.event)
            && any_eq(&self.resource_ids, event.resource_id())
            && any_prefix(&self.resource_id_prefixes, event.resource_id())
            && self.ids.as_ref().is_none_or(|ids| ids.contains(&event.id))
            && related_ok
            && self.received_until.is_none_or(|r| event.received <= r)
            && self.after.is_none_or(|p| {
                // Uuid order is the byte order of their text, as SQLite compares it (a
                // PostgreSQL collation may order text differently; only paging sets `after`,
                // and pages are read in SQL).
                let here = (event.occurred, event.id);
                let there = (p.occurred, p.id);
                if self.newest_first {
                    here < there
                } else {
                    here > there
                }
            })
    }
}

/// How [`EventStore::count_events_by`] groups events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventGrouping {
    /// By time bucket (the filter's window should lie within the buckets').
    Buckets(TimeBuckets),
    /// By event name, the largest groups first, at most this many.
    Name(u32),
    /// By the resource they are about, the largest groups first, at most this many.
    Resource(u32),
}

/// What a group of events is grouped by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventGroupKey {
    /// A time bucket's index (0 is the first).
    Bucket(i64),
    /// An event name.
    Name(String),
    /// A resource: its id, and its `prefect.resource.name` if one of its events names it.
    Resource {
        /// Its `prefect.resource.id`.
        id: String,
        /// Its `prefect.resource.name`, if one of its events names it.
        name: Option<String>,
    },
}

/// Events counted in one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventGroup {
    /// What they have in common.
    pub key: EventGroupKey,
    /// How many.
    pub count: i64,
    /// When the earliest occurred.
    pub first: Micros,
    /// When the latest occurred.
    pub last: Micros,
}

/// What an event batch did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestOutcome {
    /// Events newly stored.
    pub stored: usize,
    /// Events skipped because their id was already stored.
    pub duplicates: usize,
    /// Task runs created or updated from the batch.
    pub task_runs: usize,
    /// Task-run events whose payload could not be read (stored, but no record changed).
    pub unreadable: usize,
    /// Ids of the events newly stored, in batch order.
    pub fresh: Vec<Uuid>,
}

/// Storing and querying events.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores events not stored before (by id), folds task-run events into task runs (marked
    /// updated at `now`), and stores log lines: the batched write path for high-volume client
    /// reports.
    async fn ingest(
        &self,
        events: &[Event],
        logs: &[LogEntry],
        now: Micros,
    ) -> Result<IngestOutcome>;
    /// Events matching `filter`.
    async fn filter_events(&self, filter: &EventFilter, page: Page) -> Result<Vec<Event>>;
    /// How many events match `filter`.
    async fn count_events(&self, filter: &EventFilter) -> Result<i64>;
    /// Events matching `filter` counted per group (one `GROUP BY`); buckets without events are
    /// not returned.
    async fn count_events_by(
        &self,
        filter: &EventFilter,
        by: EventGrouping,
    ) -> Result<Vec<EventGroup>>;
}
