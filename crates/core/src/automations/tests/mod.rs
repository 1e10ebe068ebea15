//! Engine tests with a fake clock: times are seconds from an arbitrary origin.

mod cascade;
mod composites;
mod events;
mod metrics;
mod prefect_issues;
mod properties;
mod restarts;

use std::time::Duration;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::labels::{BucketLabel, NamePattern, ResourceSpec};
use super::*;
use crate::event::{Event, Payload, labels};
use crate::time::Micros;

/// Seconds to the engine's time.
pub(super) fn s(secs: f64) -> Micros {
    Micros((secs * 1e6).round() as i64)
}

/// An event named `name` about `resource_id`, occurring at `at` seconds.
pub(super) fn ev(name: &str, resource_id: &str, at: f64) -> Event {
    event_with(
        name,
        labels([("prefect.resource.id", resource_id.to_owned())]),
        vec![],
        at,
    )
}

/// An event with full labels.
pub(super) fn event_with(
    name: &str,
    resource: Map<String, Value>,
    related: Vec<Map<String, Value>>,
    at: f64,
) -> Event {
    Event {
        id: Uuid::new_v4(),
        occurred: s(at),
        event: name.to_owned(),
        resource,
        related,
        payload: Payload::from_value(&Value::Null),
        follows: None,
        received: s(at),
    }
}

/// A flow-run state event as the server emits it: `prefect.flow-run.<state>` about run `run`
/// of flow `flow`.
pub(super) fn run_event(state: &str, run: &str, flow: &str, at: f64) -> Event {
    let kind = match state {
        "Late" | "AwaitingRetry" => "SCHEDULED",
        "TimedOut" => "FAILED",
        other => crate::StateType::ALL
            .into_iter()
            .find(|t| t.default_name() == other)
            .map_or("RUNNING", |t| t.as_str()),
    };
    event_with(
        &format!("prefect.flow-run.{state}"),
        labels([
            ("prefect.resource.id", format!("prefect.flow-run.{run}")),
            ("prefect.resource.name", run.to_owned()),
            ("prefect.state-type", kind.to_owned()),
            ("prefect.state-name", state.to_owned()),
        ]),
        vec![labels([
            ("prefect.resource.id", format!("prefect.flow.{flow}-id")),
            ("prefect.resource.role", "flow".to_owned()),
            ("prefect.resource.name", flow.to_owned()),
        ])],
        at,
    )
}

/// An event trigger under construction (defaults: reactive, threshold 1, no window).
#[derive(Clone)]
pub(super) struct T(pub EventTrigger);

/// A reactive trigger expecting `expect`.
pub(super) fn on(expect: &[&str]) -> T {
    T(EventTrigger {
        id: Uuid::new_v4(),
        match_resource: ResourceSpec::default(),
        match_related: vec![],
        after: vec![],
        expect: expect.iter().map(|e| NamePattern::parse(e)).collect(),
        for_each: vec![],
        posture: Posture::Reactive,
        threshold: 1,
        within: Duration::ZERO,
    })
}

impl T {
    pub fn after(mut self, after: &[&str]) -> T {
        self.0.after = after.iter().map(|e| NamePattern::parse(e)).collect();
        self
    }
    pub fn proactive(mut self, within: f64) -> T {
        self.0.posture = Posture::Proactive;
        self.0.within = Duration::from_secs_f64(within);
        self
    }
    pub fn within(mut self, within: f64) -> T {
        self.0.within = Duration::from_secs_f64(within);
        self
    }
    pub fn threshold(mut self, n: u32) -> T {
        self.0.threshold = n;
        self
    }
    pub fn for_each(mut self, labels: &[&str]) -> T {
        self.0.for_each = labels
            .iter()
            .filter_map(|l| BucketLabel::parse(l))
            .collect();
        self
    }
    pub fn matching(mut self, label: &str, values: &[&str]) -> T {
        self.0.match_resource = ResourceSpec::new([(label, values.to_vec())]);
        self
    }
    /// Only events related to the flow named `flow` (as the seed's triggers).
    pub fn of_flow(mut self, flow: &str) -> T {
        self.0.match_related = vec![ResourceSpec::new([
            ("prefect.resource.role", ["flow"]),
            ("prefect.resource.name", [flow]),
        ])];
        self
    }
    pub fn build(self) -> Trigger {
        Trigger::Event(self.0)
    }
}

