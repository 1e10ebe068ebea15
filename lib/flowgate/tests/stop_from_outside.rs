//! A served run (a thread of the serving program, no process of its own) suspended or
//! cancelled from outside through the API stops at its next task call: its body does not go
//! on, the program keeps serving, a cancelled run ends Cancelled, and a suspended one, once
//! resumed, runs again without repeating its completed tasks. (`crates/cli/tests/cli/
//! stopping.rs` does the same through `flowgate worker start`, where the process exits.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use flowgate::testing::{Harness, harness};
use flowgate::{Deployments, StateType, flow, run_deployment, task};
use serde_json::json;

static STARTS: AtomicUsize = AtomicUsize::new(0);
static TICKS: AtomicUsize = AtomicUsize::new(0);
static FINISHED: AtomicUsize = AtomicUsize::new(0);
static GO: AtomicBool = AtomicBool::new(false);

#[task]
fn start() -> i64 {
    STARTS.fetch_add(1, Ordering::SeqCst);
    100
}

#[task]
fn tick(i: i64) -> i64 {
    TICKS.fetch_add(1, Ordering::SeqCst);
    i
}

#[task]
fn finish(total: i64) -> i64 {
    FINISHED.fetch_add(1, Ordering::SeqCst);
    total
}

/// Starts, ticks until `GO`, then finishes.
#[flow]
fn ticking() -> i64 {
    let mut total = start();
    let mut i = 0;
    while !GO.load(Ordering::SeqCst) {
        total += tick(i);
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    finish(total)
}

/// Waits until `check` holds, failing with `what` after 30 s.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 30 s")
}

/// The run `id` once it is in `state`.
async fn run_in(h: &Harness, id: uuid::Uuid, state: StateType) -> flowgate::FlowRun {
    for _ in 0..600 {
        if let Some(run) = h.flow_runs().into_iter().find(|r| r.id == id)
            && run.state == state
        {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {id} did not become {state:?}: {:#?}", h.flow_runs())
}

/// Ticks stop: the count holds still over half a second, and is returned.
async fn ticks_stopped() -> usize {
    loop {
        let before = TICKS.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if TICKS.load(Ordering::SeqCst) == before {
            return before;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_served_run_suspended_or_cancelled_from_outside_stops_at_its_next_task() {
    let h = harness();
    let served = Deployments::new()
        .with(ticking::deployment("served"))
        .poll_interval(Duration::from_millis(50));
    served.apply_async().await.unwrap();
    let serving = tokio::spawn(served.serve_async());

    // Cancelled from outside (what `flowgate flow-run cancel` proposes for a deployment's run):
    // the served thread stops at its next tick and ends the run Cancelled.
    let cancelled = run_deployment("ticking/served", json!({}))
        .create_async()
        .await
        .unwrap();
    until("the served run ticks", || TICKS.load(Ordering::SeqCst) > 0).await;
    let path = format!("/flow_runs/{}/set_state", cancelled.id);
    let asked = h.post(
        &path,
        json!({"state": {"type": "CANCELLING", "message": "enough"}}),
    );
    assert_eq!(asked["status"], "ACCEPT", "{asked:#}");
    let ended = run_in(&h, cancelled.id, StateType::Cancelled).await;
    assert_eq!(ended.message.as_deref(), Some("enough"), "{ended:#?}");
    ticks_stopped().await;
    assert_eq!(FINISHED.load(Ordering::SeqCst), 0, "the body did not go on");

    // Suspended from outside (Prefect's `suspend_flow_run(flow_run_id=…)`): the run keeps its
    // Suspended state; resumed, it is served again and its ticks are not run a second time.
    TICKS.store(0, Ordering::SeqCst);
    STARTS.store(0, Ordering::SeqCst);
    let suspended = run_deployment("ticking/served", json!({}))
        .create_async()
        .await
        .unwrap();
    until("the second run ticks", || TICKS.load(Ordering::SeqCst) > 2).await;
    let path = format!("/flow_runs/{}/set_state", suspended.id);
    let asked = h.post(
        &path,
        json!({"state": {"type": "PAUSED", "name": "Suspended",
            "state_details": {"pause_reschedule": true, "pause_key": "outside-1"}}}),
    );
    assert_eq!(asked["status"], "ACCEPT", "{asked:#}");
    let ticked = ticks_stopped().await;
    let still = run_in(&h, suspended.id, StateType::Paused).await;
    assert_eq!(still.state_name, "Suspended", "no final state: {still:#?}");

    GO.store(true, Ordering::SeqCst);
    let resumed = h.post(&format!("/flow_runs/{}/resume", suspended.id), json!({}));
    assert_eq!(resumed["status"], "ACCEPT", "{resumed:#}");
    let done = run_in(&h, suspended.id, StateType::Completed).await;
    assert_eq!(done.run_count, 2, "{done:#?}");
    assert_eq!(TICKS.load(Ordering::SeqCst), ticked, "no tick ran again");
    assert_eq!(
        STARTS.load(Ordering::SeqCst),
        1,
        "the completed `start` was not run again"
    );
    assert_eq!(FINISHED.load(Ordering::SeqCst), 1);
    assert_eq!(
        done.result::<i64>(),
        Some(100),
        "`start`'s recorded result is used"
    );
    serving.abort();
}
