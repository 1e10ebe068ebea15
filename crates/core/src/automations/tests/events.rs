//! Event triggers: reactive counting, quiet windows, `after`, `for_each`, resource matching,
//! proactive watches and monitoring.

use super::*;

#[test]
fn a_reactive_trigger_without_a_window_fires_on_every_matching_event() {
    let mut sim = Sim::new(on(&["done"]).build());
    sim.send(&ev("done", "r", 1.0))
        .send(&ev("other", "r", 2.0))
        .send(&ev("done", "r", 3.0));
    assert_eq!(sim.fired(), [1.0, 3.0]);
    assert!(sim.resolved().is_empty(), "reactive triggers never resolve");
}

#[test]
fn a_threshold_counts_events_within_a_sliding_window() {
    let mut sim = Sim::new(on(&["x"]).threshold(3).within(60.0).build());
    for t in [0.0, 50.0, 90.0, 100.0] {
        sim.send(&ev("x", "r", t));
    }
    assert_eq!(
        sim.fired(),
        [100.0],
        "50, 90 and 100 lie within 60 s of each other"
    );

    let mut sim = Sim::new(on(&["x"]).threshold(2).within(60.0).build());
    for t in [0.0, 60.0, 200.0, 259.999] {
        sim.send(&ev("x", "r", t));
    }
    assert_eq!(
        sim.fired(),
        [259.999],
        "60 s apart is outside a 60 s window"
    );
}

#[test]
fn after_firing_a_reactive_window_stays_quiet_until_it_ends() {
    let mut sim = Sim::new(on(&["x"]).within(10.0).build());
    for t in [0.0, 5.0, 9.999, 10.0, 12.0, 20.0] {
        sim.send(&ev("x", "r", t));
    }
    assert_eq!(sim.fired(), [0.0, 10.0, 20.0]);
    let report = sim.report(21.0);
    let NodeReport::Event(e) = report.trigger else {
        panic!("an event report")
    };
    assert_eq!(e.buckets[0].status, BucketStatus::Quiet);
    assert_eq!(e.counted, 3, "events in a quiet window are not counted");
}

#[test]
fn resources_must_match_and_near_misses_are_reported() {
    let trigger = on(&["prefect.flow-run.Completed"])
        .matching("prefect.resource.id", &["prefect.flow-run.*"])
        .of_flow("train-model");
    let mut sim = Sim::new(trigger.build());
    sim.send(&run_event("Completed", "a", "validation-flow", 1.0));
    assert!(sim.fired().is_empty());
    let NodeReport::Event(e) = sim.report(2.0).trigger else {
        panic!()
    };
    assert_eq!((e.seen, e.matched), (1, 0));
    assert_eq!(
        e.last_rejected.as_ref().map(|m| m.rule.as_str()),
        Some("match_related")
    );
    assert!(
        e.summary.contains("none matched the resources"),
        "{}",
        e.summary
    );

    sim.send(&run_event("Completed", "b", "train-model", 3.0));
    assert_eq!(sim.fired(), [3.0]);
    let f = &sim.firings[0];
    assert_eq!(f.sequence, 0);
    assert!(f.triggering_event.is_some());
}

#[test]
fn a_reactive_after_arms_the_bucket_and_firing_disarms_it() {
    let mut sim = Sim::new(on(&["done"]).after(&["started"]).build());
    sim.send(&ev("done", "r", 1.0));
    assert!(sim.fired().is_empty(), "nothing armed yet");
    sim.send(&ev("started", "r", 2.0))
        .send(&ev("done", "r", 3.0))
        .send(&ev("done", "r", 4.0));
    assert_eq!(
        sim.fired(),
        [3.0],
        "the second `done` needs another `started`"
    );
}

#[test]
fn for_each_keeps_a_bucket_per_label_value() {
    let trigger = on(&["x"])
        .threshold(2)
        .within(100.0)
        .for_each(&["prefect.resource.id"]);
    let mut sim = Sim::new(trigger.build());
    sim.send(&ev("x", "a", 1.0))
        .send(&ev("x", "b", 2.0))
        .send(&ev("x", "b", 3.0));
    assert_eq!(sim.fired(), [3.0]);
    assert_eq!(
        sim.firings[0].triggering_labels,
        [("prefect.resource.id".to_owned(), "b".to_owned())]
    );
    sim.send(&ev("x", "a", 4.0));
    assert_eq!(sim.fired(), [3.0, 4.0]);
}

#[test]
fn a_proactive_watch_fires_at_its_deadline_unless_the_expected_event_arrives() {
    let trigger = on(&["prefect.flow-run.Completed"])
        .after(&["prefect.flow-run.Running"])
        .for_each(&["prefect.resource.id"])
        .proactive(60.0);
    let mut sim = Sim::new(trigger.build());
    let quick = run_event("Running", "quick", "f", 0.0);
    let slow = run_event("Running", "slow", "f", 1.0);
    sim.send(&quick)
        .send(&slow)
        .send(&run_event("Completed", "quick", "f", 30.0));
    sim.tick(60.5);
    assert!(sim.fired().is_empty(), "slow's deadline is 61");
    sim.tick(61.0);
    assert_eq!(sim.fired(), [61.0]);
    assert_eq!(
        sim.firings[0].triggering_event,
        Some(slow.id),
        "the event that started the window"
    );
    assert_eq!(sim.engine.next_wakeup(), None);
    sim.send(&run_event("Completed", "slow", "f", 90.0));
    assert_eq!(sim.resolved(), [90.0], "the late Completed resolves it");
}

