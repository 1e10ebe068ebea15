//! `flowgate automation` and `flowgate event`.

use serde_json::Value;

use crate::*;

const AUTOMATIONS: [&str; 6] = ["NAME", "ENABLED", "TRIGGER", "ACTIONS", "LAST FIRED", "ID"];

impl Server {
    /// Writes `text` to `name` in a fresh temporary folder and returns the folder and the path.
    fn file(&self, name: &str, text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        (dir, path.to_string_lossy().into_owned())
    }

    /// `flowgate automation inspect NAME`'s text, once it contains `needle`.
    #[track_caller]
    fn inspect_until(&self, name: &str, needle: &str) -> String {
        let mut last = String::new();
        let found = self.api.eventually(PATIENCE, |_| {
            last = self.cmd(&["automation", "inspect", name]).ok().to_owned();
            last.contains(needle).then_some(())
        });
        assert!(found.is_some(), "inspect never showed {needle:?}:\n{last}");
        last
    }
}

/// A compound of two events about one order, in any order within a minute, pausing `pool_id`.
fn compound_yaml(pool_id: &str) -> String {
    format!(
        "name: order stuck
description: paid and then refused by the warehouse
tags: [orders]
trigger:
  type: compound
  require: all
  within: 60
  triggers:
    - type: event
      expect: [acme.order.paid]
      match: {{prefect.resource.id: acme.order.*}}
    - type: event
      expect: [acme.order.refused]
      match: {{prefect.resource.id: acme.order.*}}
actions:
  - type: pause-work-pool
    source: selected
    work_pool_id: {pool_id}
"
    )
}

on_each_backend!(
    automations_are_created_from_files_inspected_toggled_and_deleted,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let pool = s.post("/work_pools/", serde_json::json!({"name": "etl"}), 201);
        let (_dir, yaml) = s.file("stuck.yaml", &compound_yaml(&id(&pool)));
        let out = s.cmd(&["automation", "create", "-f", &yaml]);
        assert!(
            out.ok().starts_with("Created automation \"order stuck\""),
            "{out:#?}"
        );
        // Several definitions in one JSON file (under `automations`), printed as JSON.
        let json_defs = r#"{"automations": [
            {"name": "proactive", "trigger": {"type": "event", "posture": "Proactive",
             "expect": ["acme.heartbeat"], "threshold": 1, "within": 30}, "actions": [{"type": "do-nothing"}]},
            {"name": "slow flows", "enabled": false, "trigger": {"type": "metric",
             "metric": {"name": "successes", "operator": "<", "threshold": 0.7, "range": 60, "firing_for": 10}},
             "actions": [{"type": "do-nothing"}]}]}"#;
        let (_dir2, json_file) = s.file("more.json", json_defs);
        let out = s.cmd(&["automation", "create", "-f", &json_file, "--json"]);
        let created: Value = serde_json::from_str(out.ok()).expect("create --json prints JSON");
        assert_eq!(created.as_array().map(Vec::len), Some(2), "{created}");

        let out = s.cmd(&["automation", "ls"]);
        let listed = rows(out.ok(), &AUTOMATIONS);
        let summary: Vec<_> = listed.iter().map(|r| r[..4].join(" ")).collect();
        assert_eq!(
            summary,
            [
                "order stuck yes compound(all-of-2)",
                "proactive yes event(proactive) do-nothing",
                "slow flows no metric(successes<0.7)",
            ],
            "{out:#?}"
        );

        // Before the events: the compound waits for both parts.
        let text = s
            .cmd(&["automation", "inspect", "order stuck"])
            .ok()
            .to_owned();
        assert!(
            text.contains("compound: fires when all of its 2 parts fire within 60 s"),
            "{text}"
        );
        assert!(
            text.contains("[ ] part 1") && text.contains("[ ] part 2"),
            "{text}"
        );
        assert!(text.contains("No firings yet."), "{text}");

        s.cmd(&[
            "event",
            "emit",
            "acme.order.refused",
            "--resource-id",
            "acme.order.7",
        ])
        .ok();
        let text = s.inspect_until("order stuck", "[x] part 2");
        assert!(
            text.contains("[ ] part 1"),
            "one part is not enough: {text}"
        );
        s.cmd(&[
            "event",
            "emit",
            "acme.order.paid",
            "--resource-id",
            "acme.order.7",
            "--payload",
            r#"{"amount": 12}"#,
        ])
        .ok();
        let text = s.inspect_until("order stuck", "pause-work-pool ok");
        assert!(text.contains("Triggered"), "{text}");
        // The trigger state is the engine's checkpoint, which follows within a second.
        s.inspect_until("order stuck", "Fired 1 time(s)");
        let (_, pool) = s.api.get("/work_pools/etl");
        assert_eq!(pool["is_paused"], true, "the action paused the pool");

        // The JSON form carries the report for scripts.
        let out = s.cmd(&["automation", "inspect", "order stuck", "--json"]);
        let read: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(read["trigger_state"]["trigger"]["type"], "composite");
        assert_eq!(read["firings"][0]["actions"][0]["ok"], true, "{read}");

        // The metric automation reports its value in words once enabled.
        s.cmd(&["automation", "enable", "slow flows"]).ok();
        let text = s.inspect_until("slow flows", "metric: fires when successes < 70.0%");
        assert!(text.contains("Enabled      yes"), "{text}");
        s.cmd(&["automation", "disable", "slow flows"]).ok();
        let text = s
            .cmd(&["automation", "inspect", "slow flows"])
            .ok()
            .to_owned();
        assert!(text.contains("the automation is disabled"), "{text}");

        let out = s.cmd(&["automation", "delete", "proactive"]);
        assert!(out.ok().starts_with("Deleted automation \"proactive\""));
        let out = s.cmd(&["automation", "ls", "--json"]);
        let names: Vec<Value> = serde_json::from_str::<Vec<Value>>(out.ok())
            .unwrap()
            .into_iter()
            .map(|a| a["name"].clone())
            .collect();
        assert_eq!(names, ["order stuck", "slow flows"]);
    }
);

