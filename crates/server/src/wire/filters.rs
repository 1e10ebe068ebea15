//! Prefect's filter bodies (`{"flow_runs": {"state": {"type": {"any_": [...]}}}, "limit": 10}`)
//! read into the store's filters. A field Flowgate does not support is an error naming it, not
//! silently ignored: a filter that matched more than asked for would mislead.

use std::cell::Cell;
use std::collections::HashSet;
use std::rc::Rc;

use flowgate_core::{Micros, StateType};
use flowgate_store::model::*;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 10_000;
/// List items one request's filter may hold in all: each becomes a query parameter, and
/// databases cap those per statement (SQLite at 32,766, PostgreSQL at 65,535).
pub const MAX_FILTER_ITEMS: usize = 30_000;
/// Items one list of tags, prefixes or related ids may hold: each becomes its own `LIKE` term,
/// and databases refuse expressions nested too deeply (SQLite at depth 1000).
pub const MAX_PATTERNS: usize = 100;

/// Reads one JSON object, remembering which keys were consumed.
pub struct Reader<'a> {
    path: String,
    map: Option<&'a Map<String, Value>>,
    used: HashSet<&'static str>,
    /// List items the whole request may still hold, shared with the readers of nested objects.
    items_left: Rc<Cell<usize>>,
}

type R<T> = Result<T, String>;

impl<'a> Reader<'a> {
    /// Reads `value` (an object, or null for "no constraints") found at `path`.
    pub fn new(path: &str, value: Option<&'a Value>) -> R<Reader<'a>> {
        Reader::within(path, value, Rc::new(Cell::new(MAX_FILTER_ITEMS)))
    }

    fn within(path: &str, value: Option<&'a Value>, items_left: Rc<Cell<usize>>) -> R<Reader<'a>> {
        let map = match value {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(other) => return Err(format!("{path} must be an object, got {other}")),
        };
        Ok(Reader {
            path: path.to_owned(),
            map,
            used: HashSet::new(),
            items_left,
        })
    }

    fn take(&mut self, key: &'static str) -> Option<&'a Value> {
        self.used.insert(key);
        self.map.and_then(|m| m.get(key)).filter(|v| !v.is_null())
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// A nested object.
    pub fn child(&mut self, key: &'static str) -> R<Reader<'a>> {
        let path = self.at(key);
        Reader::within(&path, self.take(key), self.items_left.clone())
    }

    /// Whether the key is present and non-null.
    pub fn has(&self, key: &str) -> bool {
        self.map
            .and_then(|m| m.get(key))
            .is_some_and(|v| !v.is_null())
    }

    /// An array of strings, counted against the request's [`MAX_FILTER_ITEMS`].
    pub fn strings(&mut self, key: &'static str) -> R<Option<Vec<String>>> {
        self.bounded_strings(key, MAX_FILTER_ITEMS)
    }

    /// An array of at most [`MAX_PATTERNS`] strings matched as patterns.
    pub fn patterns(&mut self, key: &'static str) -> R<Option<Vec<String>>> {
        self.bounded_strings(key, MAX_PATTERNS)
    }

    /// An array of at most `max` strings, counted against the request's [`MAX_FILTER_ITEMS`].
    fn bounded_strings(&mut self, key: &'static str, max: usize) -> R<Option<Vec<String>>> {
        let path = self.at(key);
        self.take(key)
            .map(|v| {
                let items = v
                    .as_array()
                    .ok_or_else(|| format!("{path} must be a list of strings"))?;
                if items.len() > max {
                    return Err(format!(
                        "{path} has {} items; at most {max} are supported",
                        items.len()
                    ));
                }
                let left = self
                    .items_left
                    .get()
                    .checked_sub(items.len())
                    .ok_or_else(|| {
                        format!(
                            "{path}: a filter may hold {MAX_FILTER_ITEMS} items in all; split it"
                        )
                    })?;
                self.items_left.set(left);
                items
                    .iter()
                    .map(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .ok_or_else(|| format!("{path} must be a list of strings, found {s}"))
                    })
                    .collect()
            })
            .transpose()
    }

    /// An array of uuids.
    pub fn uuids(&mut self, key: &'static str) -> R<Option<Vec<Uuid>>> {
        let path = self.at(key);
        self.strings(key)?
            .map(|items| {
                items
                    .iter()
                    .map(|s| Uuid::parse_str(s).map_err(|_| format!("{path}: {s:?} is not a UUID")))
                    .collect()
            })
            .transpose()
    }

    /// A string.
    pub fn string(&mut self, key: &'static str) -> R<Option<String>> {
        let path = self.at(key);
        self.take(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{path} must be a string"))
            })
            .transpose()
    }

    /// A boolean.
    pub fn boolean(&mut self, key: &'static str) -> R<Option<bool>> {
        let path = self.at(key);
        self.take(key)
            .map(|v| {
                v.as_bool()
                    .ok_or_else(|| format!("{path} must be true or false"))
            })
            .transpose()
    }

    /// An integer.
    pub fn int(&mut self, key: &'static str) -> R<Option<i64>> {
        let path = self.at(key);
        self.take(key)
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| format!("{path} must be an integer"))
            })
            .transpose()
    }

