//! Suspending a flow run for input without holding a process, with a program serving its own
//! deployment: the suspended run's body ends, and once resumed the run is handed out again, the
//! flow runs again from the start, its completed tasks are not run a second time and the
//! suspension returns the input. (`crates/cli/tests/cli/suspend.rs` does the same through
//! `flowgate worker start`, where the process exits.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flowgate::testing::{Harness, harness};
use flowgate::{
    Deployments, Pause, PauseError, RunInput, StateType, flow, run_deployment, suspend_flow_run,
    suspend_flow_run_for, task,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug)]
struct Approval {
    approved: bool,
}

static FETCHED: AtomicUsize = AtomicUsize::new(0);
static PUBLISHED: AtomicUsize = AtomicUsize::new(0);

#[task]
fn fetch(n: i64) -> i64 {
    FETCHED.fetch_add(1, Ordering::SeqCst);
    n * 10
}

#[task]
fn publish(total: i64) -> i64 {
    PUBLISHED.fetch_add(1, Ordering::SeqCst);
    total
}

#[flow]
fn approve(n: i64) -> i64 {
    let total = fetch(n) + fetch(n + 1);
    let answer: Approval = suspend_flow_run_for(Pause::new()).expect("resumed");
    if answer.approved { publish(total) } else { 0 }
}

/// Waits until the only run of `flow` is in `state`.
async fn run_in(h: &Harness, flow: &str, state: StateType) -> flowgate::FlowRun {
    for _ in 0..600 {
        if let Some(run) = h.flow_runs_of(flow).into_iter().find(|r| r.state == state) {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no run of {flow} became {state:?}: {:#?}",
        h.flow_runs_of(flow)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_flow_suspends_and_after_resume_runs_again_without_repeating_its_tasks() {
    let h = harness();
    let served = Deployments::new()
        .with(approve::deployment("served"))
        .poll_interval(Duration::from_millis(50));
    served.apply_async().await.unwrap();
    let serving = tokio::spawn(served.serve_async());

    let asked = run_deployment("approve/served", json!({"n": 2}))
        .create_async()
        .await
        .unwrap();
    let suspended = run_in(&h, "approve", StateType::Paused).await;
    assert_eq!(suspended.id, asked.id);
    assert_eq!(suspended.state_name, "Suspended");
    assert_eq!(FETCHED.load(Ordering::SeqCst), 2);

    let path = format!("/flow_runs/{}/resume", asked.id);
    let resumed = h.post(&path, json!({"run_input": {"approved": true}}));
    assert_eq!(resumed["status"], "ACCEPT", "{resumed:#}");
    let done = run_in(&h, "approve", StateType::Completed).await;
    assert_eq!(done.result::<i64>(), Some(50));
    assert_eq!(done.run_count, 2);
    assert_eq!(FETCHED.load(Ordering::SeqCst), 2, "fetch did not run again");
    assert_eq!(PUBLISHED.load(Ordering::SeqCst), 1);
    assert_eq!(h.task_runs_of("fetch").len(), 2);
    let logs = h.logs_of(&done);
    assert!(
        logs.iter()
            .any(|l| l.message.contains("completed in an earlier process")),
        "{logs:#?}"
    );
    serving.abort();
}

#[flow]
fn not_deployed() -> String {
    match suspend_flow_run(Duration::from_secs(60)) {
        Err(e) => e.to_string(),
        Ok(()) => "suspended".to_owned(),
    }
}

#[task]
fn suspends_in_a_task() -> String {
    match suspend_flow_run(Duration::from_secs(60)) {
        Err(PauseError::InTask) => "refused".to_owned(),
        other => format!("{other:?}"),
    }
}

#[flow]
fn calls_the_task() -> String {
    suspends_in_a_task()
}

#[test]
fn only_a_deployments_run_can_suspend_and_only_from_the_flows_body() {
    let _h = harness();
    let refused = not_deployed::run().unwrap();
    assert!(refused.contains("only a deployment's run"), "{refused}");
    assert_eq!(calls_the_task::run().unwrap(), "refused");
    let outside = suspend_flow_run(Duration::from_secs(1));
    assert!(matches!(outside, Err(PauseError::NotInFlow)), "{outside:?}");
}
