//! Human in the loop with the Rust SDK: a flow pauses for typed input, a person resumes it
//! through the API, the flow's own validator can send it back, and it continues at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use flowgate::testing::{Harness, harness};
use flowgate::{Pause, PauseError, RunInput, flow, pause_flow_run, pause_flow_run_for};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Size {
    Small,
    Medium,
    Large,
}

#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug, Clone, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

/// The seed's ShirtOrder.
#[derive(Serialize, Deserialize, schemars::JsonSchema, RunInput, Debug, Clone, PartialEq)]
#[run_input(validate = in_stock)]
struct ShirtOrder {
    size: Size,
    color: Color,
    #[schemars(range(min = 1, max = 10))]
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

fn in_stock(order: &ShirtOrder) -> Result<(), String> {
    if order.color == Color::Green && order.size == Size::Small {
        return Err("Green is only in-stock for medium, large, and XL sizes.".to_owned());
    }
    Ok(())
}

/// When each flow continued after its pause.
static CONTINUED: Mutex<Option<Instant>> = Mutex::new(None);

#[flow]
fn get_shirt_order() -> (Size, Color) {
    let initial = ShirtOrder {
        size: Size::Medium,
        color: Color::Red,
        count: 2,
    };
    let order = pause_flow_run_for(
        Pause::new()
            .description("## Pick a shirt")
            .with_initial_data(initial),
    )
    .expect("someone orders");
    *CONTINUED.lock().unwrap() = Some(Instant::now());
    (order.size, order.color)
}

/// Waits until the run of `flow` is paused for the `n`-th time; returns it.
fn paused(h: &Harness, flow: &str, n: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let runs = h.post("/flow_runs/filter", json!({"flows": {"name": {"any_": [flow]}}, "flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}}}));
        if let Some(run) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["empirical_policy"]["pause_keys"].as_array().map(Vec::len) == Some(n))
        {
            let id = run["id"].as_str().unwrap();
            let key = run["state"]["state_details"]["run_input_keyset"]["schema"].clone();
            let stored = h.post(
                &format!("/flow_runs/{id}/input/filter"),
                json!({"prefix": key, "limit": 1}),
            );
            if key.is_null() || stored.as_array().is_some_and(|a| !a.is_empty()) {
                return run.clone();
            }
        }
        assert!(Instant::now() < deadline, "the flow did not pause ({n})");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn input(h: &Harness, run: &Value, which: &str) -> Value {
    let id = run["id"].as_str().unwrap();
    let key = run["state"]["state_details"]["run_input_keyset"][which]
        .as_str()
        .unwrap();
    let found = h.post(
        &format!("/flow_runs/{id}/input/filter"),
        json!({"prefix": key, "limit": 1}),
    );
    serde_json::from_str(found[0]["value"].as_str().unwrap()).unwrap()
}

fn resume(h: &Harness, run: &Value, input: Value) -> Value {
    h.post(
        &format!("/flow_runs/{}/resume", run["id"].as_str().unwrap()),
        json!({"run_input": input}),
    )
}

#[test]
fn typed_input_is_validated_by_the_server_then_by_the_flow() {
    let h = harness();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            get_shirt_order()
        });
        let _cancel = h.cancel_paused_on_panic();
        let run = paused(&h, "get-shirt-order", 1);
        let schema = input(&h, &run, "schema");
        assert_eq!(
            schema["properties"]["count"]["default"], 2,
            "initial data prefills the form: {schema}"
        );
        assert_eq!(input(&h, &run, "description"), "## Pick a shirt");
        let refused = resume(&h, &run, json!({"size": "huge", "color": "red"}));
        assert_eq!(refused["status"], "REJECT");
        assert!(
            refused["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("field 'size'"),
            "{refused}"
        );
        let refused = resume(
            &h,
            &run,
            json!({"size": "small", "color": "red", "count": 11}),
        );
        assert!(
            refused["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("field 'count'"),
            "{refused}"
        );
        assert_eq!(
            resume(&h, &run, json!({"size": "small", "color": "green"}))["status"],
            "ACCEPT"
        );
        let again = paused(&h, "get-shirt-order", 2);
        let description = input(&h, &again, "description");
        assert!(
            description
                .as_str()
                .unwrap()
                .contains("Green is only in-stock"),
            "the flow's refusal is shown: {description}"
        );
        let accepted_at = Instant::now();
        assert_eq!(
            resume(&h, &again, json!({"size": "medium", "color": "red"}))["status"],
            "ACCEPT"
        );
        assert_eq!(flow.join().unwrap(), (Size::Medium, Color::Red));
        let waited = CONTINUED
            .lock()
            .unwrap()
            .unwrap()
            .saturating_duration_since(accepted_at);
        assert!(
            waited < Duration::from_secs(4),
            "the resume is pushed to the flow, not polled: {waited:?}"
        );
    });
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["get-shirt-order"]}}}),
    );
    assert_eq!(runs[0]["state_type"], "COMPLETED");
}

#[flow]
fn approval() -> &'static str {
    pause_flow_run(Duration::from_secs(60)).expect("approved");
    "approved"
}

#[test]
fn a_plain_pause_resumes_without_input() {
    let h = harness();
    std::thread::scope(|s| {
        let flow = s.spawn(|| {
            let _serve = h.enter();
            approval()
        });
        let _cancel = h.cancel_paused_on_panic();
        let run = paused(&h, "approval", 1);
        let refused = resume(&h, &run, json!({"anything": 1}));
        assert_eq!(
            refused["status"], "REJECT",
            "this pause takes no input: {refused}"
        );
        let ok = h.post(
            &format!("/flow_runs/{}/resume", run["id"].as_str().unwrap()),
            json!({}),
        );
        assert_eq!(ok["status"], "ACCEPT");
        assert_eq!(flow.join().unwrap(), "approved");
    });
}

#[flow]
fn impatient() -> String {
    match pause_flow_run_for::<ShirtOrder>(Pause::new().timeout(Duration::from_millis(300))) {
        Err(PauseError::TimedOut(_)) => "timed out".to_owned(),
        other => format!("{other:?}"),
    }
}

#[test]
fn nobody_resuming_times_the_pause_out() {
    let h = harness();
    assert_eq!(impatient(), "timed out");
    let runs = h.post(
        "/flow_runs/filter",
        json!({"flows": {"name": {"any_": ["impatient"]}}}),
    );
    assert_eq!(
        runs[0]["state_type"], "FAILED",
        "the server failed the unanswered pause"
    );
}
