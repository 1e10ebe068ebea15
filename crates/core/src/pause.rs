//! Pausing and resuming a flow run, as decisions: which input a pause waits for (its
//! `run_input_keyset`), whether a resume fits the pause, the `Running` state it resumes into,
//! the run-policy fields Prefect's client reads (`pause_keys`, `resuming`), and the
//! `prefect.flow-run.Resumed` event. The server checks the input against the stored schema; the
//! store applies the rest in one transaction.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::event::{Event, Payload};
use crate::state::{State, StateType};
use crate::time::Micros;

/// The flow-run input keys a pause waits on (`state_details.run_input_keyset`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyset {
    /// Where the flow stored the input's JSON Schema.
    pub schema: String,
    /// Where the flow stored the pause's description, if it gave one.
    pub description: Option<String>,
    /// Where the resume's input is stored, for the flow to read.
    pub response: String,
}

/// Why a resume was not carried out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResumeRefusal {
    /// The run is not paused (it never paused, finished, or another resume won): a conflict.
    NotPaused(String),
    /// The resume does not fit the pause; the run stays paused and the reason is shown to the
    /// person resuming (Prefect answers `REJECT`).
    Rejected(String),
}

/// What a resume that fits its pause does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResumePlan {
    /// Resume without input: the pause waits for none.
    WithoutInput,
    /// Check the input against the schema stored under `schema`, and store it under `response`.
    WithInput(Keyset),
}

/// The keyset a state's details name, if any; a keyset without a schema or response key is
/// refused (the flow that paused could never read its input).
pub fn keyset(state: &State) -> Result<Option<Keyset>, String> {
    let Some(raw) = state
        .details
        .get("run_input_keyset")
        .filter(|v| !v.is_null())
    else {
        return Ok(None);
    };
    let key = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_owned);
    match (key("schema"), key("response")) {
        (Some(schema), Some(response)) => Ok(Some(Keyset {
            schema,
            description: key("description"),
            response,
        })),
        _ => Err(format!(
            "the pause's run_input_keyset {raw} names no schema or no response key, so its \
             input could not be checked or read; cancel the run"
        )),
    }
}

/// Whether a resume with (`input_given`) or without input fits the run's current state.
pub fn plan_resume(
    current: Option<&State>,
    input_given: bool,
) -> Result<ResumePlan, ResumeRefusal> {
    let paused = match current {
        Some(s) if s.state_type == StateType::Paused => s,
        Some(s) => {
            return Err(ResumeRefusal::NotPaused(format!(
                "it is not paused (its state is {}); only a paused run can be resumed",
                s.name
            )));
        }
        None => {
            return Err(ResumeRefusal::NotPaused(
                "it has no state; only a paused run can be resumed".to_owned(),
            ));
        }
    };
    match (
        keyset(paused).map_err(ResumeRefusal::Rejected)?,
        input_given,
    ) {
        (None, false) => Ok(ResumePlan::WithoutInput),
        (None, true) => Err(ResumeRefusal::Rejected(
            "this pause does not wait for input; resume without run_input".to_owned(),
        )),
        (Some(_), false) => Err(ResumeRefusal::Rejected(
            "this pause waits for input: send it as run_input".to_owned(),
        )),
        (Some(keys), true) => Ok(ResumePlan::WithInput(keys)),
    }
}

/// The state a run resumes into from the pause `paused` (the state a resume was planned
/// against), or why it cannot: another resume won, or the run paused again since. A run that
/// waited in its process resumes Running; a suspended one (`pause_reschedule`: its process
/// exited) is Scheduled again, named `Resuming` and due now, for a worker or a serving program
/// to run it again.
pub fn resume_state(
    current: Option<&State>,
    paused: Uuid,
    new_id: Uuid,
    now: Micros,
) -> Result<State, String> {
    match current {
        Some(s) if s.state_type == StateType::Paused && s.id == paused => {
            if s.details.get("pause_reschedule") == Some(&Value::Bool(true)) {
                let mut scheduled = State::new(new_id, StateType::Scheduled, now);
                scheduled.name = "Resuming".to_owned();
                scheduled
                    .details
                    .insert("scheduled_time".to_owned(), now.to_string().into());
                return Ok(scheduled);
            }
            Ok(State::new(new_id, StateType::Running, now))
        }
        Some(s) if s.state_type == StateType::Paused => Err(
            "it paused again since the resume was checked; check the new pause's input and \
             resume again"
                .to_owned(),
        ),
        Some(s) => Err(format!(
            "it is not paused (its state is {}); only a paused run can be resumed",
            s.name
        )),
        None => Err("it has no state; only a paused run can be resumed".to_owned()),
    }
}

/// When the pause a run is in times out (`state_details.pause_timeout`), if it is paused and
/// its pause has a timeout.
pub fn deadline(state: &State) -> Option<Micros> {
    if state.state_type != StateType::Paused {
        return None;
    }
    state
        .detail_str("pause_timeout")
        .and_then(|t| Micros::parse(t).ok())
}

