//! A served run (a thread of the serving program, no process of its own) suspended or
//! cancelled from outside through the API stops at its next task call: its body does not go
//! on, the program keeps serving, a cancelled run ends Cancelled, and a suspended one, once
//! resumed, runs again without repeating its completed tasks. A subflow shares its parent's
//! stop: suspending the parent stops the subflow at its next task call (the subflow ends
//! Cancelled, the parent stays Suspended), and the resumed parent calls it again.
//! Where the run's state events cannot be subscribed to (a proxy that does not pass
//! websockets), the run is read again every 5 s and still stops. (`crates/cli/tests/cli/
//! stopping.rs` does the same through `flowgate worker start`, where the process exits.)

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::proxy::LossyProxy;
use flowgate::testing::{Harness, connect, harness};
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

static PREPARED: AtomicUsize = AtomicUsize::new(0);
static CHILD_TICKS: AtomicUsize = AtomicUsize::new(0);
static CHILD_GO: AtomicBool = AtomicBool::new(false);

#[task]
fn prepare() -> i64 {
    PREPARED.fetch_add(1, Ordering::SeqCst);
    7
}

#[task]
fn child_tick(i: i64) -> i64 {
    CHILD_TICKS.fetch_add(1, Ordering::SeqCst);
    i
}

/// A subflow that ticks until `CHILD_GO`, then returns `base`.
#[flow]
fn ticking_child(base: i64) -> i64 {
    let mut i = 0;
    while !CHILD_GO.load(Ordering::SeqCst) {
        child_tick(i);
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    base
}

/// Prepares, then waits in the ticking subflow.
#[flow]
fn parent_of_ticking() -> i64 {
    let base = prepare();
    ticking_child(base) * 2
}

static PROXIED_TICKS: AtomicUsize = AtomicUsize::new(0);

#[task]
fn proxied_tick(i: i64) -> i64 {
    PROXIED_TICKS.fetch_add(1, Ordering::SeqCst);
    i
}

/// Ticks for at most 30 s unless stopped.
#[flow]
fn ticking_behind_a_proxy() -> i64 {
    for i in 0..1500 {
        proxied_tick(i);
        std::thread::sleep(Duration::from_millis(20));
    }
    0
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
async fn ticks_stopped(ticks: &AtomicUsize) -> usize {
    loop {
        let before = ticks.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        if ticks.load(Ordering::SeqCst) == before {
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
    ticks_stopped(&TICKS).await;
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
    let ticked = ticks_stopped(&TICKS).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn a_subflow_stops_when_its_parent_is_suspended_from_outside() {
    let h = harness();
    let served = Deployments::new()
        .with(parent_of_ticking::deployment("served"))
        .poll_interval(Duration::from_millis(50));
    served.apply_async().await.unwrap();
    let serving = tokio::spawn(served.serve_async());
    let parent = run_deployment("parent-of-ticking/served", json!({}))
        .create_async()
        .await
        .unwrap();
    until("the subflow ticks", || {
        CHILD_TICKS.load(Ordering::SeqCst) > 2
    })
    .await;
    let children = h.flow_runs_of("ticking-child");
    assert_eq!(children.len(), 1, "{children:#?}");
    let first_child = children[0].id;

    // Only the top-level run can be suspended (a worker runs it again); the subflow shares its
    // stop.
    let suspend = |key: &str| {
        json!({"state": {"type": "PAUSED", "name": "Suspended",
            "state_details": {"pause_reschedule": true, "pause_key": key}}})
    };
    let refused = h.post(
        &format!("/flow_runs/{first_child}/set_state"),
        suspend("child-1"),
    );
    assert_eq!(refused["status"], "ABORT", "{refused:#}");
    let asked = h.post(
        &format!("/flow_runs/{}/set_state", parent.id),
        suspend("parent-1"),
    );
    assert_eq!(asked["status"], "ACCEPT", "{asked:#}");

    // The subflow stops at its next tick and ends Cancelled, saying why; the parent keeps its
    // Suspended state (no final state) for the resume.
    let ticked = ticks_stopped(&CHILD_TICKS).await;
    let child = run_in(&h, first_child, StateType::Cancelled).await;
    assert!(
        child
            .message
            .as_deref()
            .is_some_and(|m| m.contains("parent flow run was suspended")),
        "{child:#?}"
    );
    let still = run_in(&h, parent.id, StateType::Paused).await;
    assert_eq!(still.state_name, "Suspended", "{still:#?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still = h.flow_run(parent.id).unwrap();
    assert_eq!(
        (still.state, still.state_name.as_str()),
        (StateType::Paused, "Suspended"),
        "the stopped subflow did not end its parent: {still:#?}"
    );
    assert_eq!(CHILD_TICKS.load(Ordering::SeqCst), ticked);

    // Resumed, the parent runs again: `prepare` is not repeated, and the subflow is called
    // again as a new run that returns.
    CHILD_GO.store(true, Ordering::SeqCst);
    let resumed = h.post(&format!("/flow_runs/{}/resume", parent.id), json!({}));
    assert_eq!(resumed["status"], "ACCEPT", "{resumed:#}");
    let done = run_in(&h, parent.id, StateType::Completed).await;
    assert_eq!(done.run_count, 2, "{done:#?}");
    assert_eq!(done.result::<i64>(), Some(14));
    assert_eq!(PREPARED.load(Ordering::SeqCst), 1, "`prepare` ran once");
    let mut children = h.flow_runs_of("ticking-child");
    children.sort_by_key(|c| c.id == first_child);
    let states: Vec<StateType> = children.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [StateType::Completed, StateType::Cancelled],
        "{children:#?}"
    );
    assert_eq!(
        CHILD_TICKS.load(Ordering::SeqCst),
        ticked,
        "no tick after the resume"
    );
    serving.abort();
}

// Not a tokio test: the proxy runs its own runtime, which may not start (or stop) inside one.
#[test]
fn a_run_whose_state_events_cannot_be_subscribed_to_is_stopped_by_reading_it_again() {
    let waits = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let h = harness();
    // Everything the program sends goes through a proxy that refuses websocket handshakes to
    // /events/out (events and logs still flow on /events/in).
    let proxy = LossyProxy::refusing(&h.api_url(), &["GET /api/events/out "]);
    let _through = connect(&proxy.api_url());
    let served = Deployments::new()
        .with(ticking_behind_a_proxy::deployment("proxied"))
        .poll_interval(Duration::from_millis(50));
    served.apply().unwrap();
    // Spawned with this thread's harness: the proxy's.
    let serving = flowgate::spawn(served.serve_async());
    let run = run_deployment("ticking-behind-a-proxy/proxied", json!({}))
        .create()
        .unwrap();
    waits.block_on(until(
        "the run ticks and its subscription is refused",
        || PROXIED_TICKS.load(Ordering::SeqCst) > 2 && !proxy.refused().is_empty(),
    ));

    let asked = h.post(
        &format!("/flow_runs/{}/set_state", run.id),
        json!({"state": {"type": "PAUSED", "name": "Suspended",
            "state_details": {"pause_reschedule": true, "pause_key": "proxied-1"}}}),
    );
    assert_eq!(asked["status"], "ACCEPT", "{asked:#}");
    let suspended_at = Instant::now();
    waits.block_on(ticks_stopped(&PROXIED_TICKS));
    // Stopped at a re-read (every 5 s; `ticks_stopped` watches half-second windows), long
    // before the body's 30 s of ticks would end it Completed.
    let took = suspended_at.elapsed();
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    let still = h.flow_run(run.id).unwrap();
    assert_eq!(
        (still.state, still.state_name.as_str()),
        (StateType::Paused, "Suspended"),
        "{still:#?}"
    );
    let refused = proxy.refused();
    assert!(
        refused
            .iter()
            .all(|l| l.starts_with("GET /api/events/out ")),
        "{refused:?}"
    );
    serving.abort();
}
