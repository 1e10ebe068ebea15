//! Compound and sequence triggers.

use super::*;

#[test]
fn a_compound_of_all_fires_in_any_order_within_its_window() {
    for order in [["train", "validate"], ["validate", "train"]] {
        let mut sim = Sim::new(compound(
            Require::All,
            Some(300.0),
            vec![done("train"), done("validate")],
        ));
        sim.send(&run_event("Completed", "a", order[0], 1.0));
        assert!(sim.fired().is_empty());
        let NodeReport::Composite(c) = sim.report(1.5).trigger else {
            panic!()
        };
        assert!(
            c.summary.contains("1 of 2 needed are satisfied"),
            "{}",
            c.summary
        );
        let satisfied: Vec<bool> = c.parts.iter().map(|p| p.satisfied).collect();
        assert_eq!(satisfied, [order[0] == "train", order[0] == "validate"]);
        sim.send(&run_event("Completed", "b", order[1], 2.0));
        assert_eq!(sim.fired(), [2.0], "order {order:?}");
    }
}

#[test]
fn a_compound_resets_after_firing_and_ignores_parts_outside_its_window() {
    let mut sim = Sim::new(compound(
        Require::All,
        Some(300.0),
        vec![done("train"), done("validate")],
    ));
    sim.send(&run_event("Completed", "a", "train", 0.0));
    sim.send(&run_event("Completed", "b", "validate", 300.0));
    assert!(
        sim.fired().is_empty(),
        "300 s apart is outside a 300 s window"
    );
    sim.send(&run_event("Completed", "c", "train", 301.0));
    assert_eq!(sim.fired(), [301.0]);
    sim.send(&run_event("Completed", "d", "validate", 302.0));
    assert_eq!(sim.fired(), [301.0], "the firing consumed both parts");
}

#[test]
fn require_any_and_require_n() {
    let parts = || vec![done("a"), done("b"), done("c")];
    let mut any = Sim::new(compound(Require::Any, None, parts()));
    any.send(&run_event("Completed", "1", "b", 1.0));
    assert_eq!(any.fired(), [1.0]);

    let mut two = Sim::new(compound(Require::AtLeast(2), None, parts()));
    two.send(&run_event("Completed", "1", "c", 1.0));
    two.send(&run_event("Completed", "2", "c", 2.0));
    assert!(two.fired().is_empty(), "the same part twice is one part");
    two.send(&run_event("Completed", "3", "a", 3.0));
    assert_eq!(two.fired(), [3.0]);
    let report = two.report(4.0);
    let NodeReport::Composite(c) = report.trigger else {
        panic!()
    };
    assert_eq!(c.needed, 2);
    assert!(
        c.parts.iter().all(|p| !p.satisfied),
        "consumed by the firing"
    );
}

#[test]
fn a_sequence_fires_only_in_order() {
    let seq = || sequence(Some(600.0), vec![done("train"), done("validate")]);
    let mut in_order = Sim::new(seq());
    in_order.send(&run_event("Completed", "a", "train", 1.0));
    in_order.send(&run_event("Completed", "b", "validate", 2.0));
    assert_eq!(in_order.fired(), [2.0]);

    let mut reversed = Sim::new(seq());
    reversed.send(&run_event("Completed", "b", "validate", 1.0));
    reversed.send(&run_event("Completed", "a", "train", 2.0));
    assert!(reversed.fired().is_empty(), "validate came first");
    reversed.send(&run_event("Completed", "c", "validate", 3.0));
    assert_eq!(reversed.fired(), [3.0], "train then validate, at last");
}

#[test]
fn a_sequence_window_bounds_first_to_last() {
    let mut sim = Sim::new(sequence(Some(60.0), vec![done("a"), done("b"), done("c")]));
    sim.send(&run_event("Completed", "1", "a", 0.0));
    sim.send(&run_event("Completed", "2", "b", 30.0));
    sim.send(&run_event("Completed", "3", "c", 60.0));
    assert!(sim.fired().is_empty());
    sim.send(&run_event("Completed", "4", "a", 61.0));
    sim.send(&run_event("Completed", "5", "b", 62.0));
    sim.send(&run_event("Completed", "6", "c", 63.0));
    assert_eq!(sim.fired(), [63.0]);
}

#[test]
fn a_composite_part_fires_when_it_completes() {
    let inner = || compound(Require::All, Some(100.0), vec![done("x"), done("y")]);
    let mut sim = Sim::new(sequence(None, vec![done("start"), inner()]));
    sim.send(&run_event("Completed", "1", "y", 1.0));
    sim.send(&run_event("Completed", "2", "start", 2.0));
    sim.send(&run_event("Completed", "3", "x", 3.0));
    assert_eq!(
        sim.fired(),
        [3.0],
        "the compound completed at 3, after start"
    );

    let mut early = Sim::new(sequence(None, vec![done("start"), inner()]));
    early.send(&run_event("Completed", "1", "x", 1.0));
    early.send(&run_event("Completed", "2", "y", 2.0));
    early.send(&run_event("Completed", "3", "start", 3.0));
    assert!(
        early.fired().is_empty(),
        "the compound completed before start"
    );
}

use super::super::explain::NodeReport;
