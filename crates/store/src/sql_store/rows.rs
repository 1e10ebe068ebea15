//! Converting between stored rows and model records.

use flowgate_core::orchestration::RunClock;
use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Event, State, StateType};
use serde_json::{Map, Value, json};

use crate::model::{Flow, FlowRun, FlowRunInput, LogEntry, QueuedTask, TaskRun};
use crate::sql::{Arg, Row};
use crate::store::{Result, StoreError};

/// The JSON kept in a `state_body` / `body` column: everything of a state but its key columns.
pub fn state_body(s: &State) -> String {
    json!({"message": s.message, "data": s.data, "state_details": s.details}).to_string()
}

/// Rebuilds a state from its key columns (prefixed `prefix`) and body column.
pub fn state_from(row: &Row, prefix: &str, body_col: &str) -> Result<State> {
    let ty: String = row.get(&format!("{prefix}type"))?;
    let body = row.json(body_col)?;
    Ok(State {
        id: row.uuid(&format!("{prefix}id"))?,
        state_type: StateType::parse(&ty)
            .ok_or_else(|| StoreError::Corrupt(format!("state type {ty:?}")))?,
        name: row.get(&format!("{prefix}name"))?,
        timestamp: row.micros(&format!("{prefix}timestamp"))?,
        message: body
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_owned),
        data: body.get("data").filter(|d| !d.is_null()).cloned(),
        details: body
            .get("state_details")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    })
}

/// JSON text of a list of strings.
pub fn string_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// JSON text of a value, `{}` for null.
pub fn object_text(v: &Value) -> String {
    if v.is_null() {
        "{}".to_owned()
    } else {
        v.to_string()
    }
}

pub fn flow(row: &Row) -> Result<Flow> {
    Ok(Flow {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        tags: row.string_list("tags")?,
        labels: row.json("labels")?,
    })
}

/// Columns of `flow_runs`, in the order of [`flow_run_args`].
pub const FLOW_RUN_COLUMNS: &str = "id, created, updated, name, flow_id, flow_version, \
    deployment_id, work_queue_name, parameters, idempotency_key, context, empirical_policy, tags, \
    labels, parent_task_run_id, job_variables, state_id, state_type, state_name, state_timestamp, \
    state_body, run_count, start_time, end_time, total_run_time, expected_start_time, \
    next_scheduled_start_time";

pub fn flow_run_args(r: &FlowRun) -> Vec<Arg> {
    let s = r.state.as_ref();
    vec![
        r.id.into(),
        r.created.into(),
        r.updated.into(),
        r.name.as_str().into(),
        r.flow_id.into(),
        r.flow_version.clone().into(),
        r.deployment_id.into(),
        r.work_queue_name.clone().into(),
        object_text(&r.parameters).into(),
        r.idempotency_key.clone().into(),
        object_text(&r.context).into(),
        object_text(&r.empirical_policy).into(),
        string_list(&r.tags).into(),
        object_text(&r.labels).into(),
        r.parent_task_run_id.into(),
        object_text(&r.job_variables).into(),
        s.map(|s| s.id).into(),
        s.map(|s| s.state_type.as_str().to_owned()).into(),
        s.map(|s| s.name.clone()).into(),
        s.map(|s| s.timestamp).into(),
        s.map(state_body).into(),
        r.clock.run_count.into(),
        r.clock.start_time.into(),
        r.clock.end_time.into(),
        r.clock.total_run_time.into(),
        r.clock.expected_start_time.into(),
        r.clock.next_scheduled_start_time.into(),
    ]
}

pub fn flow_run(row: &Row) -> Result<FlowRun> {
    let state = match row.get::<Option<String>>("state_id")? {
        Some(_) => Some(state_from(row, "state_", "state_body")?),
        None => None,
    };
    Ok(FlowRun {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        updated: row.micros("updated")?,
        name: row.get("name")?,
        flow_id: row.uuid("flow_id")?,
        flow_version: row.get("flow_version")?,
        deployment_id: row.opt_uuid("deployment_id")?,
        work_queue_name: row.get("work_queue_name")?,
        parameters: row.json("parameters")?,
        idempotency_key: row.get("idempotency_key")?,
        context: row.json("context")?,
        empirical_policy: row.json("empirical_policy")?,
        tags: row.string_list("tags")?,
        labels: row.json("labels")?,
        parent_task_run_id: row.opt_uuid("parent_task_run_id")?,
        job_variables: row.json("job_variables")?,
        state,
        clock: RunClock {
            start_time: row.opt_micros("start_time")?,
            end_time: row.opt_micros("end_time")?,
            run_count: row.get("run_count")?,
            total_run_time: row.get("total_run_time")?,
            expected_start_time: row.opt_micros("expected_start_time")?,
            next_scheduled_start_time: row.opt_micros("next_scheduled_start_time")?,
        },
    })
}

