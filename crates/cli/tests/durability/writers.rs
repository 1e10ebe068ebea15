//! Four writer threads over plain HTTP: each creates runs, moves them Running → Completed and
//! posts an event, recording every write the server acknowledged; requests cut off by a kill
//! are not acknowledged, and the writers carry on against the restarted server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::Api;

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// What the writers saw acknowledged: (run, state) pairs and event ids.
#[derive(Default)]
pub struct Acked {
    pub states: Vec<(String, String)>,
    pub events: Vec<String>,
}

/// The running writer threads.
pub struct Writers {
    stop: Arc<AtomicBool>,
    /// Acknowledged states so far, all writers together.
    pub progress: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<Acked>>,
}

impl Writers {
    /// Starts four writers against `api_url`, creating runs of the flow `flow_id`.
    pub fn start(api_url: &str, flow_id: &str) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let progress = Arc::new(AtomicUsize::new(0));
        let threads = (0..4)
            .map(|_| {
                let (url, flow_id) = (api_url.to_owned(), flow_id.to_owned());
                let (stop, progress) = (stop.clone(), progress.clone());
                std::thread::spawn(move || write(url, flow_id, stop, progress))
            })
            .collect();
        Writers {
            stop,
            progress,
            threads,
        }
    }

    /// Stops the writers and returns everything they saw acknowledged.
    pub fn stop(self) -> Acked {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Acked::default();
        for t in self.threads {
            let acked = t.join().expect("a writer thread ends");
            all.states.extend(acked.states);
            all.events.extend(acked.events);
        }
        all
    }
}

/// One writer's loop. While the server is down it retries every 20 ms.
fn write(
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
            std::thread::sleep(Duration::from_millis(20));
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

/// Asserts that every acknowledged state and event is stored.
pub fn check(api: &Api, acked: &Acked) {
    for (run_id, state_id) in &acked.states {
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
    for chunk in acked.events.chunks(200) {
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
    assert!(run_count.as_i64().unwrap() >= (acked.states.len() / 2) as i64);
}
