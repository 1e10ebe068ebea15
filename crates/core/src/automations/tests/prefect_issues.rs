//! One test for each way Prefect's users report its automations misfiring, named by the issue.

use super::*;

/// #17685: a proactive part in a compound ("A and B completed in the last 6 hours AND C has
/// not completed in the last 10 minutes") is a condition that holds while C stays away.
#[test]
fn prefect_17685_a_proactive_part_in_a_compound_holds_while_its_events_stay_away() {
    let completed = |job: &str| on(&["job.completed"]).matching("job", &[job]);
    let job = |name: &str, at: f64| {
        event_with(
            "job.completed",
            crate::event::labels([
                ("prefect.resource.id", format!("job.{name}")),
                ("job", name.to_owned()),
            ]),
            vec![],
            at,
        )
    };
    let trigger = compound(
        Require::All,
        Some(6.0 * 3600.0),
        vec![
            completed("A").build(),
            completed("B").build(),
            completed("C").proactive(600.0).build(),
        ],
    );
    let mut sim = Sim::new(trigger);
    sim.send(&job("C", 100.0))
        .send(&job("A", 200.0))
        .send(&job("B", 300.0));
    assert!(
        sim.fired().is_empty(),
        "C completed 200 s before: suppressed"
    );
    sim.tick(700.0);
    assert_eq!(
        sim.fired(),
        [700.0],
        "10 minutes without C, with A and B done: run C"
    );
    sim.send(&job("C", 750.0));
    sim.send(&job("A", 800.0)).send(&job("B", 900.0));
    assert_eq!(sim.fired(), [700.0], "C ran at 750: suppressed again");
    sim.tick(1350.0);
    assert_eq!(
        sim.fired(),
        [700.0, 1350.0],
        "exactly 10 minutes after C, not later"
    );
    sim.tick(3000.0);
    sim.send(&job("A", 3001.0)).send(&job("B", 3002.0));
    assert_eq!(
        sim.fired(),
        [700.0, 1350.0, 3002.0],
        "C is still absent: fires with A and B"
    );
}

/// #15343: a once-a-day trigger (threshold 1, within a day) whose event occurred just after
/// the day's window, by a clock a little ahead of the server's, must still fire.
#[test]
fn prefect_15343_an_event_slightly_ahead_of_the_window_fires() {
    let day = 86_400.0;
    let mut sim = Sim::new(on(&["some-event"]).within(day).build());
    sim.send(&ev("some-event", "r", 5.0));
    assert_eq!(sim.fired(), [5.0]);
    sim.deliver(&ev("some-event", "r", day + 5.5), day + 5.2);
    assert_eq!(
        sim.fired(),
        [5.0, day + 5.5],
        "occurred after the window: the next day fires at once"
    );
    sim.deliver(&ev("some-event", "r", 2.0 * day + 4.0), 2.0 * day + 4.0);
    assert_eq!(sim.fired().len(), 2, "still inside the second day's window");

    let mut far = Sim::new(on(&["some-event"]).within(day).build());
    far.deliver(&ev("some-event", "r", 10.0 * day), 100.0);
    assert_eq!(
        far.fired(),
        [160.0],
        "a clock days ahead is believed only a minute ahead"
    );
}

/// #16545: "any flow run stays in Suspended, Paused, Pending, Running or Retrying for 10 hours"
/// must fire for a run Running for two days: every state change restarts the clock.
#[test]
fn prefect_16545_stays_in_a_state_for_n_hours_fires_from_the_latest_state() {
    let states = [
        "prefect.flow-run.Suspended",
        "prefect.flow-run.Paused",
        "prefect.flow-run.Pending",
        "prefect.flow-run.Running",
        "prefect.flow-run.Retrying",
    ];
    let hours = 10.0 * 3600.0;
    let trigger = on(&["prefect.flow-run.*"])
        .after(&states)
        .matching("prefect.resource.id", &["prefect.flow-run.*"])
        .for_each(&["prefect.resource.id"])
        .proactive(hours);
    let mut sim = Sim::new(trigger.build());
    let running = run_event("Running", "stuck", "etl", 60.0);
    sim.send(&run_event("Pending", "stuck", "etl", 0.0))
        .send(&running);
    sim.send(&run_event("Pending", "fine", "etl", 0.0));
    sim.send(&run_event("Running", "fine", "etl", 10.0));
    sim.send(&run_event("Completed", "fine", "etl", 3600.0));
    sim.tick(hours + 59.0);
    assert!(sim.fired().is_empty());
    sim.tick(2.0 * 86_400.0);
    assert_eq!(
        sim.fired(),
        [hours + 60.0],
        "10 hours after it entered Running"
    );
    assert_eq!(sim.firings[0].triggering_event, Some(running.id));
    assert_eq!(
        sim.firings[0].triggering_labels,
        [(
            "prefect.resource.id".to_owned(),
            "prefect.flow-run.stuck".to_owned()
        )]
    );
}

/// #14692: "stuck in Pending or Late for an hour" (after Pending/Late, expect any flow-run
/// event, for each run) fired for runs that had moved on. A run that moved on never fires,
/// even when its events arrive out of order; a run that did not fires once, on time.
#[test]
fn prefect_14692_a_run_that_moved_on_never_fires() {
    let trigger = on(&["prefect.flow-run.*"])
        .after(&["prefect.flow-run.Pending", "prefect.flow-run.Late"])
        .matching("prefect.resource.id", &["prefect.flow-run.*"])
        .for_each(&["prefect.resource.id"])
        .proactive(3600.0);
    let mut sim = Sim::new(trigger.build());
    sim.send(&run_event("Late", "ordered", "f", 0.0));
    sim.send(&run_event("Pending", "ordered", "f", 10.0));
    sim.send(&run_event("Running", "ordered", "f", 20.0));

    sim.send(&run_event("Late", "reordered", "f", 0.0));
    sim.deliver(&run_event("Running", "reordered", "f", 20.0), 20.0);
    sim.deliver(&run_event("Pending", "reordered", "f", 10.0), 21.0);

    sim.send(&run_event("Pending", "stuck", "f", 30.0));
    sim.tick(10_000.0);
    assert_eq!(
        sim.fired(),
        [3630.0],
        "only the stuck run, an hour after its Pending"
    );
    assert_eq!(
        sim.firings[0].triggering_labels[0].1,
        "prefect.flow-run.stuck"
    );
}
