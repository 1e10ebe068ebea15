//! Custom events and automations defined in code, against the harness's real server: the
//! events fire the automations, applying is create-or-update by name, failures are values.

use std::time::{Duration, Instant};

use flowgate::automations::{Action, Applied, Automation, AutomationError, Metric, Trigger};
use flowgate::testing::{Harness, harness};
use flowgate::{ApiError, EmitError, Resource, emit_event, emit_event_async, flow};
use serde_json::{Value, json};
use uuid::Uuid;

/// Polls `check` until it returns `Some`, failing the test with `what` after 20 s.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pool(h: &Harness, name: &str) -> Uuid {
    let created = h.post("/work_pools/", json!({"name": name, "type": "process"}));
    created["id"].as_str().unwrap().parse().unwrap()
}

fn paused(h: &Harness, name: &str) -> bool {
    h.get(&format!("/work_pools/{name}"))["is_paused"] == true
}

fn order_stuck(pool_id: Uuid) -> Automation {
    Automation::new("order stuck")
        .description("paid, then refused by the warehouse")
        .tags(["orders"])
        .trigger(
            Trigger::compound([
                Trigger::event("acme.order.paid").matching("prefect.resource.id", "acme.order.*"),
                // Refused by the `ship` flow: the SDK names the flow as a related resource.
                Trigger::event("acme.order.refused")
                    .matching("prefect.resource.id", "acme.order.*")
                    .matching_related("prefect.resource.role", "flow")
                    .matching_related("prefect.resource.name", "ship"),
            ])
            .within(Duration::from_secs(60)),
        )
        .action(Action::pause_work_pool(pool_id))
}

#[flow]
fn ship(order: u32) -> Uuid {
    emit_event(
        "acme.order.refused",
        Resource::new(format!("acme.order.{order}")).label("acme.warehouse", "north"),
        json!({"reason": "no stock"}),
    )
    .unwrap()
}

#[test]
fn events_emitted_in_code_fire_an_automation_defined_in_code() {
    let h = harness();
    let pool_id = pool(&h, "etl");
    let applied = order_stuck(pool_id).apply().unwrap();
    let Applied::Created(id) = applied else {
        panic!("expected a new automation, got {applied:?}");
    };
    assert_eq!(
        order_stuck(pool_id).apply().unwrap(),
        Applied::Unchanged(id),
        "applying the same definition again changes nothing"
    );

    emit_event("acme.order.paid", "acme.order.7", json!({"amount": 12})).unwrap();
    assert!(!paused(&h, "etl"), "one part of the compound is not enough");
    let refused = ship(7);

    // The event emitted in the flow names its run and its flow as related resources.
    let found = h.post(
        "/events/filter",
        json!({"filter": {"id": {"id": [refused]}}}),
    );
    let event = &found["events"][0];
    assert_eq!(event["resource"]["acme.warehouse"], "north");
    assert_eq!(event["payload"]["reason"], "no stock");
    let run = &h.flow_runs_of("ship")[0];
    assert_eq!(
        event["related"][0],
        json!({"prefect.resource.id": format!("prefect.flow-run.{}", run.id),
               "prefect.resource.role": "flow-run", "prefect.resource.name": run.name})
    );
    assert_eq!(
        event["related"][1],
        json!({"prefect.resource.id": format!("prefect.flow.{}", h.get("/flows/name/ship")["id"].as_str().unwrap()),
               "prefect.resource.role": "flow", "prefect.resource.name": "ship"})
    );

    eventually("the compound pauses the pool", || {
        paused(&h, "etl").then_some(())
    });
    let state = h.get(&format!("/automations/{id}/state"));
    let firing = eventually("the firing's outcome is recorded", || {
        let state = h.get(&format!("/automations/{id}/state"));
        state["firings"][0]["actions"].is_array().then_some(state)
    });
    assert_eq!(
        firing["firings"][0]["actions"][0],
        json!({"type": "pause-work-pool", "ok": true, "reason": null}),
        "{state}"
    );
}

#[test]
fn a_changed_definition_replaces_the_automation_of_that_name() {
    let h = harness();
    let pool_id = pool(&h, "etl");
    let first = order_stuck(pool_id).apply().unwrap().id();
    let changed = order_stuck(pool_id)
        .disabled()
        .on_resolve(Action::resume_work_pool(pool_id));
    assert_eq!(changed.apply().unwrap(), Applied::Updated(first));
    let stored = h.get(&format!("/automations/{first}"));
    assert_eq!(stored["enabled"], false);
    assert_eq!(stored["actions_on_resolve"][0]["type"], "resume-work-pool");
    let all = h.post("/automations/filter", json!({}));
    assert_eq!(all.as_array().map(Vec::len), Some(1), "updated, not added");
}

#[test]
fn sequence_and_metric_triggers_are_built_and_evaluated() {
    let h = harness();
    let sequence = Automation::new("deploy then fail")
        .trigger(
            Trigger::sequence([
                Trigger::event("acme.deployed"),
                Trigger::event("acme.failed"),
            ])
            .within(Duration::from_secs(60)),
        )
        .action(Action::do_nothing())
        .apply()
        .unwrap()
        .id();
    let metric = Automation::new("etl failing")
        .trigger(
            Trigger::metric(Metric::Successes)
                .below(0.7)
                .range(Duration::from_secs(10))
                .firing_for(Duration::from_secs(1))
                .matching_related("prefect.resource.name", "etl"),
        )
        .action(Action::do_nothing())
        .apply()
        .unwrap()
        .id();

    // Out of order does not fire; in order does.
    emit_event("acme.failed", "acme.app", ()).unwrap();
    emit_event("acme.deployed", "acme.app", ()).unwrap();
    emit_event("acme.failed", "acme.app", ()).unwrap();
    let state = eventually("the sequence fires once", || {
        let state = h.get(&format!("/automations/{sequence}/state"));
        (state["trigger_state"]["firings"] == 1).then_some(state)
    });
    assert_eq!(
        state["firings"].as_array().map(Vec::len),
        Some(1),
        "{state}"
    );

    let report = h.get(&format!("/automations/{metric}/state"));
    let summary = report["trigger_state"]["trigger"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.starts_with("fires when successes < 70.0% over the last 10 s for 1 s"),
        "{report}"
    );
}

