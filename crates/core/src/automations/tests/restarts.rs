//! The engine's state survives a restart: stored as JSON, loaded into a new engine.

use super::*;

#[test]
fn a_compound_half_done_before_a_restart_fires_after_it() {
    let mut sim = Sim::new(compound(
        Require::All,
        Some(300.0),
        vec![done("train"), done("validate")],
    ));
    sim.send(&run_event("Completed", "a", "train", 1.0));
    assert_eq!(sim.restart(2.0), Restored::Resumed);
    sim.send(&run_event("Completed", "b", "validate", 3.0));
    assert_eq!(sim.fired(), [3.0]);
}

#[test]
fn a_sequence_keeps_its_order_across_a_restart() {
    let mut sim = Sim::new(sequence(Some(600.0), vec![done("train"), done("validate")]));
    sim.send(&run_event("Completed", "b", "validate", 1.0));
    sim.restart(2.0);
    sim.send(&run_event("Completed", "a", "train", 3.0));
    assert!(
        sim.fired().is_empty(),
        "validate came first, before the restart"
    );
    sim.restart(4.0);
    sim.send(&run_event("Completed", "c", "validate", 5.0));
    assert_eq!(sim.fired(), [5.0]);
}

#[test]
fn a_proactive_deadline_that_passed_while_stopped_fires_on_start() {
    let trigger = on(&["done"])
        .after(&["start"])
        .for_each(&["prefect.resource.id"])
        .proactive(60.0);
    let mut sim = Sim::new(trigger.build());
    sim.send(&ev("start", "r", 0.0));
    sim.restart(120.0);
    assert_eq!(sim.engine.next_wakeup(), Some(s(60.0)));
    sim.tick(120.0);
    assert_eq!(
        sim.fired(),
        [60.0],
        "fired for the deadline it had, on waking"
    );
}

#[test]
fn the_firing_sequence_continues_after_a_restart() {
    let mut sim = Sim::new(on(&["x"]).build());
    sim.send(&ev("x", "r", 1.0));
    sim.restart(2.0);
    sim.send(&ev("x", "r", 3.0));
    let seqs: Vec<u64> = sim.firings.iter().map(|f| f.sequence).collect();
    assert_eq!(seqs, [0, 1]);
}

#[test]
fn a_state_for_another_trigger_is_discarded_with_a_reason() {
    let mut sim = Sim::new(on(&["x"]).build());
    sim.send(&ev("x", "r", 1.0));
    let stored = sim.engine.state(sim.id).cloned();
    let mut engine = Engine::new(EngineSettings::default());
    let other = on(&["x"]).build();
    match engine.load(sim.id, &other, stored, s(2.0)) {
        Restored::Discarded(why) => assert!(why.contains("another version"), "{why}"),
        r => panic!("expected a discarded state, got {r:?}"),
    }
    let mut old = engine.state(sim.id).cloned().expect("loaded");
    old.version = 99;
    match engine.load(sim.id, &other, Some(old), s(3.0)) {
        Restored::Discarded(why) => assert!(why.contains("layout 99"), "{why}"),
        r => panic!("expected a discarded state, got {r:?}"),
    }
}

#[test]
fn only_changed_automations_are_dirty() {
    let mut engine = Engine::new(EngineSettings::default());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    engine.load(a, &on(&["x"]).build(), None, s(0.0));
    engine.load(b, &on(&["y"]).build(), None, s(0.0));
    let mut first = engine.take_dirty();
    first.sort();
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(first, both, "fresh states are new");
    engine.on_event(&ev("y", "r", 1.0), s(1.0));
    assert_eq!(engine.take_dirty(), [b]);
    assert!(engine.take_dirty().is_empty());
    assert!(engine.unload(a));
    assert!(!engine.unload(a));
    assert_eq!(engine.automation_ids().collect::<Vec<_>>(), [b]);
}
