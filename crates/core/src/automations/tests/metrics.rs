//! Metric triggers.

use super::*;

fn metric(
    metric: Metric,
    operator: Operator,
    threshold: f64,
    range: f64,
    firing_for: f64,
) -> Trigger {
    Trigger::Metric(MetricTrigger {
        id: Uuid::new_v4(),
        match_resource: ResourceSpec::new([("prefect.resource.id", ["prefect.flow-run.*"])]),
        match_related: vec![ResourceSpec::new([
            ("prefect.resource.role", vec!["flow"]),
            (
                "prefect.resource.name",
                vec!["train-model", "validation-flow"],
            ),
        ])],
        query: MetricQuery {
            metric,
            threshold,
            operator,
            range: Duration::from_secs_f64(range),
            firing_for: Duration::from_secs_f64(firing_for),
        },
    })
}

/// A run of `flow` going Pending at `t` and ending in `end` at `t + 1`.
fn run(sim: &mut Sim, name: &str, flow: &str, t: f64, end: &str) {
    sim.send(&run_event("Pending", name, flow, t));
    sim.send(&run_event("Running", name, flow, t + 0.5));
    sim.send(&run_event(end, name, flow, t + 1.0));
}

fn value(sim: &Sim, now: f64) -> Option<f64> {
    match sim.report(now).trigger {
        NodeReport::Metric(m) => m.value,
        _ => None,
    }
}

#[test]
fn a_low_success_rate_fires_after_firing_for_and_resolves_when_it_recovers() {
    let mut sim = Sim::new(metric(Metric::Successes, Operator::Lt, 0.7, 600.0, 60.0));
    run(&mut sim, "a", "train-model", 0.0, "Completed");
    run(&mut sim, "b", "train-model", 10.0, "Failed");
    run(&mut sim, "c", "other-flow", 20.0, "Failed");
    assert_eq!(value(&sim, 21.0), Some(0.5), "other-flow is not watched");
    let NodeReport::Metric(m) = sim.report(21.0).trigger else {
        panic!()
    };
    assert_eq!(m.samples, 2);
    assert!(m.summary.contains("successes < 70.0%"), "{}", m.summary);
    assert!(
        m.summary.contains("now 50.0%, breached since"),
        "{}",
        m.summary
    );
    assert_eq!(
        sim.engine.next_wakeup(),
        Some(s(71.0)),
        "breached since 11: fires at 71"
    );
    sim.tick(70.9);
    assert!(sim.fired().is_empty());
    sim.tick(71.0);
    assert_eq!(sim.fired(), [71.0]);
    run(&mut sim, "d", "validation-flow", 100.0, "Completed");
    run(&mut sim, "e", "validation-flow", 110.0, "Completed");
    assert_eq!(value(&sim, 112.0), Some(0.75));
    assert_eq!(sim.resolved(), [110.0], "back above 70% as e went Pending");
}

#[test]
fn a_breach_shorter_than_firing_for_does_not_fire() {
    let mut sim = Sim::new(metric(Metric::Successes, Operator::Lt, 0.7, 600.0, 60.0));
    run(&mut sim, "a", "train-model", 0.0, "Failed");
    run(&mut sim, "b", "train-model", 30.0, "Completed");
    run(&mut sim, "c", "train-model", 40.0, "Completed");
    run(&mut sim, "d", "train-model", 45.0, "Completed");
    sim.tick(1000.0);
    assert!(
        sim.fired().is_empty(),
        "breached from 1 to 45 only (3 of 4 succeeded then)"
    );
}

#[test]
fn a_retried_run_that_completes_counts_as_a_success() {
    let mut sim = Sim::new(metric(Metric::Successes, Operator::Lt, 0.7, 600.0, 0.0));
    sim.send(&run_event("Pending", "a", "train-model", 0.0));
    sim.send(&run_event("Failed", "a", "train-model", 1.0));
    assert_eq!(sim.fired(), [1.0]);
    sim.send(&run_event("AwaitingRetry", "a", "train-model", 2.0));
    sim.send(&run_event("Completed", "a", "train-model", 3.0));
    assert_eq!(value(&sim, 3.0), Some(1.0));
    assert_eq!(sim.resolved(), [2.0]);
}

#[test]
fn samples_leave_the_range_on_time_and_no_data_changes_nothing() {
    let mut sim = Sim::new(metric(Metric::Successes, Operator::Lt, 0.7, 10.0, 0.0));
    run(&mut sim, "a", "train-model", 0.0, "Failed");
    assert_eq!(sim.fired(), [1.0]);
    assert_eq!(
        sim.engine.next_wakeup(),
        Some(s(10.0)),
        "a's sample leaves at 0 + 10"
    );
    sim.tick(10.0);
    assert_eq!(value(&sim, 10.0), None);
    assert!(sim.resolved().is_empty(), "no runs is not a recovery");
    assert_eq!(sim.engine.next_wakeup(), None);
}

#[test]
fn duration_is_the_mean_time_from_running_to_a_terminal_state() {
    let mut sim = Sim::new(metric(Metric::Duration, Operator::Gt, 30.0, 600.0, 0.0));
    sim.send(&run_event("Running", "a", "train-model", 0.0));
    sim.send(&run_event("Running", "b", "train-model", 5.0));
    sim.send(&run_event("Completed", "a", "train-model", 20.0));
    assert_eq!(value(&sim, 20.0), Some(20.0));
    sim.send(&run_event("Crashed", "b", "train-model", 65.0));
    assert_eq!(value(&sim, 65.0), Some(40.0));
    assert_eq!(sim.fired(), [65.0]);
}

#[test]
fn lateness_is_the_mean_wait_of_late_runs() {
    let mut sim = Sim::new(metric(Metric::Lateness, Operator::Gte, 60.0, 3600.0, 0.0));
    sim.send(&run_event("Late", "a", "train-model", 0.0));
    sim.send(&run_event("Pending", "a", "train-model", 50.0));
    sim.send(&run_event("Running", "a", "train-model", 90.0));
    sim.send(&run_event("Running", "b", "train-model", 95.0));
    assert_eq!(value(&sim, 95.0), Some(90.0), "b was never Late");
    assert_eq!(sim.fired(), [90.0]);
}

use super::super::explain::NodeReport;