/// A reactive trigger on a flow run of `flow` completing (the seed's parts).
pub(super) fn done(flow: &str) -> Trigger {
    on(&["prefect.flow-run.Completed"])
        .matching("prefect.resource.id", &["prefect.flow-run.*"])
        .of_flow(flow)
        .build()
}

/// A compound of `parts`.
pub(super) fn compound(require: Require, within: Option<f64>, parts: Vec<Trigger>) -> Trigger {
    Trigger::Compound(CompoundTrigger {
        id: Uuid::new_v4(),
        triggers: parts,
        require,
        within: within.map(Duration::from_secs_f64),
    })
}

/// A sequence of `parts`.
pub(super) fn sequence(within: Option<f64>, parts: Vec<Trigger>) -> Trigger {
    Trigger::Sequence(SequenceTrigger {
        id: Uuid::new_v4(),
        triggers: parts,
        within: within.map(Duration::from_secs_f64),
    })
}

/// One automation in an engine, driven by a fake clock.
pub(super) struct Sim {
    pub engine: Engine,
    pub settings: EngineSettings,
    pub id: Uuid,
    pub trigger: Trigger,
    pub firings: Vec<Firing>,
}

impl Sim {
    /// Loads `trigger` at time 0 with no grace on proactive deadlines.
    pub fn new(trigger: Trigger) -> Sim {
        Sim::with(
            trigger,
            EngineSettings {
                proactive_grace: Duration::ZERO,
                ..EngineSettings::default()
            },
        )
    }

    pub fn with(trigger: Trigger, settings: EngineSettings) -> Sim {
        validate(&trigger).expect("test triggers are valid");
        let mut engine = Engine::new(settings.clone());
        let id = Uuid::new_v4();
        engine.load(id, &trigger, None, s(0.0));
        Sim {
            engine,
            settings,
            id,
            trigger,
            firings: Vec::new(),
        }
    }

    /// Delivers `ev` when the clock reads `now` seconds.
    pub fn deliver(&mut self, ev: &Event, now: f64) -> &mut Sim {
        let f = self.engine.on_event(ev, s(now));
        self.firings.extend(f);
        self
    }

    /// Delivers `ev` at the time it occurred.
    pub fn send(&mut self, ev: &Event) -> &mut Sim {
        let now = ev.occurred.0 as f64 / 1e6;
        self.deliver(ev, now)
    }

    /// Moves the clock to `now` seconds.
    pub fn tick(&mut self, now: f64) -> &mut Sim {
        let f = self.engine.advance(s(now));
        self.firings.extend(f);
        self
    }

    /// Event times (seconds) of the firings in `state`.
    pub fn times(&self, state: FiringState) -> Vec<f64> {
        (self.firings.iter())
            .filter(|f| f.state == state)
            .map(|f| f.occurred.0 as f64 / 1e6)
            .collect()
    }

    /// Event times of the Triggered firings.
    pub fn fired(&self) -> Vec<f64> {
        self.times(FiringState::Triggered)
    }

    /// Event times of the Resolved firings.
    pub fn resolved(&self) -> Vec<f64> {
        self.times(FiringState::Resolved)
    }

    /// The trigger's report now.
    pub fn report(&self, now: f64) -> Report {
        self.engine.explain(self.id, s(now)).expect("loaded")
    }

    /// Stores the state as JSON and loads it into a fresh engine, as a restart does.
    pub fn restart(&mut self, now: f64) -> Restored {
        let json =
            serde_json::to_string(self.engine.state(self.id).expect("loaded")).expect("serialises");
        let stored: AutomationState = serde_json::from_str(&json).expect("deserialises");
        let mut engine = Engine::new(self.settings.clone());
        let restored = engine.load(self.id, &self.trigger, Some(stored), s(now));
        self.engine = engine;
        restored
    }
}
