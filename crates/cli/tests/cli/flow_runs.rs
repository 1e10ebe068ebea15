//! `flowgate flow-run ls | inspect | logs`.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::*;

/// The columns of `flow-run ls`.
const HEADER: [&str; 6] = ["ID", "FLOW", "NAME", "STATE", "STARTED", "DURATION"];

/// The rows of an `ls` table after checking its header, each cut to its first four columns
/// (ID, FLOW, NAME, STATE: the ones without spaces).
#[track_caller]
fn table(stdout: &str) -> Vec<[String; 4]> {
    let mut lines = stdout.lines();
    let header: Vec<_> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(header, HEADER, "{stdout}");
    lines
        .map(|line| {
            let cells: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            assert!(cells.len() >= 6, "short row {line:?} in\n{stdout}");
            [0, 1, 2, 3].map(|i| cells[i].clone())
        })
        .collect()
}

/// The ids listed by `ls`, in order.
#[track_caller]
fn listed(stdout: &str) -> Vec<String> {
    table(stdout).into_iter().map(|[id, ..]| id).collect()
}

on_each_backend!(
    ls_lists_runs_newest_first_and_filters_them,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let (etl, report) = (s.flow("etl"), s.flow("report"));
        let done = s.run(&etl, "done", 0);
        let retrying = s.run(&etl, "retrying", 1);
        let running = s.run(&report, "running", 0);
        assert_eq!(s.set_state(&done, "RUNNING"), "Running");
        assert_eq!(s.set_state(&done, "COMPLETED"), "Completed");
        assert_eq!(s.set_state(&retrying, "RUNNING"), "Running");
        assert_eq!(
            s.set_state(&retrying, "FAILED"),
            "AwaitingRetry",
            "a failed run with a retry left awaits it"
        );
        assert_eq!(s.set_state(&running, "RUNNING"), "Running");

        let all = s.flow_run(&["ls"]);
        assert_eq!(
            table(all.ok()),
            [
                [running.as_str(), "report", "running", "Running"],
                [retrying.as_str(), "etl", "retrying", "AwaitingRetry"],
                [done.as_str(), "etl", "done", "Completed"],
            ]
            .map(|row| row.map(str::to_owned)),
            "{all:#?}"
        );

        let cases: [(&[&str], &[&String]); 8] = [
            (&["--state", "COMPLETED"], &[&done]),
            (
                &["--state", "RUNNING", "--state", "AwaitingRetry"],
                &[&running, &retrying],
            ),
            (&["--state", "completed"], &[&done]),
            (&["--state", "AwaitingRetry"], &[&retrying]),
            (
                &["--state", "COMPLETED", "--state", "running"],
                &[&running, &done],
            ),
            (&["--flow", "etl"], &[&retrying, &done]),
            (&["--flow", "report", "--state", "RUNNING"], &[&running]),
            (&["--limit", "1"], &[&running]),
        ];
        for (args, expected) in cases {
            let out = s.flow_run(&[&["ls"][..], args].concat());
            let ids = listed(out.ok());
            assert_eq!(
                ids.iter().collect::<Vec<_>>(),
                expected,
                "ls {args:?}: {out:#?}"
            );
        }

        let out = s.flow_run(&["ls", "--json"]);
        let runs: Vec<Value> =
            serde_json::from_str(out.ok()).expect("ls --json prints a JSON array");
        assert_eq!(runs[1]["state_name"], "AwaitingRetry");
        let ids: Vec<String> = runs.iter().map(id).collect();
        assert_eq!(ids, [running, retrying, done]);
    }
);

on_each_backend!(ls_says_when_there_is_nothing_to_list, |db: TestDatabase| {
    let s = Server::start(&db);
    let out = s.flow_run(&["ls"]);
    assert_eq!(out.ok(), "", "nothing on stdout");
    assert_eq!(out.stderr.trim(), "No flow runs found.");

    let etl = s.flow("etl");
    s.run(&etl, "pending", 0);
    let out = s.flow_run(&["ls", "--state", "COMPLETED"]);
    assert_eq!(out.ok(), "");
    assert_eq!(out.stderr.trim(), "No flow runs found.");
    let out = s.flow_run(&["ls", "--flow", "nope", "--json"]);
    assert_eq!(
        serde_json::from_str::<Value>(out.ok()).expect("JSON"),
        json!([])
    );
});

