//! The storage suite: every test runs against SQLite and against PostgreSQL (see
//! `flowgate-testkit` for where PostgreSQL comes from and when it may be skipped). One module
//! per store capability; this file holds what they share.

mod artifacts;
mod automations;
mod blocks;
mod concurrency_limits;
mod deployments;
mod events;
mod flow_runs;
mod flows;
mod inputs;
mod logs;
mod maintenance;
mod retention;
mod task_queue;
mod task_runs;
mod variables;
mod work_pools;

use flowgate_core::orchestration::Decision;
use flowgate_core::{Event, Micros, State, StateType};
use flowgate_store::model::*;
use flowgate_store::{Checkpointed, DynStore, SecretKey, StoreError, open};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::json;
use uuid::Uuid;

async fn store(db: &TestDatabase) -> DynStore {
    open(&db.url, &SecretKey::generate().unwrap())
        .await
        .unwrap()
}

fn now() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

fn state(t: StateType) -> State {
    State::new(Uuid::now_v7(), t, now())
}

async fn new_run(store: &DynStore, flow: &str) -> FlowRun {
    let (f, _) = store
        .create_flow(flow, &[], &json!({}), now())
        .await
        .unwrap();
    let new = NewFlowRun {
        flow_id: f.id,
        parameters: json!({"x": 1}),
        tags: vec!["etl".into()],
        ..Default::default()
    };
    store.create_flow_run(new, now()).await.unwrap().0
}

/// A task-run event shaped like the `prefect` client's, for a task run expected at `base`
/// that started at `base + 95` µs.
fn task_event(
    task: Uuid,
    flow_run: Uuid,
    ty: &str,
    base: Micros,
    offset: i64,
    run_count: i64,
) -> Event {
    let at = Micros(base.0 + offset);
    let mut task_run = json!({
        "name": "add-1", "task_key": "add-83a2f660", "dynamic_key": "0",
        "empirical_policy": {"retries": 0}, "tags": [], "labels": {}, "task_inputs": {"x": []},
        "run_count": run_count, "flow_run_run_count": 1,
        "expected_start_time": base.to_string(), "total_run_time": 0.0,
    });
    if ty != "PENDING" {
        task_run["start_time"] = json!(Micros(base.0 + 95).to_string());
    }
    if ty == "COMPLETED" || ty == "FAILED" {
        task_run["end_time"] = json!(at.to_string());
    }
    Event {
        id: Uuid::now_v7(),
        occurred: at,
        event: format!("prefect.task-run.{ty}"),
        resource: flowgate_core::event::labels([(
            "prefect.resource.id",
            format!("prefect.task-run.{task}"),
        )]),
        related: vec![flowgate_core::event::labels([
            (
                "prefect.resource.id",
                format!("prefect.flow-run.{flow_run}"),
            ),
            ("prefect.resource.role", "flow-run".to_owned()),
        ])],
        payload: flowgate_core::Payload::from_value(
            &json!({"validated_state": {"type": ty, "name": ty, "message": "", "state_details": {}, "data": null}, "task_run": task_run}),
        ),
        follows: None,
        received: at,
    }
}
