//! `flowgate global-concurrency-limit` and `flowgate concurrency-limit` (tag limits): tables,
//! `--json`, and exit code 1 with the reason on bad input.

use serde_json::{Value, json};

use crate::*;

const GLOBAL: [&str; 6] = [
    "NAME",
    "LIMIT",
    "ACTIVE SLOTS",
    "SLOT DECAY/S",
    "ACTIVE",
    "ID",
];
const TAGS: [&str; 4] = ["TAG", "LIMIT", "ACTIVE SLOTS", "ID"];

on_each_backend!(
    global_limits_are_created_listed_changed_and_deleted,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let gcl = |args: &[&str]| s.cmd(&[&["global-concurrency-limit"][..], args].concat());
        let made = gcl(&["create", "db", "--limit", "2"]);
        assert!(
            made.ok()
                .contains("Created global concurrency limit \"db\""),
            "{made:#?}"
        );
        let out = s.cmd(&[
            "gcl",
            "create",
            "github",
            "--limit",
            "5",
            "--slot-decay-per-second",
            "1.5",
            "--json",
        ]);
        let github: Value = serde_json::from_str(out.ok()).expect("JSON");
        assert_eq!(github["slot_decay_per_second"], 1.5);
        s.post(
            "/concurrency_limits/",
            json!({"tag": "hidden", "concurrency_limit": 1}),
            201,
        );

        let ls = gcl(&["ls"]);
        let listed: Vec<Vec<String>> = rows(ls.ok(), &GLOBAL)
            .into_iter()
            .map(|r| r[..5].to_vec())
            .collect();
        assert_eq!(
            listed,
            [
                ["db", "2", "0", "0", "yes"],
                ["github", "5", "0", "1.5", "yes"]
            ]
            .map(|r| r.map(str::to_owned).to_vec()),
            "tag limits are not global ones: {ls:#?}"
        );

        // A holder shows in inspect; disabling lets everyone through; enabling limits again.
        let take = json!({"names": ["db"], "slots": 2,
            "holder": {"type": "flow_run", "id": github["id"]}});
        let lease = s.post("/v2/concurrency_limits/increment-with-lease", take, 200);
        let shown = gcl(&["inspect", "db"]);
        let text = shown.ok();
        assert!(text.contains("Active slots  2"), "{text}");
        assert!(
            text.contains(lease["lease_id"].as_str().expect("a lease")),
            "{text}"
        );
        assert!(text.contains("flow_run"), "{text}");
        gcl(&["disable", "db"]).ok();
        let one = json!({"names": ["db"], "slots": 1, "wait_seconds": 0});
        s.post("/v2/concurrency_limits/increment", one.clone(), 200);
        gcl(&["enable", "db"]).ok();
        assert_eq!(s.api.post("/v2/concurrency_limits/increment", &one).0, 423);

        gcl(&["update", "db", "--limit", "4", "--active-slots", "0"]).ok();
        let db: Value = serde_json::from_str(gcl(&["inspect", "db", "--json"]).ok()).expect("JSON");
        assert_eq!((&db["limit"], &db["active_slots"]), (&json!(4), &json!(0)));
        assert_eq!(db["holders"]["leases"], json!([]));
        assert!(db["denied_slots"].as_i64() >= Some(1), "{db}");

        gcl(&["delete", "github"]).ok();
        let left: Vec<Value> = serde_json::from_str(gcl(&["ls", "--json"]).ok()).expect("JSON");
        assert_eq!(left.len(), 1);
        assert_eq!(left[0]["name"], "db");
    }
);

on_each_backend!(
    tag_limits_are_created_listed_reset_and_deleted,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let cl = |args: &[&str]| s.cmd(&[&["concurrency-limit"][..], args].concat());
        let made = cl(&["create", "serial", "1"]);
        assert!(
            made.ok().contains("\"serial\" now run at most 1"),
            "{made:#?}"
        );
        let run = uuid::Uuid::now_v7().to_string();
        let take = json!({"names": ["serial"], "task_run_id": run});
        s.post("/concurrency_limits/increment", take, 200);

        let ls = cl(&["ls"]);
        let listed = rows(ls.ok(), &TAGS);
        assert_eq!(listed[0][..3], ["serial", "1", "1"].map(str::to_owned));
        let shown = cl(&["inspect", "serial"]);
        assert!(
            shown.ok().contains(&format!("task run {run}")),
            "{shown:#?}"
        );
        let as_json: Value =
            serde_json::from_str(cl(&["inspect", "serial", "--json"]).ok()).expect("JSON");
        assert_eq!(as_json["active_slots"], json!([run]));

        cl(&["reset", "serial"]).ok();
        let after: Vec<Value> = serde_json::from_str(cl(&["ls", "--json"]).ok()).expect("JSON");
        assert_eq!(after[0]["active_slots"], json!([]));
        cl(&["delete", "serial"]).ok();
        let none = cl(&["ls"]);
        assert_eq!(none.ok(), "");
        assert_eq!(none.stderr.trim(), "No tag concurrency limits found.");
    }
);

on_each_backend!(
    bad_limit_input_exits_1_with_the_reason,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let gcl = |args: &[&str]| s.cmd(&[&["global-concurrency-limit"][..], args].concat());
        gcl(&["create", "neg", "--limit", "-1"])
            .fails_with(&["limit must be a whole number", "-1"]);
        gcl(&[
            "create",
            "decay",
            "--limit",
            "1",
            "--slot-decay-per-second",
            "-2",
        ])
        .fails_with(&["slot_decay_per_second"]);
        gcl(&["create", "twice", "--limit", "1"]).ok();
        gcl(&["create", "twice", "--limit", "1"]).fails_with(&["already exists", "409"]);
        gcl(&["inspect", "nobody"]).fails_with(&["\"nobody\" not found", "404"]);
        gcl(&["update", "twice"]).fails_with(&["nothing to update"]);
        gcl(&["create", "nolimit"]).fails_with(&["--limit"]);
        s.cmd(&["concurrency-limit", "create", "t", "-3"])
            .fails_with(&["-3"]);
        s.cmd(&["concurrency-limit", "inspect", "untagged"])
            .fails_with(&["404"]);
    }
);
