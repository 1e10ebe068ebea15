//! A program serving its own deployments (Prefect's `flow.serve()`), and `run_deployment`
//! creating runs of them and waiting for their end, blocking or awaited.

use std::time::Duration;

use flowgate::testing::harness;
use flowgate::{ApiError, Deployments, RunDeploymentError, StateType, flow, run_deployment, task};
use serde_json::json;

#[task]
fn shout(text: String) -> String {
    text.to_uppercase()
}

#[flow]
fn greet(name: String, loud: Option<bool>) -> String {
    let greeting = format!("Hello {name}");
    if loud.unwrap_or(false) {
        shout(greeting)
    } else {
        greeting
    }
}

#[flow]
async fn add(a: i64, b: i64) -> Result<i64, String> {
    a.checked_add(b).ok_or_else(|| "overflow".to_owned())
}

#[flow]
fn orchestrate() -> i64 {
    let run = run_deployment("add/served", json!({"a": 3, "b": 4}))
        .wait()
        .expect("the deployment's run ends");
    run.result::<i64>().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_program_runs_its_deployments_runs_as_those_runs() {
    let h = harness();
    let served = Deployments::new()
        .with(greet::deployment("served").parameter("loud", false))
        .with(add::deployment("served"))
        .poll_interval(Duration::from_millis(50));
    // Applied before serving starts, so the runs asked for below find their deployments.
    served.apply_async().await.unwrap();
    let serving = tokio::spawn(served.serve_async());

    let run = run_deployment("greet/served", json!({"name": "Ada", "loud": true}))
        .tags(["from-test"])
        .wait_async()
        .await
        .unwrap();
    assert_eq!(run.state, StateType::Completed, "{run:?}");
    assert_eq!(run.result::<String>().as_deref(), Some("HELLO ADA"));
    assert!(run.tags.contains(&"from-test".to_owned()));
    assert!(run.deployment_id.is_some());

    // Several at once, sync and async flows, and a failure in the flow's own terms.
    let asked = [
        run_deployment("add/served", json!({"a": 2, "b": 3})),
        run_deployment("add/served", json!({"a": i64::MAX, "b": 1})),
        run_deployment("greet/served", json!({"name": "Bo"})),
    ];
    let mut ended = Vec::new();
    for ask in asked {
        ended.push(ask.wait_async().await.unwrap());
    }
    assert_eq!(ended[0].result::<i64>(), Some(5));
    assert_eq!(ended[1].state, StateType::Failed);
    assert_eq!(ended[1].message.as_deref(), Some("overflow"));
    assert_eq!(ended[2].result::<String>().as_deref(), Some("Hello Bo"));

    // Each request is one flow run: the served flow reported into it.
    let runs = h.flow_runs();
    assert_eq!(runs.len(), 4, "{runs:#?}");
    let shouted = h.task_runs_of("shout");
    assert_eq!(shouted.len(), 1);
    assert_eq!(shouted[0].flow_run_id, Some(run.id));

    // Asked for inside a flow, the deployment's run is a child of the flow's run.
    let parent = orchestrate::run().unwrap();
    assert_eq!(parent, 7);
    let orchestrating = h.flow_runs_of("orchestrate").remove(0);
    let child = h
        .flow_runs_of("add")
        .into_iter()
        .find(|r| r.parent_task_run_id.is_some())
        .expect("a child run");
    let standing_for = h
        .task_runs()
        .into_iter()
        .find(|t| Some(t.id) == child.parent_task_run_id)
        .expect("its parent task run");
    assert_eq!(standing_for.flow_run_id, Some(orchestrating.id));
    assert_eq!(standing_for.state, StateType::Completed);

    // The server checks parameters against the schema made from the argument types.
    let refused = run_deployment("add/served", json!({"a": "two", "b": 3}))
        .create_async()
        .await;
    assert!(
        matches!(&refused, Err(RunDeploymentError::Api(ApiError::Refused { status: 422, detail, .. })) if detail.contains("'a'")),
        "{refused:?}"
    );
    serving.abort();
}

#[test]
fn run_deployment_creates_without_waiting_and_names_what_it_cannot_do() {
    let h = harness();
    let _ = h.post("/flows/", json!({"name": "greet"}));
    Deployments::new()
        .with(greet::deployment("unserved"))
        .apply()
        .unwrap();

    let run = run_deployment("greet/unserved", json!({"name": "Cy"}))
        .run_name("first")
        .create()
        .unwrap();
    assert_eq!(run.state, StateType::Scheduled);
    assert_eq!(run.name, "first");
    assert_eq!(run.parameters, json!({"name": "Cy"}));

    let waited = run_deployment("greet/unserved", json!({"name": "Cy"}))
        .timeout(Duration::from_millis(300))
        .wait();
    assert!(
        matches!(&waited, Err(RunDeploymentError::TimedOut { run, .. }) if run.state == StateType::Scheduled),
        "{waited:?}"
    );

    let unknown = run_deployment("greet/nope", json!({})).create();
    assert!(
        matches!(
            &unknown,
            Err(RunDeploymentError::Api(ApiError::Refused {
                status: 404,
                ..
            }))
        ),
        "{unknown:?}"
    );
    let unnamed = run_deployment("greet", json!({})).create();
    assert!(
        matches!(&unnamed, Err(RunDeploymentError::Invalid(m)) if m.contains("flow/deployment")),
        "{unnamed:?}"
    );
    let not_an_object = run_deployment("greet/unserved", [1, 2]).create();
    assert!(
        matches!(&not_an_object, Err(RunDeploymentError::Invalid(m)) if m.contains("JSON object")),
        "{not_an_object:?}"
    );

    // The same idempotency key gives the same run.
    let once = run_deployment("greet/unserved", json!({"name": "Di"}))
        .idempotency_key("order-17")
        .create()
        .unwrap();
    let twice = run_deployment("greet/unserved", json!({"name": "Di"}))
        .idempotency_key("order-17")
        .create()
        .unwrap();
    assert_eq!(once.id, twice.id);
}

#[flow]
fn tick() -> u32 {
    1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_deployments_schedule_has_its_runs_run_by_the_program() {
    let h = harness();
    let serving = tokio::spawn(
        Deployments::new()
            .with(tick::deployment("every-second").interval(Duration::from_secs(1)))
            .poll_interval(Duration::from_millis(100))
            .serve_async(),
    );
    let mut completed = 0;
    for _ in 0..600 {
        completed = h
            .flow_runs_of("tick")
            .iter()
            .filter(|r| r.state == StateType::Completed)
            .count();
        if completed >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(completed >= 2, "{:#?}", h.flow_runs_of("tick"));
    serving.abort();
}
