//! Custom events: `emit_event("acme.order.shipped", "acme.order.42", json!({"items": 3}))`.
//! Automations match them by name and resource labels.
//!
//! An event emitted inside a flow or task run names that run as a related resource (role
//! `flow-run`, `task-run`), so an automation can `match_related` on it. Emitting waits until the
//! server has stored the event (`POST /events/`), so a refusal comes back as a value: the
//! websocket the SDK reports task runs through only logs a refused frame.

use std::sync::Arc;

use flowgate_wire::Micros;
use flowgate_wire::events::Event;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::engine::Engine;
use crate::error::ApiError;

/// The resource an event is about: its id (`prefect.resource.id`) and any other labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    labels: Map<String, Value>,
}

impl Resource {
    /// The resource with this id, e.g. `acme.order.42`.
    pub fn new(id: impl Into<String>) -> Resource {
        let mut labels = Map::new();
        labels.insert("prefect.resource.id".to_owned(), Value::String(id.into()));
        Resource { labels }
    }

    /// Adds a label (`prefect.resource.name`, `acme.region`); automations match on labels.
    pub fn label(mut self, name: impl Into<String>, value: impl Into<String>) -> Resource {
        self.labels.insert(name.into(), Value::String(value.into()));
        self
    }
}

impl From<&str> for Resource {
    fn from(id: &str) -> Resource {
        Resource::new(id)
    }
}

impl From<String> for Resource {
    fn from(id: String) -> Resource {
        Resource::new(id)
    }
}

/// Why an event was not emitted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The event cannot be sent as given: the message says what to change.
    #[error("event {event:?}: {message}")]
    Invalid {
        /// The event's name.
        event: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// The server could not be reached or refused the event (its `detail` says why).
    #[error(transparent)]
    Api(#[from] ApiError),
}

/// Emits the event `name` about `resource` with `payload` (any `Serialize` value that is a
/// JSON object, or `()` for none), and returns its id once the server has stored it.
///
/// ```no_run
/// use flowgate::emit_event;
/// use serde_json::json;
///
/// let id = emit_event("acme.order.shipped", "acme.order.42", json!({"items": 3}))?;
/// # Ok::<(), flowgate::EmitError>(())
/// ```
pub fn emit_event(
    name: &str,
    resource: impl Into<Resource>,
    payload: impl Serialize,
) -> Result<Uuid, EmitError> {
    let event = build(name, resource.into(), payload)?;
    let engine = Engine::current()?;
    crate::block::block_on(send(engine, event))
}

/// [`emit_event`] for async code.
pub async fn emit_event_async(
    name: &str,
    resource: impl Into<Resource>,
    payload: impl Serialize,
) -> Result<Uuid, EmitError> {
    let event = build(name, resource.into(), payload)?;
    let engine = Engine::current()?;
    send(engine, event).await
}

/// The wire event, with the current run as related resources.
fn build(name: &str, resource: Resource, payload: impl Serialize) -> Result<Event, EmitError> {
    let invalid = |message: String| EmitError::Invalid {
        event: name.to_owned(),
        message,
    };
    if name.is_empty() {
        return Err(invalid("the name must not be empty".to_owned()));
    }
    let payload = match serde_json::to_value(payload) {
        Ok(Value::Null) => None,
        Ok(v @ Value::Object(_)) => Some(
            RawValue::from_string(v.to_string())
                .map_err(|e| invalid(format!("the payload is not JSON: {e}")))?,
        ),
        Ok(other) => {
            return Err(invalid(format!(
                "the payload must be a JSON object (a struct or a map), not {other}"
            )));
        }
        Err(e) => return Err(invalid(format!("the payload cannot be serialised: {e}"))),
    };
    let related = [
        ("flow-run", crate::current_flow_run_id()),
        ("task-run", crate::current_task_run_id()),
    ]
    .into_iter()
    .filter_map(|(role, id)| {
        let id = id?;
        let mut labels = Map::new();
        labels.insert(
            "prefect.resource.id".to_owned(),
            Value::String(format!("prefect.{role}.{id}")),
        );
        labels.insert(
            "prefect.resource.role".to_owned(),
            Value::String(role.to_owned()),
        );
        Some(labels)
    })
    .collect();
    Ok(Event {
        id: Uuid::now_v7(),
        occurred: Micros::from_timestamp(jiff::Timestamp::now()),
        event: name.to_owned(),
        resource: resource.labels,
        related,
        payload,
        follows: None,
        received: None,
    })
}

async fn send(engine: Arc<Engine>, event: Event) -> Result<Uuid, EmitError> {
    let id = event.id;
    engine
        .run({
            let engine = engine.clone();
            async move {
                let _: Value = engine
                    .api
                    .post("emitting an event", "/events/", &[event])
                    .await?;
                Ok::<_, ApiError>(())
            }
        })
        .await?;
    Ok(id)
}
