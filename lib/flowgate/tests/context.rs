//! Async tasks on a par with sync ones (`submit`, `map`, `.await`, task runners), and the run
//! context carried into the threads and tasks a flow starts: with `flowgate::spawn`,
//! `flowgate::spawn_thread` or `RunContext`, tasks there are recorded in the flow run; a task
//! that lost its context is warned about in the run's logs (when the server it would report
//! to runs exactly one flow run; on the console otherwise), never silently unrecorded.

use std::time::Duration;

use flowgate::testing::harness;
use flowgate::{
    RunContext, StateType, ThreadPoolTaskRunner, current_flow_run_id, current_task_run_id, flow,
    task,
};

#[task]
async fn double(n: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(5)).await;
    n * 2
}

#[flow]
async fn async_fan_out() -> (u64, Vec<u64>) {
    let one = double::submit(1).await.unwrap();
    let mut many = Vec::new();
    for future in double::map([2, 3, 4]) {
        many.push(future.await.unwrap());
    }
    (one, many)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_tasks_submit_map_and_await() {
    let h = harness();
    assert_eq!(async_fan_out().await, (2, vec![4, 6, 8]));
    let run = &h.flow_runs_of("async-fan-out")[0];
    let tasks = h.task_runs_in(run);
    assert_eq!(tasks.len(), 4);
    assert!(tasks.iter().all(|t| t.state == StateType::Completed));
}

#[flow(task_runner = ThreadPoolTaskRunner::new(2))]
fn pooled_async_tasks() -> u64 {
    let futures = double::map([10, 20]);
    futures.into_iter().map(|f| f.into_result().unwrap()).sum()
}

#[test]
fn a_sync_flow_runs_async_tasks_on_its_thread_pool() {
    let h = harness();
    assert_eq!(pooled_async_tasks(), 60);
    let run = &h.flow_runs_of("pooled-async-tasks")[0];
    assert_eq!(h.task_runs_in(run).len(), 2);
}

#[flow]
async fn spawner() -> u64 {
    let first = flowgate::spawn(double(1)).await.unwrap();
    let ctx = RunContext::current();
    let mut set = tokio::task::JoinSet::new();
    for n in 2..=4 {
        set.spawn(ctx.scope(double(n)));
    }
    let mut sum = first;
    while let Some(doubled) = set.join_next().await {
        sum += doubled.unwrap();
    }
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_in_spawned_futures_are_recorded_in_the_flow_run() {
    let h = harness();
    assert_eq!(spawner().await, 20);
    let run = &h.flow_runs_of("spawner")[0];
    assert_eq!(
        h.task_runs_in(run).len(),
        4,
        "flowgate::spawn and RunContext::scope keep the context"
    );
}

#[flow]
async fn loses_its_context() -> u64 {
    tokio::spawn(double(5)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_that_lost_its_context_is_warned_about_in_the_runs_logs() {
    let h = harness();
    assert_eq!(loses_its_context().await, 10);
    let run = &h.flow_runs_of("loses-its-context")[0];
    assert!(h.task_runs_in(run).is_empty());
    let logs = h.logs_of(run);
    assert!(
        logs.iter().any(|l| l.level == 30
            && l.message
                .contains("Task 'double' ran outside any flow run's context")),
        "{logs:?}"
    );
}

#[task]
fn add(x: i64, y: i64) -> i64 {
    x + y
}

#[flow]
fn threads() -> i64 {
    let kept = flowgate::spawn_thread(|| add(1, 2));
    let lost = std::thread::spawn(|| add(3, 4));
    kept.join().unwrap() + lost.join().unwrap()
}

#[test]
fn a_thread_started_with_spawn_thread_keeps_the_context() {
    let h = harness();
    assert_eq!(threads(), 10);
    let run = &h.flow_runs_of("threads")[0];
    let tasks = h.task_runs_in(run);
    assert_eq!(tasks.len(), 1, "only the spawn_thread call is recorded");
    assert_eq!(tasks[0].parameters, serde_json::json!({"x": 1, "y": 2}));
}

#[task]
fn where_am_i() -> (Option<uuid::Uuid>, Option<uuid::Uuid>) {
    (current_flow_run_id(), current_task_run_id())
}

#[flow]
fn who_runs() -> (Option<uuid::Uuid>, Option<uuid::Uuid>, Option<uuid::Uuid>) {
    let (flow_run, task_run) = where_am_i();
    (current_flow_run_id(), flow_run, task_run)
}

#[test]
fn the_current_run_ids_are_known_inside_flows_and_tasks() {
    let h = harness();
    assert_eq!(current_flow_run_id(), None);
    let (in_flow, in_task, task_run) = who_runs();
    let run = &h.flow_runs_of("who-runs")[0];
    assert_eq!(in_flow, Some(run.id));
    assert_eq!(in_task, Some(run.id));
    assert_eq!(task_run, Some(h.task_runs_in(run)[0].id));
}
