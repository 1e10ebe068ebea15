//! The real Python `prefect==3.9.1` client runs the project's own flow programs
//! (tests/prefect_client/*.py) unchanged against a Flowgate server, on SQLite and on PostgreSQL;
//! the tests then check, through Flowgate's API, that every flow run, task run and log was
//! recorded as it should be.
//!
//! The Python interpreter comes from `FLOWGATE_TEST_PYTHON` (the test script sets it to a venv
//! with prefect installed). Without it the tests are skipped with a loud notice, unless
//! `FLOWGATE_REQUIRE_PREFECT=1` (as CI sets), which makes that a failure.

mod common;

use std::time::Duration;

use common::{Api, ServerProcess};
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};

/// Runs `tests/prefect_client/<program>.py` against a fresh server on `db`; returns the server
/// (still running), an API client and the program's stdout.
fn run_program(
    program: &str,
    db: &TestDatabase,
) -> Option<(ServerProcess, Api, String, tempfile::TempDir)> {
    let python = common::prefect_python("real-client tests")?;
    let home = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(home.path(), &db.url);
    let stdout = succeeded(
        &mut common::prefect_program(&python, program, &server.api, home.path()),
        &format!("{program}.py"),
    );
    let api = Api::new(&server.api);
    Some((server, api, stdout, home))
}

/// Runs a program to its end, asserting it succeeded (its stdout and stderr in the message when
/// not, under the name `what`); returns its stdout.
#[track_caller]
fn succeeded(command: &mut std::process::Command, what: &str) -> String {
    let out = command.output().expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn runs_of(api: &Api, flow: &str) -> Vec<Value> {
    let (status, body) = api.post(
        "/flow_runs/filter",
        &json!({"flows": {"name": {"any_": [flow]}}}),
    );
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// Waits until the run's task runs (reported by events, which may lag) number `n`, all final.
fn final_task_runs(api: &Api, run_id: &str, n: usize) -> Vec<Value> {
    api.eventually(Duration::from_secs(10), |api| {
        let (_, body) = api.post(
            "/task_runs/filter",
            &json!({"flow_runs": {"id": {"any_": [run_id]}}, "sort": "EXPECTED_START_TIME_ASC"}),
        );
        let runs = body.as_array().cloned().unwrap_or_default();
        let done = runs
            .iter()
            .all(|t| t["state_type"] != "PENDING" && t["state_type"] != "RUNNING");
        (runs.len() == n && done).then_some(runs)
    })
    .unwrap_or_else(|| panic!("flow run {run_id} did not get {n} finished task runs"))
}

fn log_messages(api: &Api, run_id: &str) -> Vec<String> {
    let (_, body) = api.post(
        "/logs/filter",
        &json!({"logs": {"flow_run_id": {"any_": [run_id]}}, "sort": "TIMESTAMP_ASC"}),
    );
    body.as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["message"].as_str().map(str::to_owned))
        .collect()
}

on_each_backend!(plain_flow_with_three_tasks, |db: TestDatabase| {
    let Some((_server, api, stdout, _home)) = run_program("plain_flow", &db) else {
        return;
    };
    assert!(stdout.trim_end().ends_with("10"), "{stdout}");
    let runs = runs_of(&api, "plain-flow");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["state_type"], "COMPLETED");
    assert_eq!(run["run_count"], 1);
    let id = run["id"].as_str().unwrap();
    let tasks = final_task_runs(&api, id, 3);
    for t in &tasks {
        assert_eq!(t["state_type"], "COMPLETED", "{t}");
        assert!(t["name"].as_str().unwrap().starts_with("add-"), "{t}");
        assert!(
            t["start_time"].is_string() && t["end_time"].is_string(),
            "{t}"
        );
        assert_eq!(t["state"]["type"], "COMPLETED");
    }
    let logs = api.eventually(Duration::from_secs(10), |api| {
        let logs = log_messages(api, id);
        logs.iter()
            .any(|m| m.starts_with("Finished in state Completed"))
            .then_some(logs)
    });
    let logs = logs.expect("the flow's logs are stored");
    assert!(logs.iter().any(|m| m == "result 10"), "{logs:?}");
    let (_, events) = api.post("/events/filter", &json!({"filter": {"resource": {"id": [format!("prefect.flow-run.{id}")]}, "order": "ASC"}}));
    let names: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .filter(|name| name != "prefect.flow-run.heartbeat")
        .collect();
    assert_eq!(
        names,
        [
            "prefect.flow-run.Pending",
            "prefect.flow-run.Running",
            "prefect.flow-run.Completed"
        ]
    );
});

