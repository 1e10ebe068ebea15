//! Paused runs across kills: Rust SDK flows pause for typed input before and among the kills
//! and wait in their process; after the last restart each run is still Paused with its input's
//! JSON Schema, a resume with input is accepted, and the waiting flow continues with that
//! input to Completed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use flowgate::{FlowError, Pause, RunInput, current_flow_run_id, flow, pause_flow_run_for};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::common::Api;

/// What a paused run waits for.
#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug)]
struct Approval {
    approved: bool,
    note: String,
}

/// The flow run of each `awaiting_approval` call, by its argument (unique in the binary).
static RUNS: Mutex<Option<HashMap<u32, Uuid>>> = Mutex::new(None);
static NEXT: AtomicU32 = AtomicU32::new(1);

#[flow]
fn awaiting_approval(n: u32) -> String {
    let id = current_flow_run_id().expect("in a flow");
    RUNS.lock().unwrap().get_or_insert_default().insert(n, id);
    let approval: Approval = pause_flow_run_for(Pause::new().description("approve the soak"))
        .unwrap_or_else(|e| panic!("flow {n} was resumed with input: {e}"));
    assert!(approval.approved);
    format!("{n}: {}", approval.note)
}

/// One flow waiting in its pause.
pub struct PausedFlow {
    n: u32,
    run: String,
    thread: JoinHandle<Result<String, FlowError<String>>>,
}

impl PausedFlow {
    /// Starts a flow that pauses for an `Approval`, and returns once its run is Paused.
    pub fn start(api_url: &str, api: &Api) -> PausedFlow {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let url = api_url.to_owned();
        let thread = std::thread::spawn(move || {
            let _served = flowgate::testing::connect(&url);
            awaiting_approval::run(n)
        });
        let run = api
            .eventually(Duration::from_secs(60), |api| {
                let run = RUNS.lock().unwrap().as_ref()?.get(&n)?.to_string();
                let (_, stored) = api.get(&format!("/flow_runs/{run}"));
                (stored["state_type"] == "PAUSED").then_some(run)
            })
            .unwrap_or_else(|| panic!("flow {n} paused in time"));
        PausedFlow { n, run, thread }
    }

    /// After the kills: the run is still Paused, waiting for input whose schema is stored; a
    /// resume with input is accepted, and the flow continues with it to Completed.
    pub fn check_and_resume(self, api: &Api) {
        let PausedFlow { n, run, thread } = self;
        let (_, stored) = api.get(&format!("/flow_runs/{run}"));
        assert_eq!(stored["state_type"], "PAUSED", "flow {n}: {stored:#}");
        let keyset = &stored["state"]["state_details"]["run_input_keyset"];
        let schema_key = keyset["schema"]
            .as_str()
            .expect("a paused run's input keyset");
        let (status, schema) = api.get(&format!("/flow_runs/{run}/input/{schema_key}"));
        assert_eq!(status, 200, "the input schema of paused run {run} is kept");
        assert!(
            schema["properties"]["approved"].is_object(),
            "the stored schema is Approval's: {schema}"
        );
        assert!(
            !thread.is_finished(),
            "flow {n} still waits in its pause; it ended with {:?}",
            thread.join()
        );
        let (status, answer) = api.post(
            &format!("/flow_runs/{run}/resume"),
            &json!({"run_input": {"approved": true, "note": "kept across kills"}}),
        );
        assert!(status == 200 || status == 201, "resume: {status} {answer}");
        assert_eq!(answer["status"], "ACCEPT", "{answer}");
        let ended = thread.join().expect("the paused flow's thread ends");
        assert_eq!(
            ended.expect("the resumed flow completes"),
            format!("{n}: kept across kills")
        );
        let (_, stored) = api.get(&format!("/flow_runs/{run}"));
        assert_eq!(stored["state_type"], "COMPLETED", "{stored:#}");
    }
}
