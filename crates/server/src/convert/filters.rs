//! Prefect's filter bodies (`flowgate_wire::filters`) turned into the store's filters. A body is
//! read into its wire type (a wrong type is an error naming the field's path); a non-null field
//! the wire type does not know is an error naming it, never ignored: a filter that matched more
//! than asked for would mislead. Lists are bounded, so one request cannot build a statement the
//! database refuses.

use std::cell::Cell;

use flowgate_core::StateType;
use flowgate_store::model::*;
use flowgate_wire::artifacts as art;
use flowgate_wire::filters as wire;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 10_000;
/// List items one request's filter may hold in all: each becomes a query parameter, and
/// databases cap those per statement (SQLite at 32,766, PostgreSQL at 65,535).
pub const MAX_FILTER_ITEMS: usize = 30_000;
/// Items one list of tags, prefixes or related ids may hold: each becomes its own `LIKE` term,
/// and databases refuse expressions nested too deeply (SQLite at depth 1000).
pub const MAX_PATTERNS: usize = 100;

mod events;
mod work;

pub use events::events;
pub use work::{deployments, work_pools, work_queues};

type R<T> = Result<T, String>;

/// Reads `body` (found at `path`; null reads as `{}`) into the wire type `T`, refusing fields
/// `T` does not know.
pub fn read<T: DeserializeOwned + Serialize>(path: &str, body: &Value) -> R<T> {
    let empty = Value::Object(Default::default());
    let body = if body.is_null() { &empty } else { body };
    let typed: T = serde_path_to_error::deserialize(body).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." {
            String::new()
        } else {
            format!(".{at}")
        };
        format!("{path}{at}: {}", e.inner())
    })?;
    let understood = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut unknown = Vec::new();
    unsupported_fields(body, &understood, path, &mut unknown);
    if unknown.is_empty() {
        Ok(typed)
    } else {
        Err(format!(
            "unsupported field(s) {}; remove them (Flowgate refuses filters it cannot apply \
             rather than returning more than asked for)",
            unknown.join(", ")
        ))
    }
}

/// Collects the paths of `given`'s non-null fields that `understood` (the same body read into
/// its wire type and written back) lacks.
fn unsupported_fields(given: &Value, understood: &Value, path: &str, out: &mut Vec<String>) {
    let Value::Object(given) = given else {
        return;
    };
    for (key, value) in given.iter().filter(|(_, v)| !v.is_null()) {
        let at = format!("{path}.{key}");
        match understood.get(key).filter(|u| !u.is_null()) {
            None => out.push(at),
            Some(kept) => unsupported_fields(value, kept, &at, out),
        }
    }
}

/// How many list items a request may still hold ([`MAX_FILTER_ITEMS`] in all).
struct Budget(Cell<usize>);

impl Budget {
    fn new() -> Budget {
        Budget(Cell::new(MAX_FILTER_ITEMS))
    }

    /// `items` (at `path`), counted against the budget and at most `max` long.
    fn list<T>(&self, path: &str, items: Option<Vec<T>>, max: usize) -> R<Option<Vec<T>>> {
        let Some(items) = items else {
            return Ok(None);
        };
        if items.len() > max {
            return Err(format!(
                "{path} has {} items; at most {max} are supported",
                items.len()
            ));
        }
        let left = self.0.get().checked_sub(items.len()).ok_or_else(|| {
            format!("{path}: a filter may hold {MAX_FILTER_ITEMS} items in all; split it")
        })?;
        self.0.set(left);
        Ok(Some(items))
    }

    /// A list of values matched exactly.
    fn values<T>(&self, path: &str, items: Option<Vec<T>>) -> R<Option<Vec<T>>> {
        self.list(path, items, MAX_FILTER_ITEMS)
    }

    /// A list matched as patterns, each its own term ([`MAX_PATTERNS`] at most).
    fn patterns<T>(&self, path: &str, items: Option<Vec<T>>) -> R<Option<Vec<T>>> {
        self.list(path, items, MAX_PATTERNS)
    }
}

