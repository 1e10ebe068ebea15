//! How many events per second the trigger engine evaluates with 100 enabled automations that
//! all look at the events (no IO: the engine alone, on one thread).
//!
//! `cargo run --release -p flowgate-core --example bench_engine -- [EVENTS]`
//!
//! The automations, as a busy workspace might have them: 30 reactive triggers on flow runs of
//! one flow completing, 15 compounds and 10 sequences of two such parts, 10 success-rate and
//! duration metrics, 10 proactive per-flow-run watches (Running, then a terminal state within
//! an hour), 20 triggers on every task-run event of one flow (each task-run event is checked by
//! all 20 and rejected by 19), and 5 on every event whatever its name (custom resources). The
//! events: task runs going Running then Completed (98%), flow runs going Pending, Running,
//! Completed or Failed (2%).

use std::time::{Duration, Instant};

use flowgate_core::automations::labels::{BucketLabel, NamePattern, ResourceSpec};
use flowgate_core::automations::{
    CompoundTrigger, Engine, EngineSettings, EventTrigger, Metric, MetricQuery, MetricTrigger,
    Operator, Posture, Require, SequenceTrigger, Trigger,
};
use flowgate_core::event::{Event, Payload, labels};
use flowgate_core::time::Micros;
use uuid::Uuid;

fn spec(expect: &[&str], after: &[&str], related: ResourceSpec) -> EventTrigger {
    EventTrigger {
        id: Uuid::new_v4(),
        match_resource: ResourceSpec::default(),
        match_related: vec![related],
        after: after.iter().map(|n| NamePattern::parse(n)).collect(),
        expect: expect.iter().map(|n| NamePattern::parse(n)).collect(),
        for_each: vec![],
        posture: Posture::Reactive,
        threshold: 1,
        within: Duration::ZERO,
    }
}

fn of_flow(flow: &str) -> ResourceSpec {
    ResourceSpec::new([
        ("prefect.resource.role", ["flow"]),
        ("prefect.resource.name", [flow]),
    ])
}

fn completed(flow: &str) -> Trigger {
    Trigger::Event(spec(&["prefect.flow-run.Completed"], &[], of_flow(flow)))
}

fn automations() -> Vec<Trigger> {
    let mut all = Vec::new();
    for i in 0..30 {
        all.push(completed(&format!("flow-{i}")));
    }
    for i in 0..15 {
        all.push(Trigger::Compound(CompoundTrigger {
            id: Uuid::new_v4(),
            triggers: vec![
                completed(&format!("flow-{i}")),
                completed(&format!("flow-{}", i + 1)),
            ],
            require: Require::All,
            within: Some(Duration::from_secs(300)),
        }));
    }
    for i in 0..10 {
        all.push(Trigger::Sequence(SequenceTrigger {
            id: Uuid::new_v4(),
            triggers: vec![
                completed(&format!("flow-{i}")),
                completed(&format!("flow-{}", i + 1)),
            ],
            within: Some(Duration::from_secs(600)),
        }));
    }
    for i in 0..10 {
        all.push(Trigger::Metric(MetricTrigger {
            id: Uuid::new_v4(),
            match_resource: ResourceSpec::default(),
            match_related: vec![of_flow(&format!("flow-{i}"))],
            query: MetricQuery {
                metric: if i % 2 == 0 {
                    Metric::Successes
                } else {
                    Metric::Duration
                },
                threshold: if i % 2 == 0 { 0.7 } else { 600.0 },
                operator: if i % 2 == 0 {
                    Operator::Lt
                } else {
                    Operator::Gt
                },
                range: Duration::from_secs(600),
                firing_for: Duration::from_secs(60),
            },
        }));
    }
    for i in 0..10 {
        let mut watch = spec(
            &[
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Crashed",
            ],
            &["prefect.flow-run.Running"],
            of_flow(&format!("flow-{i}")),
        );
        watch.posture = Posture::Proactive;
        watch.within = Duration::from_secs(3600);
        watch.for_each = vec![BucketLabel::Resource("prefect.resource.id".into())];
        all.push(Trigger::Event(watch));
    }
    for i in 0..20 {
        all.push(Trigger::Event(spec(
            &["prefect.task-run.*"],
            &[],
            of_flow(&format!("flow-{i}")),
        )));
    }
    for _ in 0..5 {
        let mut custom = spec(&[], &[], ResourceSpec::default());
        custom.match_related = vec![];
        custom.match_resource = ResourceSpec::new([("prefect.resource.id", ["custom.*"])]);
        all.push(Trigger::Event(custom));
    }
    all
}

fn event(name: &str, resource: String, flow: &str, at: Micros) -> Event {
    Event {
        id: Uuid::new_v4(),
        occurred: at,
        event: name.to_owned(),
        resource: labels([("prefect.resource.id", resource)]),
        related: vec![labels([
            ("prefect.resource.id", "prefect.flow.x".to_owned()),
            ("prefect.resource.role", "flow".to_owned()),
            ("prefect.resource.name", flow.to_owned()),
        ])],
        payload: Payload::from_json_text("{}".into()),
        follows: None,
        received: at,
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut engine = Engine::new(EngineSettings::default());
    for t in automations() {
        engine.load(Uuid::new_v4(), &t, None, Micros(0));
    }
    let events: Vec<Event> = (0..n)
        .map(|i| {
            let at = Micros(i as i64 * 50);
            if i % 50 == 49 {
                let run = i / 200;
                let state = ["Pending", "Running", "Completed", "Failed"][(i / 50) % 4];
                let flow = format!("flow-{}", run % 12);
                let name = format!("prefect.flow-run.{state}");
                event(&name, format!("prefect.flow-run.{run}"), &flow, at)
            } else {
                let state = if i % 2 == 0 { "Running" } else { "Completed" };
                let name = format!("prefect.task-run.{state}");
                event(&name, format!("prefect.task-run.{}", i / 2), "flow-99", at)
            }
        })
        .collect();
    let start = Instant::now();
    let mut firings = 0;
    for e in &events {
        firings += engine.on_event(e, e.occurred).len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{{\"events\": {n}, \"automations\": 100, \"seconds\": {secs:.3}, \"events_per_second\": {:.0}, \"firings\": {firings}}}",
        n as f64 / secs
    );
}
