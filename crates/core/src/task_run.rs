//! Task runs reported by clients. The `prefect` client never creates task runs over REST: it emits
//! `prefect.task-run.<State>` events that arrive late, in batches, out of order and sometimes twice.
//! Each event is read into a [`TaskRunRecord`] and records for one task run are combined with
//! [`TaskRunRecord::merge`], which gives the same result whatever the arrival order.
//!
//! Invariant relied on for order-independence: within one task run's events, a payload field
//! once set is not unset by a later event (start times stay, end times appear at the end).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::event::{Event, Payload, labels, resource_uuid};
use crate::state::{State, StateType};
use crate::time::Micros;

/// Prefix of task-run state event names.
pub const TASK_RUN_EVENT_PREFIX: &str = "prefect.task-run.";

/// A task-run event that cannot be read; the event is still stored, its record is not touched.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReportError {
    /// `resource.prefect.resource.id` is not `prefect.task-run.<uuid>`.
    #[error("resource id {0:?} is not prefect.task-run.<uuid>")]
    BadResource(String),
    /// A required payload field is absent or has the wrong type.
    #[error("payload.{0} is missing or has the wrong type")]
    BadField(&'static str),
    /// A text field holds a NUL character, which a database text column cannot hold.
    #[error("payload.{0} contains a NUL character")]
    Nul(&'static str),
}

/// The server's record of one task run, as derived from its events.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskRunRecord {
    /// The task run's id (from the event's resource).
    pub id: Uuid,
    /// The flow run it belongs to (from the related `flow-run` resource).
    pub flow_run_id: Option<Uuid>,
    /// Display name, e.g. `add-a3d`.
    pub name: String,
    /// Identifies the task function.
    pub task_key: String,
    /// Distinguishes calls of the same task within a flow run.
    pub dynamic_key: String,
    /// Cache key, when the task caches.
    pub cache_key: Option<String>,
    /// The task's version string.
    pub task_version: Option<String>,
    /// Retry policy as the client reported it.
    pub empirical_policy: Value,
    /// Tags, as the client reported them (matched by filters and tag concurrency limits).
    pub tags: Vec<String>,
    /// Labels as the client reported them (a JSON object).
    pub labels: Value,
    /// Upstream inputs per parameter.
    pub task_inputs: Value,
    /// The call's arguments, when the client reports them (the Rust SDK does).
    pub parameters: Value,
    /// The newest state reported.
    pub state: State,
    /// Attempts started.
    pub run_count: i64,
    /// The flow run's attempt this task run belongs to.
    pub flow_run_run_count: i64,
    /// When the task run was expected to start.
    pub expected_start_time: Option<Micros>,
    /// When it first started running.
    pub start_time: Option<Micros>,
    /// When it finished.
    pub end_time: Option<Micros>,
    /// Seconds spent running.
    pub total_run_time: f64,
    /// The earliest report's time: when the server considers the task run created.
    pub created: Micros,
}