on_each_backend!(
    threadpool_submit_wait_as_completed_and_map,
    |db: TestDatabase| {
        let Some((_server, api, stdout, _home)) = run_program("threadpool_flow", &db) else {
            return;
        };
        assert!(
            stdout.contains("([0, 1, 4, 9, 16], [100, 121])"),
            "{stdout}"
        );
        let runs = runs_of(&api, "threadpool-flow");
        assert_eq!(runs[0]["state_type"], "COMPLETED");
        let tasks = final_task_runs(&api, runs[0]["id"].as_str().unwrap(), 7);
        assert!(tasks.iter().all(|t| t["state_type"] == "COMPLETED"));
        let keys: std::collections::HashSet<_> = tasks
            .iter()
            .map(|t| t["dynamic_key"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys.len(), 7, "each submitted call is its own task run");
    }
);

on_each_backend!(retries_and_failures_are_recorded, |db: TestDatabase| {
    let Some((_server, api, stdout, _home)) = run_program("retries_flow", &db) else {
        return;
    };
    assert!(stdout.contains("ok after retries"), "{stdout}");
    let ok = runs_of(&api, "recovers-flow");
    assert_eq!(ok[0]["state_type"], "COMPLETED");
    let flaky = final_task_runs(&api, ok[0]["id"].as_str().unwrap(), 1);
    assert_eq!(flaky[0]["state_type"], "COMPLETED");
    assert_eq!(
        flaky[0]["run_count"], 3,
        "two failed attempts and a good one: {}",
        flaky[0]
    );

    let bad = runs_of(&api, "failing-flow");
    assert_eq!(bad[0]["state_type"], "FAILED");
    let message = bad[0]["state"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("this task always fails"), "{message}");
    let failed = final_task_runs(&api, bad[0]["id"].as_str().unwrap(), 1);
    assert_eq!(failed[0]["state_type"], "FAILED");
});

on_each_backend!(
    subflows_link_to_their_parent_task_run,
    |db: TestDatabase| {
        let Some((_server, api, stdout, _home)) = run_program("subflow_flow", &db) else {
            return;
        };
        assert!(stdout.trim_end().ends_with("21"), "{stdout}");
        let parent = &runs_of(&api, "parent-flow")[0];
        let child = &runs_of(&api, "child-flow")[0];
        assert_eq!(parent["state_type"], "COMPLETED");
        assert_eq!(child["state_type"], "COMPLETED");
        let parent_task = child["parent_task_run_id"]
            .as_str()
            .expect("the child has a parent task run");
        let tasks = final_task_runs(&api, parent["id"].as_str().unwrap(), 2);
        let link = tasks
            .iter()
            .find(|t| t["id"] == parent_task)
            .expect("the parent task run belongs to the parent flow run");
        assert_eq!(link["state_type"], "COMPLETED");
        assert_eq!(
            link["state"]["state_details"]["child_flow_run_id"],
            child["id"]
        );
        assert_eq!(
            final_task_runs(&api, child["id"].as_str().unwrap(), 1)[0]["state_type"],
            "COMPLETED"
        );
    }
);

on_each_backend!(
    variables_are_set_read_and_overwritten,
    |db: TestDatabase| {
        let Some((_server, api, stdout, _home)) = run_program("variables_flow", &db) else {
            return;
        };
        for line in [
            "got {'n': 42, 'names': ['a', 'b']}",
            "refused Variable 'answer' already exists. Use `overwrite=True` to update it.",
            "overwritten 43",
            "missing fallback",
            "unset None",
            "result 43",
        ] {
            assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
        }
        let (status, answer) = api.get("/variables/name/answer");
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (&answer["value"], &answer["tags"]),
            (&json!(43), &json!([]))
        );
        let (status, _) = api.get("/variables/name/scratch");
        assert_eq!(status, 404);
        let runs = runs_of(&api, "variables-flow");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["state_type"], "COMPLETED");
    }
);

