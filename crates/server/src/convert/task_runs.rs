//! Task runs between the wire and the store.

use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Micros, State, StateType};
use flowgate_store::model::TaskRun;
use flowgate_wire::task_runs::{TaskRun as TaskRunOut, TaskRunCreate};
use serde_json::{Value, json};
use uuid::Uuid;

use super::object_or_empty;
use super::states::{state_in, state_out};

/// The record a create request describes, stamped at `now`, or why it cannot be stored.
pub fn task_run_in(c: TaskRunCreate, now: Micros) -> Result<TaskRunRecord, String> {
    super::plain_texts([
        ("name", c.name.as_deref()),
        ("task_key", Some(c.task_key.as_str())),
        ("dynamic_key", Some(c.dynamic_key.as_str())),
        ("cache_key", c.cache_key.as_deref()),
        ("task_version", c.task_version.as_deref()),
    ])?;
    let state = match c.state {
        Some(s) => state_in(s, now)?,
        None => State::new(Uuid::now_v7(), StateType::Pending, now),
    };
    Ok(TaskRunRecord {
        id: c.id.unwrap_or_else(Uuid::now_v7),
        flow_run_id: c.flow_run_id,
        name: c.name.unwrap_or_else(|| c.task_key.clone()),
        task_key: c.task_key,
        dynamic_key: c.dynamic_key,
        cache_key: c.cache_key,
        task_version: c.task_version,
        empirical_policy: object_or_empty(c.empirical_policy.unwrap_or_default()),
        tags: c.tags.unwrap_or_default(),
        labels: object_or_empty(c.labels.unwrap_or_default()),
        task_inputs: object_or_empty(c.task_inputs.unwrap_or_default()),
        parameters: Value::Object(Default::default()),
        run_count: i64::from(state.state_type == StateType::Running),
        flow_run_run_count: 0,
        expected_start_time: Some(now),
        start_time: (state.state_type == StateType::Running).then_some(now),
        end_time: state.state_type.is_terminal().then_some(now),
        total_run_time: 0.0,
        created: now,
        state,
    })
}

/// A stored task run as the client reads it.
pub fn task_run_out(t: TaskRun) -> TaskRunOut {
    let r = t.record;
    let defaults = json!({
        "max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0, "retry_delay": 0,
        "retry_jitter_factor": null,
    });
    let policy = super::overlay(
        defaults,
        r.empirical_policy
            .as_object()
            .unwrap_or(&Default::default()),
    );
    TaskRunOut {
        id: r.id,
        created: r.created,
        updated: t.updated,
        name: r.name,
        flow_run_id: r.flow_run_id,
        task_key: r.task_key,
        dynamic_key: r.dynamic_key,
        cache_key: r.cache_key,
        cache_expiration: None,
        task_version: r.task_version,
        empirical_policy: policy,
        tags: r.tags,
        labels: object_or_empty(r.labels),
        state_id: r.state.id,
        task_inputs: object_or_empty(r.task_inputs),
        parameters: object_or_empty(r.parameters),
        state_type: r.state.state_type,
        state_name: r.state.name.clone(),
        run_count: r.run_count,
        flow_run_run_count: r.flow_run_run_count,
        expected_start_time: r.expected_start_time,
        next_scheduled_start_time: None,
        start_time: r.start_time,
        end_time: r.end_time,
        total_run_time: r.total_run_time,
        estimated_run_time: r.total_run_time,
        estimated_start_time_delta: match (r.start_time, r.expected_start_time) {
            (Some(s), Some(e)) => s.seconds_since(e).max(0.0),
            _ => 0.0,
        },
        state: state_out(&r.state),
    }
}
