//! Nothing acknowledged is lost: a server killed with SIGKILL while clients write, again and
//! again (3 times here, 20 in the soak: `FLOWGATE_SOAK_KILLS=20`), comes back with every state
//! transition and event it had answered with a success (on each backend).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Api, ServerProcess};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};
use uuid::Uuid;

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// What a writer thread saw acknowledged.
#[derive(Default)]
struct Acked {
    states: Vec<(String, String)>,
    events: Vec<String>,
}

/// Moves runs through Running/Completed and posts events until told to stop, recording each
/// write the server acknowledged (and counting acknowledged states in `progress`). Requests cut
/// off by the kill are not acknowledged.
fn writer(
    api_url: String,
    flow_id: String,
    stop: Arc<AtomicBool>,
    progress: Arc<AtomicUsize>,
) -> Acked {
    let api = Api::new(&api_url);
    let mut acked = Acked::default();
    while !stop.load(Ordering::Relaxed) {
        let (status, run) = api.try_post("/flow_runs/", &json!({"flow_id": flow_id}));
        if status != Some(201) {
            continue;
        }
        let run_id = run["id"].as_str().unwrap().to_owned();
        for ty in ["RUNNING", "COMPLETED"] {
            let (status, body) = api.try_post(
                &format!("/flow_runs/{run_id}/set_state"),
                &json!({"state": {"type": ty}}),
            );
            if status == Some(201) {
                acked.states.push((
                    run_id.clone(),
                    body["state"]["id"].as_str().unwrap().to_owned(),
                ));
                progress.fetch_add(1, Ordering::Relaxed);
            }
        }
        let event_id = Uuid::now_v7().to_string();
        let event = json!([{"id": event_id, "occurred": now(), "event": "test.durability",
            "resource": {"prefect.resource.id": format!("test.run.{run_id}")}}]);
        if api.try_post("/events", &event).0 == Some(204) {
            acked.events.push(event_id);
        }
    }
    acked
}

/// Kills per test: 3 in the test command; `FLOWGATE_SOAK_KILLS=20` makes it the soak whose
/// figures are in BENCHMARKS.md.
fn kills() -> usize {
    std::env::var("FLOWGATE_SOAK_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3)
}

/// Starts the server on `db`, lets four writers run until 60 more of their states were
/// acknowledged, kills it with SIGKILL, and returns what each writer saw acknowledged.
fn write_until_killed(home: &std::path::Path, db: &TestDatabase, flow_id: &str) -> Vec<Acked> {
    let server = ServerProcess::start(home, &db.url);
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..4)
        .map(|_| {
            let (url, flow_id) = (server.api.clone(), flow_id.to_owned());
            let (stop, progress) = (stop.clone(), progress.clone());
            std::thread::spawn(move || writer(url, flow_id, stop, progress))
        })
        .collect();
    // Kill mid-stream: once the writers have had many writes acknowledged (however slow a
    // busy machine makes them), not after a fixed time.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while progress.load(Ordering::Relaxed) < 60 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().map(|w| w.join().unwrap()).collect()
}

on_each_backend!(
    a_server_killed_again_and_again_keeps_every_acknowledged_write,
    |db: TestDatabase| {
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let (status, flow) = Api::new(&server.api).post("/flows/", &json!({"name": "durable"}));
        assert_eq!(status, 201);
        let flow_id = flow["id"].as_str().unwrap().to_owned();
        server.terminate();

        let started = std::time::Instant::now();
        let mut acked = Vec::new();
        for _ in 0..kills() {
            acked.extend(write_until_killed(home.path(), &db, &flow_id));
        }
        let states: Vec<_> = acked
            .iter()
            .flat_map(|a| a.states.iter().cloned())
            .collect();
        let events: Vec<_> = acked
            .iter()
            .flat_map(|a| a.events.iter().cloned())
            .collect();
        assert!(
            states.len() > 20 * kills(),
            "the writers got going before each kill ({} states)",
            states.len()
        );
        eprintln!(
            "{} kills on {}: {} acknowledged states and {} events in {:.1} s, checking all",
            kills(),
            db.backend,
            states.len(),
            events.len(),
            started.elapsed().as_secs_f64()
        );

        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        for (run_id, state_id) in &states {
            let (status, history) = api.get(&format!("/flow_run_states/?flow_run_id={run_id}"));
            assert_eq!(status, 200);
            let ids: Vec<&str> = history
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["id"].as_str())
                .collect();
            assert!(
                ids.contains(&state_id.as_str()),
                "acknowledged state {state_id} of run {run_id} was lost"
            );
        }
        for chunk in events.chunks(200) {
            let (_, found) = api.post(
                "/events/filter",
                &json!({"filter": {"id": {"id": chunk}}, "limit": 200}),
            );
            assert_eq!(
                found["total"],
                json!(chunk.len()),
                "an acknowledged event was lost"
            );
        }
        let (_, run_count) = api.post("/flow_runs/count", &Value::Null);
        assert!(run_count.as_i64().unwrap() >= (states.len() / 2) as i64);
        let status = server.terminate();
        assert!(
            status.success(),
            "SIGTERM shuts the server down cleanly: {status:?}"
        );
    }
);
