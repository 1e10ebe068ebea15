//! `flowgate deployment`.

use serde_json::{Value, json};

use crate::*;

const DEPLOYMENTS: [&str; 6] = ["DEPLOYMENT", "POOL", "QUEUE", "STATUS", "ID", "SCHEDULES"];

impl Server {
    /// Creates the pool `p` with the queue `high` and the deployment `etl/nightly` in it, whose
    /// parameter `n` must be an integer; returns the deployment's id.
    fn nightly(&self) -> String {
        self.post("/work_pools/", json!({"name": "p"}), 201);
        self.post(
            "/work_pools/p/queues/",
            json!({"name": "high", "priority": 1}),
            201,
        );
        let flow = self.flow("etl");
        let body = json!({
            "name": "nightly", "flow_id": flow, "work_pool_name": "p", "work_queue_name": "high",
            "parameters": {"n": 1}, "enforce_parameter_schema": true,
            "parameter_openapi_schema": {"type": "object", "required": ["n"],
                "properties": {"n": {"type": "integer"}, "who": {"type": "string"}}},
            "schedules": [{"schedule": {"cron": "0 9 * * *", "timezone": "Europe/Berlin"},
                           "active": false}],
            "entrypoint": "true"});
        id(&self.post("/deployments/", body, 201))
    }
}

on_each_backend!(
    deployments_are_listed_run_paused_and_deleted,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let dep = s.nightly();
        let out = s.cmd(&["deployment", "ls"]);
        let listed = rows(out.ok(), &DEPLOYMENTS);
        assert_eq!(listed.len(), 1, "{out:#?}");
        assert_eq!(
            listed[0][..5],
            ["etl/nightly", "p", "high", "NOT_READY", dep.as_str()]
        );
        assert_eq!(listed[0][5..], ["-"], "an inactive schedule is not listed");

        let out = s.cmd(&["deployment", "inspect", "etl/nightly"]);
        let text = out.ok();
        assert!(text.starts_with("etl/nightly\n"), "{text}");
        assert!(
            text.contains("Schedule     cron 0 9 * * * (Europe/Berlin) (inactive)"),
            "{text}"
        );
        let out = s.cmd(&["deployment", "inspect", &dep, "--json"]);
        let read: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(read["name"], "nightly");

        // A run by the deployment's own name, parameters as JSON where they read as JSON.
        let out = s.cmd(&[
            "deployment",
            "run",
            "nightly",
            "-p",
            "n=5",
            "--param",
            "who=ann b",
            "--json",
        ]);
        let run: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(run["parameters"], json!({"n": 5, "who": "ann b"}));
        assert_eq!(run["work_queue_name"], "high");
        assert_eq!(run["state_type"], "SCHEDULED");
        let (_, handed) = s
            .api
            .post("/work_pools/p/get_scheduled_flow_runs", &json!({}));
        assert_eq!(
            handed[0]["flow_run"]["id"], run["id"],
            "the run waits for a worker"
        );

        s.cmd(&["deployment", "pause", "etl/nightly"]).ok();
        let out = s.cmd(&["deployment", "ls", "--pool", "p"]);
        assert_eq!(rows(out.ok(), &DEPLOYMENTS)[0][3], "PAUSED");
        let out = s.cmd(&["deployment", "ls", "--pool", "elsewhere"]);
        assert_eq!((out.ok(), out.stderr.trim()), ("", "No deployments found."));
        s.cmd(&["deployment", "resume", &dep]).ok();
        let out = s.cmd(&["deployment", "inspect", "nightly", "--json"]);
        assert_eq!(
            serde_json::from_str::<Value>(out.ok()).unwrap()["paused"],
            false
        );

        s.cmd(&["deployment", "delete", "etl/nightly"]).ok();
        s.cmd(&["deployment", "inspect", "etl/nightly"])
            .fails_with(&["not found"]);
        let out = s.cmd(&["deployment", "ls", "--json"]);
        assert_eq!(serde_json::from_str::<Value>(out.ok()).unwrap(), json!([]));
    }
);

on_each_backend!(
    a_deployment_run_is_refused_naming_the_bad_parameter,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.nightly();
        s.cmd(&["deployment", "run", "etl/nightly", "-p", "n=many"])
            .fails_with(&["'n'", "integer", "HTTP 422"]);
        s.cmd(&["deployment", "run", "etl/nightly", "-p", "n"])
            .fails_with(&["KEY=VALUE"]);
        s.cmd(&["deployment", "run", "etl/nightly", "--params-json", "[1]"])
            .fails_with(&["JSON object"]);
        s.cmd(&["deployment", "run", "etl/nope"])
            .fails_with(&["etl/nope", "not found"]);
        s.cmd(&["deployment", "run", "nope"])
            .fails_with(&["no deployment is named \"nope\""]);
        // Two deployments of one name: the command lists them instead of guessing.
        let other = s.flow("report");
        s.post(
            "/deployments/",
            json!({"name": "nightly", "flow_id": other}),
            201,
        );
        s.cmd(&["deployment", "run", "nightly"])
            .fails_with(&["etl/nightly", "report/nightly"]);
        let (_, runs) = s.api.post("/flow_runs/filter", &json!({}));
        assert_eq!(runs, json!([]), "no run was made by a refused command");
    }
);

on_each_backend!(
    run_watch_follows_the_run_and_fails_unless_it_completes,
    |db: TestDatabase| {
        let s = Server::start(&db);
        s.nightly();
        let watching = Running::start(&s.args(&["deployment", "run", "etl/nightly", "--watch"]));
        let created = watching.next_line();
        assert!(created.starts_with("Created flow run"), "{created}");
        let run = created.split(['(', ')']).nth(1).unwrap().to_owned();
        assert!(watching.next_line().ends_with("Scheduled"));
        assert_eq!(s.set_state(&run, "PENDING"), "Pending");
        assert!(watching.next_line().ends_with("Pending"));
        assert_eq!(s.set_state(&run, "RUNNING"), "Running");
        assert!(watching.next_line().ends_with("Running"));
        assert_eq!(s.set_state(&run, "FAILED"), "Failed");
        let out = watching.finish();
        assert!(out.stdout.trim_end().ends_with("Failed"), "{out:#?}");
        out.fails_with(&["ended Failed"]);
    }
);
