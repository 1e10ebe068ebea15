//! `flowgate work-pool` and `flowgate work-queue`.

use serde_json::{Value, json};

use crate::*;

const POOLS: [&str; 6] = ["NAME", "TYPE", "STATUS", "LIMIT", "ACTIVE", "ID"];
const QUEUES: [&str; 5] = ["QUEUE", "PRIORITY", "LIMIT", "ACTIVE", "STATUS"];

/// The (name, priority, limit, status) of each queue `work-queue ls` prints, in order.
#[track_caller]
fn queue_table(out: &Finished) -> Vec<[String; 4]> {
    rows(out.ok(), &QUEUES)
        .into_iter()
        .map(|r| [r[0].clone(), r[1].clone(), r[2].clone(), r[4].clone()])
        .collect()
}

fn strings<const N: usize>(rows: &[[&str; N]]) -> Vec<[String; N]> {
    rows.iter().map(|r| r.map(str::to_owned)).collect()
}

on_each_backend!(
    work_pools_and_queues_are_managed_from_the_command_line,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let out = s.cmd(&["work-pool", "create", "etl pool", "--limit", "2"]);
        assert!(
            out.ok().starts_with("Created work pool \"etl pool\""),
            "{out:#?}"
        );
        s.cmd(&["work-pool", "create", "etl pool"])
            .fails_with(&["already exists", "etl pool"]);
        let out = s.cmd(&["work-pool", "create", "other", "--type", "docker", "--json"]);
        let other: Value = serde_json::from_str(out.ok()).expect("create --json prints JSON");
        assert_eq!(
            (other["name"].as_str(), other["type"].as_str()),
            (Some("other"), Some("docker"))
        );

        let out = s.cmd(&["work-pool", "ls"]);
        let pools = rows(out.ok(), &POOLS);
        // "etl pool" has a space, so its row splits into one more cell.
        assert_eq!(
            pools[0][..6],
            ["etl", "pool", "process", "NOT_READY", "2", "0"],
            "{out:#?}"
        );
        assert_eq!(
            pools[1][..5],
            ["other", "docker", "NOT_READY", "-", "0"],
            "{out:#?}"
        );

        // Priorities shift as Prefect's do: a new queue at 1 pushes the others down.
        s.cmd(&[
            "work-queue",
            "create",
            "low",
            "--pool",
            "etl pool",
            "--limit",
            "1",
        ])
        .ok();
        let out = s.cmd(&[
            "work-queue",
            "create",
            "high",
            "--pool",
            "etl pool",
            "--priority",
            "1",
        ]);
        assert!(out.ok().contains("at priority 1"), "{out:#?}");
        let out = s.cmd(&["work-queue", "ls", "--pool", "etl pool"]);
        assert_eq!(
            queue_table(&out),
            strings(&[
                ["high", "1", "-", "NOT_READY"],
                ["default", "2", "-", "NOT_READY"],
                ["low", "3", "1", "NOT_READY"],
            ])
        );
        s.cmd(&[
            "work-queue",
            "update",
            "low",
            "--pool",
            "etl pool",
            "--priority",
            "1",
            "--limit",
            "none",
            "--new-name",
            "urgent",
        ])
        .ok();
        s.cmd(&["work-queue", "pause", "default", "--pool", "etl pool"])
            .ok();
        let out = s.cmd(&["work-queue", "ls", "--pool", "etl pool"]);
        assert_eq!(
            queue_table(&out),
            strings(&[
                ["urgent", "1", "-", "NOT_READY"],
                ["high", "2", "-", "NOT_READY"],
                ["default", "3", "-", "PAUSED"],
            ])
        );
        let out = s.cmd(&[
            "work-queue",
            "inspect",
            "urgent",
            "--pool",
            "etl pool",
            "--json",
        ]);
        let q: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(
            (q["priority"].clone(), q["concurrency_limit"].clone()),
            (json!(1), Value::Null)
        );
        s.cmd(&["work-queue", "resume", "default", "--pool", "etl pool"])
            .ok();
        s.cmd(&["work-queue", "delete", "high", "--pool", "etl pool"])
            .ok();

        // A worker's heartbeat makes the pool READY; pausing it wins over that.
        s.post(
            "/work_pools/etl%20pool/workers/heartbeat",
            json!({"name": "w1"}),
            204,
        );
        s.cmd(&[
            "work-pool",
            "update",
            "etl pool",
            "--limit",
            "5",
            "--description",
            "nightly",
        ])
        .ok();
        s.cmd(&["work-pool", "pause", "etl pool"]).ok();
        let out = s.cmd(&["work-pool", "inspect", "etl pool", "--json"]);
        let pool: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(pool["status"], "PAUSED");
        assert_eq!(pool["concurrency_limit"], 5);
        assert_eq!(pool["description"], "nightly");
        let queues: Vec<_> = pool["work_queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["name"].as_str().unwrap())
            .collect();
        assert_eq!(queues, ["urgent", "default"]);
        assert_eq!(pool["workers"][0]["name"], "w1");
        assert_eq!(pool["workers"][0]["status"], "ONLINE");
        s.cmd(&["work-pool", "resume", "etl pool"]).ok();
        let out = s.cmd(&["work-pool", "inspect", "etl pool"]);
        let text = out.ok();
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().eq(["Status", "READY"])),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("w1") && l.contains("ONLINE")),
            "{text}"
        );

        s.cmd(&["work-pool", "delete", "other"]).ok();
        let out = s.cmd(&["work-pool", "ls", "--json"]);
        let names: Vec<Value> = serde_json::from_str::<Vec<Value>>(out.ok())
            .unwrap()
            .into_iter()
            .map(|p| p["name"].clone())
            .collect();
        assert_eq!(names, [json!("etl pool")]);
    }
);