/// Columns of `task_runs`, in the order of [`task_run_args`].
pub const TASK_RUN_COLUMNS: &str = "id, created, updated, name, flow_run_id, task_key, \
    dynamic_key, cache_key, task_version, empirical_policy, tags, labels, task_inputs, parameters, state_id, \
    state_type, state_name, state_timestamp, state_body, run_count, flow_run_run_count, \
    expected_start_time, start_time, end_time, total_run_time";

pub fn task_run_args(r: &TaskRunRecord, updated: flowgate_core::Micros) -> Vec<Arg> {
    vec![
        r.id.into(),
        r.created.into(),
        updated.into(),
        r.name.as_str().into(),
        r.flow_run_id.into(),
        r.task_key.as_str().into(),
        r.dynamic_key.as_str().into(),
        r.cache_key.clone().into(),
        r.task_version.clone().into(),
        object_text(&r.empirical_policy).into(),
        string_list(&r.tags).into(),
        object_text(&r.labels).into(),
        object_text(&r.task_inputs).into(),
        object_text(&r.parameters).into(),
        r.state.id.into(),
        r.state.state_type.as_str().into(),
        r.state.name.as_str().into(),
        r.state.timestamp.into(),
        state_body(&r.state).into(),
        r.run_count.into(),
        r.flow_run_run_count.into(),
        r.expected_start_time.into(),
        r.start_time.into(),
        r.end_time.into(),
        r.total_run_time.into(),
    ]
}

pub fn task_run(row: &Row) -> Result<TaskRun> {
    Ok(TaskRun {
        updated: row.micros("updated")?,
        record: TaskRunRecord {
            id: row.uuid("id")?,
            flow_run_id: row.opt_uuid("flow_run_id")?,
            name: row.get("name")?,
            task_key: row.get("task_key")?,
            dynamic_key: row.get("dynamic_key")?,
            cache_key: row.get("cache_key")?,
            task_version: row.get("task_version")?,
            empirical_policy: row.json("empirical_policy")?,
            tags: row.string_list("tags")?,
            labels: row.json("labels")?,
            task_inputs: row.json("task_inputs")?,
            parameters: row.json("parameters")?,
            state: state_from(row, "state_", "state_body")?,
            run_count: row.get("run_count")?,
            flow_run_run_count: row.get("flow_run_run_count")?,
            expected_start_time: row.opt_micros("expected_start_time")?,
            start_time: row.opt_micros("start_time")?,
            end_time: row.opt_micros("end_time")?,
            total_run_time: row.get("total_run_time")?,
            created: row.micros("created")?,
        },
    })
}

pub fn flow_run_input(row: &Row) -> Result<FlowRunInput> {
    Ok(FlowRunInput {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        flow_run_id: row.uuid("flow_run_id")?,
        key: row.get("key")?,
        value: row.get("value")?,
        sender: row.get("sender")?,
    })
}

pub fn queued_task(row: &Row) -> Result<QueuedTask> {
    let result = row.json("result")?;
    Ok(QueuedTask {
        id: row.uuid("id")?,
        task_key: row.get("task_key")?,
        flow_run_id: row.opt_uuid("flow_run_id")?,
        parameters: row.json("parameters")?,
        status: row.get("status")?,
        worker: row.get("worker")?,
        lease_until: row.opt_micros("lease_until")?,
        attempts: row.get("attempts")?,
        result: (!result.is_null()).then_some(result),
        error: row.get("error")?,
    })
}

/// Columns of `logs`, in the order of [`log_args`].
pub const LOG_COLUMNS: &str =
    "id, created, name, level, message, timestamp, flow_run_id, task_run_id";

pub fn log_args(l: &LogEntry) -> Vec<Arg> {
    vec![
        l.id.into(),
        l.created.into(),
        l.name.as_str().into(),
        l.level.into(),
        l.message.as_str().into(),
        l.timestamp.into(),
        l.flow_run_id.into(),
        l.task_run_id.into(),
    ]
}

pub fn log(row: &Row) -> Result<LogEntry> {
    Ok(LogEntry {
        id: row.uuid("id")?,
        created: row.micros("created")?,
        name: row.get("name")?,
        level: row.get("level")?,
        message: row.get("message")?,
        timestamp: row.micros("timestamp")?,
        flow_run_id: row.opt_uuid("flow_run_id")?,
        task_run_id: row.opt_uuid("task_run_id")?,
    })
}

/// Columns of `events`, in the order of [`event_args`].
pub const EVENT_COLUMNS: &str =
    "id, occurred, event, resource_id, resource, related, payload, follows, received";

pub fn event_args(e: &Event) -> Vec<Arg> {
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

pub fn event(row: &Row) -> Result<Event> {
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
        payload: flowgate_core::Payload::from_json_text(row.get("payload")?),
        follows: row.opt_uuid("follows")?,
        received: row.micros("received")?,
    })
}
