//! Laws of the engine, checked with random inputs: window edges, the once-per-window rule,
//! proactive watches against a reference, composites under every order, determinism and
//! restarts that change nothing.

use proptest::prelude::*;

use super::*;

const US: f64 = 1e-6;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two events fire a "2 within W" trigger only when the second is less than W after the
    /// first: a window opened at `a` ends just before `a + W`.
    #[test]
    fn reactive_windows_are_half_open(a in 0.0f64..1e6, w in 1u32..100_000) {
        let w = f64::from(w);
        let trigger = || on(&["x"]).threshold(2).within(w).build();
        let mut inside = Sim::new(trigger());
        inside.send(&ev("x", "r", a)).send(&ev("x", "r", a + w - US));
        prop_assert_eq!(inside.fired().len(), 1);
        let mut edge = Sim::new(trigger());
        edge.send(&ev("x", "r", a)).send(&ev("x", "r", a + w));
        prop_assert!(edge.fired().is_empty());
    }

    /// A proactive watch opened at `a` is answered by an event just before `a + W`, not by one
    /// at `a + W`, which comes too late and resolves the firing instead.
    #[test]
    fn proactive_windows_are_half_open(a in 0i64..1_000_000_000_000, w in 10u32..100_000) {
        let at = |m: i64| { let mut e = ev("x", "r", 0.0); e.occurred = Micros(m); e.received = Micros(m); e };
        let named = |name: &str, m: i64| Event { event: name.to_owned(), ..at(m) };
        let end = a + i64::from(w) * 1_000_000;
        let trigger = || on(&["done"]).after(&["start"]).proactive(f64::from(w)).build();
        let mut answered = Sim::new(trigger());
        answered.engine.on_event(&named("start", a), Micros(a));
        let f = answered.engine.on_event(&named("done", end - 1), Micros(end - 1));
        prop_assert!(f.is_empty());
        prop_assert!(answered.engine.advance(Micros(end * 2)).is_empty());
        let mut late = Sim::new(trigger());
        late.engine.on_event(&named("start", a), Micros(a));
        let f = late.engine.on_event(&named("done", end), Micros(end));
        let got: Vec<_> = f.iter().map(|f| (f.state, f.occurred)).collect();
        prop_assert_eq!(got, vec![(FiringState::Triggered, Micros(end)), (FiringState::Resolved, Micros(end))]);
    }

    /// "Threshold 1 within W" fires on an event exactly when it is at least W after the last
    /// firing: the greedy once-per-window schedule.
    #[test]
    fn reactive_fires_once_per_window(gaps in prop::collection::vec(0u32..200, 1..60), w in 1u32..300) {
        let mut sim = Sim::new(on(&["x"]).within(f64::from(w)).build());
        let mut t = 0.0;
        let mut expected = Vec::new();
        let mut last: Option<f64> = None;
        for g in gaps {
            t += f64::from(g);
            sim.send(&ev("x", "r", t));
            if last.is_none_or(|l| t >= l + f64::from(w)) {
                expected.push(t);
                last = Some(t);
            }
        }
        prop_assert_eq!(sim.fired(), expected);
    }

    /// A proactive `after`/`expect` watch (threshold 1) fires at `a + W` for an `after` event
    /// at `a` exactly when no expected event falls in `[a, a + W)` and no later `after` event
    /// replaces it first, whatever the spacing.
    #[test]
    fn proactive_watches_match_the_reference(
        steps in prop::collection::vec((0u32..40, any::<bool>()), 1..40),
        w in 10u32..60,
    ) {
        let w = f64::from(w);
        let mut sim = Sim::new(on(&["done"]).after(&["start"]).proactive(w).build());
        let mut t = 0.0;
        let mut events = Vec::new();
        for (gap, is_start) in steps {
            t += f64::from(gap);
            events.push((t, is_start));
            sim.send(&ev(if is_start { "start" } else { "done" }, "r", t));
        }
        sim.tick(t + 2.0 * w);
        let expected: Vec<f64> = events
            .iter()
            .enumerate()
            .filter(|(i, (a, start))| *start
                && !events.iter().any(|(e, s)| !s && e >= a && *e < a + w)
                && !events[i + 1..].iter().any(|(e, s)| *s && *e < a + w))
            .map(|(_, (a, _))| a + w)
            .collect();
        prop_assert_eq!(sim.fired(), expected);
    }

    /// A compound of all its parts fires once, on the last part, in whatever order the parts
    /// arrive; a sequence fires only for the given order.
    #[test]
    fn composites_under_every_order(order in Just((0..4).collect::<Vec<usize>>()).prop_shuffle()) {
        let parts = || (0..4).map(|i| on(&[&format!("p{i}")]).build()).collect::<Vec<_>>();
        let mut all = Sim::new(compound(Require::All, Some(100.0), parts()));
        let mut seq = Sim::new(sequence(Some(100.0), parts()));
        for (k, &i) in order.iter().enumerate() {
            let e = ev(&format!("p{i}"), "r", k as f64);
            all.send(&e);
            seq.send(&e);
        }
        prop_assert_eq!(all.fired(), vec![3.0]);
        let in_order = order.windows(2).all(|w| w[0] < w[1]);
        prop_assert_eq!(seq.fired().len(), usize::from(in_order));
    }

    /// Stopping at any point (state stored as JSON, loaded into a new engine) changes no
    /// firing, and the same inputs always give the same firings.
    #[test]
    fn restarts_and_reruns_change_nothing(
        steps in prop::collection::vec((0u32..30, 0usize..6), 1..50),
        cut in 0usize..50,
    ) {
        let names = ["start", "done", "a", "b", "prefect.flow-run.Pending", "prefect.flow-run.Failed"];
        let stream: Vec<(f64, usize)> = steps
            .iter()
            .scan(0.0, |t, (gap, n)| {
                *t += f64::from(*gap);
                Some((*t, *n))
            })
            .collect();
        let events: Vec<Event> = stream
            .iter()
            .enumerate()
            .map(|(k, &(t, n))| {
                if n >= 4 {
                    run_event(&names[n]["prefect.flow-run.".len()..], &format!("run{}", k % 4), "f", t)
                } else {
                    ev(names[n], &format!("r{}", k % 3), t)
                }
            })
            .collect();
        let trigger = compound(Require::AtLeast(2), Some(50.0), vec![
            on(&["done"]).after(&["start"]).for_each(&["prefect.resource.id"]).proactive(20.0).build(),
            sequence(Some(40.0), vec![on(&["a"]).build(), on(&["b"]).threshold(2).within(15.0).build()]),
            Trigger::Metric(MetricTrigger {
                id: Uuid::new_v4(),
                match_resource: Default::default(),
                match_related: vec![],
                query: MetricQuery {
                    metric: Metric::Successes,
                    threshold: 0.5,
                    operator: Operator::Lt,
                    range: Duration::from_secs(60),
                    firing_for: Duration::from_secs(5),
                },
            }),
        ]);
        let run = |cut: Option<usize>| {
            let mut sim = Sim::new(trigger.clone());
            for (k, e) in events.iter().enumerate() {
                if Some(k) == cut {
                    sim.restart(stream[k].0);
                }
                sim.send(e);
            }
            let end = stream.last().map_or(0.0, |s| s.0) + 100.0;
            sim.tick(end);
            let state = serde_json::to_value(sim.engine.state(sim.id)).expect("serialises");
            (sim.firings, state)
        };
        let (plain, plain_state) = run(None);
        let (again, again_state) = run(None);
        let (cut_run, cut_state) = run(Some(cut % stream.len()));
        let strip = |fs: &[Firing]| fs.iter().map(|f| (f.sequence, f.state, f.occurred, f.triggering_event)).collect::<Vec<_>>();
        prop_assert_eq!(strip(&plain), strip(&again));
        prop_assert_eq!(&plain_state, &again_state);
        prop_assert_eq!(strip(&plain), strip(&cut_run));
        prop_assert_eq!(plain_state, cut_state);
    }
}
