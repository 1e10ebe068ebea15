//! Flow-run inputs between the wire and the store.

use flowgate_store::model::FlowRunInput;
use flowgate_wire::inputs::FlowRunInput as InputOut;

/// A stored input as `…/input/filter` answers it.
pub fn input_out(i: FlowRunInput) -> InputOut {
    InputOut {
        id: i.id,
        created: i.created,
        updated: i.created,
        flow_run_id: i.flow_run_id,
        key: i.key,
        value: i.value,
        sender: i.sender,
    }
}
