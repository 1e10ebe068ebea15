//! Custom events: `emit_event("acme.order.shipped", "acme.order.42", json!({"items": 3}))`.
//! Automations match them by name and resource labels.
//!
//! An event emitted inside a flow or task run names that run, its flow and its task run as
//! related resources (roles `flow-run`, `flow`, `task-run`, each with its
//! `prefect.resource.name`), as Prefect's own events do, so an automation can `match_related`
//! on them (`{"prefect.resource.role": "flow", "prefect.resource.name": "etl"}`). Emitting waits until the
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
    crate::block::block_on(send(engine, event, current_flow()))
}

/// [`emit_event`] for async code.
pub async fn emit_event_async(
    name: &str,
    resource: impl Into<Resource>,
    payload: impl Serialize,
) -> Result<Uuid, EmitError> {
    let event = build(name, resource.into(), payload)?;
    let engine = Engine::current()?;
    send(engine, event, current_flow()).await
}

/// `{"prefect.resource.id": "prefect.<role>.<id>", "prefect.resource.role": role,
/// "prefect.resource.name": name}`.
fn related_resource(role: &str, id: Uuid, name: &str) -> Map<String, Value> {
    let mut labels = Map::new();
    let mut put = |k: &str, v: String| labels.insert(k.to_owned(), Value::String(v));
    put("prefect.resource.id", format!("prefect.{role}.{id}"));
    put("prefect.resource.role", role.to_owned());
    put("prefect.resource.name", name.to_owned());
    labels
}

/// The flow of the run the calling code is in, by name (its id is looked up when sending).
fn current_flow() -> Option<&'static str> {
    crate::context::current().and_then(|f| f.flow.flow)
}

/// The wire event, with the current flow run and task run as related resources.
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
    let frame = crate::context::current();
    let mut related = Vec::new();
    if let Some(frame) = &frame {
        related.push(related_resource(
            "flow-run",
            frame.flow.id,
            &frame.flow.name,
        ));
        if let Some(task) = &frame.task {
            related.push(related_resource("task-run", task.id, &task.name));
        }
    }
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

/// Sends `event`, with `flow` (the current run's flow) as a related resource.
async fn send(
    engine: Arc<Engine>,
    mut event: Event,
    flow: Option<&'static str>,
) -> Result<Uuid, EmitError> {
    let id = event.id;
    engine
        .run({
            let engine = engine.clone();
            async move {
                if let Some(flow) = flow {
                    let flow_id = engine.flow_id(flow).await?;
                    event
                        .related
                        .insert(1, related_resource("flow", flow_id, flow));
                }
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
