//! Automations fed their own events, and each other's: the self rule and the depth limit.

use super::super::cascade::{self, DEPTH_LABEL, MAX_DEPTH};
use super::*;

/// An event about automation `id` at cascade `depth`, as the server records a firing.
fn automation_event(id: Uuid, depth: u32, at: f64) -> Event {
    event_with(
        "prefect.automation.action.executed",
        labels([
            ("prefect.resource.id", format!("prefect.automation.{id}")),
            (DEPTH_LABEL, depth.to_string()),
        ]),
        vec![],
        at,
    )
}

#[test]
fn an_automation_matching_every_event_is_not_fed_its_own() {
    let mut sim = Sim::new(on(&[]).build());
    let me = sim.id;
    sim.send(&automation_event(me, 1, 1.0));
    assert!(sim.fired().is_empty(), "its own firing's events");

    sim.send(&automation_event(Uuid::new_v4(), 1, 2.0));
    sim.send(&ev("anything", "prefect.flow-run.x", 3.0));
    assert_eq!(
        sim.fired(),
        [2.0, 3.0],
        "another automation's events and others"
    );
}

#[test]
fn events_deep_in_a_cascade_reach_no_automation() {
    let mut sim = Sim::new(on(&["prefect.automation.*"]).build());
    let other = Uuid::new_v4();
    sim.send(&automation_event(other, MAX_DEPTH - 1, 1.0));
    sim.send(&automation_event(other, MAX_DEPTH, 2.0));
    sim.send(&automation_event(other, MAX_DEPTH + 40, 3.0));
    assert_eq!(sim.fired(), [1.0]);
}

#[test]
fn depth_counts_up_from_the_triggering_event() {
    let plain = ev("x", "prefect.flow-run.a", 0.0);
    assert_eq!(cascade::depth(&plain), 0);
    assert_eq!(cascade::depth_after(Some(&plain)), 1);
    assert_eq!(
        cascade::depth_after(None),
        1,
        "a firing decided by the clock"
    );
    let a = Uuid::new_v4();
    assert_eq!(cascade::depth_after(Some(&automation_event(a, 2, 0.0))), 3);
    assert_eq!(
        cascade::automation_of(&automation_event(a, 2, 0.0)),
        Some(a)
    );
    assert_eq!(cascade::automation_of(&plain), None);

    let mut garbled = plain.clone();
    garbled
        .resource
        .insert(DEPTH_LABEL.into(), Value::String("deep".into()));
    assert_eq!(cascade::depth(&garbled), 0);
}

/// Two automations that match everything, driven as the server drives them: every firing is
/// recorded as three events (triggered, action triggered, action executed) about the firing
/// automation, one level deeper than the event that fired it, and each is fed back.
#[test]
fn two_automations_watching_each_other_stop_after_the_depth_limit() {
    let mut engine = Engine::new(EngineSettings::default());
    let ids = [Uuid::new_v4(), Uuid::new_v4()];
    for id in ids {
        engine.load(id, &on(&[]).build(), None, s(0.0));
    }
    let mut queue = std::collections::VecDeque::from([ev("start", "prefect.flow-run.a", 1.0)]);
    let (mut fed, mut firings) = (0, 0);
    while let Some(event) = queue.pop_front() {
        fed += 1;
        assert!(fed < 10_000, "the cascade does not end");
        for f in engine.on_event(&event, s(1.0)) {
            firings += 1;
            let depth = cascade::depth_after(Some(&event));
            for _ in 0..3 {
                queue.push_back(automation_event(f.automation_id, depth, 1.0));
            }
        }
    }
    // Depth 0 fires both (6 events at depth 1); each fires the other automation only (6 firings,
    // 18 events at depth 2); each of those fires once more (18 firings, 54 events at depth 3,
    // which reach no automation).
    assert_eq!(firings, 2 + 6 + 18);
    assert_eq!(fed, 1 + 6 + 18 + 54);
}