impl TaskRunRecord {
    /// Reads a `prefect.task-run.*` event.
    pub fn from_event(ev: &Event) -> Result<TaskRunRecord, ReportError> {
        let id = resource_uuid(ev.resource_id(), "prefect.task-run")
            .ok_or_else(|| ReportError::BadResource(ev.resource_id().to_owned()))?;
        let flow_run_id = ev
            .related_id("flow-run")
            .and_then(|r| resource_uuid(r, "prefect.flow-run"));
        let report: Report = ev
            .payload
            .parse()
            .map_err(|_| ReportError::BadField("payload"))?;
        let task_run = report.task_run.ok_or(ReportError::BadField("task_run"))?;
        let validated = report
            .validated_state
            .ok_or(ReportError::BadField("validated_state"))?;
        let state_type = validated
            .state_type
            .as_deref()
            .and_then(StateType::parse)
            .ok_or(ReportError::BadField("validated_state.type"))?;
        let state = State {
            id: ev.id,
            state_type,
            name: validated
                .name
                .unwrap_or_else(|| state_type.default_name().to_owned()),
            timestamp: ev.occurred,
            message: validated.message.filter(|m| !m.is_empty()),
            data: validated.data.filter(|d| !d.is_null()),
            details: validated.state_details.unwrap_or_default(),
        };
        let time = |t: Option<String>| t.and_then(|s| Micros::parse(&s).ok());
        let texts = [
            ("task_run.name", task_run.name.as_deref()),
            ("task_run.task_key", task_run.task_key.as_deref()),
            ("task_run.dynamic_key", task_run.dynamic_key.as_deref()),
            ("task_run.cache_key", task_run.cache_key.as_deref()),
            ("task_run.task_version", task_run.task_version.as_deref()),
            ("validated_state.name", Some(state.name.as_str())),
        ];
        if let Some((field, _)) = texts
            .iter()
            .find(|(_, text)| text.is_some_and(|t| t.contains('\0')))
        {
            return Err(ReportError::Nul(field));
        }
        Ok(TaskRunRecord {
            id,
            flow_run_id,
            name: task_run.name.unwrap_or_default(),
            task_key: task_run.task_key.unwrap_or_default(),
            dynamic_key: task_run.dynamic_key.unwrap_or_default(),
            cache_key: task_run.cache_key,
            task_version: task_run.task_version,
            empirical_policy: task_run.empirical_policy.unwrap_or(Value::Null),
            tags: task_run.tags.unwrap_or_default(),
            labels: task_run.labels.unwrap_or(Value::Null),
            task_inputs: task_run.task_inputs.unwrap_or(Value::Null),
            parameters: task_run.parameters.unwrap_or(Value::Null),
            state,
            run_count: task_run.run_count.unwrap_or(0),
            flow_run_run_count: task_run.flow_run_run_count.unwrap_or(0),
            expected_start_time: time(task_run.expected_start_time),
            start_time: time(task_run.start_time),
            end_time: time(task_run.end_time),
            total_run_time: task_run.total_run_time.unwrap_or(0.0),
            created: ev.occurred,
        })
    }

    /// Moves the record into `state`, as the server does for task runs whose states it sets
    /// itself (reported over REST, or a subflow's parent following its child flow run).
    pub fn enter(&mut self, state: State) {
        if self.state.state_type == StateType::Running {
            self.total_run_time += state.timestamp.seconds_since(self.state.timestamp).max(0.0);
        }
        if state.state_type == StateType::Running {
            self.run_count += 1;
            self.start_time.get_or_insert(state.timestamp);
        }
        self.end_time = state.state_type.is_terminal().then_some(state.timestamp);
        self.state = state;
    }

    /// Moves the record into `state` (see [`TaskRunRecord::enter`]) and returns the event
    /// recording the transition, received at `received`.
    pub fn transition(&mut self, state: State, received: Micros) -> Event {
        let previous = self.state.clone();
        self.enter(state);
        self.state_event(Some(&previous), received)
    }

    /// A subflow's parent task run follows its child flow run (as in Prefect, where the parent
    /// task run's state is the subflow's): the record enters a copy of `child_state` with id
    /// `new_id` whose details name this task run and the child run instead of the flow run.
    /// Returns the event recording it.
    pub fn follow_child(
        &mut self,
        child_run: Uuid,
        child_state: &State,
        new_id: Uuid,
        received: Micros,
    ) -> Event {
        let mut mirrored = child_state.clone();
        mirrored.id = new_id;
        mirrored.details.remove("flow_run_id");
        mirrored
            .details
            .insert("task_run_id".to_owned(), self.id.to_string().into());
        mirrored
            .details
            .insert("child_flow_run_id".to_owned(), child_run.to_string().into());
        self.transition(mirrored, received)
    }

