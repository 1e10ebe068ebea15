//! Flows between the wire and the store.

use flowgate_store::model::Flow;
use flowgate_wire::flows::Flow as FlowOut;

/// A stored flow as the client reads it.
pub fn flow_out(f: Flow) -> FlowOut {
    FlowOut {
        id: f.id,
        created: f.created,
        updated: f.updated,
        name: f.name,
        tags: f.tags,
        labels: super::object_or_empty(f.labels),
    }
}