on_each_backend!(
    bad_automation_files_and_names_exit_1_with_the_reason,
    |db: TestDatabase| {
        let s = Server::start(&db);
        let (_d, bad) = s.file(
            "bad.json",
            r#"{"name": "x", "trigger": {"type": "event", "threshold": 0}, "actions": []}"#,
        );
        s.cmd(&["automation", "create", "-f", &bad])
            .fails_with(&["automation \"x\" was not created", "trigger.threshold"]);
        let (_d, missing_pool) = s.file(
            "pool.yaml",
            &compound_yaml("01a21c55-0000-7000-8000-000000000000"),
        );
        s.cmd(&["automation", "create", "-f", &missing_pool])
            .fails_with(&["actions[0].work_pool_id", "no work pool"]);
        let (_d, broken) = s.file("broken.yaml", "name: [\n");
        s.cmd(&["automation", "create", "-f", &broken])
            .fails_with(&["broken.yaml is not valid YAML", "line 1"]);
        s.cmd(&["automation", "create", "-f", "/nonexistent/a.json"])
            .fails_with(&["cannot read /nonexistent/a.json"]);
        s.cmd(&["automation", "inspect", "nobody"])
            .fails_with(&["no automation is named \"nobody\""]);

        let one =
            r#"{"name": "twin", "trigger": {"type": "event", "expect": ["a"]}, "actions": []}"#;
        let (_d, twin) = s.file("twin.json", one);
        s.cmd(&["automation", "create", "-f", &twin]).ok();
        s.cmd(&["automation", "create", "-f", &twin]).ok();
        s.cmd(&["automation", "disable", "twin"])
            .fails_with(&["2 automations are named \"twin\"", "pass the id"]);
        s.cmd(&[
            "event",
            "emit",
            "a",
            "--resource-id",
            "r",
            "--payload",
            "[1]",
        ])
        .fails_with(&["--payload must be a JSON object"]);
        s.cmd(&["event", "emit", "a", "--resource-id", "r", "--payload", "{"])
            .fails_with(&["--payload is not JSON"]);
    }
);