#[test]
fn a_proactive_deadline_waits_out_the_grace_for_events_in_flight() {
    let trigger = on(&["done"]).after(&["start"]).proactive(10.0);
    let mut sim = Sim::with(trigger.build(), EngineSettings::default());
    sim.send(&ev("start", "r", 0.0));
    assert_eq!(sim.engine.next_wakeup(), Some(s(11.0)));
    sim.deliver(&ev("done", "r", 9.5), 10.5);
    sim.tick(20.0);
    assert!(
        sim.fired().is_empty(),
        "done occurred inside the window and arrived within the grace"
    );
}

#[test]
fn monitoring_fires_when_events_stop_and_resolves_when_they_return() {
    let mut sim = Sim::new(on(&["heartbeat"]).proactive(30.0).build());
    assert_eq!(
        sim.engine.next_wakeup(),
        Some(s(30.0)),
        "monitoring starts at load"
    );
    for t in [10.0, 35.0, 60.0] {
        sim.send(&ev("heartbeat", "w", t));
    }
    sim.tick(89.999);
    assert!(sim.fired().is_empty());
    sim.tick(90.0);
    assert_eq!(sim.fired(), [90.0]);
    sim.tick(500.0);
    assert_eq!(sim.fired(), [90.0], "fires once, not every window");
    sim.send(&ev("heartbeat", "w", 501.0));
    assert_eq!(sim.resolved(), [501.0]);
    sim.tick(531.0);
    assert_eq!(sim.fired(), [90.0, 531.0]);
}

#[test]
fn monitoring_with_a_threshold_needs_that_many_in_every_window() {
    let mut sim = Sim::new(on(&["tick"]).threshold(2).proactive(10.0).build());
    for t in [1.0, 2.0, 9.0, 11.0] {
        sim.send(&ev("tick", "w", t));
    }
    sim.tick(18.999);
    assert!(
        sim.fired().is_empty(),
        "9 and 11 are within the trailing 10 s until 19"
    );
    sim.tick(19.0);
    assert_eq!(sim.fired(), [19.0]);
    sim.send(&ev("tick", "w", 30.0));
    assert!(sim.resolved().is_empty(), "one tick is not two");
    sim.send(&ev("tick", "w", 31.0));
    assert_eq!(sim.resolved(), [31.0]);
}

#[test]
fn an_event_that_is_both_after_and_expected_settles_then_restarts_the_watch() {
    let trigger = on(&["heartbeat", "done"])
        .after(&["heartbeat"])
        .for_each(&["prefect.resource.id"])
        .proactive(30.0);
    let mut sim = Sim::new(trigger.build());
    for t in [0.0, 20.0, 40.0] {
        sim.send(&ev("heartbeat", "run", t));
    }
    sim.send(&ev("done", "run", 50.0));
    sim.tick(1000.0);
    assert!(
        sim.fired().is_empty(),
        "each heartbeat answered the last; done ended it"
    );

    sim.send(&ev("heartbeat", "zombie", 1000.0));
    sim.tick(1030.0);
    assert_eq!(sim.fired(), [1030.0]);
}

#[test]
fn an_after_event_replacing_a_fired_watch_resolves_it() {
    let trigger = on(&["ok"])
        .after(&["Pending", "Running"])
        .for_each(&["prefect.resource.id"])
        .proactive(10.0);
    let mut sim = Sim::new(trigger.build());
    sim.send(&ev("Pending", "r", 0.0)).tick(10.0);
    assert_eq!(sim.fired(), [10.0]);
    sim.send(&ev("Running", "r", 15.0));
    assert_eq!(sim.resolved(), [15.0]);
    sim.tick(25.0);
    assert_eq!(sim.fired(), [10.0, 25.0], "a new watch from Running");
}

#[test]
fn idle_buckets_are_pruned() {
    let trigger = on(&["x"]).within(10.0).for_each(&["prefect.resource.id"]);
    let mut sim = Sim::new(trigger.build());
    for i in 0..50 {
        sim.send(&ev("x", &format!("r{i}"), 1.0));
    }
    let NodeReport::Event(e) = sim.report(2.0).trigger else {
        panic!()
    };
    assert_eq!(e.bucket_count, 50);
    assert_eq!(e.buckets.len(), super::super::explain::LISTED_BUCKETS);
    sim.tick(100.0);
    let NodeReport::Event(e) = sim.report(100.0).trigger else {
        panic!()
    };
    assert_eq!(
        e.bucket_count, 0,
        "quiet windows ended, nothing left to remember"
    );
}

use super::super::explain::{BucketStatus, NodeReport};