/// The `Failed` state a run whose pause timed out by `now` enters, or `None` when its current
/// state is not such a pause (it was resumed, or it has time left).
pub fn expire(current: Option<&State>, now: Micros, new_id: Uuid) -> Option<State> {
    let until = deadline(current?)?;
    (until <= now).then(|| {
        let mut failed = State::new(new_id, StateType::Failed, now);
        failed.message = Some(format!(
            "The run was paused until {until} and nobody resumed it; it timed out."
        ));
        failed
    })
}

/// Adds `key` to the run policy's `pause_keys` (where Prefect's client looks for pauses it
/// already made, so a flow re-run does not pause twice at one place).
pub fn record_pause_key(policy: &mut Value, key: &str) {
    let keys = object(policy)
        .entry("pause_keys")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !keys.is_array() {
        *keys = Value::Array(Vec::new());
    }
    if let Value::Array(keys) = keys
        && !keys.iter().any(|k| k == key)
    {
        keys.push(key.into());
    }
}

/// The pause keys a run's policy lists (`pause_keys`: the pauses it already made).
pub fn pause_keys(policy: &Value) -> Vec<String> {
    policy["pause_keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Sets the run policy's `resuming` flag, which tells Prefect's client a Running run is
/// continuing after a pause rather than starting.
pub fn mark_resuming(policy: &mut Value) {
    object(policy).insert("resuming".to_owned(), Value::Bool(true));
}

/// `v` as an object, made one if it was not.
fn object(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !v.is_object() {
        *v = Value::Object(Default::default());
    }
    match v {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

/// The `prefect.flow-run.Resumed` event that follows `running` (the run's state event for the
/// `Running` state it resumed into): about the same run, naming who resumed it and the key of
/// the input they gave.
pub fn resumed_event(
    running: &Event,
    resumed_by: Option<&str>,
    input_key: Option<&str>,
    id: Uuid,
) -> Event {
    Event {
        id,
        event: "prefect.flow-run.Resumed".to_owned(),
        follows: Some(running.id),
        payload: Payload::from_value(&json!({
            "resumed_by": resumed_by, "input_key": input_key,
        })),
        ..running.clone()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn paused(keyset: Option<Value>) -> State {
        let mut s = State::new(Uuid::from_u128(1), StateType::Paused, Micros(1));
        if let Some(k) = keyset {
            s.details.insert("run_input_keyset".into(), k);
        }
        s
    }

    fn keys() -> Value {
        json!({"schema": "paused-1-schema", "description": "paused-1-description", "response": "paused-1-response"})
    }

    #[test]
    fn a_pause_with_a_keyset_waits_for_input_under_its_response_key() {
        let plan = plan_resume(Some(&paused(Some(keys()))), true).unwrap();
        let ResumePlan::WithInput(k) = plan else {
            panic!("{plan:?}")
        };
        assert_eq!(
            (k.schema.as_str(), k.response.as_str()),
            ("paused-1-schema", "paused-1-response")
        );
        assert_eq!(k.description.as_deref(), Some("paused-1-description"));
        let without = plan_resume(Some(&paused(Some(keys()))), false).unwrap_err();
        assert!(matches!(without, ResumeRefusal::Rejected(ref r) if r.contains("run_input")));
    }

    #[test]
    fn a_suspended_run_resumes_scheduled_for_a_worker_and_a_waiting_one_running() {
        let mut suspended = paused(Some(keys()));
        suspended
            .details
            .insert("pause_reschedule".into(), Value::Bool(true));
        let now = Micros(5_000_000);
        let next = resume_state(Some(&suspended), suspended.id, Uuid::from_u128(2), now).unwrap();
        assert_eq!(
            (next.state_type, next.name.as_str()),
            (StateType::Scheduled, "Resuming")
        );
        assert_eq!(
            next.detail_str("scheduled_time"),
            Some(now.to_string().as_str())
        );
        let waiting = paused(None);
        let next = resume_state(Some(&waiting), waiting.id, Uuid::from_u128(2), now).unwrap();
        assert_eq!(next.state_type, StateType::Running);
    }

    #[test]
    fn a_plain_pause_takes_no_input() {
        assert_eq!(
            plan_resume(Some(&paused(None)), false),
            Ok(ResumePlan::WithoutInput)
        );
        let err = plan_resume(Some(&paused(None)), true).unwrap_err();
        assert!(matches!(err, ResumeRefusal::Rejected(ref r) if r.contains("does not wait")));
    }

    #[test]
    fn a_broken_keyset_is_refused_not_skipped() {
        let broken = paused(Some(json!({"schema": "s"})));
        let err = plan_resume(Some(&broken), true).unwrap_err();
        assert!(matches!(err, ResumeRefusal::Rejected(ref r) if r.contains("response")));
    }

    #[test]
    fn only_the_pause_a_resume_was_checked_against_resumes() {
        let pause = paused(None);
        let running = resume_state(Some(&pause), pause.id, Uuid::from_u128(7), Micros(2)).unwrap();
        assert_eq!(
            (running.state_type, running.timestamp, running.id),
            (StateType::Running, Micros(2), Uuid::from_u128(7))
        );
        let other = resume_state(Some(&pause), Uuid::from_u128(9), Uuid::nil(), Micros(2));
        assert!(other.unwrap_err().contains("paused again"));
        let done = State::new(Uuid::nil(), StateType::Completed, Micros(1));
        let err = resume_state(Some(&done), done.id, Uuid::nil(), Micros(2)).unwrap_err();
        assert!(
            err.contains("not paused") && err.contains("Completed"),
            "{err}"
        );
        assert!(matches!(
            plan_resume(None, false),
            Err(ResumeRefusal::NotPaused(_))
        ));
    }

    #[test]
    fn pause_keys_are_kept_once_each_and_resuming_is_flagged() {
        let mut policy = json!({"retries": 1});
        record_pause_key(&mut policy, "1");
        record_pause_key(&mut policy, "2");
        record_pause_key(&mut policy, "1");
        mark_resuming(&mut policy);
        assert_eq!(
            policy,
            json!({"retries": 1, "pause_keys": ["1", "2"], "resuming": true})
        );
        let mut broken = json!("not an object");
        record_pause_key(&mut broken, "1");
        assert_eq!(broken, json!({"pause_keys": ["1"]}));
    }

    #[test]
    fn the_resumed_event_follows_the_running_event() {
        let running = Event {
            id: Uuid::from_u128(3),
            occurred: Micros(5),
            event: "prefect.flow-run.Running".into(),
            resource: crate::event::labels([("prefect.resource.id", "prefect.flow-run.x".into())]),
            related: Vec::new(),
            payload: Payload::from_value(&json!({})),
            follows: None,
            received: Micros(6),
        };
        let ev = resumed_event(&running, Some("ann"), Some("k"), Uuid::from_u128(4));
        assert_eq!(ev.event, "prefect.flow-run.Resumed");
        assert_eq!(
            (ev.follows, ev.resource_id()),
            (Some(running.id), "prefect.flow-run.x")
        );
        assert_eq!(
            ev.payload.value(),
            json!({"resumed_by": "ann", "input_key": "k"})
        );
    }

    #[test]
    fn a_pause_times_out_at_its_deadline_and_not_before() {
        let mut pause = paused(None);
        pause.details.insert(
            "pause_timeout".into(),
            Micros(10_000_000).to_string().into(),
        );
        assert_eq!(deadline(&pause), Some(Micros(10_000_000)));
        assert_eq!(expire(Some(&pause), Micros(9_999_999), Uuid::nil()), None);
        let failed = expire(Some(&pause), Micros(10_000_000), Uuid::from_u128(5)).unwrap();
        assert_eq!(
            (failed.state_type, failed.id),
            (StateType::Failed, Uuid::from_u128(5))
        );
        assert!(failed.message.unwrap().contains("timed out"));
        let mut running = pause.clone();
        running.state_type = StateType::Running;
        assert_eq!(deadline(&running), None, "only a pause has a deadline");
        assert_eq!(
            expire(Some(&running), Micros(20_000_000), Uuid::nil()),
            None
        );
        assert_eq!(
            deadline(&paused(None)),
            None,
            "a pause without a timeout never expires"
        );
    }

    fn any_state_type() -> impl Strategy<Value = StateType> {
        prop::sample::select(StateType::ALL.to_vec())
    }

    proptest! {
        /// A resume is planned only for a paused run, and then it carries input exactly when
        /// the pause waits for some.
        #[test]
        fn a_resume_fits_its_pause(ty in any_state_type(), with_keys in any::<bool>(), input in any::<bool>()) {
            let mut state = paused(with_keys.then(keys));
            state.state_type = ty;
            match plan_resume(Some(&state), input) {
                Ok(ResumePlan::WithoutInput) => prop_assert!(ty == StateType::Paused && !with_keys && !input),
                Ok(ResumePlan::WithInput(_)) => prop_assert!(ty == StateType::Paused && with_keys && input),
                Err(ResumeRefusal::NotPaused(_)) => prop_assert!(ty != StateType::Paused),
                Err(ResumeRefusal::Rejected(_)) => prop_assert!(ty == StateType::Paused && with_keys != input),
            }
        }

        /// Recording pause keys in any order and with repeats keeps each once, in first-seen
        /// order, and leaves the policy's other fields alone.
        #[test]
        fn pause_keys_are_a_set(keys in prop::collection::vec(0u8..5, 0..12)) {
            let mut policy = json!({"retries": 2});
            for k in &keys {
                record_pause_key(&mut policy, &k.to_string());
            }
            let mut expected: Vec<String> = Vec::new();
            for k in &keys {
                if !expected.contains(&k.to_string()) {
                    expected.push(k.to_string());
                }
            }
            prop_assert_eq!(&policy["retries"], &json!(2));
            if keys.is_empty() {
                prop_assert!(policy.get("pause_keys").is_none());
            } else {
                prop_assert_eq!(&policy["pause_keys"], &json!(expected));
            }
        }
    }
}