#[test]
fn failures_are_values() {
    let h = harness();
    let bad = emit_event("acme.x", "acme.r", [1, 2]).unwrap_err();
    assert!(
        matches!(&bad, EmitError::Invalid { message, .. } if message.contains("must be a JSON object")),
        "{bad}"
    );
    let bad = emit_event("", "acme.r", ()).unwrap_err();
    assert!(bad.to_string().contains("must not be empty"), "{bad}");
    let bad = emit_event("acme.x", "", ()).unwrap_err();
    assert!(
        matches!(&bad, EmitError::Api(ApiError::Refused { status: 422, detail, .. }) if detail.contains("prefect.resource.id")),
        "{bad}"
    );

    let bad = Automation::new("no trigger").apply().unwrap_err();
    assert!(bad.to_string().contains("it has no trigger"), "{bad}");
    let bad = Automation::new("too few")
        .trigger(Trigger::event("a").threshold(0))
        .apply()
        .unwrap_err();
    assert!(
        matches!(&bad, AutomationError::Api(ApiError::Refused { status: 422, detail, .. }) if detail.contains("trigger.threshold")),
        "{bad}"
    );
    let bad = Automation::new("no pool")
        .trigger(Trigger::event("a"))
        .action(Action::pause_work_pool(Uuid::now_v7()))
        .apply()
        .unwrap_err();
    assert!(bad.to_string().contains("actions[0].work_pool_id"), "{bad}");

    let twin =
        json!({"name": "twin", "trigger": {"type": "event", "expect": ["a"]}, "actions": []});
    h.post("/automations/", twin.clone());
    h.post("/automations/", twin);
    let bad = Automation::new("twin")
        .trigger(Trigger::event("a"))
        .apply()
        .unwrap_err();
    assert!(
        matches!(&bad, AutomationError::Ambiguous { ids, .. } if ids.len() == 2),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_code_emits_and_applies() {
    let h = harness();
    let applied = Automation::new("watch")
        .trigger(Trigger::event("acme.ping").for_each("prefect.resource.id"))
        .action(Action::do_nothing())
        .apply_async()
        .await
        .unwrap();
    let id = emit_event_async("acme.ping", "acme.host.1", json!({"ms": 3}))
        .await
        .unwrap();
    let found: Value = tokio::task::spawn_blocking(move || {
        eventually("the automation fires", || {
            let state = h.get(&format!("/automations/{}/state", applied.id()));
            (state["firings"][0]["triggering_event"] == id.to_string()).then_some(state)
        })
    })
    .await
    .unwrap();
    assert_eq!(found["firings"][0]["state"], "Triggered");
}

#[test]
fn targets_given_by_name_are_looked_up_when_applied() {
    let h = harness();
    let pool_id = pool(&h, "etl pool");
    let queue = h.post("/work_pools/etl%20pool/queues/", json!({"name": "urgent"}));
    let flow = h.post("/flows/", json!({"name": "load"}));
    let deployment = h.post(
        "/deployments/",
        json!({"name": "nightly", "flow_id": flow["id"], "work_pool_name": "etl pool"}),
    );
    let other = order_stuck(pool_id).apply().unwrap().id();
    let id = Automation::new("by name")
        .trigger(Trigger::event("acme.stop"))
        .action(Action::pause_work_pool("etl pool"))
        .action(Action::pause_work_queue("etl pool/urgent"))
        .action(Action::run_deployment("load/nightly").parameter("full", true))
        .on_trigger(Action::pause_automation("order stuck"))
        .apply()
        .unwrap()
        .id();
    let stored = h.get(&format!("/automations/{id}"));
    assert_eq!(stored["actions"][0]["work_pool_id"], json!(pool_id));
    assert_eq!(stored["actions"][1]["work_queue_id"], queue["id"]);
    assert_eq!(stored["actions"][2]["deployment_id"], deployment["id"]);
    assert_eq!(stored["actions"][2]["parameters"], json!({"full": true}));
    assert_eq!(
        stored["actions_on_trigger"][0]["automation_id"],
        json!(other)
    );

    let unknown = |action: Action| {
        Automation::new("unknown")
            .trigger(Trigger::event("a"))
            .action(action)
            .apply()
            .unwrap_err()
            .to_string()
    };
    let bad = unknown(Action::resume_work_pool("nope"));
    assert!(
        bad.contains("actions[0] (resume-work-pool): there is no work pool named \"nope\""),
        "{bad}"
    );
    let bad = unknown(Action::pause_work_queue("urgent"));
    assert!(bad.contains("\"urgent\" is not pool/queue"), "{bad}");
    let bad = unknown(Action::run_deployment("load/weekly").into());
    assert!(
        bad.contains("there is no deployment \"load/weekly\""),
        "{bad}"
    );
}