/// Refuses `or_`: Flowgate combines every filter's fields with `and_`.
fn and_only(path: &str, operator: Option<wire::Operator>) -> R<()> {
    match operator {
        Some(wire::Operator::Or) => Err(format!(
            "{path}.operator: \"or_\" is not supported; Flowgate combines filters with and_"
        )),
        _ => Ok(()),
    }
}

fn time_range(t: Option<wire::TimeFilter>) -> TimeRange {
    let t = t.unwrap_or_default();
    TimeRange {
        after: t.after_,
        before: t.before_,
    }
}

/// State types and state names a filter asks for.
type StateMatch = (Option<Vec<StateType>>, Option<Vec<String>>);

/// `state.type.any_` (less `not_any_`) and `state.name.any_`.
fn state_match(path: &str, s: Option<wire::StateFilter>, budget: &Budget) -> R<StateMatch> {
    let Some(s) = s else {
        return Ok((None, None));
    };
    let path = format!("{path}.state");
    and_only(&path, s.operator)?;
    let ty = s.state_type.unwrap_or_default();
    let mut types = ty.any_;
    if let Some(excluded) = ty.not_any_ {
        let base = types.unwrap_or_else(|| StateType::ALL.to_vec());
        types = Some(base.into_iter().filter(|t| !excluded.contains(t)).collect());
    }
    let names = s.name.and_then(|n| n.any_);
    Ok((types, budget.values(&format!("{path}.name.any_"), names)?))
}

fn flow_filter(path: &str, f: Option<wire::FlowFilter>, budget: &Budget) -> R<Option<FlowFilter>> {
    let Some(f) = f else {
        return Ok(None);
    };
    and_only(path, f.operator)?;
    let name = f.name.unwrap_or_default();
    Ok(Some(FlowFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), name.any_)?,
        name_like: name.like_,
        tags_all: budget.patterns(&format!("{path}.tags.all_"), f.tags.and_then(|t| t.all_))?,
    }))
}

fn flow_run_filter(
    path: &str,
    f: Option<wire::FlowRunFilter>,
    flow: Option<FlowFilter>,
    budget: &Budget,
) -> R<FlowRunFilter> {
    let f = f.unwrap_or_default();
    and_only(path, f.operator)?;
    let id = f.id.unwrap_or_default();
    let name = f.name.unwrap_or_default();
    let parent = f.parent_task_run_id.unwrap_or_default();
    let (state_types, state_names) = state_match(path, f.state, budget)?;
    Ok(FlowRunFilter {
        ids: budget.values(&format!("{path}.id.any_"), id.any_)?,
        ids_not: budget.values(&format!("{path}.id.not_any_"), id.not_any_)?,
        names: budget.values(&format!("{path}.name.any_"), name.any_)?,
        name_like: name.like_,
        state_types,
        state_names,
        flow_ids: budget.values(
            &format!("{path}.flow_id.any_"),
            f.flow_id.and_then(|i| i.any_),
        )?,
        flow,
        tags_all: budget.patterns(&format!("{path}.tags.all_"), f.tags.and_then(|t| t.all_))?,
        parent_task_run_ids: budget
            .values(&format!("{path}.parent_task_run_id.any_"), parent.any_)?,
        has_parent_task_run: parent.is_null_.map(|null| !null),
        deployment_ids: budget.values(
            &format!("{path}.deployment_id.any_"),
            f.deployment_id.and_then(|i| i.any_),
        )?,
        work_queue_names: budget.values(
            &format!("{path}.work_queue_name.any_"),
            f.work_queue_name.and_then(|i| i.any_),
        )?,
        start_time: time_range(f.start_time),
        end_time: time_range(f.end_time),
        expected_start_time: time_range(f.expected_start_time),
        ..Default::default()
    })
}