/// The (event, resource) of each row `event ls` printed.
fn events_listed(stdout: &str) -> Vec<(String, String)> {
    rows(stdout, &["OCCURRED", "EVENT", "RESOURCE", "ID"])
        .into_iter()
        .map(|r| (r[2].clone(), r[3].clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

on_each_backend!(
    events_are_emitted_listed_filtered_and_followed,
    |db: TestDatabase| {
        let s = Server::start(&db);
        for (name, resource) in [
            ("acme.order.paid", "acme.order.1"),
            ("acme.order.paid", "acme.order.2"),
            ("acme.order.shipped", "acme.order.1"),
            ("other.thing", "acme.order.1"),
        ] {
            let out = s.cmd(&["event", "emit", name, "--resource-id", resource]);
            assert!(out.ok().starts_with(&format!("Emitted event {name:?}")));
        }
        let out = s.cmd(&["event", "ls", "--name", "acme.order."]);
        assert_eq!(
            events_listed(out.ok()),
            pairs(&[
                ("acme.order.paid", "acme.order.1"),
                ("acme.order.paid", "acme.order.2"),
                ("acme.order.shipped", "acme.order.1"),
            ]),
            "oldest of the latest first: {out:#?}"
        );
        let out = s.cmd(&["event", "ls", "--resource", "acme.order.1", "--limit", "2"]);
        assert_eq!(
            events_listed(out.ok()),
            pairs(&[
                ("acme.order.shipped", "acme.order.1"),
                ("other.thing", "acme.order.1"),
            ]),
            "the latest two: {out:#?}"
        );
        let out = s.cmd(&[
            "event",
            "ls",
            "--resource",
            "acme.order.*",
            "--name",
            "acme.order.paid",
        ]);
        assert_eq!(events_listed(out.ok()).len(), 2, "{out:#?}");
        let out = s.cmd(&[
            "event",
            "emit",
            "acme.order.paid",
            "--resource-id",
            "acme.order.3",
            "--payload",
            r#"{"amount": 12}"#,
            "--json",
        ]);
        let emitted: Value = serde_json::from_str(out.ok()).unwrap();
        let out = s.cmd(&["event", "ls", "--resource", "acme.order.3", "--json"]);
        let read: Value = serde_json::from_str(out.ok()).unwrap();
        assert_eq!(read[0]["id"], emitted["id"]);
        assert_eq!(read[0]["payload"]["amount"], 12);

        // Following: the latest matching event, then new ones as they arrive, filtered.
        let follow = Running::start(&s.args(&[
            "event",
            "ls",
            "--follow",
            "--name",
            "acme.order.",
            "--limit",
            "1",
        ]));
        assert!(follow.next_line().starts_with("OCCURRED"));
        assert!(follow.next_line().contains("acme.order.3"));
        s.cmd(&["event", "emit", "other.thing", "--resource-id", "x"])
            .ok();
        s.cmd(&[
            "event",
            "emit",
            "acme.order.refused",
            "--resource-id",
            "acme.order.4",
        ])
        .ok();
        let line = follow.next_line();
        assert!(
            line.contains("acme.order.refused") && line.contains("acme.order.4"),
            "{line}"
        );
        let json_follow = Running::start(&s.args(&[
            "event",
            "ls",
            "--follow",
            "--json",
            "--resource",
            "acme.order.5",
            "--limit",
            "1",
        ]));
        // The subscription is open once an event emitted after it starts arrives.
        let mut first = None;
        let found = s.api.eventually(PATIENCE, |_| {
            s.cmd(&[
                "event",
                "emit",
                "acme.order.paid",
                "--resource-id",
                "acme.order.5",
            ])
            .ok();
            first = json_follow
                .stdout
                .recv_timeout(Duration::from_millis(300))
                .ok();
            first.clone()
        });
        let event: Value = serde_json::from_str(&found.expect("a followed event")).unwrap();
        assert_eq!(event["resource"]["prefect.resource.id"], "acme.order.5");
        drop(follow);
        drop(json_follow);
    }
);
