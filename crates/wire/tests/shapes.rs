//! The wire types read what Prefect's client sends and write what it reads, and the task-run
//! event payload a Rust client builds is one the server's folding reads.

use flowgate_core::task_run::TaskRunRecord;
use flowgate_core::{Event, Micros, Payload, StateType};
use flowgate_wire::events::{Event as EventWire, EventFrame, FrameType, LogFrame};
use flowgate_wire::filters::{FlowRunFilterRequest, FlowRunSort, Operator};
use flowgate_wire::logs::LogCreate;
use flowgate_wire::states::{OrchestrationDetails, OrchestrationResult, SetStateStatus};
use flowgate_wire::task_queue::{QueueStatus, QueuedTask};
use flowgate_wire::task_runs::{ReportedState, TaskRunEventPayload, TaskRunReport, Transition};
use serde_json::{Map, json};
use uuid::Uuid;

#[test]
fn an_orchestration_result_is_prefects_shape() {
    let wait = OrchestrationResult {
        state: None,
        status: SetStateStatus::Wait,
        details: OrchestrationDetails::WaitDetails {
            delay_seconds: 1.5,
            reason: Some("later".into()),
        },
    };
    assert_eq!(
        serde_json::to_value(&wait).unwrap(),
        json!({"state": null, "status": "WAIT",
               "details": {"type": "wait_details", "delay_seconds": 1.5, "reason": "later"}})
    );
    let accept: OrchestrationResult = serde_json::from_value(
        json!({"state": null, "status": "ACCEPT", "details": {"type": "accept_details"}}),
    )
    .unwrap();
    assert_eq!(accept.details, OrchestrationDetails::AcceptDetails);
    assert_eq!(accept.reason(), None);
}

#[test]
fn the_clients_flow_run_filter_reads() {
    let body = json!({"flows": null, "flow_runs": {"operator": "and_", "state": {"name": {"any_": ["Paused"]}},
        "id": {"any_": null, "not_any_": null}}, "task_runs": null, "deployments": null,
        "work_pools": null, "sort": "START_TIME_DESC", "limit": null, "offset": 0});
    let req: FlowRunFilterRequest = serde_json::from_value(body).unwrap();
    let runs = req.flow_runs.unwrap();
    assert_eq!(runs.operator, Some(Operator::And));
    assert_eq!(runs.state.unwrap().name.unwrap().any_.unwrap(), ["Paused"]);
    assert_eq!(req.sort, Some(FlowRunSort::StartTimeDesc));
    assert_eq!((req.limit, req.offset), (None, Some(0)));
}

#[test]
fn a_built_task_run_report_is_folded_by_the_server() {
    let (task, flow_run) = (Uuid::now_v7(), Uuid::now_v7());
    let payload = TaskRunEventPayload {
        intended: Some(Transition {
            from: Some(StateType::Pending),
            to: StateType::Running,
        }),
        initial_state: None,
        validated_state: ReportedState {
            state_type: StateType::Running,
            name: "Running".into(),
            message: String::new(),
            state_details: Map::new(),
            data: None,
        },
        task_run: TaskRunReport {
            name: Some("add-1".into()),
            task_key: Some("add".into()),
            run_count: Some(1),
            start_time: Some(Micros(5)),
            ..Default::default()
        },
    };
    let text = serde_json::to_string(&payload).unwrap();
    assert!(
        !text.contains("cache_key"),
        "absent fields are left out: {text}"
    );
    let event = Event {
        id: Uuid::now_v7(),
        occurred: Micros(5),
        event: "prefect.task-run.Running".into(),
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
        payload: Payload::from_json_text(text),
        follows: None,
        received: Micros(6),
    };
    let record = TaskRunRecord::from_event(&event).unwrap();
    assert_eq!(
        (record.id, record.flow_run_id, record.name.as_str()),
        (task, Some(flow_run), "add-1")
    );
    assert_eq!(
        (record.state.state_type, record.run_count, record.start_time),
        (StateType::Running, 1, Some(Micros(5)))
    );
}

#[test]
fn frames_round_trip_with_their_payload_text_intact() {
    let text = r#"{"type":"event","event":{"id":"0190b2a4-6b1e-7cc0-8000-000000000001",
        "occurred":"2026-01-01T00:00:00.000000Z","event":"x","resource":{"prefect.resource.id":"r"},
        "related":[],"payload":{"b": 1,  "a": [2]},"follows":null,"received":"2026-01-01T00:00:01.000000Z"}}"#;
    let frame: EventFrame = serde_json::from_str(text).unwrap();
    assert_eq!(frame.kind, FrameType::Event);
    let event: EventWire = frame.event;
    assert_eq!(event.payload.unwrap().get(), r#"{"b": 1,  "a": [2]}"#);
    let log = LogFrame::new(LogCreate {
        id: None,
        name: "prefect.flow_runs".into(),
        level: 20,
        message: "hi".into(),
        timestamp: Micros(0),
        flow_run_id: None,
        task_run_id: None,
    });
    assert_eq!(serde_json::to_value(&log).unwrap()["type"], "log");
}

#[test]
fn queue_statuses_are_lower_case_names() {
    let task: QueuedTask = serde_json::from_value(json!({"id": Uuid::nil(), "task_key": "k",
        "flow_run_id": null, "parameters": {}, "status": "claimed", "worker": "w",
        "lease_until": null, "attempts": 1, "result": null, "error": null}))
    .unwrap();
    assert_eq!(task.status, QueueStatus::Claimed);
    assert_eq!(serde_json::to_value(QueueStatus::Done).unwrap(), "done");
}