fn task_run_filter(
    path: &str,
    f: Option<wire::TaskRunFilter>,
    flow_run: Option<FlowRunFilter>,
    budget: &Budget,
) -> R<TaskRunFilter> {
    let f = f.unwrap_or_default();
    and_only(path, f.operator)?;
    let run = f.flow_run_id.unwrap_or_default();
    let (state_types, state_names) = state_match(path, f.state, budget)?;
    Ok(TaskRunFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), f.name.and_then(|n| n.any_))?,
        state_types,
        state_names,
        flow_run_ids: budget.values(&format!("{path}.flow_run_id.any_"), run.any_)?,
        has_flow_run: run.is_null_.map(|null| !null),
        tags_all: budget.patterns(&format!("{path}.tags.all_"), f.tags.and_then(|t| t.all_))?,
        start_time: time_range(f.start_time),
        flow_run,
    })
}

/// `limit` and `offset`, checked.
pub fn page(limit: Option<i64>, offset: Option<i64>) -> R<Page> {
    let limit = limit.unwrap_or(i64::from(Page::default().limit));
    let offset = offset.unwrap_or(0);
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
        offset: offset.min(i64::from(u32::MAX)) as u32,
    })
}

/// The flows a `flows` filter selects.
pub fn flows(f: Option<wire::FlowFilter>) -> R<FlowFilter> {
    Ok(flow_filter("body.flows", f, &Budget::new())?.unwrap_or_default())
}

/// Prefect's six top-level filters that together select flow runs, as every flow-run filter
/// body (`/flow_runs/filter`, `/count`, `/history`, `/paginate`) carries them.
#[derive(Default)]
pub struct RunScope {
    /// Runs of flows matching this.
    pub flows: Option<wire::FlowFilter>,
    /// Runs matching this.
    pub flow_runs: Option<wire::FlowRunFilter>,
    /// Runs with a task run matching this.
    pub task_runs: Option<wire::TaskRunFilter>,
    /// Runs of deployments matching this.
    pub deployments: Option<flowgate_wire::deployments::DeploymentFilter>,
    /// Runs in queues of pools matching this.
    pub work_pools: Option<flowgate_wire::work_pools::WorkPoolFilter>,
    /// Runs in queues matching this.
    pub work_pool_queues: Option<flowgate_wire::work_pools::WorkQueueFilter>,
}

macro_rules! run_scope_of {
    ($($request:ty),*) => {$(
        impl From<&$request> for RunScope {
            fn from(r: &$request) -> RunScope {
                RunScope {
                    flows: r.flows.clone(),
                    flow_runs: r.flow_runs.clone(),
                    task_runs: r.task_runs.clone(),
                    deployments: r.deployments.clone(),
                    work_pools: r.work_pools.clone(),
                    work_pool_queues: r.work_pool_queues.clone(),
                }
            }
        }
    )*};
}

run_scope_of!(
    wire::FlowRunFilterRequest,
    wire::FlowRunCountRequest,
    wire::FlowRunHistoryRequest,
    wire::FlowRunPaginateRequest
);

/// The flow runs a body's six top-level filters select together.
pub fn flow_runs(scope: impl Into<RunScope>) -> R<FlowRunFilter> {
    let scope = scope.into();
    let budget = Budget::new();
    let flow = flow_filter("body.flows", scope.flows, &budget)?;
    let mut runs = flow_run_filter("body.flow_runs", scope.flow_runs, flow, &budget)?;
    runs.deployment =
        work::deployment_filter("body.deployments", scope.deployments, None, None, &budget)?;
    runs.work_pool = work::work_pool_filter("body.work_pools", scope.work_pools, &budget)?;
    runs.work_queue =
        work::work_queue_filter("body.work_pool_queues", scope.work_pool_queues, &budget)?;
    if let Some(tasks) = scope.task_runs {
        let tasks = task_run_filter("body.task_runs", Some(tasks), None, &budget)?;
        runs.task_run = Some(Box::new(tasks));
    }
    Ok(runs)
}