    /// An ISO 8601 timestamp.
    pub fn time(&mut self, key: &'static str) -> R<Option<Micros>> {
        let path = self.at(key);
        self.string(key)?
            .map(|s| Micros::parse(&s).map_err(|e| format!("{path}: {e}")))
            .transpose()
    }

    /// Fails on any unread non-null key; `operator` may only be `and_`.
    pub fn finish(mut self) -> R<()> {
        if let Some(op) = self.string("operator")?
            && op != "and_"
        {
            return Err(format!(
                "{}: operator {op:?} is not supported; Flowgate combines filters with and_",
                self.path
            ));
        }
        let extra: Map<String, Value> = self
            .map
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| !self.used.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        super::reject_unknown(&self.path, &extra)
    }
}

fn time_range(r: &mut Reader<'_>, key: &'static str) -> R<TimeRange> {
    let mut c = r.child(key)?;
    let range = TimeRange {
        after: c.time("after_")?,
        before: c.time("before_")?,
    };
    c.finish()?;
    Ok(range)
}

fn state_types(path: &str, items: Vec<String>) -> R<Vec<StateType>> {
    items
        .iter()
        .map(|s| {
            StateType::parse(s).ok_or_else(|| {
                format!(
                    "{path}: unknown state type {s:?}; use one of {}",
                    StateType::ALL.map(StateType::as_str).join(", ")
                )
            })
        })
        .collect()
}

/// State types and state names a filter asks for.
type StateMatch = (Option<Vec<StateType>>, Option<Vec<String>>);

/// `{"type": {"any_"|"not_any_"}, "name": {"any_"}}` under `state`.
fn state_filter(r: &mut Reader<'_>) -> R<StateMatch> {
    let mut state = r.child("state")?;
    let mut ty = state.child("type")?;
    let path = format!("{}.state.type", r.path);
    let mut types = ty
        .strings("any_")?
        .map(|t| state_types(&path, t))
        .transpose()?;
    if let Some(not) = ty.strings("not_any_")? {
        let excluded = state_types(&path, not)?;
        let base = types.unwrap_or_else(|| StateType::ALL.to_vec());
        types = Some(base.into_iter().filter(|t| !excluded.contains(t)).collect());
    }
    ty.finish()?;
    let mut name = state.child("name")?;
    let names = name.strings("any_")?;
    name.finish()?;
    state.finish()?;
    Ok((types, names))
}

/// `{"any_": [...]}` under `key`, as uuids.
fn uuid_any(r: &mut Reader<'_>, key: &'static str) -> R<Option<Vec<Uuid>>> {
    let mut c = r.child(key)?;
    let ids = c.uuids("any_")?;
    c.finish()?;
    Ok(ids)
}

/// Reads a `flows` filter object.
pub fn flow_filter(mut r: Reader<'_>) -> R<Option<FlowFilter>> {
    if r.map.is_none() {
        return Ok(None);
    }
    let mut id = r.child("id")?;
    let ids = id.uuids("any_")?;
    id.finish()?;
    let mut name = r.child("name")?;
    let names = name.strings("any_")?;
    let name_like = name.string("like_")?;
    name.finish()?;
    let mut tags = r.child("tags")?;
    let tags_all = tags.patterns("all_")?;
    tags.finish()?;
    r.finish()?;
    Ok(Some(FlowFilter {
        ids,
        names,
        name_like,
        tags_all,
    }))
}