on_each_backend!(
    bad_pool_and_queue_input_fails_with_a_reason,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.cmd(&["work-pool", "create", "p"]).ok();
        s.cmd(&["work-pool", "inspect", "nope"])
            .fails_with(&["nope", "not found"]);
        s.cmd(&["work-pool", "pause", "nope"])
            .fails_with(&["nope", "not found"]);
        s.cmd(&["work-queue", "ls", "--pool", "nope"])
            .fails_with(&["nope", "not found"]);
        s.cmd(&["work-queue", "create", "q", "--pool", "nope"])
            .fails_with(&["nope", "not found"]);
        s.cmd(&["work-queue", "pause", "q", "--pool", "p"])
            .fails_with(&["q", "not found"]);
        s.cmd(&["work-queue", "create", "default", "--pool", "p"])
            .fails_with(&["default", "already"]);
        s.cmd(&["work-queue", "delete", "default", "--pool", "p"])
            .fails_with(&["default queue"]);
        s.cmd(&["work-pool", "create", "q", "--limit", "-1"])
            .fails_with(&["-1", "0 or more"]);
        s.cmd(&[
            "work-queue",
            "create",
            "q",
            "--pool",
            "p",
            "--priority",
            "0",
        ])
        .fails_with(&["priority", "1 or more"]);
        s.cmd(&["work-pool", "update", "p"])
            .fails_with(&["nothing to change"]);
        s.cmd(&["work-queue", "update", "default", "--pool", "p"])
            .fails_with(&["nothing to change"]);
        let out = s.cmd(&["work-pool", "ls"]);
        assert_eq!(
            rows(out.ok(), &POOLS).len(),
            1,
            "nothing was made by the failures"
        );
    }
);

#[test]
fn an_unreachable_server_is_reported_for_pool_commands() {
    for args in [
        &["work-pool", "ls"][..],
        &["work-queue", "ls", "--pool", "p"],
        &["deployment", "ls"],
    ] {
        let args = [args, &["--api-url", NOWHERE]].concat();
        flowgate(&args).fails_with(&["could not reach", NOWHERE]);
    }
}

on_each_backend!(
    a_reader_that_goes_away_ends_a_listing_quietly,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.post("/work_pools/", json!({"name": "one"}), 201);
        // The pipe's reading end is closed before the command prints (`flowgate … | head -0`).
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
            .args(s.args(&["work-pool", "ls"]))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("flowgate starts");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("flowgate ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            stderr.is_empty(),
            "nothing said about the closed pipe: {stderr}"
        );
    }
);