/// The task runs `flows` + `flow_runs` + `task_runs` + `deployments` select.
pub fn task_runs(
    flows: Option<wire::FlowFilter>,
    flow_runs: Option<wire::FlowRunFilter>,
    task_runs: Option<wire::TaskRunFilter>,
    deployments: Option<flowgate_wire::deployments::DeploymentFilter>,
) -> R<TaskRunFilter> {
    let budget = Budget::new();
    let flow = flow_filter("body.flows", flows, &budget)?;
    let deployment = work::deployment_filter("body.deployments", deployments, None, None, &budget)?;
    let flow_run = match (flow_runs, flow, deployment) {
        (None, None, None) => None,
        (runs, flow, deployment) => Some(FlowRunFilter {
            deployment,
            ..flow_run_filter("body.flow_runs", runs, flow, &budget)?
        }),
    };
    task_run_filter("body.task_runs", task_runs, flow_run, &budget)
}

/// The log lines a `logs` filter selects.
pub fn logs(f: Option<wire::LogFilter>) -> R<LogFilter> {
    let path = "body.logs";
    let budget = Budget::new();
    let f = f.unwrap_or_default();
    and_only(path, f.operator)?;
    let task = f.task_run_id.unwrap_or_default();
    let level = f.level.unwrap_or_default();
    Ok(LogFilter {
        flow_run_ids: budget.values(
            &format!("{path}.flow_run_id.any_"),
            f.flow_run_id.and_then(|i| i.any_),
        )?,
        task_run_ids: budget.values(&format!("{path}.task_run_id.any_"), task.any_)?,
        has_task_run: task.is_null_.map(|null| !null),
        level_ge: level.ge_,
        level_le: level.le_,
        timestamp: time_range(f.timestamp),
    })
}

/// The variables a `variables` filter selects.
pub fn variables(f: Option<flowgate_wire::variables::VariableFilter>) -> R<VariableFilter> {
    let path = "body.variables";
    let budget = Budget::new();
    let f = f.unwrap_or_default();
    and_only(path, f.operator)?;
    let name = f.name.unwrap_or_default();
    let tags = f.tags.unwrap_or_default();
    and_only(&format!("{path}.tags"), tags.operator)?;
    Ok(VariableFilter {
        ids: budget.values(&format!("{path}.id.any_"), f.id.and_then(|i| i.any_))?,
        names: budget.values(&format!("{path}.name.any_"), name.any_)?,
        name_like: name.like_,
        tags_all: budget.patterns(&format!("{path}.tags.all_"), tags.all_)?,
        tags_empty: tags.is_null_,
    })
}

/// The artifacts an `artifacts` filter of `/artifacts/filter` selects.
pub fn artifacts(f: Option<art::ArtifactFilter>) -> R<ArtifactFilter> {
    let f = f.unwrap_or_default();
    let parts = ArtifactParts {
        key: f.key,
        flow_run_id: f.flow_run_id,
        task_run_id: f.task_run_id,
        artifact_type: f.artifact_type,
    };
    artifact_filter(f.operator, f.id, parts, false)
}

/// The latest artifacts an `artifacts` filter of `/artifacts/latest/filter` selects.
pub fn latest_artifacts(f: Option<art::ArtifactCollectionFilter>) -> R<ArtifactFilter> {
    let f = f.unwrap_or_default();
    let parts = ArtifactParts {
        key: f.key,
        flow_run_id: f.flow_run_id,
        task_run_id: f.task_run_id,
        artifact_type: f.artifact_type,
    };
    artifact_filter(f.operator, f.latest_id, parts, true)
}

/// What the two artifact filters share.
struct ArtifactParts {
    key: Option<art::ArtifactKeyFilter>,
    flow_run_id: Option<wire::AnyOf<uuid::Uuid>>,
    task_run_id: Option<wire::AnyOf<uuid::Uuid>>,
    artifact_type: Option<art::ArtifactTypeFilter>,
}