/// Reads a `flow_runs` filter object (with the sibling `flows` filter, if any).
pub fn flow_run_filter(mut r: Reader<'_>, flow: Option<FlowFilter>) -> R<FlowRunFilter> {
    let mut f = FlowRunFilter {
        flow,
        ..Default::default()
    };
    let mut id = r.child("id")?;
    f.ids = id.uuids("any_")?;
    f.ids_not = id.uuids("not_any_")?;
    id.finish()?;
    let mut name = r.child("name")?;
    f.names = name.strings("any_")?;
    f.name_like = name.string("like_")?;
    name.finish()?;
    let mut tags = r.child("tags")?;
    f.tags_all = tags.patterns("all_")?;
    tags.finish()?;
    (f.state_types, f.state_names) = state_filter(&mut r)?;
    let mut parent = r.child("parent_task_run_id")?;
    f.parent_task_run_ids = parent.uuids("any_")?;
    f.has_parent_task_run = parent.boolean("is_null_")?.map(|null| !null);
    parent.finish()?;
    let mut flow_id = r.child("flow_id")?;
    f.flow_ids = flow_id.uuids("any_")?;
    flow_id.finish()?;
    f.deployment_ids = uuid_any(&mut r, "deployment_id")?;
    f.start_time = time_range(&mut r, "start_time")?;
    f.expected_start_time = time_range(&mut r, "expected_start_time")?;
    r.finish()?;
    Ok(f)
}

/// Reads a `task_runs` filter object (with a flow-run filter from sibling keys, if any).
pub fn task_run_filter(mut r: Reader<'_>, flow_run: Option<FlowRunFilter>) -> R<TaskRunFilter> {
    let mut f = TaskRunFilter {
        flow_run,
        ..Default::default()
    };
    f.ids = uuid_any(&mut r, "id")?;
    let mut name = r.child("name")?;
    f.names = name.strings("any_")?;
    name.finish()?;
    let mut tags = r.child("tags")?;
    f.tags_all = tags.patterns("all_")?;
    tags.finish()?;
    (f.state_types, f.state_names) = state_filter(&mut r)?;
    let mut fr = r.child("flow_run_id")?;
    f.flow_run_ids = fr.uuids("any_")?;
    f.has_flow_run = fr.boolean("is_null_")?.map(|null| !null);
    fr.finish()?;
    f.start_time = time_range(&mut r, "start_time")?;
    r.finish()?;
    Ok(f)
}

/// Reads `limit` and `offset` from a request body.
pub fn page(body: &mut Reader<'_>) -> R<Page> {
    let limit = body
        .int("limit")?
        .unwrap_or(i64::from(Page::default().limit));
    let offset = body.int("offset")?.unwrap_or(0);
    if !(0..=i64::from(MAX_LIMIT)).contains(&limit) {
        return Err(format!(
            "limit must be between 0 and {MAX_LIMIT}, got {limit}"
        ));
    }
    if offset < 0 {
        return Err(format!("offset must not be negative, got {offset}"));
    }
    Ok(Page {
        limit: limit as u32,
        offset: offset.min(u32::MAX as i64) as u32,
    })
}

/// A body's `flows` + `flow_runs` (+ ignored null `task_runs`/`deployments`) as a flow-run filter.
pub fn flow_runs_body(body: &mut Reader<'_>) -> R<FlowRunFilter> {
    let flows = flow_filter(body.child("flows")?)?;
    let runs = body.child("flow_runs")?;
    reject_present(
        body,
        &["task_runs", "deployments", "work_pools", "work_pool_queues"],
    )?;
    flow_run_filter(runs, flows)
}

