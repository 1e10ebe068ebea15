//! Concurrency limits with the real `prefect==3.9.1` client running the project's programs
//! (tests/prefect_client/concurrency_*.py) against the `flowgate` binary, on SQLite and
//! PostgreSQL: holders never above the limit, rate-limit spacing, a tag limit serialising
//! tagged task runs, nothing held after the flow; and a holder killed with SIGKILL whose slot
//! comes back when its lease runs out, with the server restarted in between.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use common::{Api, ServerProcess, prefect_program, prefect_python};
use flowgate_core::Micros;
use flowgate_testkit::{TestDatabase, on_each_backend};
use serde_json::{Value, json};

fn clock() -> Micros {
    Micros::from_timestamp(jiff::Timestamp::now())
}

on_each_backend!(
    limits_hold_for_the_real_client_and_nothing_is_held_after_the_flow,
    |db: TestDatabase| {
        let Some(python) = prefect_python("real-client concurrency tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let out = prefect_program(&python, "concurrency_flow", &server.api, home.path())
            .output()
            .expect("python runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "concurrency_flow.py failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("the program prints a JSON report ({e}):\n{stdout}"));
        assert_eq!(report["results"], json!([0, 1, 2, 3, 4, 5, 0, 1, 2]));
        let most = |k: &str| report[k].as_i64().unwrap();
        assert!(
            (1..=2).contains(&most("most_db_holders")),
            "limit 2: {report}"
        );
        assert_eq!(most("most_tagged_running"), 1, "tag limit 1: {report}");
        // One rate_limit call per 0.25 s at most (limit 1, 4 slots/s): each call returned at
        // least 0.25 s after the one before it began (5 ms for the two clocks' granularity).
        let calls = report["rate_limit_calls"].as_array().unwrap();
        for pair in calls.windows(2) {
            let (began, next_done) = (pair[0][0].as_f64().unwrap(), pair[1][1].as_f64().unwrap());
            assert!(
                next_done - began >= 0.245,
                "calls {pair:?} came closer than the decay allows"
            );
        }
        assert_eq!(report["after"], json!({"db": 0, "db-tag": []}));

        let api = Api::new(&server.api);
        for name in ["db", "rl", "tag:db-tag"] {
            let (status, holders) = api.get(&format!("/v2/concurrency_limits/{name}/holders"));
            assert_eq!(status, 200, "{holders}");
            assert_eq!(
                holders["leases"],
                json!([]),
                "{name} holds nothing after the flow"
            );
        }
        let (_, db) = api.get("/v2/concurrency_limits/db");
        assert_eq!(db["active_slots"], 0);
        assert!(
            db["avg_slot_occupancy_seconds"].as_f64().unwrap() < 2.0,
            "the average learned the 0.2 s holds: {db}"
        );
    }
);

on_each_backend!(
    a_killed_holders_slot_comes_back_when_its_lease_runs_out_across_a_restart,
    |db: TestDatabase| {
        let Some(python) = prefect_python("real-client concurrency tests") else {
            return;
        };
        let home = tempfile::tempdir().unwrap();
        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        let (status, body) = api.post(
            "/v2/concurrency_limits/",
            &json!({"name": "held", "limit": 1}),
        );
        assert_eq!(status, 201, "{body}");

        let mut holder = prefect_program(&python, "concurrency_holder", &server.api, home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python runs");
        let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
        let said = lines.next().expect("the holder reports").unwrap();
        assert!(said.starts_with("holding"), "{said}");
        holder.kill().unwrap();
        holder.wait().unwrap();

        // The lease as stored when its holder died.
        let (_, holders) = api.get("/v2/concurrency_limits/held/holders");
        let leases = holders["leases"].as_array().unwrap().clone();
        assert_eq!(leases.len(), 1, "{holders}");
        let expires = Micros::parse(leases[0]["expires_at"].as_str().unwrap()).unwrap();

        // The server crashes and comes back on the same database.
        server.kill();
        let server = ServerProcess::start(home.path(), &db.url);
        let api = Api::new(&server.api);
        let (_, after_restart) = api.get("/v2/concurrency_limits/held/holders");
        if clock() < expires {
            assert_eq!(
                after_restart["leases"].as_array().unwrap().len(),
                1,
                "a restart does not free a slot whose lease is still live"
            );
        }

        // A waiter gets the slot once the dead holder's lease runs out, and not before.
        let (status, granted) = api.post(
            "/v2/concurrency_limits/increment-with-lease",
            &json!({"names": ["held"], "slots": 1, "lease_duration": 60, "wait_seconds": 30}),
        );
        let at = clock();
        assert_eq!(status, 200, "{granted}");
        assert!(
            at >= expires,
            "granted at {at}, before the lease ran out at {expires}"
        );
        let (_, holders) = api.get("/v2/concurrency_limits/held/holders");
        assert_eq!(holders["leases"][0]["id"], granted["lease_id"]);
        assert_eq!(holders["leases"].as_array().unwrap().len(), 1);
    }
);