/// With API keys required, the prefect client works with `PREFECT_API_AUTH_STRING=NAME:KEY`
/// (basic auth on HTTP, the token on its websockets: task runs are recorded) and with
/// `PREFECT_API_KEY` (a bearer key on HTTP: runs, states and logs; against a self-hosted server
/// its event websockets send only the auth string, so its task-run events are refused); without
/// either it is refused. The key never reaches the server's log, even at debug level. (Auth
/// does not touch the database: one backend is enough.)
#[test]
fn the_prefect_client_authenticates_with_a_key() {
    const KEY: &str = "k3y-for-the-prefect-client-0123";
    let Some(python) = common::prefect_python("real-client auth test") else {
        return;
    };
    let db = flowgate_testkit::sqlite();
    let home = tempfile::tempdir().unwrap();
    let keys = format!("alice={KEY}");
    let server = ServerProcess::start_with(
        home.path(),
        &db.url,
        &["--log-level", "debug"],
        &[("FLOWGATE_API_KEYS", &keys)],
    );
    let api = Api::with_key(&server.api, KEY);
    let run = |env: &[(&str, String)]| {
        common::prefect_program(&python, "plain_flow", &server.api, home.path())
            .env_remove("PREFECT_API_KEY")
            .env_remove("PREFECT_API_AUTH_STRING")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("python runs")
    };
    let shown = |out: &std::process::Output| {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };

    let out = run(&[("PREFECT_API_AUTH_STRING", format!("alice:{KEY}"))]);
    assert!(out.status.success(), "{}", shown(&out));
    let runs = runs_of(&api, "plain-flow");
    assert_eq!(runs[0]["state_type"], "COMPLETED");
    let tasks = final_task_runs(&api, runs[0]["id"].as_str().unwrap(), 3);
    assert!(tasks.iter().all(|t| t["state_type"] == "COMPLETED"));

    let out = run(&[("PREFECT_API_KEY", KEY.to_owned())]);
    assert!(out.status.success(), "{}", shown(&out));
    let runs = runs_of(&api, "plain-flow");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r["state_type"] == "COMPLETED"),
        "{runs:?}"
    );

    let out = run(&[]);
    assert!(!out.status.success(), "{}", shown(&out));
    assert!(shown(&out).contains("401"), "{}", shown(&out));
    assert_eq!(runs_of(&api, "plain-flow").len(), 2);

    let log = server.log();
    assert!(log.contains("API keys required"), "{log}");
    assert!(!log.contains(KEY), "the server logged the key:\n{log}");
}

on_each_backend!(
    artifacts_are_reported_by_flows_and_tasks,
    |db: TestDatabase| {
        let Some((_server, api, stdout, _home)) = run_program("artifacts_flow", &db) else {
            return;
        };
        assert!(stdout.contains("latest # Sales\n\n**Up** 5%"), "{stdout}");
        assert!(stdout.contains("result 2"), "{stdout}");
        let runs = runs_of(&api, "artifacts-flow");
        assert_eq!(runs.len(), 1);
        let run_id = runs[0]["id"].as_str().unwrap();
        let (status, found) = api.post(
            "/artifacts/filter",
            &json!({"artifacts": {"flow_run_id": {"any_": [run_id]}}, "sort": "CREATED_DESC"}),
        );
        assert_eq!(status, 200, "{found}");
        let by_type = |ty: &str| -> Value {
            found
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["type"] == ty)
                .cloned()
                .unwrap_or_else(|| panic!("no {ty} artifact in {found}"))
        };
        let progress = by_type("progress");
        assert_eq!(progress["data"], json!(100.0));
        assert!(stdout.contains(&format!("progress {}", progress["id"].as_str().unwrap())));
        let table = by_type("table");
        assert!(table["task_run_id"].is_string(), "{table}");
        let rows: Value = serde_json::from_str(table["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            rows,
            json!([{"region": "north", "sales": 10}, {"region": "south", "sales": null}])
        );
        assert_eq!(by_type("image")["data"], "https://example.com/chart.png");
        let (_, latest) = api.post("/artifacts/latest/filter", &json!({"sort": "KEY_ASC"}));
        let keys: Vec<&str> = latest
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap())
            .collect();
        assert_eq!(keys, ["chart", "dashboard", "sales-report", "sales-table"]);
        let (_, link) = api.get("/artifacts/dashboard/latest");
        assert_eq!(link["data"], "[Dashboard](https://example.com/d)");
    }
);

/// Runs `automations_flow.py <mode>` against `api`; returns its stdout.
fn automations_program(python: &str, mode: &str, api: &str, home: &std::path::Path) -> String {
    succeeded(
        common::prefect_program(python, "automations_flow", api, home).arg(mode),
        &format!("automations_flow.py {mode}"),
    )
}