fn artifact_filter(
    operator: Option<wire::Operator>,
    ids: Option<wire::AnyOf<uuid::Uuid>>,
    f: ArtifactParts,
    latest_only: bool,
) -> R<ArtifactFilter> {
    let path = "body.artifacts";
    and_only(path, operator)?;
    let budget = Budget::new();
    let key = f.key.unwrap_or_default();
    let ty = f.artifact_type.unwrap_or_default();
    let any = |field: &str, a: Option<wire::AnyOf<uuid::Uuid>>| {
        budget.values(&format!("{path}.{field}.any_"), a.and_then(|a| a.any_))
    };
    Ok(ArtifactFilter {
        latest_only,
        ids: any(if latest_only { "latest_id" } else { "id" }, ids)?,
        keys: budget.values(&format!("{path}.key.any_"), key.any_)?,
        key_like: key.like_,
        key_exists: key.exists_,
        flow_run_ids: any("flow_run_id", f.flow_run_id)?,
        task_run_ids: any("task_run_id", f.task_run_id)?,
        types: budget.values(&format!("{path}.type.any_"), ty.any_)?,
        types_not: budget.values(&format!("{path}.type.not_any_"), ty.not_any_)?,
    })
}

/// The store's flow-run order for a wire sort (newest id first when absent).
pub fn flow_run_sort(sort: Option<wire::FlowRunSort>) -> FlowRunSort {
    use wire::FlowRunSort as W;
    match sort.unwrap_or(W::IdDesc) {
        W::IdDesc => FlowRunSort::IdDesc,
        W::StartTimeAsc => FlowRunSort::StartTimeAsc,
        W::StartTimeDesc => FlowRunSort::StartTimeDesc,
        W::ExpectedStartTimeAsc => FlowRunSort::ExpectedStartTimeAsc,
        W::ExpectedStartTimeDesc => FlowRunSort::ExpectedStartTimeDesc,
        W::NameAsc => FlowRunSort::NameAsc,
        W::NameDesc => FlowRunSort::NameDesc,
        W::NextScheduledStartTimeAsc => FlowRunSort::NextScheduledStartTimeAsc,
        W::EndTimeDesc => FlowRunSort::EndTimeDesc,
        W::CreatedDesc => FlowRunSort::CreatedDesc,
    }
}

/// The store's task-run order for a wire sort (newest id first when absent).
pub fn task_run_sort(sort: Option<wire::TaskRunSort>) -> TaskRunSort {
    use wire::TaskRunSort as W;
    match sort.unwrap_or(W::IdDesc) {
        W::IdDesc => TaskRunSort::IdDesc,
        W::ExpectedStartTimeAsc => TaskRunSort::ExpectedStartTimeAsc,
        W::ExpectedStartTimeDesc => TaskRunSort::ExpectedStartTimeDesc,
        W::NameAsc => TaskRunSort::NameAsc,
        W::NameDesc => TaskRunSort::NameDesc,
        W::EndTimeDesc => TaskRunSort::EndTimeDesc,
    }
}

#[cfg(test)]
mod tests {
    use flowgate_wire::filters::FlowRunFilterRequest;
    use serde_json::json;
    use uuid::Uuid;

    use super::*;

    fn runs(body: Value) -> R<FlowRunFilter> {
        let req: FlowRunFilterRequest = read("body", &body)?;
        page(req.limit, req.offset)?;
        flow_runs(&req)
    }

    #[test]
    fn reads_the_clients_filters() {
        let id = Uuid::now_v7();
        let f = runs(json!({
            "flow_runs": {"id": {"any_": [id], "not_any_": null}, "state": {"type": {"any_": ["COMPLETED"]}, "operator": "and_"}},
            "flows": {"name": {"any_": ["etl"]}},
            "task_runs": null, "deployments": null, "limit": null, "offset": 0, "sort": "NAME_ASC",
        }))
        .unwrap();
        assert_eq!(f.ids, Some(vec![id]));
        assert_eq!(f.state_types, Some(vec![StateType::Completed]));
        assert_eq!(f.flow.unwrap().names, Some(vec!["etl".to_owned()]));
    }

