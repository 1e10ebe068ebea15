//! Flow runs made and moved through the API for the pages to show, each move accepted.

use flowgate::testing::Harness;
use serde_json::{Value, json};

/// Moves `run` to `state` (a state type), which the server must accept.
pub fn set_state(h: &Harness, run: &str, state: &str) {
    let answer = h.post(
        &format!("/flow_runs/{run}/set_state"),
        json!({"state": {"type": state}}),
    );
    assert_eq!(answer["status"], "ACCEPT", "{state}: {answer}");
}

/// Creates a run of `flow` (of no deployment) and moves it through Running to `last` (a state
/// type); returns its id.
pub fn run_to(h: &Harness, flow: &Value, name: &str, tags: &[&str], last: &str) -> String {
    let run = h.post(
        "/flow_runs/",
        json!({"flow_id": flow["id"], "name": name, "tags": tags, "state": {"type": "PENDING"}}),
    );
    let id = run["id"].as_str().unwrap().to_owned();
    set_state(h, &id, "RUNNING");
    if last != "RUNNING" {
        set_state(h, &id, last);
    }
    id
}