/// A body's `task_runs` (+ `flow_runs`, `flows`) as a task-run filter.
pub fn task_runs_body(body: &mut Reader<'_>) -> R<TaskRunFilter> {
    let flows = flow_filter(body.child("flows")?)?;
    let has_runs = body.has("flow_runs");
    let runs = body.child("flow_runs")?;
    let flow_run = if has_runs || flows.is_some() {
        Some(flow_run_filter(runs, flows)?)
    } else {
        runs.finish()?;
        None
    };
    reject_present(body, &["deployments"])?;
    task_run_filter(body.child("task_runs")?, flow_run)
}

fn reject_present(body: &mut Reader<'_>, keys: &[&'static str]) -> R<()> {
    for key in keys {
        let c = body.child(key)?;
        if c.map.is_some_and(|m| m.values().any(|v| !v.is_null())) {
            return Err(format!(
                "{}.{key}: filtering by {key} is not supported yet",
                body.path
            ));
        }
    }
    Ok(())
}

/// Prefect's flow-run sort names.
pub fn flow_run_sort(s: Option<String>) -> R<FlowRunSort> {
    Ok(match s.as_deref() {
        None | Some("ID_DESC") => FlowRunSort::IdDesc,
        Some("START_TIME_ASC") => FlowRunSort::StartTimeAsc,
        Some("START_TIME_DESC") => FlowRunSort::StartTimeDesc,
        Some("EXPECTED_START_TIME_ASC") => FlowRunSort::ExpectedStartTimeAsc,
        Some("EXPECTED_START_TIME_DESC") => FlowRunSort::ExpectedStartTimeDesc,
        Some("NAME_ASC") => FlowRunSort::NameAsc,
        Some("NAME_DESC") => FlowRunSort::NameDesc,
        Some("NEXT_SCHEDULED_START_TIME_ASC") => FlowRunSort::NextScheduledStartTimeAsc,
        Some("END_TIME_DESC") => FlowRunSort::EndTimeDesc,
        Some("CREATED_DESC") => FlowRunSort::CreatedDesc,
        Some(other) => {
            return Err(format!(
                "sort {other:?} is not supported; use ID_DESC, START_TIME_ASC, START_TIME_DESC, \
             EXPECTED_START_TIME_ASC, EXPECTED_START_TIME_DESC, NAME_ASC, NAME_DESC, \
             NEXT_SCHEDULED_START_TIME_ASC, END_TIME_DESC or CREATED_DESC"
            ));
        }
    })
}

/// Prefect's task-run sort names.
pub fn task_run_sort(s: Option<String>) -> R<TaskRunSort> {
    Ok(match s.as_deref() {
        None | Some("ID_DESC") => TaskRunSort::IdDesc,
        Some("EXPECTED_START_TIME_ASC") => TaskRunSort::ExpectedStartTimeAsc,
        Some("EXPECTED_START_TIME_DESC") => TaskRunSort::ExpectedStartTimeDesc,
        Some("NAME_ASC") => TaskRunSort::NameAsc,
        Some("NAME_DESC") => TaskRunSort::NameDesc,
        Some("END_TIME_DESC") => TaskRunSort::EndTimeDesc,
        Some(other) => {
            return Err(format!(
                "sort {other:?} is not supported; use ID_DESC, EXPECTED_START_TIME_ASC, \
             EXPECTED_START_TIME_DESC, NAME_ASC, NAME_DESC or END_TIME_DESC"
            ));
        }
    })
}

/// A body's `logs` filter and sort (`TIMESTAMP_ASC` or `TIMESTAMP_DESC`).
pub fn logs_body(body: &mut Reader<'_>) -> R<(LogFilter, bool)> {
    let mut r = body.child("logs")?;
    let mut f = LogFilter {
        flow_run_ids: uuid_any(&mut r, "flow_run_id")?,
        ..Default::default()
    };
    let mut task = r.child("task_run_id")?;
    f.task_run_ids = task.uuids("any_")?;
    f.has_task_run = task.boolean("is_null_")?.map(|null| !null);
    task.finish()?;
    let mut level = r.child("level")?;
    f.level_ge = level.int("ge_")?;
    f.level_le = level.int("le_")?;
    level.finish()?;
    f.timestamp = time_range(&mut r, "timestamp")?;
    r.finish()?;
    let newest_first = match body.string("sort")?.as_deref() {
        None | Some("TIMESTAMP_ASC") => false,
        Some("TIMESTAMP_DESC") => true,
        Some(other) => {
            return Err(format!(
                "sort {other:?} is not supported; use TIMESTAMP_ASC or TIMESTAMP_DESC"
            ));
        }
    };
    Ok((f, newest_first))
}