    #[test]
    fn reads_the_deployment_model_filters_the_client_sends() {
        let id = Uuid::now_v7();
        let f = runs(json!({
            "flows": null, "flow_runs": {"operator": "and_", "work_queue_name": {"any_": ["urgent"]}},
            "task_runs": {"operator": "and_", "name": {"any_": ["extract"]}, "subflow_runs": null},
            "deployments": {"operator": "and_", "id": {"any_": [id], "not_any_": null},
                            "name": {"any_": null, "like_": "night"}, "tags": null,
                            "work_queue_name": null, "concurrency_limit": null},
            "work_pools": {"operator": "and_", "id": null, "name": {"any_": ["etl"]}, "type": null},
            "work_pool_queues": {"operator": "and_", "id": null,
                                 "name": {"any_": null, "startswith_": ["ur"]}},
            "sort": "ID_DESC", "limit": 10, "offset": 0,
        }))
        .unwrap();
        assert_eq!(f.work_queue_names, Some(vec!["urgent".to_owned()]));
        let d = f.deployment.unwrap();
        assert_eq!(
            (d.ids, d.name_like),
            (Some(vec![id]), Some("night".to_owned()))
        );
        assert_eq!(f.work_pool.unwrap().names, Some(vec!["etl".to_owned()]));
        assert_eq!(
            f.work_queue.unwrap().name_prefixes,
            Some(vec!["ur".to_owned()])
        );
        assert_eq!(f.task_run.unwrap().names, Some(vec!["extract".to_owned()]));
    }

    #[test]
    fn an_empty_event_id_list_means_any_event() {
        let f: wire::EventFilter = read(
            "filter",
            &json!({"event": {"name": ["x"]}, "id": {"id": []}}),
        )
        .unwrap();
        assert_eq!(events("filter", Some(f)).unwrap().ids, None);
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
        let cases = [
            (
                json!({"flow_runs": {"id": {"any_": ["nope"]}}}),
                &["body.flow_runs.id.any_[0]", "UUID"][..],
            ),
            (
                json!({"flow_runs": {"colour": {"any_": ["red"]}}}),
                &["body.flow_runs.colour", "unsupported"],
            ),
            (
                json!({"flow_runs": {"id": {"all_": ["x"]}}}),
                &["body.flow_runs.id.all_", "unsupported"],
            ),
            (
                json!({"flow_runs": {"state": {"type": {"any_": ["DONE"]}}}}),
                &["DONE", "COMPLETED"],
            ),
            (json!({"limit": 1_000_000}), &["limit"]),
            (json!({"sort": "COLOUR_ASC"}), &["COLOUR_ASC", "NAME_ASC"]),
            (json!({"flow_runs": {"operator": "or_"}}), &["or_"]),
            (
                json!({"deployments": {"paused": {"eq_": true, "ne_": 1}}}),
                &["body.deployments.paused.ne_", "unsupported"],
            ),
            (
                json!({"work_pool_queues": {"operator": "or_"}}),
                &["body.work_pool_queues.operator", "or_"],
            ),
            (
                json!({"flow_runs": {"tags": {"all_": vec!["t"; MAX_PATTERNS + 1]}}}),
                &["body.flow_runs.tags.all_", "at most 100"],
            ),
        ];
        for (body, needles) in cases {
            let e = runs(body.clone()).unwrap_err();
            for needle in needles {
                assert!(e.contains(needle), "{body}: {e:?} lacks {needle:?}");
            }
        }
    }

    #[test]
    fn a_request_may_hold_a_bounded_number_of_items() {
        let ids: Vec<_> = (0..MAX_FILTER_ITEMS / 2 + 1).map(|_| Uuid::nil()).collect();
        let e = runs(json!({"flow_runs": {"id": {"any_": ids, "not_any_": ids}}})).unwrap_err();
        assert!(e.contains("items in all"), "{e}");
    }
}