    /// The `prefect.task-run.<State>` event for a state the server set itself (a subflow's
    /// parent task run, a task run reported over REST), shaped like the client's so that the
    /// events table alone holds every task run's history. Its id is the state's id.
    pub fn state_event(&self, previous: Option<&State>, received: Micros) -> Event {
        let state_json = |s: &State| {
            json!({"type": s.state_type, "name": s.name, "message": s.message.clone().unwrap_or_default(),
                   "state_details": s.details, "data": s.data})
        };
        let time = |t: Option<Micros>| t.map(|t| t.to_string());
        let mut related = Vec::new();
        if let Some(fr) = self.flow_run_id {
            related.push(labels([
                ("prefect.resource.id", format!("prefect.flow-run.{fr}")),
                ("prefect.resource.role", "flow-run".to_owned()),
            ]));
        }
        Event {
            id: self.state.id,
            occurred: self.state.timestamp,
            event: format!("{TASK_RUN_EVENT_PREFIX}{}", self.state.name),
            resource: labels([
                (
                    "prefect.resource.id",
                    format!("prefect.task-run.{}", self.id),
                ),
                ("prefect.resource.name", self.name.clone()),
                (
                    "prefect.state-type",
                    self.state.state_type.as_str().to_owned(),
                ),
                ("prefect.state-name", self.state.name.clone()),
                ("prefect.orchestration", "server".to_owned()),
            ]),
            related,
            payload: Payload::from_value(&json!({
                "intended": {"from": previous.map(|p| p.state_type), "to": self.state.state_type},
                "initial_state": previous.map(state_json),
                "validated_state": state_json(&self.state),
                "task_run": {
                    "name": self.name, "task_key": self.task_key, "dynamic_key": self.dynamic_key,
                    "cache_key": self.cache_key, "task_version": self.task_version,
                    "empirical_policy": self.empirical_policy, "tags": self.tags,
                    "labels": self.labels, "task_inputs": self.task_inputs,
                    "parameters": self.parameters,
                    "run_count": self.run_count, "flow_run_run_count": self.flow_run_run_count,
                    "expected_start_time": time(self.expected_start_time),
                    "start_time": time(self.start_time), "end_time": time(self.end_time),
                    "total_run_time": self.total_run_time,
                },
            })),
            follows: previous.map(|p| p.id),
            received,
        }
    }

    /// Which of two reports is newer: by state time, then by id (uuid7 ids sort by creation).
    fn order_key(&self) -> (Micros, Uuid) {
        (self.state.timestamp, self.state.id)
    }

    /// Combines two reports of the same task run: the newer report's values win and its empty
    /// fields are filled from the older one. Commutative, so arrival order does not matter.
    pub fn merge(self, other: TaskRunRecord) -> TaskRunRecord {
        let created = self.created.min(other.created);
        let (mut new, old) = if self.order_key() >= other.order_key() {
            (self, other)
        } else {
            (other, self)
        };
        fill_string(&mut new.name, old.name);
        fill_string(&mut new.task_key, old.task_key);
        fill_string(&mut new.dynamic_key, old.dynamic_key);
        new.flow_run_id = new.flow_run_id.or(old.flow_run_id);
        new.cache_key = new.cache_key.or(old.cache_key);
        new.task_version = new.task_version.or(old.task_version);
        fill_value(&mut new.empirical_policy, old.empirical_policy);
        fill_value(&mut new.labels, old.labels);
        fill_value(&mut new.task_inputs, old.task_inputs);
        fill_value(&mut new.parameters, old.parameters);
        if new.tags.is_empty() {
            new.tags = old.tags;
        }
        new.run_count = new.run_count.max(old.run_count);
        new.flow_run_run_count = new.flow_run_run_count.max(old.flow_run_run_count);
        new.expected_start_time = new.expected_start_time.or(old.expected_start_time);
        new.start_time = new.start_time.or(old.start_time);
        new.end_time = new.end_time.or(old.end_time);
        new.total_run_time = new.total_run_time.max(old.total_run_time);
        new.created = created;
        new
    }
}

/// The parts of a task-run event's payload that describe the task run (read without building
/// a JSON tree for the rest).
#[derive(serde::Deserialize)]
struct Report {
    validated_state: Option<ReportedState>,
    task_run: Option<ReportedTaskRun>,
}

#[derive(serde::Deserialize)]
struct ReportedState {
    #[serde(rename = "type")]
    state_type: Option<String>,
    name: Option<String>,
    message: Option<String>,
    data: Option<Value>,
    state_details: Option<Map<String, Value>>,
}

#[derive(serde::Deserialize)]
struct ReportedTaskRun {
    name: Option<String>,
    task_key: Option<String>,
    dynamic_key: Option<String>,
    cache_key: Option<String>,
    task_version: Option<String>,
    empirical_policy: Option<Value>,
    tags: Option<Vec<String>>,
    labels: Option<Value>,
    task_inputs: Option<Value>,
    parameters: Option<Value>,
    run_count: Option<i64>,
    flow_run_run_count: Option<i64>,
    expected_start_time: Option<String>,
    start_time: Option<String>,
    end_time: Option<String>,
    total_run_time: Option<f64>,
}