on_each_backend!(
    automations_made_with_the_clients_classes_fire_from_flows,
    |db: TestDatabase| {
        let Some(python) = common::prefect_python("automation tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let stdout = automations_program(&python, "fire", &server.api, home.path());
        for line in [
            "created compound sequence",
            "read back both-done",
            "compound ran the deployment with n = 42",
            "notified: both done / rendered",
            "pool paused after validate, train: False",
            "pool paused after train, validate: True",
            "paused flow returned approved",
        ] {
            assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
        }
    }
);

on_each_backend!(
    a_metric_trigger_made_with_the_clients_classes_pauses_a_pool_on_a_low_success_rate,
    |db: TestDatabase| {
        let Some(python) = common::prefect_python("automation tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let stdout = automations_program(&python, "metric", &server.api, home.path());
        for line in [
            "created metric",
            "pool paused before the failures: False",
            "pool paused after the failures: True",
            "metric: fires when successes < 70.0% over the last 5 s for 1 s",
            "actions: pause-work-pool ok",
        ] {
            assert!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
        }
    }
);

on_each_backend!(
    a_compound_still_fires_when_the_server_is_killed_between_its_events,
    |db: TestDatabase| {
        let Some(python) = common::prefect_python("automation tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let first = ServerProcess::start(home.path(), &db.url);
        let stdout = automations_program(&python, "before", &first.api, home.path());
        assert!(stdout.contains("first event sent"), "{stdout}");
        first.kill();
        let second = ServerProcess::start(home.path(), &db.url);
        let stdout = automations_program(&python, "after", &second.api, home.path());
        assert!(stdout.contains("fired after the restart"), "{stdout}");
    }
);

on_each_backend!(
    secret_blocks_are_saved_sealed_and_loaded,
    |db: TestDatabase| {
        let Some((server, api, stdout, home)) = run_program("secret_flow", &db) else {
            return;
        };
        assert!(
        stdout.contains(
            "result ('sk-fg-7f3a9c', 'p4ss', 'https://hooks.slack.com/services/T0/B0/hook-s3cret')"
        ),
        "{stdout}"
    );
        assert!(stdout.contains("refused"), "{stdout}");
        let path = "/block_types/slug/secret/block_documents/name/api-key";
        let (status, shown) = api.get(path);
        assert_eq!(status, 200, "{shown}");
        assert_eq!(shown["data"], json!({"value": "********"}));
        let (_, login) = api.get("/block_types/slug/secret/block_documents/name/db-login");
        assert_eq!(login["data"], json!({"value": "********"}));
        let (_, with) = api.get(&format!("{path}?include_secrets=true"));
        assert_eq!(with["data"], json!({"value": "sk-fg-7f3a9c"}));
        let (_, schemas) = api.post("/block_schemas/filter", &json!({}));
        assert_eq!(schemas.as_array().unwrap().len(), 2, "{schemas}");
        let (_, hook) = api.get("/block_types/slug/slack-webhook/block_documents/name/alerts");
        assert_eq!(hook["data"]["url"], "********");
        assert_eq!(hook["block_schema"]["capabilities"], json!(["notify"]));
        let log = server.log();
        let secrets = ["sk-fg-7f3a9c", "sk-first", "p4ss", "hook-s3cret"];
        for secret in secrets {
            assert!(!log.contains(secret), "the server logged {secret}");
        }
        secrets_are_sealed_in_the_database(&db, &secrets);
        let key_file = home.path().join("secret.key");
        let mode = std::fs::metadata(&key_file)
            .expect("a key file")
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );

        // After a restart (same home, same key) the client loads them again.
        server.kill();
        let again = ServerProcess::start(home.path(), &db.url);
        let python = common::prefect_python("real-client tests").unwrap();
        let out = common::prefect_program(&python, "secret_flow", &again.api, home.path())
            .arg("load")
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("loaded ('sk-fg-7f3a9c', {")
                && stdout.contains("'password': 'p4ss'")
                && stdout.contains("hook-s3cret')"),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
);

/// Neither the rows (read past Flowgate) nor, on SQLite, the database's files hold `secrets`.
fn secrets_are_sealed_in_the_database(db: &TestDatabase, secrets: &[&str]) {
    let rows = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(db.raw("SELECT data FROM block_documents"));
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut stored = rows.join("\n").into_bytes();
    if let Some(path) = db.url.strip_prefix("sqlite:") {
        for file in [path.to_owned(), format!("{path}-wal")] {
            stored.extend(std::fs::read(file).unwrap_or_default());
        }
    }
    for secret in secrets {
        let found = stored.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the database holds {secret} in plain text");
    }
}

/// `flowgate_server.testing` (python/flowgate_server) under pytest with the real client: the
/// seed's `test_my_favorite_flow` with only the import changed, the session fixture, start to
/// ready within 100 ms (best of five), a server that cannot start raising its own message, and
/// no server process left behind (tests/pytest_harness). The harness needs no database
/// server: one backend is enough.
#[test]
fn the_pytest_harness_starts_a_server_in_milliseconds() {
    let Some(python) = common::prefect_python("pytest harness tests") else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let scratch = tempfile::tempdir().unwrap();
    let times = scratch.path().join("times.txt");
    let stdout = succeeded(
        std::process::Command::new(&python)
            .args(["-m", "pytest", "-q", "-s", "-p", "no:cacheprovider"])
            .arg(root.join("tests/pytest_harness"))
            .current_dir(scratch.path())
            .env("PYTHONPATH", root.join("python"))
            .env("FLOWGATE_BIN", env!("CARGO_BIN_EXE_flowgate"))
            .env("FLOWGATE_HARNESS_TIMES", &times)
            .env("PREFECT_HOME", scratch.path().join("prefect"))
            .env("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
            .env_remove("PREFECT_API_URL"),
        "pytest",
    );
    assert!(stdout.contains("5 passed"), "{stdout}");
    let measured = std::fs::read_to_string(&times).expect("the harness wrote its times");
    eprintln!("flowgate_test_harness start to ready (ms): {measured}");
}

on_each_backend!(
    dask_task_runner_runs_are_all_recorded,
    |db: TestDatabase| {
        let Some((_server, api, stdout, _home)) = run_program("dask_flow", &db) else {
            return;
        };
        assert!(stdout.contains("result 285"), "{stdout}");
        assert!(
            stdout.contains("workers 2"),
            "both worker processes ran tasks:\n{stdout}"
        );
        let runs = runs_of(&api, "dask-flow");
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0]["state_type"], "COMPLETED");
        let tasks = final_task_runs(&api, runs[0]["id"].as_str().unwrap(), 10);
        assert!(
            tasks.iter().all(|t| t["state_type"] == "COMPLETED"),
            "{tasks:?}"
        );
    }
);

/// prefect-ray's `RayTaskRunner` starts a local Ray cluster, which takes a while: one backend
/// is enough for what it adds (task runs reported from Ray's worker processes).
#[test]
fn ray_task_runner_runs_are_all_recorded() {
    let db = flowgate_testkit::sqlite();
    let Some((_server, api, stdout, _home)) = run_program("ray_flow", &db) else {
        return;
    };
    assert!(stdout.contains("result 285"), "{stdout}");
    assert!(stdout.contains("ran in another process"), "{stdout}");
    let runs = runs_of(&api, "ray-flow");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["state_type"], "COMPLETED");
    let tasks = final_task_runs(&api, runs[0]["id"].as_str().unwrap(), 10);
    assert!(
        tasks.iter().all(|t| t["state_type"] == "COMPLETED"),
        "{tasks:?}"
    );
}

on_each_backend!(
    the_client_pages_through_events_by_next_page,
    |db: TestDatabase| {
        let Some(python) = common::prefect_python("real-client tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        let resource = "flowgate.test.paged";
        let start = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
        let events: Vec<Value> = (0..25)
            .map(|i| {
                json!({
                    "id": uuid::Uuid::now_v7(),
                    "occurred": (start + jiff::SignedDuration::from_secs(i)).to_string(),
                    "event": format!("paged.{i}"),
                    "resource": {"prefect.resource.id": resource},
                })
            })
            .collect();
        let (status, body) = api.post("/events/", &json!(events));
        assert_eq!(status, 204, "{body}");
        let stdout = succeeded(
            common::prefect_program(&python, "events_paging", &server.api, home.path())
                .args([resource, "10"]),
            "events_paging.py",
        );
        let found: Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
        let newest_first: Vec<String> = (0..25).rev().map(|i| format!("paged.{i}")).collect();
        for client in ["async", "sync"] {
            assert_eq!(found[client]["total"], 25, "{found}");
            assert_eq!(found[client]["pages"], 3, "{found}");
            assert_eq!(found[client]["names"], json!(newest_first), "{found}");
        }
    }
);