on_each_backend!(inspect_shows_one_run, |db: TestDatabase| {
    let s = Server::start(&db);
    let run = s.run(&s.flow("etl"), "nightly-1", 0);
    assert_eq!(s.set_state(&run, "RUNNING"), "Running");
    assert_eq!(s.set_state(&run, "COMPLETED"), "Completed");

    let out = s.flow_run(&["inspect", &run]);
    let mut lines = out.ok().lines();
    assert_eq!(lines.next(), Some("etl > nightly-1"), "{out:#?}");
    let fields: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    for field in [["ID", run.as_str()], ["State", "Completed"]] {
        assert!(
            fields.iter().any(|f| f[..] == field),
            "no {field:?} line: {out:#?}"
        );
    }

    let out = s.flow_run(&["inspect", &run, "--json"]);
    let read: Value = serde_json::from_str(out.ok()).expect("inspect --json prints JSON");
    assert_eq!(read["id"], run.as_str());
    assert_eq!(read["name"], "nightly-1");
    assert_eq!(read["state_type"], "COMPLETED");

    let unknown = Uuid::now_v7().to_string();
    s.flow_run(&["inspect", &unknown])
        .fails_with(&["not found", &unknown]);
});

on_each_backend!(logs_print_one_run_in_timestamp_order, |db: TestDatabase| {
    let s = Server::start(&db);
    let etl = s.flow("etl");
    let (run, other) = (s.run(&etl, "r", 0), s.run(&etl, "other", 0));
    s.log(&run, 40, "second", 49);
    s.log(&other, 20, "elsewhere", 48);
    s.log(&run, 20, "first", 47);

    let out = s.flow_run(&["logs", &run]);
    assert_eq!(
        out.ok(),
        "03:07:47.123 | INFO     | prefect.flow_runs - first\n\
         03:07:49.123 | ERROR    | prefect.flow_runs - second\n"
    );

    let out = s.flow_run(&["logs", &run, "--json"]);
    let lines: Vec<Value> = out
        .ok()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let summary: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l["message"].as_str().unwrap(),
                l["level"].as_i64().unwrap(),
                l["flow_run_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("first", 20, run.as_str()), ("second", 40, run.as_str())]
    );

    let unknown = Uuid::now_v7().to_string();
    s.flow_run(&["logs", &unknown]).fails_with(&["not found"]);
});

on_each_backend!(logs_follow_a_run_until_it_finishes, |db: TestDatabase| {
    let s = Server::start(&db);
    let run = s.run(&s.flow("etl"), "r", 0);
    assert_eq!(s.set_state(&run, "RUNNING"), "Running");
    s.log(&run, 20, "one", 1);

    let follower = s.spawn_flow_run(&["logs", &run, "--follow"]);
    assert_eq!(
        follower.next_line(),
        "03:07:01.123 | INFO     | prefect.flow_runs - one"
    );
    s.log(&run, 20, "two", 2);
    assert_eq!(
        follower.next_line(),
        "03:07:02.123 | INFO     | prefect.flow_runs - two",
        "a line posted while following is printed"
    );
    // The last line lands just before the run finishes: it must still be printed, once, and
    // the command must then exit by itself (`finish` fails the test if it does not).
    s.log(&run, 30, "three", 3);
    assert_eq!(s.set_state(&run, "COMPLETED"), "Completed");
    let out = follower.finish();
    assert_eq!(
        out.ok(),
        "03:07:03.123 | WARNING  | prefect.flow_runs - three\n",
        "{out:#?}"
    );
});

#[test]
fn an_unreachable_server_is_reported_with_a_hint() {
    let unknown = Uuid::now_v7().to_string();
    for command in [
        &["ls"][..],
        &["inspect", &unknown],
        &["logs", &unknown, "--follow"],
    ] {
        let args = [&["flow-run", "--api-url", NOWHERE][..], command].concat();
        flowgate(&args).fails_with(&["could not reach", NOWHERE, "flowgate server start"]);
    }
}

#[test]
fn version_and_usage_errors() {
    let version = flowgate(&["--version"]);
    assert!(version.ok().starts_with("flowgate "), "{version:#?}");

    flowgate(&["frobnicate"]).fails_with(&["frobnicate"]);
    flowgate(&["flow-run", "inspect", "not-a-uuid", "--api-url", NOWHERE])
        .fails_with(&["not-a-uuid"]);
    flowgate(&["flow-run", "ls", "--limit", "many"]).fails_with(&["many"]);
}

on_each_backend!(
    logs_print_every_line_of_a_busy_second,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let run = s.run(&s.flow("busy"), "busy-1", 0);
        let lines: Vec<Value> = (0..2500)
        .map(|i| {
            json!({"name": "prefect.task_runs", "level": 20, "message": format!("line {i:04}"),
                   "timestamp": format!("2026-11-27T03:07:01.{i:06}Z"), "flow_run_id": run, "task_run_id": null})
        })
        .collect();
        s.post("/logs/", Value::Array(lines), 201);
        let out = s.flow_run(&["logs", &run, "--json"]);
        let printed: Vec<Value> = out
            .ok()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(
            printed.len(),
            2500,
            "more than a page of lines within one second are all printed, once"
        );
        assert_eq!(printed[0]["message"], "line 0000");
        assert_eq!(printed[2499]["message"], "line 2499");
    }
);