/// Prefect's event filter object (`occurred`, `event`, `resource`, `related`, `id`, `order`).
pub fn event_filter(mut r: Reader<'_>) -> R<EventFilter> {
    let mut f = EventFilter::default();
    let mut occurred = r.child("occurred")?;
    f.occurred = TimeRange {
        after: occurred.time("since")?,
        before: occurred.time("until")?,
    };
    occurred.finish()?;
    let mut event = r.child("event")?;
    f.names = event.strings("name")?;
    f.name_prefixes = event.patterns("prefix")?;
    event.finish()?;
    let mut resource = r.child("resource")?;
    f.resource_ids = resource.strings("id")?;
    f.resource_id_prefixes = resource.patterns("id_prefix")?;
    resource.finish()?;
    let mut related = r.child("related")?;
    f.related_resource_ids = related.patterns("id")?;
    related.finish()?;
    let mut any = r.child("any_resource")?;
    if let Some(ids) = any.strings("id")? {
        f.resource_ids = Some(ids);
    }
    any.finish()?;
    let mut id = r.child("id")?;
    f.ids = id.uuids("id")?;
    id.finish()?;
    f.newest_first = match r.string("order")?.as_deref() {
        None | Some("DESC") => true,
        Some("ASC") => false,
        Some(other) => return Err(format!("order {other:?} must be ASC or DESC")),
    };
    r.finish()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn runs(body: Value) -> R<FlowRunFilter> {
        let mut r = Reader::new("body", Some(&body))?;
        let f = flow_runs_body(&mut r)?;
        page(&mut r)?;
        r.string("sort")?;
        r.finish()?;
        Ok(f)
    }

    #[test]
    fn reads_the_clients_filters() {
        let id = Uuid::now_v7();
        let f = runs(json!({
            "flow_runs": {"id": {"any_": [id]}, "state": {"type": {"any_": ["COMPLETED"]}, "operator": "and_"}},
            "flows": {"name": {"any_": ["etl"]}},
            "task_runs": null, "limit": 5, "sort": "NAME_ASC",
        }))
        .unwrap();
        assert_eq!(f.ids, Some(vec![id]));
        assert_eq!(f.state_types, Some(vec![StateType::Completed]));
        assert_eq!(f.flow.unwrap().names, Some(vec!["etl".to_owned()]));
    }

    #[test]
    fn not_any_complements_state_types() {
        let f =
            runs(json!({"flow_runs": {"state": {"type": {"not_any_": ["COMPLETED", "FAILED"]}}}}))
                .unwrap();
        let types = f.state_types.unwrap();
        assert_eq!(types.len(), 7);
        assert!(!types.contains(&StateType::Completed));
    }

    #[test]
    fn explains_what_is_wrong() {
        let e = runs(json!({"flow_runs": {"id": {"any_": ["nope"]}}})).unwrap_err();
        assert!(
            e.contains("body.flow_runs.id.any_") && e.contains("not a UUID"),
            "{e}"
        );
        let e = runs(json!({"flow_runs": {"colour": {"any_": ["red"]}}})).unwrap_err();
        assert!(e.contains("colour") && e.contains("unsupported"), "{e}");
        let e = runs(json!({"flow_runs": {"state": {"type": {"any_": ["DONE"]}}}})).unwrap_err();
        assert!(e.contains("DONE") && e.contains("COMPLETED"), "{e}");
        let e = runs(json!({"limit": 1_000_000})).unwrap_err();
        assert!(e.contains("limit"), "{e}");
        let e = runs(json!({"flow_runs": {"operator": "or_"}})).unwrap_err();
        assert!(e.contains("or_"), "{e}");
        let e = runs(json!({"deployments": {"id": {"any_": []}}})).unwrap_err();
        assert!(e.contains("deployments"), "{e}");
    }
}