fn fill_string(target: &mut String, older: String) {
    if target.is_empty() {
        *target = older;
    }
}

fn fill_value(target: &mut Value, older: Value) {
    if target.is_null() {
        *target = older;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A client-shaped event for task run `task` at step `step` of a Pending, Running, Completed life.
    fn lifecycle_event(task: Uuid, flow_run: Uuid, step: usize) -> Event {
        let (ty, t) = [("PENDING", 10), ("RUNNING", 20), ("COMPLETED", 30)][step];
        let mut task_run = json!({
            "name": "add-a3d", "task_key": "add-83a2f660", "dynamic_key": "k",
            "empirical_policy": {"retries": 0}, "tags": ["t"], "labels": {}, "task_inputs": {"x": []},
            "run_count": if step == 0 { 0 } else { 1 },
            "flow_run_run_count": 1,
            "expected_start_time": Micros(10).to_string(),
            "total_run_time": if step == 2 { 0.00001 } else { 0.0 },
        });
        if step >= 1 {
            task_run["start_time"] = json!(Micros(20).to_string());
        }
        if step == 2 {
            task_run["end_time"] = json!(Micros(30).to_string());
        }
        Event {
            id: Uuid::from_u128(t as u128),
            occurred: Micros(t),
            event: format!("prefect.task-run.{ty}"),
            resource: labels([("prefect.resource.id", format!("prefect.task-run.{task}"))]),
            related: vec![labels([
                (
                    "prefect.resource.id",
                    format!("prefect.flow-run.{flow_run}"),
                ),
                ("prefect.resource.role", "flow-run".to_owned()),
            ])],
            payload: Payload::from_value(
                &json!({"validated_state": {"type": ty, "name": "x", "message": "", "state_details": {}, "data": null}, "task_run": task_run}),
            ),
            follows: None,
            received: Micros(t),
        }
    }

    #[test]
    fn reads_a_client_event() {
        let (task, flow_run) = (Uuid::now_v7(), Uuid::now_v7());
        let rec = TaskRunRecord::from_event(&lifecycle_event(task, flow_run, 2)).unwrap();
        assert_eq!(rec.id, task);
        assert_eq!(rec.flow_run_id, Some(flow_run));
        assert_eq!(rec.state.state_type, StateType::Completed);
        assert_eq!(rec.end_time, Some(Micros(30)));
        assert_eq!(rec.task_key, "add-83a2f660");
    }

    #[test]
    fn explains_unreadable_events() {
        let mut ev = lifecycle_event(Uuid::now_v7(), Uuid::now_v7(), 0);
        let mut payload = ev.payload.value();
        payload["validated_state"]["type"] = json!("DONE");
        ev.payload = Payload::from_value(&payload);
        assert_eq!(
            TaskRunRecord::from_event(&ev),
            Err(ReportError::BadField("validated_state.type"))
        );
        ev.resource = labels([("prefect.resource.id", "prefect.flow.x".to_owned())]);
        assert!(matches!(
            TaskRunRecord::from_event(&ev),
            Err(ReportError::BadResource(_))
        ));
    }

    #[test]
    fn entering_states_keeps_the_clock() {
        let mut rec =
            TaskRunRecord::from_event(&lifecycle_event(Uuid::now_v7(), Uuid::now_v7(), 0)).unwrap();
        rec.enter(State::new(
            Uuid::now_v7(),
            StateType::Running,
            Micros(1_000_000),
        ));
        rec.enter(State::new(
            Uuid::now_v7(),
            StateType::Completed,
            Micros(3_000_000),
        ));
        assert_eq!(rec.run_count, 1);
        assert_eq!(rec.start_time, Some(Micros(1_000_000)));
        assert_eq!(rec.end_time, Some(Micros(3_000_000)));
        assert!((rec.total_run_time - 2.0).abs() < 1e-9);
    }

    #[test]
    fn server_set_states_become_client_shaped_events() {
        let mut rec =
            TaskRunRecord::from_event(&lifecycle_event(Uuid::now_v7(), Uuid::now_v7(), 1)).unwrap();
        let previous = rec.state.clone();
        rec.enter(State::new(Uuid::now_v7(), StateType::Completed, Micros(40)));
        let ev = rec.state_event(Some(&previous), Micros(41));
        assert_eq!(ev.event, "prefect.task-run.Completed");
        assert_eq!(ev.id, rec.state.id);
        let read_back = TaskRunRecord::from_event(&ev).unwrap();
        assert_eq!(
            read_back,
            TaskRunRecord {
                created: Micros(40),
                ..rec
            }
        );
    }

    #[test]
    fn text_a_database_cannot_hold_makes_a_report_unreadable() {
        let mut ev = lifecycle_event(Uuid::now_v7(), Uuid::now_v7(), 0);
        let mut payload = ev.payload.value();
        payload["task_run"]["name"] = json!("add\u{0}1");
        ev.payload = Payload::from_value(&payload);
        assert_eq!(
            TaskRunRecord::from_event(&ev),
            Err(ReportError::Nul("task_run.name"))
        );
    }

    #[test]
    fn a_parent_task_run_follows_its_subflow() {
        let (task, flow_run, child) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut rec = TaskRunRecord::from_event(&lifecycle_event(task, flow_run, 0)).unwrap();
        let mut child_running = State::new(Uuid::now_v7(), StateType::Running, Micros(50));
        child_running
            .details
            .insert("flow_run_id".into(), child.to_string().into());
        let ev = rec.follow_child(child, &child_running, Uuid::from_u128(77), Micros(51));
        assert_eq!(rec.state.state_type, StateType::Running);
        assert_eq!(rec.state.id, Uuid::from_u128(77));
        assert_eq!(rec.run_count, 1);
        assert_eq!(
            rec.state.detail_str("child_flow_run_id"),
            Some(child.to_string().as_str())
        );
        assert_eq!(
            rec.state.detail_str("task_run_id"),
            Some(task.to_string().as_str())
        );
        assert_eq!(
            rec.state.detail_str("flow_run_id"),
            None,
            "the child's id is not the parent's flow run"
        );
        assert_eq!(
            (ev.id, ev.event.as_str()),
            (rec.state.id, "prefect.task-run.Running")
        );
        assert_eq!(ev.payload.value()["intended"]["from"], "PENDING");
    }

    proptest! {
        /// Any arrival order of a task run's events, with duplicates, folds to the record that
        /// in-order arrival gives.
        #[test]
        fn folding_ignores_arrival_order(order in prop::collection::vec(0usize..3, 1..8)) {
            let (task, flow_run) = (Uuid::from_u128(1), Uuid::from_u128(2));
            let mut steps = order.clone();
            steps.sort();
            steps.dedup();
            let fold = |seq: &[usize]| seq.iter()
                .map(|s| TaskRunRecord::from_event(&lifecycle_event(task, flow_run, *s)).unwrap())
                .reduce(TaskRunRecord::merge).unwrap();
            prop_assert_eq!(fold(&order), fold(&steps));
        }

        /// Whatever states the server moves a task run through, its run count counts the
        /// Running entries, it has an end time exactly when its state is terminal, and every
        /// transition's event is read back into the record it describes.
        #[test]
        fn server_transitions_keep_the_record_consistent(
            types in prop::collection::vec(prop::sample::select(StateType::ALL.to_vec()), 1..10),
        ) {
            let mut rec = TaskRunRecord::from_event(&lifecycle_event(Uuid::from_u128(1), Uuid::from_u128(2), 0)).unwrap();
            let mut runs = 0;
            for (i, ty) in types.iter().enumerate() {
                let at = Micros(100 + i as i64 * 10);
                runs += i64::from(*ty == StateType::Running);
                let ev = rec.transition(State::new(Uuid::from_u128(10 + i as u128), *ty, at), at);
                let read = TaskRunRecord::from_event(&ev).unwrap();
                prop_assert_eq!(read.state, rec.state.clone());
                prop_assert_eq!(read.run_count, rec.run_count);
            }
            prop_assert_eq!(rec.run_count, runs);
            prop_assert_eq!(rec.end_time.is_some(), rec.state.state_type.is_terminal());
        }
    }
}
