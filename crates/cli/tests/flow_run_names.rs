//! A run is named on the command line by its id or by the name a program prints, and
//! `flow-run inspect` shows what a paused run waits for, field by field: the real binary
//! against a real `flowgate server start` process.

mod common;

use std::process::Command;

use common::{Api, ServerProcess};
use serde_json::{Value, json};

/// A server with one flow, and the CLI pointed at it.
struct Setup {
    server: ServerProcess,
    api: Api,
    flow: String,
    _home: tempfile::TempDir,
    _db: flowgate_testkit::TestDatabase,
}

impl Setup {
    fn start() -> Setup {
        let home = tempfile::tempdir().expect("a temporary home");
        let db = flowgate_testkit::sqlite();
        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        let (status, flow) = api.post("/flows/", &json!({"name": "shirts"}));
        assert_eq!(status, 201, "{flow}");
        Setup {
            flow: flow["id"].as_str().unwrap().to_owned(),
            server,
            api,
            _home: home,
            _db: db,
        }
    }

    /// Creates a running run named `name`; returns its id.
    fn running(&self, name: &str) -> String {
        let (status, run) = self.api.post(
            "/flow_runs/",
            &json!({"flow_id": self.flow, "name": name, "state": {"type": "RUNNING"}}),
        );
        assert_eq!(status, 201, "{run}");
        run["id"].as_str().unwrap().to_owned()
    }

    /// Pauses run `id` for input, storing its schema and description first (as the SDK does).
    fn pause_for_input(&self, id: &str, schema: Value, description: &str) {
        for (key, value) in [
            ("paused-1-schema", schema.to_string()),
            (
                "paused-1-description",
                Value::String(description.into()).to_string(),
            ),
        ] {
            let (status, _) = self.api.post(
                &format!("/flow_runs/{id}/input"),
                &json!({"key": key, "value": value}),
            );
            assert_eq!(status, 201);
        }
        let keyset = json!({"schema": "paused-1-schema", "description": "paused-1-description",
                            "response": "paused-1-response"});
        let (status, answer) = self.api.post(
            &format!("/flow_runs/{id}/set_state"),
            &json!({"state": {"type": "PAUSED", "name": "Paused",
                    "state_details": {"pause_key": "1", "run_input_keyset": keyset}}}),
        );
        assert_eq!(status, 201, "{answer}");
    }

    /// Runs `flowgate flow-run ARGS`; returns (exit code, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .arg("flow-run")
            .args(args)
            .args(["--api-url", &self.server.api])
            .env_remove("FLOWGATE_API_URL")
            .env_remove("PREFECT_API_URL")
            .output()
            .expect("the flowgate binary runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn state_of(&self, id: &str) -> String {
        let (_, run) = self.api.get(&format!("/flow_runs/{id}"));
        run["state_name"].as_str().unwrap_or_default().to_owned()
    }
}

fn shirt_schema() -> Value {
    json!({
        "title": "ShirtOrder", "type": "object",
        "properties": {
            "size": {"$ref": "#/$defs/Size"},
            "count": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
        },
        "required": ["size"],
        "$defs": {"Size": {"type": "string", "enum": ["small", "medium", "large"]}},
    })
}

#[test]
fn a_paused_run_is_inspected_and_resumed_by_its_name() {
    let s = Setup::start();
    let id = s.running("calm-roadrunner");
    s.pause_for_input(&id, shirt_schema(), "## Pick a shirt");

    let (code, out, err) = s.cli(&["inspect", "calm-roadrunner"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("shirts > calm-roadrunner\n"), "{out}");
    assert!(
        out.contains("Waiting for input; resume with: flowgate flow-run resume calm-roadrunner"),
        "{out}"
    );
    assert!(
        out.contains("    ## Pick a shirt\n"),
        "the description is shown: {out}"
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("FIELD"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        [
            vec!["FIELD", "REQUIRED", "TYPE", "RULES", "DEFAULT"],
            vec!["size", "yes", "one", "of:", "small,", "medium,", "large"],
            vec!["count", "no", "integer", "1", "to", "10", "2"],
        ],
        "{out}"
    );

    let (code, out, _) = s.cli(&["inspect", "calm-roadrunner", "--json"]);
    assert_eq!(code, Some(0));
    let run: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["run_input"]["schema"], shirt_schema());
    assert_eq!(run["run_input"]["description"], "## Pick a shirt");

    let (code, _, err) = s.cli(&[
        "resume",
        "calm-roadrunner",
        "--input",
        r#"{"size": "huge"}"#,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("size"),
        "the schema's check names the field: {err}"
    );
    let (code, out, err) = s.cli(&[
        "resume",
        "calm-roadrunner",
        "--input",
        r#"{"size": "large"}"#,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&id), "{out}");
    assert_eq!(s.state_of(&id), "Running");
}

#[test]
fn a_name_that_matches_no_run_or_several_says_what_to_do() {
    let s = Setup::start();
    let first = s.running("twin");
    let second = s.running("twin");

    let (code, _, err) = s.cli(&["inspect", "nobody"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(r#"no flow run is named "nobody""#) && err.contains("flowgate flow-run ls"),
        "{err}"
    );

    let (code, _, err) = s.cli(&["cancel", "twin"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(r#"2 flow runs are named "twin""#)
            && err.contains(&first)
            && err.contains(&second),
        "{err}"
    );
    assert_eq!(s.state_of(&first), "Running", "nothing was cancelled");

    let (code, out, err) = s.cli(&["cancel", &second]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Cancelled"), "{out}");
}

#[test]
fn a_run_paused_without_input_says_how_to_resume_it() {
    let s = Setup::start();
    let id = s.running("approval-1");
    let (status, _) = s.api.post(
        &format!("/flow_runs/{id}/set_state"),
        &json!({"state": {"type": "PAUSED", "name": "Paused", "state_details": {"pause_key": "1"}}}),
    );
    assert_eq!(status, 201);
    let (code, out, err) = s.cli(&["inspect", "approval-1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("Waiting to be resumed: flowgate flow-run resume approval-1"),
        "{out}"
    );
    let (code, _, err) = s.cli(&["resume", "approval-1"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(s.state_of(&id), "Running");
}
